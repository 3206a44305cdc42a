"""Bulk event import stores each event once: the same event id, or the same
learner/type/instant/huddle/peer, is one row, within a file, across imports
and across timezones; the migration removes duplicates stored before it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from huddle_ai.accountability import Accountability, ManualClock
from huddle_ai.index.database import Database, scratch_database
from huddle_ai.index.database import accountability as q
from huddle_ai.index.database.engine import MIGRATIONS
from tests.test_accountability import enroll_lines

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def acct_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh SQLite file, or a PostgreSQL database created for this test and dropped."""
    url = None
    if request.param == "postgresql":
        import psycopg

        try:
            psycopg.connect("host=127.0.0.1 user=postgres dbname=test", connect_timeout=2).close()
        except psycopg.Error:
            pytest.skip("no PostgreSQL on 127.0.0.1:5432")
        url = PG
    with scratch_database(url, tmp_path) as db:
        yield db


def _event(learner: str, minute: int, **extra: object) -> str:
    at = (NOW - timedelta(minutes=minute)).isoformat()
    return json.dumps({"kind": "event", "learner_id": learner, "type": "viewed", "at": at, **extra})


def test_same_event_is_one_row(acct_db: Database) -> None:
    db = acct_db
    acct = Accountability(db, clock=ManualClock(NOW))
    acct.import_lines("acme", enroll_lines("l-ana", "l-bo"))
    same_instant = (NOW - timedelta(minutes=5)).astimezone(ZoneInfo("Europe/Berlin"))
    lines = [
        _event("l-ana", 5),
        _event("l-ana", 5),  # the same event twice in one file
        json.dumps(  # the same instant written in another zone
            {
                "kind": "event",
                "learner_id": "l-ana",
                "type": "viewed",
                "at": same_instant.isoformat(),
            }
        ),
        _event("l-ana", 5, huddle_id="h-1"),  # another huddle: another event
        _event("l-bo", 5),  # another learner
        _event("l-ana", 6, id="e-1"),
        _event("l-ana", 7, id="e-1"),  # same id, resent with another time: one row
        _event("l-ana", 8, id="e-2"),
    ]
    report = acct.import_lines("acme", lines)
    assert (report.events, report.duplicate_events) == (5, 3)
    again = acct.import_lines("acme", lines)  # the whole file re-sent
    assert (again.events, again.duplicate_events) == (0, 8)
    with db.session() as s:
        assert q.count_events(s, "acme") == 5
    # the same events in another organization are that organization's own
    acct.import_lines("beta", enroll_lines("l-ana", "l-bo"))
    assert acct.import_lines("beta", lines).events == 5


def test_migration_removes_stored_duplicates(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    command.upgrade(cfg, "0001")  # the schema before de-duplication
    at = datetime(2026, 11, 3, 10, 0)
    rows = [
        {"org": "acme", "learner_id": "l-ana", "type": "viewed", "at": at, "count": 1},
        {"org": "acme", "learner_id": "l-ana", "type": "viewed", "at": at, "count": 1},
        {"org": "beta", "learner_id": "l-ana", "type": "viewed", "at": at, "count": 1},
        {"org": "acme", "learner_id": "l-ana", "type": "submitted", "at": at, "count": 1},
    ]
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO event (org, learner_id, type, at, count) "
                "VALUES (:org, :learner_id, :type, :at, :count)"
            ),
            rows,
        )
    engine.dispose()
    db = Database(url)
    try:
        db.migrate()
        with db.session() as s:
            assert q.count_events(s, "acme") == 2
            assert q.count_events(s, "beta") == 1
        acct = Accountability(db, clock=ManualClock(NOW))
        acct.import_lines("acme", enroll_lines("l-ana"))
        rec = {
            "kind": "event",
            "learner_id": "l-ana",
            "type": "viewed",
            "at": "2026-11-03T10:00:00Z",
        }
        assert acct.import_lines("acme", [json.dumps(rec)]).duplicate_events == 1
    finally:
        db.dispose()
