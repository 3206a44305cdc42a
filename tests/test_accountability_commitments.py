"""Commitments over HTTP (real uvicorn, SQLite, the suite's real Redis) and the
CLI: create from a draft, list, check in (self or partner), set a status,
schedule follow-ups for an org or a huddle; org-scoped keys; a 422 naming the
field for bad input, and nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from rq import Queue
from rq.registry import ScheduledJobRegistry

from huddle_ai.accountability import Accountability
from huddle_ai.index.database import Database
from huddle_ai.service.api import create_app
from huddle_ai.settings import Settings
from tests.jobs_helpers import serving

ACME, BETA = "acme-cm-key-1", "beta-cm-key-2"
BASE = "/v1/orgs/acme/accountability"


@pytest.fixture
def api(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, Path, redis.Redis]]:
    db_path = tmp_path / "acct.db"
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{db_path}",
        embedding_backend="fake",
        api_keys=f"acme:{ACME},beta:{BETA}",
    )
    conn = redis.Redis.from_url(redis_url)
    with serving(create_app(settings, conn=conn), settings) as (base, _):
        yield base, db_path, conn
    # the follow-ups these tests scheduled (days ahead) leave with them
    registry = ScheduledJobRegistry(queue=Queue("bulk", connection=conn))  # type: ignore[no-untyped-call]
    for job_id in registry.get_job_ids():
        if job_id.startswith("acct-"):
            registry.remove(job_id, delete_job=True)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _enroll(base: str) -> None:
    recs = [{"kind": "enrollment", "learner_id": lid, "cohort": "c-1"} for lid in ("ana", "ben")]
    reply = httpx.post(base + BASE + "/records", json={"records": recs}, headers=auth(ACME))
    assert reply.status_code == 200, reply.text


def _body(**extra: Any) -> dict[str, Any]:
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    return {
        "step": "Rewrite your introduction with one concrete example.",
        "learner_id": "ana",
        "huddle_id": "h-1",
        "due_at": due,
        "partner_id": "ben",
        **extra,
    }


def _count(db_path: Path) -> int:
    db = Database(f"sqlite:///{db_path}")
    try:
        return len(Accountability(db).commitments("acme"))
    finally:
        db.dispose()


def test_commit_checkin_status_and_followups(api: tuple[str, Path, redis.Redis]) -> None:
    base, db_path, conn = api
    _enroll(base)
    made = httpx.post(base + BASE + "/commitments", json=_body(), headers=auth(ACME))
    assert made.status_code == 201, made.text
    got = made.json()
    cm = got["commitment"]
    assert cm["text"].startswith("When ") and ", I will rewrite my introduction" in cm["text"]
    assert cm["status"] == "open" and cm["partner_id"] == "ben"
    registry = ScheduledJobRegistry(queue=Queue("bulk", connection=conn))  # type: ignore[no-untyped-call]
    assert len(got["scheduled"]) == 2 and set(got["scheduled"]) <= set(registry.get_job_ids())

    listed = httpx.get(
        base + BASE + "/commitments", params={"learner_id": "ana"}, headers=auth(ACME)
    )
    assert [c["id"] for c in listed.json()] == [cm["id"]]
    assert httpx.get(base + BASE + "/commitments", headers=auth(BETA)).status_code == 403
    assert (
        httpx.get(f"{base}/v1/orgs/beta/accountability/commitments", headers=auth(BETA)).json()
        == []
    )

    url = f"{base}{BASE}/commitments/{cm['id']}"
    partner = httpx.post(
        url + "/checkins", json={"author": "partner", "status": "on_track"}, headers=auth(ACME)
    )
    assert partner.status_code == 201, partner.text
    done = httpx.post(
        url + "/checkins",
        json={"author": "self", "status": "partly", "reflection": "half of it"},
        headers=auth(ACME),
    )
    assert done.status_code == 201, done.text
    assert (
        httpx.get(base + BASE + "/commitments", headers=auth(ACME)).json()[0]["status"] == "partly"
    )
    dropped = httpx.patch(url, json={"status": "dropped"}, headers=auth(ACME))
    assert dropped.status_code == 200 and dropped.json()["status"] == "dropped"

    again = httpx.post(
        base + BASE + "/commitments",
        json=_body(huddle_id="h-2", schedule=False),
        headers=auth(ACME),
    )
    assert again.status_code == 201 and again.json()["scheduled"] == []
    fu = httpx.post(
        base + BASE + "/followups",
        json={"huddle_id": "h-2", "sweep_every_s": None},
        headers=auth(ACME),
    )
    assert fu.status_code == 200, fu.text
    assert (fu.json()["scheduled"], fu.json()["sweep_job"]) == (1, None)
    assert _count(db_path) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"due_at": "2020-01-01T00:00:00+00:00"}, "due_at"),  # in the past
        ({"due_at": "2026-12-24T10:00:00"}, "due_at"),  # no timezone
        ({"step": "Think about the interviews"}, "step"),  # vague verb
        ({"learner_id": "zed"}, "learner_id"),  # not enrolled
        ({"partner_id": "zed"}, "partner_id"),
        ({"huddle_id": None}, "huddle_id"),
        ({"colour": "red"}, "colour"),
        ({"commitment_id": "cm-1", "step": "Send it"}, "commitment_id"),  # taken (below)
    ],
)
def test_bad_commitments_are_422_naming_the_field(
    api: tuple[str, Path, redis.Redis], change: dict[str, Any], field: str
) -> None:
    base, db_path, _ = api
    _enroll(base)
    if field == "commitment_id":
        first = _body(commitment_id="cm-1", schedule=False)
        assert (
            httpx.post(base + BASE + "/commitments", json=first, headers=auth(ACME)).status_code
            == 201
        )
    before = _count(db_path)
    reply = httpx.post(
        base + BASE + "/commitments", json=_body(**change, schedule=False), headers=auth(ACME)
    )
    assert reply.status_code == 422, reply.text
    assert any(e["loc"][-1] == field for e in reply.json()["detail"]), reply.json()
    assert _count(db_path) == before


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/commitments/cm-nope/checkins", {"author": "self", "status": "done"}, 404),
        ("PATCH", "/commitments/cm-nope", {"status": "done"}, 404),
        ("PATCH", "/commitments/cm-nope", {"status": "finished"}, 422),
        ("POST", "/commitments/a%20b/checkins", {"author": "self", "status": "done"}, 422),
        ("POST", "/followups", {"sweep_every_s": 1}, 422),
        ("GET", "/commitments?status=late", None, 422),
    ],
)
def test_odd_requests_are_4xx(
    api: tuple[str, Path, redis.Redis], method: str, path: str, body: Any, status: int
) -> None:
    base, _, _ = api
    reply = httpx.request(method, base + BASE + path, json=body, headers=auth(ACME))
    assert reply.status_code == status, reply.text


def test_partner_checkin_needs_a_partner(api: tuple[str, Path, redis.Redis]) -> None:
    base, _, _ = api
    _enroll(base)
    body = _body(partner_id=None, schedule=False)
    cm = httpx.post(base + BASE + "/commitments", json=body, headers=auth(ACME)).json()[
        "commitment"
    ]
    reply = httpx.post(
        f"{base}{BASE}/commitments/{cm['id']}/checkins",
        json={"author": "partner", "status": "done"},
        headers=auth(ACME),
    )
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"][-1] == "author"


def test_cli_commit_checkin_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huddle_ai.cli import run

    monkeypatch.setenv("HUDDLE_AI_EMBEDDING_BACKEND", "fake")
    args = ["--org", "acme", "--data-dir", str(tmp_path)]
    lines = [
        json.dumps({"kind": "enrollment", "learner_id": x, "cohort": "c"}) for x in ("ana", "ben")
    ]
    (tmp_path / "people.jsonl").write_text("\n".join(lines) + "\n")
    assert run(["accountability", "import", str(tmp_path / "people.jsonl"), *args]) == 0
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    commit = ["accountability", "commit", "Send the guide to Ben", *args, "--learner", "ana"]
    commit += ["--huddle", "h-1", "--due", due, "--id", "cm-9", "--no-schedule"]
    assert run(commit) == 0
    assert run(commit) == 2  # the id is taken
    undated = ["accountability", "commit", "Send it", *args, "--learner", "ana", "--huddle", "h"]
    assert run([*undated, "--due", "tomorrow", "--no-schedule"]) == 2
    assert run(["accountability", "checkin", "cm-9", *args, "--status", "done"]) == 0
    assert run(["accountability", "checkin", "cm-9", *args, "--status", "great"]) == 2
    assert run(["accountability", "status", "cm-9", "dropped", *args]) == 0
    assert run(["accountability", "status", "cm-0", "dropped", *args]) == 1  # not found
    assert run(["accountability", "health", *args, "--match"]) == 0
