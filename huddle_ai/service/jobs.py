"""rq jobs: every operation as a top-level function of its organization and
its request (JSON), and the client side that enqueues them and reads them back.

A job's argument is a request model of :mod:`huddle_ai.requests`, dumped to
JSON by :func:`submit` and validated again on the worker. One table
(:data:`OPS`) names each operation's request model, the typed function that
runs it on the engine, its queue and its timeout; :func:`run_job` dispatches
through it. Job functions hold no logic: each calls one :class:`HuddleAI`
method on the engine its worker built once and passed in as the first
argument (:class:`~huddle_ai.service.runtime.WorkerContext`), and returns a
JSON-serialisable dict. Arguments, metadata and results are stored with rq's
JSON serializer, so no caller object is ever pickled.

Queues: ``interactive`` (suggestions, rolling picks), ``bulk`` (ingest,
reindex, full matching, deletions) and ``webhooks`` (callback deliveries), so
a big import never starves interactive work.

Retries: a job is retried with exponential backoff only when it fails for a
transient reason (:func:`is_transient`: LLM 429/5xx surfaced as
:class:`TransientError`, lost connections to Chroma, Redis or the LLM, or a
worker that died mid-job). Invalid input is never retried. A failed job keeps
its reason in rq's failed registry and can be requeued.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Callback, Queue, Retry
from rq.exceptions import AbandonedJobError, DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.results import Result
from rq.serializers import JSONSerializer

from huddle_ai.engine import HuddleAI
from huddle_ai.errors import (
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    StoreError,
    TransientError,
)
from huddle_ai.records import validate_org
from huddle_ai.requests import (
    DeleteLearnerRequest,
    DeleteOrgRequest,
    IngestRequest,
    MatchRequest,
    NextReviewersRequest,
    PartnersRequest,
    ReindexRequest,
    Request,
    SuggestRequest,
    parse,
)
from huddle_ai.service.runtime import WorkerContext
from huddle_ai.service.webhooks import DeliveryError, DeliveryPolicy

log = logging.getLogger(__name__)

__all__ = [
    "BULK",
    "INTERACTIVE",
    "OPS",
    "QUEUES",
    "WEBHOOKS",
    "Op",
    "Submitted",
    "cancel",
    "enqueue",
    "failed",
    "is_transient",
    "op_of",
    "requeue",
    "result",
    "run_job",
    "status",
    "submit",
]

INTERACTIVE, BULK, WEBHOOKS = "interactive", "bulk", "webhooks"
QUEUES = (INTERACTIVE, WEBHOOKS, BULK)  # the order a worker serves them in
SERIALIZER = JSONSerializer

R = TypeVar("R", bound=Request)

# -- the worker side: one typed function per operation ---------------------------


def _ingest(hai: HuddleAI, org: str, req: IngestRequest) -> dict[str, Any]:
    return hai.ingest(org, req).as_dict()


def _suggest(hai: HuddleAI, org: str, req: SuggestRequest) -> dict[str, Any]:
    return hai.suggest(org, req).model_dump(mode="json")


def _match(hai: HuddleAI, org: str, req: MatchRequest) -> dict[str, Any]:
    return hai.match_reviewers(org, req).model_dump(mode="json")


def _partners(hai: HuddleAI, org: str, req: PartnersRequest) -> dict[str, Any]:
    return hai.match_partners(org, req).model_dump(mode="json")


def _next_reviewers(hai: HuddleAI, org: str, req: NextReviewersRequest) -> dict[str, Any]:
    return hai.next_reviewers(org, req).model_dump(mode="json")


def _delete_learner(hai: HuddleAI, org: str, req: DeleteLearnerRequest) -> dict[str, Any]:
    # A retry after a crash mid-delete finds nothing left: that is success.
    try:
        return {"found": True, **hai.delete_learner(org, req.learner_id).as_dict()}
    except NotFoundError:
        return {"found": False, "org": org, "learner_id": req.learner_id}


def _delete_org(hai: HuddleAI, org: str, req: DeleteOrgRequest) -> dict[str, Any]:
    try:
        hai.delete_org(org)
    except NotFoundError:
        return {"found": False, "org": org}
    return {"found": True, "org": org}


def _reindex(hai: HuddleAI, org: str, req: ReindexRequest) -> dict[str, Any]:
    return hai.reindex(org, force=req.force).as_dict()


@dataclass(frozen=True)
class Op(Generic[R]):
    """One kind of job: its request model, the function that runs it, its
    queue and its timeout (seconds)."""

    name: str
    request: type[R]
    run: Callable[[HuddleAI, str, R], dict[str, Any]]
    queue: str
    timeout: int

    def execute(self, hai: HuddleAI, org: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate the JSON request again (it crossed a process) and run it."""
        return self.run(hai, validate_org(org), parse(self.request, data))

    def dump(self, request: Request) -> dict[str, Any]:
        """The request as the JSON the job stores (fields of the model only)."""
        return request.model_dump(mode="json", include=set(self.request.model_fields))


