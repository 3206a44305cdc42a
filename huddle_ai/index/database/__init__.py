"""The relational system of record (SQLAlchemy 2 + Alembic).

``engine`` owns connections, sessions and migrations; ``models`` the tables;
``accountability`` the org-scoped queries of the accountability loop. This
package is the only one that talks SQL.
"""

from __future__ import annotations

from huddle_ai.index.database.engine import Database, default_url, resolve_url, scratch_database

__all__ = ["Database", "default_url", "resolve_url", "scratch_database"]
