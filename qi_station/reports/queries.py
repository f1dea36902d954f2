"""The monthly report's queries: the raw material of every figure, read with SQLAlchemy Core.

Every figure is defined in ``docs/reports.md``. The same code runs on the station SQLite database and on
the hub database (SQLite or PostgreSQL, same schema): plain ``text()`` queries, typed bind parameters
(naive-UTC ``datetime`` and ``date`` values), one tiny dialect switch for reading JSON event data.
Figures shared with the dashboard (``received``) come from :mod:`qi_station.services.figures`.

The raw material is accumulated per station (:class:`Acc`); a city or the province is the merge of its
stations, so additive figures are exact sums and the others (distinct enterprises, medians, rates) are
recomputed from the merged raw material (:mod:`qi_station.reports.figures`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from qi_station.core import domain, places
from qi_station.core.clock import env_now, local_date, local_day, today_local
from qi_station.core.months import last_months, month_bounds_utc
from qi_station.core.workdays import elapsed, request_days
from qi_station.db import rollup
from qi_station.reports.fees import request_fees_later
from qi_station.reports.ledger import has_rollup, ledger_exact, ledger_rollup
from qi_station.reports.quality import (
    Quality,
    collect_earlier,
    collect_quality,
    count_charges,
    earlier_moves_query,
    has_low_rollup,
    last_resolutions,
    low_ratings_query,
    month_events,
    month_events_query,
    month_moves,
)
from qi_station.services.figures import received_by_month
from qi_station.services.workdays import load_calendar

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

WINDOW = 12  # months in the chart series (the report month is the last one)
MOVE_STATUSES = ("accepted", "resolved", "closed", "cancelled")
COUNT_KEYS = ("received", *MOVE_STATUSES)
UNKNOWN = "unknown"
MMAP_BYTES = 1 << 31  # a report's SQLite connection maps up to this much of the file (SQLite's own cap)

_OPEN_SQL = ", ".join(f"'{s}'" for s in sorted(domain.OPEN_STATUSES))
_MOVES_SQL = ", ".join(f"'{s}'" for s in MOVE_STATUSES)


# ---- value normalisation (SQLite gives text, PostgreSQL gives objects) ------------------------------
def as_utc(value: Any) -> datetime | None:
    """A stored datetime (text on SQLite, datetime on PostgreSQL) as naive UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value))
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# ---- per-group raw material ------------------------------------------------------------------------
@dataclass
class Acc:
    """Raw material of one group (a station; cities and the province are merges)."""

    # per window month (index 0 .. WINDOW-1): moves, outcomes, satisfaction, open-count deltas
    series: dict[str, list[int]] = field(
        default_factory=lambda: {
            k: [0] * WINDOW
            for k in (*COUNT_KEYS, "problems_solved", "cost_cents", "rated", "satisfied", "open_delta")
        }
    )
    open_before: int = 0  # open requests at the window's start
    overdue_end: int = 0
    overdue_prev_end: int = 0
    enterprises: set[str] = field(default_factory=set)
    # enterprise -> its first request in scope, of a station (step 8; a merge does not carry it: a group
    # needs only :attr:`seen_before`)
    first_seen: dict[str, datetime] = field(default_factory=dict)
    # the enterprises whose first request in scope is before the report month: served before (a group's
    # is the union of its stations': min(first) < start when one station's first is)
    seen_before: set[str] = field(default_factory=set)
    by_element: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    by_city: Counter[str] = field(default_factory=Counter)
    accept_hours: list[float] = field(default_factory=list)
    resolve_days: list[float] = field(default_factory=list)
    resolve_workdays: list[float] = field(default_factory=list)  # working days, receipt to resolution
    workdays_unknown: int = 0  # resolutions in a stretch the holiday calendar does not cover
    referrals: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, id)
    # (kind, id) -> (time, name) of its newest referral: an item renamed in the library is still ONE item
    referral_names: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # (kind, id) -> what tells it from another item of the same name (equipment: model, owner; expert: employer)
    referral_details: dict[tuple[str, str], str] = field(default_factory=dict)
    data_as_of: datetime | None = None
    quality: Quality = field(default_factory=Quality)  # on time, ratings, rectification, activities

    def name_referral(self, item: tuple[str, str], at: str, name: str) -> None:
        """Keep the name of the item's newest referral."""
        cur = self.referral_names.get(item)
        if cur is None or (at, name) > cur:
            self.referral_names[item] = (at, name)

    def merge(self, other: Acc) -> Acc:
        for k, vals in other.series.items():
            mine = self.series[k]
            for i, v in enumerate(vals):
                mine[i] += v
        self.open_before += other.open_before
        self.overdue_end += other.overdue_end
        self.overdue_prev_end += other.overdue_prev_end
        self.enterprises |= other.enterprises
        self.seen_before |= other.seen_before
        self.by_element.update(other.by_element)
        self.by_channel.update(other.by_channel)
        self.by_city.update(other.by_city)
        self.accept_hours += other.accept_hours
        self.resolve_days += other.resolve_days
        self.resolve_workdays += other.resolve_workdays
        self.workdays_unknown += other.workdays_unknown
        self.referrals.update(other.referrals)
        for item, named in other.referral_names.items():
            self.name_referral(item, *named)
        for item, detail in other.referral_details.items():
            self.referral_details.setdefault(item, detail)
        self.quality.merge(other.quality)
        if other.data_as_of and (self.data_as_of is None or other.data_as_of > self.data_as_of):
            self.data_as_of = other.data_as_of
        return self

    def open_at(self, idx: int) -> int:
        """Open requests at the end of window month ``idx``."""
        return self.open_before + sum(self.series["open_delta"][: idx + 1])


