"""The HTTP API (FastAPI). It is thin: it authenticates, validates, enqueues a
job and reads job results; the work happens in the workers.

API keys belong to one organization each and are kept only as SHA-256
hashes. A key for organization A gets 403 on organization B's paths and 404
on B's jobs (they do not exist, as far as A can tell). The keys file is
re-read when it changes, so a new key works without a restart.

Input never causes a 5xx: bodies are bounded and strict JSON
(:mod:`huddle_ai.service.limits`), invalid bodies and records get 422 with the
record and field named, and record imports are checked synchronously,
references included (against the body and the organization's stored
records), so a rejected import enqueues nothing.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from huddle_ai import __version__
from huddle_ai.errors import (
    HuddleAIError,
    InvalidInputError,
    NotFoundError,
)
from huddle_ai.index.database import Database, resolve_url
from huddle_ai.index.ingest import StoredIds, check
from huddle_ai.index.ingest import parsed_from as _parsed_from
from huddle_ai.index.store import Store
from huddle_ai.records import Record
from huddle_ai.requests import (
    DeleteLearnerRequest,
    IngestRequest,
    MatchRequest,
    NextReviewersRequest,
    PartnersRequest,
    SuggestRequest,
)
from huddle_ai.requests import Request as OperationRequest
from huddle_ai.service import jobs, webhooks
from huddle_ai.service.keys import Caller, KeyRing, Org, hash_key
from huddle_ai.service.limits import RequestLimits, record_errors
from huddle_ai.settings import Settings

__all__ = ["KeyRing", "create_app", "hash_key", "stored_ids"]

log = logging.getLogger(__name__)


def stored_ids(settings: Settings) -> StoredIds:
    """What the API checks references against: the record database the workers write to
    (one engine for the app; no connection until the first look-up)."""
    database = Database(resolve_url(settings.database_url, settings.data_dir))
    if settings.chroma_url:
        url = settings.chroma_url
        return StoredIds(lambda embedder: Store.server(url, embedder, database))
    data_dir = settings.data_dir
    return StoredIds(lambda embedder: Store.embedded(data_dir, embedder, database))


# -- request and response bodies ------------------------------------------------


class _Callback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    callback_url: AnyHttpUrl | None = Field(
        None, description="POSTed the signed outcome when the job ends."
    )


# Each body is its operation's request (huddle_ai.requests, the job's argument)
# plus the callback URL; the request's own rules are checked here, before anything
# is enqueued.


class IngestBody(IngestRequest, _Callback):
    records: list[Record] = Field(min_length=1, max_length=10_000)


class SuggestBody(SuggestRequest, _Callback):
    pass


class MatchBody(MatchRequest, _Callback):
    pass


class PartnersBody(PartnersRequest, _Callback):
    pass


class NextReviewersBody(NextReviewersRequest, _Callback):
    pass


class Accepted(BaseModel):
    job_id: str
    status_url: str
    duplicate: bool = Field(description="True when the idempotency key named an existing job.")


class JobView(BaseModel):
    id: str
    op: str | None
    org: str | None
    queue: str
    status: str
    retries: int
    enqueued_at: str | None
    started_at: str | None
    ended_at: str | None
    result: Any = None
    error: str | None = None


IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


# -- the app ------------------------------------------------------------------------


JobId = Annotated[str, PathParam(max_length=200)]
LearnerId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")]


def create_app(
    settings: Settings,
    *,
    conn: Redis,
    keys: KeyRing | None = None,
    stored: StoredIds | None = None,
) -> FastAPI:
    """The API over one Redis connection; keys default to the settings' keys and
    reference checks to the settings' store (opened per import, never at start)."""
    ring = keys if keys is not None else KeyRing.from_settings(settings)
    references = stored if stored is not None else stored_ids(settings)
    app = FastAPI(
        title="huddle_ai",
        version=__version__,
        description="Feedback suggestions, peer matching and ingest as background jobs.",
    )

    app.state.keys = ring

    delivery = webhooks.DeliveryPolicy(
        timeout_s=settings.webhook_timeout_s,
        retries=settings.webhook_retries,
        backoff_s=settings.webhook_backoff_s,
    )

    def submit(
        org: str, request: OperationRequest, key: str | None, callback: _Callback | None = None
    ) -> JSONResponse:
        url = str(callback.callback_url) if callback and callback.callback_url else None
        if url and settings.webhook_secret is None:
            raise HTTPException(422, "callback_url needs HUDDLE_AI_WEBHOOK_SECRET to be set")
        done = jobs.submit(
            conn,
            org,
            request,
            idempotency_key=key,
            callback_url=url,
            webhook=delivery,
            retries=settings.job_retries,
            backoff_s=settings.job_backoff_s,
            result_ttl=settings.job_result_ttl_s,
        )
        out = Accepted(
            job_id=done.job_id, status_url=f"/v1/jobs/{done.job_id}", duplicate=not done.created
        )
        return JSONResponse(out.model_dump(), 202 if done.created else 200)

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def _redis_down(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "the job queue is unavailable; retry shortly"}, 503)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 404)

    @app.exception_handler(InvalidInputError)
    async def _invalid(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 422)

    @app.exception_handler(HuddleAIError)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        # the store or the configuration failed, not the request
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": f"temporarily unavailable: {exc}"}, 503)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Liveness plus the queue depths; 503 when Redis is unreachable."""
        from rq import Queue, Worker

        depth = {q: Queue(q, connection=conn).count for q in jobs.QUEUES}
        return {"status": "ok", "queues": depth, "workers": Worker.count(connection=conn)}

    responses: dict[int | str, dict[str, Any]] = {
        200: {"model": Accepted, "description": "The idempotency key named an existing job."},
        401: {"description": "Missing or unknown API key."},
        403: {"description": "The key is for another organization."},
        413: {"description": "Body too large."},
    }

    @app.post(
        "/v1/orgs/{org}/records", status_code=202, response_model=Accepted, responses=responses
    )
    def ingest(org: Org, body: IngestBody, idempotency_key: IdemKey = None) -> JSONResponse:
        """Ingest records (the JSONL import format) idempotently.

        Checked before anything is enqueued: each record, duplicate ids, and
        references (a solution's huddle and learner, a feedback's solution), which
        must be in the body or stored for the organization; unless ``skip_invalid``,
        any problem is a 422 naming the record and field.
        """
        if not body.skip_invalid:
            _, errors = check(_parsed_from(body.records), references.lookup(org))
            if errors:
                return JSONResponse({"detail": record_errors(errors)}, 422)
        return submit(org, body, idempotency_key, body)

    @app.post(
        "/v1/orgs/{org}/suggestions", status_code=202, response_model=Accepted, responses=responses
    )
    def suggest(org: Org, body: SuggestBody, idempotency_key: IdemKey = None) -> JSONResponse:
        """Draft feedback for a stored solution or for new work."""
        return submit(org, body, idempotency_key, body)

    @app.post(
        "/v1/orgs/{org}/matches", status_code=202, response_model=Accepted, responses=responses
    )
    def match(org: Org, body: MatchBody, idempotency_key: IdemKey = None) -> JSONResponse:
        """Assign reviewers to every solution of a huddle."""
        return submit(org, body, idempotency_key, body)

    @app.post(
        "/v1/orgs/{org}/partners", status_code=202, response_model=Accepted, responses=responses
    )
    def partners(org: Org, body: PartnersBody, idempotency_key: IdemKey = None) -> JSONResponse:
        """Group learners into accountability or learning partners."""
        return submit(org, body, idempotency_key, body)

    @app.post(
        "/v1/orgs/{org}/next-reviewers",
        status_code=202,
        response_model=Accepted,
        responses=responses,
    )
    def next_reviewers(
        org: Org, body: NextReviewersBody, idempotency_key: IdemKey = None
    ) -> JSONResponse:
        """Who should review this solution now (rolling pick)."""
        return submit(org, body, idempotency_key, body)

    @app.delete(
        "/v1/orgs/{org}/learners/{learner_id}",
        status_code=202,
        response_model=Accepted,
        responses=responses,
    )
    def delete_learner(org: Org, learner_id: LearnerId) -> JSONResponse:
        """Delete a learner, their solutions and the feedback they wrote or received."""
        return submit(org, DeleteLearnerRequest(learner_id=learner_id), None)

    @app.get(
        "/v1/jobs/{job_id}",
        response_model=JobView,
        responses={404: {"description": "No such job for this organization."}},
    )
    def job(job_id: JobId, caller: Caller) -> dict[str, Any]:
        """A job's status, its result when finished, its reason when failed."""
        return jobs.status(conn, job_id, org=caller)

    @app.delete("/v1/jobs/{job_id}", response_model=JobView)
    def cancel(job_id: JobId, caller: Caller) -> dict[str, Any]:
        """Cancel a queued job, or stop a running one."""
        return jobs.cancel(conn, job_id, org=caller)

    @app.get("/v1/orgs/{org}/webhooks/failed")
    def webhooks_failed(org: Org) -> list[dict[str, Any]]:
        """Callbacks that could not be delivered, newest first."""
        return webhooks.failed_deliveries(conn, org)

    from huddle_ai.accountability.api import router as accountability_router

    app.include_router(accountability_router(settings, conn=conn, open_store=references.open))

    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        read_timeout_s=settings.http_read_timeout_s,
        max_header_bytes=settings.max_header_bytes,
    )
    return app
