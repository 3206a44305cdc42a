"""Baseline generators the feedback generators must beat (issue 3's quality bar).

``nn_copy`` copies the feedback of the single most similar past solution of the
same huddle (with its assessment); ``always_met`` always says "Correct." with
an overall ``met``; ``always_majority`` always gives the most common level of
the huddle's labelled history (else the organization's, else ``met``). All are
deterministic, offline and for evaluation only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from huddle_ai.records import Level
from huddle_ai.suggest.context import FeedbackContext, LabelledSolution
from huddle_ai.suggest.generators import Generator
from huddle_ai.suggest.suggestion import CriterionAssessment, FeedbackSuggestion

__all__ = ["AlwaysMajority", "AlwaysMet", "NearestCopy"]

VERDICT_TEXT = {
    Level.MET: "Correct.",
    Level.PARTIAL: "Partially correct.",
    Level.NOT_MET: "Incorrect.",
}


def _level(value: object, default: Level) -> Level:
    try:
        return Level(str(value))
    except ValueError:
        return default


class NearestCopy(Generator):
    """The most similar same-huddle solution's most valuable feedback, copied."""

    name = "nn_copy"

    def generate(self, context: FeedbackContext) -> FeedbackSuggestion:
        fbs = [i for i in context.items if i.kind == "feedback" and i.meta.get("same_huddle")]
        sols = {i.id: i for i in context.items if i.kind == "solution"}
        best = None
        if fbs:
            top_sim = max(float(i.meta.get("similarity") or 0.0) for i in fbs)
            nearest = [i for i in fbs if float(i.meta.get("similarity") or 0.0) == top_sim]
            best = max(nearest, key=lambda i: i.value)
        if best is None:
            return AlwaysMet().generate(context).model_copy(update={"generator": self.name})
        parent = sols.get(f"solution:{best.meta.get('solution_id')}")
        overall = _level(
            best.meta.get("assessment") or best.meta.get("parent_assessment"), Level.PARTIAL
        )
        rubric = [
            CriterionAssessment(
                criterion_id=c.id,
                level=_level(best.meta.get(f"level:{c.id}"), overall),
                evidence="copied from the most similar past solution",
            )
            for c in context.huddle.rubric
        ]
        cites = [best.id] + ([parent.id] if parent else [])
        return FeedbackSuggestion(
            text=best.text,
            strengths=[],
            suggestions=[],
            questions=[],
            next_step="",
            rubric=rubric,
            assessment=overall,
            citations=cites,
            generator=self.name,
        )


def _verdict_only(
    context: FeedbackContext, level: Level, rubric: dict[str, Level], name: str
) -> FeedbackSuggestion:
    """A bare verdict: the level's word, the level for every criterion, nothing else."""
    text = VERDICT_TEXT[level]
    return FeedbackSuggestion(
        text=text,
        strengths=[text] if level == Level.MET else [],
        suggestions=[],
        questions=[],
        next_step="",
        rubric=[
            CriterionAssessment(criterion_id=c.id, level=rubric.get(c.id, level), evidence="")
            for c in context.huddle.rubric
        ],
        assessment=level,
        citations=[],
        generator=name,
    )


class AlwaysMet(Generator):
    """Always "Correct." and ``met``."""

    name = "always_met"

    def generate(self, context: FeedbackContext) -> FeedbackSuggestion:
        return _verdict_only(context, Level.MET, {}, self.name)


_ORDER = (Level.MET, Level.PARTIAL, Level.NOT_MET)


def _most_common(levels: Iterable[Level]) -> Level | None:
    """The most frequent level; ties go to the first of met, partial, not met."""
    counts = Counter(levels)
    if not counts:
        return None
    return max(_ORDER, key=lambda lvl: (counts[lvl], -_ORDER.index(lvl)))


def _org_labels(context: FeedbackContext) -> list[LabelledSolution]:
    """The organization's other huddles' labelled solutions (none if the context has none)."""
    out: list[LabelledSolution] = []
    for entry in getattr(context, "org_history", None) or []:
        if isinstance(entry, LabelledSolution):
            out.append(entry)
        else:  # a huddle with its history
            out.extend(h for h in getattr(entry, "history", []) if isinstance(h, LabelledSolution))
    return out


class AlwaysMajority(Generator):
    """The majority level: of the huddle's labelled history, else the organization's, else met.

    Per criterion: the criterion's most common level in the huddle's history,
    else the most common criterion level of the organization's other huddles,
    else the overall level. The text is the level's bare verdict ("Correct.",
    "Partially correct.", "Incorrect.").
    """

    name = "always_majority"

    def generate(self, context: FeedbackContext) -> FeedbackSuggestion:
        own, org = context.history, _org_labels(context)
        level = (
            _most_common(h.assessment for h in own if h.assessment is not None)
            or _most_common(h.assessment for h in org if h.assessment is not None)
            or Level.MET
        )
        org_criteria = _most_common(lvl for h in org for lvl in h.rubric.values())
        rubric: dict[str, Level] = {}
        for c in context.huddle.rubric:
            found = _most_common(h.rubric[c.id] for h in own if c.id in h.rubric)
            rubric[c.id] = found or org_criteria or level
        return _verdict_only(context, level, rubric, self.name)
