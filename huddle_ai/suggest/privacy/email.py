"""Email addresses: plain, internationalized (``müller@beispiel.de``) and
obfuscated (``ana [at] acme-corp [dot] com``, ``bob AT example DOT org``)."""

from __future__ import annotations

import re

from huddle_ai.suggest.privacy.recognizer import Span

__all__ = ["EmailRecognizer"]

# \w is Unicode-aware, so this takes internationalized local parts and domains.
_PLAIN = re.compile(
    r"(?<![\w.+-])[\w][\w.%+'\-]*@(?:[^\W_](?:[\w\-]*[^\W_])?\.)+[^\W\d_]{2,24}(?![\w-])"
)
_AT = r"(?:\s*[\[\(\{<]\s*at\s*[\]\)\}>]\s*|\s+at\s+)"
_DOT = r"(?:\s*[\[\(\{<]\s*dot\s*[\]\)\}>]\s*|\s+dot\s+|\.)"
# An obfuscated address needs a spelled-out "at" and at least one spelled "dot"
# or bracket, so "meet at noon.com" style prose does not qualify.
_OBFUSCATED = re.compile(
    rf"(?<![\w.])[\w][\w%+\-]*(?:{_DOT}[\w%+\-]+)*{_AT}[^\W_][\w\-]*(?:{_DOT}[\w\-]+)*{_DOT}"
    r"[^\W\d_]{2,24}(?![\w-])",
    re.IGNORECASE,
)
_SPELLED = re.compile(r"[\[\(\{<]\s*at\s*[\]\)\}>]|\sdot\s|[\[\(\{<]\s*dot", re.IGNORECASE)
_TLD_WORDS = re.compile(
    r"(?:com|org|net|edu|gov|io|co|uk|de|fr|es|it|pt|nl|jp|cn|in|br|mx|ch|at|be|eu|info|biz|"
    r"dev|app|ai|ma|ie|ca|au|us|se|no|dk|fi|pl)$",
    re.IGNORECASE,
)


class EmailRecognizer:
    """Finds email addresses, including spelled-out ones."""

    def analyze(self, text: str) -> list[Span]:
        spans = [Span(m.start(), m.end(), "email", 1.0) for m in _PLAIN.finditer(text)]
        if not _SPELLED.search(text):
            return spans
        for m in _OBFUSCATED.finditer(text):
            found = m.group(0)
            if "@" in found or not _SPELLED.search(found):
                continue
            # A bracketed [at] is deliberate; a bare " at " also needs a
            # top-level domain at the end to tell it from prose.
            bracketed = re.search(r"[\[\(\{<]\s*at", found, re.IGNORECASE)
            if bracketed or _TLD_WORDS.search(found):
                spans.append(Span(m.start(), m.end(), "email", 0.9))
        return spans
