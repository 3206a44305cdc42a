"""No 5xx and no traceback for any input, on real servers: uvicorn with the
protocol and limits `huddle-ai serve` uses, a real Redis-protocol server and
real embedded Chroma. Also slow clients, key reloading, synchronous reference
checks and the lifecycle of `serve --with-worker`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from huddle_ai import HuddleAI
from huddle_ai.cli import run
from huddle_ai.service import jobs
from huddle_ai.service.api import create_app, hash_key
from huddle_ai.settings import Settings
from tests.conftest import free_port
from tests.jobs_helpers import flushed, serving, wait_until, worker_env
from tests.sample_data import ALL, FEEDBACK, HUDDLE, LEARNERS, SOLUTIONS

ACME, BETA = "acme-key-123", "beta-key-456"
READ_TIMEOUT_S = 1.5


def api_settings(redis_url: str, tmp_path: Path, **extra: Any) -> Settings:
    keys_file = tmp_path / "keys.txt"
    if not keys_file.exists():
        keys_file.write_text(f"acme:sha256:{hash_key(ACME)}\nbeta:sha256:{hash_key(BETA)}\n")
    return Settings(
        redis_url=redis_url,
        data_dir=tmp_path / "store",  # where the fake_hai fixture's store lives
        embedding_backend="fake",
        api_keys_file=keys_file,
        max_body_bytes=200_000,
        http_read_timeout_s=READ_TIMEOUT_S,
        **extra,
    )


@pytest.fixture
def own_redis(spare_redis_url: str) -> str:
    """The session's Redis server, on a database of its own (queue counts stay exact)."""
    return spare_redis_url


@pytest.fixture
def api(own_redis: str, tmp_path: Path) -> Iterator[tuple[str, int, redis.Redis]]:
    conn = flushed(own_redis)
    settings = api_settings(own_redis, tmp_path)
    with serving(create_app(settings, conn=conn), settings) as (base, port):
        yield base, port, conn


def auth(key: str = ACME) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def queued(conn: redis.Redis) -> int:
    return sum(int(conn.llen(f"rq:queue:{q}")) for q in jobs.QUEUES)


