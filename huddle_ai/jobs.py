"""rq jobs: every operation as a top-level function of ids and plain JSON, and
the client side that enqueues them and reads them back.

Job functions hold no logic: each calls one :class:`HuddleAI` method on the
engine its worker process built once (:func:`bind`, called by ``worker.py``)
and returns a JSON-serialisable dict. Arguments, metadata and results are
stored with rq's JSON serializer, so no caller object is ever pickled.

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
import json
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, datetime
from typing import Any

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
from huddle_ai.formats import parse_jsonl
from huddle_ai.records import validate_org
from huddle_ai.webhooks import DeliveryError
from huddle_ai.webhooks import config as webhook_config

log = logging.getLogger(__name__)

__all__ = [
    "BULK",
    "INTERACTIVE",
    "OPS",
    "QUEUES",
    "WEBHOOKS",
    "Submitted",
    "bind",
    "cancel",
    "enqueue",
    "enqueue_delete_learner",
    "enqueue_delete_org",
    "enqueue_ingest",
    "enqueue_match",
    "enqueue_next_reviewers",
    "enqueue_partners",
    "enqueue_reindex",
    "enqueue_suggest",
    "failed",
    "is_transient",
    "requeue",
    "result",
    "status",
]

INTERACTIVE, BULK, WEBHOOKS = "interactive", "bulk", "webhooks"
QUEUES = (INTERACTIVE, WEBHOOKS, BULK)  # the order a worker serves them in
SERIALIZER = JSONSerializer

# -- the worker side: job functions -------------------------------------------

_engine: HuddleAI | None = None


def bind(hai: HuddleAI | None) -> None:
    """Give this process's job functions their engine (the worker does this once)."""
    global _engine
    _engine = hai


def _hai() -> HuddleAI:
    if _engine is None:
        raise ConfigurationError("no engine bound: run jobs with `huddle-ai worker`")
    return _engine


