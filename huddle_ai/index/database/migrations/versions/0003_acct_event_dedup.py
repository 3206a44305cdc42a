"""Accountability events: one row per event (the platform's event id, else
learner, type, time and huddle), so a re-sent bulk file adds nothing twice.

Existing duplicates are removed (the first row is kept) before the unique
index is built.

Revision ID: acct_0003
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from huddle_ai.index.database.accountability import event_key
from huddle_ai.index.database.models import UTCDateTime

revision = "acct_0003"
down_revision = "0001"
branch_labels = None
depends_on = None

_BATCH = 5_000


def upgrade() -> None:
    with op.batch_alter_table("event") as b:
        b.add_column(sa.Column("event_id", sa.String(128), nullable=True))
        b.add_column(sa.Column("dedup", sa.String(32), nullable=True))
    bind = op.get_bind()
    event = sa.table(
        "event",
        sa.column("id", sa.Integer()),
        sa.column("org", sa.String()),
        sa.column("learner_id", sa.String()),
        sa.column("type", sa.String()),
        sa.column("at", UTCDateTime()),
        sa.column("huddle_id", sa.String()),
        sa.column("peer_id", sa.String()),
        sa.column("dedup", sa.String()),
    )
    seen: set[tuple[str, str]] = set()
    keep: list[dict[str, object]] = []
    drop: list[int] = []
    rows = bind.execute(
        sa.select(
            event.c.id,
            event.c.org,
            event.c.learner_id,
            event.c.type,
            event.c.at,
            event.c.huddle_id,
            event.c.peer_id,
        ).order_by(event.c.id)
    )
    for rid, org, learner, kind, at, huddle, peer in rows:
        key = event_key(learner, kind, at, huddle, peer, None)
        if (org, key) in seen:
            drop.append(rid)
        else:
            seen.add((org, key))
            keep.append({"rid": rid, "key": key})
    for i in range(0, len(drop), _BATCH):
        bind.execute(sa.delete(event).where(event.c.id.in_(drop[i : i + _BATCH])))
    update = (
        sa.update(event).where(event.c.id == sa.bindparam("rid")).values(dedup=sa.bindparam("key"))
    )
    for i in range(0, len(keep), _BATCH):
        bind.execute(update, keep[i : i + _BATCH])
    with op.batch_alter_table("event") as b:
        b.alter_column("dedup", existing_type=sa.String(32), nullable=False)
    op.create_index("ux_event_dedup", "event", ["org", "dedup"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_event_dedup", table_name="event")
    with op.batch_alter_table("event") as b:
        b.drop_column("dedup")
        b.drop_column("event_id")
