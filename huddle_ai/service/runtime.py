"""What a worker process holds while it runs jobs: the engine and the webhook
settings it built once (:class:`WorkerContext`), and the rq job class that
hands them to each job function as its first argument (:class:`ContextJob`).

Nothing here is global: the worker owns its context and sets it on each job
it performs; a job run anywhere else has no context and fails with a
:class:`ConfigurationError` instead of building one behind the caller's back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rq.job import Job

from huddle_ai.engine import HuddleAI
from huddle_ai.errors import ConfigurationError
from huddle_ai.service.webhooks import WebhookConfig

__all__ = ["ContextJob", "WorkerContext"]


@dataclass(frozen=True)
class WorkerContext:
    """The clients a worker process built once, passed to every job it runs."""

    engine: HuddleAI
    webhooks: WebhookConfig


class ContextJob(Job):
    """An rq job whose function is called as ``func(context, *args, **kwargs)``.

    Every job function on the huddle_ai queues takes the :class:`WorkerContext`
    first; what is stored in Redis are only the JSON arguments after it.
    """

    context: WorkerContext | None = None

    @property
    def func(self) -> Callable[..., Any] | None:
        target = super().func
        if target is None:
            return None
        if self.context is None:
            raise ConfigurationError(
                f"job {self.id} needs a worker context: run it with `huddle-ai worker`"
            )
        return functools.partial(target, self.context)
