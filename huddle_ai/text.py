"""Text features: words, the one stopword list, the one light stemmer, content words,
sentences and shared word runs.

Kept simple and dependency-free so that every score built on them is
explainable: a scorer or the checklist matcher can always say *which* words it
counted. The assessment (rubric coverage) and the eval scorers both use this
module; the scorers add a few vague fillers of their own
(:data:`huddle_ai.evals.text.STOPWORDS`).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "STOPWORDS",
    "content_tokens",
    "content_words",
    "longest_shared_run",
    "sentences",
    "stem",
    "words",
]

STOPWORDS = frozenset(
    w
    for line in (
        "a an the and or but if then than so to of in on at by for with from into onto over",
        "under about as is are was were be been being am do does did done has have had",
        "having it its this that these those there here their they them he she his her we",
        "our you your i me my not no yes can could should would will shall may might must",
        "also very more most much many some any each every all both such which who whom",
        "whose what when where why how just only own same other another one two use used",
        "using make makes made get gets got like e.g i.e etc because while whereas up down",
        "out off again further once too s t",
    )
    for w in line.split()
)
"""Function words: they carry no content of a rubric point or a piece of feedback."""

_CONTENT = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'\-]*|\d+(?:\.\d+)?")
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")


def stem(word: str) -> str:
    """A light English stem (``teachers`` -> ``teacher``, ``replies`` -> ``reply``).

    A final silent "e" goes too, so a word and its inflections meet: ``schedule``,
    ``scheduled``, ``scheduling`` and ``schedules`` are all ``schedul``.
    """
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: -len(suffix)] + keep
            break
    if len(word) >= 4 and word.endswith("e") and not word.endswith("ee"):
        return word[:-1]
    return word


def content_words(text: str) -> set[str]:
    """Lower-cased, lightly stemmed words that carry content."""
    return set(_content_words(text))


@lru_cache(maxsize=65536)
def _content_words(text: str) -> frozenset[str]:
    found = _CONTENT.findall(text.lower())
    return frozenset(stem(w) for w in found if w not in STOPWORDS and len(w) > 1)


def content_tokens(text: str) -> list[str]:
    """The lower-cased word tokens :func:`content_words` reads, in order, unstemmed."""
    return _CONTENT.findall(text.lower())


def words(text: str) -> list[str]:
    """Lower-cased word tokens (hyphenated words and decimals kept whole)."""
    return [w.lower() for w in _WORD.findall(text or "")]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text or "") if s.strip()]


def longest_shared_run(a: str, b: str) -> int:
    """Length in words of the longest word sequence that occurs in both texts."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0
    best = 0
    prev = [0] * (len(wb) + 1)
    for x in wa:
        cur = [0] * (len(wb) + 1)
        for j, y in enumerate(wb, start=1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best
