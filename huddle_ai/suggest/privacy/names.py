"""Which words are people's names, and which names are also ordinary words.

First and last names come from Faker's person providers (a maintained PyPI
package that ships name lists for many locales; only the lists are used,
nothing is generated). Names that are everyday English words (Will, Mark,
May, Grace, Bill, ...) are *ambiguous*: they count as a name only with
evidence around them, see :mod:`huddle_ai.suggest.privacy.person`.
"""

from __future__ import annotations

import importlib
import unicodedata
from dataclasses import dataclass
from functools import cache

from wordfreq import zipf_frequency

__all__ = ["NameLists", "name_lists", "word_list"]


def word_list(words: str) -> list[str]:
    """The words of a block of text: word lists are easier to read as prose."""
    return words.split()


# Locales with clean lists; some others (id_ID, tr_TR, vi_VN) list words such
# as "Us", "Among" or "Jail" as first names.
_LOCALES = (
    "en_US", "en_GB", "en_IN", "en_NZ", "en_IE", "fr_FR", "de_DE", "es_ES", "es_MX", "it_IT",
    "pt_BR", "pt_PT", "nl_NL", "pl_PL", "sv_SE", "da_DK", "fi_FI", "cs_CZ", "ro_RO", "hu_HU",
    "ru_RU", "uk_UA", "el_GR", "hi_IN", "yo_NG", "zu_ZA", "ar_AA", "he_IL", "fa_IR", "ja_JP",
    "zh_CN", "ko_KR",
)  # fmt: skip

# Given names and surnames that are also common English words; as a name they
# need evidence (a surname after them, "asked Will", "Will said").
_ENGLISH_HOMOGRAPHS = frozenset(
    word_list("""
    will mark may grace bill rose june april august summer hope faith joy frank jack pat sue
    rob drew chase lane page price long young white brown green black gray grey king love
    guy harm lucky junior urban marine angel diamond crystal wolf hunter grant max ray dean
    art gene don dick jay robin rick victor miles penny sky dawn amber ruby olive ivy violet
    daisy holly iris heather autumn river storm rain melody harmony precious destiny justice
    honor liberty major prince earl duke baron hall wood stone field ford parker carter cook
    baker miller turner mason walker bell moon star sun day fox bush rich sterling cash gold
    silver pearl jewel chance cliff dale glen heath reed ward wade pierce buddy chip ace kit
    nat sol christian virginia georgia carolina paris sydney victoria jordan austin chelsea
    israel florence lincoln washington jersey dakota memphis phoenix berlin madison
    brook brooks rose hazel ginger sage basil bliss happy sunny sonny noble early english
    french welsh scott lee hill banks rivers sterling spring winter march
    """)
)
_MONTHS = frozenset(
    word_list(
        "january february march april may june july august september october november december"
    )
)


@dataclass(frozen=True)
class NameLists:
    """Known given names and surnames, lower case, accents kept."""

    first: frozenset[str]
    last: frozenset[str]
    english_first: frozenset[str]

    def is_first(self, word: str) -> bool:
        return _key(word) in self.first

    def is_last(self, word: str) -> bool:
        return _key(word) in self.last

    def is_ambiguous(self, word: str) -> bool:
        """True for names that are also everyday words (Will, May, Said)."""
        key = _key(word)
        if key in _ENGLISH_HOMOGRAPHS or key in _MONTHS:
            return True
        # a foreign name spelled like a frequent English word ("Said", "Line")
        return key not in self.english_first and zipf_frequency(key, "en") >= 4.0

    def is_month(self, word: str) -> bool:
        return _key(word) in _MONTHS


def _key(word: str) -> str:
    return unicodedata.normalize("NFC", word).lower()


@cache
def name_lists() -> NameLists:
    """The shipped name lists (loaded once: they are immutable data)."""
    first: set[str] = set()
    last: set[str] = set()
    english: set[str] = set()
    for locale in _LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:  # a Faker release without this locale
            continue
        for attr in ("first_names", "first_names_male", "first_names_female"):
            names = {_key(n) for n in getattr(provider, attr, ()) if n}
            first |= names
            if locale.startswith("en_"):
                english |= names
        # ja_JP lists romanized names apart ("Hiroshi", "Yamamoto")
        first |= {_key(n) for n in getattr(provider, "first_romanized_names", ()) if n}
        for attr in ("last_names", "last_romanized_names"):
            last |= {_key(n) for n in getattr(provider, attr, ()) if n}
    return NameLists(first=frozenset(first), last=frozenset(last), english_first=frozenset(english))
