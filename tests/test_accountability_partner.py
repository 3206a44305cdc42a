"""Silent partners escalated on their own (``partner.silent``), on a real Redis
and a real database (SQLite and PostgreSQL): sent once per partner and
commitment across sweeps, worker restarts, a re-run tick and a lost Redis;
never before ``partner_grace``, never for a partner who checked in or a
dropped commitment, never across organizations. And community health over
real HTTP pairing the isolated through the partner matcher (or not, with
``?match=false``), saying when it had to fall back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from huddle_ai import FakeEmbedder, HuddleAI, Store
from huddle_ai.accountability import Accountability, FollowupPolicy, ManualClock
from huddle_ai.accountability.followups import (
    EVENT_TYPES,
    WebhookSender,
    enqueue_sweep,
    partner_step_key,
    run_partner_step,
)
from huddle_ai.accountability.periodic import scheduled_ticks
from huddle_ai.demo import DEMO_ORG, demo_path
from huddle_ai.index.database import Database
from huddle_ai.index.database import accountability as q
from huddle_ai.service import webhooks
from huddle_ai.service.api import create_app
from huddle_ai.settings import Settings
from tests.jobs_helpers import serving
from tests.test_accountability import SECRET, Receiver, enroll_lines, loop_engine, receiver
from tests.test_accountability import drain as _drain
from tests.test_accountability_sweeps import rerun_tick

__all__ = ["receiver"]  # the fixture, for pytest

POLICY = FollowupPolicy(queue="acct-partner-test", webhook_queue="acct-partner-test-webhooks")
HOUR = timedelta(hours=1)
EPOCH = datetime(2000, 1, 3, tzinfo=UTC)


def drain(settings: Settings, hai: HuddleAI) -> None:
    _drain(settings, hai, POLICY)


def _commit(
    acct: Accountability, org: str, cid: str, learner: str, partner: str, due: datetime
) -> None:
    draft = acct.draft(
        "Send the survey to five users",
        learner_id=learner,
        huddle_id="h-1",
        due_at=due,
        partner_id=partner,
    )
    acct.commit(org, draft, commitment_id=cid)


def test_partner_silent_is_sent_once_across_sweeps_and_restarts(
    db: Database, redis_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    org = f"acme-partner-{db.engine.dialect.name}"
    settings, hai = loop_engine(db, redis_url, tmp_path)
    conn = redis.Redis.from_url(redis_url)
    wall = datetime.now(UTC)
    w0 = EPOCH + HOUR * ((wall - EPOCH) // HOUR)  # the latest hourly grid point
    clock = ManualClock(w0 - 60 * HOUR)
    acct = Accountability(db, clock=clock, policy=POLICY)
    acct.import_lines(org, enroll_lines("l-ana", "l-bo", "l-cy", "l-dee", "l-eve"))
    acct.subscribe(org, receiver.url)
    _commit(acct, org, "cm-kept", "l-ana", "l-bo", w0 - 50 * HOUR)  # bo silent: escalate
    _commit(acct, org, "cm-heard", "l-cy", "l-dee", w0 - 50 * HOUR)  # dee checked in
    _commit(acct, org, "cm-young", "l-eve", "l-bo", w0 - 10 * HOUR)  # grace not over
    _commit(acct, org, "cm-dropped", "l-dee", "l-bo", w0 - 50 * HOUR)
    clock.set(w0 - 51 * HOUR)
    acct.checkin(org, "cm-kept", author="self", status="done", reflection="sent it")
    acct.checkin(org, "cm-heard", author="self", status="done")
    acct.checkin(org, "cm-heard", author="partner", status="on_track")
    acct.checkin(org, "cm-dropped", author="self", status="dropped")
    clock.set(w0 - 11 * HOUR)
    acct.checkin(org, "cm-young", author="self", status="done")

    clock.set(w0 - HOUR)
    first = acct.start_sweeps(conn, org, HOUR)
    drain(settings, hai)  # the tick at w0-1h: cm-kept's grace ended at w0-2h
    events = receiver.events()
    assert [(e["type"], e["commitment"]["id"]) for e in events] == [("partner.silent", "cm-kept")]
    (silent,) = events
    assert silent["org"] == org
    assert silent["recipient"] == {"role": "facilitator", "learner_id": None}
    assert (silent["commitment_id"], silent["learner_id"], silent["partner_id"]) == (
        "cm-kept",
        "l-ana",
        "l-bo",
    )
    assert datetime.fromisoformat(silent["due_at"]) == w0 - 50 * HOUR
    assert silent["hours_overdue"] == 49.0  # as of the tick's own time
    assert silent["commitment"]["status"] == "done"  # the learner kept it
    headers, body = receiver.got[0]
    key = webhooks.org_secret(SECRET, org)
    assert webhooks.verify(key, headers[webhooks.HEADER], body, headers[webhooks.DELIVERY_HEADER])
    (second,) = scheduled_ticks(conn, org, POLICY)

    drain(settings, hai)  # a new worker: the tick at w0 finds nothing new
    assert len(receiver.got) == 1
    sender = WebhookSender(conn, queue=POLICY.webhook_queue, retries=0)
    again = rerun_tick(db, conn, org, acct, POLICY, at=w0, wall=wall)  # a retried job
    assert again["sent"] == []
    catch_up = enqueue_sweep(conn, org, wall, POLICY)
    drain(settings, hai)
    assert len(receiver.got) == 1

    # Redis lost its record of the delivery: the database still knows the step was done
    whk = f"whk-{silent['id']}"
    conn.delete(f"rq:job:{whk}")
    clock.set(wall)
    assert acct.sweep(sender, org) == []
    drain(settings, hai)
    assert len(receiver.got) == 1
    with db.session() as s:
        assert q.steps_done(s, org, "cm-kept") == {partner_step_key("l-bo")}
        assert q.steps_done(s, org, "cm-heard") == set()

    tick_ids = [first, second, *scheduled_ticks(conn, org, POLICY)]
    conn.delete(*[f"rq:job:{j}" for j in {*tick_ids, whk, catch_up}])
    conn.delete(*[k for k in conn.scan_iter("rq:*acct-partner-test*")])


def test_partner_silent_waits_for_the_grace_and_stays_in_its_org(db: Database) -> None:
    t0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
    clock = ManualClock(t0)
    policy = FollowupPolicy(partner_grace=timedelta(hours=30))
    acct = Accountability(db, clock=clock, policy=policy)
    due = t0 + 24 * HOUR
    for org in ("acme", "beta"):  # the same ids in two organizations
        acct.import_lines(org, enroll_lines("l-ana", "l-bo", "l-cy"))
        _commit(acct, org, "cm-1", "l-ana", "l-bo", due)  # kept, bo silent
        _commit(acct, org, "cm-2", "l-cy", "l-bo", due)  # open, nobody checks in
    acct.checkin("acme", "cm-1", author="self", status="partly")
    acct.checkin("beta", "cm-1", author="partner", status="on_track")  # beta's bo spoke
    acct.checkin("beta", "cm-1", author="self", status="done")

    clock.set(due + policy.partner_grace - timedelta(seconds=1))
    before = acct.sweep(None, "acme")  # cm-2's reminders only: no partner escalated yet
    assert [e["type"] for e in before] == [
        "commitment.due",
        "checkin.requested",
        "checkin.requested",
    ]
    clock.set(due + policy.partner_grace)
    got = acct.sweep(None, "acme")
    assert sorted((e["type"], e["commitment_id"]) for e in got) == [
        ("partner.silent", "cm-1"),
        ("partner.silent", "cm-2"),
    ]
    assert {e["org"] for e in got} == {"acme"} and {e["hours_overdue"] for e in got} == {30.0}
    assert acct.sweep(None, "acme") == []
    # a second worker that saw the same candidates: the recorded step stops it
    assert run_partner_step(db, None, "acme", "cm-1", "l-bo", now=clock.now(), policy=policy) == []
    # cm-2 is then missed: the missed step comes once, the partner is not escalated again
    clock.set(due + policy.grace)
    assert sorted(e["type"] for e in acct.sweep(None, "acme")) == [
        "commitment.missed",
        "learner.at_risk",
    ]
    assert acct.sweep(None, "acme") == []

    # beta: its partner checked in on cm-1; dropping cm-2 leaves nothing to escalate
    acct.checkin("beta", "cm-2", author="self", status="dropped")
    clock.set(due + policy.partner_grace)
    assert [e["type"] for e in acct.sweep(None, "beta")] == []

    # a new partner is a new (partner, commitment): escalated once in turn
    acct.import_lines("acme", enroll_lines("l-dee"))
    with db.session() as s:
        c = q.get_commitment(s, "acme", "cm-1")
        assert c is not None
        c.partner_id = "l-dee"
    clock.set(due + 2 * policy.grace)
    (renewed,) = acct.sweep(None, "acme")
    assert (renewed["type"], renewed["partner_id"]) == ("partner.silent", "l-dee")
    assert acct.sweep(None, "acme") == []


def test_mark_step_says_whether_it_was_new(db: Database) -> None:
    """The insert-or-nothing reports through RETURNING: never a rowcount of -1."""
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with db.session() as s:
        assert q.mark_step(s, "acme", "cm-1", "partner.silent:x", now) is True
    with db.session() as s:
        assert q.mark_step(s, "acme", "cm-1", "partner.silent:x", now) is False
        assert q.mark_step(s, "beta", "cm-1", "partner.silent:x", now) is True


def test_policy_json_keeps_the_partner_grace() -> None:
    policy = FollowupPolicy(partner_grace=timedelta(hours=5))
    assert FollowupPolicy.from_json(policy.as_json()) == policy
    old = {k: v for k, v in policy.as_json().items() if k != "partner_grace_s"}
    assert FollowupPolicy.from_json(old).partner_grace == timedelta(hours=48)  # queued before
    assert "partner.silent" in EVENT_TYPES


# -- community health over HTTP, through the partner matcher ------------------------------

DEMO_KEY, BETA_KEY, EMPTY_KEY = "demo-health-key-1", "beta-health-key-2", "empty-health-key-3"
CONNECTED = ("l-tomas", "l-mei", "l-sofia", "l-kwame", "l-aisha")
ISOLATED = ("l-jonah", "l-priya", "l-lukas", "l-noor")
NOW = datetime.now(UTC).replace(microsecond=0)


def _feedback(giver: str, peer: str, days: int) -> str:
    at = (NOW - timedelta(days=days)).isoformat()
    return json.dumps(
        {"kind": "event", "learner_id": giver, "type": "feedback_given", "at": at, "peer_id": peer}
    )


@pytest.fixture
def health_api(tmp_path: Path) -> Iterator[str]:
    """The app over a data directory whose store holds the demo organization (and
    ``beta``: learners with no solutions), and whose database has their enrollments."""
    db_url = f"sqlite:///{tmp_path / 'records.db'}"
    db = Database(db_url)
    embedder = FakeEmbedder()
    hai = HuddleAI(embedder=embedder, store=Store.embedded(tmp_path, embedder.id, db), database=db)
    hai.ingest(DEMO_ORG, demo_path())
    people = [*CONNECTED, *ISOLATED]
    beta_store = tmp_path / "beta.jsonl"
    beta_store.write_text(
        "".join(
            json.dumps({"kind": "learner", "id": x, "display_name": x, "role": "learner"}) + "\n"
            for x in people
        )
    )
    hai.ingest("beta", beta_store)
    acct = Accountability(db)
    lines = [json.dumps({"kind": "enrollment", "learner_id": x, "cohort": "c"}) for x in people]
    lines += [_feedback("l-tomas", "l-mei", 3), _feedback("l-tomas", "l-sofia", 2)]
    lines += [_feedback("l-mei", "l-tomas", 2), _feedback("l-kwame", "l-aisha", 1)]
    for org in (DEMO_ORG, "beta", "empty"):
        acct.import_lines(org, lines)
    acct.import_lines(DEMO_ORG, enroll_lines("l-zed", cohort="other"))  # demo only
    db.dispose()
    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        embedding_backend="fake",
        api_keys=f"{DEMO_ORG}:{DEMO_KEY},beta:{BETA_KEY},empty:{EMPTY_KEY}",
    )
    conn = redis.Redis.from_url("redis://127.0.0.1:1")  # never used by these endpoints
    with serving(create_app(settings, conn=conn), settings) as (base, _):
        yield base


def _health(base: str, org: str, key: str, **params: str) -> dict[str, Any]:
    reply = httpx.get(
        f"{base}/v1/orgs/{org}/accountability/health",
        params={"cohort": "c", **params},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    got: dict[str, Any] = reply.json()
    return got


def test_http_health_pairs_the_isolated_through_the_matcher(health_api: str) -> None:
    matched = _health(health_api, DEMO_ORG, DEMO_KEY)
    assert matched["isolated"] == sorted(ISOLATED)  # l-zed is in another cohort
    by = {p["learner_id"]: p for p in matched["pairing_suggestions"]}
    assert set(by) == set(ISOLATED)
    for lid in ISOLATED:
        assert by[lid]["method"] == "partner_matcher" and by[lid]["partner_id"] in CONNECTED
        assert by[lid]["reason"]  # the matcher's words
    assert len({by[lid]["partner_id"] for lid in ISOLATED}) == len(ISOLATED)
    assert matched["pairing_degraded"] is False and matched["pairing_degraded_reason"] is None

    plain = _health(health_api, DEMO_ORG, DEMO_KEY, match="false")
    assert {p["method"] for p in plain["pairing_suggestions"]} == {"generous_giver"}
    assert [p["partner_id"] for p in plain["pairing_suggestions"]] == [
        "l-tomas",
        "l-kwame",
        "l-mei",
        "l-tomas",
    ]
    assert plain["pairing_degraded"] is False  # asked for, not a degradation

    # the whole organization: l-zed is isolated and has no work in the store
    everyone = httpx.get(
        f"{health_api}/v1/orgs/{DEMO_ORG}/accountability/health",
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
        timeout=60,
    ).json()
    zed = next(p for p in everyone["pairing_suggestions"] if p["learner_id"] == "l-zed")
    assert zed["method"] == "generous_giver"
    assert everyone["pairing_degraded"] is True
    assert (
        "1 isolated learner (l-zed) with no solutions in the record store"
        in (everyone["pairing_degraded_reason"])
    )


def test_http_health_falls_back_and_says_why(health_api: str) -> None:
    # beta's learners are in the store but have no solutions: the matcher cannot run
    beta = _health(health_api, "beta", BETA_KEY)
    assert beta["isolated"] == sorted(ISOLATED)
    assert {p["method"] for p in beta["pairing_suggestions"]} == {"generous_giver"}
    assert beta["pairing_degraded"] is True
    assert beta["pairing_degraded_reason"] == (
        "4 isolated learners (l-jonah, l-lukas, l-noor, l-priya) with no solutions in the"
        " record store (paired with generous givers)"
    )
    # nothing of the demo organization is used for beta (same learner ids)
    assert {p["partner_id"] for p in beta["pairing_suggestions"]} <= set(CONNECTED)
    assert all(p["score"] is None for p in beta["pairing_suggestions"])

    # an organization the store has never seen
    empty = _health(health_api, "empty", EMPTY_KEY)
    assert {p["method"] for p in empty["pairing_suggestions"]} == {"generous_giver"}
    assert empty["pairing_degraded"] is True
    assert "has no records in the record store" in empty["pairing_degraded_reason"]

    # a key of one organization never reads another's health
    other = httpx.get(
        f"{health_api}/v1/orgs/{DEMO_ORG}/accountability/health",
        headers={"Authorization": f"Bearer {BETA_KEY}"},
        timeout=60,
    )
    assert other.status_code == 403
    bad = httpx.get(
        f"{health_api}/v1/orgs/beta/accountability/health",
        params={"match": "perhaps"},
        headers={"Authorization": f"Bearer {BETA_KEY}"},
        timeout=60,
    )
    assert bad.status_code == 422 and "match" in bad.text


def test_demo_follows_the_loop_on_an_injected_clock(
    fake_hai: HuddleAI, capsys: pytest.CaptureFixture[str]
) -> None:
    from huddle_ai.cli.demo import run_demo

    out = run_demo(fake_hai, as_json=False)
    text = capsys.readouterr().out
    loop = out["accountability_loop"]
    assert isinstance(loop, list)
    got = [(t["at"], t["type"], t["event"]["recipient"]["role"]) for t in loop]
    learner = out["commitment_draft"]["learner_id"]  # type: ignore[index]
    mine = [t for t in loop if t["event"]["commitment"]["learner_id"] == learner]
    assert [(t["at"], t["type"]) for t in mine] == [
        ("1 day before due", "commitment.due"),
        ("1 day before due", "checkin.requested"),
        ("1 day before due", "checkin.requested"),
        ("2 days after due", "commitment.missed"),
        ("2 days after due", "learner.at_risk"),
        ("2 days after due", "partner.silent"),
    ]
    kept = [t for t in loop if t["event"]["commitment"]["learner_id"] != learner]
    assert kept[-1]["type"] == "partner.silent"
    assert kept[-1]["event"]["partner_id"] == learner  # silent on a kept commitment
    assert kept[-1]["event"]["commitment"]["status"] == "done"
    assert ("2 days after due", "learner.at_risk", "facilitator") in got
    assert "partner.silent" in text and "never checked in" in text
