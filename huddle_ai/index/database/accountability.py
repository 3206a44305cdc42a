"""Org-scoped queries of the accountability loop.

Every function takes the session and the organization and filters on it, so
one organization's rows are never read for another. Events are written in
batches with ``session.execute(insert(Event), rows)`` (executemany).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from huddle_ai.index.database.models import (
    Checkin,
    Commitment,
    Enrollment,
    Event,
    Followup,
    Subscription,
)

__all__ = [
    "EVENT_BATCH",
    "EventRow",
    "checkins_of",
    "commitments",
    "count_events",
    "delete_org",
    "enrolled",
    "enrollments",
    "event_key",
    "event_rows",
    "get_commitment",
    "insert_events",
    "known_commitments",
    "mark_step",
    "set_status",
    "set_subscription",
    "silent_partners",
    "steps_done",
    "steps_with_prefix",
    "subscription",
    "upsert_checkins",
    "upsert_commitments",
    "upsert_enrollments",
]

EVENT_BATCH = 20_000
EventRow = tuple[str, str, datetime, int, str | None]  # learner, type, at, count, peer


def _chunks(ids: Sequence[str], n: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), n):
        yield ids[i : i + n]


def enrolled(s: Session, org: str, learner_ids: Iterable[str]) -> set[str]:
    """Which of ``learner_ids`` are enrolled in some cohort of ``org``."""
    wanted = sorted(set(learner_ids))
    found: set[str] = set()
    for chunk in _chunks(wanted):
        q = select(Enrollment.learner_id).where(
            Enrollment.org == org, Enrollment.learner_id.in_(chunk)
        )
        found.update(s.scalars(q))
    return found


def enrollments(s: Session, org: str, cohort: str | None = None) -> list[Enrollment]:
    q = select(Enrollment).where(Enrollment.org == org)
    if cohort is not None:
        q = q.where(Enrollment.cohort == cohort)
    return list(s.scalars(q.order_by(Enrollment.cohort, Enrollment.learner_id)))


def known_commitments(s: Session, org: str, ids: Iterable[str]) -> dict[str, Commitment]:
    out: dict[str, Commitment] = {}
    for chunk in _chunks(sorted(set(ids))):
        q = select(Commitment).where(Commitment.org == org, Commitment.id.in_(chunk))
        out.update((c.id, c) for c in s.scalars(q))
    return out


def get_commitment(s: Session, org: str, commitment_id: str) -> Commitment | None:
    return s.get(Commitment, (org, commitment_id))


def commitments(
    s: Session,
    org: str,
    *,
    learner_id: str | None = None,
    status: str | None = None,
    due_before: datetime | None = None,
) -> list[Commitment]:
    q = select(Commitment).where(Commitment.org == org)
    if learner_id is not None:
        q = q.where(Commitment.learner_id == learner_id)
    if status is not None:
        q = q.where(Commitment.status == status)
    if due_before is not None:
        q = q.where(Commitment.due_at <= due_before)
    return list(s.scalars(q.order_by(Commitment.due_at, Commitment.id)))


def checkins_of(s: Session, org: str, commitment_id: str | None = None) -> list[Checkin]:
    q = select(Checkin).where(Checkin.org == org)
    if commitment_id is not None:
        q = q.where(Checkin.commitment_id == commitment_id)
    return list(s.scalars(q.order_by(Checkin.created_at, Checkin.id)))


def upsert_enrollments(s: Session, org: str, rows: Sequence[Mapping[str, Any]]) -> int:
    for row in rows:
        s.merge(Enrollment(org=org, **row))
    return len(rows)


def upsert_commitments(s: Session, org: str, rows: Sequence[Mapping[str, Any]]) -> int:
    for row in rows:
        s.merge(Commitment(org=org, **row))
    return len(rows)


def upsert_checkins(s: Session, org: str, rows: Sequence[Mapping[str, Any]]) -> int:
    for row in rows:
        s.merge(Checkin(org=org, **row))
    return len(rows)


def set_status(s: Session, org: str, commitment_id: str, status: str) -> None:
    s.execute(
        update(Commitment)
        .where(Commitment.org == org, Commitment.id == commitment_id)
        .values(status=status)
    )


def event_key(
    learner_id: str,
    kind: str,
    at: datetime,
    huddle_id: str | None,
    peer_id: str | None,
    event_id: str | None,
) -> str:
    """What makes two events one: the platform's event id when it sent one, else
    the learner, type, instant (any timezone), huddle and peer (feedback to two
    peers in the same second is two events)."""
    if event_id is not None:
        raw = f"id\0{event_id}"
    else:
        when = at.astimezone(UTC).isoformat()
        raw = f"ev\0{learner_id}\0{kind}\0{when}\0{huddle_id or ''}\0{peer_id or ''}"
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def insert_events(s: Session, org: str, rows: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """Bulk-insert events (executemany in batches of :data:`EVENT_BATCH`), one row
    per :func:`event_key`: a repeat, in ``rows`` or already stored, is skipped.
    Returns (inserted, skipped as duplicates)."""
    unique: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = event_key(
            r["learner_id"], r["type"], r["at"], r["huddle_id"], r["peer_id"], r.get("event_id")
        )
        if key not in unique:
            unique[key] = {"org": org, **r, "dedup": key}
    batch_rows = list(unique.values())
    dialect = s.get_bind().dialect.name
    # Core, not the ORM's bulk insert: Core reports the rows written
    table = cast(Table, Event.__table__)
    stmt: Any
    if dialect == "postgresql":
        # psycopg's executemany reports no rowcount, and RETURNING made the insert
        # 2.5x slower: the keys already stored are looked up first (an index scan),
        # and the insert still skips any a concurrent import adds meanwhile
        keys = [r["dedup"] for r in batch_rows]
        stored: set[str] = set()
        for chunk in _chunks(keys, 1000):
            q = select(Event.dedup).where(Event.org == org, Event.dedup.in_(chunk))
            stored.update(s.scalars(q))
        batch_rows = [r for r in batch_rows if r["dedup"] not in stored]
        stmt = pg_insert(table).on_conflict_do_nothing(index_elements=["org", "dedup"])
    elif dialect == "sqlite":
        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=["org", "dedup"])
    else:  # pragma: no cover - the two supported backends are above
        stored = set(s.scalars(select(Event.dedup).where(Event.org == org)))
        batch_rows = [r for r in batch_rows if r["dedup"] not in stored]
        stmt = insert(table)
    inserted = 0
    for i in range(0, len(batch_rows), EVENT_BATCH):
        result = s.execute(stmt, batch_rows[i : i + EVENT_BATCH])
        if dialect == "sqlite":
            inserted += int(cast(CursorResult[Any], result).rowcount)
        else:
            inserted += len(batch_rows[i : i + EVENT_BATCH])
    return inserted, len(rows) - inserted


def event_rows(
    s: Session, org: str, *, until: datetime | None = None, since: datetime | None = None
) -> list[EventRow]:
    """Every event of ``org`` in the window, oldest first."""
    q = select(Event.learner_id, Event.type, Event.at, Event.count, Event.peer_id).where(
        Event.org == org
    )
    if until is not None:
        q = q.where(Event.at <= until)
    if since is not None:
        q = q.where(Event.at >= since)
    return [(r[0], r[1], r[2], r[3], r[4]) for r in s.execute(q.order_by(Event.at))]


def count_events(s: Session, org: str) -> int:
    return int(s.scalar(select(func.count()).select_from(Event).where(Event.org == org)) or 0)


def mark_step(s: Session, org: str, commitment_id: str, step: str, at: datetime) -> bool:
    """Record that a follow-up step was carried out; False if it already was
    (an atomic insert-or-nothing, so two workers cannot both do it)."""
    values = {"org": org, "commitment_id": commitment_id, "step": step, "done_at": at}
    dialect = s.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = pg_insert(Followup).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite_insert(Followup).values(**values).on_conflict_do_nothing()
    else:
        if s.get(Followup, (org, commitment_id, step)) is not None:
            return False
        s.add(Followup(**values))
        return True
    # RETURNING, not rowcount: a driver may report -1 (unknown) for a statement
    # it did not count, which would read as "done" and send the step twice
    return s.execute(stmt.returning(Followup.step)).first() is not None


def silent_partners(s: Session, org: str, *, due_before: datetime) -> list[tuple[str, str]]:
    """(commitment, partner) of each commitment due by ``due_before``, not dropped,
    whose partner has not checked in."""
    heard = (
        select(Checkin.id)
        .where(
            Checkin.org == org,
            Checkin.commitment_id == Commitment.id,
            Checkin.author == "partner",
        )
        .exists()
    )
    q = (
        select(Commitment.id, Commitment.partner_id)
        .where(
            Commitment.org == org,
            Commitment.partner_id.is_not(None),
            Commitment.status != "dropped",
            Commitment.due_at <= due_before,
            ~heard,
        )
        .order_by(Commitment.due_at, Commitment.id)
    )
    return [(cid, str(pid)) for cid, pid in s.execute(q)]


def steps_with_prefix(s: Session, org: str, prefix: str) -> set[tuple[str, str]]:
    """(commitment, step) of every step of ``org`` done whose key starts with ``prefix``."""
    q = select(Followup.commitment_id, Followup.step).where(
        Followup.org == org, Followup.step.startswith(prefix, autoescape=True)
    )
    return {(cid, step) for cid, step in s.execute(q)}


def steps_done(s: Session, org: str, commitment_id: str) -> set[str]:
    q = select(Followup.step).where(Followup.org == org, Followup.commitment_id == commitment_id)
    return set(s.scalars(q))


def set_subscription(s: Session, org: str, url: str | None) -> None:
    if url is None:
        s.execute(delete(Subscription).where(Subscription.org == org))
    else:
        s.merge(Subscription(org=org, url=url))


def subscription(s: Session, org: str) -> str | None:
    row = s.get(Subscription, org)
    return row.url if row is not None else None


def delete_org(s: Session, org: str) -> None:
    for model in (Event, Checkin, Commitment, Enrollment, Followup, Subscription):
        s.execute(delete(model).where(model.org == org))
