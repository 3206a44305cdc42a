"""Requests: one pydantic model per operation.

The same model is what a :class:`~huddle_ai.HuddleAI` method takes, what the
CLI builds from its options, the HTTP body (plus ``callback_url``) and the
argument of the rq job, serialised as JSON on the client and validated again
on the worker. A rule about a request is written here once; :func:`validated`
turns a validation failure into one :class:`InvalidInputError` line that
names the field.

Organization ids are not part of a request: every operation takes the
organization beside it (a path segment in the HTTP API, ``--org`` in the CLI).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from huddle_ai.errors import InvalidInputError
from huddle_ai.records import Record, RecordId

__all__ = [
    "AffinityRequest",
    "DeleteLearnerRequest",
    "DeleteOrgRequest",
    "IngestRequest",
    "MatchRequest",
    "NextReviewersRequest",
    "PartnersRequest",
    "ReindexRequest",
    "Request",
    "SimilarRequest",
    "SuggestRequest",
    "describe",
    "parse",
    "validated",
]

R = TypeVar("R", bound="Request")

Pair = tuple[str, str]


def _check_weights(spec: dict[str, float] | None) -> dict[str, float] | None:
    if spec is None:
        return None
    # matching pulls in SciPy and OR-Tools: load it only when weights are given
    from huddle_ai.matching import Weights

    try:
        Weights.parse(spec)
    except InvalidInputError as exc:
        raise ValueError(str(exc)) from None
    return spec


WeightsSpec = Annotated[
    dict[str, float] | None,
    AfterValidator(_check_weights),
    Field(description="Affinity component weights, e.g. {'expertise': 0.5}; others keep defaults."),
]
HalfLife = Annotated[
    float, Field(gt=0, le=3650, description="Days after which past activity counts half.")
]
Now = Annotated[
    datetime | None, Field(description="The time history is weighed at; now when absent.")
]


class Request(BaseModel):
    """The base of every request: unknown fields are an error, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Target(Request):
    """A stored solution, or new text for a huddle."""

    solution_id: RecordId | None = Field(None, description="A stored solution.")
    huddle_id: RecordId | None = Field(None, description="The huddle of new work (with text).")
    text: str | None = Field(None, min_length=1, max_length=50_000, description="New work.")

    @model_validator(mode="after")
    def _one_target(self) -> _Target:
        if self.solution_id is not None and (self.huddle_id is not None or self.text is not None):
            raise ValueError("give solution_id, or huddle_id with text, not both")
        if self.solution_id is None and (
            self.huddle_id is None or self.text is None or not self.text.strip()
        ):
            raise ValueError("give solution_id, or huddle_id with text")
        return self


class SimilarRequest(_Target):
    """The most similar past solutions, same huddle first, with their feedback."""

    k: int = Field(5, ge=1, le=100, description="How many neighbours.")


class SuggestRequest(_Target):
    """A feedback draft for a stored solution or for new work."""

    k: int = Field(5, ge=1, le=50, description="Similar past solutions to draw on.")


class IngestRequest(Request):
    """Records in the import format, written in one idempotent import."""

    records: list[Record] = Field(min_length=1)
    skip_invalid: bool = Field(False, description="Write the good records, report the bad ones.")


class MatchRequest(Request):
    """Exactly ``k`` reviewers for every solution of a huddle."""

    huddle_id: RecordId
    k: int = Field(3, ge=1, le=20, description="Reviewers per solution.")
    min_load: int = Field(0, ge=0, description="Fewest reviews per reviewer.")
    max_load: int = Field(3, ge=1, le=100, description="Most reviews per reviewer.")
    reviewers: list[str] | None = Field(None, description="Eligible reviewers; all when absent.")
    weights: WeightsSpec = None
    same_team_conflict: bool = False
    do_not_pair: list[Pair] = Field(default_factory=list, description="(reviewer, author) pairs.")
    forced: list[Pair] = Field(default_factory=list, description="(reviewer, solution) pairs.")
    fairness: bool = Field(False, description="Raise the worst-off solution's affinity first.")
    floor: float | None = Field(None, description="Every solution's total affinity at least this.")
    now: Now = None
    half_life_days: HalfLife = 30.0
    time_limit: float = Field(60.0, gt=0, le=3600, description="Solver time limit (seconds).")


class PartnersRequest(Request):
    """Accountability or learning partners: pairs or groups."""

    learners: list[str] | None = Field(None, description="Who to group; all learners if absent.")
    huddle_id: RecordId | None = Field(None, description="Group the learners of this huddle.")
    group_size: int = Field(2, ge=2, le=10)
    weights: WeightsSpec = None
    same_team_conflict: bool = False
    do_not_pair: list[Pair] = Field(default_factory=list)
    past_pairs: list[Pair] = Field(default_factory=list)
    avoid_repeats: bool = True
    now: Now = None
    half_life_days: HalfLife = 30.0


class NextReviewersRequest(Request):
    """Who should review one solution now, given reviewers' open loads."""

    solution_id: RecordId
    n: int = Field(1, ge=1, le=20, description="How many reviewers to pick.")
    open_loads: dict[str, Annotated[int, Field(ge=0)]] | None = None
    max_load: int = Field(3, ge=1, le=100)
    reviewers: list[str] | None = None
    exclude: list[str] = Field(default_factory=list, description="Reviewers already on it.")
    weights: WeightsSpec = None
    same_team_conflict: bool = False
    do_not_pair: list[Pair] = Field(default_factory=list)
    balance: float = Field(0.1, ge=0, le=10, description="How much open load counts against.")
    now: Now = None
    half_life_days: HalfLife = 30.0


class AffinityRequest(Request):
    """The learner x solution affinity matrix the review assignment optimises."""

    huddle_id: RecordId | None = None
    learners: list[str] | None = None
    solutions: list[str] | None = None
    weights: WeightsSpec = None
    now: Now = None
    half_life_days: HalfLife = 30.0


class DeleteLearnerRequest(Request):
    """A learner, their solutions and the feedback they wrote or received."""

    learner_id: RecordId


class DeleteOrgRequest(Request):
    """Every record of the organization."""


class ReindexRequest(Request):
    """Re-embed every stored text with the configured backend."""

    force: bool = Field(False, description="Re-embed even if the backend is unchanged.")


def describe(exc: ValidationError, names: Mapping[str, str] | None = None) -> str:
    """The first problem of a failed validation as one line naming its field;
    ``names`` renames fields (the CLI names its options)."""
    rename = dict(names or {})
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    msg = str(first["msg"]).removeprefix("Value error, ")
    if rename:
        words = re.compile(r"\b(" + "|".join(map(re.escape, rename)) + r")\b")
        msg = words.sub(lambda m: rename[m.group(1)], msg)
    if not loc:
        return msg
    if loc[0] in rename:
        loc[0] = rename[loc[0]]
    return f"{'.'.join(loc)}: {msg}"


@contextmanager
def validated(names: Mapping[str, str] | None = None) -> Iterator[None]:
    """Build requests in this block: a validation failure becomes one
    :class:`InvalidInputError` line naming the field."""
    try:
        yield
    except ValidationError as exc:
        raise InvalidInputError(describe(exc, names)) from None


def parse(model: type[R], data: Mapping[str, Any]) -> R:
    """A request from plain JSON data (a job's argument), validated."""
    with validated():
        return model.model_validate(data)
