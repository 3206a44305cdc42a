"""Importing accountability records: validate everything, then write it all in
one transaction, or nothing.

Checks beyond each record's own fields: every learner and partner must be
enrolled in the organization (in the file or already stored); a check-in's
commitment must exist (in the file or stored), and a partner check-in needs a
commitment with a partner; a *new* commitment may not be due in the past
unless ``allow_past_due`` (importing history).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from huddle_ai.accountability.records import ParsedFile, parse_lines
from huddle_ai.errors import ImportRejectedError, LineError
from huddle_ai.index.database import Database
from huddle_ai.index.database import accountability as q
from huddle_ai.records import validate_org

__all__ = ["ImportReport", "import_file", "import_lines", "import_parsed"]


@dataclass(frozen=True)
class ImportReport:
    org: str
    enrollments: int
    commitments: int
    checkins: int
    events: int
    seconds: float
    duplicate_events: int = 0  # skipped: already stored, or repeated in the input

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def summary(self) -> str:
        rate = self.events / self.seconds * 60 if self.seconds > 0 else 0.0
        return (
            f"imported {self.enrollments} enrollments, {self.commitments} commitments, "
            f"{self.checkins} check-ins, {self.events} events in {self.seconds:.2f}s"
            + (f" ({rate:,.0f} events/min)" if self.events else "")
            + (
                f"; {self.duplicate_events} duplicate events skipped"
                if self.duplicate_events
                else ""
            )
        )


def _reference_errors(
    s: Session, org: str, parsed: ParsedFile, now: datetime, allow_past_due: bool
) -> list[LineError]:
    errors: list[LineError] = []
    people: set[str] = {r.learner_id for _, r in parsed.events}
    people.update(r.learner_id for _, r in parsed.commitments)
    people.update(r.partner_id for _, r in parsed.commitments if r.partner_id)
    people.update(r.peer_id for _, r in parsed.events if r.peer_id)
    known = {r.learner_id for _, r in parsed.enrollments} | q.enrolled(s, org, people)

    stored = q.known_commitments(s, org, [r.id for _, r in parsed.commitments])
    stored.update(q.known_commitments(s, org, [r.commitment_id for _, r in parsed.checkins]))
    in_file = {r.id: r for _, r in parsed.commitments}

    for line, c in parsed.commitments:
        if c.learner_id not in known:
            errors.append(
                LineError(
                    line, f"unknown learner {c.learner_id!r} (not enrolled)", c.id, "learner_id"
                )
            )
        if c.partner_id is not None and c.partner_id not in known:
            errors.append(
                LineError(
                    line, f"unknown partner {c.partner_id!r} (not enrolled)", c.id, "partner_id"
                )
            )
        if c.partner_id == c.learner_id:
            errors.append(
                LineError(line, "a learner cannot partner themselves", c.id, "partner_id")
            )
        if c.id not in stored and c.status == "open" and c.due_at <= now and not allow_past_due:
            errors.append(
                LineError(
                    line,
                    f"due date {c.due_at.isoformat()} is in the past; give a future date "
                    "(or import history with --allow-past-due)",
                    c.id,
                    "due_at",
                )
            )
    for line, k in parsed.checkins:
        target_partner: str | None
        if k.commitment_id in in_file:
            target_partner = in_file[k.commitment_id].partner_id
        elif k.commitment_id in stored:
            target_partner = stored[k.commitment_id].partner_id
        else:
            errors.append(
                LineError(line, f"unknown commitment {k.commitment_id!r}", k.id, "commitment_id")
            )
            continue
        if k.author == "partner" and target_partner is None:
            errors.append(
                LineError(
                    line, "a partner check-in on a commitment without a partner", k.id, "author"
                )
            )
    for line, e in parsed.events:
        if e.learner_id not in known:
            errors.append(
                LineError(
                    line, f"unknown learner {e.learner_id!r} (not enrolled)", None, "learner_id"
                )
            )
        elif e.peer_id is not None and e.peer_id not in known:
            errors.append(
                LineError(line, f"unknown peer {e.peer_id!r} (not enrolled)", None, "peer_id")
            )
    errors.sort(key=lambda e: e.line)
    return errors


_CLOSING = {"done", "partly", "missed", "dropped"}


def import_parsed(
    db: Database,
    org: str,
    parsed: ParsedFile,
    *,
    now: datetime,
    allow_past_due: bool = False,
    source: str = "records",
) -> ImportReport:
    """Write ``parsed`` in one transaction after checking every reference;
    raises :class:`ImportRejectedError` (nothing written) on any bad line."""
    validate_org(org)
    if parsed.errors:
        raise ImportRejectedError(source, parsed.errors)
    start = time.perf_counter()
    with db.session() as s:
        errors = _reference_errors(s, org, parsed, now, allow_past_due)
        if errors:
            raise ImportRejectedError(source, errors)
        q.upsert_enrollments(
            s,
            org,
            [r.model_dump(exclude={"kind"}) for _, r in parsed.enrollments],
        )
        q.upsert_commitments(
            s,
            org,
            [
                {**r.model_dump(exclude={"kind"}), "created_at": r.created_at or now}
                for _, r in parsed.commitments
            ],
        )
        q.upsert_checkins(
            s,
            org,
            [
                {**r.model_dump(exclude={"kind"}), "created_at": r.created_at or now}
                for _, r in parsed.checkins
            ],
        )
        s.flush()
        for _, k in sorted(parsed.checkins, key=lambda lr: lr[1].created_at or now):
            if k.status in _CLOSING:
                q.set_status(s, org, k.commitment_id, k.status)
        inserted, duplicates = q.insert_events(
            s,
            org,
            [
                {
                    "event_id": e.id,
                    "learner_id": e.learner_id,
                    "type": e.type,
                    "at": e.at,
                    "count": e.count,
                    "huddle_id": e.huddle_id,
                    "peer_id": e.peer_id,
                }
                for _, e in parsed.events
            ],
        )
    return ImportReport(
        org,
        len(parsed.enrollments),
        len(parsed.commitments),
        len(parsed.checkins),
        inserted,
        time.perf_counter() - start,
        duplicates,
    )


def import_lines(
    db: Database,
    org: str,
    lines: Iterable[str | bytes],
    *,
    now: datetime,
    allow_past_due: bool = False,
    source: str = "records",
) -> ImportReport:
    start = time.perf_counter()
    parsed = parse_lines(lines)
    report = import_parsed(db, org, parsed, now=now, allow_past_due=allow_past_due, source=source)
    # the rate a caller sees includes parsing and validation
    return dataclasses.replace(report, seconds=time.perf_counter() - start)


def import_file(
    db: Database, org: str, path: Path, *, now: datetime, allow_past_due: bool = False
) -> ImportReport:
    with path.open("rb") as fh:
        return import_lines(db, org, fh, now=now, allow_past_due=allow_past_due, source=str(path))
