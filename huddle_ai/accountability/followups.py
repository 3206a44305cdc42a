"""Follow-ups: what happens when a commitment comes due and when it is missed,
scheduled on rq's own scheduler and delivered as signed webhooks.

Two steps per commitment and due date:
- ``due`` (``remind_before`` ahead of the due time): ``commitment.due`` and a
  ``checkin.requested`` to the learner and, when there is one, to their
  accountability partner;
- ``missed`` (``grace`` after it): a commitment still open is marked missed,
  ``commitment.missed`` goes to the facilitator, and ``learner.at_risk`` with
  the learner's risk score and its reasons (a silent partner is one of them);
- ``partner`` (``partner_grace`` after it, found by :func:`sweep` only): a
  partner who has not checked in on a commitment that is not dropped, whether
  the learner kept it or not, is reported to the facilitator as
  ``partner.silent``, once per partner and commitment.

Each step happens once: it is recorded in the database (``followup``) in the
same transaction that changes the commitment, and each webhook delivery job's
id is derived from the commitment, step and recipient, so a step run twice (a
retried job, a sweep after a restart) sends nothing twice. Scheduled jobs live
in Redis, so they survive worker restarts; :func:`sweep` catches up anything
a lost Redis forgot.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.serializers import JSONSerializer
from sqlalchemy.orm import Session

from huddle_ai.accountability.risk import LearnerRisk
from huddle_ai.index.database import Database
from huddle_ai.index.database import accountability as q
from huddle_ai.index.database.models import Commitment

__all__ = [
    "EVENT_TYPES",
    "PARTNER_STEP",
    "FollowupPolicy",
    "WebhookSender",
    "enqueue_sweep",
    "partner_step_key",
    "run_partner_step",
    "run_step",
    "schedule",
    "step_time",
    "sweep",
]

EVENT_TYPES = (
    "commitment.due",
    "commitment.missed",
    "checkin.requested",
    "learner.at_risk",
    "partner.silent",
)
STEPS = ("due", "missed")  # scheduled per commitment; the partner step is the sweep's
PARTNER_STEP = "partner.silent"
RiskFn = Callable[[Session, str, str, datetime], LearnerRisk]


@dataclass(frozen=True)
class FollowupPolicy:
    remind_before: timedelta = timedelta(hours=24)
    grace: timedelta = timedelta(hours=48)
    partner_grace: timedelta = timedelta(hours=48)  # after the due date, for partners
    queue: str = "bulk"  # where follow-up jobs run
    webhook_queue: str = "webhooks"

    def as_json(self) -> dict[str, Any]:
        return {
            "remind_before_s": self.remind_before.total_seconds(),
            "grace_s": self.grace.total_seconds(),
            "partner_grace_s": self.partner_grace.total_seconds(),
            "queue": self.queue,
            "webhook_queue": self.webhook_queue,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FollowupPolicy:
        return cls(
            remind_before=timedelta(seconds=float(data["remind_before_s"])),
            grace=timedelta(seconds=float(data["grace_s"])),
            # jobs queued before partner_grace existed carry none: the default
            partner_grace=timedelta(seconds=float(data.get("partner_grace_s", 48 * 3600))),
            queue=str(data["queue"]),
            webhook_queue=str(data["webhook_queue"]),
        )


def enqueue_sweep(conn: Redis, org: str, now: datetime, policy: FollowupPolicy) -> str:
    """Queue a catch-up sweep as of ``now`` (e.g. from cron, or after an outage)."""
    queue = Queue(policy.queue, connection=conn, serializer=JSONSerializer)
    job = queue.enqueue_call(
        "huddle_ai.accountability.jobs.sweep_job",
        args=[org, now.isoformat(), policy.as_json()],
        meta={"org": org, "op": "followup.sweep"},
    )
    return str(job.id)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def step_time(due_at: datetime, step: str, policy: FollowupPolicy) -> datetime:
    return due_at - policy.remind_before if step == "due" else due_at + policy.grace


def _step_key(step: str, due_at: datetime) -> str:
    return f"{step}@{due_at.strftime('%Y%m%dT%H%M%S')}"


def partner_step_key(partner_id: str) -> str:
    """The partner step's key: once per partner and commitment, whatever the due date."""
    return f"{PARTNER_STEP}:{_digest(partner_id)[:24]}"


