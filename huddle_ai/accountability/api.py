"""The accountability loop over HTTP: thin endpoints (validate, call
:class:`~huddle_ai.accountability.Accountability`, return JSON), scoped by the
same organization API keys as the rest of ``/v1/orgs/{org}/...``.

Unlike the job endpoints these answer synchronously: an import is one
transaction on the accountability database (all records or none; a bad record
is a 422 naming the record and field), a draft is written offline (or through
the LLM when ``HUDDLE_AI_LLM_BASE_URL`` is set, falling back offline with
``degraded``), and risk and health are read from the database; health pairs
isolated learners through the partner matcher over the organization's record
store (``?match=false`` skips it; ``pairing_degraded`` says when it could not
run and the simple pairing stood in). Scheduling
follow-ups needs the app's Redis. The database is opened on first use,
never when the app starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from redis import Redis
from sqlalchemy.exc import SQLAlchemyError

from huddle_ai.accountability.llm_drafter import build_drafter
from huddle_ai.accountability.records import AccountabilityRecord, CommitmentStatus
from huddle_ai.accountability.requests import (
    CheckinRequest,
    CommitRequest,
    DraftRequest,
    FollowupRequest,
    StatusRequest,
)
from huddle_ai.accountability.service import Accountability
from huddle_ai.errors import (
    ConfigurationError,
    HuddleAIError,
    ImportRejectedError,
    InvalidInputError,
)
from huddle_ai.index.database import Database, resolve_url
from huddle_ai.index.store import Store
from huddle_ai.service.keys import Org
from huddle_ai.service.limits import record_errors as _record_errors
from huddle_ai.settings import Settings

__all__ = ["DraftBody", "RecordsBody", "router"]


class RecordsBody(BaseModel):
    """The JSONL import format as a JSON list: one object per line."""

    model_config = ConfigDict(extra="forbid")

    records: list[AccountabilityRecord] = Field(min_length=1, max_length=10_000)
    allow_past_due: bool = Field(
        False, description="Import history: open commitments may be due in the past."
    )


DraftBody = DraftRequest

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
Cohort = Annotated[str | None, Query(max_length=128, pattern=_ID_PATTERN)]
LearnerQ = Annotated[str | None, Query(max_length=128, pattern=_ID_PATTERN)]
StatusQ = Annotated[CommitmentStatus | None, Query()]
CommitmentId = Annotated[str, PathParam(max_length=128, pattern=_ID_PATTERN)]
MatchQ = Annotated[bool, Query(description="Pair isolated learners through the partner matcher.")]


def _field_errors(pairs: list[tuple[str | None, str]]) -> JSONResponse:
    """A 422 in FastAPI's shape, each error at its body field."""
    detail = [
        {"type": "invalid_field", "loc": ["body", f] if f else ["body"], "msg": msg}
        for f, msg in pairs
    ]
    return JSONResponse({"detail": detail}, 422)


