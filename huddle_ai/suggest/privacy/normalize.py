"""Undoing the disguises of hidden text before it is matched.

Injected instructions hide behind zero-width and Unicode tag characters,
letters borrowed from Cyrillic or Greek, spaced-out letters
("I G N O R E") and base64. These functions map such text back to what a
reader (or a model) would see, so one set of patterns catches all of it.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

__all__ = ["decoded_blobs", "despaced", "strip_invisible", "unconfuse", "visible"]

# Zero-width spaces and joiners, bidi marks, word joiner and invisible
# operators, the BOM, soft hyphen, and the Unicode tag block (which can spell
# ASCII text invisibly).
_INVISIBLE = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\U000e0000-\U000e007f]"
)

# Cyrillic and Greek letters that look like Latin ones.
_CONFUSABLE = str.maketrans(
    "аеорсухіјѕԁһӏԛԝвкмнтАВЕКМНОРСТУХІЈЅԌԚԜαβεικνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdhlqwbkmhtABEKMHOPCTYXIJSGQWabeikvoptuxABEZHIKMNOPTYX",
)
_CONFUSABLE_CHARS = frozenset(chr(c) for c in _CONFUSABLE)
_WORD = re.compile(r"\w+")
_SPACED = re.compile(r"(?<!\w)(?:\w[ .\-_*]){2,}\w(?!\w)")
_BLOB = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")


def strip_invisible(text: str) -> str:
    """``text`` without zero-width, bidi-control and tag characters."""
    return _INVISIBLE.sub("", text)


def unconfuse(text: str) -> str:
    """Latin letters for look-alikes, in words that are not wholly another script.

    A Russian word keeps its letters (most of them have no Latin twin); a
    word like "іgnore" with one Cyrillic letter becomes "ignore".
    """

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        foreign = [c for c in word if ord(c) > 0x7F and c.isalpha()]
        if foreign and all(c in _CONFUSABLE_CHARS for c in foreign):
            return word.translate(_CONFUSABLE)
        return word

    return _WORD.sub(fix, text)


def despaced(text: str) -> str:
    """Runs of single letters ("I G N O R E", "i.g.n.o.r.e") joined into words;
    a wider gap between letters is kept as a word break."""

    def join(m: re.Match[str]) -> str:
        run = m.group(0)
        # "i.g.n.o.r.e p.r.e.v" breaks words with a space; "I G N O R E" cannot
        separators = "[.\\-_*]" if re.search(r"\w[.\-_*]\w", run) else " "
        return re.sub(rf"(?<=\w){separators}(?=\w)", "", run)

    def part(chunk: str) -> str:
        # "o n" or "l e a r n e r ' s" between wide gaps is one spelled-out word
        if re.fullmatch(r"(?:\S )+\S", chunk):
            return chunk.replace(" ", "")
        return _SPACED.sub(join, chunk)

    text = re.sub(r"(?<=\S) {2,}(?=\S)", "  ", text)
    # the double space stays a word break: split on it, join letters, re-join
    return " ".join(part(chunk) for chunk in text.split("  "))


def decoded_blobs(text: str) -> list[str]:
    """The text hidden in base64-looking runs of ``text`` that decode to words."""
    out = []
    for m in _BLOB.finditer(text):
        blob = m.group(0)
        if blob.isalpha() or blob.isdigit():
            continue  # a long word or number, not an encoding
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        printable = sum(c.isprintable() for c in decoded)
        if decoded and printable / len(decoded) > 0.95 and re.search(r"[A-Za-z]{3}", decoded):
            out.append(decoded)
    return out


def visible(text: str) -> str:
    """``text`` as it reads: NFKC-normalized, invisible characters removed,
    look-alike letters mapped to Latin."""
    return unconfuse(strip_invisible(unicodedata.normalize("NFKC", text)))
