"""Alembic environment: runs on the engine the :class:`Database` hands over."""

from __future__ import annotations

from alembic import context

from huddle_ai.index.database.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
