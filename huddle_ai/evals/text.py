"""The scorers' text features: :mod:`huddle_ai.text` plus the vague fillers scorers ignore.

Words, the stemmer, sentences and shared runs are :mod:`huddle_ai.text`'s (the
one text-features module), re-exported under the names the scorers import.
:data:`STOPWORDS` here is that module's function words plus :data:`FILLERS`:
words a vague comment is made of ("things", "really", "a lot"), which must not
count as specific content in feedback.
"""

# Scorer engineer: every name you import from here still works; new code may import
# huddle_ai.text directly.

from __future__ import annotations

from collections.abc import Iterable

from huddle_ai import text
from huddle_ai.text import longest_shared_run, sentences, stem, words

__all__ = [
    "FILLERS",
    "STOPWORDS",
    "content_words",
    "longest_shared_run",
    "sentences",
    "stem",
    "words",
]

_FILLERS_TEXT = """above after against before below between doing during even few hers him
    itself let let's lot nor now really still that's there's thing things three through
    until way well yours yourself it's i'm you're don't isn't aren't can't won't"""
FILLERS = frozenset(_FILLERS_TEXT.split()) - text.STOPWORDS
STOPWORDS = text.STOPWORDS | FILLERS


def content_words(text: str, extra_stop: Iterable[str] = ()) -> set[str]:
    """Stemmed words that carry meaning (no stopwords or fillers, no 1-2 letter tokens)."""
    stop = STOPWORDS | set(extra_stop)
    return {stem(w) for w in words(text) if len(w) > 2 and w not in stop}