class WebhookSender:
    """Queues one signed delivery (``huddle_ai.service.webhooks.deliver_job``) per event;
    the event id is the delivery id and the job id, so a repeat is a no-op."""

    def __init__(
        self,
        conn: Redis,
        *,
        queue: str = "webhooks",
        retries: int = 6,
        backoff_s: int = 2,
        timeout_s: float = 10.0,
    ) -> None:
        self.conn = conn
        self.queue = Queue(queue, connection=conn, serializer=JSONSerializer)
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s

    def send(self, org: str, url: str, event: dict[str, Any]) -> bool:
        """Queue the delivery; False if this event was queued before."""
        retry = (
            Retry(max=self.retries, interval=[self.backoff_s * 2**i for i in range(self.retries)])
            if self.retries
            else None
        )
        try:
            self.queue.enqueue_call(
                "huddle_ai.service.webhooks.deliver_job",
                args=[org, url, event],
                job_id=f"whk-{event['id']}",
                unique=True,
                timeout=int(self.timeout_s * 2) + 5,
                result_ttl=86_400,
                meta={"org": org, "op": "webhook", "max_retries": self.retries},
                retry=retry,
            )
        except DuplicateJobError:
            return False
        return True


def commitment_json(c: Commitment) -> dict[str, Any]:
    """A commitment as JSON: webhook payloads and API responses alike."""
    return {
        "id": c.id,
        "learner_id": c.learner_id,
        "huddle_id": c.huddle_id,
        "solution_id": c.solution_id,
        "text": c.text,
        "due_at": c.due_at.isoformat(),
        "partner_id": c.partner_id,
        "status": c.status,
    }


def _event(
    org: str,
    kind: str,
    c: Commitment,
    step: str,
    role: str,
    recipient_id: str | None,
    at: datetime,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": "acct-" + _digest(org, c.id, step, kind, role),
        "type": kind,
        "org": org,
        "created_at": at.isoformat(),
        "recipient": {"role": role, "learner_id": recipient_id},
        "commitment": commitment_json(c),
        **extra,
    }


def run_step(
    db: Database,
    sender: WebhookSender | None,
    org: str,
    commitment_id: str,
    step: str,
    due_at: datetime,
    *,
    now: datetime,
    risk: RiskFn,
) -> list[dict[str, Any]]:
    """Carry out one step as of ``now``; returns the events sent (none when the
    step was done before, the commitment was closed or its due date moved)."""
    events: list[dict[str, Any]] = []
    with db.session() as s:
        c = q.get_commitment(s, org, commitment_id)
        if c is None or c.due_at != due_at or c.status != "open":
            return []
        if not q.mark_step(s, org, commitment_id, _step_key(step, due_at), now):
            return []
        key = _step_key(step, due_at)
        if step == "due":
            events.append(_event(org, "commitment.due", c, key, "learner", c.learner_id, now))
            events.append(
                _event(org, "checkin.requested", c, key, "learner", c.learner_id, now, reason="due")
            )
            if c.partner_id:
                events.append(
                    _event(
                        org,
                        "checkin.requested",
                        c,
                        key,
                        "partner",
                        c.partner_id,
                        now,
                        reason="partner_due",
                        about_learner_id=c.learner_id,
                    )
                )
        else:
            checkins = q.checkins_of(s, org, commitment_id)
            partner_silent = bool(c.partner_id) and not any(k.author == "partner" for k in checkins)
            q.set_status(s, org, commitment_id, "missed")
            c.status = "missed"
            s.flush()
            events.append(
                _event(
                    org,
                    "commitment.missed",
                    c,
                    key,
                    "facilitator",
                    None,
                    now,
                    partner_silent=partner_silent,
                )
            )
            r = risk(s, org, c.learner_id, now)
            reasons = list(r.reasons)
            if partner_silent:
                reasons.append(f"partner {c.partner_id} did not check in")
            events.append(
                _event(
                    org,
                    "learner.at_risk",
                    c,
                    key,
                    "facilitator",
                    None,
                    now,
                    learner_id=c.learner_id,
                    risk={
                        "score": round(r.score, 4),
                        "method": r.method,
                        "reasons": reasons,
                        "explanation": ", ".join(reasons),
                    },
                    partner_silent=partner_silent,
                )
            )
        url = q.subscription(s, org)
        if sender is not None and url:
            for e in events:
                sender.send(org, url, e)  # before commit: a rerun re-sends, deduplicated
    return events


