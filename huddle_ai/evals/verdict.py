"""``verdict_agreement``: the overall assessment, the text's verdict and the next step agree.

A draft that assesses ``met`` but opens with "Not there yet", or asks to
"revise your answer so that it states…", tells the learner two things. The
rule is mechanical (no labels) and deliberately general:

* **The text's verdict** is read from its first sentence (after a greeting such
  as "Hi Sam," or "Thanks for this."): the leftmost verdict phrase of
  :data:`VERDICT_PHRASES` names the levels it is compatible with ("Correct." ->
  met; "Partially correct" -> partial; "Not there yet" -> partial or not met;
  "Incorrect" -> not met). No verdict phrase: no claim, nothing to disagree with.
* **The next step** is a *revision* (revise, rewrite, redo, fix, fill in, "so
  that it states…") or a *stretch* (stretch, optional, go further, extension,
  apply this to…); an explicit stretch marker wins over revision verbs. A
  revision disagrees with ``met``; a stretch disagrees with ``not_met``.
* **The rubric**: every criterion ``not_met`` under an overall ``met`` (or every
  criterion ``met`` under ``not_met``) disagrees.
"""

from __future__ import annotations

import re

from huddle_ai.evals.sample import Sample
from huddle_ai.evals.score import Score
from huddle_ai.index.embeddings import Embedder
from huddle_ai.records import Level

__all__ = ["VERDICT_PHRASES", "next_step_kind", "text_verdict", "verdict_agreement"]

_MET = frozenset({Level.MET})
_PART = frozenset({Level.PARTIAL})
_NOT = frozenset({Level.NOT_MET})
_LOW = frozenset({Level.PARTIAL, Level.NOT_MET})
_HIGH = frozenset({Level.MET, Level.PARTIAL})

# (pattern, compatible levels); at one position the longest match wins
VERDICT_PHRASES: list[tuple[str, frozenset[Level]]] = [
    (r"\bincorrect\b", _NOT),
    (r"\bnot correct\b", _NOT),
    (r"\bnot (?:quite|yet|fully|entirely) (?:correct|right|there)\b", _LOW),
    (r"(?:^|\b(?:is|are|was|'s|that's)\s+)wrong\b", _NOT),
    (r"\bdo(?:es)?(?:n't| not) (?:yet )?meet\b", _NOT),
    (r"\bdo(?:es)?(?:n't| not) (?:yet )?(?:fully|quite|entirely) meet\b", _LOW),
    (r"\bnot (?:yet )?met\b", _NOT),
    (r"\bnot there yet\b", _LOW),
    (r"^not yet\b", _LOW),
    (r"\bmisses the mark\b", _NOT),
    (r"\boff (?:track|target)\b", _NOT),
    (
        r"(?:^|\b(?:is|are|was|'s|looks|all|fully|entirely|completely|exactly|yes,?)\s+)"
        r"correct\b",
        _MET,
    ),
    (r"\b(?:fully |clearly )?meets (?:the|all|every|each|both|this|what)\b", _MET),
    (r"\ball (?:of the |the )?(?:\w+ )?criteria (?:are |were )?(?:met|covered)\b", _MET),
    (r"\bdoes what the (?:challenge|task|brief|huddle|assignment) asks\b", _MET),
    (r"\b(?:spot on|exactly right|nailed it)\b", _MET),
    (r"^(?:yes|right)\b", _MET),
    (r"\b(?:mostly|largely) (?:correct|right|there)\b", _HIGH),
    (r"\b(?:partially|partly) (?:correct|right|there|meets|met|complete)\b", _PART),
    (r"\b(?:almost|nearly) (?:there|correct|right|meets)\b", _PART),
    (r"\bhalf (?:right|correct|there)\b", _PART),
    (r"\bmeets (?:some|part|most|one|two) (?:of )?\b", _PART),
    (r"\ba (?:good|solid|promising) start\b", _LOW),
]
_PHRASES = [(re.compile(p, re.IGNORECASE), levels) for p, levels in VERDICT_PHRASES]