def _plain(value: Any) -> Any:
    """A JSON-serialisable dump of a library result."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _call(method: str, org: str, params: Mapping[str, Any]) -> dict[str, Any]:
    fn = getattr(_hai(), method, None)
    if fn is None:
        raise ConfigurationError(f"this huddle_ai has no HuddleAI.{method} yet")
    out = _plain(fn(org, **params))
    return out if isinstance(out, dict) else {"items": out}


def ingest_job(
    org: str, records: list[dict[str, Any]], skip_invalid: bool = False
) -> dict[str, Any]:
    parsed = parse_jsonl((json.dumps(r) for r in records), source="request")
    report = _hai().ingest(org, parsed, skip_invalid=skip_invalid)
    return report.as_dict()


def suggest_job(org: str, params: dict[str, Any]) -> dict[str, Any]:
    return _call("suggest", org, params)


def match_job(org: str, params: dict[str, Any]) -> dict[str, Any]:
    return _call("match_reviewers", org, params)


def partners_job(org: str, params: dict[str, Any]) -> dict[str, Any]:
    return _call("match_partners", org, params)


def next_reviewers_job(org: str, params: dict[str, Any]) -> dict[str, Any]:
    return _call("next_reviewers", org, params)


def delete_learner_job(org: str, learner_id: str) -> dict[str, Any]:
    # A retry after a crash mid-delete finds nothing left: that is success.
    try:
        return {"found": True, **_hai().delete_learner(org, learner_id).as_dict()}
    except NotFoundError:
        return {"found": False, "org": org, "learner_id": learner_id}


def delete_org_job(org: str) -> dict[str, Any]:
    try:
        _hai().delete_org(org)
    except NotFoundError:
        return {"found": False, "org": org}
    return {"found": True, "org": org}


def reindex_job(org: str) -> dict[str, Any]:
    return _call("reindex", org, {})


@dataclass(frozen=True)
class Op:
    """One kind of job: its function, queue and timeout (seconds)."""

    func: str
    queue: str
    timeout: int


OPS: dict[str, Op] = {
    "ingest": Op("huddle_ai.jobs.ingest_job", BULK, 1800),
    "suggest": Op("huddle_ai.jobs.suggest_job", INTERACTIVE, 180),
    "match": Op("huddle_ai.jobs.match_job", BULK, 900),
    "partners": Op("huddle_ai.jobs.partners_job", BULK, 900),
    "next_reviewers": Op("huddle_ai.jobs.next_reviewers_job", INTERACTIVE, 60),
    "delete_learner": Op("huddle_ai.jobs.delete_learner_job", BULK, 300),
    "delete_org": Op("huddle_ai.jobs.delete_org_job", BULK, 600),
    "reindex": Op("huddle_ai.jobs.reindex_job", BULK, 3600),
}


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
    cfg = webhook_config()
    queue = Queue(WEBHOOKS, connection=conn, serializer=SERIALIZER)
    # One delivery per event, even if the job's callback runs twice.
    with contextlib.suppress(DuplicateJobError):
        queue.enqueue_call(
            "huddle_ai.webhooks.deliver_job",
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
    op: str,
    org: str,
    args: Sequence[Any],
    *,
    idempotency_key: str | None = None,
    callback_url: str | None = None,
    timeout: int | None = None,
    retries: int = 3,
    backoff_s: int = 2,
    result_ttl: int = 86_400,
) -> Submitted:
    """Enqueue ``op`` for ``org``; the same idempotency key returns the same job."""
    validate_org(org)
    spec = OPS.get(op)
    if spec is None:
        raise InvalidInputError(f"unknown job kind {op!r}; one of {', '.join(OPS)}")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        raise InvalidInputError("idempotency key must be 1-200 characters")
    job_id = _job_id(org, op, idempotency_key)
    meta: dict[str, Any] = {"org": org, "op": op, "max_retries": retries}
    webhooks: dict[str, Any] = {}
    if callback_url is not None:
        meta["callback_url"] = callback_url
        webhooks = {
            "on_success": Callback("huddle_ai.jobs.job_succeeded"),
            "on_failure": Callback("huddle_ai.jobs.job_failed"),
        }
    queue = Queue(spec.queue, connection=conn, serializer=SERIALIZER)
    try:
        queue.enqueue_call(
            spec.func,
            args=[org, *args],
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


def enqueue(conn: Redis, op: str, org: str, args: Sequence[Any], **opts: Any) -> str:
    return submit(conn, op, org, args, **opts).job_id


def enqueue_ingest(
    conn: Redis,
    org: str,
    records: Sequence[Mapping[str, Any]],
    *,
    skip_invalid: bool = False,
    **opts: Any,
) -> str:
    """Ingest records (plain dicts in the JSONL import format); returns the job id."""
    return enqueue(conn, "ingest", org, [[dict(r) for r in records], skip_invalid], **opts)


def enqueue_suggest(conn: Redis, org: str, params: Mapping[str, Any], **opts: Any) -> str:
    """``params`` are the keyword arguments of :meth:`HuddleAI.suggest`."""
    return enqueue(conn, "suggest", org, [dict(params)], **opts)


def enqueue_match(conn: Redis, org: str, params: Mapping[str, Any], **opts: Any) -> str:
    """``params`` are the keyword arguments of :meth:`HuddleAI.match_reviewers`."""
    return enqueue(conn, "match", org, [dict(params)], **opts)


def enqueue_partners(conn: Redis, org: str, params: Mapping[str, Any], **opts: Any) -> str:
    return enqueue(conn, "partners", org, [dict(params)], **opts)


def enqueue_next_reviewers(conn: Redis, org: str, params: Mapping[str, Any], **opts: Any) -> str:
    return enqueue(conn, "next_reviewers", org, [dict(params)], **opts)


def enqueue_delete_learner(conn: Redis, org: str, learner_id: str, **opts: Any) -> str:
    return enqueue(conn, "delete_learner", org, [learner_id], **opts)


def enqueue_delete_org(conn: Redis, org: str, **opts: Any) -> str:
    return enqueue(conn, "delete_org", org, [], **opts)


def enqueue_reindex(conn: Redis, org: str, **opts: Any) -> str:
    return enqueue(conn, "reindex", org, [], **opts)


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