OPS: dict[str, Op[Any]] = {
    op.name: op
    for op in (
        Op("ingest", IngestRequest, _ingest, BULK, 1800),
        Op("suggest", SuggestRequest, _suggest, INTERACTIVE, 180),
        Op("match", MatchRequest, _match, BULK, 900),
        Op("partners", PartnersRequest, _partners, BULK, 900),
        Op("next_reviewers", NextReviewersRequest, _next_reviewers, INTERACTIVE, 60),
        Op("delete_learner", DeleteLearnerRequest, _delete_learner, BULK, 300),
        Op("delete_org", DeleteOrgRequest, _delete_org, BULK, 600),
        Op("reindex", ReindexRequest, _reindex, BULK, 3600),
    )
}


def op_of(request: Request) -> Op[Any]:
    """The operation a request is for (an HTTP body is a subclass of its request)."""
    for cls in type(request).__mro__:
        for op in OPS.values():
            if op.request is cls:
                return op
    raise InvalidInputError(f"{type(request).__name__} is not a job request")


def run_job(ctx: WorkerContext, op: str, org: str, request: dict[str, Any]) -> dict[str, Any]:
    """The rq job of every operation: look ``op`` up in :data:`OPS` and run it."""
    spec = OPS.get(op)
    if spec is None:
        raise ConfigurationError(f"this worker has no job kind {op!r}; upgrade it")
    return spec.execute(ctx.engine, org, request)


def is_transient(exc: BaseException | None) -> bool:
    """Whether a failure is worth retrying (never for invalid input)."""
    if exc is None or isinstance(exc, InvalidInputError | NotFoundError | ConfigurationError):
        return False
    if isinstance(exc, DeliveryError):
        return exc.transient
    return isinstance(
        exc,
        TransientError
        | StoreError
        | AbandonedJobError
        | RedisConnectionError
        | RedisTimeoutError
        | httpx.TransportError
        | ConnectionError
        | TimeoutError,
    )


# -- webhooks: rq callbacks that hand the outcome to a delivery job ------------


def _enqueue_delivery(conn: Redis, job: Job, kind: str, result: Any, error: str | None) -> None:
    url = job.meta.get("callback_url")
    if not url:
        return
    org = str(job.meta.get("org"))
    event = {
        "id": f"{job.id}:{kind}",
        "type": f"job.{kind}",
        "job_id": job.id,
        "org": org,
        "op": job.meta.get("op"),
        "status": kind,
        "result": result,
        "error": error,
        "created_at": datetime.now(UTC).isoformat(),
    }
    cfg = DeliveryPolicy.from_json(job.meta.get("webhook"))
    queue = Queue(WEBHOOKS, connection=conn, serializer=SERIALIZER)
    # One delivery per event, even if the job's callback runs twice.
    with contextlib.suppress(DuplicateJobError):
        queue.enqueue_call(
            "huddle_ai.service.webhooks.deliver_job",
            args=[org, url, event],
            job_id=f"whk-{job.id}-{kind}",
            unique=True,
            timeout=int(cfg.timeout_s * 2) + 5,
            result_ttl=job.result_ttl if job.result_ttl and job.result_ttl > 0 else 86_400,
            meta={"org": org, "op": "webhook", "max_retries": cfg.retries},
            retry=Retry(max=cfg.retries, interval=backoff(cfg.retries, cfg.backoff_s))
            if cfg.retries
            else None,
        )