def merged(accs: Iterable[Acc]) -> Acc:
    out = Acc()
    for a in accs:
        out.merge(a)
    return out


# ---- SQL helpers --------------------------------------------------------------------------------------
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


#: each registered station's newest change at a hub (``data_as_of``): one indexed MAX per station
#: (ix_request_station_updated) in one statement
NEWEST_OF_HUB_STATIONS = "SELECT h.code, (SELECT MAX(r.updated_at) FROM request r WHERE r.station_code = h.code) FROM hub_station h"
_PARAM = re.compile(r"(?<![:\w]):(\w+)")
STEPS = 8  # progress steps reported by collect()


def _key(sql: str, params: dict[str, Any]) -> tuple[str, str]:
    """What tells a statement :meth:`Q.ahead` started from another: its text and parameters."""
    return sql, repr(sorted(params.items()))


class Q:
    """Runs ``text()`` queries with typed bind parameters on one connection."""

    def __init__(self, conn: Connection, station: str | None) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.station = station
        self._side: _Side | None = None
        self._ahead: dict[tuple[str, str], Future[list[Any]]] = {}
        self._later: list[_Side] = []  # the connections of :meth:`later`, one statement each

    def st(self, alias: str = "r") -> str:
        return f" AND {alias}.station_code = :st" if self.station else ""

    def rows(self, sql: str, **params: Any) -> Iterator[Any]:
        future = self._ahead.pop(_key(sql, params), None) if self._ahead else None
        if future is not None:
            try:
                return iter(future.result())
            except Exception:  # noqa: BLE001 - the side connection failed: run it here (raises its error)
                pass
        return iter(self._all(self._execute(sql, params)))

    def _all(self, res: Any) -> Any:
        """The rows of an executed statement: PostgreSQL's all at once (:meth:`_execute`), else as they come."""
        return res.fetchall() if self.dialect == "postgresql" else res

    def ahead(self, sql: str, **params: Any) -> None:
        """Start ``sql`` now on a second connection of the same snapshot (PostgreSQL; :class:`_Side`), its
        rows fetched in the background: a later :meth:`rows` of the same statement and parameters reads
        them. Elsewhere (SQLite) nothing: :meth:`rows` runs it then."""
        if self.dialect != "postgresql":
            return
        if self._side is None:
            self._side = _Side(self.conn, self.station)
        self._ahead[_key(sql, params)] = self._side.submit(sql, dict(params))

    def later(self, sql: str, **params: Any) -> Callable[[], Iterator[Any]]:
        """Start ``sql`` now on a side connection of its own (PostgreSQL; :class:`_Side`, same snapshot); the
        call returned gives its rows (waiting for them). Elsewhere (SQLite) the call runs it then."""
        if self.dialect != "postgresql":
            return lambda: self.rows(sql, **params)
        got = self.later_table(sql, **params)
        return lambda: got()[1]

    def later_table(self, sql: str, **params: Any) -> Callable[[], tuple[list[str], Iterator[Any]]]:
        """:meth:`later` with the column names (:meth:`table`): the statement starts now on a side
        connection of its own (PostgreSQL), the call returned gives ``(keys, rows)``; elsewhere the call
        runs it then."""
        if self.dialect != "postgresql":
            return lambda: self.table(sql, **params)
        # a connection of its own: the side connection's queue may still hold long statements
        side = _Side(self.conn, self.station)
        self._later.append(side)
        future = side.submit(sql, dict(params), keys=True)
        side.jobs.put(None)  # its only statement

        def table() -> tuple[list[str], Iterator[Any]]:
            try:
                keys, rows = future.result()
                return keys, iter(rows)
            except Exception:  # noqa: BLE001 - the side connection failed: run it here (raises its error)
                return self.table(sql, **params)

        return table

    def close(self) -> None:
        """End the side connections (their rows not read are dropped)."""
        while self._later:
            self._later.pop().thread.join()
        if self._side is not None:
            for future in self._ahead.values():
                future.cancel()
            self._ahead.clear()
            self._side.close()
            self._side = None

    def _execute(self, sql: str, params: dict[str, Any]) -> Any:
        from sqlalchemy import Date, DateTime, String, bindparam, text

        if self.station:
            params["st"] = self.station
        used = set(_PARAM.findall(sql))
        if self.dialect == "sqlite":
            # the driver's own cursor, with the parameters as SQLAlchemy's types store them (same SQL,
            # same values): a report reads tens of thousands of rows, and a Row per row costs more than
            # the query
            return self.conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                sql, {k: self._sqlite_value(v) for k, v in params.items() if k in used}
            )
        if self.dialect == "postgresql":
            # psycopg's own cursor, the same values as SQLAlchemy binds them there (it passes datetime,
            # date and str as they are): its rows are built in C all at once (fetchall), not one Row per
            # fetchone (a province report reads hundreds of thousands of rows at a large hub)
            cur = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cur.execute(
                _PARAM.sub(r"%(\1)s", sql.replace("%", "%%")), {k: v for k, v in params.items() if k in used}
            )
            return cur
        stmt = text(sql)
        binds: list[Any] = []
        for k, v in params.items():
            if k not in used:
                continue
            type_: Any = None
            if isinstance(v, datetime):
                type_ = DateTime()
            elif isinstance(v, date):
                type_ = Date()
            elif isinstance(v, str):
                type_ = String()
            binds.append(bindparam(k, v, type_=type_))
        stmt = stmt.bindparams(*binds)
        return self.conn.execute(stmt)

    def _sqlite_value(self, v: Any) -> Any:
        """A parameter as SQLAlchemy binds it on SQLite (its DateTime / Date / Boolean text and numbers)."""
        from sqlalchemy import Boolean, Date, DateTime

        type_: Any = (
            DateTime()
            if isinstance(v, datetime)
            else Date()
            if isinstance(v, date)
            else Boolean()
            if isinstance(v, bool)
            else None
        )
        if type_ is None:
            return v
        proc = type_.bind_processor(self.conn.dialect)
        return proc(v) if proc else v

    def table(self, sql: str, **params: Any) -> tuple[list[str], Iterator[Any]]:
        """:meth:`rows` with the column names (read once): a report reads tens of thousands of rows, each
        kept as its tuple (no dict per row)."""
        res = self._execute(sql, params)
        keys = (
            [c[0] for c in res.description] if self.dialect in ("sqlite", "postgresql") else list(res.keys())
        )
        return keys, iter(self._all(res))