def exchange(port: int, *requests: bytes, timeout: float = 5) -> list[bytes]:
    """Send requests one after another on ONE connection; return each raw response."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for request in requests:
            sock.sendall(request)
            out.append(_read_response(sock))
    return out


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def get(path: str, key: str = ACME) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\n\r\n".encode()


# -- ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize("job_id", ["a.b", "a%2Fb", "%0A", "x" * 300, "hai-%E2%9C%93", "a%00b"])
def test_bad_job_ids_are_4xx_and_keep_the_connection(
    api: tuple[str, int, redis.Redis], job_id: str
) -> None:
    _, port, _ = api
    first, second = exchange(port, get(f"/v1/jobs/{job_id}"), get("/v1/jobs/hai-nope"))
    assert status_of(first) in (404, 422), first
    assert status_of(second) == 404, "the keep-alive connection must survive"


def test_an_org_id_ending_in_a_newline_is_refused(api: tuple[str, int, redis.Redis]) -> None:
    base, _, conn = api
    reply = httpx.post(base + "/v1/orgs/acme%0A/records", json={"records": ALL}, headers=auth())
    assert reply.status_code == 403
    assert queued(conn) == 0


# -- JSON bodies --------------------------------------------------------------------------

_SOLUTION = json.dumps(SOLUTIONS[0])
BAD_BODIES = {
    "NaN": b'{"records": [' + _SOLUTION[:-1].encode() + b', "x": NaN}]}',
    "Infinity": b'{"solution_id": "s-1", "k": Infinity}',
    "-Infinity": b'{"solution_id": "s-1", "k": -Infinity}',
    "1e400": b'{"solution_id": "s-1", "k": 1e400}',
    "lone surrogate": b'{"huddle_id": "h-int", "text": "a \\ud800 b"}',
    "surrogate key": b'{"\\udfff": 1}',
    "invalid UTF-8": b'{"huddle_id": "h-int", "text": "\xff\xfe"}',
    "raw surrogate bytes": b'{"huddle_id": "h-int", "text": "\xed\xa0\x80"}',
    "deep 100k": b"[" * 100_000 + b"]" * 100_000,
    "deep 500 in a field": b'{"huddle_id": "h-int", "text": ' + b"[" * 500 + b"]" * 500 + b"}",
    "deep objects": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "huge int": b'{"solution_id": "s-1", "k": ' + b"9" * 5000 + b"}",
    "not JSON": b"records=1",
    "truncated": b'{"records": [',
}


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
@pytest.mark.parametrize("path", ["/v1/orgs/acme/records", "/v1/orgs/acme/suggestions"])
def test_bad_json_is_422_and_enqueues_nothing(
    api: tuple[str, int, redis.Redis], name: str, path: str
) -> None:
    base, _, conn = api
    reply = httpx.post(base + path, content=BAD_BODIES[name], headers=auth())
    assert reply.status_code == 422, reply.text[:300]
    assert reply.json()["detail"]
    assert queued(conn) == 0


# -- records over HTTP: validated synchronously, references included ---------------------


def post_records(base: str, records: list[dict[str, Any]], key: str = ACME) -> httpx.Response:
    return httpx.post(base + "/v1/orgs/acme/records", json={"records": records}, headers=auth(key))


@pytest.mark.parametrize(
    ("records", "index", "field"),
    [
        ([HUDDLE, *LEARNERS, {**SOLUTIONS[0], "huddle_id": "h-nope"}], 4, "huddle_id"),
        ([HUDDLE, *LEARNERS, {**SOLUTIONS[0], "learner_id": "l-nope"}], 4, "learner_id"),
        (
            [HUDDLE, *LEARNERS, SOLUTIONS[0], {**FEEDBACK[0], "solution_id": "s-9"}],
            5,
            "solution_id",
        ),
        ([HUDDLE, LEARNERS[0], SOLUTIONS[0], FEEDBACK[0]], None, None),  # all resolve
    ],
)
def test_dangling_references_are_422_naming_record_and_field(
    api: tuple[str, int, redis.Redis],
    records: list[dict[str, Any]],
    index: int | None,
    field: str | None,
) -> None:
    base, _, conn = api
    reply = post_records(base, records)
    if index is None:
        assert reply.status_code == 202, reply.text
        return
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"]
    assert detail[0]["loc"] == ["body", "records", index, field]
    assert f"record {index}" in detail[0]["msg"] and field in detail[0]["msg"]
    assert queued(conn) == 0 and conn.dbsize() == 0


def test_references_resolve_against_the_orgs_stored_records(
    api: tuple[str, int, redis.Redis], fake_hai: HuddleAI
) -> None:
    base, _, conn = api
    fake_hai.ingest("beta", _parsed([HUDDLE, *LEARNERS]))
    solution = SOLUTIONS[0]
    # stored for another organization: still dangling for acme
    assert post_records(base, [solution]).status_code == 422
    fake_hai.ingest("acme", _parsed([HUDDLE, *LEARNERS]))
    reply = post_records(base, [solution, FEEDBACK[0]])
    assert reply.status_code == 202, reply.text
    assert queued(conn) == 1
    # skip_invalid asks the job to skip bad records: accepted, checked by the job
    body = {"records": [{**solution, "huddle_id": "h-nope"}], "skip_invalid": True}
    assert httpx.post(base + "/v1/orgs/acme/records", json=body, headers=auth()).status_code == 202


def _parsed(records: list[dict[str, Any]]) -> Any:
    from huddle_ai.index.formats import parse_jsonl

    return parse_jsonl(json.dumps(r) for r in records)


@pytest.mark.parametrize("when", ["2026-09-01T10:00:00", "2026-09-01", "2026-09-01 10:00"])
def test_naive_created_at_is_422_naming_the_record(
    api: tuple[str, int, redis.Redis], when: str
) -> None:
    base, _, conn = api
    reply = post_records(base, [HUDDLE, *LEARNERS, {**SOLUTIONS[0], "created_at": when}])
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"][0]
    assert detail["loc"][:3] == ["body", "records", 4] and detail["loc"][-1] == "created_at"
    assert "timezone" in detail["msg"]
    assert queued(conn) == 0


def test_a_solution_without_created_at_is_accepted(api: tuple[str, int, redis.Redis]) -> None:
    base, _, conn = api
    undated = {k: v for k, v in SOLUTIONS[0].items() if k != "created_at"}
    reply = post_records(base, [HUDDLE, *LEARNERS, undated, {**SOLUTIONS[1], "created_at": None}])
    assert reply.status_code == 202, reply.text
    assert queued(conn) == 1


def test_duplicate_conflicting_ids_in_one_body_are_422(api: tuple[str, int, redis.Redis]) -> None:
    base, _, conn = api
    reply = post_records(base, [HUDDLE, {**HUDDLE, "title": "Other"}])
    assert reply.status_code == 422 and "duplicate" in reply.text
    assert queued(conn) == 0


# -- slow and oversized requests ------------------------------------------------------------


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closes the connection within ``seconds``; what it sent."""
    sock.settimeout(seconds)
    got = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True, got
            got += chunk
    except TimeoutError:
        return False, got
    except ConnectionResetError:
        return True, got


