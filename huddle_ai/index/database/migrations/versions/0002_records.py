"""The core records: organization, huddle, learner, solution, feedback, index_pending.

Revision ID: 0002_records
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from huddle_ai.index.database.models import UTCDateTime

revision = "0002_records"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(128)
ORG = sa.String(40)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _record_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("org", ORG, primary_key=True),
        sa.Column("id", ID, primary_key=True),
        sa.Column("seq", SEQ, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "organization",
        sa.Column("org", ORG, primary_key=True),
        sa.Column("generation", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table("huddle", *_record_columns())
    op.create_table("learner", *_record_columns())
    op.create_table(
        "solution",
        *_record_columns(),
        sa.Column("huddle_id", ID, nullable=False),
        sa.Column("learner_id", ID, nullable=False),
        sa.ForeignKeyConstraint(["org", "huddle_id"], ["huddle.org", "huddle.id"]),
        sa.ForeignKeyConstraint(["org", "learner_id"], ["learner.org", "learner.id"]),
    )
    op.create_index("ix_solution_huddle", "solution", ["org", "huddle_id", "seq"])
    op.create_index("ix_solution_learner", "solution", ["org", "learner_id"])
    op.create_table(
        "feedback",
        *_record_columns(),
        sa.Column("solution_id", ID, nullable=False),
        sa.Column("author_id", ID, nullable=False),
        sa.Column("author_role", sa.String(16), nullable=False),
        sa.Column("helpfulness", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["org", "solution_id"], ["solution.org", "solution.id"]),
    )
    op.create_index("ix_feedback_solution", "feedback", ["org", "solution_id"])
    op.create_index("ix_feedback_author", "feedback", ["org", "author_id"])
    op.create_table(
        "index_pending",
        sa.Column("org", ORG, primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("id", ID, primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for table in ("index_pending", "feedback", "solution", "learner", "huddle", "organization"):
        op.drop_table(table)
