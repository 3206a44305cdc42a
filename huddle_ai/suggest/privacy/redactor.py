"""The anonymizer: replaces the spans an :class:`Analyzer` found with
placeholders such as ``[email]`` and counts them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from huddle_ai.suggest.privacy.analyzer import Analyzer, default_recognizers
from huddle_ai.suggest.privacy.normalize import strip_invisible

__all__ = ["PLACEHOLDERS", "Redactor"]

PLACEHOLDERS = {
    "email": "[email]",
    "phone": "[phone]",
    "url": "[url]",
    "learner": "[learner]",
    "person": "[person]",
    "address": "[address]",
    "iban": "[iban]",
    "card": "[card]",
    "national_id": "[national_id]",
    "ip": "[ip]",
}


@dataclass
class Redactor:
    """Replaces PII with placeholders. ``names`` are learner names to hide;
    words of ``keep`` (the author's own name) are never hidden."""

    names: Iterable[str] = ()
    keep: str | None = None
    min_name_length: int = 3
    analyzer: Analyzer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.names = tuple(self.names)
        recognizers = default_recognizers(
            names=self.names, keep=self.keep, min_name_length=self.min_name_length
        )
        self.analyzer = Analyzer(recognizers)

    def redact(self, text: str) -> tuple[str, int]:
        """``text`` with PII replaced, and how many replacements were made.

        Zero-width and other invisible characters are dropped first: they can
        split an email or a name so that no pattern sees it, and they carry
        nothing a reader of the text would miss.
        """
        text = strip_invisible(text)
        spans = self.analyzer.analyze(text)
        out = []
        last = 0
        for span in spans:
            out.append(text[last : span.start])
            out.append(PLACEHOLDERS.get(span.category, f"[{span.category}]"))
            last = span.end
        out.append(text[last:])
        return "".join(out), len(spans)
