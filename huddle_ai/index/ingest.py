"""Idempotent ingestion: validate everything, then embed what changed, in batches.

The plan is computed before anything is written: bad lines, duplicate ids and
unresolved references are collected first. An atomic ingest with any bad line
writes nothing. Unchanged records (same id, same content hash) are skipped
without being embedded; changed ones are re-embedded and overwritten. The
records are written in one database transaction, then indexed
(:meth:`Store.put`); an ingest first repairs what an interrupted earlier one
left for the index (:meth:`Store.sync`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from huddle_ai.errors import ImportRejectedError, LineError
from huddle_ai.index.embeddings import Embedder, Progress
from huddle_ai.index.formats import Parsed
from huddle_ai.index.plausibility import warnings_for
from huddle_ai.index.store import KINDS, Kind, Store
from huddle_ai.records import AnyRecord, Feedback, Solution, validate_org

__all__ = [
    "IngestReport",
    "Lookup",
    "StoredIds",
    "check",
    "ingest",
    "parsed_from",
    "store_lookup",
]


@dataclass
class IngestReport:
    """What an ingest did. ``texts_per_s`` counts embedded texts over the whole ingest."""

    org: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    errors: list[LineError] = field(default_factory=list)
    warnings: list[LineError] = field(default_factory=list)

    @property
    def texts_per_s(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "org": self.org,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
            "texts_per_s": round(self.texts_per_s, 1),
            "errors": [
                {"line": e.line, "id": e.record_id, "reason": e.reason} for e in self.errors
            ],
            "warnings": [
                {"line": w.line, "id": w.record_id, "field": w.field, "reason": w.reason}
                for w in self.warnings
            ],
        }


def _check_duplicates(parsed: Parsed) -> tuple[list[tuple[int, AnyRecord]], list[LineError]]:
    seen: dict[tuple[str, str], tuple[int, AnyRecord]] = {}
    errors: list[LineError] = []
    for line, rec in parsed.records:
        key = (rec.kind, rec.id)
        if key in seen and seen[key][1] != rec:
            errors.append(
                LineError(
                    line, f"duplicate {rec.kind} id, first defined on line {seen[key][0]}", rec.id
                )
            )
            continue
        seen.setdefault(key, (line, rec))
    return list(seen.values()), errors


Lookup = Callable[[Kind, list[str]], set[str]]
"""Which of the given ids of one kind an organization has stored."""


def store_lookup(store: Store, org: str) -> Lookup:
    return lambda kind, ids: set(store.hashes(org, kind, ids)) if ids else set()


def _resolve(
    known_ids: Lookup, records: list[tuple[int, AnyRecord]]
) -> tuple[list[tuple[int, AnyRecord]], list[LineError]]:
    """Keep records whose references resolve in the batch or the store."""
    ids: dict[str, set[str]] = {k: set() for k in KINDS}
    for _, rec in records:
        ids[rec.kind].add(rec.id)

    def known(kind: Kind, wanted: set[str]) -> set[str]:
        missing = sorted(wanted - ids[kind])
        return ids[kind] | known_ids(kind, missing)

    huddles = known("huddle", {r.huddle_id for _, r in records if isinstance(r, Solution)})
    learners = known("learner", {r.learner_id for _, r in records if isinstance(r, Solution)})
    errors: list[LineError] = []
    kept: list[tuple[int, AnyRecord]] = []
    good_solutions: set[str] = set()
    for line, rec in records:
        if isinstance(rec, Solution):
            if rec.huddle_id not in huddles:
                errors.append(
                    LineError(line, f"unknown huddle_id {rec.huddle_id!r}", rec.id, "huddle_id")
                )
                continue
            if rec.learner_id not in learners:
                errors.append(
                    LineError(line, f"unknown learner_id {rec.learner_id!r}", rec.id, "learner_id")
                )
                continue
            good_solutions.add(rec.id)
        kept.append((line, rec))
    # a feedback may only refer to a solution that is stored or valid in this batch
    wanted = {r.solution_id for _, r in kept if isinstance(r, Feedback)} - good_solutions
    solutions = good_solutions | known_ids("solution", sorted(wanted))
    final: list[tuple[int, AnyRecord]] = []
    for line, rec in kept:
        if isinstance(rec, Feedback) and rec.solution_id not in solutions:
            errors.append(
                LineError(line, f"unknown solution_id {rec.solution_id!r}", rec.id, "solution_id")
            )
            continue
        final.append((line, rec))
    return final, errors


class StoredIds:
    """Which ids an organization has stored (in the record database), whatever
    embedder indexed it: what the HTTP API checks references against without
    loading a model.

    ``open_store(embedder_id)`` opens the deployment's store (embedded or server)
    for that embedder id; a store is opened per look-up, so an organization
    deleted or reindexed by a worker is never seen through a stale handle.
    """

    def __init__(self, open_store: Callable[[str], Store]) -> None:
        self._open = open_store

    def open(self, embedder_id: str) -> Store:
        """The deployment's store for ``embedder_id`` (a fresh handle)."""
        return self._open(embedder_id)

    def lookup(self, org: str) -> Lookup:
        validate_org(org)
        stores: dict[str, Store | None] = {}

        def known(kind: Kind, ids: list[str]) -> set[str]:
            if not ids:
                return set()
            if "org" not in stores:  # the records are in the database: any embedder id will do
                stores["org"] = self._open("")
            store = stores["org"]
            return set() if store is None else set(store.hashes(org, kind, ids))

        return known


