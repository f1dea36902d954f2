"""The station database as the TUI sees it: where it is, opening (and migrating) it, the shared read
connection for search-as-you-type, and the sync panel's figures. Screens and the app reach the database
only through here and the other services (never ``qi_station.db`` directly)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

SYNC_LOG_ROWS = 8


def station_db_path(db: str | os.PathLike[str] | None) -> Path:
    """The database file: ``db`` when given, else the default (``QI_STATION_DB`` or the user data dir)."""
    from qi_station.db.paths import resolve_db_path

    return resolve_db_path(db)


def open_station(path: str | Path) -> bool:
    """Create or migrate the database at ``path`` to the newest schema; True when it holds no data yet
    (no requests, no library rows: the first run, when the demo data is offered)."""
    from qi_station.db.engine import open_db
    from qi_station.services.dashboard import is_empty

    return is_empty(open_db(path))


def sync_overview(path: str | Path) -> dict[str, Any]:
    """The sync screen's state of this station, read at once (no sync client needed): ``enrolled``
    (``online`` / ``offline`` / ``offline-pending`` / None), ``enrolment_usable`` (False: enrolled, but
    its key or token is not on this PC: ``db.secrets.enrolment_usable``), ``hub`` (its address), ``station`` (the
    enrolled code), ``last`` (time as stored), ``ok`` (did it succeed; None before any sync),
    ``pending`` (outbox rows not yet acknowledged), ``last_error`` ({"at", "message"} or None),
    ``conflicts`` (unresolved) and ``log`` (the newest sync_log rows)."""
    from qi_station.db import kvkeys
    from qi_station.db.engine import connect
    from qi_station.services.dashboard import kv_value, sync_figures, table_exists

    conn = connect(path)
    try:
        last, ok, pending = sync_figures(conn)
        log = [
            dict(r)
            for r in conn.execute(
                "SELECT started_at, mode, pushed, pulled, ok, error FROM sync_log ORDER BY id DESC LIMIT ?",
                (SYNC_LOG_ROWS,),
            )
        ]
        err = kv_value(conn, kvkeys.LAST_ERROR)
        conflicts = (
            conn.execute("SELECT COUNT(*) FROM sync_conflict WHERE resolved = 0").fetchone()[0]
            if table_exists(conn, "sync_conflict")
            else 0
        )
        from qi_station.core.errors import QIError
        from qi_station.db import secrets

        mode = kv_value(conn, kvkeys.ENROLL_MODE)
        try:
            usable = secrets.enrolment_usable(path, mode, bool(kv_value(conn, "hub_pubkey")))
        except QIError:  # an unreadable secrets file: its key and token cannot be used
            usable = False
        return {
            "enrolled": mode,
            "enrolment_usable": usable,
            "hub": kv_value(conn, kvkeys.HUB_URL),
            "station": kv_value(conn, kvkeys.STATION_CODE),
            "last": last,
            "ok": ok,
            "pending": pending,
            "last_error": _stamped(err) if err else None,
            "conflicts": int(conflicts),
            "log": log,
        }
    finally:
        conn.close()


def _stamped(text: str) -> dict[str, str | None]:
    """``"{time as stored} {message}"`` (how the sync client keeps its last error) -> {"at", "message"}."""
    at, _, message = text.partition(" ")
    if at[:4].isdigit() and message[:2].isdigit():  # "YYYY-MM-DD HH:MM:SS.ffffff message"
        time, _, rest = message.partition(" ")
        return {"at": f"{at} {time}", "message": rest}
    return {"at": None, "message": text}


READER_CACHE_KIB = 32 * 1024


class SharedReader:
    """One long-lived read connection for search-as-you-type (a fresh connection per keystroke starts
    with a cold page cache: 10x slower on a big database). Thread workers take turns via a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: Any = None

    def __enter__(self) -> Any:
        self._lock.acquire()
        try:
            if self._conn is None:
                from qi_station.db.engine import connect

                self._conn = connect(self.path)
                # a bigger page cache than the default 2 MB: search-as-you-type and the ledger's pages
                # read the same index and table pages keystroke after keystroke (docs/benchmarks.md)
                self._conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
        except BaseException:
            self._lock.release()
            raise
        return self._conn

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
