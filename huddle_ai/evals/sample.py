"""``Sample``: one feedback output plus everything a scorer may compare it with.

A sample is what every scorer takes. The harness builds samples from suite
cases and generator outputs; ``huddle-ai eval score`` builds them from
arbitrary JSONL records such as ``{"feedback": ..., "solution": ..., "context": ...}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huddle_ai.errors import InvalidInputError
from huddle_ai.records import Huddle, Level
from huddle_ai.suggest.context import ContextItem, FeedbackContext
from huddle_ai.suggest.suggestion import FeedbackSuggestion, SuggestionBody

__all__ = ["Sample"]

_KINDS = ("goal", "criterion", "solution", "feedback")
# record keys read by from_record beyond the sample's own fields
_RECORD_KEYS = frozenset({"feedback", "work", "rubric"})


class Sample(BaseModel):
    """A feedback output and its references. Only ``text`` is required."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    text: str = Field(description="The feedback message as the learner would read it.")
    output: SuggestionBody | None = Field(
        None, description="The structured output, when it validated."
    )
    raw: Any = Field(None, description="The output as produced, before validation.")
    schema_error: str | None = None
    solution: str = ""
    learner_name: str | None = Field(None, description="Whom the feedback addresses.")
    huddle: Huddle | None = None
    context: list[ContextItem] = Field(default_factory=list)
    reference: str | None = None
    expected_assessment: Level | None = None
    expected_rubric: dict[str, Level] | None = None
    forbidden: list[str] = Field(
        default_factory=list, description="Strings that appear only if an injection was obeyed."
    )
    forced_assessment: Level | None = Field(
        None, description="The assessment an injection demands (obeying it is a failure)."
    )
    pii: list[str] = Field(default_factory=list, description="PII that must not appear.")
    secrets: list[str] = Field(
        default_factory=list, description="Texts (system prompts) that must not be revealed."
    )
    labels: dict[str, float] = Field(default_factory=dict, description="Human labels by scorer.")
    task: str = Field("", description="The challenge or question, when there is no huddle.")
    criteria: list[str] = Field(
        default_factory=list, description="Rubric criteria as text, when there is no huddle."
    )
    answer: str | None = Field(None, description="A reference answer or key points of the task.")

    @classmethod
    def from_output(
        cls, output: FeedbackSuggestion, context: FeedbackContext, **refs: Any
    ) -> Sample:
        """A sample for a generator's output on ``context``."""
        return cls(
            text=output.text,
            output=output,
            raw=output.model_dump(mode="json"),
            solution=context.solution_text,
            learner_name=context.learner_name,
            huddle=context.huddle,
            context=list(context.items),
            **refs,
        )

    @classmethod
    def from_record(cls, record: dict[str, Any], where: str = "record") -> Sample:
        """Build a sample from a loose JSON record (the ``eval score`` format).

        ``feedback`` is a string or a suggestion object; ``context`` is a
        :class:`FeedbackContext` object or a list of ``{id, text}`` items.
        A record of a labelled set (:mod:`huddle_ai.evals.labelled`) is read
        too: ``work`` is the solution, ``task`` and ``rubric`` (a list of
        criteria) describe it, and there ``reference`` is the reference
        *answer*, not reference feedback. Fields a sample has no place for
        (ids, metadata) are ignored here; ``eval score`` writes them back.
        """
        if not isinstance(record, dict):
            raise InvalidInputError(f"{where}: expected a JSON object")
        data = {k: v for k, v in record.items() if k in cls.model_fields or k in _RECORD_KEYS}
        if "work" in data:
            # the labelled-set schema: work, task, rubric as text, reference answer
            data.setdefault("solution", data.pop("work"))
            if "reference" in data:
                data["answer"] = data.pop("reference")
        if isinstance(data.get("rubric"), list):
            data["criteria"] = [str(c) for c in data.pop("rubric")]
        fb = data.pop("feedback", None)
        if fb is None:
            raise InvalidInputError(f"{where}: field 'feedback' is required")
        fields: dict[str, Any] = {"raw": fb}
        if isinstance(fb, str):
            fields["text"] = fb
        elif isinstance(fb, dict):
            fields["text"] = str(fb.get("text", ""))
            try:
                fields["output"] = SuggestionBody.model_validate(
                    {k: v for k, v in fb.items() if k in SuggestionBody.model_fields}
                )
            except ValidationError as exc:
                fields["schema_error"] = _describe(exc)
        else:
            raise InvalidInputError(f"{where}: field 'feedback' must be a string or an object")
        ctx = data.pop("context", None)
        try:
            if isinstance(ctx, dict):
                parsed = FeedbackContext.model_validate(ctx)
                fields["context"] = parsed.items
                fields["huddle"] = parsed.huddle
                fields["solution"] = parsed.solution_text
            elif isinstance(ctx, list):
                fields["context"] = [_item(i, n, where) for n, i in enumerate(ctx)]
            elif ctx is not None:
                raise InvalidInputError(f"{where}: field 'context' must be an object or a list")
            sol = data.pop("solution", None)
            if isinstance(sol, dict):
                sol = sol.get("text", "")
            if sol is not None:
                fields["solution"] = str(sol)
            labels = data.pop("labels", None) or {}
            fields["labels"] = {k: _label(v, k, where) for k, v in labels.items()}
            return cls.model_validate({**data, **fields})
        except ValidationError as exc:
            raise InvalidInputError(f"{where}: {_describe(exc)}") from exc


def _item(raw: Any, n: int, where: str) -> ContextItem:
    if isinstance(raw, str):
        raise InvalidInputError(f"{where}: context item {n} must be an object with 'id' and 'text'")
    data = dict(raw)
    if "kind" not in data:
        prefix = str(data.get("id", "")).split(":", 1)[0]
        data["kind"] = prefix if prefix in _KINDS else "feedback"
    return ContextItem.model_validate(data)


def _label(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.lower() in ("yes", "no", "true", "false"):
        return 1.0 if value.lower() in ("yes", "true") else 0.0
    raise InvalidInputError(f"{where}: label {name!r} must be a number or yes/no, got {value!r}")


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:4]:
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"field '{loc}': {err['msg']}")
    more = f" (+{exc.error_count() - 4} more)" if exc.error_count() > 4 else ""
    return "; ".join(parts) + more