def normalize_url(url_or_path: Any) -> Any:
    """``postgresql://`` / ``postgres://`` -> ``postgresql+psycopg://`` (psycopg 3 is the driver we ship)."""
    if isinstance(url_or_path, str):
        for prefix in ("postgresql://", "postgres://"):
            if url_or_path.startswith(prefix):
                return "postgresql+psycopg://" + url_or_path[len(prefix) :]
    return url_or_path


@contextmanager
def report_connection(url_or_path: str | Any) -> Iterator[Connection]:
    """A read-only snapshot connection for a report.

    SQLite: the station engine begins with ``BEGIN IMMEDIATE`` (a write lock); a report only reads, so the
    connection swaps it for a deferred read transaction (one consistent WAL snapshot, writers not blocked).
    PostgreSQL: ``REPEATABLE READ, READ ONLY``, ``TIME ZONE 'UTC'``, no JIT and no parallel workers for the
    whole transaction.
    """
    from qi_station.db.engine import make_engine

    engine = make_engine(normalize_url(url_or_path))
    try:
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                conn.exec_driver_sql("COMMIT")  # end the engine's BEGIN IMMEDIATE at once
                # read the file through a memory map: a month's rows lie all over a large history, and
                # without it every page is a read() system call (the OS cache's copy, not SQLite's own)
                conn.exec_driver_sql(f"PRAGMA mmap_size={MMAP_BYTES}")
                conn.exec_driver_sql("BEGIN")  # deferred: a read snapshot
                try:
                    yield conn
                finally:
                    conn.rollback()
        else:
            with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
                if engine.dialect.name == "postgresql":
                    _report_transaction(conn)
                try:
                    yield conn
                finally:
                    conn.rollback()
    finally:
        engine.dispose()


def _report_transaction(conn: Connection, snapshot: str | None = None) -> None:
    """THE settings of a report's PostgreSQL transaction (its first statements): read-only, in UTC, no JIT,
    no parallel workers;
    ``snapshot``: the snapshot another report connection exported (:class:`_Side`), read alike."""
    if snapshot is not None:
        conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
    # no JIT compilation: a report's queries are index range scans of one month, but at a large hub their
    # cost estimates pass jit_above_cost, and compiling (inlining and optimising) took ~3 s of a 7 s
    # details query at 10 M requests, to save nothing
    conn.exec_driver_sql("SET LOCAL jit = off")
    # no parallel workers: a report already runs its statements on up to five connections at once
    # (:class:`_Side`); workers on top took cores from them (at a 10 M hub the details' parallel hash join
    # of the enterprises and the served enterprises' first requests were slower with them)
    conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")


class _Side:
    """A second connection to the report's PostgreSQL database, in the SAME snapshot (the report's
    transaction exports it: ``pg_export_snapshot``), running the queries :meth:`Q.ahead` queues in a
    thread and fetching their rows, while the report's own connection runs the others and Python builds
    the report (a hub has more than one core; the server works on both queries at once, and the rows of
    one are fetched while those of the other are read). The rows are what the report's connection would
    read: the same snapshot, the same transaction settings (:func:`_report_transaction`)."""

    def __init__(self, conn: Connection, station: str | None) -> None:
        import queue
        import threading

        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
        self.jobs: queue.SimpleQueue[tuple[Future[Any], str, dict[str, Any], bool] | None] = (
            queue.SimpleQueue()
        )
        self.thread = threading.Thread(
            target=self._run, args=(conn, str(snapshot), station), name="report-side", daemon=True
        )
        self.thread.start()

    def _run(self, main: Connection, snapshot: str, station: str | None) -> None:
        failed: BaseException | None = None
        try:
            with main.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
                _report_transaction(conn, snapshot)
                q = Q(conn, station)
                try:
                    while (job := self.jobs.get()) is not None:
                        future, sql, params, keys = job
                        if future.set_running_or_notify_cancel():
                            try:
                                cur = q._execute(sql, params)
                                rows = list(q._all(cur))
                                # with the column names (:meth:`Q.later_table`) when asked
                                future.set_result(([c[0] for c in cur.description], rows) if keys else rows)
                            except BaseException as e:  # noqa: BLE001 - handed to the reader
                                future.set_exception(e)
                finally:
                    conn.rollback()
        except BaseException as e:  # noqa: BLE001 - e.g. no connection left: the report's runs them
            failed = e
        while failed is not None and (job := self.jobs.get()) is not None:
            job[0].set_exception(failed)

    def submit(self, sql: str, params: dict[str, Any], keys: bool = False) -> Future[Any]:
        """Queue ``sql``: its future gives its rows, or ``(column names, rows)`` with ``keys``."""
        future: Future[Any] = Future()
        self.jobs.put((future, sql, params, keys))
        return future

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()