def job_succeeded(job: Job, connection: Redis, result: Any, *_: Any) -> None:
    """rq success callback: queue the signed ``job.finished`` delivery."""
    try:
        _enqueue_delivery(connection, job, "finished", result, None)
    except Exception:  # a webhook must never fail the job it reports on
        log.exception("could not queue the webhook of job %s", job.id)


def job_failed(job: Job, connection: Redis, exc_type: Any, exc: Any, *_: Any) -> None:
    """rq failure callback: queue ``job.failed`` once the job will not be retried."""
    if is_transient(exc) and job.retries_left:
        return
    try:
        reason = f"{type(exc).__name__}: {exc}" if exc is not None else "failed"
        _enqueue_delivery(connection, job, "failed", None, reason)
    except Exception:
        log.exception("could not queue the webhook of job %s", job.id)


# -- the client side -------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    job_id: str
    created: bool  # False when an idempotency key returned an existing job


def _job_id(org: str, op: str, key: str | None) -> str:
    if key is None:
        return f"hai-{uuid.uuid4().hex}"
    digest = hashlib.sha256(f"{org}\0{op}\0{key}".encode()).hexdigest()[:32]
    return f"hai-{digest}"


def backoff(retries: int, first_s: int) -> list[int]:
    """Exponential retry delays: first, 2*first, 4*first, ..."""
    return [first_s * 2**i for i in range(retries)]


def submit(
    conn: Redis,
    org: str,
    request: Request,
    *,
    idempotency_key: str | None = None,
    callback_url: str | None = None,
    webhook: DeliveryPolicy | None = None,
    timeout: int | None = None,
    retries: int = 3,
    backoff_s: int = 2,
    result_ttl: int = 86_400,
) -> Submitted:
    """Enqueue the operation ``request`` is for, in ``org``; the same idempotency
    key returns the same job. ``webhook`` is how the ``callback_url`` delivery
    is retried."""
    validate_org(org)
    spec = op_of(request)
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        raise InvalidInputError("idempotency key must be 1-200 characters")
    job_id = _job_id(org, spec.name, idempotency_key)
    meta: dict[str, Any] = {"org": org, "op": spec.name, "max_retries": retries}
    webhooks: dict[str, Any] = {}
    if callback_url is not None:
        meta["callback_url"] = callback_url
        meta["webhook"] = (webhook or DeliveryPolicy()).as_json()
        webhooks = {
            "on_success": Callback("huddle_ai.service.jobs.job_succeeded"),
            "on_failure": Callback("huddle_ai.service.jobs.job_failed"),
        }
    queue = Queue(spec.queue, connection=conn, serializer=SERIALIZER)
    try:
        queue.enqueue_call(
            "huddle_ai.service.jobs.run_job",
            args=[spec.name, org, spec.dump(request)],
            timeout=timeout or spec.timeout,
            result_ttl=result_ttl,
            ttl=result_ttl,
            job_id=job_id,
            meta=meta,
            retry=Retry(max=retries, interval=backoff(retries, backoff_s)) if retries else None,
            unique=True,
            **webhooks,
        )
    except DuplicateJobError:
        return Submitted(job_id, False)
    return Submitted(job_id, True)


def enqueue(
    conn: Redis,
    org: str,
    request: Request,
    *,
    idempotency_key: str | None = None,
    callback_url: str | None = None,
    webhook: DeliveryPolicy | None = None,
    timeout: int | None = None,
    retries: int = 3,
    backoff_s: int = 2,
    result_ttl: int = 86_400,
) -> str:
    """:func:`submit`, returning only the job id."""
    return submit(
        conn,
        org,
        request,
        idempotency_key=idempotency_key,
        callback_url=callback_url,
        webhook=webhook,
        timeout=timeout,
        retries=retries,
        backoff_s=backoff_s,
        result_ttl=result_ttl,
    ).job_id


