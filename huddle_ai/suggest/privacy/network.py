"""Network identifiers: IP addresses (v4 and v6) and URLs that carry secrets.

A plain URL is not PII and stays; one with credentials, a secret-looking
query key or a token-like value is replaced whole.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlsplit

from huddle_ai.suggest.privacy.recognizer import Span, context_near

__all__ = ["IpRecognizer", "SecretUrlRecognizer"]

_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"')\]]+", re.IGNORECASE)
_SECRET_KEY = re.compile(
    r"(token|key|secret|sig|signature|password|passwd|pwd|auth|session|code|credential)",
    re.IGNORECASE,
)
# A run of 20+ URL-safe characters mixing letters and digits looks like a credential.
_RUN = re.compile(r"[A-Za-z0-9_\-]{20,}")


def _tokenish(text: str) -> bool:
    # checked per run in Python: lookaheads inside the pattern would rescan the
    # rest of a long run at every position
    return any(
        any(c.isdigit() for c in run) and any(c.isalpha() for c in run)
        for run in _RUN.findall(text)
    )


_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_VERSION_WORDS = ("version", "v", "release", "build", "chapter", "section", "rule")


def url_has_secret(url: str) -> bool:
    """True when ``url`` carries credentials, a secret query key or a token."""
    parts = urlsplit(url.rstrip(".,;:!?"))
    if parts.username or parts.password:
        return True
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if _SECRET_KEY.search(key) or _tokenish(value):
            return True
    return _tokenish(parts.path) or _tokenish(parts.fragment)


class SecretUrlRecognizer:
    """Finds URLs that carry secrets."""

    def analyze(self, text: str) -> list[Span]:
        spans = []
        for m in _URL.finditer(text):
            url = m.group(0)
            # a sentence's full stop is not part of the URL
            trimmed = url.rstrip(".,;:!?")
            if url_has_secret(trimmed):
                spans.append(Span(m.start(), m.start() + len(trimmed), "url", 1.0))
        return spans


class IpRecognizer:
    """Finds IPv4 and IPv6 addresses that parse as such."""

    def analyze(self, text: str) -> list[Span]:
        spans = []
        for m in _IPV4.finditer(text):
            try:
                ipaddress.IPv4Address(m.group(0))
            except ValueError:
                continue
            # "version 1.2.3.4" is a version even when it parses as an address
            if context_near(text, m.start(), m.end(), _VERSION_WORDS, window=20):
                continue
            spans.append(Span(m.start(), m.end(), "ip", 0.9))
        if text.count(":") >= 2:
            for m in _IPV6.finditer(text):
                found = m.group(0)
                if sum(c not in ":" for c in found) < 3:
                    continue
                try:
                    ipaddress.IPv6Address(found)
                except ValueError:
                    continue
                spans.append(Span(m.start(), m.end(), "ip", 0.9))
        return spans
