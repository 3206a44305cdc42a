"""Provenance: where the specifics of a feedback text come from.

A draft may only name what belongs to the learner's work or to what the
huddle itself says. :func:`specifics` finds the parts of a text that carry
particular content -- numbers, quoted spans, names and other capitalised words,
and rare (domain-specific) words -- and :class:`Sources` says whether each one
can be traced to the permitted sources: the learner's solution, the huddle's
title, prompt and goal, each criterion's own text (name, description, key
points, level descriptors) and, for a knowledge check, its answer key.
Exemplars, anchors, other learners' solutions and past feedback are *not*
sources: what they name belongs to someone else's context.

The check is mechanical (no labels needed). It is used by the offline
generator to decide whether a sentence of past feedback can be reused, and by
the eval harness's ``provenance`` scorer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from huddle_ai.records import Huddle
from huddle_ai.suggest.assessment import stem

__all__ = [
    "Sources",
    "Specific",
    "allowed_sources",
    "common_word",
    "huddle_sources",
    "specifics",
    "untraceable",
]

SpecificKind = Literal["number", "quote", "name", "term"]

# A word rarer than this (Zipf scale: 3 = once per million words) is domain-specific.
RARE_ZIPF = 3.0

_QUOTE = re.compile(r"\u201c([^\u201d]{2,})\u201d|\"([^\"]{2,})\"|\u2018([^\u2019]{2,})\u2019")
_SINGLE = re.compile(r"(?<![\w])'([^']{3,}?)'(?![\w])")
# a number, with an ordinal or unit suffix kept apart ("6th", "3pm", "10kg": 6, 3, 10)
_NUMBER = re.compile(r"(?<![\w])(\d+(?:[.,:/]\d+)*)([^\W\d_]{1,3})?(?![\w])")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n\s*|[\u201c\"(\-\u2022*]\s*)$")
_ELLIPSIS = re.compile(r"\s*(?:\u2026|\.\.\.)\s*")
# words that are capitalised by convention, not names
_CONVENTIONAL = frozenset(
    [
        "i",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "ok",
    ]
)


@dataclass(frozen=True)
class Specific:
    kind: SpecificKind
    text: str


@lru_cache(maxsize=65536)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


# A word at least this frequent (Zipf 4.5: about once in 30,000 words) is everyday English.
COMMON_ZIPF = 4.5


def common_word(word: str) -> bool:
    """Whether ``word`` is everyday English, not the vocabulary of one context."""
    return _zipf(word.lower()) >= COMMON_ZIPF


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text)


def _quotes(text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in _QUOTE.finditer(text):
        out.append((m.start(), m.end(), next(g for g in m.groups() if g)))
    for m in _SINGLE.finditer(text):
        if not any(a <= m.start() < b for a, b, _ in out):
            out.append((m.start(), m.end(), m.group(1)))
    return out


def specifics(text: str) -> list[Specific]:
    """Numbers, quoted spans, names and rare words of ``text`` (in order, deduplicated)."""
    found: list[Specific] = []
    quotes = _quotes(text)
    for _, _, q in quotes:
        found.append(Specific("quote", q.strip()))

    def quoted(pos: int) -> bool:
        return any(a <= pos < b for a, b, _ in quotes)

    for m in _NUMBER.finditer(text):
        if not quoted(m.start()):
            found.append(Specific("number", m.group(1)))
    for m in _WORD.finditer(text):
        if quoted(m.start()):
            continue
        word = m.group()
        low = word.lower()
        if len(word) < 2 or low in _CONVENTIONAL:
            continue
        capital = word[0].isupper()
        starts = bool(_SENTENCE_START.search(text[: m.start()]))
        if capital and (word.isupper() and len(word) >= 2):
            found.append(Specific("name", word))  # an acronym
        elif (capital and not starts) or (capital and _zipf(low) < RARE_ZIPF):
            found.append(Specific("name", word))
        elif len(word) >= 4 and _zipf(low) < RARE_ZIPF:
            found.append(Specific("term", word))
    seen: set[tuple[str, str]] = set()
    out = []
    for s in found:
        key = (s.kind, s.text.lower())
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


class Sources:
    """The permitted sources of a draft's specifics, and the organization's generic words."""

    def __init__(self, texts: Iterable[str], generic: Iterable[str] = ()) -> None:
        joined = "\n".join(t for t in texts if t)
        self._exact = _norm(joined)
        self._lower = self._exact.lower()
        self._words = {w.lower() for w in _WORD.findall(self._exact)}
        self._words |= {stem(w) for w in self._words}
        self._numbers = {m.group(1) for m in _NUMBER.finditer(self._exact)}
        self.generic = frozenset(w.lower() for w in generic)

    def traces(self, s: Specific) -> bool:
        if s.kind == "quote":
            # a quotation must be verbatim (case kept); "..." may join verbatim parts
            parts = [p.strip(" .,;:") for p in _ELLIPSIS.split(_norm(s.text))]
            return all(not p or p in self._exact for p in parts)
        if s.kind == "number":
            return s.text in self._numbers
        low = s.text.lower()
        if low in self._words or stem(low) in self._words:
            return True
        if s.kind == "term":
            return low in self.generic or stem(low) in self.generic
        return False

    def add(self, text: str) -> Sources:
        """These sources plus ``text`` (e.g. the generator's own fixed wording)."""
        out = Sources([self._exact, text], self.generic)
        return out


def untraceable(text: str, sources: Sources) -> list[Specific]:
    """The specifics of ``text`` that no permitted source contains."""
    return [s for s in specifics(text) if not sources.traces(s)]


def huddle_sources(huddle: Huddle) -> list[str]:
    """What the huddle itself says: title, prompt, goal, each criterion's own text and,
    for a knowledge check, the answer key (never exemplars or anchors)."""
    texts = [huddle.title, huddle.prompt, huddle.goal]
    texts += [c.own_text() for c in huddle.rubric]
    if huddle.answer_key is not None:
        texts += [huddle.answer_key.reference or "", *huddle.answer_key.key_points]
    return texts


def allowed_sources(huddle: Huddle, solution: str, generic: Iterable[str] = ()) -> Sources:
    """The permitted sources for a draft on ``solution`` in ``huddle``."""
    return Sources([solution, *huddle_sources(huddle)], generic)
