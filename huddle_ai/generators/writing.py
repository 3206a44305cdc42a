"""Writing the grounded generator's feedback from a :class:`Judgement`.

Every sentence comes from this solution (quoted evidence), the rubric (covered
and missed key points) or the organization's feedback on similar solutions
(sentences adapted from the most helpful feedback whose solution was judged the
same way, kept only when they still hold for this solution).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from huddle_ai.assessment import PointScore, content_words
from huddle_ai.context import ContextItem, FeedbackContext
from huddle_ai.records import Level
from huddle_ai.suggestion import CriterionAssessment, Suggestion, SuggestionBody

if TYPE_CHECKING:
    from huddle_ai.generators.grounded import CriterionJudgement, Judgement

__all__ = ["adapt_feedback", "compose"]

COVERED = 0.6
PARTLY = 0.42
_GAP = frozenset(
    w
    for line in (
        "miss missing misses missed not n't no lack lacks lacking should could consider add",
        "incorrect wrong but however instead try needs need only partially incomplete",
        "unclear forgot forgets omit omits omitted",
    )
    for w in line.split()
)
_PRAISE = frozenset(
    w
    for line in ("correct correctly good great well nice clear clearly right excellent",)
    for w in line.split()
)
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|dear)\b[^,.!]{0,30}[,.!]\s*", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_TOKEN = re.compile(r"[a-z']+")


def _short(text: str, words: int = 14) -> str:
    parts = text.strip().rstrip(".").split()
    out = " ".join(parts[:words]) + (" ..." if len(parts) > words else "")
    return out[:1].lower() + out[1:] if out[:2] != out[:2].upper() else out


def _quote(text: str | None, words: int = 18) -> str:
    return f"\u201c{_short(text or '', words)}\u201d"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def adapt_feedback(
    text: str, solution_words: set[str], rubric_words: set[str], assessment: Level
) -> list[str]:
    """Sentences of past feedback (on a solution judged the same way) that still hold here."""
    kept: list[str] = []
    for sent in _SENTENCE.split(_GREETING.sub("", text.strip())):
        sent = sent.strip()
        if len(sent.split()) < 3:
            continue  # bare verdicts ("Correct.") are replaced by this solution's own
        tokens = set(_TOKEN.findall(sent.lower()))
        words = content_words(sent)
        terms = words & rubric_words
        related = bool(words & solution_words)
        if tokens & _GAP:
            # a gap it names must still be open here; a generic remark must touch this text
            if (terms - solution_words) or (not terms and related and assessment != Level.MET):
                kept.append(sent)
        elif tokens & _PRAISE:
            shared = len(terms & solution_words) / len(terms) if terms else float(related)
            if assessment != Level.NOT_MET and shared >= 0.5:
                kept.append(sent)
        elif related:
            kept.append(sent)
    return kept


def _reuse(
    context: FeedbackContext, judgement: Judgement, solution_words: set[str]
) -> tuple[list[str], list[str]]:
    """Up to two adapted sentences from the best-matching feedback, and what to cite."""
    rubric_words = content_words(
        " ".join(
            [context.huddle.goal]
            + [c.description + " " + (c.exemplar or "") for c in context.huddle.rubric]
        )
    )
    predicted = judgement.assessment.value

    def rank(item: ContextItem) -> tuple[float, str]:
        label = item.meta.get("assessment") or item.meta.get("parent_assessment")
        return (-item.value * (2.0 if label == predicted else 0.5), item.id)

    candidates = sorted(
        (i for i in context.items if i.kind == "feedback" and i.meta.get("same_huddle")), key=rank
    )
    sentences: list[str] = []
    cited: list[str] = []
    for item in candidates[:4]:
        label = item.meta.get("assessment") or item.meta.get("parent_assessment")
        if label != predicted:
            continue  # feedback on a solution judged differently would mislead
        got = adapt_feedback(item.text, solution_words, rubric_words, judgement.assessment)
        got = [s for s in got if s not in sentences][: 2 - len(sentences)]
        if got:
            sentences += got
            cited.append(item.id)
            parent = item.meta.get("solution_id")
            if isinstance(parent, str):
                cited.append(f"solution:{parent}")
        if len(sentences) >= 2:
            break
    return sentences, cited


def _evidence(cj: CriterionJudgement) -> str:
    covered = [p for p in cj.points if p.score >= COVERED]
    missing = [p for p in cj.points if p.score < PARTLY]
    parts = []
    if covered:
        best = max(covered, key=lambda p: p.score)
        parts.append(f"{_quote(best.evidence)} covers {_short(best.point)}")
    elif cj.points:
        best = max(cj.points, key=lambda p: p.score)
        parts.append(f"closest passage: {_quote(best.evidence)}")
    if missing:
        parts.append("missing: " + "; ".join(_short(p.point, 10) for p in missing[:3]))
    return "; ".join(parts) or "no key points to compare"


def _gaps(judgement: Judgement) -> list[tuple[CriterionJudgement, PointScore]]:
    """Key points not (fully) covered, worst criteria and weakest points first."""
    out = [
        (cj, p)
        for cj in judgement.criteria
        for p in cj.points
        if p.score < COVERED and not (cj.level == Level.MET and p.score >= PARTLY)
    ]
    return sorted(out, key=lambda x: (x[0].level.score, x[1].score, x[1].point))


def compose(context: FeedbackContext, judgement: Judgement) -> SuggestionBody:
    huddle = context.huddle
    words = content_words(context.solution_text)
    covered = sorted(
        (p for cj in judgement.criteria for p in cj.points if p.score >= COVERED),
        key=lambda p: -p.score,
    )
    gaps = _gaps(judgement)
    reused, reuse_cited = _reuse(context, judgement, words)

    strengths = [
        f"You cover {_short(p.point)}: {_quote(p.evidence)}." for p in covered[:3] if p.evidence
    ]
    if not strengths:
        best = max(
            (p for cj in judgement.criteria for p in cj.points), key=lambda p: p.score, default=None
        )
        if best is not None and best.evidence:
            strengths.append(f"You start in the right direction with {_quote(best.evidence)}.")

    suggestions: list[Suggestion] = []
    for cj, p in gaps[:3]:
        if p.score >= PARTLY and cj.level != Level.NOT_MET:
            implied = _quote(p.evidence, 10)
            text = f"Make explicit that {_short(p.point)}; now it is only implied by {implied}."
        else:
            terms = (
                f" (terms you have not used yet: {', '.join(p.missing_words[:4])})"
                if p.missing_words
                else ""
            )
            text = f"For {cj.criterion.name}, add that {_short(p.point)}{terms}."
        suggestions.append(Suggestion(text=text, criterion_id=cj.criterion.id))
    if not suggestions and covered:
        top = judgement.criteria[0]
        suggestions.append(
            Suggestion(
                text=f"Add a concrete example that shows {_short(covered[0].point)} in practice.",
                criterion_id=top.criterion.id,
            )
        )

    questions: list[str] = []
    for _, p in gaps[:2]:
        if p.missing_words:
            questions.append(f"How would {_join(list(p.missing_words[:2]))} change your answer?")
    if not questions:
        questions.append(
            f"How would your answer change for a different case than the one in {huddle.title}?"
        )

    if gaps:
        cj, p = gaps[0]
        next_step = (
            f"This week, revise your answer for \u201c{cj.criterion.name}\u201d so that it "
            f"states that {_short(p.point)}, then check it against the rubric's exemplar."
        )
    else:
        anchor = _short(covered[0].point) if covered else _short(huddle.goal)
        next_step = (
            f"This week, explain to a peer in \u201c{huddle.title}\u201d why {anchor}, "
            "and ask them for one case where your answer would not hold."
        )

    name = (context.learner_name or "").split()[0] if context.learner_name else ""
    verdict = {
        Level.MET: "your answer is correct",
        Level.PARTIAL: "your answer is partially correct",
        Level.NOT_MET: "your answer is not correct yet",
    }[judgement.assessment]
    missing = [p for _, p in gaps if p.score < PARTLY][:2]
    parts = []
    if covered and judgement.assessment != Level.NOT_MET:
        parts.append(f"you cover {_short(covered[0].point, 12)}")
    if missing:
        subject = "you do not mention" if parts else "it does not mention"
        parts.append(
            f"{subject} that {_join([_short(p.point, 12) for p in missing[: 1 if parts else 2]])}"
        )
    detail = f": {', but '.join(parts)}" if parts else ""
    lines = [f"Hi {name}, {verdict}{detail}." if name else f"Hi, {verdict}{detail}."]
    lines += reused

    rubric = [
        CriterionAssessment(criterion_id=cj.criterion.id, level=cj.level, evidence=_evidence(cj))
        for cj in judgement.criteria
    ]
    present = context.item_ids()
    cited = ["goal"] + [f"criterion:{cj.criterion.id}" for cj in judgement.criteria] + reuse_cited
    citations = [c for i, c in enumerate(cited) if c in present and c not in cited[:i]]
    return SuggestionBody(
        text=" ".join(lines),
        strengths=strengths,
        suggestions=suggestions,
        questions=questions,
        next_step=next_step,
        rubric=rubric,
        assessment=judgement.assessment,
        citations=citations,
    )
