"""The typed requests of the accountability loop: one pydantic model per
operation, shared by :class:`~huddle_ai.accountability.Accountability`, the
CLI and the HTTP bodies (``extra="forbid"``: an unknown field is an error)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from huddle_ai.accountability.records import CheckinStatus, CommitmentStatus
from huddle_ai.records import RecordId

__all__ = [
    "CheckinRequest",
    "CommitRequest",
    "DraftRequest",
    "FollowupRequest",
    "StatusRequest",
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DraftRequest(_Request):
    """A next step (or the learner's own plan) to write as a commitment."""

    step: str = Field(
        min_length=1, max_length=2000, description="A suggestion's next step or the learner's plan."
    )
    learner_id: RecordId
    due_at: AwareDatetime | None = Field(None, description="When it is due (ISO 8601, with zone).")
    huddle_id: RecordId | None = None
    partner_id: RecordId | None = None
    solution_id: RecordId | None = None
    cue: str | None = Field(None, min_length=1, max_length=500, description='The "When ..." part.')
    source: Literal["next_step", "plan"] = "next_step"


class CommitRequest(DraftRequest):
    """Draft and store a commitment in one step (refused while the draft lacks a
    date, owner or action; a vague verb too unless ``allow_vague``)."""

    huddle_id: RecordId
    due_at: AwareDatetime = Field(description="When it is due (ISO 8601, with zone).")
    commitment_id: RecordId | None = Field(None, description="Your id for it (default: new).")
    allow_vague: bool = False
    schedule: bool = Field(True, description="Put its follow-ups on the scheduler now.")


class CheckinRequest(_Request):
    author: Literal["self", "partner"]
    status: CheckinStatus
    reflection: str = Field("", max_length=4000)
    checkin_id: RecordId | None = None


class StatusRequest(_Request):
    status: CommitmentStatus


class FollowupRequest(_Request):
    """Schedule the follow-ups of every open commitment (of one huddle, or all),
    and keep a periodic sweep running for the organization."""

    huddle_id: RecordId | None = None
    sweep_every_s: float | None = Field(
        3600.0, ge=60, le=7 * 86_400, description="Sweep period (None: no periodic sweep)."
    )