def check(parsed: Parsed, known_ids: Lookup) -> tuple[list[tuple[int, AnyRecord]], list[LineError]]:
    """Every problem of an import before anything is written: bad lines, conflicting
    duplicate ids and references that resolve neither in ``parsed`` nor in the store.
    Returns the records that may be written and the errors, by line."""
    records, dup_errors = _check_duplicates(parsed)
    records, ref_errors = _resolve(known_ids, records)
    return records, sorted(parsed.errors + dup_errors + ref_errors, key=lambda e: e.line)


def ingest(
    store: Store,
    embedder: Embedder,
    org: str,
    parsed: Parsed,
    *,
    skip_invalid: bool = False,
    strict: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Validate ``parsed`` fully, then write it idempotently.

    Raises :class:`ImportRejectedError` (and writes nothing) when any line is bad
    and ``skip_invalid`` is false, or, with ``strict``, when there is any
    plausibility warning (:mod:`huddle_ai.index.plausibility`); else the warnings are
    in the report.
    """
    validate_org(org)
    started = time.perf_counter()
    report = IngestReport(org=org)
    store.sync(org, lambda texts: embedder.embed(list(texts)))
    records, errors = check(parsed, store_lookup(store, org))
    if errors and not skip_invalid:
        raise ImportRejectedError(parsed.source, errors)
    report.errors = errors
    report.rejected = len(errors)
    report.warnings = parsed.warnings + warnings_for(
        records, lambda kind, ids: store.get(org, cast(Kind, kind), ids)
    )
    if strict and report.warnings:
        raise ImportRejectedError(parsed.source, report.warnings, what="warning")

    plan: dict[Kind, list[tuple[AnyRecord, str]]] = {k: [] for k in KINDS}
    by_kind: dict[Kind, list[AnyRecord]] = {k: [] for k in KINDS}
    for _, rec in records:
        by_kind[rec.kind].append(rec)
    for kind, recs in by_kind.items():
        stored = store.hashes(org, kind, [r.id for r in recs])
        for rec in recs:
            h = rec.content_hash()
            old = stored.get(rec.id)
            if old == h:
                report.unchanged += 1
                continue
            if old is None:
                report.added += 1
            else:
                report.updated += 1
            plan[kind].append((rec, h))

    todo = [item for kind in KINDS for item in plan[kind]]
    texts = [rec.embed_text() for rec, _ in todo]
    t0 = time.perf_counter()
    vectors = embedder.embed(texts, progress=progress)
    report.embed_seconds = time.perf_counter() - t0
    report.embedded = len(texts)

    store.put(org, todo, vectors)  # one transaction, parents before children
    report.seconds = time.perf_counter() - started
    return report


def parsed_from(records: Sequence[AnyRecord], source: str = "records") -> Parsed:
    """Wrap in-memory records as a :class:`Parsed` (line numbers are list positions)."""
    return Parsed(source, [(i, r) for i, r in enumerate(records, start=1)])
