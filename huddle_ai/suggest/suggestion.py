"""``FeedbackSuggestion``: the validated output of every generator."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from huddle_ai.records import Level

__all__ = ["CriterionAssessment", "FeedbackSuggestion", "Suggestion", "SuggestionBody"]


class CriterionAssessment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criterion_id: str
    level: Level
    evidence: str = Field(description="Quoted or paraphrased from the solution.")


class Suggestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="One actionable change the learner can make.")
    criterion_id: str | None = Field(None, description="The rubric criterion it serves.")


class SuggestionBody(BaseModel):
    """What a generator writes; the JSON schema an LLM is asked to fill."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="Ready-to-post message to the learner, warm and specific.")
    strengths: list[str]
    suggestions: list[Suggestion]
    questions: list[str]
    next_step: str = Field(description="One concrete action the learner can take this week.")
    rubric: list[CriterionAssessment]
    assessment: Level
    citations: list[str] = Field(description="Ids of the context items used.")


class FeedbackSuggestion(SuggestionBody):
    """A feedback draft plus how it was made."""

    generator: str
    model: str | None = None
    prompt_id: str | None = None
    prompt_version: str | None = None
    prompt_hash: str | None = None
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    context_tokens: int = 0
    attempts: int = 1
    retries: int = 0
    invalid_citations: int = 0
    redactions: int = 0
    degraded: bool = False
    degraded_reason: str | None = None
    confidence: float | None = Field(
        None, description="Calibrated probability that the overall assessment is right."
    )
    needs_review: bool = Field(
        False, description="Confidence is below the review threshold chosen from the history."
    )
    expected_accuracy: float | None = Field(
        None, description="Held-out accuracy of drafts confident enough to skip review."
    )
    judged_by: str | None = Field(
        None,
        description="What the judgement was fitted on: huddle, organization, "
        "huddle and organization (both models averaged) or rubric.",
    )