_GREETING = re.compile(
    r"^(?:hi|hello|hey|dear|thanks|thank you|good (?:morning|afternoon|evening))\b", re.I
)
_GREETING_PREFIX = re.compile(
    r"^(?:hi|hello|hey|dear|thanks|thank you)\b[^,!:;\u2014\n.]{0,40}[,!:;\u2014]\s*",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")

_STRETCH_MARKER = re.compile(
    r"\b(?:stretch|optional(?:ly)?|bonus|extension|(?:to )?go(?:ing)? further|"
    r"take (?:it|this) further|if you want (?:more|a challenge))\b",
    re.IGNORECASE,
)
_REVISION = re.compile(
    r"\b(?:revise|rewrite|re-write|redo|re-do|rework|resubmit|re-submit|fix|"
    r"correct (?:your|the|it|this)|go back (?:to|over|and)|fill in|"
    r"(?:add|complete|supply) the missing|"
    r"so (?:that )?it (?:now )?(?:states?|includes?|covers?|names?|shows?|answers?|has))\b",
    re.IGNORECASE,
)
_STRETCH = re.compile(
    r"\b(?:apply (?:this|it|the same)|build on (?:this|it)|scale (?:this|it) (?:up|to)|"
    r"teach|mentor|try the same (?:approach|method))\b",
    re.IGNORECASE,
)


def _verdict_in(sent: str) -> tuple[str, frozenset[Level]] | None:
    best: tuple[int, int, str, frozenset[Level]] | None = None
    for pattern, levels in _PHRASES:
        m = pattern.search(sent)
        if m is None:
            continue
        cand = (m.start(), -(m.end() - m.start()), m.group().strip(), levels)
        if best is None or cand[:2] < best[:2]:
            best = cand
    return None if best is None else (best[2], best[3])


def text_verdict(text: str) -> tuple[str, frozenset[Level]] | None:
    """The verdict phrase of the text's first sentence and the levels it fits, if any.

    Short greetings before it ("Hi Sam!", "Thanks for sharing this.") are skipped.
    """
    for sent in (s.strip() for s in _SENTENCE.split(text.strip())):
        if not sent:
            continue
        found = _verdict_in(_GREETING_PREFIX.sub("", sent))
        if found is not None or not (_GREETING.match(sent) and len(sent.split()) <= 8):
            return found
    return None


def next_step_kind(step: str) -> str | None:
    """``"revise"``, ``"stretch"`` or ``None`` (neither) for a next step."""
    if not step.strip():
        return None
    if _STRETCH_MARKER.search(step):
        return "stretch"
    if _REVISION.search(step):
        return "revise"
    return "stretch" if _STRETCH.search(step) else None


def verdict_agreement(sample: Sample, *, embedder: Embedder | None = None) -> Score:
    """1 when the overall assessment, the text's verdict and the next step agree, else 0.

    Verdict phrases are read in the text's first sentence; the next step is a
    revision or a stretch (see :mod:`huddle_ai.evals.verdict`). Mechanical:
    needs no labels.
    """
    out = sample.output
    if out is None:
        return Score.na("no structured assessment")
    level = out.assessment
    conflicts: list[str] = []
    verdict = text_verdict(out.text)
    if verdict is not None and level not in verdict[1]:
        conflicts.append(f"the text says {verdict[0]!r}")
    kind = next_step_kind(out.next_step)
    if kind == "revise" and level == Level.MET:
        conflicts.append("the next step asks for a revision")
    if kind == "stretch" and level == Level.NOT_MET:
        conflicts.append("the next step is a stretch")
    levels = {r.level for r in out.rubric}
    if levels == {Level.NOT_MET} and level == Level.MET:
        conflicts.append("every criterion is not met")
    if levels == {Level.MET} and level == Level.NOT_MET:
        conflicts.append("every criterion is met")
    if conflicts:
        return Score(0.0, f"assessed {level.value} but " + "; ".join(conflicts))
    said = f"text {verdict[0]!r}" if verdict else "no verdict phrase"
    return Score(1.0, f"agrees with {level.value}: {said}, next step {kind or 'neutral'}")
