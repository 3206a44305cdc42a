"""People's names: the organization's learners (the roster) and anyone else.

The roster is known, so its names are matched in any case ("ana ruiz",
"RUIZ"), whole or by part. A part that is an everyday word (Will, Mark, May,
Grace, Bill) is a name only with evidence: a capital mid-sentence after
something other than "the"/"in", or a verb of speech or action after it
("Will said"); "Will the team adopt ..." and "Mark the decision ..." stay.

People outside the roster are found from Faker's name lists plus shape: a
title ("Dr. Okonkwo"), a known given name before a surname ("Sarah Connor"),
or a known given name next to words that only people take ("asked Kevin",
"Sandra approved").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from wordfreq import zipf_frequency

from huddle_ai.suggest.privacy.names import NameLists, name_lists, word_list
from huddle_ai.suggest.privacy.recognizer import Span

__all__ = ["PersonRecognizer", "RosterRecognizer"]


_WORD = re.compile(r"[^\W\d_](?:[\w'’\-]*[^\W\d_])?")
# Words before a name that only a person takes.
_PERSON_BEFORE = frozenset(
    word_list("""
    asked ask told tell thanks thank thanked met meet with called named emailed email pinged
    ping cc to from by and invited interviewed shadowed paired helped mentor manager colleague
    customer client user sponsor coach facilitator peer contact cc: dear hi hello hey spoke
    talked talk habla hable parlez parle fale chiama ruf frag con avec mit com
    """)
)
# Words after a name that only a person does (no copulas: "May is busy").
_PERSON_AFTER = frozenset(
    word_list("""
    said says asked asks told tells wrote writes suggested suggests thinks thought helped
    reviewed agreed noted mentioned shared ran runs led leads built fixed joined missed wants
    wanted proposed presented drew timed closed owns owned approved flagged facilitated signed
    split complained called emailed replied answered explained reported recommended decided
    tested interviewed chairs chaired left sent signed-off volunteered
    """)
)
# Before these an ambiguous word is the ordinary word: "in May", "the Will".
_ORDINARY_BEFORE = frozenset(
    word_list(
        "the a an in on by of since until till early late mid this next last every each per "
        "during before after"
    )
)
_TITLES = (
    r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Sir|Dame|Madam|Madame|Monsieur|Mme|Mlle|Herr|Frau|"
    r"Sr|Sra|Srta|Señor|Señora|Dom|Dona|Signor|Signora|Sig|Sig\.ra"
)
_TITLED = re.compile(rf"(?<!\w)(?:{_TITLES})\.?\s+[A-ZÀ-ÖØ-Þ][\w'’\-]+(?:\s+[A-ZÀ-ÖØ-Þ][\w'’\-]+)?")
# Japanese and Chinese names are marked by an honorific.
_CJK_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}(?=さん|様|氏|君|ちゃん|先生|女士|小姐)")
_NOT_SURNAME = frozenset(
    word_list("""
    street road avenue lane drive inc ltd llc group team bank university college school
    hospital park center centre day week month airlines and or the of
    """)
)
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n\s*|[\"“(]\s*)$")


# Name words: letters, joined by hyphens ("Jean-Pierre"); an apostrophe ends
# one, so "Herrera's" is "Herrera" and "s".
_NAME_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def _key(word: str) -> str:
    # most words are ASCII, and folding is the slow part
    return word.lower() if word.isascii() else _fold(word).lower()


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _starts_sentence(text: str, start: int) -> bool:
    return bool(_SENTENCE_START.search(text[max(0, start - 4) : start]))


def _word_before(text: str, start: int) -> str:
    words = _WORD.findall(text[max(0, start - 30) : start])
    return words[-1].lower() if words else ""


def _word_after(text: str, end: int) -> str:
    rest = text[end : end + 30]
    # "Grace, ...", "Grace's notes", "Grace and I" point at a person
    if re.match(r"\s*[,:]|['’]s\b|\s+and\s+(?:I|me)\b", rest):
        return ","
    m = _WORD.match(rest.lstrip())
    return m.group(0).lower() if m and rest[:1].isspace() else ""


def _acts_as_person(text: str, start: int, end: int, comma: bool = True) -> bool:
    """The words around ``text[start:end]`` say it names a person; ``comma``
    lets "Grace, ..." count, which is only safe for a known roster name."""
    after = _word_after(text, end)
    return (
        _word_before(text, start) in _PERSON_BEFORE
        or after in _PERSON_AFTER
        or (comma and after == ",")
    )


@dataclass
class RosterRecognizer:
    """Finds the names of the org's learners, except the words of ``keep``."""

    names: Iterable[str] = ()
    keep: str | None = None
    min_name_length: int = 3
    lists: NameLists = field(default_factory=name_lists)
    # folded (lower case, accents off) word tuples of full names, and single parts
    _full: frozenset[tuple[str, ...]] = field(init=False, default=frozenset(), repr=False)
    _parts: frozenset[str] = field(init=False, default=frozenset(), repr=False)
    _longest: int = field(init=False, default=0, repr=False)

    def __post_init__(self) -> None:
        kept = {_key(w) for w in _NAME_TOKEN.findall(self.keep or "")}
        keep = tuple(_key(w) for w in _NAME_TOKEN.findall(self.keep or ""))
        full: set[tuple[str, ...]] = set()
        parts: set[str] = set()
        for name in self.names:
            words = tuple(_key(w) for w in _NAME_TOKEN.findall(name))
            if not words or words == keep:
                continue
            if len(words) > 1:
                full.add(words)
            parts |= {w for w in words if len(w) >= self.min_name_length and w not in kept}
        self._full = frozenset(full)
        self._parts = frozenset(parts)
        self._longest = max((len(n) for n in full), default=0)

    def analyze(self, text: str) -> list[Span]:
        # Word look-ups rather than one pattern of every name: a roster of
        # thousands costs no more per word than a roster of ten.
        spans: list[Span] = []
        if not self._parts and not self._full:
            return spans
        tokens = list(_NAME_TOKEN.finditer(text))
        keys = [_key(t.group(0)) for t in tokens]
        i = 0
        while i < len(tokens):
            n = self._full_name_at(text, tokens, keys, i)
            if n:
                spans.append(Span(tokens[i].start(), tokens[i + n - 1].end(), "learner", 1.0))
                i += n
                continue
            if keys[i] in self._parts:
                score = self._part_score(text, tokens[i].start(), tokens[i].end())
                if score:
                    spans.append(Span(tokens[i].start(), tokens[i].end(), "learner", score))
            i += 1
        return spans

    def _full_name_at(self, text: str, tokens: list[re.Match[str]], keys: list[str], i: int) -> int:
        """How many tokens from ``i`` spell a full roster name (0 if none)."""
        for n in range(min(self._longest, len(tokens) - i), 1, -1):
            gaps = (text[tokens[j].end() : tokens[j + 1].start()] for j in range(i, i + n - 1))
            if tuple(keys[i : i + n]) in self._full and all(g.isspace() for g in gaps):
                return n
        return 0

    def _part_score(self, text: str, start: int, end: int) -> float:
        word = text[start:end]
        ambiguous = self.lists.is_ambiguous(word)
        if word.islower():
            # lower case only for words that are no English word ("ruiz", not "lima")
            return 0.9 if not ambiguous and zipf_frequency(word, "en") < 3.5 else 0.0
        if word.isupper() and len(word) > 1:
            # "RUIZ", but not the shouted "WILL"
            return 0.9 if not ambiguous else 0.0
        if not word[0].isupper():
            return 0.0
        if not ambiguous:
            return 0.9
        if _acts_as_person(text, start, end) and not self._dated(text, end):
            return 0.8
        if _starts_sentence(text, start) or _word_before(text, start) in _ORDINARY_BEFORE:
            return 0.0
        return 0.0 if self.lists.is_month(word) else 0.7

    @staticmethod
    def _dated(text: str, end: int) -> bool:
        return bool(re.match(r"\s+\d", text[end : end + 3]))


