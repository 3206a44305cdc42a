"""Postal addresses: a street with a house number, then optionally a unit,
postcode and city.

Street names are recognised by their type word: English ones after the
number ("221B Baker Street"), Romance ones before the name ("12 rue de
Rivoli", "Calle Mayor 5") and Germanic compounds ending in it
("Hauptstraße 5"). Without a house number a street is a place, not an
address, and stays ("the Main Street campus").
"""

from __future__ import annotations

import re

from huddle_ai.suggest.privacy.recognizer import Span

__all__ = ["AddressRecognizer"]

_CAP = r"[A-ZÀ-ÖØ-Þ][\wÀ-ÿ'’\-]*"
# city words are capitalised and then lower case, unlike a postcode such as SW1A
_CITY = r"[A-ZÀ-ÖØ-Þ][a-zß-ÿ'’\-]+(?:\s+[A-ZÀ-ÖØ-Þ][a-zß-ÿ'’\-]+){0,2}"
_EN_TYPES = (
    r"Street|St|Road|Rd|Avenue|Ave|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Terrace|Place|Pl|"
    r"Way|Parkway|Pkwy|Loop|Close|Crescent|Square|Sq|Highway|Hwy|Row|Mews|Grove|Gardens|Walk|"
    r"Circle|Cir|Trail|Plaza"
)
_ROMANCE = (
    "rue", "avenue", "av.", "boulevard", "bd", "place", "allée", "chemin", "impasse", "quai",
    "cours", "calle", "c/", "avenida", "avda.", "carrer", "plaza", "paseo", "camino", "rua",
    "travessa", "largo", "praça", "via", "viale", "piazza", "corso", "vicolo",
)  # fmt: skip
_ROMANCE_TYPES = "|".join(re.escape(t) for t in _ROMANCE)
# Before a house number only the capitalised type counts: "via Zoom 3" is prose.
_ROMANCE_CAPITALISED = "|".join(re.escape(t[0].upper() + t[1:]) for t in _ROMANCE)
_OF = r"(?:(?:de|del|de la|des|du|d'|della|di|dos|das|do|da)\s+)?"
_GERMANIC_SUFFIX = (
    r"straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|straat|laan|gracht|plein|"
    r"steeg|kade|vej|gatan|gata"
)
_NUMBER = r"\d{1,5}[A-Za-z]?(?:[-/]\d{1,4})?"
_STREET = re.compile(
    rf"(?:(?:\d{{1,2}}(?:st|nd|rd|th)|Ground) Floor,\s*)?(?:"
    # 12 rue de Rivoli, 55 Avenue des Champs-Élysées
    rf"(?<![\w.,]){_NUMBER},?\s+(?i:{_ROMANCE_TYPES})\s+{_OF}{_CAP}(?:\s+{_CAP}){{0,3}}"
    # 221B Baker Street, 350 Fifth Avenue, 2500 W Main St
    rf"|(?<![\w.,]){_NUMBER}\s+(?:(?:[NSEW]|{_CAP})\s+){{0,4}}(?:{_EN_TYPES})\b(?:\.(?=,|\s+[a-z\d]))?"
    # Calle Mayor 5, Via Roma 10, Avenida de Mayo 1370
    rf"|(?<!\w)(?:{_ROMANCE_CAPITALISED})\s+{_OF}{_CAP}(?:\s+{_CAP}){{0,3}},?\s+{_NUMBER}(?!\w)"
    # Hauptstraße 5, Bahnhofstr. 7, Kerkstraat 12
    rf"|(?<!\w)[A-ZÄÖÜ][a-zäöüß\-]+(?:{_GERMANIC_SUFFIX})\s*{_NUMBER}(?!\w)"
    # PO Box 1234
    rf"|(?<!\w)P\.?\s?O\.?\s+Box\s+\d{{1,6}}"
    rf")",
)
_UNIT = re.compile(r",?\s+(?:Suite|Ste\.?|Apt\.?|Apartment|Unit|Flat|Floor)\s+\w{1,5}")
_POSTCODE = (
    r"[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}"  # UK
    r"|\d{4}\s?[A-Z]{2}(?!\w)"  # NL
    r"|\d{4}-\d{3}"  # PT
    r"|\d{4,5}(?:-\d{4})?"  # most of Europe, US ZIP
)
# ", London NW1 6XE", ", Mountain View, CA 94043", ", 75001 Paris", ", Buenos Aires"
_TAIL = re.compile(
    rf",?\s+(?:(?:{_POSTCODE})\s+{_CITY}"
    rf"|{_CITY}(?:,?\s+[A-Z]{{2}}(?=\s+\d))?(?:,?\s+(?:{_POSTCODE}))?)"
)


class AddressRecognizer:
    """Finds street addresses and the postcode and city that follow them."""

    def analyze(self, text: str) -> list[Span]:
        spans = []
        for m in _STREET.finditer(text):
            end = m.end()
            unit = _UNIT.match(text, end)
            if unit:
                end = unit.end()
            # two tails at most: "Mountain View, CA 94043" is city then state+ZIP
            for _ in range(2):
                tail = _TAIL.match(text, end)
                if not tail or not text[end : tail.end()].lstrip().startswith(","):
                    if tail and re.match(r"\s+(?:" + _POSTCODE + r")", text[end:]):
                        end = tail.end()
                    break
                end = tail.end()
            spans.append(Span(m.start(), end, "address", 0.85))
        return spans
