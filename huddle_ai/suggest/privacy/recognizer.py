"""What a recognizer is: one kind of PII found in text, as scored spans.

A recognizer is small (a pattern, a checksum, a few context words) and knows
one category; the :class:`~huddle_ai.suggest.privacy.analyzer.Analyzer` runs many and
settles overlaps. Scores follow Presidio's convention: 1.0 for a validated
checksum, less for a pattern alone, raised or lowered by words nearby.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Protocol

__all__ = ["THRESHOLD", "Recognizer", "Span", "context_distance", "context_near"]

# A span is redacted at or above this score; recognizers put unsure candidates
# below it so that a context word can lift them over.
THRESHOLD = 0.5


@dataclass(frozen=True)
class Span:
    """``text[start:end]`` is PII of ``category`` with confidence ``score``."""

    start: int
    end: int
    category: str
    score: float

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


class Recognizer(Protocol):
    """Finds one category of PII."""

    def analyze(self, text: str) -> list[Span]:
        """Every candidate span of ``text``, each with its score."""
        ...


def context_near(text: str, start: int, end: int, words: Iterable[str], window: int = 40) -> bool:
    """True when one of ``words`` (lower case, whole-word) is within ``window``
    characters before ``start`` or half that after ``end``, in the same sentence."""
    return _nearest(text, start, end, words, window) is not None


def context_distance(
    text: str, start: int, end: int, words: Iterable[str], window: int = 40
) -> int | None:
    """How many characters away the nearest of ``words`` is, or None."""
    return _nearest(text, start, end, words, window)


def _nearest(text: str, start: int, end: int, words: Iterable[str], window: int) -> int | None:
    # Context stops at a sentence end: "Order 12. Call me" says nothing about 12.
    before = _SENTENCE_END.split(text[max(0, start - window) : start].lower())[-1]
    after = _SENTENCE_END.split(text[end : end + window // 2].lower())[0]
    pattern = _any_of(tuple(words))
    hits = [len(before) - m.end() for m in pattern.finditer(before)]
    hits += [m.start() for m in pattern.finditer(after)]
    return min(hits) if hits else None


@cache
def _any_of(words: tuple[str, ...]) -> re.Pattern[str]:
    # one compiled alternation per word list (the lists are module constants)
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


_SENTENCE_END = re.compile(r"[.!?;\n](?:\s|$)")
