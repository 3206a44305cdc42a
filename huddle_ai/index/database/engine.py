"""The database handle: an SQLAlchemy engine and session factory for one URL,
with the Alembic migrations applied before the first session.

SQLite under the data directory is the embedded default
(:func:`default_url`); PostgreSQL (``postgresql+psycopg://...``) is the mode
for several workers and machines. The migrations ship inside the package and
are run programmatically (no ``alembic.ini``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from huddle_ai.errors import ConfigurationError

__all__ = ["MIGRATIONS", "Database", "default_url", "resolve_url", "scratch_database"]

MIGRATIONS = Path(__file__).with_name("migrations")


def default_url(data_dir: Path) -> str:
    """The embedded SQLite file under the data directory."""
    return f"sqlite:///{(data_dir / 'huddle_ai.db').resolve()}"


def resolve_url(url: str | None, data_dir: Path) -> str:
    """The configured URL, plain ``postgresql://`` mapped to the psycopg 3 driver."""
    if not url:
        return default_url(data_dir)
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Database:
    """One database: ``with db.session() as s: ...`` is one unit of work (one
    transaction, committed on success, rolled back on any error)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine: Engine = create_engine(url, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._migrated = False
        self._lock = threading.Lock()

    def migrate(self) -> None:
        """Bring the schema up to the newest migration (safe to call again)."""
        from alembic import command
        from alembic.config import Config

        with self._lock:
            if self._migrated:
                return
            if self.is_sqlite and ":///" in self.url and not self.url.endswith(":memory:"):
                Path(self.url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["engine"] = self.engine
            try:
                command.upgrade(cfg, "heads")  # independent branches (records, accountability)
            except SQLAlchemyError as exc:
                raise ConfigurationError(f"database {self.safe_url}: {exc}") from exc
            self._migrated = True

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        self.migrate()
        with self._sessions() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def scratch_database(server_url: str | None, tmp_dir: Path) -> Iterator[Database]:
    """A fresh, empty database that is removed afterwards: a SQLite file in
    ``tmp_dir``, or a new database on the server ``server_url`` names."""
    if not server_url or server_url.startswith("sqlite"):
        db = Database(f"sqlite:///{tmp_dir / 'scratch.db'}")
        try:
            yield db
        finally:
            db.dispose()
        return
    import uuid

    from sqlalchemy import text

    admin = create_engine(resolve_url(server_url, tmp_dir), isolation_level="AUTOCOMMIT")
    name = f"huddle_scratch_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(admin.url.set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