def test_a_body_shorter_than_its_content_length_gets_408(
    api: tuple[str, int, redis.Redis],
) -> None:
    _, port, conn = api
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /v1/orgs/acme/records HTTP/1.1\r\nHost: t\r\n"
            + f"Authorization: Bearer {ACME}\r\n".encode()
            + b'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"records": ['
        )
        started = time.monotonic()
        closed, got = _closed_within(sock, READ_TIMEOUT_S + 5)
    assert closed and status_of(got) == 408, got
    assert time.monotonic() - started < READ_TIMEOUT_S + 3
    assert queued(conn) == 0


@pytest.mark.parametrize("phase", ["head", "body"])
def test_a_trickling_client_is_cut_off(api: tuple[str, int, redis.Redis], phase: str) -> None:
    _, port, _ = api
    head = (
        b"POST /v1/orgs/acme/records HTTP/1.1\r\nHost: t\r\n"
        + f"Authorization: Bearer {ACME}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 100000\r\n"
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        if phase == "body":
            sock.sendall(head + b"\r\n")
        payload = head if phase == "head" else b" " * 100
        started, closed = time.monotonic(), False
        for byte in payload:  # one byte every 0.1 s, each resets uvicorn's own timer
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.1)
            if time.monotonic() - started > READ_TIMEOUT_S + 5:
                break
        if not closed:
            closed, _ = _closed_within(sock, 0.5)
    assert closed, "a client trickling its request must be disconnected"
    assert time.monotonic() - started < READ_TIMEOUT_S + 4


def test_an_idle_connection_without_a_request_is_closed(
    api: tuple[str, int, redis.Redis],
) -> None:
    _, port, _ = api
    with socket.create_connection(("127.0.0.1", port)) as sock:
        closed, _ = _closed_within(sock, READ_TIMEOUT_S + 5)
    assert closed


@pytest.mark.parametrize("size", [20_000, 200_000, 2_000_000])
def test_oversized_headers_are_4xx(api: tuple[str, int, redis.Redis], size: int) -> None:
    _, port, _ = api
    request = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            return  # refused before it was all sent
        reply = _read_response(sock)
    assert 400 <= status_of(reply) < 500, reply[:200]


def test_many_small_headers_are_bounded_too(api: tuple[str, int, redis.Redis]) -> None:
    _, port, _ = api
    lines = b"".join(b"X-H%d: v\r\n" % i for i in range(3000))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + lines + b"\r\n")
        reply = _read_response(sock)
    assert not reply or 400 <= status_of(reply) < 500


# -- API keys reload -----------------------------------------------------------------------


