"""The accountability endpoints over real sockets (uvicorn) on SQLite under
tmp_path: import, draft, risk and health; org-scoped keys; bad records are a
422 naming record and field, with nothing written. These endpoints never touch
Redis, so the app gets an unreachable connection (no Redis database is used)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from huddle_ai.accountability import Accountability
from huddle_ai.index.database import Database
from huddle_ai.service.api import create_app
from huddle_ai.settings import Settings
from tests.jobs_helpers import serving

ACME, BETA = "acme-acct-key-1", "beta-acct-key-2"
BASE = "/v1/orgs/acme/accountability"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    db_path = tmp_path / "acct.db"
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{db_path}",
        embedding_backend="fake",
        api_keys=f"acme:{ACME},beta:{BETA}",
        max_body_bytes=200_000,
    )
    conn = redis.Redis.from_url("redis://127.0.0.1:1")  # never used by these endpoints
    with serving(create_app(settings, conn=conn), settings) as (base, _):
        yield base, db_path


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _records() -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    due = (now + timedelta(days=3)).isoformat()
    recs: list[dict[str, Any]] = [
        {"kind": "enrollment", "learner_id": lid, "cohort": "c-1"} for lid in ("ana", "ben", "cy")
    ]
    recs.append(
        {
            "kind": "commitment",
            "id": "cm-1",
            "learner_id": "ana",
            "huddle_id": "h-1",
            "text": "When I open my laptop on Monday, I will rewrite the introduction.",
            "due_at": due,
            "partner_id": "ben",
        }
    )
    recs.append(
        {
            "kind": "checkin",
            "id": "ck-1",
            "commitment_id": "cm-1",
            "author": "partner",
            "status": "on_track",
        }
    )
    for days in (1, 2):
        recs.append(
            {
                "kind": "event",
                "learner_id": "ana",
                "type": "feedback_given",
                "at": (now - timedelta(days=days)).isoformat(),
                "peer_id": "ben",
            }
        )
    return recs


def _stored(db_path: Path, org: str = "acme") -> int:
    if not db_path.exists():
        return 0
    db = Database(f"sqlite:///{db_path}")
    try:
        return len(Accountability(db).commitments(org))
    finally:
        db.dispose()


def test_import_risk_health_and_draft(api: tuple[str, Path]) -> None:
    base, db_path = api
    reply = httpx.post(base + BASE + "/records", json={"records": _records()}, headers=auth(ACME))
    assert reply.status_code == 200, reply.text
    got = reply.json()
    assert (got["enrollments"], got["commitments"], got["checkins"], got["events"]) == (3, 1, 1, 2)
    assert _stored(db_path) == 1

    risk = httpx.get(base + BASE + "/risk", headers=auth(ACME))
    assert risk.status_code == 200, risk.text
    scored = risk.json()
    assert {r["learner_id"] for r in scored} == {"ana", "ben", "cy"}
    assert all(isinstance(r["explanation"], str) and r["explanation"] for r in scored)
    assert [r["score"] for r in scored] == sorted((r["score"] for r in scored), reverse=True)

    health = httpx.get(base + BASE + "/health", params={"cohort": "c-1"}, headers=auth(ACME))
    assert health.status_code == 200, health.text
    assert "cy" in str(health.json())  # cy gave and got nothing: isolated

    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    body = {"step": "Rewrite your introduction with one concrete example.", "learner_id": "ana"}
    dated = httpx.post(base + BASE + "/drafts", json={**body, "due_at": due}, headers=auth(ACME))
    assert dated.status_code == 200, dated.text
    d = dated.json()
    assert "I will" in d["text"] and d["learner_id"] == "ana" and d["due_at"]
    assert "no_date" not in {i["code"] for i in d["issues"]}
    undated = httpx.post(base + BASE + "/drafts", json=body, headers=auth(ACME)).json()
    assert "no_date" in {i["code"] for i in undated["issues"]} and not undated["ready"]

    # another organization sees none of acme's learners
    assert httpx.get(base + "/v1/orgs/beta/accountability/risk", headers=auth(BETA)).json() == []


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("POST", "/records", {}, 401),
        ("POST", "/records", auth("wrong"), 401),
        ("POST", "/records", auth(BETA), 403),
        ("POST", "/drafts", auth(BETA), 403),
        ("GET", "/risk", {"X-API-Key": BETA}, 403),
        ("GET", "/health", auth("wrong"), 401),
    ],
)
def test_keys_are_org_scoped(
    api: tuple[str, Path], method: str, path: str, headers: dict[str, str], status: int
) -> None:
    base, db_path = api
    body = {"records": _records()} if path == "/records" else {"step": "x", "learner_id": "ana"}
    reply = httpx.request(
        method, base + BASE + path, json=body if method == "POST" else None, headers=headers
    )
    assert reply.status_code == status, reply.text
    assert _stored(db_path) == 0


def _bad(case: str) -> list[dict[str, Any]]:
    recs = _records()
    if case == "field":
        recs[3] = {**recs[3], "due_at": "tomorrow"}
    elif case == "extra":
        recs[4] = {**recs[4], "colour": "red"}
    elif case == "unknown_learner":
        recs[3] = {**recs[3], "learner_id": "zed"}
    elif case == "past_due":
        recs[3] = {**recs[3], "due_at": "2020-01-01T00:00:00+00:00"}
    elif case == "unknown_commitment":
        recs[4] = {**recs[4], "commitment_id": "cm-nope"}
    return recs


@pytest.mark.parametrize(
    ("case", "index", "field"),
    [
        ("field", 3, "due_at"),
        ("extra", 4, "colour"),
        ("unknown_learner", 3, "learner_id"),
        ("past_due", 3, "due_at"),
        ("unknown_commitment", 4, "commitment_id"),
    ],
)
def test_bad_records_are_422_and_write_nothing(
    api: tuple[str, Path], case: str, index: int, field: str
) -> None:
    base, db_path = api
    reply = httpx.post(base + BASE + "/records", json={"records": _bad(case)}, headers=auth(ACME))
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"]
    assert any(e["loc"][2] == index and e["loc"][-1] == field for e in detail), detail
    assert _stored(db_path) == 0
    assert httpx.get(base + BASE + "/risk", headers=auth(ACME)).json() == []


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/records", {"records": []}, 422),
        ("POST", "/records", {"records": [{"kind": "nope"}]}, 422),
        ("POST", "/records", [1, 2], 422),
        ("POST", "/drafts", {"step": "", "learner_id": "ana"}, 422),
        ("POST", "/drafts", {"step": "Do it.", "learner_id": "ana", "due_at": "x"}, 422),
        ("POST", "/drafts", {"step": "Do it.", "learner_id": "a b"}, 422),
        ("GET", "/risk?cohort=%00", None, 422),
        ("GET", "/health?cohort=" + "c" * 500, None, 422),
    ],
)
def test_odd_input_is_4xx(
    api: tuple[str, Path], method: str, path: str, body: Any, status: int
) -> None:
    base, _ = api
    reply = httpx.request(method, base + BASE + path, json=body, headers=auth(ACME))
    assert reply.status_code == status, reply.text
