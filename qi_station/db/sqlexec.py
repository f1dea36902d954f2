"""Named-parameter SQL on a stdlib ``sqlite3`` or a SQLAlchemy connection alike (SQLAlchemy imported only
for the latter). Light on purpose: read paths (the calendar a list needs) use it without loading
:mod:`qi_station.db.write` (hashing, ids); ``write.execute`` is this same function."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any


def execute(conn: Any, sql: str, params: Mapping[str, Any] | None = None) -> Any:
    """Run named-parameter SQL on a sqlite3 or SQLAlchemy connection; returns its cursor/result."""
    if isinstance(conn, sqlite3.Connection):
        return conn.execute(sql, params or {})
    from sqlalchemy import text

    return conn.execute(text(sql), dict(params or {}))