def schedule(
    conn: Redis, org: str, commitment_id: str, due_at: datetime, policy: FollowupPolicy
) -> list[str]:
    """Put both steps of a commitment on rq's scheduler (idempotent: the job id
    is derived from org, commitment, step and due date)."""
    queue = Queue(policy.queue, connection=conn, serializer=JSONSerializer)
    ids = []
    for step in STEPS:
        job_id = "acct-" + _digest(org, commitment_id, step, due_at.isoformat())
        when = step_time(due_at, step, policy)
        with contextlib.suppress(DuplicateJobError):
            queue.enqueue_at(
                when,
                "huddle_ai.accountability.jobs.followup_job",
                org,
                commitment_id,
                step,
                due_at.isoformat(),
                when.isoformat(),
                policy.as_json(),
                job_id=job_id,
                unique=True,
                meta={"org": org, "op": f"followup.{step}"},
                result_ttl=7 * 86_400,
            )
        ids.append(job_id)
    return ids


def sweep(
    db: Database,
    sender: WebhookSender | None,
    org: str,
    *,
    now: datetime,
    policy: FollowupPolicy,
    risk: RiskFn,
) -> list[dict[str, Any]]:
    """Every step whose time has come by ``now`` and has not happened yet, then the
    partners silent past ``policy.partner_grace``."""
    with db.session() as s:
        todo = [(c.id, c.due_at) for c in q.commitments(s, org, status="open")]
    sent: list[dict[str, Any]] = []
    for cid, due_at in todo:
        for step in STEPS:
            if step_time(due_at, step, policy) <= now:
                sent.extend(run_step(db, sender, org, cid, step, due_at, now=now, risk=risk))
    # after the steps above: a commitment missed just now has its partner judged too
    with db.session() as s:
        silent = q.silent_partners(s, org, due_before=now - policy.partner_grace)
        done = q.steps_with_prefix(s, org, PARTNER_STEP + ":")
    for cid, partner_id in silent:
        if (cid, partner_step_key(partner_id)) in done:
            continue
        sent.extend(run_partner_step(db, sender, org, cid, partner_id, now=now, policy=policy))
    return sent


def run_partner_step(
    db: Database,
    sender: WebhookSender | None,
    org: str,
    commitment_id: str,
    partner_id: str,
    *,
    now: datetime,
    policy: FollowupPolicy,
) -> list[dict[str, Any]]:
    """``partner.silent`` for ``partner_id`` on one commitment as of ``now``, if the
    partner is still its partner, has still not checked in, the grace has passed and
    it was not sent before (recorded with the sending, like the other steps)."""
    with db.session() as s:
        c = q.get_commitment(s, org, commitment_id)
        if c is None or c.partner_id != partner_id or c.status == "dropped":
            return []
        if c.due_at + policy.partner_grace > now:
            return []
        if any(k.author == "partner" for k in q.checkins_of(s, org, commitment_id)):
            return []
        key = partner_step_key(partner_id)
        if not q.mark_step(s, org, commitment_id, key, now):
            return []
        overdue = (now - c.due_at).total_seconds() / 3600
        # the event id also names the due date: the step is recorded once per partner
        # and commitment in the database, while a commitment id reused after a
        # deletion (same partner, another date) is not mistaken in Redis for the old
        event = _event(
            org,
            PARTNER_STEP,
            c,
            _step_key(key, c.due_at),
            "facilitator",
            None,
            now,
            commitment_id=c.id,
            learner_id=c.learner_id,
            partner_id=partner_id,
            due_at=c.due_at.isoformat(),
            hours_overdue=round(overdue, 1),
        )
        url = q.subscription(s, org)
        if sender is not None and url:
            sender.send(org, url, event)  # before commit: a rerun re-sends, deduplicated
    return [event]