def test_a_new_api_key_works_without_a_restart(
    api: tuple[str, int, redis.Redis], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _, _ = api
    keys_file = tmp_path / "keys.txt"
    assert run(["api-key", "--org", "gamma", "--keys-file", str(keys_file)]) == 0
    key = capsys.readouterr().out.strip()
    assert httpx.get(base + "/v1/jobs/hai-x", headers=auth(key)).status_code == 404  # not 401
    # a half-written file keeps the old keys; removing a line revokes its key
    keys_file.write_text(keys_file.read_text() + "delta:sha256:abc")
    assert httpx.get(base + "/v1/jobs/hai-x", headers=auth(key)).status_code == 404
    keys_file.write_text(f"acme:sha256:{hash_key(ACME)}\n")
    assert httpx.get(base + "/v1/jobs/hai-x", headers=auth(key)).status_code == 401
    assert httpx.get(base + "/v1/jobs/hai-x", headers=auth(ACME)).status_code == 404


# -- lifecycle of `serve --with-worker` -----------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie is not running
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_the_server_and_its_worker_together(
    own_redis: str, tmp_path: Path, sig: signal.Signals
) -> None:
    from rq import Worker

    conn = flushed(own_redis)
    port = free_port()
    env = worker_env(own_redis, tmp_path, HUDDLE_AI_API_KEYS=f"acme:{ACME}")
    log = tmp_path / "serve.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "huddle_ai", "serve", "--with-worker", "--port", str(port)],
            env=env,
            stdout=fh,
            stderr=fh,
            start_new_session=True,
        )
    pids: list[int] = []
    try:
        # only this server's worker: another test run may share the Redis server
        def ours() -> list[Any]:
            return [w for w in Worker.all(connection=conn) if _parent(w.pid) == proc.pid]

        wait_until(lambda: bool(ours()), 60, "the worker", log)
        wait_until(lambda: _up(port), 30, "the API", log)
        mine = ours()
        pids += [w.pid for w in mine]
        names = {w.name for w in mine}
        assert all(_alive(p) for p in pids)
        proc.send_signal(sig)
        proc.wait(60)
        assert proc.returncode == 128 + sig, log.read_text()[-2000:]
        wait_until(lambda: not any(_alive(p) for p in pids), 10, "the worker to exit", log)
        assert not names & {w.name for w in Worker.all(connection=conn)}, "still registered"
        assert "Traceback" not in log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in pids:  # a worker left behind by a failure
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        proc.wait(10)


def _parent(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next(int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("PPid:"))


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_references_stored_by_a_worker_process_are_seen_by_the_api(
    own_redis: str, tmp_path: Path
) -> None:
    """The deployment's shape: a worker process writes the embedded store, the API
    process reads it for the reference check."""
    from tests.jobs_helpers import finished, start_worker, stop

    conn = flushed(own_redis)
    settings = api_settings(own_redis, tmp_path)
    log = tmp_path / "worker.log"
    proc = start_worker(worker_env(own_redis, settings.data_dir), log)
    try:
        with serving(create_app(settings, conn=conn), settings) as (base, _):
            assert post_records(base, [SOLUTIONS[0]]).status_code == 422  # nothing stored yet
            first = post_records(base, [HUDDLE, *LEARNERS])
            assert first.status_code == 202, first.text
            wait_until(finished(conn, first.json()["job_id"]), 60, "the first import", log)
            second = post_records(base, [SOLUTIONS[0], FEEDBACK[0]])
            assert second.status_code == 202, second.text
            wait_until(finished(conn, second.json()["job_id"]), 60, "the second import", log)
            assert jobs.status(conn, second.json()["job_id"])["result"]["added"] == 2
            # deleted by the worker: dangling again, no stale handle in the API
            gone = httpx.delete(base + "/v1/orgs/acme/learners/l-ana", headers=auth())
            wait_until(finished(conn, gone.json()["job_id"]), 60, "the deletion", log)
            again = post_records(base, [{**SOLUTIONS[0], "id": "s-new"}])
            assert again.status_code == 422 and "learner_id" in again.text
    finally:
        stop(proc)
