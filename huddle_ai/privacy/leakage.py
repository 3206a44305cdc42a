"""Spotting output that repeats the system prompt (an injection echo)."""

from __future__ import annotations

import re

__all__ = ["leaks_prompt"]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def leaks_prompt(output: str, prompt: str, span: int = 12) -> bool:
    """True when ``output`` repeats ``span`` consecutive words of ``prompt``.

    Twelve words is long enough that advice in ordinary words never matches by
    chance, and short enough to catch a paraphrase-free echo of any sentence.
    """
    words = _words(prompt)
    if len(words) < span:
        return " ".join(words) in " ".join(_words(output)) if words else False
    grams = {tuple(words[i : i + span]) for i in range(len(words) - span + 1)}
    out = _words(output)
    return any(tuple(out[i : i + span]) in grams for i in range(len(out) - span + 1))
