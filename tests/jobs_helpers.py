"""Helpers for the job, worker, webhook and API tests: real worker processes on
a real Redis-protocol server, bounded in time."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis
import uvicorn

from huddle_ai import HuddleAI
from huddle_ai.requests import IngestRequest
from huddle_ai.service import jobs, worker
from huddle_ai.service.limits import server_config
from huddle_ai.settings import Settings
from tests.conftest import free_port


def ingest_request(records: list[dict[str, Any]], skip_invalid: bool = False) -> IngestRequest:
    """An ingest request from plain records in the import format."""
    return IngestRequest.model_validate({"records": records, "skip_invalid": skip_invalid})


def flushed(url: str) -> redis.Redis:
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    return conn


def database_env(data_dir: Path) -> dict[str, str]:
    """What a subprocess on ``data_dir`` needs to open the same record database as
    this process: nothing (the data directory's SQLite) unless the suite runs on
    PostgreSQL, where tests/conftest.py replaces this with the database it made."""
    return {}


def worker_env(redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        **database_env(data_dir),
        "HUDDLE_AI_REDIS_URL": redis_url,
        "HUDDLE_AI_DATA_DIR": str(data_dir),
        "HUDDLE_AI_EMBEDDING_BACKEND": "fake",
        "HUDDLE_AI_JOB_HEARTBEAT_S": "1",
        "HUDDLE_AI_JOB_RECOVERY_S": "2",
        "HUDDLE_AI_JOB_BACKOFF_S": "1",
        "HUDDLE_AI_WEBHOOK_BACKOFF_S": "1",
        "HUDDLE_AI_WEBHOOK_TIMEOUT_S": "2",
    }
    env.pop("HUDDLE_AI_LLM_BASE_URL", None)
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    fh = log.open("ab")
    # A session of its own, so a test can kill the worker with its scheduler child.
    return subprocess.Popen(
        [sys.executable, "-m", "huddle_ai", "worker", *args],
        env=env,
        stdout=fh,
        stderr=fh,
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its scheduler at once, like a lost machine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
    kill_group(proc)  # and any scheduler child left behind


def wait_until(
    pred: Callable[[], bool], timeout: float, what: str, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")


def state(conn: redis.Redis, job_id: str) -> str:
    return str(jobs.status(conn, job_id)["status"])


def finished(conn: redis.Redis, *ids: str) -> Callable[[], bool]:
    return lambda: all(state(conn, j) in ("finished", "failed") for j in ids)


def workers(conn: redis.Redis) -> int:
    from rq import Worker

    return int(Worker.count(connection=conn))


def drain(settings: Settings, hai: HuddleAI) -> None:
    """Run every queued job in this process (rq installs signal handlers: restore them)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.run(settings, burst=True, hai=hai, logging_level="WARNING")
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def serving(app: Any, settings: Settings) -> Iterator[tuple[str, int]]:
    """The app on a real uvicorn in a thread, configured as `huddle-ai serve` does
    (its protocol, header limit and read timeouts); yields the base URL and port."""
    port = free_port()
    config = server_config(
        app,
        host="127.0.0.1",
        port=port,
        read_timeout_s=settings.http_read_timeout_s,
        max_header_bytes=settings.max_header_bytes,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        thread.join(10)
