"""rq jobs of the accountability loop: top-level functions of ids and JSON.

Like every job on the huddle_ai queues they take the worker's context first
(:class:`~huddle_ai.service.runtime.WorkerContext`: the engine the worker built, with
its database, and the worker's webhook settings); the logic lives in
:mod:`huddle_ai.accountability.followups`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rq import get_current_job

from huddle_ai.accountability.clock import ManualClock, SystemClock
from huddle_ai.accountability.followups import FollowupPolicy, WebhookSender, run_step
from huddle_ai.accountability.periodic import tick
from huddle_ai.accountability.service import Accountability
from huddle_ai.errors import ConfigurationError
from huddle_ai.service.runtime import WorkerContext

__all__ = ["followup_job", "sweep_job", "sweep_tick_job"]


def _service(
    ctx: WorkerContext, now: datetime, policy: FollowupPolicy
) -> tuple[Accountability, WebhookSender]:
    acct = Accountability(ctx.engine.database, clock=ManualClock(now), policy=policy)
    job = get_current_job()
    if job is None:
        raise ConfigurationError("accountability jobs run inside an rq worker")
    cfg = ctx.webhooks
    sender = WebhookSender(
        job.connection,
        queue=acct.policy.webhook_queue,
        retries=cfg.retries,
        backoff_s=cfg.backoff_s,
        timeout_s=cfg.timeout_s,
    )
    return acct, sender


def followup_job(
    ctx: WorkerContext,
    org: str,
    commitment_id: str,
    step: str,
    due_at: str,
    at: str,
    policy: dict[str, Any],
) -> dict[str, Any]:
    """One scheduled step, carried out as of its scheduled time ``at``."""
    now = datetime.fromisoformat(at)
    acct, sender = _service(ctx, now, FollowupPolicy.from_json(policy))
    sent = run_step(
        acct.db,
        sender,
        org,
        commitment_id,
        step,
        datetime.fromisoformat(due_at),
        now=now,
        risk=acct.risk_in,
    )
    return {"commitment_id": commitment_id, "step": step, "sent": [e["type"] for e in sent]}


def sweep_job(ctx: WorkerContext, org: str, now: str, policy: dict[str, Any]) -> dict[str, Any]:
    """Every step due by ``now`` that has not happened (catch-up after an outage)."""
    acct, sender = _service(ctx, datetime.fromisoformat(now), FollowupPolicy.from_json(policy))
    sent = acct.sweep(sender, org)
    return {"org": org, "sent": [e["type"] for e in sent]}


def sweep_tick_job(
    ctx: WorkerContext, org: str, at: str, every_s: float, policy: dict[str, Any]
) -> dict[str, Any]:
    """One tick of the periodic sweep: queue the next tick, then sweep as of ``at``."""
    when = datetime.fromisoformat(at)
    acct, sender = _service(ctx, when, FollowupPolicy.from_json(policy))
    done = tick(
        acct.db,
        sender.conn,
        sender,
        org,
        at=when,
        every=timedelta(seconds=every_s),
        policy=acct.policy,
        risk=acct.risk_in,
        clock=SystemClock(),
    )
    return {**done, "sent": [e["type"] for e in done["sent"]]}
