"""Org-scoped queries of the core records: huddles, learners, solutions and
feedback, each organization's generation and the vector-index outbox.

Every function takes the session and the organization and filters on it, so
one organization's rows are never read for another. Rows carry the record as
JSON; this module knows columns, not pydantic models, except to build a row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from huddle_ai.errors import InvalidInputError
from huddle_ai.index.database.models import (
    FeedbackRow,
    HuddleRow,
    IndexPending,
    LearnerRow,
    Organization,
    SolutionRow,
)
from huddle_ai.records import AnyRecord, Feedback, Solution

__all__ = [
    "ROWS",
    "Pending",
    "add_pending",
    "clear_pending",
    "count",
    "delete_org",
    "delete_records",
    "find",
    "generation",
    "get",
    "hashes",
    "ids",
    "orgs",
    "page",
    "pending",
    "pending_orgs",
    "row_of",
    "touch",
    "upsert",
]

RowModel = type[HuddleRow] | type[LearnerRow] | type[SolutionRow] | type[FeedbackRow]
ROWS: dict[str, RowModel] = {
    "huddle": HuddleRow,
    "learner": LearnerRow,
    "solution": SolutionRow,
    "feedback": FeedbackRow,
}
# the columns a `where` may name: the relations queries filter on
_FILTERABLE = {
    "solution": {"huddle_id", "learner_id"},
    "feedback": {"solution_id", "author_id", "author_role", "helpfulness"},
}
_CHUNK = 500  # ids per IN (...)
_WRITE_BATCH = 5000  # rows per executemany

Pending = tuple[str, str, str]
"""An outbox entry: (kind, id, hash); hash ``""`` means the entry is removed."""


def _chunks(items: Sequence[str], n: int = _CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def row_of(record: AnyRecord, content_hash: str) -> dict[str, Any]:
    """The row of a record: key, hash, JSON and the relation columns of its kind."""
    row: dict[str, Any] = {
        "id": record.id,
        "hash": content_hash,
        "record": json.dumps(record.model_dump(mode="json"), ensure_ascii=False),
    }
    if isinstance(record, Solution):
        row.update(huddle_id=record.huddle_id, learner_id=record.learner_id)
    elif isinstance(record, Feedback):
        row.update(
            solution_id=record.solution_id,
            author_id=record.author_id,
            author_role=record.author_role.value,
            helpfulness=record.helpfulness,
        )
    return row


def _insert(s: Session, model: Any) -> Any:
    if s.get_bind().dialect.name == "postgresql":
        return pg_insert(model)
    return sqlite_insert(model)


# -- organizations ------------------------------------------------------------


def touch(s: Session, org: str) -> str:
    """Create the organization if new and renew its generation; returns it."""
    token = uuid.uuid4().hex
    stmt = _insert(s, Organization).values(org=org, generation=token, created_at=datetime.now(UTC))
    s.execute(stmt.on_conflict_do_update(index_elements=["org"], set_={"generation": token}))
    return token


def generation(s: Session, org: str) -> str | None:
    return s.scalar(select(Organization.generation).where(Organization.org == org))


def orgs(s: Session) -> list[str]:
    return list(s.scalars(select(Organization.org).order_by(Organization.org)))


# -- writes -----------------------------------------------------------------


def upsert(s: Session, org: str, kind: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or overwrite rows (from :func:`row_of`); a new row is stored last,
    an overwritten one keeps its place."""
    if not rows:
        return
    model = ROWS[kind]
    last = s.scalar(select(func.max(model.seq)).where(model.org == org)) or 0
    stmt = _insert(s, model)
    kept = {"org", "id", "seq"}
    cols = [c.name for c in model.__table__.columns if c.name not in kept]
    stmt = stmt.on_conflict_do_update(
        index_elements=["org", "id"], set_={c: stmt.excluded[c] for c in cols}
    )
    for start in range(0, len(rows), _WRITE_BATCH):
        batch = [
            {**r, "org": org, "seq": last + start + i + 1}
            for i, r in enumerate(rows[start : start + _WRITE_BATCH])
        ]
        s.execute(stmt, batch)


def delete_records(s: Session, org: str, kind: str, record_ids: Sequence[str]) -> int:
    model = ROWS[kind]
    n = 0
    for chunk in _chunks(sorted(set(record_ids))):
        result = s.execute(delete(model).where(model.org == org, model.id.in_(chunk)))
        n += int(getattr(result, "rowcount", 0) or 0)
    return n


def delete_org(s: Session, org: str) -> bool:
    """Every record of ``org`` and the organization itself; False if it had none."""
    found = s.get(Organization, org) is not None
    for kind in ("feedback", "solution", "learner", "huddle"):  # children first
        model = ROWS[kind]
        s.execute(delete(model).where(model.org == org))
    s.execute(delete(Organization).where(Organization.org == org))
    s.execute(delete(IndexPending).where(IndexPending.org == org))
    return found


# -- reads --------------------------------------------------------------------


def _by_id(
    s: Session, org: str, kind: str, record_ids: Sequence[str], column: str
) -> dict[str, str]:
    model = ROWS[kind]
    out: dict[str, str] = {}
    for chunk in _chunks(list(dict.fromkeys(record_ids))):
        q = select(model.id, getattr(model, column)).where(model.org == org, model.id.in_(chunk))
        out.update((r[0], r[1]) for r in s.execute(q))
    return out


