"""Arithmetic claims in a text, and whether each one is true.

Feedback often states a calculation ("£40,000 ÷ 14 = £2,000", "15% of 240 is
36"). When the stated result is wrong, the feedback is wrong, whatever else
it says: this is the one claim a mechanical checker can verify without
knowing the subject. :func:`check` finds claims of the form *a op b = c* (op
one of × x * / ÷ + − -, "times", "divided by", "plus", "minus", "of"; the
equals one of = ≈ "is" "equals" "gives" "makes" "comes to" "would be", with an
optional "about"), where the left side may be a chain ("2 × 4 × £60 is
£480", × and ÷ before + and −) but no brackets, and counts how many hold and
how many do not. A claim whose result feeds a further operation
("12/10 = 6/5", "(5/6)²") is skipped, not guessed.

A result holds when it is within 2% (or 0.01) of the true value, read as a
plain number or as a percentage ("3 / 4 = 75%", "3/5 × 100 = 60%").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Claims", "check"]

_NUM = r"[-−]?[£€$]?\d(?:[\d,]*\d)?(?:\.\d+)?%?"
_OP = r"[×x*/÷+−-]|times|divided by|plus|minus|over|of"
_EQ = r"=|≈|is|are|equals|gives|makes|comes to|would be"
_HEDGE = r"(?:about|roughly|around|only|just|approximately)\s+"
_CLAIM = re.compile(
    rf"(?<![\d)½¼¾²³]\s)(?<![×x*/÷+−-]\s)(?<![\d)½¼¾²³×x*/÷+−-])({_NUM}(?:\s*(?:{_OP})\s*{_NUM})+)\s*(?:{_EQ})\s*"
    rf"(?:{_HEDGE})?({_NUM})(?!\s*[×x*/÷+−-]\s*\d)(?!\d)(?![.,]\d)",
    re.I,
)
_TOKEN = re.compile(rf"({_NUM})|({_OP})", re.I)
_CURRENCY = re.compile(r"[£€$]")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


@dataclass(frozen=True)
class Claims:
    """How many arithmetic claims in a text hold (``true``) and how many do not."""

    true: int = 0
    false: int = 0


def _value(token: str) -> tuple[float, bool] | None:
    """The number a token stands for and whether it is a percentage."""
    s = _CURRENCY.sub("", token.replace("−", "-"))
    percent = s.endswith("%")
    s = s.rstrip("%")
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    elif "," in s:
        # "2,5" is a decimal comma; anything else with commas is not a number we read
        head, _, tail = s.partition(",")
        if "," in tail or len(tail) == 3:
            return None
        s = f"{head}.{tail}"
    try:
        v = float(s)
    except ValueError:
        return None
    return (v / 100 if percent else v), percent


_TIMES = ("×", "x", "*", "times", "of", "/", "÷", "divided by", "over")


def _apply(a: float, op: str, b: float) -> float | None:
    """``a`` times or divided by ``b``."""
    if op in ("×", "x", "*", "times", "of"):
        return a * b
    return a / b if b else None


def _evaluate(chain: str) -> float | None:
    """The value of ``a op b op c …`` (× and ÷ before + and −); a percentage term is a share."""
    terms: list[float] = []
    ops: list[str] = []
    expect_number = True
    for m in _TOKEN.finditer(chain):
        if expect_number:
            v = _value(m.group(1)) if m.group(1) else None
            if v is None:
                return None
            terms.append(v[0])
        else:
            if m.group(2) is None:
                return None
            ops.append(m.group(2).lower())
        expect_number = not expect_number
    if expect_number or not ops:
        return None
    # × and ÷ first, left to right
    sums, sum_ops = [terms[0]], []
    for op, t in zip(ops, terms[1:], strict=True):
        if op in _TIMES:
            r = _apply(sums[-1], op, t)
            if r is None:
                return None
            sums[-1] = r
        else:
            sums.append(t)
            sum_ops.append(op)
    total = sums[0]
    for op, t in zip(sum_ops, sums[1:], strict=True):
        total = total + t if op in ("+", "plus") else total - t
    return total


def _close(x: float, c: float) -> bool:
    return abs(x - c) <= max(0.02 * abs(c), 0.011)


def check(text: str) -> Claims:
    """The arithmetic claims of ``text``, counted as holding or not."""
    true = false = 0
    for m in _CLAIM.finditer(text):
        left, c = _evaluate(m.group(1)), _value(m.group(2))
        if left is None or c is None:
            continue
        r = left
        # "3/5 × 100 = 60%", "3 / 4 = 75%" and "3 / 4 = 0.75" all hold
        figure = c[0] * 100 if c[1] else c[0]
        if any(_close(x, figure) or _close(x, c[0]) for x in (r, r * 100)):
            true += 1
        else:
            false += 1
    return Claims(true=true, false=false)
