"""Privacy and injection hygiene for text that leaves for an external LLM.

- :class:`Redactor` replaces emails, phone numbers, URLs that carry secrets
  and the names of an organization's learners (other than the author's) with
  placeholders, and counts what it replaced.
- :func:`should_redact` decides whether redaction is on: it is on by default
  for every endpoint that is not on this machine.
- :func:`delimit` wraps untrusted learner text in tags the model is told hold
  data; the text is escaped so it cannot close the tag itself.
- :func:`leaks_prompt` spots output that repeats a long verbatim span of the
  system prompt (an injection echo).
- :func:`instruction_sentences` finds sentences of learner text that address
  the AI or the grader (prompt injection), so they are never quoted or judged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "Redactor",
    "delimit",
    "escape",
    "instruction_sentences",
    "is_local_url",
    "leaks_prompt",
    "should_redact",
    "without_instructions",
]

EMAIL = "[email]"
PHONE = "[phone]"
URL = "[url]"
NAME = "[learner]"

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b")
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d{1,3}[\s.\-]?(?:\(\d{1,4}\)[\s.\-]?)?\d{1,4}(?:[\s.\-]?\d{2,4}){1,4}"  # international
    r"|\(\d{3}\)\s?\d{3}[\s.\-]\d{4}"  # (555) 123-4567
    r"|\d{3}[\s.\-]\d{3}[\s.\-]\d{4}"  # 555-123-4567
    r"|0\d{2,4}[\s.\-]\d{3,4}[\s.\-]?\d{3,4}"  # national with trunk 0
    r")(?![\w])"
)
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"')\]]+", re.IGNORECASE)
_SECRET_KEY = re.compile(
    r"(token|key|secret|sig|signature|password|passwd|pwd|auth|session|code|credential)",
    re.IGNORECASE,
)
# A run of 20+ URL-safe characters mixing letters and digits looks like a credential.
_TOKENISH = re.compile(r"(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{20,}")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def is_local_url(url: str | None) -> bool:
    """True when ``url`` points at this machine."""
    if not url:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.endswith(".localhost")


def should_redact(base_url: str | None, setting: bool | None) -> bool:
    """The ``redact_pii`` setting, or on unless the endpoint is local."""
    return setting if setting is not None else not is_local_url(base_url)


def _url_has_secret(url: str) -> bool:
    parts = urlsplit(url)
    if parts.username or parts.password:
        return True
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if _SECRET_KEY.search(key) or _TOKENISH.search(value):
            return True
    return bool(_TOKENISH.search(parts.path) or _TOKENISH.search(parts.fragment))


@dataclass
class Redactor:
    """Replaces PII with placeholders. ``names`` are learner names to hide;
    words of ``keep`` (the author's own name) are never hidden."""

    names: Iterable[str] = ()
    keep: str | None = None
    min_name_length: int = 3
    _names: re.Pattern[str] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        kept = {w.lower() for w in re.findall(r"\w+", self.keep or "")}
        full: set[str] = set()
        parts: set[str] = set()
        for name in self.names:
            name = " ".join(name.split())
            if not name or name.lower() == (self.keep or "").strip().lower():
                continue
            full.add(name)
            # single name parts catch "Ana" for "Ana Lima"; only capitalised, so
            # "will" or "grace" as ordinary words stay
            for word in re.findall(r"\w+", name):
                if len(word) >= self.min_name_length and word.lower() not in kept:
                    parts.add(word[0].upper() + word[1:])
        words = sorted(full, key=len, reverse=True) + sorted(parts, key=len, reverse=True)
        if words:
            alternatives = "|".join(re.escape(w) for w in words)
            self._names = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")

    def redact(self, text: str) -> tuple[str, int]:
        """``text`` with PII replaced, and how many replacements were made."""
        count = 0

        def url(m: re.Match[str]) -> str:
            nonlocal count
            if _url_has_secret(m.group(0)):
                count += 1
                return URL
            return m.group(0)

        text = _URL.sub(url, text)
        text, n = _EMAIL.subn(EMAIL, text)
        count += n
        text, n = _PHONE.subn(PHONE, text)
        count += n
        if self._names is not None:
            text, n = self._names.subn(NAME, text)
            count += n
        return text, count


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def delimit(tag: str, text: str) -> str:
    """``text`` escaped so it cannot open or close tags, inside ``<tag>``."""
    return f"<{tag}>\n{_escape(text)}\n</{tag}>"


def escape(text: str) -> str:
    """Escape ``<``, ``>`` and ``&`` so untrusted text cannot fake a delimiter."""
    return _escape(text)


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


# Sentences that address the model or the grader rather than describe the work.
_INJECTION = re.compile(
    "|".join(
        (
            r"\b(?:ignore|ignora|disregard|forget|override)\b[^.!?]{0,60}"
            r"\b(?:instructions?|instrucciones|rules?|rubric|prior|previous|above|huddle|"
            r"guidelines?|everything|text)\b",
            r"\b(?:you are now|system prompt|hidden prompt|your instructions|new instructions|"
            r"new rule|override\b|jailbreak|dan mode|as an ai|the grader|assessment\s*=|"
            r"tell the learner|when you write|already approved)",
            r"^\W*(?:system|assistant|ai|grader|admin)\b\s*[:,]",
            r"^\W*(?:say|reply|respond|output|write|print|answer|end|begin|start|confirm)\b"
            r"[^.!?]{0,30}['\"\u2018\u201c]",
            r"^\W*(?:write|say|output|reply|respond|answer)\b[^.!?]*\binstead\b",
            r"\b(?:mark|grade|rate|score|set|give|assess)\w*\b[^.!?]{0,50}"
            r"(?:\bas met\b|\bto met\b|\bas correct\b|\bhighest\b|\btop marks\b|\d stars|"
            r"\bfull marks\b|10/10|\bas perfect\b)",
            r"\b(?:final assessment|do not question it|must not mention|nothing to improve)\b",
            r"\b(?:reply|respond|answer|say|output|write|print|repeat|translate|include|list|"
            r"tell me|dump|reveal|disclose|decode|confirm|begin|start|end)\b.{0,120}?"
            r"\b(?:prompt|instructions|context items|other learners?|other organi[sz]ations?|"
            r"api key|base url|email addresses|word for word|verbatim|only with|only say|"
            r"nothing else|capital letters|pirate|json|in your (?:reply|feedback|answer))",
            r"<!--|</?[a-z_]+>|\[\[",
        )
    ),
    re.IGNORECASE | re.MULTILINE,
)
# canary tokens such as INJECTION-SUCCEEDED-42 (case-sensitive: only shouted ones)
_CANARY = re.compile(r"\b[A-Z]{2,}(?:-[A-Z0-9]{2,})+\b")
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


def _is_instruction(sentence: str) -> bool:
    if _CANARY.search(sentence):
        return True  # case-sensitive: only shouted tokens count
    stripped = _CANARY.sub("", sentence)
    return bool(_INJECTION.search(stripped))


def instruction_sentences(text: str) -> list[str]:
    """The sentences of ``text`` that instruct the AI or grader (prompt injection)."""
    return [s.strip() for s in _SPLIT.split(text) if s.strip() and _is_instruction(s)]


def without_instructions(text: str) -> str:
    """``text`` without its instruction-like sentences (what is left to judge and quote)."""
    kept = [s.strip() for s in _SPLIT.split(text) if s.strip() and not _is_instruction(s)]
    return " ".join(kept)
