"""Month figures shared by the dashboard and the monthly report (stdlib only: no SQLAlchemy).

A figure is defined once (``docs/reports.md``). The monthly report (``qi_station.reports.figures``) runs
on SQLAlchemy Core so that it also reads the hub's PostgreSQL database; the dashboard runs on a plain
``sqlite3`` connection so that the first screen never loads SQLAlchemy. Both call the functions here,
which take a ``rows(sql, **params)`` callable: the SQL uses ``:name`` parameters, which SQLAlchemy's
``text()`` and stdlib ``sqlite3`` both understand, and ``datetime`` / ``date`` parameters are naive UTC
and ``date`` values (:func:`sqlite_rows` stores them the way SQLAlchemy does on SQLite).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from qi_station.core.clock import to_db
from qi_station.core.months import month_bounds_utc

#: ``rows(sql, **params)`` -> result rows
Rows = Callable[..., Iterable[Sequence[Any]]]


def sqlite_rows(conn: sqlite3.Connection) -> Rows:
    """A :data:`Rows` callable on a plain ``sqlite3`` connection (times bound as stored text)."""

    def rows(sql: str, **params: Any) -> Iterable[Sequence[Any]]:
        bound = {
            k: to_db(v) if isinstance(v, datetime) else v.isoformat() if isinstance(v, date) else v
            for k, v in params.items()
        }
        return conn.execute(sql, bound)

    return rows


def received_by_month(
    rows: Rows, months: list[str], station_sql: str = "", *, by_station: bool = True
) -> dict[str, list[int]]:
    """``received`` (docs/reports.md) of each month: requests whose ``received_at`` falls in the month,
    tombstoned ones left out. ``{station_code: [count per month, in the order of months]}``; with
    ``by_station=False`` one total under the key ``""`` (no grouping: the station database's dashboard).

    ``station_sql`` is an extra condition on ``r`` (the hub report's ``AND r.station_code = :st``; the
    ``rows`` callable binds its parameters). One indexed range count per month: cheaper than one pass with
    a month ``CASE`` (the dashboard draws these bars on a million-request ledger)."""
    n = len(months)
    select, group = ("r.station_code", " GROUP BY r.station_code") if by_station else ("''", "")
    sql = (
        f"SELECT {select}, COUNT(*) FROM request r "
        f"WHERE r.received_at >= :s AND r.received_at < :e AND NOT r.deleted{station_sql}{group}"
    )
    out: dict[str, list[int]] = {}
    for i, month in enumerate(months):
        start, end = month_bounds_utc(month)
        for code, cnt in rows(sql, s=start, e=end):
            out.setdefault(code, [0] * n)[i] += int(cnt)
    return out
