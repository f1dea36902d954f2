"""Figures for the dashboard (工作台). Pure Python + stdlib sqlite3: no Textual, no SQLAlchemy.

Every figure is an indexed count, so the dashboard stays fast on a million-request ledger.
"now" comes from :func:`qi_station.core.clock.env_now` (``QI_STATION_NOW`` pins it for tests).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from qi_station.core import domain
from qi_station.core.clock import TZ, env_now, local, month_bounds_utc, to_db

# kv keys the sync client may use for the last acknowledged outbox sequence (first found wins)
ACK_KEYS = ("acked_oseq", "outbox_acked", "push_acked_oseq", "push_cursor")
LAST_SYNC_KEYS = ("last_success", "last_sync_at", "last_sync")
EXPIRY_DAYS = 90


@dataclass
class DashboardFigures:
    today: date
    today_intake: int = 0
    open_by_status: dict[str, int] = field(default_factory=dict)
    open_total: int = 0
    overdue: int = 0
    awaiting_followup: int = 0
    expiring_certs: int = 0
    last_sync: str | None = None
    last_sync_ok: bool | None = None
    pending_outbox: int = 0
    months: list[str] = field(default_factory=list)
    month_counts: list[int] = field(default_factory=list)
    total_requests: int = 0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["today"] = self.today.isoformat()
        return d


def _today(now: datetime | None = None) -> tuple[datetime, date]:
    n = now or env_now()
    return n, local(n).date()


def _day_bounds_utc(d: date) -> tuple[str, str]:
    start = datetime(d.year, d.month, d.day, tzinfo=TZ)
    end = start + timedelta(days=1)
    return to_db(start), to_db(end)


def last_months(today: date, n: int = 12) -> list[str]:
    """The n months ending with today's, oldest first, as 'YYYY-MM'."""
    y, m = today.year, today.month
    out = []
    for _ in range(n):
        out.append(f"{y}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
        is not None
    )


def _kv(conn: sqlite3.Connection, keys: tuple[str, ...]) -> str | None:
    if not _table_exists(conn, "kv"):
        return None
    for k in keys:
        row = conn.execute("SELECT v FROM kv WHERE k=?", (k,)).fetchone()
        if row is not None:
            return str(row[0])
    return None


def sync_figures(conn: sqlite3.Connection) -> tuple[str | None, bool | None, int]:
    """(last sync time as stored, whether it succeeded, pending outbox rows)."""
    last: str | None = None
    ok: bool | None = None
    if _table_exists(conn, "sync_log"):
        row = conn.execute(
            "SELECT COALESCE(finished_at, started_at), ok FROM sync_log ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is not None:
            last, ok = row[0], bool(row[1])
    if last is None:
        last = _kv(conn, LAST_SYNC_KEYS)
    pending = 0
    if _table_exists(conn, "outbox"):
        acked = _kv(conn, ACK_KEYS)
        try:
            acked_n = int(acked) if acked is not None else 0
        except ValueError:
            acked_n = 0
        pending = conn.execute("SELECT COUNT(*) FROM outbox WHERE oseq > ?", (acked_n,)).fetchone()[0]
    return last, ok, int(pending)


def month_counts(conn: sqlite3.Connection, months: list[str]) -> list[int]:
    out = []
    for m in months:
        a, b = month_bounds_utc(m)
        out.append(
            conn.execute(
                "SELECT COUNT(*) FROM request WHERE received_at >= ? AND received_at < ?",
                (to_db(a), to_db(b)),
            ).fetchone()[0]
        )
    return out


def compute(
    db_path: str | Path, now: datetime | None = None, *, with_months: bool = True
) -> DashboardFigures:
    """All dashboard figures in one read connection."""
    from qi_station.db.engine import connect

    now_dt, today = _today(now)
    figs = DashboardFigures(today=today)
    conn = connect(db_path)
    try:
        if not _table_exists(conn, "request"):
            return figs
        a, b = _day_bounds_utc(today)
        figs.today_intake = conn.execute(
            "SELECT COUNT(*) FROM request WHERE received_at >= ? AND received_at < ? AND deleted = 0", (a, b)
        ).fetchone()[0]
        for st in domain.STATUSES:
            if st in domain.OPEN_STATUSES or st == "resolved":
                n = conn.execute("SELECT COUNT(*) FROM request WHERE status = ?", (st,)).fetchone()[0]
                if st == "resolved":
                    figs.awaiting_followup = n
                else:
                    figs.open_by_status[st] = n
        figs.open_total = sum(figs.open_by_status.values())
        marks = ",".join("?" * len(domain.OPEN_STATUSES))
        figs.overdue = conn.execute(
            f"SELECT COUNT(*) FROM request WHERE status IN ({marks}) AND promised_date < ?",
            (*sorted(domain.OPEN_STATUSES), today.isoformat()),
        ).fetchone()[0]
        horizon = (today + timedelta(days=EXPIRY_DAYS)).isoformat()
        figs.expiring_certs = conn.execute(
            "SELECT COUNT(*) FROM institution WHERE deleted = 0 AND ("
            "(cma_expiry IS NOT NULL AND cma_expiry >= ? AND cma_expiry <= ?) OR "
            "(cnas_expiry IS NOT NULL AND cnas_expiry >= ? AND cnas_expiry <= ?))",
            (today.isoformat(), horizon, today.isoformat(), horizon),
        ).fetchone()[0]
        figs.last_sync, figs.last_sync_ok, figs.pending_outbox = sync_figures(conn)
        figs.total_requests = conn.execute("SELECT COUNT(*) FROM request").fetchone()[0] if with_months else 0
        if with_months:
            figs.months = last_months(today)
            figs.month_counts = month_counts(conn, figs.months)
    finally:
        conn.close()
    return figs


def is_empty(db_path: str | Path) -> bool:
    """True when the database has no requests and no library rows (first run: offer the demo data)."""
    from qi_station.db.engine import connect

    p = Path(db_path)
    if not p.exists():
        return True
    conn = connect(p)
    try:
        for table in ("request", "expert", "institution", "enterprise"):
            if _table_exists(conn, table) and conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
                return False
        return True
    finally:
        conn.close()


def month_summary(db_path: str | Path, month: str) -> dict[str, Any]:
    """A station-level summary of one month (the Reports screen shows it until the reports module lands)."""
    from qi_station.db.engine import connect

    a, b = (to_db(x) for x in month_bounds_utc(month))
    conn = connect(db_path)
    try:
        received = conn.execute(
            "SELECT COUNT(*) FROM request WHERE received_at >= ? AND received_at < ?", (a, b)
        ).fetchone()[0]
        resolved = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(problems_solved),0), COALESCE(SUM(cost_saved_cents),0) "
            "FROM request WHERE resolved_at >= ? AND resolved_at < ?",
            (a, b),
        ).fetchone()
        closed = conn.execute(
            "SELECT COUNT(*), AVG(satisfaction) FROM request WHERE closed_at >= ? AND closed_at < ?", (a, b)
        ).fetchone()
        by_element: dict[str, int] = {}
        for el in domain.ELEMENTS:
            by_element[el] = conn.execute(
                "SELECT COUNT(*) FROM request WHERE received_at >= ? AND received_at < ? AND elements LIKE ?",
                (a, b, f'%"{el}"%'),
            ).fetchone()[0]
    finally:
        conn.close()
    return {
        "month": month,
        "received": received,
        "resolved": resolved[0],
        "problems_solved": resolved[1],
        "cost_saved": resolved[2] / 100,
        "closed": closed[0],
        "satisfaction_avg": round(closed[1], 2) if closed[1] is not None else None,
        "by_element": by_element,
    }
