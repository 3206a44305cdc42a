"""Baseline generators the feedback generators must beat (issue 3's quality bar).

``nn_copy`` copies the feedback of the single most similar past solution of the
same huddle (with its assessment); ``always_met`` always says "Correct." with
an overall ``met``. Both are deterministic, offline and for evaluation only.
"""

from __future__ import annotations

from huddle_ai.context import FeedbackContext
from huddle_ai.generators import Generator
from huddle_ai.records import Level
from huddle_ai.suggestion import CriterionAssessment, FeedbackSuggestion

__all__ = ["AlwaysMet", "NearestCopy"]


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


class AlwaysMet(Generator):
    """Always "Correct." and ``met``."""

    name = "always_met"

    def generate(self, context: FeedbackContext) -> FeedbackSuggestion:
        return FeedbackSuggestion(
            text="Correct.",
            strengths=["Correct."],
            suggestions=[],
            questions=[],
            next_step="",
            rubric=[
                CriterionAssessment(criterion_id=c.id, level=Level.MET, evidence="")
                for c in context.huddle.rubric
            ],
            assessment=Level.MET,
            citations=[],
            generator=self.name,
        )
