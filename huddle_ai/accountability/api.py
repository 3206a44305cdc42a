"""The accountability loop over HTTP: thin endpoints (validate, call
:class:`~huddle_ai.accountability.Accountability`, return JSON), scoped by the
same organization API keys as the rest of ``/v1/orgs/{org}/...``.

Unlike the job endpoints these answer synchronously: an import is one
transaction on the accountability database (all records or none; a bad record
is a 422 naming the record and field), a draft is computed offline, and risk
and health are read from the database. The database is opened on first use,
never when the app starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from huddle_ai.accountability.records import AccountabilityRecord
from huddle_ai.accountability.service import Accountability
from huddle_ai.api import Org
from huddle_ai.api import _reference_errors as _record_errors
from huddle_ai.database import Database, resolve_url
from huddle_ai.errors import ConfigurationError, ImportRejectedError
from huddle_ai.records import RecordId
from huddle_ai.settings import Settings

__all__ = ["DraftBody", "RecordsBody", "router"]


class RecordsBody(BaseModel):
    """The JSONL import format as a JSON list: one object per line."""

    model_config = ConfigDict(extra="forbid")

    records: list[AccountabilityRecord] = Field(min_length=1, max_length=10_000)
    allow_past_due: bool = Field(
        False, description="Import history: open commitments may be due in the past."
    )


class DraftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str = Field(
        min_length=1, max_length=2000, description="A suggestion's next step or the learner's plan."
    )
    learner_id: RecordId
    due_at: AwareDatetime | None = Field(None, description="When it is due (ISO 8601, with zone).")
    huddle_id: RecordId | None = None
    partner_id: RecordId | None = None
    solution_id: RecordId | None = None
    cue: str | None = Field(None, min_length=1, max_length=500, description='The "When ..." part.')
    source: str = Field("next_step", pattern="^(next_step|plan)$")


Cohort = Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")]


def router(settings: Settings, *, service: Callable[[], Accountability] | None = None) -> APIRouter:
    """The endpoints over the settings' database (or ``service()``'s)."""
    lock = threading.Lock()
    opened: list[Accountability] = []

    def acct() -> Accountability:
        if service is not None:
            return service()
        with lock:
            if not opened:
                url = resolve_url(settings.database_url, settings.data_dir)
                opened.append(Accountability(Database(url)))
            return opened[0]

    def guarded(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except SQLAlchemyError as exc:  # the database failed, not the request: 503
            raise ConfigurationError(f"accountability database: {type(exc).__name__}") from exc

    responses: dict[int | str, dict[str, Any]] = {
        401: {"description": "Missing or unknown API key."},
        403: {"description": "The key is for another organization."},
        413: {"description": "Body too large."},
        422: {"description": "A record or field is invalid (named); nothing was written."},
    }
    r = APIRouter(prefix="/v1/orgs/{org}/accountability", tags=["accountability"])

    @r.post("/records", responses=responses)
    def import_records(org: Org, body: RecordsBody) -> Any:
        """Import enrollments, commitments, check-ins and events, all or nothing.

        References are checked against the body and the stored records (every
        learner and partner enrolled, a check-in's commitment known, no new open
        commitment due in the past unless ``allow_past_due``).
        """
        lines = [rec.model_dump_json() for rec in body.records]
        try:
            report = guarded(
                lambda: acct().import_lines(
                    org, lines, allow_past_due=body.allow_past_due, source="request"
                )
            )
        except ImportRejectedError as exc:
            return JSONResponse({"detail": _record_errors(exc.errors)}, 422)
        return report.as_dict()

    @r.post("/drafts", responses=responses)
    def draft(org: Org, body: DraftBody) -> dict[str, object]:
        """Write a next step (or plan) as "When ..., I will ..." and list what it still lacks
        (date, owner, a concrete verb). Nothing is stored."""
        due = body.due_at.astimezone(UTC) if body.due_at else None
        d = acct().draft(
            body.step,
            learner_id=body.learner_id,
            huddle_id=body.huddle_id,
            due_at=due,
            cue=body.cue,
            partner_id=body.partner_id,
            solution_id=body.solution_id,
            source=body.source,
        )
        return d.as_dict()

    @r.get("/risk", responses=responses)
    def risk(org: Org, cohort: Cohort = None) -> list[dict[str, object]]:
        """Drop-out risk of every current learner, riskiest first, with the reasons in words."""
        return [x.as_dict() for x in guarded(lambda: acct().risk(org, cohort=cohort))]

    @r.get("/health", responses=responses)
    def health(org: Org, cohort: Cohort = None) -> dict[str, object]:
        """Community health: reciprocity, isolated learners, time to first feedback,
        commitment completion, pairing suggestions for the isolated."""
        result: dict[str, object] = guarded(lambda: acct().health(org, cohort=cohort).as_dict())
        return result

    return r
