"""The analyzer: a registry of recognizers, run together, overlaps settled.

It only finds; replacing is the :class:`~huddle_ai.suggest.privacy.redactor.Redactor`'s
job (Presidio keeps analyzer and anonymizer apart for the same reason: one
analysis can be reported, measured or anonymized in different ways).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from huddle_ai.suggest.privacy.address import AddressRecognizer
from huddle_ai.suggest.privacy.email import EmailRecognizer
from huddle_ai.suggest.privacy.finance import CardRecognizer, IbanRecognizer
from huddle_ai.suggest.privacy.national_id import NationalIdRecognizer
from huddle_ai.suggest.privacy.network import IpRecognizer, SecretUrlRecognizer
from huddle_ai.suggest.privacy.person import PersonRecognizer, RosterRecognizer
from huddle_ai.suggest.privacy.phone import PhoneRecognizer
from huddle_ai.suggest.privacy.recognizer import THRESHOLD, Recognizer, Span

__all__ = ["Analyzer", "default_recognizers"]

# Breaks ties between overlapping spans of the same length.
_PRIORITY = {
    "url": 9,
    "email": 8,
    "iban": 7,
    "card": 7,
    "national_id": 6,
    "ip": 6,
    "phone": 5,
    "learner": 4,
    "address": 3,
    "person": 2,
}


def default_recognizers(
    names: Iterable[str] = (), keep: str | None = None, min_name_length: int = 3
) -> list[Recognizer]:
    """Every shipped recognizer; ``names`` is the org roster, ``keep`` the author,
    and roster name parts shorter than ``min_name_length`` are not matched alone."""
    roster = RosterRecognizer(names=names, keep=keep, min_name_length=min_name_length)
    return [
        SecretUrlRecognizer(),
        EmailRecognizer(),
        IbanRecognizer(),
        CardRecognizer(),
        NationalIdRecognizer(),
        IpRecognizer(),
        PhoneRecognizer(),
        roster,
        AddressRecognizer(),
        PersonRecognizer(keep=keep),
    ]


@dataclass
class Analyzer:
    """Runs ``recognizers`` and returns non-overlapping spans over ``threshold``."""

    recognizers: Sequence[Recognizer] = field(default_factory=default_recognizers)
    threshold: float = THRESHOLD

    def analyze(self, text: str) -> list[Span]:
        found = [s for r in self.recognizers for s in r.analyze(text) if s.score >= self.threshold]
        # Overlapping spans merge into one, so nothing between them is left
        # readable; it is named after its longest (then most specific) member,
        # so a URL holding an email stays one URL.
        found.sort(key=lambda s: (s.start, -s.end))
        merged: list[list[Span]] = []
        end = -1
        for span in found:
            if merged and span.start < end:
                merged[-1].append(span)
            else:
                merged.append([span])
            end = max(end, span.end) if len(merged[-1]) > 1 else span.end
        return [_merge(group) for group in merged]


def _merge(group: list[Span]) -> Span:
    best = max(group, key=lambda s: (s.end - s.start, _PRIORITY.get(s.category, 0), s.score))
    return Span(
        start=min(s.start for s in group),
        end=max(s.end for s in group),
        category=best.category,
        score=max(s.score for s in group),
    )
