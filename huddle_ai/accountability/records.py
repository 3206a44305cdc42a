"""The accountability records and their JSONL import format.

One record per line with a ``kind``: ``enrollment``, ``commitment``,
``checkin`` or ``event``. Each is a pydantic model with ``extra="forbid"``;
:func:`parse_lines` validates a whole file and reports every bad line with
its number and the field at fault, before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from huddle_ai.errors import LineError
from huddle_ai.records import RecordId

__all__ = [
    "CHECKIN_STATUSES",
    "COMMITMENT_STATUSES",
    "EVENT_TYPES",
    "AccountabilityRecord",
    "CheckinRecord",
    "CommitmentRecord",
    "EnrollmentRecord",
    "EventRecord",
    "ParsedFile",
    "parse_lines",
]

COMMITMENT_STATUSES = ("open", "done", "partly", "missed", "dropped")
CHECKIN_STATUSES = ("done", "partly", "missed", "dropped", "on_track")
EVENT_TYPES = (
    "submitted",
    "viewed",
    "commented",
    "feedback_given",
    "logged_in",
    "checked_in",
)

CommitmentStatus = Literal["open", "done", "partly", "missed", "dropped"]
CheckinStatus = Literal["done", "partly", "missed", "dropped", "on_track"]
EventType = Literal["submitted", "viewed", "commented", "feedback_given", "logged_in", "checked_in"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnrollmentRecord(_Record):
    """A learner in a cohort; ``outcome`` is known for past cohorts only."""

    kind: Literal["enrollment"] = "enrollment"
    learner_id: RecordId
    cohort: RecordId
    enrolled_at: AwareDatetime | None = None
    outcome: Literal["completed", "dropped"] | None = None


class CommitmentRecord(_Record):
    kind: Literal["commitment"] = "commitment"
    id: RecordId
    learner_id: RecordId
    huddle_id: RecordId
    solution_id: RecordId | None = None
    text: str = Field(min_length=3, max_length=2000)
    due_at: AwareDatetime
    partner_id: RecordId | None = None
    status: CommitmentStatus = "open"
    created_at: AwareDatetime | None = None


class CheckinRecord(_Record):
    """A check-in on a commitment by its owner (``self``) or their partner."""

    kind: Literal["checkin"] = "checkin"
    id: RecordId
    commitment_id: RecordId
    author: Literal["self", "partner"]
    status: CheckinStatus
    reflection: str = Field("", max_length=4000)
    created_at: AwareDatetime | None = None


class EventRecord(_Record):
    """One learner activity; ``peer_id`` is who received feedback or a comment.

    Stored once: an event with the ``id`` of one already stored (or, without an
    ``id``, the same learner, type, instant and huddle) is skipped on import."""

    kind: Literal["event"] = "event"
    id: RecordId | None = None
    learner_id: RecordId
    type: EventType
    at: AwareDatetime
    count: int = Field(1, ge=1, le=100_000)
    huddle_id: RecordId | None = None
    peer_id: RecordId | None = None


AccountabilityRecord = Annotated[
    EnrollmentRecord | CommitmentRecord | CheckinRecord | EventRecord,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[EnrollmentRecord | CommitmentRecord | CheckinRecord | EventRecord] = (
    TypeAdapter(AccountabilityRecord)
)


@dataclass
class ParsedFile:
    """The valid records of a file, by kind, with each record's line number,
    and the rejected lines."""

    enrollments: list[tuple[int, EnrollmentRecord]] = field(default_factory=list)
    commitments: list[tuple[int, CommitmentRecord]] = field(default_factory=list)
    checkins: list[tuple[int, CheckinRecord]] = field(default_factory=list)
    events: list[tuple[int, EventRecord]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)

    def add(
        self, line: int, rec: EnrollmentRecord | CommitmentRecord | CheckinRecord | EventRecord
    ) -> None:
        if isinstance(rec, EventRecord):
            self.events.append((line, rec))
        elif isinstance(rec, CommitmentRecord):
            self.commitments.append((line, rec))
        elif isinstance(rec, CheckinRecord):
            self.checkins.append((line, rec))
        else:
            self.enrollments.append((line, rec))

    def __len__(self) -> int:
        return len(self.enrollments) + len(self.commitments) + len(self.checkins) + len(self.events)


def _line_error(line: int, exc: ValidationError) -> LineError:
    first = exc.errors(include_url=False)[0]
    loc = [str(p) for p in first["loc"]]
    # the union's tag is the first part of the location: drop it
    if loc and loc[0] in ("enrollment", "commitment", "checkin", "event"):
        loc = loc[1:]
    where = ".".join(loc) or None
    reason = f"{where}: {first['msg']}" if where else str(first["msg"])
    more = len(exc.errors()) - 1
    if more:
        reason += f" (and {more} more)"
    return LineError(line=line, reason=reason, field=where)


def parse_lines(lines: Iterable[str | bytes], *, max_errors: int = 1000) -> ParsedFile:
    """Validate JSONL lines (blank lines are skipped). Every bad line is kept in
    ``errors`` (up to ``max_errors``), with its 1-based number and field."""
    out = ParsedFile()
    validate = _ADAPTER.validate_json
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            out.add(n, validate(raw))
        except ValidationError as exc:
            if len(out.errors) < max_errors:
                out.errors.append(_line_error(n, exc))
    return out
