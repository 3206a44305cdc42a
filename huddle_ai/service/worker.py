"""The rq worker: builds the engine (embedding model, Chroma client) once per
process and runs jobs with it.

:func:`init_process` builds the :class:`HuddleAI` (model, store, database,
generators) and the webhook settings once, when the worker starts, into a
:class:`~huddle_ai.service.runtime.WorkerContext`. The worker owns that context and
sets it on each job it performs (rq's ``job_class`` is
:class:`~huddle_ai.service.runtime.ContextJob`), which passes it to the job function
as its first argument; nothing is stored in a module global, and no job ever
loads the model. The default :class:`SimpleHuddleWorker` runs jobs in
the worker process itself; :class:`ForkHuddleWorker` forks a work horse per
job. Simple was measured faster for our jobs (see ``bench/worker.py`` and the
README): a fork per job copies the page tables of a process holding torch
and the model, and the forked child cannot keep anything it warms up.

Fault handling on top of rq:
- a busy simple worker sends heartbeats from a thread, so a worker that is
  killed mid-job is noticed after ``job_recovery_s`` and its job retried by
  another worker (rq's abandoned-job path), not after the job's full timeout;
- idle workers wake up often enough to run that recovery;
- a worker whose Redis went away waits for it and carries on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import SimpleWorker, Worker
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.worker import BaseWorker, WorkerStatus

from huddle_ai.engine import HuddleAI
from huddle_ai.service import broker, jobs
from huddle_ai.service.runtime import ContextJob, WorkerContext
from huddle_ai.service.webhooks import WebhookConfig
from huddle_ai.settings import Settings

__all__ = ["ForkHuddleWorker", "SimpleHuddleWorker", "init_process", "make_worker", "run"]

log = logging.getLogger(__name__)


def init_process(settings: Settings, *, hai: HuddleAI | None = None) -> WorkerContext:
    """Build what this worker's jobs run with, once: the engine and the webhook settings."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    engine = hai if hai is not None else HuddleAI(settings)
    engine.sync_index()  # what a write interrupted by a crash left for the vector index
    return WorkerContext(
        engine=engine,
        webhooks=WebhookConfig(
            secret=secret,
            timeout_s=settings.webhook_timeout_s,
            retries=settings.webhook_retries,
            backoff_s=settings.webhook_backoff_s,
        ),
    )


def _no_retry_unless_transient(job: Job, exc_type: Any, exc: Any, tb: Any) -> bool:
    """rq exception handler: spend retries on transient failures only."""
    if not jobs.is_transient(exc) and job.retries_left:
        job.meta["retries"] = int(job.meta.get("max_retries", 0)) - job.retries_left
        job.save_meta()  # type: ignore[no-untyped-call]
        job.retries_left = 0
    return True


class _HuddleMixin:
    """What both worker classes share: a short recovery window, wake-ups often
    enough to recover dead workers' jobs, and remembering why work() ended."""

    recovery_s: int = 30
    context: WorkerContext | None = None
    job_monitoring_interval: int
    maintenance_interval: int
    stopping = False
    max_connection_wait_time = 5.0  # rq waits up to 60 s between reconnects

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        if job.timeout and job.timeout > 0:
            left = max(1.0, job.timeout - working_time)
            return int(min(left, self.job_monitoring_interval)) + self.recovery_s
        return self.job_monitoring_interval + self.recovery_s

    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(self.maintenance_interval, 60))

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stopping = True
        super().request_stop(signum, frame)  # type: ignore[misc]

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        if isinstance(job, ContextJob):
            job.context = self.context
        done: bool = super().perform_job(job, queue, execution)  # type: ignore[misc]
        return done


class SimpleHuddleWorker(_HuddleMixin, SimpleWorker):
    """Runs each job in the worker process, with a heartbeat thread while busy."""

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        done = threading.Event()
        beat = threading.Thread(target=self._beat, args=(job, execution, done), daemon=True)
        beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            done.set()
            beat.join()
        self.set_state(WorkerStatus.IDLE)

    def _beat(self, job: Job, execution: Execution, done: threading.Event) -> None:
        while not done.wait(self.job_monitoring_interval):
            try:
                self.maintain_heartbeats(job, execution)
            except Exception:  # a missed beat only shortens the recovery window
                log.warning("heartbeat of job %s failed", job.id, exc_info=True)


class ForkHuddleWorker(_HuddleMixin, Worker):
    """Forks a work horse per job (rq's default model), with the same recovery."""


def make_worker(
    conn: Redis,
    settings: Settings,
    context: WorkerContext,
    queues: Sequence[str] = jobs.QUEUES,
    *,
    name: str | None = None,
) -> BaseWorker:
    """A worker of the configured class that runs its jobs with ``context``."""
    cls: type[BaseWorker] = (
        SimpleHuddleWorker if settings.worker_class == "simple" else ForkHuddleWorker
    )
    worker = cls(
        list(queues),
        name=name,
        connection=conn,
        serializer=jobs.SERIALIZER,
        job_class=ContextJob,
        job_monitoring_interval=settings.job_heartbeat_s,
        maintenance_interval=max(1, min(settings.job_recovery_s, 600)),
        exception_handlers=[_no_retry_unless_transient],
        default_result_ttl=settings.job_result_ttl_s,
    )
    worker.recovery_s = settings.job_recovery_s  # type: ignore[attr-defined]
    worker.context = context  # type: ignore[attr-defined]
    return worker


def _wait_for(conn: Redis, stop: threading.Event | None = None) -> None:
    delay = 0.5
    while stop is None or not stop.is_set():
        try:
            conn.ping()
            return
        except (RedisConnectionError, RedisTimeoutError, OSError):
            log.warning("Redis is unreachable; retrying in %.1f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def run(
    settings: Settings,
    queues: Sequence[str] = jobs.QUEUES,
    *,
    burst: bool = False,
    hai: HuddleAI | None = None,
    max_jobs: int | None = None,
    logging_level: str = "INFO",
) -> bool:
    """Serve ``queues`` until stopped (or until they are empty with ``burst``).

    The engine is built once, here, before the first job (or ``hai`` is used). When the connection
    to Redis is lost for longer than rq tolerates, the worker waits for Redis
    to come back and starts serving again. Returns whether any job ran.
    """
    context = init_process(settings, hai=hai)
    conn = broker.connect(broker.resolve_url(settings.redis_url, settings.data_dir))
    _wait_for(conn)
    worked = False
    while True:
        worker = make_worker(conn, settings, context, queues)
        try:
            worked = (
                worker.work(
                    burst=burst,
                    with_scheduler=True,
                    max_jobs=max_jobs,
                    logging_level=logging_level,
                )
                or worked
            )
        except (RedisConnectionError, RedisTimeoutError):
            log.warning("lost Redis while shutting a worker down", exc_info=True)
        if burst or max_jobs is not None or getattr(worker, "stopping", False):
            return worked
        _wait_for(conn)