def router(
    settings: Settings,
    *,
    conn: Redis | None = None,
    service: Callable[[], Accountability] | None = None,
    open_store: Callable[[str], Store] | None = None,
) -> APIRouter:
    """The endpoints over the settings' database (or ``service()``'s); ``conn``
    is the Redis the follow-ups are scheduled on; ``open_store(embedder_id)``
    opens the record store the partner matcher reads (health pairs without it)."""
    lock = threading.Lock()
    opened: list[Accountability] = []

    def acct() -> Accountability:
        if service is not None:
            return service()
        with lock:
            if not opened:
                url = resolve_url(settings.database_url, settings.data_dir)
                opened.append(Accountability(Database(url), drafter=build_drafter(settings)))
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
    _NOT_FOUND = {"description": "No such commitment in this organization."}
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
        return acct().draft_request(body).as_dict()

    def redis() -> Redis:
        if conn is None:
            raise ConfigurationError("no job queue: follow-ups cannot be scheduled")
        return conn

    @r.post("/commitments", status_code=201, responses=responses)
    def commit(org: Org, body: CommitRequest) -> Any:
        """Draft a next step as "When ..., I will ...", check it and store it as an open
        commitment; with ``schedule`` its follow-ups go on the scheduler. A draft that
        lacks a date, an owner or an action (or names a vague verb, unless
        ``allow_vague``) is a 422 naming the field; nothing is stored."""
        a = acct()
        draft = a.draft_request(body)
        if blocking := a.blocking(draft, allow_vague=body.allow_vague):
            return _field_errors([(i.field, i.message) for i in blocking])
        try:
            rec, draft, jobs = guarded(
                lambda: a.commit_request(org, body, redis() if body.schedule else None)
            )
        except ImportRejectedError as exc:
            return _field_errors([(e.field, e.reason) for e in exc.errors])
        except InvalidInputError as exc:
            field = str(exc).partition(": ")[0]
            return _field_errors(
                [(field if field in CommitRequest.model_fields else None, str(exc))]
            )
        out = {
            "commitment": rec.model_dump(mode="json", exclude={"kind"}),
            "draft": draft.as_dict(),
        }
        return JSONResponse({**out, "scheduled": jobs}, 201)

    @r.get("/commitments", responses=responses)
    def commitments(
        org: Org, learner_id: LearnerQ = None, status: StatusQ = None
    ) -> list[dict[str, Any]]:
        """The organization's commitments, soonest due first."""
        result: list[dict[str, Any]] = guarded(
            lambda: acct().commitments(org, learner_id=learner_id, status=status)
        )
        return result

    @r.patch("/commitments/{commitment_id}", responses={**responses, 404: _NOT_FOUND})
    def set_status(org: Org, commitment_id: CommitmentId, body: StatusRequest) -> Any:
        """Set a commitment's status (``done``, ``partly``, ``missed``, ``dropped``, ``open``)."""
        return guarded(lambda: acct().set_status(org, commitment_id, body))

    @r.post(
        "/commitments/{commitment_id}/checkins",
        status_code=201,
        responses={**responses, 404: _NOT_FOUND},
    )
    def checkin(org: Org, commitment_id: CommitmentId, body: CheckinRequest) -> Any:
        """Record a check-in by the learner (``self``) or their partner; a closing status
        (done, partly, missed, dropped) closes the commitment."""
        try:
            rec = guarded(lambda: acct().checkin_request(org, commitment_id, body))
        except ImportRejectedError as exc:
            return _field_errors([(e.field, e.reason) for e in exc.errors])
        return JSONResponse(rec.model_dump(mode="json", exclude={"kind"}), 201)

    @r.post("/followups", responses={**responses, 503: {"description": "No job queue."}})
    def followups(org: Org, body: FollowupRequest) -> dict[str, Any]:
        """Schedule the follow-ups of every open commitment (of one huddle, or all) on
        rq's scheduler, and keep a periodic sweep running (idempotent: call it again
        after a deploy or an outage)."""
        result: dict[str, Any] = guarded(lambda: acct().followups(redis(), org, body))
        return result

    @r.get("/risk", responses=responses)
    def risk(org: Org, cohort: Cohort = None) -> list[dict[str, object]]:
        """Drop-out risk of every current learner, riskiest first, with the reasons in words."""
        return [x.as_dict() for x in guarded(lambda: acct().risk(org, cohort=cohort))]

    def pairing_store(org: str) -> tuple[Store | None, str | None]:
        """The organization's record store, opened with the embedder it was indexed
        with (the matcher reads stored vectors only: no model is loaded), or why not."""
        if open_store is None:
            return None, "no record store is configured"
        try:
            store = open_store("")  # the records are in the database: any embedder id
            indexed_with = store.embedder_of(org)
            if indexed_with is None:
                return None, f"organization {org!r} has no records in the record store"
            return store.retagged(indexed_with), None  # the same client, not a second one
        except (HuddleAIError, OSError, ValueError) as exc:
            return None, f"record store: {str(exc).splitlines()[0] if str(exc) else exc!r}"

    @r.get("/health", responses=responses)
    def health(org: Org, cohort: Cohort = None, match: MatchQ = True) -> dict[str, object]:
        """Community health: reciprocity, isolated learners, time to first feedback,
        commitment completion, pairing suggestions for the isolated (through the partner
        matcher unless ``match=false``; ``pairing_degraded`` with a reason when the
        matcher could not pair them all and the most generous givers stood in)."""
        a = acct()
        if not match:
            plain: dict[str, object] = guarded(lambda: a.health(org, cohort=cohort).as_dict())
            return plain
        store, why = pairing_store(org)
        got = guarded(lambda: a.health(org, cohort=cohort, store=store))
        if why is not None and got.pairing_suggestions:
            got = replace(
                got,
                pairing_degraded=True,
                pairing_degraded_reason=f"{why} (paired with generous givers)",
            )
        result: dict[str, object] = got.as_dict()
        return result

    return r
