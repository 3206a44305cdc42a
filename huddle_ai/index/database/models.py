"""The relational tables (SQLAlchemy 2, typed ``Mapped[...]`` models).

Every table carries the organization in its key, so no row can be read
without naming its organization. Times are stored as UTC (:class:`UTCDateTime`
keeps them timezone-aware on SQLite too).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "Checkin",
    "Commitment",
    "Enrollment",
    "Event",
    "FeedbackRow",
    "Followup",
    "HuddleRow",
    "IndexPending",
    "LearnerRow",
    "Organization",
    "SolutionRow",
    "Subscription",
    "UTCDateTime",
]

ID = String(128)
ORG = String(40)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (naive UTC on disk)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; give a timezone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Enrollment(Base):
    """A learner in a cohort, with the cohort's final outcome once known."""

    __tablename__ = "enrollment"
    org: Mapped[str] = mapped_column(ORG, primary_key=True)
    cohort: Mapped[str] = mapped_column(ID, primary_key=True)
    learner_id: Mapped[str] = mapped_column(ID, primary_key=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))  # completed | dropped


class Commitment(Base):
    __tablename__ = "commitment"
    org: Mapped[str] = mapped_column(ORG, primary_key=True)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    learner_id: Mapped[str] = mapped_column(ID)
    huddle_id: Mapped[str] = mapped_column(ID)
    solution_id: Mapped[str | None] = mapped_column(ID)
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    partner_id: Mapped[str | None] = mapped_column(ID)
    status: Mapped[str] = mapped_column(String(16))  # open | done | partly | missed | dropped
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_commitment_learner", "org", "learner_id"),
        Index("ix_commitment_due", "org", "status", "due_at"),
    )


class Checkin(Base):
    __tablename__ = "checkin"
    org: Mapped[str] = mapped_column(ORG, primary_key=True)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    commitment_id: Mapped[str] = mapped_column(ID)
    author: Mapped[str] = mapped_column(String(16))  # self | partner
    status: Mapped[str] = mapped_column(String(16))
    reflection: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_checkin_commitment", "org", "commitment_id"),)


class Event(Base):
    """One learner activity (bulk: append-only, inserted in batches)."""

    __tablename__ = "event"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    org: Mapped[str] = mapped_column(ORG)
    learner_id: Mapped[str] = mapped_column(ID)
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=1)
    huddle_id: Mapped[str | None] = mapped_column(ID)
    peer_id: Mapped[str | None] = mapped_column(ID)  # who received feedback / a comment
    event_id: Mapped[str | None] = mapped_column(ID)  # the platform's id, when it sent one
    # one row per event: a digest of the event id, else of learner/type/time/huddle
    dedup: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_event_learner_at", "org", "learner_id", "at"),
        Index("ux_event_dedup", "org", "dedup", unique=True),
    )


class Followup(Base):
    """A follow-up step already carried out: what makes each one happen once."""

    __tablename__ = "followup"
    org: Mapped[str] = mapped_column(ORG, primary_key=True)
    commitment_id: Mapped[str] = mapped_column(ID, primary_key=True)
    step: Mapped[str] = mapped_column(String(64), primary_key=True)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Subscription(Base):
    """Where an organization's accountability webhooks go."""

    __tablename__ = "subscription"
    org: Mapped[str] = mapped_column(ORG, primary_key=True)
    url: Mapped[str] = mapped_column(Text)


# -- the core records: huddles, learners, solutions and feedback ---------------


class Organization(Base):
    """An organization that has records; ``generation`` is renewed by every write
    (the token caches of its reads are keyed on)."""

    __tablename__ = "organization"
    org: Mapped[str] = mapped_column(ORG, primary_key=True)
    generation: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class _RecordRow:
    """What every record row holds: its key, store order, content hash and the
    record itself as JSON (lossless export)."""

    org: Mapped[str] = mapped_column(ORG, primary_key=True)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))
    record: Mapped[str] = mapped_column(Text)


class HuddleRow(_RecordRow, Base):
    __tablename__ = "huddle"


class LearnerRow(_RecordRow, Base):
    __tablename__ = "learner"


class SolutionRow(_RecordRow, Base):
    __tablename__ = "solution"
    huddle_id: Mapped[str] = mapped_column(ID)
    learner_id: Mapped[str] = mapped_column(ID)

    __table_args__ = (
        ForeignKeyConstraint(["org", "huddle_id"], ["huddle.org", "huddle.id"]),
        ForeignKeyConstraint(["org", "learner_id"], ["learner.org", "learner.id"]),
        Index("ix_solution_huddle", "org", "huddle_id", "seq"),
        Index("ix_solution_learner", "org", "learner_id"),
    )


class FeedbackRow(_RecordRow, Base):
    __tablename__ = "feedback"
    solution_id: Mapped[str] = mapped_column(ID)
    author_id: Mapped[str] = mapped_column(ID)
    author_role: Mapped[str] = mapped_column(String(16))
    helpfulness: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        ForeignKeyConstraint(["org", "solution_id"], ["solution.org", "solution.id"]),
        Index("ix_feedback_solution", "org", "solution_id"),
        Index("ix_feedback_author", "org", "author_id"),
    )


class IndexPending(Base):
    """The outbox: a record (or, with ``kind`` ``"org"``, a whole organization)
    whose vector-index entry may lag the database. Written in the same
    transaction as the record; removed once the index holds ``hash`` (``""``:
    the entry is removed)."""

    __tablename__ = "index_pending"
    org: Mapped[str] = mapped_column(ORG, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
