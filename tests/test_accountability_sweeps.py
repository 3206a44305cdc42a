"""The periodic sweep on a real Redis (the suite's ``redis_url``) and a real
database: a self-rescheduling tick finds commitments that came due or were
missed (and their silent partners), sends each follow-up once as a signed
webhook, survives worker restarts and a re-run tick, and catches up after an
outage with one tick. The wall clock is injected where the library takes one;
rq's scheduler runs on real time, so the ticks are placed in the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from huddle_ai import HuddleAI
from huddle_ai.accountability import Accountability, FollowupPolicy, ManualClock
from huddle_ai.accountability.followups import WebhookSender
from huddle_ai.accountability.periodic import next_tick, scheduled_ticks, tick
from huddle_ai.index.database import Database
from huddle_ai.service import webhooks
from huddle_ai.settings import Settings
from tests.test_accountability import SECRET, Receiver, enroll_lines, loop_engine, receiver
from tests.test_accountability import drain as _drain

__all__ = ["receiver"]  # the fixture, for pytest

POLICY = FollowupPolicy(
    remind_before=timedelta(hours=1),
    grace=timedelta(hours=1),
    queue="acct-sweep-test",
    webhook_queue="acct-sweep-test-webhooks",
)
HOUR = timedelta(hours=1)
ORG = "acme-sweep"


def drain(settings: Settings, hai: HuddleAI) -> None:
    _drain(settings, hai, POLICY)


def rerun_tick(
    db: Database,
    conn: redis.Redis,
    org: str,
    acct: Accountability,
    policy: FollowupPolicy,
    *,
    at: datetime,
    wall: datetime,
) -> dict[str, Any]:
    """The hourly tick at ``at`` run again in this process (a retried job), at ``wall``."""
    sender = WebhookSender(conn, queue=policy.webhook_queue, retries=0)
    return tick(
        db,
        conn,
        sender,
        org,
        at=at,
        every=HOUR,
        policy=policy,
        risk=acct.risk_in,
        clock=ManualClock(wall),
    )


def test_next_tick_is_on_the_grid_and_catches_up_once() -> None:
    at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert next_tick(at, HOUR, at + timedelta(minutes=1)) == at + HOUR
    # a late tick (its worker was down) still queues the next grid point...
    assert next_tick(at, HOUR, at + timedelta(minutes=90)) == at + HOUR
    # ...unless that is more than a period behind: then one tick at the latest point
    assert next_tick(at, HOUR, at + timedelta(hours=7, minutes=5)) == at + 7 * HOUR
    assert next_tick(at + timedelta(minutes=7), HOUR, at) == at + HOUR  # off-grid start


def test_periodic_sweep_sends_each_followup_once_across_restarts(
    redis_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'acct.db'}")
    settings, hai = loop_engine(db, redis_url, tmp_path)
    conn = redis.Redis.from_url(redis_url)
    wall = datetime.now(UTC)
    w0 = datetime(2000, 1, 3, tzinfo=UTC) + HOUR * (
        (wall - datetime(2000, 1, 3, tzinfo=UTC)) // HOUR
    )
    clock = ManualClock(w0 - 5 * HOUR)
    acct = Accountability(db, clock=clock, policy=POLICY)
    acct.import_lines(ORG, enroll_lines("l-ana", "l-bo", "l-cy"))
    acct.subscribe(ORG, receiver.url)
    late = acct.draft("Send the survey to five users", learner_id="l-ana", huddle_id="h-1")
    acct.commit(
        ORG,
        acct.draft(
            "Send the survey to five users",
            learner_id="l-ana",
            huddle_id="h-1",
            due_at=w0 - 2 * HOUR,  # reminder at w0-3h, missed at w0-1h
            partner_id="l-bo",
        ),
        commitment_id="cm-late",
    )
    assert not late.ready  # undated: it could not have been committed
    acct.commit(
        ORG,
        acct.draft(
            "Write the interview guide", learner_id="l-cy", huddle_id="h-1", due_at=w0 + 10 * HOUR
        ),
        commitment_id="cm-later",
    )
    clock.set(w0 - 4 * HOUR)
    first = acct.start_sweeps(conn, ORG, HOUR)
    assert acct.start_sweeps(conn, ORG, HOUR) == first  # idempotent
    assert scheduled_ticks(conn, ORG, POLICY) == [first]

    drain(settings, hai)  # the tick at w0-4h: nothing due yet; next tick: w0 (caught up)
    assert receiver.got == []
    (second,) = scheduled_ticks(conn, ORG, POLICY)
    assert second != first

    drain(settings, hai)  # a new worker: the tick at w0 sends cm-late's follow-ups
    got = sorted((e["type"], e["recipient"]["role"]) for e in receiver.events())
    assert got == [
        ("checkin.requested", "learner"),
        ("checkin.requested", "partner"),
        ("commitment.due", "learner"),
        ("commitment.missed", "facilitator"),
        ("learner.at_risk", "facilitator"),
    ]
    assert all(e["commitment"]["id"] == "cm-late" for e in receiver.events())
    at_risk = next(e for e in receiver.events() if e["type"] == "learner.at_risk")
    assert at_risk["partner_silent"] is True
    key = webhooks.org_secret(SECRET, ORG)
    for headers, body in receiver.got:
        assert webhooks.verify(
            key, headers[webhooks.HEADER], body, headers[webhooks.DELIVERY_HEADER]
        )
    (third,) = scheduled_ticks(conn, ORG, POLICY)  # one chain: the tick at w0+1h
    assert third not in (first, second)

    # the tick at w0 run again (a retried job) and a redeploy: nothing twice, one chain
    assert rerun_tick(db, conn, ORG, acct, POLICY, at=w0, wall=wall)["sent"] == []
    clock.set(wall)
    acct.start_sweeps(conn, ORG, HOUR)
    drain(settings, hai)
    assert len(receiver.got) == 5
    assert scheduled_ticks(conn, ORG, POLICY) == [third]
    assert [c["status"] for c in acct.commitments(ORG)] == ["missed", "open"]
    conn.delete(*[k for k in conn.scan_iter("rq:*acct-sweep*")])  # leave the db as found
    db.dispose()
