"""The periodic sweep: a self-rescheduling rq job that, every ``every``, carries
out each follow-up step whose time has come (commitments coming due, missed
commitments and their silent partners; :func:`~huddle_ai.accountability.followups.sweep`).

Ticks sit on a grid (multiples of ``every`` since the epoch) and a tick's job
id is derived from its organization, time and period, so the chain cannot
fork: a tick run twice (a retry, a second worker) queues the same next tick,
and the sweep itself sends nothing twice (each step is recorded in the
database with the change it makes). The next tick is queued *before* the
sweep runs, so a failing sweep never ends the chain; the chain lives in
Redis's scheduled-job registry, so it outlives any worker. A worker that was
down for several periods catches up with one tick at the latest grid point,
not one per missed period. :func:`start_sweeps` (re)starts a chain and is
idempotent: call it on every deploy.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from huddle_ai.accountability.clock import Clock
from huddle_ai.accountability.followups import FollowupPolicy, RiskFn, WebhookSender, sweep
from huddle_ai.errors import InvalidInputError
from huddle_ai.index.database import Database
from huddle_ai.records import validate_org

__all__ = ["TICK_JOB", "next_tick", "schedule_tick", "scheduled_ticks", "start_sweeps", "tick"]

TICK_JOB = "huddle_ai.accountability.jobs.sweep_tick_job"
_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday: daily and weekly grids start on it
MIN_EVERY = timedelta(minutes=1)


def _grid(at: datetime, every: timedelta) -> datetime:
    """The latest grid point at or before ``at``."""
    return _EPOCH + every * ((at - _EPOCH) // every)


def next_tick(at: datetime, every: timedelta, wall: datetime) -> datetime:
    """The tick after the one at ``at``: the next grid point, or, when that is
    more than a period behind the wall clock, the latest grid point (catch up
    once, not once per missed period)."""
    nxt = _grid(at, every) + every
    if nxt <= wall - every:
        nxt = _grid(wall, every)
    return nxt


def _tick_id(org: str, at: datetime, every: timedelta) -> str:
    raw = f"{org}\0{at.astimezone(UTC).isoformat()}\0{every.total_seconds()}"
    return "acct-sweep-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def schedule_tick(
    conn: Redis, org: str, at: datetime, every: timedelta, policy: FollowupPolicy
) -> str:
    """Put the tick at ``at`` on rq's scheduler (a no-op when it is there already)."""
    job_id = _tick_id(org, at, every)
    queue = Queue(policy.queue, connection=conn, serializer=JSONSerializer)
    with contextlib.suppress(DuplicateJobError):
        queue.enqueue_at(
            at,
            TICK_JOB,
            org,
            at.isoformat(),
            every.total_seconds(),
            policy.as_json(),
            job_id=job_id,
            unique=True,
            meta={"org": org, "op": "followup.tick"},
            result_ttl=int(max(every.total_seconds() * 3, 3600)),
        )
    return job_id


def start_sweeps(
    conn: Redis, org: str, *, every: timedelta, policy: FollowupPolicy, now: datetime
) -> str:
    """Start (or keep) the chain of sweeps of ``org``: its first tick is the
    latest grid point, so it runs at once and a restart finds the same job."""
    validate_org(org)
    if every < MIN_EVERY:
        raise InvalidInputError(f"every: a sweep period is at least {MIN_EVERY}, got {every}")
    return schedule_tick(conn, org, _grid(now, every), every, policy)


def scheduled_ticks(conn: Redis, org: str, policy: FollowupPolicy) -> list[str]:
    """Ids of the ticks of ``org`` waiting on the scheduler."""
    queue = Queue(policy.queue, connection=conn, serializer=JSONSerializer)
    registry = ScheduledJobRegistry(queue=queue)  # type: ignore[no-untyped-call]
    out = []
    for job_id in registry.get_job_ids():
        job = queue.fetch_job(job_id)
        if job is not None and job.func_name == TICK_JOB and job.meta.get("org") == org:
            out.append(job_id)
    return out


def tick(
    db: Database,
    conn: Redis,
    sender: WebhookSender | None,
    org: str,
    *,
    at: datetime,
    every: timedelta,
    policy: FollowupPolicy,
    risk: RiskFn,
    clock: Clock,
) -> dict[str, Any]:
    """One sweep as of ``at`` (the tick's own time, so a late tick decides as it
    would have on time), after queueing the next tick (``clock`` is the wall clock)."""
    nxt = next_tick(at, every, clock.now())
    schedule_tick(conn, org, nxt, every, policy)
    sent = sweep(db, sender, org, now=at, policy=policy, risk=risk)
    return {"org": org, "at": at.isoformat(), "next": nxt.isoformat(), "sent": sent}
