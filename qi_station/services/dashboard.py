"""Figures for the dashboard (工作台). Pure Python + stdlib sqlite3: no Textual, no SQLAlchemy.

Every figure is an indexed count, so the dashboard stays fast on a million-request ledger. The 12 month
bars are the monthly report's ``received`` figure, computed by the same function
(:func:`qi_station.services.figures.received_by_month`). "now" comes from the one clock,
:func:`qi_station.core.clock.env_now` (``QI_STATION_NOW`` pins it for tests).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from qi_station.core import domain, qualify
from qi_station.core.clock import TZ, env_now, local, local_minutes, to_db
from qi_station.core.months import last_months, month_of
from qi_station.db import kvkeys
from qi_station.services.figures import received_by_month, sqlite_rows

MONTHS = 12  # month bars on the dashboard


@dataclass
class DashboardFigures:
    today: date
    today_intake: int = 0
    open_by_status: dict[str, int] = field(default_factory=dict)
    open_total: int = 0
    overdue: int = 0
    awaiting_followup: int = 0
    expiring_certs: int = 0  # institutions with a certificate expiring (≤ 90 days) and none expired
    expired_certs: int = 0  # institutions with a certificate already expired
    last_sync: str | None = None  # as stored (naive UTC)
    last_sync_local: str = ""  # ... as shown: local 'YYYY-MM-DD HH:MM' (core.clock.local_minutes, as F6)
    last_sync_ok: bool | None = None
    pending_outbox: int = 0
    months: list[str] = field(default_factory=list)
    month_counts: list[int] = field(default_factory=list)

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


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
        is not None
    )


def kv_value(conn: sqlite3.Connection, key: str) -> str | None:
    if not table_exists(conn, "kv"):
        return None
    row = conn.execute("SELECT v FROM kv WHERE k=?", (key,)).fetchone()
    return None if row is None else str(row[0])


def sync_figures(conn: sqlite3.Connection) -> tuple[str | None, bool | None, int]:
    """(last sync time as stored, whether it succeeded, pending outbox rows)."""
    last: str | None = None
    ok: bool | None = None
    if table_exists(conn, "sync_log"):
        row = conn.execute(
            # an exported bundle is logged (F6) but is no sync: the hub has acknowledged nothing
            # nor is a hub bundle imported that acknowledged none of the changes waiting (an empty one)
            "SELECT COALESCE(finished_at, started_at), ok FROM sync_log "
            f"WHERE mode NOT IN ({','.join('?' * len(kvkeys.NOT_A_SYNC))}) ORDER BY id DESC LIMIT 1",
            kvkeys.NOT_A_SYNC,
        ).fetchone()
        if row is not None:
            last, ok = row[0], bool(row[1])
    if last is None:
        last = kv_value(conn, kvkeys.LAST_SUCCESS)
    pending = 0
    if table_exists(conn, "outbox"):
        acked = kv_value(conn, kvkeys.ACKED_OSEQ)
        try:
            acked_n = int(acked) if acked is not None else 0
        except ValueError:
            acked_n = 0
        pending = conn.execute("SELECT COUNT(*) FROM outbox WHERE oseq > ?", (acked_n,)).fetchone()[0]
    return last, ok, int(pending)


def month_counts(conn: sqlite3.Connection, months: list[str]) -> list[int]:
    """The report's ``received`` figure for each month (the whole database: one station's ledger)."""
    return received_by_month(sqlite_rows(conn), months, by_station=False).get("", [0] * len(months))


def compute(
    db_path: str | Path, now: datetime | None = None, *, with_months: bool = True
) -> DashboardFigures:
    """All dashboard figures in one read connection."""
    from qi_station.db.engine import connect

    conn = connect(db_path)
    try:
        return _compute(conn, now, with_months)
    finally:
        conn.close()


class EarlyFigures:
    """:func:`compute` in a plain thread the console entry point starts before Textual is imported (SQLite
    leaves the GIL): the dashboard paints the figures with its body (the frame after the title bar's)
    when they are in at its mount, else paints placeholders and the thread calls back (:meth:`when_done`:
    the dashboard posts a message) -- never waited for on the UI thread. ``start=False``: the dashboard
    starts it at mount (:meth:`start`).
    Only a database already at the newest schema is read (one the app would migrate first, or a missing
    file, gives None: the dashboard's worker reads it after the app has opened it); so is a failure (the
    worker reads again and shows why). The app opens the database after these figures are painted."""

    def __init__(self, db_path: str | Path, *, start: bool = True) -> None:
        import threading

        self.db_path = Path(db_path)
        self._figs: DashboardFigures | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[DashboardFigures | None], None]] = []
        self._thread = threading.Thread(target=self._run, name="qi-early-figures", daemon=True)
        if start:
            self.start()

    def start(self) -> None:
        """Start the read (once; a second call does nothing)."""
        if self._thread.ident is None:
            self._thread.start()

    def _run(self) -> None:
        from qi_station.db.engine import SCHEMA_HEAD, configure, current_revision, raw_connect

        try:
            if not self.db_path.is_file():
                return  # never created here: the app creates (and migrates) a new database
            conn = raw_connect(self.db_path)
            try:
                if current_revision(conn) == SCHEMA_HEAD:
                    self._figs = _compute(configure(conn), None, True)
            finally:
                conn.close()
        except Exception:  # noqa: BLE001, S110 - the dashboard's worker reads again and shows the error
            pass
        finally:
            with self._lock:
                self._done.set()
                callbacks, self._callbacks = self._callbacks, []
            for callback in callbacks:
                callback(self._figs)

    def result(self, timeout: float | None = None) -> DashboardFigures | None:
        """The figures (None: not read, or not yet done within ``timeout`` seconds; 0: do not wait)."""
        self._done.wait(timeout)
        return self._figs

    def when_done(self, callback: Callable[[DashboardFigures | None], None]) -> None:
        """Call ``callback(figures or None)`` once the read is over: at once (here) when it is, else in the
        read's thread (the TUI posts a message from it)."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback(self._figs)


def _compute(conn: sqlite3.Connection, now: datetime | None, with_months: bool) -> DashboardFigures:
    """:func:`compute` on an open connection (not closed here)."""
    now_dt, today = _today(now)
    figs = DashboardFigures(today=today)
    if not table_exists(conn, "request"):
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
    attention, ap = qualify.attention_sql(today)
    expired, ep = qualify.expired_sql(today)
    n_attention, figs.expired_certs = conn.execute(
        f"SELECT COUNT(*), COALESCE(SUM({expired}), 0) FROM institution t WHERE t.deleted = 0 AND {attention}",
        (*ep, *ap),
    ).fetchone()
    figs.expiring_certs = n_attention - figs.expired_certs
    figs.last_sync, figs.last_sync_ok, figs.pending_outbox = sync_figures(conn)
    figs.last_sync_local = local_minutes(figs.last_sync)
    if with_months:
        figs.months = last_months(month_of(today), MONTHS)
        figs.month_counts = month_counts(conn, figs.months)
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
            if table_exists(conn, table) and conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
                return False
        return True
    finally:
        conn.close()
