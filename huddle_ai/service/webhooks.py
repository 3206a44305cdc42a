"""Signed webhook deliveries: a job's outcome POSTed to the callback URL given
at enqueue time.

The body is JSON. The header ``X-Huddle-Signature: t=<unix seconds>,v1=<hex>``
carries HMAC-SHA256 over ``f"{t}.{delivery}.".encode() + body``, where
``delivery`` is the ``X-Huddle-Delivery`` header (the event id, also the
body's ``id``), keyed with the organization's webhook secret:
``org_secret(HUDDLE_AI_WEBHOOK_SECRET, org)``, so one organization's receiver
can never forge another's callbacks, and a replayed body cannot pass under
another delivery id to slip past de-duplication. A receiver recomputes the
HMAC, compares in constant time and rejects a timestamp more than 5 minutes
old (:func:`verify` does all three).

Delivery runs as its own rq job on the ``webhooks`` queue, retried with
exponential backoff on connection errors, timeouts, 408/425/429 and 5xx. A
delivery that fails for good is recorded in Redis (:func:`failed_deliveries`).
The worker's :class:`WebhookConfig` (the secret) reaches :func:`deliver_job`
through the worker context; how often to retry travels with each job
(:class:`DeliveryPolicy`), so whoever queues a delivery needs no secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from redis import Redis
from rq import get_current_job

from huddle_ai.errors import HuddleAIError

__all__ = [
    "DELIVERY_HEADER",
    "FAILED_KEY",
    "HEADER",
    "DeliveryError",
    "DeliveryPolicy",
    "HasWebhookConfig",
    "WebhookConfig",
    "deliver_job",
    "event_body",
    "failed_deliveries",
    "org_secret",
    "sign",
    "signature_header",
    "verify",
]

HEADER = "X-Huddle-Signature"
DELIVERY_HEADER = "X-Huddle-Delivery"
FAILED_KEY = "hai:webhooks:failed"
_KEEP_FAILED = 10_000
_RETRY_STATUS = {408, 425, 429}


class DeliveryError(HuddleAIError):
    """A webhook delivery failed; ``transient`` says whether a retry may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class DeliveryPolicy:
    """How long one attempt may take and how often a delivery is retried."""

    timeout_s: float = 10.0
    retries: int = 6
    backoff_s: int = 2

    def as_json(self) -> dict[str, Any]:
        return {"timeout_s": self.timeout_s, "retries": self.retries, "backoff_s": self.backoff_s}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DeliveryPolicy:
        if not data:
            return cls()
        return cls(
            timeout_s=float(data["timeout_s"]),
            retries=int(data["retries"]),
            backoff_s=int(data["backoff_s"]),
        )


@dataclass(frozen=True)
class WebhookConfig:
    """What a worker delivers with: the master secret and its delivery policy."""

    secret: str | None
    timeout_s: float = 10.0
    retries: int = 6
    backoff_s: int = 2

    @property
    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(self.timeout_s, self.retries, self.backoff_s)


class HasWebhookConfig(Protocol):
    """What :func:`deliver_job` needs of the worker context."""

    @property
    def webhooks(self) -> WebhookConfig: ...


def org_secret(master: str, org: str) -> bytes:
    """The signing key of one organization, derived from the master secret."""
    return hmac.new(master.encode(), f"huddle-ai webhook {org}".encode(), hashlib.sha256).digest()


def sign(key: bytes, timestamp: int, delivery: str, body: bytes) -> str:
    """HMAC-SHA256 over ``f"{timestamp}.{delivery}."`` and the body."""
    if "." in delivery:
        raise ValueError("a delivery id has no '.'")
    payload = f"{timestamp}.{delivery}.".encode() + body
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def signature_header(key: bytes, body: bytes, delivery: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={sign(key, t, delivery, body)}"


def verify(key: bytes, header: str, body: bytes, delivery: str, *, tolerance_s: int = 300) -> bool:
    """True if ``header`` signs ``body`` and the ``delivery`` id with ``key`` and is at
    most ``tolerance_s`` old."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
        expected = sign(key, t, delivery, body)
    except (KeyError, ValueError):
        return False
    if abs(time.time() - t) > tolerance_s:
        return False
    return hmac.compare_digest(expected, parts.get("v1", ""))


def event_body(event: dict[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _record_failure(conn: Redis, org: str, url: str, event: dict[str, Any], reason: str) -> None:
    entry = {
        "event_id": event.get("id"),
        "job_id": event.get("job_id"),
        "org": org,
        "url": url,
        "reason": reason,
        "failed_at": datetime.now(UTC).isoformat(),
    }
    with conn.pipeline() as pipe:
        pipe.lpush(FAILED_KEY, json.dumps(entry))
        pipe.ltrim(FAILED_KEY, 0, _KEEP_FAILED - 1)
        pipe.execute()


def failed_deliveries(
    conn: Redis, org: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Deliveries that failed for good, newest first."""
    out = []
    for raw in conn.lrange(FAILED_KEY, 0, -1):
        entry = json.loads(raw)
        if org is None or entry.get("org") == org:
            out.append(entry)
            if len(out) >= limit:
                break
    return out


def _attempt(config: WebhookConfig, org: str, url: str, event: dict[str, Any]) -> int:
    if not config.secret:
        raise DeliveryError("no HUDDLE_AI_WEBHOOK_SECRET configured on the worker", transient=False)
    body = event_body(event)
    delivery = str(event.get("id"))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "huddle-ai-webhooks",
        HEADER: signature_header(org_secret(config.secret, org), body, delivery),
        "X-Huddle-Event": str(event.get("type")),
        DELIVERY_HEADER: delivery,
    }
    try:
        reply = httpx.post(url, content=body, headers=headers, timeout=config.timeout_s)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{url}: {type(exc).__name__}: {exc}", transient=True) from exc
    if 200 <= reply.status_code < 300:
        return reply.status_code
    transient = reply.status_code >= 500 or reply.status_code in _RETRY_STATUS
    raise DeliveryError(f"{url} answered HTTP {reply.status_code}", transient=transient)


def deliver_job(ctx: HasWebhookConfig, org: str, url: str, event: dict[str, Any]) -> dict[str, Any]:
    """The rq job that POSTs one signed event; raises (to be retried) on failure."""
    job = get_current_job()
    try:
        code = _attempt(ctx.webhooks, org, url, event)
    except DeliveryError as exc:
        last = job is None or not job.retries_left
        if job is not None and (last or not exc.transient):
            _record_failure(job.connection, org, url, event, str(exc))
        raise
    return {"delivered": True, "status_code": code, "event_id": event.get("id")}