# ---- demo data ---------------------------------------------------------------------------------------
#: the tables whose demo rows a station's report leaves out (each names its request by this column)
_DEMO_TABLES = (("request", "id"), ("request_event", "request_id"), ("referral", "request_id"))


@contextmanager
def leave_out_demo(conn: Connection) -> Iterator[int]:
    """A station database still holding demo data (``init --demo``; ``db.write.demo_requests_sql``, the one
    rule): for the report's queries on ``conn`` (SQLite), the demo requests, their events and referrals are
    not there — temporary views of the same names shadow the tables, so every figure, from the ledger as
    :func:`collect` ``exact=True`` computes it (the month rollups count the demo), is the one the hub
    computes for this station (demo rows never reach it). Gives the number of demo requests left out
    (0: nothing is shadowed)."""
    from qi_station.db import write

    n = write.demo_request_count(conn) if conn.dialect.name == "sqlite" else 0
    if not n:
        yield 0
        return
    demo = write.demo_requests_sql("main.")
    for table, col in _DEMO_TABLES:
        conn.exec_driver_sql(
            f"CREATE TEMP VIEW {table} AS SELECT * FROM main.{table} WHERE {col} NOT IN ({demo})"
        )
    try:
        yield n
    finally:
        for table, _col in _DEMO_TABLES:
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS temp.{table}")


# ---- the figures -------------------------------------------------------------------------------------
#: what the report adds to each details row (after the SQL columns): received in the month, the month's
#: events, the days taken / overdue (``core.workdays.request_days``), the fee (``reports.fees``)
DAY_KEYS = ("days_taken", "workdays_taken", "overdue_days", "overdue_workdays")
DETAIL_EXTRA = ("received_in_month", "events_in_month", *DAY_KEYS, "fee_cents")


