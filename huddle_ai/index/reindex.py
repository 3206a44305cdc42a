"""Reindexing: rebuild an organization's vector index from its records alone.

Switching embedding backends (``torch`` to ``openvino``, or another model)
changes every vector, and the store refuses to mix them
(:class:`~huddle_ai.errors.BackendMismatchError`). A reindex rebuilds the
organization's collections from the record database: records and hashes are
kept, only the vectors change, and an index that was lost is rebuilt the same
way. Nothing needs to be re-imported. Run it while nothing else writes to the
organization.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from huddle_ai.errors import ConfigurationError, NotFoundError
from huddle_ai.index.embeddings import Embedder, Progress, Vectors
from huddle_ai.index.store import Store
from huddle_ai.records import validate_org

__all__ = ["ReindexReport", "reindex"]


@dataclass
class ReindexReport:
    """What a reindex did; ``previous`` is the embedder the organization had."""

    org: str
    previous: list[str]
    embedder: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def reindexed(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "org": self.org,
            "previous": self.previous,
            "embedder": self.embedder,
            "reindexed": self.reindexed,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
        }


def reindex(
    store: Store,
    embedder: Embedder,
    org: str,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> ReindexReport:
    """Re-embed ``org`` with ``embedder`` (the store must carry ``embedder.id``).

    Does nothing when the organization already uses this embedder, unless
    ``force``. An interrupted run loses nothing; running it again completes it.
    """
    validate_org(org)
    if store.embedder_id != embedder.id:
        raise ConfigurationError(
            f"the store is tagged {store.embedder_id!r} but the embedder is {embedder.id!r}"
        )
    started = time.perf_counter()
    store.recover(org)
    if org not in store.orgs():
        raise NotFoundError(f"organization {org!r} not found")
    previous = store.backends(org)
    report = ReindexReport(org, sorted(str(p) for p in previous), embedder.id)

    def embed(texts: Sequence[str]) -> Vectors:
        return embedder.embed(list(texts))

    if previous == {embedder.id} and not force:
        store.sync(org, embed)  # what an interrupted write left, if anything
        report.seconds = time.perf_counter() - started
        return report
    counts = store.reembed(org, embed, progress)
    report.counts = {str(k): v for k, v in counts.items()}
    report.seconds = time.perf_counter() - started
    return report
