"""Labelled feedback: items people rated on the five feedback dimensions.

One JSON object a line (``evals/scorer_set/train.jsonl``, an organization's
own ``labels.jsonl``)::

    {"id": "...", "task": "...", "work": "...", "rubric": ["..."],
     "reference": "..." | null, "feedback": "...",
     "labels": {"actionable": 0|1, "specific": 0|1, "accurate": 0|1,
                "respectful": 0|1, "no_giveaway": 0|1}}

Only ``feedback`` and ``labels`` are required; an organization may label one
dimension only. An optional ``group`` (a string or number) names items that
must stay together when cross-validating (the same piece of work, the same
learner); without it, items with the same task and work form a group.
An optional ``author`` names who wrote the item; with three or more authors,
the fit chooses its model leave-one-author-out (see
:mod:`huddle_ai.evals.scorer_fit`).
The dimensions, as human raters of feedback use them:

- ``actionable``: it is clear what the learner should do next (a guiding
  question that points to the next move counts; a bare verdict does not).
- ``specific``: it refers to this work, not comments that fit any submission.
- ``accurate``: its judgement is right with respect to task, rubric and reference.
- ``respectful``: respectful, encouraging tone (critical is fine; sarcastic,
  demeaning, dismissive or patronising is not).
- ``no_giveaway``: it leaves the thinking to the learner rather than handing
  over the answer or rewriting the deliverable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from huddle_ai.errors import InvalidInputError

__all__ = ["DIMENSIONS", "FeedbackItem", "LabelledItem", "load_labelled", "parse_labelled"]

DIMENSIONS = ("actionable", "specific", "accurate", "respectful", "no_giveaway")


class FeedbackItem(BaseModel):
    """What a learned scorer reads: a feedback text and what it is about."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    feedback: str = Field(description="The feedback or tutor reply being rated.")
    work: str = Field("", description="The learner's submission (or last turn).")
    task: str = Field("", description="The challenge, question or problem.")
    rubric: tuple[str, ...] = ()
    reference: str | None = Field(None, description="A reference answer or key points.")


class LabelledItem(FeedbackItem):
    """A feedback item with people's 0/1 labels on some of the five dimensions."""

    id: str | None = None
    style: str | None = None
    group: str | None = Field(None, description="Items kept in one cross-validation fold.")
    author: str | None = Field(
        None, description="Who wrote the item (a writer, an organization): a unit of model choice."
    )
    labels: dict[str, int]

    @field_validator("group", mode="before")
    @classmethod
    def _group_text(cls, group: object) -> object:
        return str(group) if isinstance(group, int) and not isinstance(group, bool) else group

    @field_validator("labels")
    @classmethod
    def _known_binary(cls, labels: dict[str, int]) -> dict[str, int]:
        if not labels:
            raise ValueError("needs at least one label")
        for name, value in labels.items():
            if name not in DIMENSIONS:
                raise ValueError(f"unknown label {name!r} (known: {', '.join(DIMENSIONS)})")
            if value not in (0, 1):
                raise ValueError(f"label {name!r} must be 0 or 1, got {value!r}")
        return {k: int(v) for k, v in labels.items()}


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "record"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"field '{loc}': {msg}"


def parse_labelled(text: str, source: str) -> list[LabelledItem]:
    """Every labelled item of a JSONL text; an error names the first bad line."""
    items: list[LabelledItem] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{source} line {n}: not valid JSON: {exc.msg}") from None
        if not isinstance(raw, dict):
            raise InvalidInputError(f"{source} line {n}: expected a JSON object")
        if isinstance(raw.get("rubric"), list):
            raw["rubric"] = [
                str(c) if not isinstance(c, dict) else _criterion(c) for c in raw["rubric"]
            ]
        try:
            items.append(LabelledItem.model_validate(raw))
        except ValidationError as exc:
            rid = f" (id {raw['id']!r})" if isinstance(raw.get("id"), str) else ""
            raise InvalidInputError(f"{source} line {n}{rid}: {_describe(exc)}") from None
    if not items:
        raise InvalidInputError(f"{source}: no labelled items")
    return items


def _criterion(c: dict[str, Any]) -> str:
    """A rubric criterion given as an object, as one line of text."""
    parts = [str(c.get(k, "")) for k in ("name", "description") if c.get(k)]
    return ": ".join(parts)


def load_labelled(path: Path) -> list[LabelledItem]:
    """The labelled items of ``path`` (see :func:`parse_labelled`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path}: not UTF-8 text") from None
    return parse_labelled(text, str(path))
