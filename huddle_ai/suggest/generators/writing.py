"""Writing the grounded generator's feedback from a :class:`Judgement`.

The wording follows three rules, enforced here in code:

- **Provenance.** Every name, number, quoted span and rare word comes from the
  learner's solution, the huddle's title, prompt and goal, a criterion's own
  text or a knowledge check's answer key (:mod:`huddle_ai.suggest.provenance`).
  Exemplars, anchors, other solutions and past feedback are not sources: a
  sentence of past feedback is reused only when it passes that check.
- **Verbatim quotes.** A quote is an exact span of the learner's solution
  (case kept); a long one is cut at a word and marked with "…". One passage is
  evidence for at most one criterion.
- **Agreement.** The verdict, the suggestions and the next step follow the
  same level: a met draft gets a stretch, not a revision.

The *style* comes from the organization: among past feedback given at the same
level (this huddle's, else the organization's), the one that agrees most with
the feedback given to the most similar solutions (minimum Bayes risk) sets the
tone and length; its reusable sentences are kept and the draft adds the
learner's own words only as far as that length allows.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from huddle_ai.records import Huddle, Level
from huddle_ai.suggest.assessment import PointScore, content_words
from huddle_ai.suggest.context import FeedbackContext, LabelledSolution
from huddle_ai.suggest.generators.judgement import CriterionJudgement, Judgement
from huddle_ai.suggest.privacy import Redactor, without_instructions
from huddle_ai.suggest.provenance import (
    Sources,
    allowed_sources,
    common_word,
    huddle_sources,
    untraceable,
)
from huddle_ai.suggest.suggestion import CriterionAssessment, Suggestion, SuggestionBody
from huddle_ai.text import STOPWORDS, stem

__all__ = ["compose", "quote", "sentences"]

Embed = Callable[[Sequence[str]], NDArray[np.float32]]

COVERED = 0.6
_MBR_POOL = 40  # candidates (and references) of the minimum-Bayes-risk choice
PARTLY = 0.42
# a reused sentence whose meaning is this much closer (cosine) to the solution it was
# written for than to this one is about that solution ("What did those three weeks
# cost them?"): measured on the open-ended suite's feedback, sentences above 0.1 were
# nearly all about their own solution's situation, generic remarks lay below it
ABOUT_OTHER = 0.1
_SENTENCE = re.compile(r"(?<![Ee]\.g\.)(?<![Ii]\.e\.)(?<=[.!?])\s+(?=[A-Z'\"\u2018\u201c(\[])")
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|dear)\b[^,.!]{0,30}[,.!]\s*", re.IGNORECASE)
_TOKEN = re.compile(r"\w+")
# words that ask for a change: a remark with them is advice, not praise
_GAP_WORDS = frozenset(
    "add missing miss not no but however instead try could should would consider next "  # noqa: SIM905
    "more lacks need needs yet only without".split()
)
# a sentence opening with one of these leans on the sentence before it: reused alone it
# points at something this draft never said
_LEANS_BACK = frozenset(
    "then also and but so that these those it its otherwise instead besides plus".split()  # noqa: SIM905
)
# a remark that something is absent: "does not mention oxygen or ATP", "no baseline",
# "missing: an owner"; what it says is absent runs from the cue to the end of the clause
_ABSENT = re.compile(
    r"\b(?:(?:does|do|did)(?:n't| not) (?:mention|include|say|state|name|give|show|have|"
    r"use|explain|describe|list|cover)|no mention of|not mentioned|missing|lacks?|lacking|"
    r"without|there is no|there's no|forgot(?:ten)?(?: to (?:mention|include|say|add))?)\b",
    re.I,
)
_CLAUSE_END = re.compile(r"[;:,.!?(]|\s[-\u2013\u2014]\s|\u2014| but | and then ", re.I)
_SPECIFIC = re.compile(r"\b[A-Z][\w-]*|\b\w*\d[\w.,]*")


def _says_absent_what_is_there(sentence: str, mine: set[str], key: frozenset[str]) -> bool:
    """Whether ``sentence`` says something is absent that this solution has.

    What follows an absence cue ("does not mention oxygen or ATP") up to the end of its
    clause is what it says is absent; the remark is wrong here when this solution has
    one of its specifics (``key``: the huddle's criterion and answer-key terms; or a
    name, acronym or number), or half or more of its words. Reused about
    another work, it would tell this learner they left out what they wrote."""
    for m in _ABSENT.finditer(sentence):
        rest = sentence[m.end() :].lstrip(" :-\u2013\u2014")  # "Missing: an owner"
        end = _CLAUSE_END.search(rest)
        clause = rest[: end.start()] if end else rest
        named = content_words(clause)
        there = named & mine
        # its specifics: the huddle's asked-for terms, names, acronyms and numbers ("ATP")
        specific = key | content_words(" ".join(_SPECIFIC.findall(clause)))
        if there & specific or (named and len(there) * 2 >= len(named)):
            return True
    return False


# distal demonstratives ("this brief" is usually the learner's own work; "that window" is
# something named before)
_DEMONSTRATIVES = frozenset(("that", "those"))
_THERE_IS = frozenset("is are was were will would might may should could isn s".split())  # noqa: SIM905


def _points_back(tokens: Sequence[str], known: set[str]) -> bool:
    """Whether a sentence points at something an earlier sentence named: a demonstrative
    before a word neither this solution nor the huddle uses ("in that window"), or a
    "there" that is a place, not "there is" ("what other alerts go there")."""
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in _DEMONSTRATIVES and nxt and nxt not in STOPWORDS and stem(nxt) not in known:
            return True
        if tok == "there" and i > 0 and nxt not in _THERE_IS and tokens[i - 1] not in _THERE_IS:
            return True  # not "there is", "is there"
    return False


# third persons: a reused remark about "her" needs a her in this learner's own work
_PERSONS = (
    frozenset(("she", "her", "hers", "herself")),
    frozenset(("he", "him", "his", "himself")),
)
_VERDICTS = {
    "check": {
        Level.MET: "Correct.",
        Level.PARTIAL: "Partially correct.",
        Level.NOT_MET: "Incorrect.",
    },
    "challenge": {
        Level.MET: "This does what the challenge asks.",
        Level.PARTIAL: "Partly there.",
        Level.NOT_MET: "Not there yet.",
    },
}
# openings that read as a verdict of one level (checked in this order)
_VERDICT_WORDS: dict[Level, tuple[str, ...]] = {
    Level.PARTIAL: ("partially", "partly", "partial", "almost", "nearly", "mostly"),
    Level.NOT_MET: ("incorrect", "not correct", "not quite", "not yet", "wrong", "no "),
    Level.MET: ("correct", "right", "excellent", "great", "well done", "perfect", "yes"),
}
# the generator's own fixed wording: permitted words by construction
_TEMPLATE = (
    "Correct Partially correct Incorrect This does what the challenge asks Partly there Not "
    "there yet What works Still to do Add For your answer covers closest passage no passage yet "
    "shows This week revise so that it then compare with the criterion share with a peer and ask "
    "them where it would not hold How could you show in your own work Next time also A good "
    "avoid avoids be is your work make sure How could You wrote "
    "start Stretch One stretch make sure shows"
)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(_GREETING.sub("", text.strip())) if s.strip()]


def quote(passage: str, words: int = 18) -> str:
    """A verbatim quote of ``passage``: whole, or its first words and "…"."""
    parts = passage.strip().split()
    if len(parts) <= words:
        body = passage.strip().rstrip(".,;:")
    else:
        body = " ".join(parts[:words]).rstrip(".,;:") + " \u2026"
    return f"\u201c{body}\u201d"


def _lower_first(text: str) -> str:
    text = text.strip().rstrip(".")
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _grams(text: str) -> Counter[str]:
    toks = _TOKEN.findall(text.lower())
    return Counter(toks + [f"{a} {b}" for a, b in itertools.pairwise(toks)])


def _overlap(a: Counter[str], b: Counter[str]) -> float:
    common = sum((a & b).values())
    if not common:
        return 0.0
    p, r = common / sum(a.values()), common / sum(b.values())
    return 2 * p * r / (p + r)


class _Style:
    """Past feedback at the predicted level, and how long such feedback runs."""

    def __init__(
        self, context: FeedbackContext, level: Level, solution_vec: NDArray[np.float32] | None
    ) -> None:
        own = [h for h in context.history if h.feedback]
        pool = own or [h for o in context.org_history for h in o.history if h.feedback]
        # feedback from the organization's other huddles talks about their challenges: per
        # solution, the words of its own huddle's text (what such a remark may be about)
        self.home: dict[str, set[str]] = {}
        if not own:
            for o in context.org_history:
                words = content_words("\n".join(huddle_sources(o.huddle)))
                for h in o.history:
                    self.home[h.id] = words
        same = [h for h in pool if h.assessment == level]
        self.same_huddle = bool(own)
        self.pool = same
        lengths = [len((h.feedback or "").split()) for h in same] or [
            len((h.feedback or "").split()) for h in pool
        ]
        self.words = int(np.median(lengths)) if lengths else 0
        self._vec = solution_vec
        self.opening, self.opening_share = _opening(same, level)

    def weights(self) -> list[float]:
        vec = self._vec
        sims = []
        for h in self.pool:
            if h.vector is not None and vec is not None and self.same_huddle:
                sims.append(float(np.dot(np.asarray(h.vector), np.asarray(vec))))
            else:
                sims.append(0.0)
        if not sims:
            return []
        top = max(sims)
        return [math.exp((s - top) / 0.1) + 0.05 for s in sims]


# a feedback's opening verdict: its first clause, when that is a few words ("Partially
# correct:", "Not met.", "Nice work!")
_OPENING = re.compile(r"^\s*([^.:;!?\n]{1,40}?)\s*[.:;!]")


def _opening(same: list[LabelledSolution], level: Level) -> tuple[str | None, float]:
    """The verdict the facilitators most often open with at ``level``, and the share of
    their feedback at that level that opens with it.

    Only an opening of at most three words, used on at least two solutions, and not
    reading as another level's verdict, counts: the draft then says it the
    organization's way instead of a fixed phrase.
    """
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for h in same:
        m = _OPENING.match(_GREETING.sub("", (h.feedback or "").strip()))
        if m is None or len(m.group(1).split()) > 3:
            continue
        key = " ".join(_TOKEN.findall(m.group(1).lower()))
        if key:
            counts[key] += 1
            shown.setdefault(key, m.group(1).strip())
    if not counts:
        return None, 0.0
    key, n = counts.most_common(1)[0]
    if n < 2 or _verdict_clash(key, level):
        return None, 0.0
    said = shown[key]
    return said[0].upper() + said[1:] + ".", n / len(same)


@dataclass(frozen=True)
class _Reuse:
    """What a sentence of past feedback must satisfy to be said again about this solution."""

    sources: Sources  # permitted sources of specifics (provenance)
    known: set[str]  # content words of this solution and of the huddle's own text
    rubric: set[str]  # content words of the huddle's own text
    mine: set[str]  # content words of this solution
    redactor: Redactor
    praise: bool  # whether remarks about rubric ideas read as praise (not on not-met work)
    embed: Embed | None = None  # sentence vectors, for the "about the other work" check
    vector: NDArray[np.float32] | None = None  # this solution's vector
    tokens: frozenset[str] = frozenset()  # this solution's lower-cased words (its people)
    # what the huddle asks for beyond its question: its criteria's and answer key's terms
    # that the title, prompt and goal do not use (words of the question are in any work)
    terms: frozenset[str] = frozenset()

    def sentences(
        self, text: str, parent: LabelledSolution, home: set[str] | None = None
    ) -> list[str]:
        """Sentences of ``text`` (written about ``parent``) that hold for this solution.

        ``home``: the words of ``parent``'s huddle's own text, when that is another
        huddle; a sentence using them (and not this huddle's or solution's words) is
        about that other challenge ("four contributing factors, all at the system
        level" on a postmortem, said to an interview plan) and is left out.

        A sentence is kept only if its specifics pass the provenance rule, it names
        nobody, and it is not about the other solution: none of its content words
        come from the solution it was written for unless this solution or the
        huddle's own text uses them too, and its meaning is not clearly closer to
        that solution than to this one (``ABOUT_OTHER`` in cosine similarity). A
        remark that names rubric ideas without asking for anything (praise) is kept
        only if this solution uses most of them. A sentence that leans on the one
        before it ("Then ask …", "That shift …") is kept only after that one, and a
        remark about "her" or "him" only where this solution mentions such a person.
        """
        other = (content_words(parent.text) | (home or set())) - self.known
        said = sentences(without_instructions(text))
        candidates: list[tuple[int, str, set[str]]] = []
        for n, sent in enumerate(said):
            words = content_words(sent)
            if untraceable(sent, self.sources) or words & other:
                continue
            candidates.append((n, sent, words))
        closer = self._closer_to(parent, [sent for _, sent, _ in candidates])
        kept: list[str] = []
        kept_at: set[int] = set()
        for (n, sent, words), about_other in zip(candidates, closer, strict=True):
            if about_other:
                continue  # advice about the other work's own situation
            tokens = _TOKEN.findall(sent.lower())
            # ("It …" opening a remark is about the work itself)
            first = tokens[0] if tokens else ""
            leans = first in _LEANS_BACK and not (n == 0 and first in ("it", "its"))
            # "Ask her what made it work, too.": it adds to something said before it
            leans = leans or tokens[-1:] == ["too"] or tokens[-2:] == ["as", "well"]
            # "in that window", "what goes there": it points at something named before it
            leans = leans or _points_back(tokens, self.known)
            if leans and n - 1 not in kept_at:
                continue  # "Then ask …", "That shift …": it leans on a sentence not said here
            if any(set(tokens) & fam and not self.tokens & fam for fam in _PERSONS):
                continue  # "ask her …": a person this learner's work never mentions
            terms = words & self.rubric
            asks = bool(set(tokens) & _GAP_WORDS) or sent.endswith("?")
            if self.praise and terms and not asks and len(terms & self.mine) < 0.5 * len(terms):
                continue  # praise of what this solution does not show
            if _says_absent_what_is_there(sent, self.mine, self.terms):
                continue  # "does not mention ATP" to work that mentions ATP
            if self.redactor.redact(sent)[1]:
                continue  # it names a person or contact detail: never carried over
            kept.append(sent)
            kept_at.add(n)
        return kept

    def _closer_to(self, parent: LabelledSolution, texts: list[str]) -> list[bool]:
        """Per text, whether it is clearly more about ``parent`` than about this solution."""
        if self.embed is None or self.vector is None or not texts:
            return [False] * len(texts)
        if parent.vector is not None and len(parent.vector) == len(self.vector):
            pvec = np.asarray(parent.vector, np.float32)
        else:
            pvec = self.embed([parent.text])[0]
        vecs = self.embed(texts)
        return [bool(d > ABOUT_OTHER) for d in vecs @ pvec - vecs @ self.vector]


def _choose_style(style: _Style, reuse: _Reuse) -> list[str]:
    """The reusable sentences of the past feedback that best represents what this level
    gets (minimum Bayes risk over the feedback of the most similar solutions)."""
    if not style.pool:
        return []
    # the feedback of the most similar solutions carries nearly all the weight
    w_all = style.weights()
    order = sorted(range(len(style.pool)), key=lambda i: -w_all[i])[:_MBR_POOL]
    pool = [style.pool[i] for i in order]
    w = [w_all[i] for i in order]
    grams = [_grams(h.feedback or "") for h in pool]
    utilities = [
        sum(
            wj * _overlap(grams[i], gj)
            for j, (wj, gj) in enumerate(zip(w, grams, strict=True))
            if j != i
        )
        / max(sum(wj for j, wj in enumerate(w) if j != i), 1e-9)
        for i in range(len(pool))
    ]
    best_score, best = 0.0, []
    for i in sorted(range(len(pool)), key=lambda i: -utilities[i]):
        if utilities[i] <= best_score:
            break  # at most all of it is kept: no later candidate can win
        kept = reuse.sentences(pool[i].feedback or "", pool[i], style.home.get(pool[i].id))
        total = len((pool[i].feedback or "").split()) or 1
        score = utilities[i] * sum(len(s.split()) for s in kept) / total
        if kept and score > best_score:
            best_score, best = score, kept
    return best


# a quoted span of past feedback: 'like this', “like this” or "like this"
_QUOTED = re.compile(
    r"(?<!\w)['\u2018\u201c\"]([^'\u2019\u201d\"\n]{3,160})['\u2019\u201d\"](?!\w)"
)
_SLOT = "{q}"


@dataclass(frozen=True)
class _Frame:
    """How the organization's facilitators praise a passage they quote from the work:
    a sentence of past feedback with its verbatim quote taken out ("{q} is observable.")."""

    text: str
    words: int  # length of the quote it held
    rubric: frozenset[str]  # the rubric ideas it names


def _frames(
    context: FeedbackContext, reuse: _Reuse, vector: NDArray[np.float32] | None
) -> Iterator[_Frame]:
    """Praise frames of this huddle's past feedback, best first.

    A frame comes from a sentence that quotes its own solution verbatim and asks for
    nothing; what is left once the quote is taken out must pass every check a reused
    sentence passes (provenance, no word of the other work, nobody named, not about
    the other work). Frames of the most similar solutions come first. An organization
    whose facilitators never quote the work has none, and the draft keeps its own
    wording.
    """
    # this huddle's own history only: a frame from another huddle's feedback praises
    # that huddle's ideas (on new huddles it cost a little closeness, demo and open_ended)
    pool = [h for h in context.history if h.feedback]

    def closeness(h: LabelledSolution) -> float:
        if h.vector is None or vector is None or len(h.vector) != len(vector):
            return 0.0
        return float(np.dot(np.asarray(h.vector, np.float32), vector))

    seen: set[str] = set()
    # (its praise is of the quoted passage, which is evidence for the criterion the
    # frame is said about: so the praise rule does not apply)
    checks = replace(reuse, praise=False)
    for h in sorted(pool, key=closeness, reverse=True)[:_MBR_POOL]:
        work = h.text.lower()
        for sent in sentences(without_instructions(h.feedback or "")):
            quoted = [m for m in _QUOTED.finditer(sent) if m.group(1).lower() in work]
            if len(quoted) != 1 or len(_QUOTED.findall(sent)) != 1:
                continue  # one quote of the work, nothing else quoted
            m = quoted[0]
            frame = (sent[: m.start()] + _SLOT + sent[m.end() :]).strip()
            tokens = set(_TOKEN.findall(frame.lower()))
            if tokens & _GAP_WORDS or frame.endswith("?") or len(tokens) < 3:
                continue  # advice or a question, not praise of what is there
            key = frame.lower()
            if key in seen:
                continue
            probe = frame.replace(_SLOT, "").replace("  ", " ").strip()
            if any(
                stem(w) not in reuse.known and w not in reuse.sources.generic
                for w in _TOKEN.findall(probe.lower())
                if len(w) >= 4 and w.isalpha() and w not in STOPWORDS and not common_word(w)
            ):
                continue  # a word of another context ("the flour supplier"), not a style
            if checks.sentences(probe, h) != [probe]:
                continue  # what it says besides the quote does not hold for this work
            seen.add(key)
            rubric = frozenset(content_words(probe) & reuse.rubric)
            yield _Frame(frame, len(m.group(1).split()), rubric)


class _Frames:
    """The frames of :func:`_frames`, checked only as far as a draft asks for them (each
    check may embed a sentence); each frame is said at most once."""

    def __init__(self, found: Iterator[_Frame]) -> None:
        self._found = found
        self._unused: list[_Frame] = []  # checked, not yet said (for another criterion)

    def say(self, criterion_words: set[str], evidence: str) -> str | None:
        """``evidence`` in the first unused frame that fits the criterion, best first."""
        for i, f in enumerate(self._unused):
            said = _framed(f, criterion_words, evidence)
            if said is not None:
                del self._unused[i]
                return said
        for f in self._found:
            said = _framed(f, criterion_words, evidence)
            if said is not None:
                return said
            self._unused.append(f)
        return None


def _framed(frame: _Frame, criterion_words: set[str], evidence: str) -> str | None:
    """``evidence`` said the organization's way, if ``frame`` is about this criterion."""
    if frame.rubric - criterion_words:
        return None  # it names rubric ideas of another criterion
    said = frame.text.replace(_SLOT, quote(evidence, max(4, min(frame.words + 2, 16))), 1)
    said = said[0].upper() + said[1:]
    return said if said[-1] in ".!" else said + "."


def _passages(judgement: Judgement, redactor: Redactor) -> dict[str, PointScore]:
    """The best covered passage per criterion, no passage used for two criteria."""
    used: set[str] = set()
    out: dict[str, PointScore] = {}
    ranked = sorted(
        ((cj, p) for cj in judgement.criteria for p in cj.points if p.evidence),
        key=lambda x: -x[1].score,
    )
    fits: dict[str, float] = {}
    for _, p in ranked:
        fits[p.evidence or ""] = max(fits.get(p.evidence or "", 0.0), p.score)
    for cj, p in ranked:
        cid = cj.criterion.id
        ev = p.evidence or ""
        if p.score < fits[ev] - 0.05:
            continue  # the passage is evidence for another criterion
        overlaps = any(ev in u or u in ev for u in used)
        if cid in out or overlaps or redactor.redact(ev)[1] or len(ev.split()) < 5:
            continue
        if p.score >= PARTLY or cj.level == Level.MET:
            out[cid] = p
            used.add(ev)
    return out


def _what_it_says(judgement: Judgement, redactor: Redactor) -> str | None:
    """ "You wrote “…”.": the passage of the work closest to any checklist point."""
    best = max(
        (
            p
            for cj in judgement.criteria
            for p in cj.points
            if p.evidence and len(p.evidence.split()) >= 5 and not redactor.redact(p.evidence)[1]
        ),
        key=lambda p: p.score,
        default=None,
    )
    return None if best is None else f"You wrote {quote(best.evidence or '', 14)}."


def _gaps(judgement: Judgement) -> list[tuple[CriterionJudgement, PointScore]]:
    """Checklist points not (fully) covered, worst criteria and weakest points first."""
    out = []
    for cj in judgement.criteria:
        if cj.level == Level.MET:
            continue  # a criterion judged met is never "still missing" something
        keep = {Level.PARTIAL: 1, Level.NOT_MET: 2}[cj.level] + int(cj.required)
        weak = sorted((p for p in cj.points if p.score < COVERED), key=lambda p: p.score)
        if not weak and cj.points:
            weak = [min(cj.points, key=lambda p: p.score)]
        out += [(cj, p) for p in weak[:keep]]
    return sorted(out, key=lambda x: (x[0].level.score, x[1].score, x[1].point))


# what a checklist point is, grammatically, so the draft can ask for it in a sentence
# that reads: "make sure your work names ...", "make sure the deadline is ...", "make
# sure your work is specific", "avoid blame", "add one owner"
_FINITE = frozenset("is are was were has have can will does do add".split())  # noqa: SIM905
_SUBORDINATE = frozenset("how that which who when where what why if whether".split())  # noqa: SIM905
_PREPOSITIONS = frozenset("to from with by in on for at into against".split())  # noqa: SIM905
_DETERMINERS = frozenset(
    "a an the one two three four five several each every some any at least".split()  # noqa: SIM905
)
_CONNECTIVES = ("plus ", "and ", "including ", "also ", "with ")
_ADJECTIVES = frozenset(
    "short plain clear concise brief simple direct concrete realistic honest polite kind "  # noqa: SIM905
    "warm friendly accurate complete correct calm neutral visible".split()
)
_STATE_ENDINGS = ("ic", "ible", "able", "ous", "ive", "ate", "ful", "less", "ent", "ant")


def _point_kind(point: str) -> tuple[str, str]:
    """``(kind, phrase)``: the point without a leading connective, and whether it opens
    with a verb ("verb"), is a whole clause ("clause"), describes a state of the work
    ("state": "specific", "tied to a decision"), names what to leave out ("avoid",
    phrase without its "no"/"not"), or is a thing to have ("noun")."""
    phrase = _lower_first(point)
    for head in _CONNECTIVES:
        if phrase.lower().startswith(head) and len(phrase) > len(head) + 2:
            phrase = phrase[len(head) :]
    words = _TOKEN.findall(phrase.lower())
    if not words:
        return "noun", phrase
    raw = phrase.split()[0].lower()  # "re-measured", "story-based": one word here
    first = words[0]
    # a clause has its own verb before any subordinate part ("how it is caught")
    main = list(itertools.takewhile(lambda w: w not in _SUBORDINATE, words[1:]))
    if first in ("no", "not", "without") and len(words) > 1:
        return "avoid", phrase.split(None, 1)[1]
    if first in _DETERMINERS:
        return ("clause" if _FINITE & set(main) else "noun"), phrase
    third_person = first.endswith("s") and not first.endswith(("ss", "us", "is"))
    if len(words) > 1 and third_person and words[1] not in _FINITE:
        return "verb", phrase  # "Names causes in the way the work was set up"
    if _FINITE & set(main):
        return "clause", phrase  # "timings add up to 20"
    if set(words) <= _ADJECTIVES | {"and", "or"}:
        return "state", phrase
    participle = raw.endswith("ed") and not raw.endswith("eed") and len(raw) >= 4
    ws = phrase.lower().split()
    if participle and (len(ws) == 1 or ws[1] in _PREPOSITIONS):
        return "state", phrase  # "tied to a decision", "re-measured"
    if len(ws) == 1 and len(raw) >= 6 and raw.endswith(_STATE_ENDINGS):
        return "state", phrase  # "specific", "reproducible"
    return "noun", phrase


_IRREGULAR = {"has": "have", "does": "do", "goes": "go"}


def _verb_base(phrase: str) -> str:
    """ "names causes" -> "name causes"; "quantifies" -> "quantify"; "fixes" -> "fix"."""
    first, _, rest = phrase.partition(" ")
    if first.lower() in _IRREGULAR:
        base = _IRREGULAR[first.lower()]
    elif first.endswith("ies"):
        base = first[:-3] + "y"
    elif first.endswith(("sses", "xes", "zes", "ches", "shes")):
        base = first[:-2]
    else:
        base = first[:-1]
    return f"{base} {rest}".strip()


# per kind of point: how to ask for it, what a revised passage then does ("so that
# ..."), and a question pointing at it; {p} is the phrase, {b} its verb's base form
_PHRASINGS: dict[str, tuple[str, str, str]] = {
    "verb": ("make sure your work {p}", "it {p}", "How could your work {b}?"),
    "clause": ("make sure {p}", "{p}", "How could you make sure {p}?"),
    "state": ("make sure your work is {p}", "it is {p}", "How could your work be {p}?"),
    "avoid": ("avoid {p}", "it avoids {p}", "How could you avoid {p}?"),
    "noun": ("add {p}", "it covers {p}", "How could you show {p} in your own work?"),
}


def _phrased(point: str, which: int) -> str:
    kind, phrase = _point_kind(point)
    template = _PHRASINGS[kind][which]
    base = _verb_base(phrase) if "{b}" in template else ""
    return template.replace("{p}", phrase).replace("{b}", base)


def _make_sure(point: str) -> str:
    """An instruction to meet ``point``, whatever its grammar."""
    return _phrased(point, 0)


def _covers(point: str) -> str:
    """What a revised passage does ("so that it ..."), whatever the point's grammar."""
    return _phrased(point, 1)


def _question(point: str) -> str:
    """A question that points at the next move on ``point``."""
    return _phrased(point, 2)


def _verdict_of(text: str) -> Level | None:
    """The level a reused opening reads as ("Correct ..." is met), if any."""
    head = " ".join(_TOKEN.findall(text.lower())[:2])
    return next((lv for lv, words in _VERDICT_WORDS.items() if head.startswith(words)), None)


def _verdict_clash(text: str, level: Level) -> bool:
    """Whether a reused opening reads as another level's verdict ("Correct ..." on partial)."""
    said = _verdict_of(text)
    return said is not None and said != level


def _opens_with(text: str, verdict: str) -> bool:
    head, said = _TOKEN.findall(text.lower()), _TOKEN.findall(verdict.lower())
    return head[: len(said)] == said


def _ask(cj: CriterionJudgement, points: list[str]) -> str:
    """What to add, in the criterion's (or the answer key's) own words."""
    if cj.required:
        return (
            f"Still missing for {cj.criterion.name}: {'; '.join(_lower_first(p) for p in points)}."
        )
    return f"{cj.criterion.name}: {_make_sure(points[0])}."


def _stretch(cj: CriterionJudgement, point: str) -> str:
    """One thing to push further on met work, in the criterion's own words."""
    kind, phrase = _point_kind(point)
    push = f"make sure your work shows {phrase}" if kind == "noun" else _make_sure(point)
    return f"One stretch for {cj.criterion.name}: {push}."


def _by_criterion(
    gaps: list[tuple[CriterionJudgement, PointScore]],
) -> list[tuple[CriterionJudgement, list[str]]]:
    out: dict[str, tuple[CriterionJudgement, list[str]]] = {}
    for cj, p in gaps:
        out.setdefault(cj.criterion.id, (cj, []))[1].append(p.point)
    return list(out.values())


def compose(
    context: FeedbackContext, judgement: Judgement, embed: Embed | None = None
) -> SuggestionBody:
    """The draft's words for ``judgement``; ``embed`` (sentence vectors) lets reused
    feedback be checked for being about another solution (skipped without it)."""
    huddle = context.huddle
    solution = without_instructions(context.solution_text)
    redactor = Redactor(names=context.other_names, keep=context.learner_name)
    generic = _generic_words(context)
    sources = allowed_sources(huddle, solution, generic).add(_TEMPLATE)
    level = judgement.assessment
    style = _Style(context, level, judgement.vector)
    rubric_words = content_words("\n".join(huddle_sources(huddle)))
    mine = content_words(solution)
    reuse = _Reuse(
        sources=sources,
        known=mine | rubric_words,
        rubric=rubric_words,
        terms=frozenset(_asked_terms(huddle)),
        mine=mine,
        redactor=redactor,
        # on work that is not there yet, remarks about rubric ideas are corrections
        praise=level != Level.NOT_MET,
        embed=embed,
        vector=judgement.vector,
        tokens=frozenset(_TOKEN.findall(solution.lower())),
    )
    reused = _choose_style(style, reuse)
    verdict = _VERDICTS["check" if huddle.knowledge_check else "challenge"][level]
    if (
        style.opening is not None
        and not untraceable(style.opening, sources)
        and not redactor.redact(style.opening)[1]
    ):
        verdict = style.opening  # the organization's own verdict at this level
    passages = _passages(judgement, redactor)
    gaps = _gaps(judgement)

    # -- text: the organization's own way of saying it, then the learner's words
    lines: list[str] = list(reused) if reused else [verdict]
    if reused and (
        _verdict_clash(reused[0], level)
        # facilitators who nearly always open with the verdict: so does the draft
        or (
            style.opening_share >= 0.6
            and _verdict_of(reused[0]) is None
            and not _opens_with(reused[0], verdict)
        )
    ):
        lines.insert(0, verdict)  # the level's own verdict first, never a contrary one
    # the organization's usual length at this level, whether or not a remark was reusable
    known_style = style.words > 0
    budget = max(style.words, len(" ".join(lines).split())) if known_style else 45
    terse = known_style and style.words <= 6
    own: list[str] = []
    frames = _Frames(_frames(context, reuse, judgement.vector) if known_style else iter(()))
    for cj in sorted(judgement.criteria, key=lambda c: -c.level.score):
        p = passages.get(cj.criterion.id)
        # praise ("works well") only of a passage that covers its point, or on met work
        if p is not None and (
            cj.level == Level.MET or (cj.level != Level.NOT_MET and p.score >= COVERED)
        ):
            said = frames.say(content_words(cj.criterion.own_text()), p.evidence or "")
            plain = f"For {cj.criterion.name}, {quote(p.evidence or '', 16)} works well."
            own.append(said or plain)
    # work that is not there yet and shows no passage worth praise: say what it does say
    # (in its own words) before what it still needs, as a teacher's "You mention ..., but"
    said_first = None if own or level == Level.MET else _what_it_says(judgement, redactor)
    if level != Level.MET:
        own += [_ask(cj, points) for cj, points in _by_criterion(gaps)]
        if level == Level.NOT_MET:
            own = own[::-1]  # what is missing matters more than what works
        if said_first is not None:
            own.insert(0, said_first)
    stretch: Suggestion | None = None
    weakest = min(
        ((cj, p) for cj in judgement.criteria for p in cj.points),
        key=lambda x: x[1].score,
        default=None,
    )
    if weakest is not None:
        cj, p = weakest
        said = _stretch(cj, p.point)
        stretch = Suggestion(text=said, criterion_id=cj.criterion.id)
        if level == Level.MET and p.score < PARTLY:
            own.append(said)  # said to the learner only where the work does not show it yet
    if not terse:
        for i, sent in enumerate(own):
            # the learner's own words come first, as far as the organization's length allows
            if (i == 0 and not known_style) or len(" ".join(lines).split()) + len(
                sent.split()
            ) <= budget:
                lines.append(sent)

    # -- strengths: verbatim evidence of covered criteria
    strengths = []
    for cj in judgement.criteria:
        p = passages.get(cj.criterion.id)
        if p is not None and cj.level != Level.NOT_MET:
            strengths.append(f"{cj.criterion.name}: {quote(p.evidence or '')}.")

    # -- suggestions: one per criterion with gaps, in the criterion's own words
    suggestions = [
        Suggestion(text=_ask(cj, points), criterion_id=cj.criterion.id)
        for cj, points in _by_criterion(gaps)[:3]
    ]
    if not suggestions and stretch is not None:
        suggestions = [stretch]  # work without gaps still gets one thing to try

    # -- questions: reusable questions of past feedback, else one per gap
    questions = [s for s in reused if s.endswith("?")][:2]
    for _, p in gaps:
        if len(questions) >= 2:
            break
        questions.append(_question(p.point))

    # -- next step: in the learner's own context, agreeing with the level
    if gaps and level != Level.MET:
        cj, p = gaps[0]
        where = passages.get(cj.criterion.id) or next(iter(passages.values()), None)
        target = f"revise {quote(where.evidence or '', 10)}" if where else "revise your answer"
        next_step = f"This week, {target} so that {_covers(p.point)}."
    elif passages:
        p = next(iter(passages.values()))
        next_step = (
            f"This week, share {quote(p.evidence or '', 10)} with a peer and ask them "
            "where it would not hold."
        )
    else:
        next_step = "This week, share your answer with a peer and ask them where it would not hold."

    rubric = []
    for cj in judgement.criteria:
        p = passages.get(cj.criterion.id)
        if p is not None and cj.level != Level.NOT_MET:
            evidence = f"{quote(p.evidence or '')} covers {_lower_first(p.point)}"
        else:
            low = min(cj.points, key=lambda q: q.score, default=None)
            if cj.level != Level.NOT_MET:
                evidence = f"judged {cj.level.value.replace('_', ' ')} from the whole answer"
            elif low is not None:
                evidence = f"no passage yet shows {_lower_first(low.point)}"
            else:
                evidence = "no checklist to compare"
        rubric.append(
            CriterionAssessment(criterion_id=cj.criterion.id, level=cj.level, evidence=evidence)
        )

    def clean(items: list[str]) -> list[str]:
        # the provenance rule, checked once more on everything written
        return [redactor.redact(s)[0] for s in items if s and not untraceable(s, sources)]

    text = " ".join(clean(lines)) or verdict
    present = context.item_ids()
    cited = ["goal"] + [f"criterion:{cj.criterion.id}" for cj in judgement.criteria]
    citations = [c for i, c in enumerate(cited) if c in present and c not in cited[:i]]
    return SuggestionBody(
        text=text,
        strengths=clean(strengths),
        suggestions=[
            Suggestion(text=redactor.redact(s.text)[0], criterion_id=s.criterion_id)
            for s in suggestions
            if not untraceable(s.text, sources)
        ],
        questions=clean(questions),
        next_step=(clean([next_step]) or ["This week, share your answer with a peer."])[0],
        rubric=rubric,
        assessment=level,
        citations=citations,
    )


def _asked_terms(huddle: Huddle) -> set[str]:
    """Content words of the huddle's criteria and answer key that its question lacks."""
    asked = [c.own_text() for c in huddle.rubric]
    if huddle.answer_key is not None:
        asked += [huddle.answer_key.reference or "", *huddle.answer_key.key_points]
    question = content_words(f"{huddle.title}\n{huddle.prompt}\n{huddle.goal}")
    return content_words("\n".join(asked)) - question


def _generic_words(context: FeedbackContext) -> set[str]:
    """Words the organization's feedback uses across three or more huddles: style, not content."""
    per_huddle: dict[str, set[str]] = {}
    groups = [(context.huddle.id, context.history)] + [
        (o.huddle.id, o.history) for o in context.org_history
    ]
    for hid, hist in groups:
        words: set[str] = set()
        for h in hist:
            words |= {w for w in _TOKEN.findall((h.feedback or "").lower()) if len(w) > 3}
        per_huddle[hid] = words
    counts: Counter[str] = Counter(w for ws in per_huddle.values() for w in ws)
    return {w for w, n in counts.items() if n >= 3}
