"""National identity numbers, each checked by its own rule (``python-stdnum``).

Numbers with a distinctive shape (US SSN ``123-45-6789``, UK NINO, Spanish
DNI/NIE, Italian codice fiscale, Brazilian CPF, French NIR) are found by shape
and checksum; bare digit runs (Dutch BSN, Canadian SIN, Indian Aadhaar,
German Steuer-ID, undashed SSN) only when a word nearby names them, since a
checksum alone passes one random number in ten.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from stdnum import verhoeff
from stdnum.br import cpf
from stdnum.ca import sin
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.us import ssn

from huddle_ai.suggest.privacy.recognizer import Span, context_near

__all__ = ["NationalIdRecognizer"]


def _nino(value: str) -> bool:
    # HMRC: no D F I Q U V in the prefix, no O second, and some pairs never issued.
    v = re.sub(r"\s", "", value).upper()
    return bool(re.fullmatch(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]", v)) and v[
        :2
    ] not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def _aadhaar(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return len(digits) == 12 and digits[0] not in "01" and verhoeff.is_valid(digits)


@dataclass(frozen=True)
class _Shape:
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]
    # words that must be near for a match to count; empty means the shape suffices
    needs: tuple[str, ...] = ()


_SSN_WORDS = ("ssn", "social security", "ss#", "ss no")
_SHAPES = (
    _Shape(re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"), ssn.is_valid),
    _Shape(re.compile(r"(?<!\w)\d{3} \d{2} \d{4}(?!\w)|(?<!\w)\d{9}(?!\w)"), ssn.is_valid,
           _SSN_WORDS),
    _Shape(re.compile(r"(?<!\w)[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D](?!\w)"), _nino),
    _Shape(re.compile(r"(?<!\w)\d{8}-?[A-Z](?!\w)"), dni.is_valid),
    _Shape(re.compile(r"(?<!\w)[XYZ]-?\d{7}-?[A-Z](?!\w)"), nie.is_valid),
    _Shape(re.compile(r"(?<!\w)[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z](?!\w)"),
           codicefiscale.is_valid),
    _Shape(re.compile(r"(?<![\w.])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\w-]|\.\d)"), cpf.is_valid),
    _Shape(re.compile(r"(?<!\w)[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?!\w)"),
           nir.is_valid),
    _Shape(re.compile(r"(?<!\w)\d{11}(?!\w)"), cpf.is_valid, ("cpf",)),
    _Shape(re.compile(r"(?<!\w)\d{9}(?!\w)|(?<!\w)\d{4}\.\d{2}\.\d{3}(?!\w)"), bsn.is_valid,
           ("bsn", "burgerservicenummer", "sofinummer")),
    _Shape(re.compile(r"(?<!\w)\d{3}[ -]?\d{3}[ -]?\d{3}(?!\w)"), sin.is_valid,
           ("sin", "social insurance", "nas", "numéro d'assurance sociale")),
    _Shape(re.compile(r"(?<!\w)\d{4}[ -]?\d{4}[ -]?\d{4}(?!\w)"), _aadhaar,
           ("aadhaar", "aadhar", "uidai", "uid")),
    _Shape(re.compile(r"(?<!\w)\d{2} ?\d{3} ?\d{3} ?\d{3}(?!\w)"), idnr.is_valid,
           ("steuer-id", "steuerid", "steuer-identifikationsnummer", "idnr", "tax id",
            "steueridentifikationsnummer", "identifikationsnummer")),
)  # fmt: skip
_ID_WORDS = (
    "ssn", "social security", "national insurance", "nino", "dni", "nie", "codice fiscale",
    "cpf", "sécurité sociale", "id number", "passport", "national id",
)  # fmt: skip


class NationalIdRecognizer:
    """Finds national identity numbers that pass their country's check."""

    def analyze(self, text: str) -> list[Span]:
        spans = []
        for shape in _SHAPES:
            for m in shape.pattern.finditer(text):
                start, end = m.span()
                if shape.needs and not context_near(text, start, end, shape.needs):
                    continue
                if not shape.valid(m.group(0)):
                    continue
                named = shape.needs or context_near(text, start, end, _ID_WORDS)
                spans.append(Span(start, end, "national_id", 1.0 if named else 0.85))
        return spans