def get(s: Session, org: str, kind: str, record_ids: Sequence[str]) -> dict[str, str]:
    """The JSON of each stored id."""
    return _by_id(s, org, kind, record_ids, "record")


def hashes(s: Session, org: str, kind: str, record_ids: Sequence[str]) -> dict[str, str]:
    """The content hash of each stored id."""
    return _by_id(s, org, kind, record_ids, "hash")


def _conditions(model: RowModel, kind: str, where: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    """Chroma's ``where`` subset the callers use: ``{col: v}``, ``{col: {"$in": [...]}}``,
    ``{"$eq"|"$ne": v}`` and ``{"$and": [...]}``."""
    out: list[ColumnElement[bool]] = []
    for key, value in where.items():
        if key == "$and":
            for part in value:
                out.extend(_conditions(model, kind, part))
            continue
        if key not in _FILTERABLE.get(kind, set()):
            raise InvalidInputError(f"cannot filter {kind} records on {key!r}")
        col = getattr(model, key)
        if isinstance(value, Mapping):
            [(op, arg)] = value.items()
            if op == "$in":
                out.append(col.in_(list(arg)))
            elif op == "$eq":
                out.append(col == arg)
            elif op == "$ne":
                out.append(col != arg)
            else:
                raise InvalidInputError(f"unsupported filter operator {op!r}")
        else:
            out.append(col == value)
    return out


def _split_in(where: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A long ``$in`` list as several queries (bound-parameter limits)."""
    for key, value in where.items():
        if isinstance(value, Mapping) and "$in" in value and len(value["$in"]) > _CHUNK:
            values = list(value["$in"])
            return [{**where, key: {"$in": list(chunk)}} for chunk in _chunks(values)]
    return [where]


def find(s: Session, org: str, kind: str, where: Mapping[str, Any]) -> list[str]:
    """The JSON of records matching ``where``, in store order."""
    model = ROWS[kind]
    out: list[str] = []
    for part in _split_in(where):
        q = select(model.record).where(model.org == org, *_conditions(model, kind, part))
        out.extend(s.scalars(q.order_by(model.seq, model.id)))
    return out


def ids(s: Session, org: str, kind: str, where: Mapping[str, Any]) -> list[str]:
    """Ids of records matching ``where``, oldest stored first."""
    model = ROWS[kind]
    out: list[str] = []
    for part in _split_in(where):
        q = select(model.id).where(model.org == org, *_conditions(model, kind, part))
        out.extend(s.scalars(q.order_by(model.seq, model.id)))
    return out


def page(
    s: Session, org: str, kind: str, after: tuple[int, str] | None, limit: int
) -> list[tuple[int, str, str, str]]:
    """(seq, id, hash, JSON) rows in store order after the key ``after``."""
    model = ROWS[kind]
    q = select(model.seq, model.id, model.hash, model.record).where(model.org == org)
    if after is not None:
        seq, last = after
        q = q.where((model.seq > seq) | and_(model.seq == seq, model.id > last))
    q = q.order_by(model.seq, model.id).limit(limit)
    return [(r[0], r[1], r[2], r[3]) for r in s.execute(q)]


def count(s: Session, org: str, kind: str) -> int:
    model = ROWS[kind]
    return int(s.scalar(select(func.count()).select_from(model).where(model.org == org)) or 0)


# -- the vector-index outbox ----------------------------------------------------


def add_pending(s: Session, org: str, entries: Iterable[Pending]) -> None:
    rows = [{"org": org, "kind": k, "id": i, "hash": h} for k, i, h in entries]
    if not rows:
        return
    stmt = _insert(s, IndexPending)
    stmt = stmt.on_conflict_do_update(
        index_elements=["org", "kind", "id"], set_={"hash": stmt.excluded.hash}
    )
    for start in range(0, len(rows), _WRITE_BATCH):
        s.execute(stmt, rows[start : start + _WRITE_BATCH])


def pending(s: Session, org: str) -> list[Pending]:
    q = select(IndexPending.kind, IndexPending.id, IndexPending.hash).where(IndexPending.org == org)
    return [(r[0], r[1], r[2]) for r in s.execute(q.order_by(IndexPending.kind, IndexPending.id))]


def pending_orgs(s: Session) -> list[str]:
    q = select(IndexPending.org).distinct().order_by(IndexPending.org)
    return list(s.scalars(q))


def clear_pending(s: Session, org: str, entries: Iterable[Pending]) -> None:
    """Remove entries the index now reflects; one rewritten since (another hash) stays."""
    rows = [{"o": org, "k": k, "i": i, "h": h} for k, i, h in entries]
    if not rows:
        return
    t = cast(Table, IndexPending.__table__)
    stmt = t.delete().where(
        t.c.org == bindparam("o"),
        t.c.kind == bindparam("k"),
        t.c.id == bindparam("i"),
        t.c.hash == bindparam("h"),
    )
    conn = s.connection()
    for start in range(0, len(rows), _WRITE_BATCH):
        conn.execute(stmt, rows[start : start + _WRITE_BATCH])