class Details:
    """The details' rows, each a list: the SQL row's values (``keys``), then :data:`DETAIL_EXTRA`, then
    one None (what a field this database lacks reads)."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = [*keys, *DETAIL_EXTRA]
        self._at = {k: i for i, k in enumerate(self.keys)}  # a repeated name: its last value
        self.rows: list[list[Any]] = []

    def index(self, key: str) -> int:
        """The position of ``key`` in each row (the trailing None where the database lacks it)."""
        return self._at.get(key, len(self.keys))

    def getter(self, keys: Iterable[str]) -> Callable[[list[Any]], tuple[Any, ...]]:
        """The values of ``keys`` of a row, as one tuple."""
        return itemgetter(*map(self.index, keys))


@dataclass
class Raw:
    month: str
    months: list[str]
    accs: dict[str, Acc]  # per station code
    stations: dict[str, dict[str, Any]]  # code -> profile_entry(...)
    details: Details
    generated_at: datetime
    # every open-rectification row in the report's order (``quality.sort_open``) when the database gave
    # them so (``quality.collect_quality``), else None
    open_rows: list[dict[str, Any]] | None = None


def collect(
    conn: Connection,
    month: str,
    station: str | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    exact: bool = False,
) -> Raw:
    """Run every report query for ``month`` ('YYYY-MM', Asia/Shanghai), optionally one station only.

    The history-wide figures come from the month rollup (``db/rollup.py``); ``exact=True`` computes them
    from every event instead (the reference the tests compare the rollup with; the same figures)."""
    start, end = month_bounds_utc(month)  # validates the month
    months = last_months(month, WINDOW)
    q = Q(conn, station)
    try:
        # PostgreSQL: the month's events, the low ratings (the open-rectification list spans the history)
        # and (from step 6, when their USCCs are known) the served enterprises' first requests run on a
        # second connection of the same snapshot while this one reads the rest (:class:`_Side`)
        # (and, at a hub, each registered station's newest change: one statement, not one per station)
        hub_newest = False
        if q.dialect == "postgresql":
            from sqlalchemy import inspect

            hub_newest = station is None and inspect(conn).has_table("hub_station")
        low_rollup = not exact and has_low_rollup(q)  # the low ratings from their rollup (revision 0024)
        # 上月 / 本年累计 from the month rollup (revision 0027) where it is there: the earlier months' moves
        # are read only by the exact path (at the year's last months they are most of a year's moves: at
        # a 10 M hub, read and dropped, they held the side connection and a core for seconds)
        earlier_rollup = not exact and has_rollup(q)
        for sql, params in (
            month_events_query(month),
            low_ratings_query(q, month, low_rollup),
            *([] if earlier_rollup else [earlier_moves_query(q, month)[:2]]),
            *([(NEWEST_OF_HUB_STATIONS, {})] if hub_newest else []),
        ):
            q.ahead(sql, **params)
        return _collect(
            q,
            month,
            months,
            station,
            progress,
            exact=exact,
            hub_newest=hub_newest,
            low_rollup=low_rollup,
            earlier_rollup=earlier_rollup,
        )
    finally:
        q.close()


def _collect(
    q: Q,
    month: str,
    months: list[str],
    station: str | None,
    progress: Callable[[str], None] | None,
    *,
    exact: bool,
    hub_newest: bool,
    low_rollup: bool = False,
    earlier_rollup: bool = False,
) -> Raw:
    conn = q.conn
    start, end = month_bounds_utc(month)
    accs: dict[str, Acc] = {}

    def acc(code: str) -> Acc:
        a = accs.get(code)
        if a is None:
            a = accs[code] = Acc()
        return a

    def step(name: str) -> None:
        if progress:
            progress(name)

    # the details' requests received in the month (step 6) start now on connections of their own
    # (PostgreSQL): at a 10 M hub the month's ~80 k wide rows took the server seconds, which the steps
    # before the details now overlap; the month in two halves of its time, on two connections (the report
    # has little to do before the details: the server's two processes take both cores meanwhile)
    received_details = (
        [
            q.later_table(
                f"{_details_select(q)}{_DETAILS_FROM_PG}"
                f"WHERE r.received_at >= :s AND r.received_at < :e AND NOT r.deleted{q.st()}",
                s=lo,
                e=hi,
            )
            for lo, hi in ((start, start + (end - start) / 2), (start + (end - start) / 2, end))
        ]
        if q.dialect == "postgresql"
        else None
    )

    # 1. received per window month
    step("received")
    for code, counts in received_by_month(q.rows, months, q.st()).items():
        series = acc(code).series["received"]
        for i, n in enumerate(counts):
            series[i] += n

    # 2-4. moves, outcomes, satisfaction per window month; open / overdue at month ends (reports/ledger.py)
    step("ledger")
    # (the current month's overdue requests come on a side connection: added before step 9)
    ledger_rest = (ledger_exact if exact or not has_rollup(q) else ledger_rollup)(q, month, months, acc)

    cal, today = load_calendar(conn), today_local()

    # 5. referrals made in the month
    step("referrals")
    # counted per item (kind, id); its name as of its newest referral (a name is a snapshot: the same
    # item referred before and after a rename in the library is one item, listed once). Items share
    # names (many institutions own an "X射线荧光光谱仪"; two experts are called 王伟): each carries what
    # tells it apart, from the library (equipment: model and owner; expert: employer).
    for code, kind, item_id, item_name, n, last, model, owner, employer in q.rows(
        "SELECT r.station_code, f.kind, f.item_id, f.item_name, COUNT(*), MAX(f.created_at), "
        "MAX(eq.model), MAX(COALESCE(ins.short_name, ins.name)), MAX(ex.employer) FROM referral f "
        "JOIN request r ON r.id = f.request_id "
        "LEFT JOIN equipment eq ON f.kind = 'equipment' AND eq.id = f.item_id "
        "LEFT JOIN institution ins ON ins.id = eq.institution_id "
        "LEFT JOIN expert ex ON f.kind = 'expert' AND ex.id = f.item_id "
        f"WHERE f.created_at >= :s AND f.created_at < :e AND NOT r.deleted{q.st()} "
        "GROUP BY r.station_code, f.kind, f.item_id, f.item_name",
        s=start,
        e=end,
    ):
        a = acc(code)
        a.referrals[(kind, item_id)] += int(n)
        a.name_referral((kind, item_id), str(last), item_name or "")
        detail = " · ".join(str(x) for x in ((model, owner) if kind == "equipment" else (employer,)) if x)
        if detail:
            a.referral_details[(kind, item_id)] = detail

    # 6. details: every request received or changed in the month, every field
    step("details")
    local_days: dict[tuple[date, int], date] = {}
    promised_days: dict[Any, date] = {}  # a stored promised date -> the date (rows share days)

    def day_of(at: datetime) -> date:
        """The local day of a UTC time, once per UTC hour (Asia/Shanghai's offsets are whole hours)."""
        key = (at.date(), at.hour)
        day = local_days.get(key)
        if day is None:
            day = local_days[key] = local_date(at)
        return day

    def day_of_stored(value: Any) -> date:
        """:func:`day_of` of a stored time; a naive-UTC text's local day kept per UTC hour by
        ``core.clock.local_day`` (no parse per row)."""
        if type(value) is str and (len(value) == 19 or (len(value) == 26 and value[19] == ".")):
            return local_day(value)
        at = as_utc(value)
        assert at is not None
        return day_of(at)

    days_at = itemgetter(*DAY_KEYS)

    @cache
    def days_of(received: date, promised: date, resolved: date | None, is_open: bool) -> tuple[Any, ...]:
        return days_at(request_days(cal, received, promised, resolved, is_open, today))  # type: ignore[no-any-return]

    # the month's events read once (quality.month_events): which requests changed in the month and how
    # many events each had here, the month's moves in step 7
    events = month_events(q, month)
    n_events = Counter(map(itemgetter(0), events))  # request id -> its events in the month
    select = _details_select(q)
    rows: Iterable[Any]
    if received_details is not None:  # PostgreSQL
        # the requests received in the month by one index range scan (their rows lie together in the
        # table; started at the report's start on a side connection), then only the month's other changed
        # requests looked up by key (the ids as one array): at a 10 M hub the busiest month's 90 k
        # requests were each looked up by key (4 buffers a row) after a sort of both scans' ids. Sorted
        # here, as on SQLite (a sort of the wide rows spilled to disk on the server)
        keys, received_rows = received_details[0]()
        rows = list(received_rows)
        for more in received_details[1:]:
            rows += more()[1]
        received = set(map(itemgetter(keys.index("id")), rows))
        rest = [i for i in n_events if i not in received]
        if rest:
            rows += q.table(
                f"{select}{_DETAILS_FROM_PG}WHERE r.id = ANY(CAST(:ids AS VARCHAR[])) AND NOT r.deleted{q.st()}",
                ids=rest,
            )[1]
    else:
        # two index range scans (received in the month; the ids of the month's events, given) and each
        # request looked up by its key: the cost follows the month, not the history
        keys, rows = q.table(
            f"{select}FROM (SELECT value AS id FROM json_each(:ids) UNION SELECT r0.id FROM request r0 "
            "WHERE r0.received_at >= :s AND r0.received_at < :e) ids JOIN request r ON r.id = ids.id "
            f"LEFT JOIN enterprise ent ON ent.id = r.enterprise_id WHERE NOT r.deleted{q.st()}",
            s=start,
            e=end,
            ids=json.dumps(list(n_events)),
        )
    out = Details(keys)
    col = out.index
    ID, NUM, ST, REC, RES, PROM, STATUS = map(
        col, ("id", "number", "station_code", "received_at", "resolved_at", "promised_date", "status")
    )
    ENT, USCC, ELEMENTS, CHANNEL, CITY, COUNTY, INDUSTRY, SCALE = map(
        col,
        (
            "enterprise_id",
            "enterprise_uscc",
            "elements",
            "channel",
            "enterprise_city",
            "enterprise_county",
            "enterprise_industry",
            "enterprise_scale",
        ),
    )
    # the columns of local_day_sql (PostgreSQL), else -1
    from qi_station.reports.figures import DAY_SUFFIX

    REC_DAY, RES_DAY = (
        keys.index(k + DAY_SUFFIX) if k + DAY_SUFFIX in keys else -1 for k in ("received_at", "resolved_at")
    )
    # ordered by receipt and number, here (both columns are NOT NULL): by the same text comparison as
    # SQLite's BINARY collation, without moving every wide row through the database's sort
    rows = sorted(rows, key=itemgetter(REC, NUM))
    # the month's edges as SQLite stores a naive-UTC time ('YYYY-MM-DD HH:MM:SS.ffffff'): a stored text of
    # that fixed width compares as its time does (no parse per row)
    start_txt, end_txt = start.isoformat(" ", "microseconds"), end.isoformat(" ", "microseconds")
    open_statuses = domain.OPEN_STATUSES
    details = out.rows
    served: set[str] = set()  # the USCCs of the requests received in the month (step 8)
    # an elements text -> its codes, each once (rows share the texts)
    element_sets: dict[Any, tuple[str, ...]] = {}
    for row in rows:
        rec_v, resolved_v, promised_v = row[REC], row[RES], row[PROM]
        if type(rec_v) is datetime and rec_v.tzinfo is None:  # PostgreSQL's naive UTC: as_utc's own
            in_month = start <= rec_v < end
        elif type(rec_v) is str and len(rec_v) == 26 and rec_v[10] == " ":
            in_month = start_txt <= rec_v < end_txt
        else:
            rec = as_utc(rec_v)
            assert rec is not None
            in_month = start <= rec < end
        promised = promised_days.get(promised_v)
        if promised is None:
            got = as_date(promised_v)
            assert got is not None
            promised = promised_days[promised_v] = got
        # days taken / overdue as of today, calendar and working days (core.workdays); rows share days
        # the local days of receipt and resolution: the server's (PostgreSQL) where it wrote them
        if REC_DAY < 0 or (rec_day := row[REC_DAY]) is None:
            rec_day = day_of_stored(rec_v)
        if resolved_v is None:
            res_day = None
        elif RES_DAY < 0 or (res_day := row[RES_DAY]) is None:
            res_day = day_of_stored(resolved_v)
        days = days_of(rec_day, promised, res_day, row[STATUS] in open_statuses)
        # the row, then DETAIL_EXTRA (fee_cents set in step 7) and the None of a missing field
        details.append([*row, in_month, n_events.get(row[ID], 0), *days, None, None])
        if in_month:
            a = acc(row[ST])
            uscc = row[USCC]
            a.enterprises.add(uscc or row[ENT])  # an enterprise is its USCC
            if uscc is not None:
                served.add(uscc)
            # a damaged elements text (refused at the hub today; maybe stored earlier) counts under none
            el_text = row[ELEMENTS]
            els = element_sets.get(el_text)
            if els is None:
                els = element_sets[el_text] = tuple(dict.fromkeys(domain.stored_elements(el_text)[0]))
            by_element = a.by_element
            for el in els:
                by_element[el] += 1  # a request counts once under each of its elements
            a.by_channel[row[CHANNEL] or UNKNOWN] += 1
            a.by_city[row[CITY] or UNKNOWN] += 1
            a.quality.count_received(row[COUNTY], row[INDUSTRY], row[SCALE])

    # the served enterprises' first requests (step 8) start now on the side connection (PostgreSQL)
    first_sql, first_params = first_requests_query(q, served, exact=exact)
    q.ahead(first_sql, **first_params)

    # 7. time to accept / resolve (medians), for moves within the month; the month's moves are read once
    # for these and the quality figures (step 7b): of the requests of the details
    step("durations")
    ACC, SAT, FEE = col("accepted_at"), col("satisfaction"), col("fee_cents")
    moves = month_moves(events, {v[ID]: (v[ST], v[REC], v[ACC], v[PROM], v[SAT]) for v in details})
    last = last_resolutions(moves)  # each request's last resolution of the month, its data decoded once
    standing = [v for v in details if v[RES] is not None]
    # 明细's 收费金额 and the later fee corrections of the month's resolutions (reports.fees): one read of
    # their events, on a side connection (PostgreSQL) while the report goes on; set before the end, with
    # the charges (which read the corrected fees)
    fees_done = request_fees_later(q, ((v[ID], v[RES]) for v in standing), last)
    accepted: dict[str, tuple[str, float]] = {}
    resolved: dict[str, tuple[str, datetime, datetime]] = {}
    for mv in moves:
        to_status = mv.to_status
        if to_status not in ("accepted", "resolved"):
            continue
        rid, code = mv.rid, mv.code
        rv = mv.received_at
        rec = rv if type(rv) is datetime and rv.tzinfo is None else as_utc(rv)
        assert rec is not None
        if to_status == "accepted":
            av = mv.accepted_at
            first = av if type(av) is datetime and av.tzinfo is None else as_utc(av)
            if first is not None and start <= first < end:
                accepted[rid] = (code, (first - rec).total_seconds() / 3600)
        else:
            wv = mv.at
            when = wv if type(wv) is datetime and wv.tzinfo is None else as_utc(wv)
            assert when is not None
            prev = resolved.get(rid)
            if prev is None or when > prev[1]:
                resolved[rid] = (code, when, rec)
    for code, hours in accepted.values():
        acc(code).accept_hours.append(hours)
    workdays = cache(lambda a, b: elapsed(cal, a, b)[1])  # requests share (received, resolved) days
    for code, when, rec in resolved.values():
        acc(code).resolve_days.append((when - rec).total_seconds() / 86400)
        wd = workdays(day_of(rec), day_of(when))
        if wd is None:
            acc(code).workdays_unknown += 1
        else:
            acc(code).resolve_workdays.append(wd)

    # 7b. service quality: on time, reopened, ratings by level, charges, rectification, activities
    step("quality")
    open_rows = collect_quality(q, month, lambda code: acc(code).quality, cal, moves, last, low_rollup)
    # 按期办结率, 回访率: previous month, year to date (from the month rollup, revision 0027)
    collect_earlier(q, month, lambda code: acc(code).quality, rollup=earlier_rollup)

    # 8. first request ever (in scope) of the enterprises served this month. An enterprise is its USCC:
    # the hub holds one row per station for it (a province counts it once, however many served it).
    step("enterprises")
    for code, ent_key, first in q.rows(first_sql, **first_params):
        at = as_utc(first)
        assert at is not None
        a = acc(code)
        a.first_seen[ent_key] = at
        if at < start:
            a.seen_before.add(ent_key)

    ledger_rest()  # before step 9: a station it names has its data_as_of

    # 9. stations and data freshness
    step("stations")
    if len(accs) == 1 and not station:  # the station database: one indexed MAX (ix_request_updated)
        (newest,) = next(q.rows("SELECT MAX(updated_at) FROM request"))
        next(iter(accs.values())).data_as_of = as_utc(newest)
    else:  # one indexed MAX per station (ix_request_station_updated), not a pass over every request
        known = dict(q.rows(NEWEST_OF_HUB_STATIONS)) if hub_newest else {}
        for code, a in accs.items():
            if code in known:
                a.data_as_of = as_utc(known[code])
                continue
            (newest,) = next(q.rows("SELECT MAX(updated_at) FROM request WHERE station_code = :c", c=code))
            a.data_as_of = as_utc(newest)
    stations = station_profiles(conn, q)
    for c in accs:
        stations.setdefault(c, profile_entry(c, c, None, None, None, None, False, None))
    fees = fees_done()  # ... and ``last`` with the fee corrections followed
    for v in standing:
        v[FEE] = fees[v[ID]]
    count_charges(lambda code: acc(code).quality, last)
    return Raw(month, months, accs, stations, out, env_now(), open_rows)


def _details_select(q: Q) -> str:
    """The details' ``SELECT`` list (step 6): every request field, its enterprise's, and on PostgreSQL the
    eight times as the report writes them and the local days of receipt and resolution, by the server
    (``reports.figures.local_iso_sql``, ``local_day_sql``)."""
    fields = "r.*, "
    if q.dialect == "postgresql":
        from qi_station.reports.figures import (
            DAY_SUFFIX,
            DETAIL_DATETIME_FIELDS,
            LOCAL_SUFFIX,
            local_day_sql,
            local_iso_sql,
            stored_unless_local_sql,
        )

        # the request's fields the report reads, not ``r.*`` (its sync columns are not read); a time
        # read only where the server could not write it (``local_iso_sql``: before the fixed +08:00) is
        # given only then: psycopg decodes no datetime the report never uses (five of eight a row)
        fields = "".join(
            f"{stored_unless_local_sql('r.' + k)} AS {k}, " if k in _LOCAL_ONLY else f"r.{k}, "
            for k in detail_request_fields()
        )
        fields += "".join(f"{local_iso_sql('r.' + k)} AS {k}{LOCAL_SUFFIX}, " for k in DETAIL_DATETIME_FIELDS)
        # and the local days of receipt and resolution (the days taken / overdue)
        fields += "".join(
            f"{local_day_sql('r.' + k)} AS {k}{DAY_SUFFIX}, " for k in ("received_at", "resolved_at")
        )
    return (
        f"SELECT {fields}ent.name AS enterprise_name, ent.uscc AS enterprise_uscc, ent.city_code AS enterprise_city, "
        # the county it is counted under (reports.quality.enterprise_county):
        # a city-level registration (no county) is counted under its city's code, its 市本级
        "COALESCE(ent.county_code, ent.city_code) AS enterprise_county, "
        "ent.industry AS enterprise_industry, ent.scale AS enterprise_scale "
    )


#: the details' requests and their enterprises (PostgreSQL): each enterprise looked up by its key (``OFFSET
#: 0`` keeps the look-up a subquery per request: joined, the planner hashed every enterprise of the hub,
#: ~500 k at 10 M, for a month's ~80 k requests: ~0.6 of the statement's ~1.7 s of server CPU)
_DETAILS_FROM_PG = (
    "FROM request r LEFT JOIN LATERAL (SELECT e0.name, e0.uscc, e0.city_code, e0.county_code, e0.industry, "
    "e0.scale FROM enterprise e0 WHERE e0.id = r.enterprise_id OFFSET 0) ent ON TRUE "
)


def detail_request_fields() -> list[str]:
    """The request columns of the details (PostgreSQL's :func:`_details_select`): every field of the 明细
    (``reports.figures.DETAIL_FIELDS``) that is the request's (not its enterprise's, nor one the report
    adds: :data:`DETAIL_EXTRA`, the money in 万元), and its cost saved in cents."""
    from qi_station.reports.figures import DETAIL_FIELDS

    added = {*DETAIL_EXTRA, "cost_saved_wan", "fee_yuan"}
    own = [
        k
        for k in DETAIL_FIELDS
        if k not in added and (k == "enterprise_id" or not k.startswith("enterprise_"))
    ]
    return [*own, "cost_saved_cents"]


#: the details' times read only as the 明细 writes them (received, accepted and resolved are also
#: compared and counted: read as stored)
_LOCAL_ONLY = ("closed_at", "cancelled_at", "followup_at", "created_at", "updated_at")


def first_requests_query(q: Q, served: Iterable[str], *, exact: bool = False) -> tuple[str, dict[str, Any]]:
    """The statement and parameters of the first request ever (in scope) of each enterprise served in the
    month, per station (:func:`collect`'s step 8; ``Q.ahead`` starts it early): ``served``, the USCCs of
    the month's received details (step 6), given, not read again. Read from ``request_first`` (revision
    0025: one row per served enterprise row and station, ``db/rollup.py``); ``exact=True`` (or a database
    without it) computes the same rows from every request of the served enterprises
    (``rollup.first_of_sql``: ix_request_enterprise_first alone)."""
    from sqlalchemy import inspect

    # the rows of a USCC by ix_enterprise_uscc (0015), then one enterprise lookup per (row, station).
    # PostgreSQL: the ids as one array, looked up one by one in the index (it misjudges how many rows
    # share a USCC and would read the whole index: 10 M entries at a 10 M-request hub)
    usccs: Any = sorted(served)
    if q.dialect == "postgresql":
        served_sql = (
            "= ANY(ARRAY(SELECT e3.id FROM enterprise e3 WHERE e3.uscc = ANY(CAST(:u AS VARCHAR[]))))"
        )
    else:
        usccs = json.dumps(usccs)
        served_sql = "IN (SELECT e3.id FROM enterprise e3 WHERE e3.uscc IN (SELECT value FROM json_each(:u)))"
    if not exact and inspect(q.conn).has_table(rollup.FIRST_TABLE):
        # the served USCCs' enterprise rows joined to their first requests: each row's USCC is the one it
        # was found by (no second look-up of the enterprise)
        usccs_sql = (
            "= ANY(CAST(:u AS VARCHAR[]))"
            if q.dialect == "postgresql"
            else "IN (SELECT value FROM json_each(:u))"
        )
        return (
            f"SELECT f.station_code, e3.uscc AS k, MIN(f.first_at) FROM enterprise e3 JOIN {rollup.FIRST_TABLE} f "
            f"ON f.enterprise_id = e3.id WHERE e3.uscc {usccs_sql}{q.st('f')} GROUP BY f.station_code, e3.uscc",
            {"u": usccs},
        )
    return (
        "SELECT m.station_code, COALESCE(ent.uscc, m.enterprise_id) AS k, MIN(m.first_at) FROM "
        f"({rollup.first_of_sql(f'r.enterprise_id {served_sql}{q.st()}')}) m "
        "LEFT JOIN enterprise ent ON ent.id = m.enterprise_id "
        "GROUP BY m.station_code, COALESCE(ent.uscc, m.enterprise_id)",
        {"u": usccs},
    )


def profile_entry(
    code: str,
    name: str,
    region: str | None,
    park: str | None,
    type_: str | None,
    mode: str | None,
    is_self: bool,
    source: str | None,
) -> dict[str, Any]:
    """One station as the reports group it: by its OWN profile (region -> current city and county, park,
    type, service mode), never guessed from the enterprises it served; ``profile_from`` says where the
    profile was read (``hub``: what the station sent, ``station``: its own row, None: unknown)."""
    return {
        "code": code,
        "name": name,
        "region_code": region,
        "city_code": places.city_of(region),
        "county_code": places.county_of(region),
        "park": park,
        "station_type": type_,
        "service_mode": mode,
        "is_self": is_self,
        "profile_from": source,
    }


def station_profiles(conn: Connection, q: Q) -> dict[str, dict[str, Any]]:
    """Every station's profile: its ``station`` row (the station's own database), overridden at the hub by
    the profile the station sent (``hub_station``, kept at enrollment, every sync and every bundle)."""
    from sqlalchemy import inspect

    out: dict[str, dict[str, Any]] = {}
    for code, name, region, park, type_, mode, is_self in q.rows(
        "SELECT code, name, region_code, park, type, service_mode, is_self FROM station"
    ):
        out[code] = profile_entry(code, name, region, park, type_, mode, bool(is_self), "station")
    if inspect(conn).has_table("hub_station"):
        for code, name, region, park, type_, mode in q.rows(
            "SELECT code, name, region_code, park, station_type, service_mode FROM hub_station"
        ):
            if region is not None or code not in out:
                source = "hub" if region is not None else None
                out[code] = profile_entry(code, name or code, region, park, type_, mode, False, source)
    return out