@dataclass
class PersonRecognizer:
    """Finds names of people outside the roster; words of ``keep`` are never hit."""

    keep: str | None = None
    lists: NameLists = field(default_factory=name_lists)

    def analyze(self, text: str) -> list[Span]:
        kept = frozenset(_fold(w).lower() for w in _WORD.findall(self.keep or ""))
        spans = [Span(m.start(), m.end(), "person", 0.9) for m in _TITLED.finditer(text)]
        spans += [Span(m.start(), m.end(), "person", 0.8) for m in _CJK_NAME.finditer(text)]
        words = list(_WORD.finditer(text))
        i = 0
        while i < len(words):
            m = words[i]
            word = m.group(0)
            if not word[0].isupper() or word.isupper() or _fold(word).lower() in kept:
                i += 1
                continue
            end, n = self._surnames(text, words, i)
            if n:
                spans.append(Span(m.start(), end, "person", 0.85))
                i += n + 1
                continue
            if (
                self._given(word)
                and not self.lists.is_ambiguous(word)
                and _acts_as_person(text, m.start(), m.end(), comma=False)
            ):
                spans.append(Span(m.start(), m.end(), "person", 0.7))
            i += 1
        return spans

    def _given(self, word: str) -> bool:
        return all(self.lists.is_first(p) for p in word.split("-"))

    def _surnames(self, text: str, words: list[re.Match[str]], i: int) -> tuple[int, int]:
        """(end, how many) of the surnames following a given name at ``words[i]``."""
        first = words[i].group(0)
        if not self._given(first):
            return 0, 0
        n = 0
        end = words[i].end()
        while i + n + 1 < len(words) and n < 2:
            nxt = words[i + n + 1]
            gap = text[end : nxt.start()]
            word = nxt.group(0)
            if gap != " " or not word[0].isupper() or word.isupper():
                break
            if word.lower() in _NOT_SURNAME:
                break
            known = self.lists.is_last(word) or self._given(word)
            rare = zipf_frequency(word.lower(), "en") < 3.5
            # an ambiguous given name ("Will", "Frank") needs a known surname
            if not (known if self.lists.is_ambiguous(first) else known or rare):
                break
            n += 1
            end = nxt.end()
        return end, n
