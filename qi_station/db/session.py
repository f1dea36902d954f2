"""Cached engines per database (a factory, never at import time) and a write transaction helper."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qi_station.core.clock import to_db

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def engine_for(path: str | Path) -> Engine:
    from qi_station.db.engine import make_engine

    key = str(Path(path).resolve())
    with _LOCK:
        eng = _ENGINES.get(key)
        if eng is None:
            eng = _ENGINES[key] = make_engine(key)
        return eng


def dispose_all() -> None:
    with _LOCK:
        for eng in _ENGINES.values():
            eng.dispose()
        _ENGINES.clear()


@contextmanager
def write_session(path: str | Path) -> Iterator[Session]:
    """One write transaction (BEGIN IMMEDIATE): commit on success, roll back on any error."""
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session

    from qi_station.core.errors import DatabaseError

    session = Session(engine_for(path), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except OperationalError as e:
        session.rollback()
        msg = str(e.orig) if getattr(e, "orig", None) else str(e)
        if "locked" in msg or "busy" in msg:
            raise DatabaseError(
                f"database is busy (locked by another program), nothing was saved: {msg}"
            ) from e
        if "readonly" in msg or "read-only" in msg:
            raise DatabaseError(f"database is read-only, nothing was saved: {msg}") from e
        if "full" in msg:
            raise DatabaseError(f"disk is full, nothing was saved: {msg}") from e
        raise DatabaseError(f"database error, nothing was saved: {msg}") from e
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_db(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def row_dict(obj: Any) -> dict[str, Any]:
    """An ORM row as a JSON-safe dict of its columns (the outbox and sync wire format)."""
    return {c.key: jsonable(getattr(obj, c.key)) for c in obj.__table__.columns}
