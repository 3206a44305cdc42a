"""Text features the scorers share: words, content words, sentences, n-gram overlap.

Kept deliberately simple and dependency-free so that scores are explainable:
a scorer can always say *which* words or phrases it counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["STOPWORDS", "content_words", "longest_shared_run", "sentences", "stem", "words"]

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'\-]*|\d+(?:\.\d+)?")
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")

_STOPWORDS_TEXT = """a about above after again against all also am an and any are as at
    be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers him his how i if in into is
    it its itself just let me more most my no nor not now of off on once only or other our
    out over own same she should so some such than that the their them then there these
    they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself it's i'm you're that's
    don't isn't aren't can't won't there's let's one two three get got make made use used
    using way thing things really well much many lot also still even just like"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return [w.lower() for w in _WORD.findall(text or "")]


def stem(word: str) -> str:
    """A tiny suffix stripper: enough to match 'retries'/'retry', 'tested'/'tests'."""
    for suffix in ("ingly", "edly", "ing", "ies", "ied", "ed", "es", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            return base + "y" if suffix in ("ies", "ied") else base
    return word


def content_words(text: str, extra_stop: Iterable[str] = ()) -> set[str]:
    """Stemmed words that carry meaning (no stopwords, no 1-2 letter tokens)."""
    stop = STOPWORDS | set(extra_stop)
    return {stem(w) for w in words(text) if len(w) > 2 and w not in stop}


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
