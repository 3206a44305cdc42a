"""Spotting output that repeats the system prompt (an injection echo).

The output is compared as a reader would see it and as a model could decode
it: with invisible characters dropped, look-alike letters mapped back,
spaced letters joined and base64 runs decoded, so "Y O U  H E L P", a
zero-width-split sentence or an encoded copy still count as a repeat.
"""

from __future__ import annotations

import re

from huddle_ai.suggest.privacy.normalize import decoded_blobs, despaced, visible

__all__ = ["leaks_prompt"]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _readings(output: str) -> list[str]:
    seen = visible(output)
    return [seen, despaced(seen), *decoded_blobs(seen)]


def leaks_prompt(output: str, prompt: str, span: int = 10) -> bool:
    """True when ``output`` repeats ``span`` consecutive words of ``prompt``.

    Ten words is long enough that advice in ordinary words does not match by
    chance, and short enough to catch an echo cut into pieces of eleven.
    """
    words = _words(prompt)
    if not words:
        return False
    if len(words) < span:
        phrase = " ".join(words)
        return any(phrase in " ".join(_words(r)) for r in _readings(output))
    grams = {tuple(words[i : i + span]) for i in range(len(words) - span + 1)}
    for reading in _readings(output):
        out = _words(reading)
        if any(tuple(out[i : i + span]) in grams for i in range(len(out) - span + 1)):
            return True
    return False
