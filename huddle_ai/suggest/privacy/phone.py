"""Phone numbers in international and national formats, validated by Google's
libphonenumber (the ``phonenumbers`` package) against a list of regions.

A digit run is only a candidate; it becomes a phone number when
``phonenumbers`` says it is a valid number for some region. National numbers
(no ``+``) are valid in some region far more often than chance suggests, so
words like "order" or "invoice" nearby push them under the threshold unless
the text also says phone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers

from huddle_ai.suggest.privacy.recognizer import Span, context_distance

__all__ = ["PhoneRecognizer"]

# Regions whose national formats are tried, most common first (an
# international "+" number needs none).
REGIONS = (
    "US", "GB", "FR", "DE", "ES", "IT", "PT", "BR", "JP", "IN", "AU", "MX", "NL",
    "CH", "BE", "AT", "PL", "SE", "IE", "ZA", "NG", "KR", "CN", "CA", "AR",
)  # fmt: skip

_CANDIDATE = re.compile(
    r"(?<![\w+\-/.])(?:\+|00)?(?:\(\d{1,4}\)[\s.\-]?)?\d{1,8}"
    r"(?:(?:[\s.\-]|\s?\(0?\d{1,4}\)\s?)\d{1,8}){0,6}(?![\w\-/]|[.,]\d)"
)
# Regions whose national numbers are written without a leading trunk "0".
_NO_TRUNK = frozenset({"US", "CA", "ES", "IT", "PT", "PL", "MX", "IN", "CN", "BR", "KR", "AR"})
_NANP = re.compile(r"^(?:\(\d{3}\)\s?|\d{3}[\s.\-])\d{3}[\s.\-]\d{4}$")
# a date, with or without the hour after it ("2025-03-14 10:00")
_DATE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})(?:\s|$)")
_PHONE_WORDS = (
    "phone", "tel", "tel.", "telephone", "call", "ring", "dial", "mobile", "cell", "fax",
    "whatsapp", "text", "sms", "hotline", "reach", "contact", "number is", "desk", "office",
    "téléphone", "portable", "appelez", "appelle", "teléfono", "telefono", "móvil", "llama",
    "llame", "telefon", "handy", "ruf", "anrufen", "ligue", "celular", "chiama", "cellulare",
    "電話", "携帯",
)  # fmt: skip
_NOT_PHONE_WORDS = (
    "order", "orders", "invoice", "invoices", "ticket", "tickets", "tracking", "serial",
    "serials", "part", "parts", "sku", "isbn", "ref", "refs", "ids", "items", "rows", "pages",
    "reference", "id", "version", "build", "release", "commande", "facture", "pedido",
    "factura", "bestellung", "rechnung", "auftrag", "ordine", "fattura", "account", "iban",
    "ssn", "nino", "sin", "bsn", "aadhaar", "cpf", "dni", "card", "sort code", "yen", "eur",
    "usd", "units",
)  # fmt: skip


@dataclass(frozen=True)
class PhoneRecognizer:
    """Finds phone numbers valid in one of ``regions``."""

    regions: Sequence[str] = REGIONS

    def analyze(self, text: str) -> list[Span]:
        spans = []
        # a long table repeats numbers; each is validated once
        seen: dict[str, tuple[bool, bool]] = {}
        for m in _CANDIDATE.finditer(text):
            raw = m.group(0)
            digits = sum(c.isdigit() for c in raw)
            if not 7 <= digits <= 15 or _DATE.match(raw):
                continue
            international = raw.startswith(("+", "00"))
            if raw not in seen:
                seen[raw] = self._check(raw, international)
            valid, possible = seen[raw]
            if not valid and not possible:
                continue
            start, end = m.span()
            said = context_distance(text, start, end, _PHONE_WORDS)
            denied = context_distance(text, start, end, _NOT_PHONE_WORDS)
            if denied is not None and (said is None or denied < said):
                # "Order number 100-200-3000": the nearer word decides
                score = 0.6 if international else 0.2
            elif said is not None:
                score = 0.95
            else:
                score = (0.85 if valid else 0.6) if international else 0.55
            spans.append(Span(start, end, "phone", score))
        return spans

    def _check(self, raw: str, international: bool) -> tuple[bool, bool]:
        """(valid in some region, at least possible where fictional ranges are common)."""
        if self._valid(raw, international):
            return True, True
        # Numbers in fictional ranges (555-0100, 07700 900xxx) are not valid,
        # yet people write them; a "+" number or the North American shape
        # that is at least possible still counts.
        possible = bool(international or _NANP.match(raw)) and self._possible(raw, international)
        return False, possible

    def _possible(self, raw: str, international: bool) -> bool:
        try:
            parsed = phonenumbers.parse(self._plus(raw), None if international else "US")
        except phonenumbers.NumberParseException:
            return False
        return bool(phonenumbers.is_possible_number(parsed))

    @staticmethod
    def _plus(raw: str) -> str:
        return "+" + raw[2:] if raw.startswith("00") else raw

    def _valid(self, raw: str, international: bool) -> bool:
        number = self._plus(raw)
        if international:
            regions: Sequence[str | None] = (None,)
        elif raw.startswith(("0", "(")):
            regions = self.regions
        else:
            # without a trunk "0" only the regions that dial without one can match
            regions = [r for r in self.regions if r in _NO_TRUNK]
        for region in regions:
            try:
                parsed = phonenumbers.parse(number, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(parsed):
                return True
        return False
