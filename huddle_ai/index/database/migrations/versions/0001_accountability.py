"""The accountability loop: enrollment, commitment, checkin, event, followup, subscription.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from huddle_ai.index.database.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(128)
ORG = sa.String(40)


def upgrade() -> None:
    op.create_table(
        "enrollment",
        sa.Column("org", ORG, primary_key=True),
        sa.Column("cohort", ID, primary_key=True),
        sa.Column("learner_id", ID, primary_key=True),
        sa.Column("enrolled_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
    )
    op.create_table(
        "commitment",
        sa.Column("org", ORG, primary_key=True),
        sa.Column("id", ID, primary_key=True),
        sa.Column("learner_id", ID, nullable=False),
        sa.Column("huddle_id", ID, nullable=False),
        sa.Column("solution_id", ID, nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("partner_id", ID, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_commitment_learner", "commitment", ["org", "learner_id"])
    op.create_index("ix_commitment_due", "commitment", ["org", "status", "due_at"])
    op.create_table(
        "checkin",
        sa.Column("org", ORG, primary_key=True),
        sa.Column("id", ID, primary_key=True),
        sa.Column("commitment_id", ID, nullable=False),
        sa.Column("author", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reflection", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_checkin_commitment", "checkin", ["org", "commitment_id"])
    op.create_table(
        "event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("org", ORG, nullable=False),
        sa.Column("learner_id", ID, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("huddle_id", ID, nullable=True),
        sa.Column("peer_id", ID, nullable=True),
    )
    op.create_index("ix_event_learner_at", "event", ["org", "learner_id", "at"])
    op.create_table(
        "followup",
        sa.Column("org", ORG, primary_key=True),
        sa.Column("commitment_id", ID, primary_key=True),
        sa.Column("step", sa.String(64), primary_key=True),
        sa.Column("done_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "subscription",
        sa.Column("org", ORG, primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in ("subscription", "followup", "event", "checkin", "commitment", "enrollment"):
        op.drop_table(table)
