"""The report's history-wide figures: per window month the moves (accepted, resolved, closed, cancelled),
ratings and outcomes of the last resolutions, and the open / overdue requests at month ends.

Two ways to the same figures (``docs/reports.md`` "How it is computed"):

- :func:`ledger_rollup` reads the month rollup ``report_month`` (``qi_station/db/rollup.py``, kept by
  triggers): a few hundred rows whatever the history, what every report uses;
- :func:`ledger_exact` computes them from every event ever written (one grouped pass, the definition
  itself): ``collect(..., exact=True)``, the reference the tests hold the rollup to.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from qi_station.core import domain
from qi_station.core.months import first_day, next_month, previous_month
from qi_station.db.rollup import KINDS, TABLE, VALUES, VALUES_0013, json_cents, json_int, move_sql

if TYPE_CHECKING:
    from qi_station.reports.queries import Acc, Q

_OPEN_SQL = ", ".join(f"'{s}'" for s in sorted(domain.OPEN_STATUSES))
#: a move's change of the open count (+1 into an open status, -1 out of one)
_DELTA = (
    f"(CASE WHEN e.to_status IN ({_OPEN_SQL}) THEN 1 ELSE 0 END) - "
    f"(CASE WHEN e.from_status IN ({_OPEN_SQL}) THEN 1 ELSE 0 END)"
)


def states_day(month: str, today: date | None = None) -> date:
    """THE day a report's "month end" states are taken at (月末未办结 / 月末超期, an open rectification's
    超期): the first day after ``month`` once it has ended; for a month not ended yet (the current one),
    today -- a request promised, or a rectification due, later this month is not overdue yet (as the
    dashboard's 已逾期 counts it); for a month not begun yet, its first day. Overdue means a promised /
    due date before this day."""
    from qi_station.core.clock import today_local

    end = first_day(next_month(month))
    now = today_local() if today is None else today
    return min(end, max(now, first_day(month)))


# the rollup's columns the ledger figures read (on_time / followed_up, revision 0027, are the quality's:
# reports.quality.collect_earlier)
_LEDGER = VALUES_0013
_SERIES = {v: v for v in _LEDGER if v not in ("open_delta",)}  # rollup column -> Acc.series key


def has_rollup(q: Q) -> bool:
    """Whether the database has the rollup (revision 0013; every migrated database does)."""
    from sqlalchemy import inspect

    return bool(inspect(q.conn).has_table(TABLE))


def ledger_rollup(q: Q, month: str, months: list[str], acc: Callable[[str], Acc]) -> Callable[[], None]:
    """The figures from ``report_month``, summed in SQL per station and window month (the months before
    the window in one bucket, those after the report month in another): a few rows per station, whatever
    the history (a province hub's rollup holds stations × months × due months rows).

    Returns the call that adds the rest (the current month's requests overdue before today, read on a
    side connection meanwhile: ``Q.later``, of the fewer days: those promised before today, or those
    promised from today on, taken off the month's); the caller makes it before the figures are read."""
    index = {m: i for i, m in enumerate(months)}
    prev = previous_month(month)
    cut = states_day(month)
    d0, month_end = first_day(month), first_day(next_month(month))
    ended = cut == month_end  # else: only the month's days before today count
    # a month not ended: the requests promised before today are those promised in the month (the
    # rollup's promised month) less those promised from today on; the fewer days are read from the
    # requests themselves (late in the month, those from today: a day instead of four weeks)
    forward = not ended and cut - d0 <= month_end - cut
    cols = ", ".join(f"SUM({v})" for v in _LEDGER)
    nonzero = " OR ".join(f"{v} <> 0" for v in _LEDGER)  # what deleted requests leave says nothing
    for code, bucket, od, od_prev, *vals in q.rows(
        "SELECT station_code, CASE WHEN month > :m THEN 'after' WHEN month < :w0 THEN 'before' "
        "ELSE month END AS b, "
        f"SUM(CASE WHEN month <= :m AND promised_month {'<' if forward else '<='} :m THEN open_delta ELSE 0 END), "
        "SUM(CASE WHEN month <= :p AND promised_month <= :p THEN open_delta ELSE 0 END), "
        f"{cols} FROM {TABLE} WHERE ({nonzero}){q.st(TABLE)} GROUP BY station_code, b",
        m=month,
        w0=months[0],
        p=prev,
    ):
        a = acc(code)  # a station with a request in any month is in the report (as from the events)
        if bucket == "after":
            continue
        row = dict(zip(_LEDGER, (int(v or 0) for v in vals), strict=True))
        a.overdue_end += int(od or 0)
        a.overdue_prev_end += int(od_prev or 0)
        if bucket == "before":
            a.open_before += row["open_delta"]
            continue
        i = index[bucket]
        a.series["open_delta"][i] += row["open_delta"]
        for col, key in _SERIES.items():
            a.series[key][i] += row[col]
    if ended:
        return lambda: None
    # promised this month before today (forward: added), or from today on (else: taken off the month's):
    # from the requests promised in those few days
    from qi_station.reports.queries import window_bounds

    lo, hi, sign = (d0, cut, 1) if forward else (cut, month_end, -1)

    # PostgreSQL: the events of those requests looked up by request (their ids as one array); it
    # misjudged the join and read every event of the history (13.8 M rows, 12-18 s at a 10 M hub). On a
    # side connection while the report goes on (~3 s of the server at a 10 M hub)
    # SQLite: the same, those requests' ids as a list (by ix_request_promised, revision 0031); joined, it
    # walked every event before the month's end by ix_request_event_at (1.4 M events, ~2 s of CPU at a
    # 1 M-request station)
    by_id = (
        " AND e.request_id = ANY(ARRAY(SELECT r2.id FROM request r2 WHERE r2.promised_date >= :lo "
        f"AND r2.promised_date < :hi AND NOT r2.deleted{q.st('r2')}))"
        if q.dialect == "postgresql"
        else " AND e.request_id IN (SELECT r2.id FROM request r2 WHERE r2.promised_date >= :lo "
        "AND r2.promised_date < :hi)"
    )
    overdue = q.later(
        f"SELECT r.station_code, SUM({_DELTA}) FROM request_event e JOIN request r ON r.id = e.request_id "
        f"WHERE e.kind IN ({', '.join(repr(k) for k in KINDS)}) AND e.at < :b1 AND r.promised_date >= :lo "
        f"AND r.promised_date < :hi AND NOT r.deleted{q.st()}{by_id} GROUP BY r.station_code",
        b1=window_bounds([month])["b1"],
        lo=lo,
        hi=hi,
    )

    def finish() -> None:
        for code, od in overdue():
            acc(code).overdue_end += sign * int(od or 0)

    return finish


def ledger_exact(q: Q, month: str, months: list[str], acc: Callable[[str], Acc]) -> Callable[[], None]:
    """The figures from every event (one grouped pass; the reference for :func:`ledger_rollup`); returns
    a call with nothing left to add (as :func:`ledger_rollup`'s)."""
    from qi_station.core.months import month_bounds_utc
    from qi_station.reports.queries import MOVE_STATUSES, WINDOW, bucket_sql, window_bounds

    start = month_bounds_utc(month)[0]
    b = window_bounds(months)
    moves_sql = ", ".join(f"'{s}'" for s in MOVE_STATUSES)
    w = WINDOW
    # a request's latest resolution (its time is the row's resolved_at) counts the row's outcome, which
    # carries any correction (``correct`` events); an earlier one (reopened since) its own event's data
    ps = f"CASE WHEN r.resolved_at = e.at THEN r.problems_solved ELSE {json_int(q.dialect, 'e.data', 'problems_solved')} END"
    cents = f"CASE WHEN r.resolved_at = e.at THEN r.cost_saved_cents ELSE {json_cents(q.dialect, 'e.data', 'cost_saved')} END"
    delta = _DELTA
    in_window = f"e.at >= :b0 AND e.at < :b{w}"
    move = f"{move_sql('e')} AND e.to_status IN ({moves_sql}) AND {in_window}"
    last_resolution = (
        f"{move_sql('e')} AND e.to_status = 'resolved' AND {in_window} AND NOT EXISTS (SELECT 1 FROM "
        f"request_event e2 WHERE e2.request_id = e.request_id AND {move_sql('e2')} AND e2.to_status = 'resolved' "
        f"AND e2.n > e.n AND e2.at >= e.at AND e2.at < :b{w} AND {bucket_sql('e2.at', w)} = {bucket_sql('e.at', w)})"
    )
    rows: Any = q.rows(
        f"SELECT r.station_code, {bucket_sql('e.at', w, before=True, after=True)} AS bk, e.to_status, "
        f"COUNT(DISTINCT CASE WHEN {move} THEN e.request_id END), "
        f"SUM(CASE WHEN {move} AND e.to_status = 'closed' AND r.satisfaction IS NOT NULL THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {move} AND e.to_status = 'closed' AND r.satisfaction >= 3 THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {last_resolution} THEN {ps} END), SUM(CASE WHEN {last_resolution} THEN {cents} END), "
        f"SUM({delta}), "
        f"SUM(CASE WHEN e.at < :b{w} AND r.promised_date < :dend THEN {delta} ELSE 0 END), "
        f"SUM(CASE WHEN e.at < :pend AND r.promised_date < :dprev THEN {delta} ELSE 0 END) "
        "FROM request_event e JOIN request r ON r.id = e.request_id "
        f"WHERE e.kind IN ({', '.join(repr(k) for k in KINDS)}) AND ({delta} <> 0 OR ({move})) "
        f"AND NOT r.deleted{q.st()} GROUP BY r.station_code, bk, e.to_status",
        **b,
        dend=states_day(month),
        dprev=first_day(month),
        pend=start,
    )
    for code, bk, to_status, n, rated, satisfied, solved, cost, d, od, od_prev in rows:
        a = acc(code)
        i = int(bk)
        a.overdue_end += int(od or 0)
        a.overdue_prev_end += int(od_prev or 0)
        if i < 0:
            a.open_before += int(d or 0)
            continue
        if i >= w:  # after the report month
            continue
        a.series["open_delta"][i] += int(d or 0)
        if to_status in MOVE_STATUSES:
            a.series[to_status][i] += int(n or 0)
        if to_status == "closed":
            a.series["rated"][i] += int(rated or 0)
            a.series["satisfied"][i] += int(satisfied or 0)
        if to_status == "resolved":
            a.series["problems_solved"][i] += int(solved or 0)
            a.series["cost_cents"][i] += int(cost or 0)
    return lambda: None


def rebuild_rollup(url_or_path: Any) -> dict[str, int]:
    """``report rebuild`` / ``hub report rebuild``: compute the month rollup (and the low ratings, revision
    0024, and the first requests, ``rollup.FIRST_TABLE``, revision 0025) again from the ledger in one write
    transaction. Returns the month rollup's rows and how many rows of any differed from what was kept (0
    unless something wrote the ledger around the triggers)."""
    from qi_station.db import rollup
    from qi_station.db.engine import make_engine
    from qi_station.reports.queries import normalize_url

    engine = make_engine(normalize_url(url_or_path))
    cols = ", ".join((*rollup.KEY, *VALUES))

    def kept(conn: Any) -> set[tuple[Any, ...]]:
        rows = conn.exec_driver_sql(f"SELECT {cols} FROM {TABLE}")
        out = {tuple(r) for r in rows if any(r[len(rollup.KEY) :])}  # all-zero rows say nothing
        if rollup.has_table(conn, rollup.LOW_TABLE):  # the low ratings (revision 0024), rebuilt with it
            low = conn.exec_driver_sql(f"SELECT {', '.join(rollup.LOW_COLUMNS)} FROM {rollup.LOW_TABLE}")
            out |= {(rollup.LOW_TABLE, *r) for r in low}
        if rollup.has_table(conn, rollup.FIRST_TABLE):  # the first requests (revision 0025), rebuilt with it
            firsts = conn.exec_driver_sql(
                f"SELECT enterprise_id, station_code, first_at FROM {rollup.FIRST_TABLE}"
            )
            out |= {(rollup.FIRST_TABLE, *r) for r in firsts}
        return out

    try:
        with engine.begin() as conn:
            before = kept(conn)
            n = rollup.rebuild(conn)
            after = kept(conn)
    finally:
        engine.dispose()
    return {"rows": n, "changed": len(before ^ after)}
