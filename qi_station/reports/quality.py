"""The monthly report's service-quality raw material (issue 10): on-time completion, reopened requests,
satisfaction by level, charges, rectification of low ratings, breakdowns by county / industry / size, and
the activities that are not requests. Read with the report's :class:`~qi_station.reports.queries.Q`, kept
per station in :class:`Quality` (a city or the province is the merge), turned into figures by
:func:`quality_figures`. Every figure is defined in ``docs/reports.md``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import compress
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from qi_station.core.activity import ACTIVITY_KINDS
from qi_station.core.clock import local_date, local_day
from qi_station.core.months import first_day, month_bounds_utc, next_month
from qi_station.core.rectify import RECTIFY_KIND, RectifyDues
from qi_station.core.workdays import Calendar
from qi_station.db.rollup import LOW_TABLE, is_low_sql, move_sql
from qi_station.db.rollup import TABLE as ROLLUP_TABLE

if TYPE_CHECKING:
    from qi_station.reports.queries import Q

UNKNOWN = "unknown"
LEVELS = (5, 4, 3, 2, 1)


def enterprise_county(ent: Mapping[str, Any]) -> str:
    """THE county an enterprise is counted under: where it is today (``enterprise.county_code``, its
    location: the registered region's current county by default, editable with ``enterprise
    locate``; ``core.places.location``); an enterprise registered at city level (USCC region 370100,
    370101 市辖区: no county) under its city's code, its 市本级 (``core.places.breakdown_name``); else
    ``unknown``. The details query gives ``enterprise_county`` as that place already."""
    return place_county(ent.get("enterprise_county"), ent.get("enterprise_city"))


def place_county(county: Any, city: Any) -> str:
    """THE county breakdown's place of anything placed by a county and a city (an enterprise, a station
    by its profile's region): its county; with none (a city-level code such as 370100: no county), its
    city's code, counted as that city's 市本级 (``core.places.breakdown_name``); else ``unknown``."""
    return county_or_unknown(county or city)


def county_or_unknown(county: Any) -> str:
    """:func:`enterprise_county` of a place already chosen (the details row's ``enterprise_county``:
    ``COALESCE(county_code, city_code)``)."""
    return county if isinstance(county, str) and county else UNKNOWN


#: the counts of :class:`Quality` a merge adds up
_SUMMED = tuple(
    "resolved on_time followed_up reopened charged fee_cents low_ratings rectified "
    "prev_resolved prev_on_time prev_followed_up ytd_resolved ytd_on_time ytd_followed_up".split()
)


@dataclass
class Quality:
    """Service-quality raw material of one group (a station; cities and the province are merges)."""

    resolved: int = 0  # requests whose last resolution of the month is in the month
    on_time: int = 0  # ... of those, resolved (local date) on or before the promised date
    followed_up: int = 0  # ... of those, followed up (moved into closed) after it within the month
    # the same three of the previous month and of the earlier months of the year (January .. the month
    # before; the report's month is added by :func:`quality_figures`): :func:`collect_earlier`
    prev_resolved: int = 0
    prev_on_time: int = 0
    prev_followed_up: int = 0
    ytd_resolved: int = 0
    ytd_on_time: int = 0
    ytd_followed_up: int = 0
    reopened: int = 0  # requests reopened (resolved -> in_progress) in the month
    levels: Counter[int] = field(default_factory=Counter)  # ratings given in the month, by level
    charged: int = 0  # last resolutions of the month that were charged
    fee_cents: int = 0  # ... their fees, in fen (hundredths of a yuan)
    by_county: Counter[str] = field(default_factory=Counter)
    by_industry: Counter[str] = field(default_factory=Counter)
    by_size: Counter[str] = field(default_factory=Counter)
    low_ratings: int = 0  # ratings of 1 or 2 given in the month
    rectified: int = 0  # requests whose rectify record was made in the month
    rectify_open: list[dict[str, Any]] = field(default_factory=list)  # no rectify record at month end
    open_sorted: bool = False  # rectify_open is already in the report's order (:func:`sort_open`)
    activities: dict[str, list[int]] = field(default_factory=dict)  # kind -> [count, enterprises, people]

    def merge(self, o: Quality) -> Quality:
        for k in _SUMMED:
            setattr(self, k, getattr(self, k) + getattr(o, k))
        for k in ("levels", "by_county", "by_industry", "by_size"):
            getattr(self, k).update(getattr(o, k))
        if o.rectify_open:
            self.rectify_open += o.rectify_open
            self.open_sorted = False
        for kind, vals in o.activities.items():
            mine = self.activities.setdefault(kind, [0, 0, 0])
            for i, x in enumerate(vals):
                mine[i] += x
        return self

    def count_received(self, county: Any, industry: Any, scale: Any) -> None:
        """A request received in the month, by its enterprise's county (``enterprise.county_code``),
        industry and size (the details row's ``enterprise_county``, ``_industry``, ``_scale``)."""
        self.by_county[county_or_unknown(county)] += 1
        self.by_industry[industry or UNKNOWN] += 1
        self.by_size[scale or UNKNOWN] += 1


def _fen(text: Any) -> int:
    from decimal import Decimal, InvalidOperation

    try:
        return int(Decimal(str(text)) * 100)
    except (InvalidOperation, ValueError):
        return 0


#: the moves of a month the report reads (:func:`month_moves`): into these statuses
MONTH_MOVES = ("accepted", "resolved", "closed", "in_progress")


class Move(NamedTuple):
    """One move of the month (:func:`month_moves`), with the request fields the report reads of it."""

    code: str  # the request's station
    rid: str
    n: int
    at: Any
    from_status: str | None
    to_status: str
    data: Any  # the event's data (resolutions only, else None)
    received_at: Any
    accepted_at: Any
    promised_date: Any
    satisfaction: Any


def month_events_query(month: str) -> tuple[str, dict[str, Any]]:
    """The statement and parameters :func:`month_events` reads (``Q.ahead`` starts it early)."""
    start, end = month_bounds_utc(month)
    statuses = ", ".join(f"'{s}'" for s in MONTH_MOVES)
    return (
        "SELECT e.request_id, e.n, e.at, e.from_status, e.to_status, "
        "CASE WHEN e.to_status = 'resolved' THEN e.data END, "
        f"CASE WHEN {move_sql('e')} AND e.to_status IN ({statuses}) THEN 1 ELSE 0 END "
        "FROM request_event e WHERE e.at >= :s AND e.at < :e",
        {"s": start, "e": end},
    )


def month_events(q: Q, month: str) -> list[Any]:
    """THE month's events, every kind, read once (one range scan of ``ix_request_event_at``) for the
    report's details (which requests changed in the month, and how many events each had) and its moves
    (:func:`month_moves`). Rows: (request id, n, at, from_status, to_status, data of a resolution else
    None, whether it is a move (:func:`~qi_station.db.rollup.move_sql`) into :data:`MONTH_MOVES`)."""
    sql, params = month_events_query(month)
    return list(q.rows(sql, **params))


def month_moves(events: list[Any], requests: Mapping[str, tuple[Any, ...]]) -> list[Move]:
    """THE month's moves into :data:`MONTH_MOVES` (of :func:`month_events`), of the requests in
    ``requests`` (id -> (station code, received_at, accepted_at, promised_date, satisfaction): the
    report's details, every request with an event in the month that is not deleted, in scope). One pass
    over the month's events, without a lookup of each one's request, for every figure built on them
    (times to accept / resolve, on time, charges, reopened, ratings by level)."""
    out: list[Move] = []
    get = requests.get
    for rid, n, at, fs, ts, data, is_move in events:
        if not is_move:
            continue
        r = get(rid)
        if r is None:  # deleted, or another station's
            continue
        code, received_at, accepted_at, promised_date, satisfaction = r
        out.append(
            Move(code, rid, int(n), at, fs, ts, data, received_at, accepted_at, promised_date, satisfaction)
        )
    return out


def last_resolutions(moves: list[Move]) -> dict[str, tuple[Move, Any]]:
    """THE month's last resolution of each request (its move into ``resolved`` of the highest n among the
    month's moves), with its data decoded once (a JSON text's value, None where the text is not JSON; a
    driver's dict as it is) for every figure that reads it (charges, 明细's 收费金额: ``reports.fees``)."""
    last: dict[str, Move] = {}
    for mv in moves:
        if mv.to_status == "resolved":
            prev = last.get(mv.rid)
            if prev is None or mv.n > prev.n:
                last[mv.rid] = mv
    out: dict[str, tuple[Move, Any]] = {}
    loads = json.loads
    for rid, mv in last.items():
        data = mv.data
        if isinstance(data, str):
            try:
                data = loads(data)
            except ValueError:
                data = None
        out[rid] = (mv, data)
    return out


def has_low_rollup(q: Q) -> bool:
    """Whether the database keeps the low ratings (``db/rollup.LOW_TABLE``, revision 0024)."""
    from sqlalchemy import inspect

    return bool(inspect(q.conn).has_table(LOW_TABLE))


def low_ratings_query(q: Q, month: str, rollup: bool = False) -> tuple[str, dict[str, Any]]:
    """The statement and parameters of :func:`collect_quality`'s low ratings given up to the month's end,
    with their first rectify record (``Q.ahead`` starts it early). ``rollup``: read them from
    ``db/rollup.LOW_TABLE`` (the same rows, kept by triggers: one small table, in its index's order),
    else from the requests and their events (the exact path)."""
    start, end = month_bounds_utc(month)
    # PostgreSQL: the local day of the rating too (the fixed +08:00 rule of ``figures.local_day_sql``;
    # NULL before it), and the rows in the open list's order (:func:`sort_open`: day, station, number;
    # COLLATE "C" compares the text as Python does), sorted by the server instead of by the report
    if q.dialect == "postgresql":
        from qi_station.reports.figures import local_day_sql

        day = local_day_sql("t.closed_at")
        order = f'{day}, t.station_code COLLATE "C", t.number COLLATE "C"'
    else:
        day, order = "NULL", "t.closed_at, t.number"
    cols = (
        "SELECT t.station_code, t.number, t.ent_name, t.satisfaction, t.closed_at, t.closed_at >= :s, "
        f"t.fixed >= :s AND t.fixed < :e, t.fixed IS NULL OR t.fixed >= :e, {day} FROM "
    )
    if rollup:
        return (
            f"{cols}{LOW_TABLE} t WHERE t.closed_at < :e{q.st('t')} ORDER BY {order}",
            {"s": start, "e": end},
        )
    # The partial index of revision 0010 holds exactly these rows (its condition is repeated literally);
    # SQLite is told to use it when it is there, or it would read every closed request through
    # ix_request_status; not through the view that leaves demo data out (``queries.leave_out_demo``: a view
    # has no index to name)
    low = ""
    if (
        q.dialect == "sqlite"
        and next(
            q.rows(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'ix_request_low_rating' "
                "AND NOT EXISTS (SELECT 1 FROM sqlite_temp_master WHERE type = 'view' AND name = 'request')"
            )
        )[0]
    ):
        low = " INDEXED BY ix_request_low_rating"
    # Each request's first rectify record comes from one grouped read of the rectify records
    # (ix_request_event_rectify), joined: a correlated subquery was run once per row and per use of it
    # (PostgreSQL inlined ``t``: three times)
    return (
        f"{cols}(SELECT r.station_code, r.number, ent.name AS ent_name, r.satisfaction, r.closed_at, f.fixed "
        f"FROM request r{low} LEFT JOIN enterprise ent ON ent.id = r.enterprise_id LEFT JOIN "
        f"(SELECT x.request_id, MIN(x.at) AS fixed FROM request_event x WHERE x.kind = '{RECTIFY_KIND}' "
        "GROUP BY x.request_id) f ON f.request_id = r.id "
        f"WHERE {is_low_sql('r')} AND r.closed_at < :e{q.st()}) t ORDER BY {order}",
        {"s": start, "e": end},
    )


def resolution_counts(
    moves: list[Move], last: Mapping[str, tuple[Move, Any]] | None = None
) -> dict[str, list[int]]:
    """THE month's resolutions, by station: [resolved, on time, followed up] of a month's moves
    (:func:`month_moves`; ``last`` their :func:`last_resolutions`). A request counts once, by its last
    resolution of the month: on time when resolved (local date) on or before its promised date,
    followed up when moved into ``closed`` after it within the month. 按期办结率 and 回访率 are the
    shares of these (:func:`quality_figures`), for the report's month, the previous month and the
    year to date alike (:func:`collect_earlier`)."""
    from qi_station.reports.queries import as_date, as_utc  # queries imports this module

    if last is None:
        last = last_resolutions(moves)
    followed: set[str] = set()  # requests followed up after their last resolution of the month
    for mv in moves:
        if mv.to_status == "closed":
            res = last.get(mv.rid)
            if res is not None and mv.n > res[0].n:
                followed.add(mv.rid)
    out: dict[str, list[int]] = {}
    for mv, _d in last.values():
        g = out.get(mv.code)
        if g is None:
            g = out[mv.code] = [0, 0, 0]
        g[0] += 1
        g[2] += mv.rid in followed
        when = as_utc(mv.at)
        pd = as_date(mv.promised_date)
        if when is not None and pd is not None and local_date(when) <= pd:
            g[1] += 1
    return out


def earlier_moves_query(q: Q, month: str) -> tuple[str, dict[str, Any], list[str]]:
    """The statement, parameters and months :func:`collect_earlier` reads: the moves into ``resolved``
    and ``closed`` of the previous month and of January .. the month before ``month`` (one range scan
    of ``ix_request_event_at``), of the requests in scope (not deleted, the station's)."""
    from qi_station.core.months import previous_month

    prev = previous_month(month)
    first = min(prev, f"{month[:4]}-01")
    months = [first]
    while months[-1] != prev:
        months.append(next_month(months[-1]))
    edges = {f"m{i}": month_bounds_utc(m)[1] for i, m in enumerate(months)}  # each month's end
    which = " ".join(f"WHEN e.at < :m{i} THEN {i}" for i in range(len(months)))
    return (
        f"SELECT CASE {which} END, e.request_id, e.n, e.at, e.from_status, e.to_status, r.station_code, "
        "r.promised_date FROM request_event e JOIN request r ON r.id = e.request_id "
        f"WHERE e.at >= :s AND e.at < :e AND {move_sql('e')} AND e.to_status IN ('resolved', 'closed') "
        f"AND NOT r.deleted{q.st('r')}",
        {"s": month_bounds_utc(first)[0], "e": month_bounds_utc(month)[0], **edges},
        months,
    )


def earlier_rollup_query(q: Q, month: str) -> tuple[str, dict[str, Any]]:
    """The statement and parameters of :func:`collect_earlier` from the month rollup (``db/rollup.py``:
    ``resolved``, ``on_time``, ``followed_up`` per station and month, revision 0027): per station, the
    sums of the previous month and of January .. the month before ``month``, of the stations with a
    resolution in those months (as :func:`resolution_counts` gives them)."""
    from qi_station.core.months import previous_month

    prev, year0 = previous_month(month), f"{month[:4]}-01"
    cols = ", ".join(
        f"SUM(CASE WHEN month {cond} THEN {v} ELSE 0 END)"
        for cond in ("= :p", ">= :y")
        for v in ("resolved", "on_time", "followed_up")
    )
    return (
        f"SELECT station_code, {cols} FROM {ROLLUP_TABLE} WHERE month >= :f AND month < :m{q.st(ROLLUP_TABLE)} "
        "GROUP BY station_code HAVING SUM(resolved) > 0",
        {"p": prev, "y": year0, "f": min(prev, year0), "m": month},
    )


def collect_earlier(q: Q, month: str, quality: Any, rollup: bool = False) -> None:
    """The previous month's and the year's earlier months' resolutions (:func:`resolution_counts` of
    each month, by the same definitions as the report's month) into each station's :class:`Quality`
    (``quality(code)``: ``prev_*``, ``ytd_*``). A move belongs to the month (Asia/Shanghai) of its time.
    ``rollup``: the sums from the month rollup (:func:`earlier_rollup_query`: a few rows per station),
    else from the moves themselves (:func:`earlier_moves_query`, the exact path)."""
    if rollup:
        sql, params = earlier_rollup_query(q, month)
        for code, *vals in q.rows(sql, **params):
            g = quality(code)
            p_res, p_on, p_fol, y_res, y_on, y_fol = (int(v or 0) for v in vals)
            g.prev_resolved += p_res
            g.prev_on_time += p_on
            g.prev_followed_up += p_fol
            g.ytd_resolved += y_res
            g.ytd_on_time += y_on
            g.ytd_followed_up += y_fol
        return
    sql, params, months = earlier_moves_query(q, month)
    by_month: list[list[Move]] = [[] for _ in months]  # the month of each move: by the database (CASE)
    for i, rid, n, at, fs, ts, code, promised in q.rows(sql, **params):
        by_month[i].append(Move(code, rid, int(n), at, fs, ts, None, None, None, promised, None))
    year = month[:4]
    for m, moves in zip(months, by_month, strict=True):
        if not moves:
            continue
        for code, (res, on_time, followed) in resolution_counts(moves).items():
            g = quality(code)
            if m == months[-1]:  # the previous month
                g.prev_resolved += res
                g.prev_on_time += on_time
                g.prev_followed_up += followed
            if m[:4] == year:
                g.ytd_resolved += res
                g.ytd_on_time += on_time
                g.ytd_followed_up += followed


def collect_quality(
    q: Q,
    month: str,
    quality: Any,
    cal: Calendar,
    moves: list[Move],
    last: Mapping[str, tuple[Move, Any]] | None = None,
    rollup: bool = False,
) -> list[dict[str, Any]] | None:
    """Run the quality queries for ``month``; ``quality(code)`` gives the station's :class:`Quality`;
    ``moves`` are the month's moves (:func:`month_moves`), ``last`` their :func:`last_resolutions` (made
    here when not given); ``rollup``: the low ratings from their rollup (:func:`low_ratings_query`).

    Returns every station's open-rectification rows in :func:`sort_open`'s order when the database gave
    them so (PostgreSQL, every row's day from the server), else None."""
    from qi_station.reports.queries import as_utc  # queries imports this module

    start, end = month_bounds_utc(month)
    from qi_station.reports.ledger import states_day

    month_end = first_day(next_month(month))
    cut = states_day(month)  # a due date before this is overdue (the month's end, or today)

    # last resolution of each request within the month: on time? charged?
    if last is None:
        last = last_resolutions(moves)
    reopened: set[tuple[str, str]] = set()  # (station, request) reopened (resolved -> in_progress)
    for mv in moves:
        if mv.to_status == "resolved":
            continue
        elif mv.to_status == "in_progress":
            if mv.from_status == "resolved":
                reopened.add((mv.code, mv.rid))
        elif mv.to_status == "closed":
            if mv.satisfaction is not None:
                quality(mv.code).levels[int(mv.satisfaction)] += 1
    for code, _rid in reopened:
        quality(code).reopened += 1
    for code, counts in resolution_counts(moves, last).items():
        g = quality(code)
        g.resolved += counts[0]
        g.on_time += counts[1]
        g.followed_up += counts[2]

    dues: dict[Any, tuple[str, str, bool]] = {}  # rating day -> (day, due, overdue): days repeat
    hours: dict[Any, tuple[str, str, bool]] = {}  # the same by UTC hour of the rating
    # the same by UTC date of a stored text: (before 16:00 UTC, from 16:00 UTC), or None where that date's
    # local day does not turn at 16:00 UTC. The open list spans the history, one row in almost every UTC
    # hour; a UTC date holds many of them
    halves: dict[str, tuple[date, date] | None] = {}
    one_day = timedelta(days=1)

    due_of: RectifyDues | None = None  # made at the first open row: the rows come by time of rating

    def rated(day: date) -> tuple[str, str, bool]:
        nonlocal due_of
        got = dues.get(day)
        if got is None:
            if due_of is None:
                due_of = RectifyDues(cal, day, month_end)
            due = due_of(day)
            got = dues[day] = (day.isoformat(), due.isoformat(), due < cut)
        return got

    def split(ymd: str) -> tuple[date, date] | None:
        """The two local days of UTC date ``ymd``, when it turns at 16:00 UTC (Asia/Shanghai at +08:00).
        The local date never goes back as UTC time goes on, and the zone's offset lies between 0 and
        +24 h, so the local day is constant before 16:00 UTC when 15:59:59 is still ``ymd`` and after
        it when 16:00:00 is the next day."""
        d0 = date.fromisoformat(ymd)
        lo, hi = local_day(ymd + " 15:59:59"), local_day(ymd + " 16:00:00")
        return (lo, hi) if lo == d0 and hi == d0 + one_day else None

    groups: dict[str, Quality] = {}
    # the (day, due, overdue) of a stored text's UTC date, before and from 16:00 UTC (see split)
    early: dict[str, tuple[str, str, bool]] = {}
    late: dict[str, tuple[str, str, bool]] = {}
    # the comparisons with the month's edges are made in SQL (typed parameters), so a row is parsed only
    # when its UTC date (or hour) is new: the open list spans the history
    sql, params = low_ratings_query(q, month, rollup)
    everyone: list[dict[str, Any]] = []  # the open rows of every station, in the rows' order
    add_everyone = everyone.append
    adds: dict[str, Any] = {}  # station -> its rectify_open's append (the open list: 326k rows at 10 M)
    in_order = q.dialect == "postgresql"  # ... which is sort_open's while each row's day is the server's
    for code, number, ent_name, sat, closed_at, in_month, fixed_in_month, still_open, day in q.rows(
        sql, **params
    ):
        if closed_at is None:
            continue
        g = groups.get(code)
        if g is None:
            g = groups[code] = quality(code)
            adds[code] = g.rectify_open.append
        if in_month:
            g.low_ratings += 1
        if fixed_in_month:
            g.rectified += 1
        if still_open:
            # the server's local day (PostgreSQL): its (day, due, overdue) known once the day was seen
            rated_on = None if day is None else dues.get(day)
            if rated_on is not None:
                pass
            elif day is not None:
                rated_on = rated(day)
            else:
                in_order = False
            if rated_on is None and (
                type(closed_at) is str
                and len(closed_at) >= 19
                and closed_at[13] == ":"
                and closed_at[10] == " "
            ):
                ymd = closed_at[:10]
                half = late if closed_at[11:13] >= "16" else early
                rated_on = half.get(ymd)
                if rated_on is None:
                    two = halves.get(ymd, ())
                    if two == ():
                        two = halves[ymd] = split(ymd)
                    if two is not None:
                        rated_on = half[ymd] = rated(two[half is late])
            if rated_on is None:
                # the local day is the same through a UTC hour (Asia/Shanghai's offset is whole hours)
                hour = closed_at[:13] if type(closed_at) is str else (closed_at.date(), closed_at.hour)
                rated_on = hours.get(hour)
                if rated_on is None:
                    at = as_utc(closed_at)
                    assert at is not None
                    rated_on = hours[hour] = rated(local_date(at))
            row = {
                "number": number,
                "station_code": code,
                "enterprise_name": ent_name,
                "satisfaction": int(sat),
                "rated_on": rated_on[0],
                "due": rated_on[1],
                "overdue": rated_on[2],
            }
            adds[code](row)
            add_everyone(row)

    for code, kind, n, ents, people in q.rows(
        "SELECT a.station_code, a.kind, COUNT(*), SUM(a.enterprises), SUM(a.people) FROM activity a "
        f"WHERE a.date >= :ds AND a.date < :de{q.st('a')} GROUP BY a.station_code, a.kind",
        ds=first_day(month),
        de=month_end,
    ):
        vals = quality(code).activities.setdefault(str(kind), [0, 0, 0])
        vals[0] += int(n)
        vals[1] += int(ents or 0)
        vals[2] += int(people or 0)
    return everyone if in_order else None


def count_charges(quality: Any, last: Mapping[str, tuple[Move, Any]]) -> None:
    """The month's charged resolutions and their fees: of each request's last resolution of the month
    (:func:`last_resolutions`, its fee corrections followed: ``reports.fees``), the charged ones.
    ``quality(code)`` gives the station's :class:`Quality`."""
    for mv, d in last.values():
        if isinstance(d, Mapping) and d.get("charged") is True:
            g = quality(mv.code)
            g.charged += 1
            g.fee_cents += _fen(d.get("fee"))


def sort_open(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """THE order of the open-rectification list: by day of the rating, station, number (a total order:
    a station's numbers are unique). Sorted by the last key, then stably by each earlier one: the same
    order as one sort by the (day, station, number) tuple (Python's sort is stable), in half the time
    (no tuple per row; the rows come mostly in order of rating: 326k rows 0.36 -> 0.17 s)."""
    out = sorted(rows, key=itemgetter("number"))
    out.sort(key=itemgetter("station_code"))
    out.sort(key=itemgetter("rated_on"))
    return out


_STATION = itemgetter("station_code")
_OVERDUE = itemgetter("overdue")


def open_stations(ordered: list[dict[str, Any]]) -> list[str]:
    """The station code of each row of ``ordered``, in its order (read once for every :func:`split_open`)."""
    return list(map(_STATION, ordered))


def split_open(
    ordered: list[dict[str, Any]], group_of: Mapping[str, str], stations: list[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The rows of ``ordered`` (:func:`sort_open`'s order) per group (``group_of``: station code -> group),
    each group's rows in the same order: the part of a sorted list is sorted, so a report of many groups
    (the province's cities, counties, …) sorts its open-rectification list once, not once per group.
    ``stations``: :func:`open_stations` of ``ordered`` when the caller splits it more than once."""
    if stations is None:
        stations = open_stations(ordered)
    out: dict[str, list[dict[str, Any]]] = {}
    append: dict[str, Any] = {}  # group -> its list's append (a province's list: 6 x 326k rows at 10 M)
    for key, row in zip(map(group_of.__getitem__, stations), ordered, strict=True):
        try:
            append[key](row)
        except KeyError:
            rows = out[key] = [row]
            append[key] = rows.append
    return out


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _counts(c: Counter[str]) -> dict[str, int]:
    return dict(sorted(c.items(), key=lambda kv: (kv[0] == UNKNOWN, kv[0])))


def earlier_rates(g: Quality) -> dict[str, tuple[float | None, float | None]]:
    """按期办结率 and 回访率 (headline keys ``on_time_rate``, ``followup_rate``) of the previous month and of
    the year to date (its earlier months and the report's month): (previous, year to date), each the
    share :func:`quality_figures` gives the month (:func:`resolution_counts`' definitions)."""
    res = g.ytd_resolved + g.resolved
    return {
        "on_time_rate": (_rate(g.prev_on_time, g.prev_resolved), _rate(g.ytd_on_time + g.on_time, res)),
        "followup_rate": (
            _rate(g.prev_followed_up, g.prev_resolved),
            _rate(g.ytd_followed_up + g.followed_up, res),
        ),
    }


def quality_figures(g: Quality) -> dict[str, Any]:
    """The quality figures of one group. THE follow-up rate (回访率) is the share of the month's
    resolutions that were followed up (moved into ``closed``) after it within the month: a part over its
    whole, never above 1 (a follow-up of a request resolved in an earlier month is not in it)."""
    open_ = g.rectify_open if g.open_sorted else sort_open(g.rectify_open)
    overdue = list(compress(open_, map(_OVERDUE, open_)))  # the rows whose "overdue" is true, in order
    return {
        "on_time": {"count": g.on_time, "resolved": g.resolved, "rate": _rate(g.on_time, g.resolved)},
        "followup": {
            "followed_up": g.followed_up,
            "resolved": g.resolved,
            "rate": _rate(g.followed_up, g.resolved),
        },
        "reopened": g.reopened,
        "satisfaction_levels": {str(k): g.levels.get(k, 0) for k in LEVELS},
        "by_county": _counts(g.by_county),
        "by_industry": _counts(g.by_industry),
        "by_size": _counts(g.by_size),
        "charged": {"count": g.charged, "fee_yuan": round(g.fee_cents / 100, 2)},
        "rectification": {
            "low_ratings": g.low_ratings,
            "rectified": g.rectified,
            "open_count": len(open_),
            "overdue_count": len(overdue),
            "open": open_,
            "overdue": overdue,
        },
        "activities": {
            k: dict(zip(("count", "enterprises", "people"), g.activities.get(k, [0, 0, 0]), strict=True))
            for k in (*ACTIVITY_KINDS, *sorted(set(g.activities) - set(ACTIVITY_KINDS)))
        },
    }
