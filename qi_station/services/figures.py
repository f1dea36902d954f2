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


def window_bounds(months: list[str]) -> dict[str, datetime]:
    """``{b0: start of months[0], …, bN: end of months[-1]}`` (naive UTC) for :func:`bucket_sql`."""
    bounds = [month_bounds_utc(m)[0] for m in months] + [month_bounds_utc(months[-1])[1]]
    return {f"b{i}": v for i, v in enumerate(bounds)}


def bucket_sql(col: str, n: int, before: bool = False, after: bool = False) -> str:
    """CASE expression: index of the window month ``col`` falls in (``-1`` before, ``n`` after the window).

    The window's bounds are the parameters ``:b0`` … ``:bn`` (:func:`window_bounds`)."""
    parts = ["CASE"]
    if before:
        parts.append(f"WHEN {col} < :b0 THEN -1")
    for i in range(n - 1):
        parts.append(f"WHEN {col} < :b{i + 1} THEN {i}")
    if after:
        parts.append(f"WHEN {col} < :b{n} THEN {n - 1} ELSE {n} END")
    else:
        parts.append(f"ELSE {n - 1} END")
    return " ".join(parts)


def received_by_month(rows: Rows, months: list[str], station_sql: str = "") -> dict[str, list[int]]:
    """``received`` (docs/reports.md) of each month: requests whose ``received_at`` falls in the month,
    tombstoned ones left out. ``{station_code: [count per month, oldest first]}``.

    ``station_sql`` is an extra condition on ``r`` (the hub report's ``AND r.station_code = :st``; the
    ``rows`` callable binds its parameters)."""
    n = len(months)
    out: dict[str, list[int]] = {}
    for code, bk, cnt in rows(
        f"SELECT r.station_code, {bucket_sql('r.received_at', n)} AS bk, COUNT(*) FROM request r "
        f"WHERE r.received_at >= :b0 AND r.received_at < :b{n} AND NOT r.deleted{station_sql} "
        "GROUP BY r.station_code, bk",
        **window_bounds(months),
    ):
        out.setdefault(code, [0] * n)[int(bk)] += int(cnt)
    return out
