"""Bank account (IBAN, ISO 13616 mod-97) and payment card (Luhn) numbers.

Both are checksummed, so a candidate that fails its checksum is not PII of
this kind: a typo'd card number is as likely an order number.
"""

from __future__ import annotations

import re

from stdnum import iban, luhn

from huddle_ai.suggest.privacy.recognizer import Span, context_near

__all__ = ["CardRecognizer", "IbanRecognizer"]

_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]{1,4}){2,8}(?![A-Za-z0-9])")
_CARD = re.compile(r"(?<![\d\-.])\d(?:[ \-]?\d){12,18}(?![\d\-]|[.,]\d)")
# Issuer prefixes (IIN ranges) of the card networks people actually hold.
_ISSUER = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9]|2)|35)")
_CARD_WORDS = (
    "card", "visa", "mastercard", "amex", "american express", "discover", "jcb", "credit",
    "debit", "paid with", "charge", "carte", "tarjeta", "karte", "cartão", "carta",
)  # fmt: skip
_NOT_CARD_WORDS = ("tracking", "order", "sku", "isbn", "serial", "imei", "ean", "invoice")


class IbanRecognizer:
    """Finds IBANs whose mod-97 check (and national check, where known) holds."""

    def analyze(self, text: str) -> list[Span]:
        spans = []
        for m in _IBAN.finditer(text):
            # The pattern can run into a following code; shrink group by group.
            groups = re.split(r"(?<=[A-Z0-9])(?=[ \-])", m.group(0))
            for n in range(len(groups), 0, -1):
                candidate = "".join(groups[:n])
                if iban.is_valid(candidate):
                    spans.append(Span(m.start(), m.start() + len(candidate), "iban", 1.0))
                    break
        return spans


class CardRecognizer:
    """Finds card numbers: issuer prefix, 13 to 19 digits and a valid Luhn digit."""

    def analyze(self, text: str) -> list[Span]:
        spans = []
        for m in _CARD.finditer(text):
            raw = m.group(0)
            digits = re.sub(r"\D", "", raw)
            if not _ISSUER.match(digits) or not luhn.is_valid(digits):
                continue
            start, end = m.span()
            if context_near(text, start, end, _CARD_WORDS):
                score = 1.0
            elif context_near(text, start, end, _NOT_CARD_WORDS):
                continue
            else:
                # Card numbers are written in groups of four (Amex 4-6-5) or
                # solid; 14+ digits passing Luhn with an issuer prefix is rare
                # by chance (about 1 in 10 of random numbers pass Luhn).
                score = 0.8 if len(digits) >= 14 else 0.3
            spans.append(Span(start, end, "card", score))
        return spans
