"""The HTTP API over real sockets (uvicorn) and a real Redis-protocol server:
org-scoped hashed keys, body limits, validation, idempotency, results, and the
checked-in OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from huddle_ai import HuddleAI
from huddle_ai.service import jobs
from huddle_ai.service.api import KeyRing, create_app, hash_key
from huddle_ai.settings import Settings
from tests.jobs_helpers import drain, flushed, serving
from tests.sample_data import ALL, SOLUTIONS

ROOT = Path(__file__).resolve().parent.parent
ACME, BETA = "acme-key-123", "beta-key-456"


@pytest.fixture
def api(redis_url: str, tmp_path: Path) -> Iterator[tuple[str, redis.Redis, Settings]]:
    conn = flushed(redis_url)
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(f"# hashed only\nacme:sha256:{hash_key(ACME)}\n")
    settings = Settings(
        redis_url=redis_url,
        data_dir=tmp_path,
        embedding_backend="fake",
        api_keys_file=keys_file,
        api_keys=f"beta:{BETA}",
        max_body_bytes=20_000,
    )
    with serving(create_app(settings, conn=conn), settings) as (base, _):
        yield base, conn, settings


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def queued(conn: redis.Redis) -> int:
    return sum(int(conn.llen(f"rq:queue:{q}")) for q in jobs.QUEUES)


GOOD: dict[str, Any] = {"records": ALL}


@pytest.mark.parametrize(
    ("headers", "path", "body", "status"),
    [
        ({}, "/v1/orgs/acme/records", GOOD, 401),
        (auth("wrong"), "/v1/orgs/acme/records", GOOD, 401),
        ({"X-API-Key": BETA}, "/v1/orgs/acme/records", GOOD, 403),
        (auth(BETA), "/v1/orgs/acme/suggestions", {"solution_id": "s-1"}, 403),
        (auth(ACME), "/v1/orgs/acme/suggestions", {"solution_id": "s-1", "extra": 1}, 422),
        (auth(ACME), "/v1/orgs/acme/suggestions", {"huddle_id": "h-int"}, 422),
        (auth(ACME), "/v1/orgs/acme/records", {"records": [{"kind": "solution", "id": "x"}]}, 422),
        (auth(ACME), "/v1/orgs/acme/records", {"records": [{**ALL[0], "colour": "red"}]}, 422),
        (auth(ACME), "/v1/orgs/acme/matches", {"huddle_id": "h-int", "max_load": 0}, 422),
        (auth(ACME), "/v1/orgs/acme/records", {"records": [ALL[0]] * 200}, 413),
    ],
)
def test_rejected_requests_change_nothing(
    api: tuple[str, redis.Redis, Settings],
    headers: dict[str, str],
    path: str,
    body: dict[str, Any],
    status: int,
) -> None:
    base, conn, _ = api
    before = conn.dbsize()
    reply = httpx.post(base + path, json=body, headers=headers)
    assert reply.status_code == status, reply.text
    if status == 422:
        assert reply.json()["detail"]  # says what is wrong
    assert conn.dbsize() == before and queued(conn) == 0


def test_malformed_json_and_oversized_body(api: tuple[str, redis.Redis, Settings]) -> None:
    base, conn, _ = api
    url = base + "/v1/orgs/acme/records"
    reply = httpx.post(
        url, content=b'{"records": [', headers={**auth(ACME), "Content-Type": "application/json"}
    )
    assert reply.status_code == 422 and reply.json()["detail"][0]["type"] == "json_invalid"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit still holds
        for _ in range(30):
            yield b" " * 1000

    reply = httpx.post(
        url, content=chunks(), headers={**auth(ACME), "Content-Type": "application/json"}
    )
    assert reply.status_code == 413
    assert queued(conn) == 0


def test_flow_idempotency_scoping_and_results(
    api: tuple[str, redis.Redis, Settings], fake_hai: HuddleAI
) -> None:
    base, _, settings = api
    small = {"records": ALL[:5]}
    first = httpx.post(base + "/v1/orgs/acme/records", json={"records": ALL}, headers=auth(ACME))
    assert first.status_code == 202, first.text
    job_id = first.json()["job_id"]
    assert first.json()["status_url"] == f"/v1/jobs/{job_id}"

    key = {**auth(ACME), "Idempotency-Key": "import-1"}
    a = httpx.post(base + "/v1/orgs/acme/records", json=small, headers=key)
    b = httpx.post(base + "/v1/orgs/acme/records", json=small, headers=key)
    assert (a.status_code, b.status_code) == (202, 200)
    assert a.json()["job_id"] == b.json()["job_id"] and b.json()["duplicate"] is True

    assert httpx.get(base + f"/v1/jobs/{job_id}", headers=auth(BETA)).status_code == 404
    assert httpx.delete(base + f"/v1/jobs/{job_id}", headers=auth(BETA)).status_code == 404
    view = httpx.get(base + f"/v1/jobs/{job_id}", headers=auth(ACME)).json()
    assert view["status"] == "queued" and view["org"] == "acme"

    drain(settings, fake_hai)
    done = httpx.get(base + f"/v1/jobs/{job_id}", headers=auth(ACME)).json()
    assert done["status"] == "finished" and done["result"]["added"] == len(ALL)

    sug = httpx.post(
        base + "/v1/orgs/acme/suggestions",
        json={"solution_id": SOLUTIONS[0]["id"], "k": 3},
        headers=auth(ACME),
    )
    gone = httpx.delete(base + "/v1/orgs/acme/learners/l-ana", headers=auth(ACME))
    assert sug.status_code == gone.status_code == 202
    drain(settings, fake_hai)
    got = httpx.get(base + f"/v1/jobs/{sug.json()['job_id']}", headers=auth(ACME)).json()
    assert got["status"] == "finished" and got["result"]["generator"] == "grounded"
    deleted = httpx.get(base + f"/v1/jobs/{gone.json()['job_id']}", headers=auth(ACME)).json()
    assert deleted["result"]["found"] is True
    assert not fake_hai.store.get("acme", "learner", ["l-ana"])
    assert httpx.get(base + "/v1/orgs/acme/webhooks/failed", headers=auth(ACME)).json() == []


def test_callback_needs_a_webhook_secret(api: tuple[str, redis.Redis, Settings]) -> None:
    base, conn, _ = api
    body = {"solution_id": "s-1", "callback_url": "http://127.0.0.1:9/hook"}
    reply = httpx.post(base + "/v1/orgs/acme/suggestions", json=body, headers=auth(ACME))
    assert reply.status_code == 422 and "WEBHOOK_SECRET" in reply.text
    assert queued(conn) == 0


def test_healthz(api: tuple[str, redis.Redis, Settings]) -> None:
    base, _, _ = api
    reply = httpx.get(base + "/healthz")
    assert reply.status_code == 200
    assert reply.json()["status"] == "ok" and set(reply.json()["queues"]) == set(jobs.QUEUES)


def test_keyring_stores_only_hashes() -> None:
    ring = KeyRing(["acme:plain-key", f"beta:sha256:{hash_key('other')}"])
    assert ring.org_of("plain-key") == "acme" and ring.org_of("other") == "beta"
    assert ring.org_of("nope") is None
    assert "plain-key" not in repr(vars(ring))


def test_checked_in_openapi_matches_the_app(redis_url: str) -> None:
    app = create_app(Settings(), conn=redis.Redis.from_url(redis_url), keys=KeyRing())
    checked_in = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert checked_in == json.loads(json.dumps(app.openapi())), (
        "docs/openapi.json is stale: run `huddle-ai serve --openapi-out docs/openapi.json`"
    )
    assert {"/v1/orgs/{org}/records", "/v1/orgs/{org}/suggestions", "/v1/jobs/{job_id}"} <= set(
        checked_in["paths"]
    )