_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")  # rq's id alphabet


def _fetch(conn: Redis, job_id: str, org: str | None) -> Job:
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise NotFoundError(
            f"job {job_id[:200]!r} not found (job ids are letters, digits, - and _)"
        )
    try:
        job = Job.fetch(job_id, connection=conn, serializer=SERIALIZER)
    except NoSuchJobError:
        raise NotFoundError(f"job {job_id!r} not found") from None
    # Another organization's job does not exist, as far as this caller can tell.
    if org is not None and job.meta.get("org") != org:
        raise NotFoundError(f"job {job_id!r} not found")
    return job


def _reason(job: Job) -> str | None:
    latest = job.latest_result()
    if latest is None or latest.type == Result.Type.SUCCESSFUL:
        return None
    text = (latest.exc_string or "").strip()
    return text.splitlines()[-1] if text else latest.type.name.lower()


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def status(conn: Redis, job_id: str, org: str | None = None) -> dict[str, Any]:
    """A job's state; ``result`` when finished, ``error`` (the reason) when failed."""
    job = _fetch(conn, job_id, org)
    state = job.get_status()
    max_retries = int(job.meta.get("max_retries", 0))
    out: dict[str, Any] = {
        "id": job.id,
        "op": job.meta.get("op"),
        "org": job.meta.get("org"),
        "queue": job.origin,
        "status": state.value,
        "retries": int(job.meta.get("retries", max_retries - (job.retries_left or 0))),
        "enqueued_at": _iso(job.enqueued_at),
        "started_at": _iso(job.started_at),
        "ended_at": _iso(job.ended_at),
        "result": None,
        "error": None,
    }
    if state == JobStatus.FINISHED:
        out["result"] = job.return_value(refresh=True)
    elif state in (JobStatus.FAILED, JobStatus.STOPPED):
        out["error"] = _reason(job)
    return out


def result(conn: Redis, job_id: str, org: str | None = None, *, wait: float = 0) -> dict[str, Any]:
    """Status with the result, waiting up to ``wait`` seconds for the job to end."""
    job = _fetch(conn, job_id, org)
    if wait > 0 and job.get_status() not in (JobStatus.FINISHED, JobStatus.FAILED):
        job.latest_result(timeout=max(1, int(wait)))
    return status(conn, job_id, org)


def cancel(conn: Redis, job_id: str, org: str | None = None) -> dict[str, Any]:
    """Cancel a queued or scheduled job (a running one is stopped)."""
    from rq.command import send_stop_job_command

    job = _fetch(conn, job_id, org)
    state = job.get_status()
    if state == JobStatus.STARTED:
        send_stop_job_command(conn, job.id, serializer=SERIALIZER)
    elif state in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        job.cancel()
    return status(conn, job_id, org)


def failed(conn: Redis, queues: Sequence[str] = QUEUES) -> list[dict[str, Any]]:
    """Failed jobs with their reasons, newest last."""
    out = []
    for name in queues:
        registry = FailedJobRegistry(name, connection=conn, serializer=SERIALIZER)
        for job_id in registry.get_job_ids():
            try:
                out.append(status(conn, job_id))
            except NotFoundError:
                continue
    return out


def requeue(conn: Redis, job_id: str | None = None, queues: Sequence[str] = QUEUES) -> list[str]:
    """Requeue one failed job, or all of them; returns the requeued ids."""
    done = []
    for name in queues:
        registry = FailedJobRegistry(name, connection=conn, serializer=SERIALIZER)
        ids = registry.get_job_ids() if job_id is None else [job_id]
        for jid in ids:
            if jid in registry:
                job = _fetch(conn, jid, None)
                # A requeued job gets its retry budget back.
                job.retries_left = int(job.meta.get("max_retries", 0)) or None
                job.meta.pop("retries", None)
                job.save()
                registry.requeue(jid)
                done.append(jid)
    if job_id is not None and not done:
        raise NotFoundError(f"job {job_id!r} is not in a failed registry")
    return done
