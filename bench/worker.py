"""Grounded suggestion jobs/s through the queue, next to in-process calls/s.

Both are measured in one run, on the demo organization, with the real
embedding model and the offline grounded generator. The queue figure runs a
real ``huddle-ai worker`` process (model loaded once, warmed up by one job)
and counts from the first enqueue to the last result. Prints one JSON line.

    python bench/worker.py --n 200 [--worker-class simple|fork|both]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from redis import Redis

from huddle_ai import HuddleAI
from huddle_ai.demo import DEMO_ORG, demo_path
from huddle_ai.records import Solution
from huddle_ai.requests import SuggestRequest
from huddle_ai.service import broker, jobs
from huddle_ai.settings import Settings


def _wait_all(conn: Redis, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout * len(ids)
    # One worker finishes jobs in enqueue order: block on the last one, then check all.
    while jobs.result(conn, ids[-1], wait=1)["status"] not in ("finished", "failed"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(ids)} job(s) not done in {timeout * len(ids):.0f}s")
    states = [jobs.status(conn, j) for j in ids]
    bad = [s for s in states if s["status"] != "finished"]
    if bad:
        raise SystemExit(f"{len(bad)} of {len(ids)} jobs did not finish: {bad[0]}")


def _through_queue(
    conn: Redis, data_dir: Path, url: str, worker_class: str, targets: list[str], timeout: float
) -> tuple[float, float]:
    env = {
        **os.environ,
        "HUDDLE_AI_DATA_DIR": str(data_dir),
        "HUDDLE_AI_REDIS_URL": url,
        "HUDDLE_AI_WORKER_CLASS": worker_class,
    }
    log = (data_dir / f"worker-{worker_class}.log").open("wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "huddle_ai", "worker", "--queues", "interactive"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        warm = jobs.enqueue(conn, DEMO_ORG, SuggestRequest(solution_id=targets[0]))
        _wait_all(conn, [warm], timeout)
        startup = time.perf_counter() - t0
        started = time.perf_counter()
        ids = [jobs.enqueue(conn, DEMO_ORG, SuggestRequest(solution_id=t)) for t in targets]
        _wait_all(conn, ids, timeout)
        return len(ids) / (time.perf_counter() - started), startup
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()  # a hung work horse ignores the warm shutdown
            proc.wait(10)
        for job_id in conn.lrange("rq:queue:interactive", 0, -1):
            conn.lrem("rq:queue:interactive", 0, job_id)  # leave nothing for the next run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="suggestions per measurement")
    ap.add_argument("--worker-class", choices=["simple", "fork", "both"], default="simple")
    ap.add_argument("--job-timeout", type=float, default=120, help="give up on a hung worker")
    args = ap.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="hai-bench-worker-"))
    settings = Settings(data_dir=data_dir)
    url = broker.resolve_url(os.environ.get("HUDDLE_AI_REDIS_URL"), data_dir)
    conn = broker.connect(url)
    hai = HuddleAI(settings)
    hai.ingest(DEMO_ORG, demo_path())
    solutions = sorted(r.id for r in hai.records(DEMO_ORG) if isinstance(r, Solution))
    targets = [solutions[i % len(solutions)] for i in range(args.n)]

    hai.suggest(DEMO_ORG, targets[0])  # warm-up, as the worker gets
    spent = 0.0

    halves = [targets[: len(targets) // 2], targets[len(targets) // 2 :]]

    def in_process() -> None:
        # Half before and half after the queue runs (a shared machine's load drifts);
        # together they are the same targets the queue gets.
        nonlocal spent
        t0 = time.perf_counter()
        for t in halves.pop(0):
            hai.suggest(DEMO_ORG, t)
        spent += time.perf_counter() - t0

    out: dict[str, object] = {"bench": "worker", "n": args.n}
    classes = ["simple", "fork"] if args.worker_class == "both" else [args.worker_class]
    in_process()
    rates: dict[str, float | str] = {}
    for cls in classes:
        try:
            rate, startup = _through_queue(conn, data_dir, url, cls, targets, args.job_timeout)
        except TimeoutError as exc:
            rates[cls] = f"hung: {exc}"
            continue
        rates[cls] = rate
        out[f"worker_{cls}_startup_s"] = round(startup, 2)
    in_process()
    inproc = len(targets) / spent
    out["inprocess_calls_per_s"] = round(inproc, 2)
    for cls, rate in rates.items():
        if isinstance(rate, str):
            out[f"queue_{cls}"] = rate
            continue
        out[f"queue_{cls}_jobs_per_s"] = round(rate, 2)
        out[f"queue_{cls}_overhead_pct"] = round(100 * (1 - rate / inproc), 1)
    out["cpus"] = os.cpu_count()
    print(json.dumps(out))
    broker.stop_embedded(data_dir)


if __name__ == "__main__":
    main()
