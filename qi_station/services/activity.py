"""Activities that are not requests (visits 走访, training 培训, events 活动): add one, list them.

The rule is :func:`qi_station.core.activity.check_activity` (the hub applies the same to a pushed row);
the write is :func:`qi_station.db.write.insert_activity` (the row and its outbox row, one transaction).
Reads are plain ``sqlite3`` (the TUI's screen calls these in a worker).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qi_station.core.activity import check_activity
from qi_station.core.clock import env_now
from qi_station.core.ids import uuid7
from qi_station.core.months import check_month, first_day, next_month

COLUMNS = (
    "id",
    "station_code",
    "kind",
    "date",
    "enterprises",
    "people",
    "title",
    "note",
    "actor",
    "created_at",
)


def add_activity(db: str | Path, data: dict[str, Any], actor: str | None = None) -> dict[str, Any]:
    """Check and store one activity. Returns the row as stored (dates as ISO text)."""
    from qi_station.db import write as w
    from qi_station.db.session import write_session
    from qi_station.services.staff import operator_for
    from qi_station.services.station import ensure_station

    row = check_activity(data)
    with write_session(db) as s:
        st = ensure_station(s)
        who = operator_for(s.connection(), actor)  # who records it: the staff rule
        out = {
            "id": uuid7(),
            "station_code": st.code,
            **row,
            "actor": who,
            "seq": 0,
            "created_at": env_now(),
        }
        out = {k: w.db_value(val) for k, val in out.items()}
        w.insert_activity(s.connection(), out, st.code)
    return out


def list_activities(db: str | Path, month: str | None = None) -> list[dict[str, Any]]:
    """Activities, newest first; with ``month`` (YYYY-MM) those dated in that month only."""
    from qi_station.db.engine import connect

    sql = f"SELECT {', '.join(COLUMNS)} FROM activity"
    params: dict[str, Any] = {}
    if month:
        m = check_month(month)
        sql += " WHERE date >= :s AND date < :e"
        params = {"s": first_day(m).isoformat(), "e": first_day(next_month(m)).isoformat()}
    sql += " ORDER BY date DESC, created_at DESC"
    conn = connect(Path(db), readonly=True)
    try:
        return [dict(zip(COLUMNS, r, strict=True)) for r in conn.execute(sql, params)]
    finally:
        conn.close()
