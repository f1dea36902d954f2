"""THE month rollup of the ledger (``report_month``, revision 0013): what the monthly report needs from the
whole event history, kept per (station, local month, promised month) so a report reads a few hundred rows
instead of every event ever written (issue 13).

One row holds, for the requests of one station whose events fall in one Asia/Shanghai month and whose
``promised_date`` falls in ``promised_month``:

- ``open_delta``: the sum of open-count deltas (+1 into an open status, -1 out of one) of the month's
  ``created`` / ``status`` / ``referral`` / ``hub`` events: the open requests at a month's end are the sum over every
  month up to it, the overdue ones the same sum over the promised months up to it;
- ``accepted`` ``resolved`` ``closed`` ``cancelled``: requests with a move (:func:`move_sql`: a status
  event, or a hub event that changed the status) into that status in the month (once per request and month);
- ``rated`` / ``satisfied``: moves into ``closed`` in the month of requests rated (3-5 for satisfied);
- ``problems_solved`` / ``cost_cents``: of each request's last resolution in the month, the row's outcome
  when it is the request's latest resolution (corrections included), else the event's own;
- ``on_time`` / ``followed_up`` (revision 0027): of the requests resolved in the month (``resolved``), those
  whose last resolution of the month (its move into ``resolved`` of the highest n among the month's) was
  on or before the promised date (local date), and those moved into ``closed`` after it within the month
  (a closing move of a higher n): 按期办结率 and 回访率 of the previous month and the year to date
  (``reports.quality.resolution_counts`` is the definition, ``collect_earlier`` reads these).

Every figure is the one ``reports.queries.collect(..., exact=True)`` computes from the events (the
definitions in ``docs/reports.md``). The rollup is **a function of the rows as they are**: database
triggers (SQLite and PostgreSQL, same SQL) take a request's contribution out and put it back whenever
one of its events is inserted or deleted, or its row is inserted, deleted or changes a field the
figures read (deleted, promised date, satisfaction, latest resolution and its outcome). So every path
that writes the ledger (``db/write.py``, sync apply, the hub's push and bundles, the spreadsheet
import, restore) keeps it right without knowing of it. The hub's push writes hundreds of rows per batch:
it holds the triggers (:func:`held`, revision 0016) and takes its requests' contributions out before the
batch and puts them back after it, once, with the same SQL. The bulk paths that drop indexes (the
generator) drop the triggers too and call :func:`rebuild` at the end; ``qi-station report rebuild``
(and ``hub report rebuild``) run it on demand. The SQL of a contribution is written once here
(:func:`contribution_sql`), for the triggers and for :func:`rebuild` alike.

Months: Asia/Shanghai has been UTC+8 without daylight saving since 1991, so the local month of a naive
UTC time is the month of ``at + 8 hours`` (``core.months.month_bounds_utc`` gives the same edges; a test
checks them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from qi_station.core import domain

TABLE = "report_month"
#: the columns of revision 0013 (its migrations, and 0016 / 0017, keep and rebuild these)
VALUES_0013 = (
    "open_delta",
    "accepted",
    "resolved",
    "closed",
    "cancelled",
    "rated",
    "satisfied",
    "problems_solved",
    "cost_cents",
)
VALUES = (*VALUES_0013, "on_time", "followed_up")  # revision 0027: the resolutions' on time, followed up
KEY = ("station_code", "month", "promised_month")
# the request fields a contribution reads: a change of one of them recomputes it
ROW_FIELDS = (
    "id",
    "station_code",
    "deleted",
    "promised_date",
    "satisfaction",
    "resolved_at",
    "problems_solved",
    "cost_saved_cents",
)
KINDS = ("created", "status", "referral", "hub")  # events that move a request (or may: a hub edit)


def move_sql(e: str = "e") -> str:
    """THE condition "event ``e`` moves its request into ``e.to_status``": a ``status`` event, or a
    ``hub`` event (the hub's edit as the station took it, e.g. ``hub assign --status cancelled``) whose
    status changed. Every figure built on moves (the rollup, the reference from the events, durations,
    quality) calls it."""
    return f"({e}.kind = 'status' OR ({e}.kind = 'hub' AND {e}.to_status <> {e}.from_status))"


MOVES = ("accepted", "resolved", "closed", "cancelled")
_OPEN = ", ".join(f"'{s}'" for s in sorted(domain.OPEN_STATUSES))
_KINDS = ", ".join(f"'{k}'" for k in KINDS)
# A write of many ledger rows (the hub's push) holds the per-row triggers and puts the contributions of
# the requests it touched back once, set-based (:func:`held`). PostgreSQL: a transaction-local setting;
# SQLite (no session settings): a row in HOLD_TABLE written and removed inside the writer's transaction,
# so no other connection ever sees it (revision 0016).
HOLD_TABLE = "report_month_hold"
HOLD_SETTING = "qi.bulk"
TRIGGERS = (
    "report_month_event_ins",
    "report_month_event_del",
    "report_month_request_ins",
    "report_month_request_upd",
    "report_month_request_del",
)


def json_int(dialect: str, col: str, key: str) -> str:
    """An integer in an event's JSON data (SQLite ``json_extract``, PostgreSQL ``->>``)."""
    if dialect == "postgresql":
        return f"CAST(CAST({col} AS json) ->> '{key}' AS integer)"
    return f"CAST(json_extract({col}, '$.{key}') AS INTEGER)"


def json_cents(dialect: str, col: str, key: str) -> str:
    """A decimal string in the JSON (e.g. ``"12.34"`` 万元) as integer hundredths."""
    if dialect == "postgresql":
        return f"CAST(ROUND(CAST(CAST({col} AS json) ->> '{key}' AS numeric) * 100) AS integer)"
    return f"CAST(ROUND(CAST(json_extract({col}, '$.{key}') AS REAL) * 100) AS INTEGER)"


def local_month(dialect: str, col: str) -> str:
    """'YYYY-MM' of a naive-UTC timestamp in Asia/Shanghai (UTC+8, no DST since 1991)."""
    if dialect == "postgresql":
        return f"to_char({col} + interval '8 hours', 'YYYY-MM')"
    # SQLite's date functions keep milliseconds: 15:59:59.9999 would round into the next month; a month
    # edge is a whole second, so the time is cut to the second first (stored 'YYYY-MM-DD HH:MM:SS.ffffff')
    return f"strftime('%Y-%m', substr({col}, 1, 19), '+8 hours')"


def local_date(dialect: str, col: str) -> str:
    """The Asia/Shanghai date of a naive-UTC timestamp, comparable with a date column (SQLite: the
    'YYYY-MM-DD' text, the time cut to the second as in :func:`local_month`)."""
    if dialect == "postgresql":
        return f"CAST({col} + interval '8 hours' AS date)"
    return f"date(substr({col}, 1, 19), '+8 hours')"


def date_month(dialect: str, col: str) -> str:
    """'YYYY-MM' of a date column."""
    if dialect == "postgresql":
        return f"to_char({col}, 'YYYY-MM')"
    return f"substr({col}, 1, 7)"


def contribution_sql(
    dialect: str,
    r: str,
    where: str,
    skip: str | None = None,
    sign: int = 1,
    values: tuple[str, ...] = VALUES,
) -> str:
    """The upsert adding ``sign`` × the contribution of the requests ``where`` selects to the rollup.

    ``r`` is the request row: ``"r"`` (joined from ``request``) or a trigger's ``NEW`` / ``OLD``
    pseudo-row (then ``where`` names the events, ``e.request_id = NEW.id``). ``skip``: an event id
    left out (a trigger's "before" state: the event being inserted, or the one being deleted).
    ``values``: the columns written (an earlier revision's: :data:`VALUES_0013`)."""
    src = "request r JOIN request_event e ON e.request_id = r.id" if r == "r" else "request_event e"
    skip_e = f" AND e.id <> {skip}" if skip else ""
    skip_e2 = f" AND e2.id <> {skip}" if skip else ""
    m_e, m_e2 = local_month(dialect, "e.at"), local_month(dialect, "e2.at")
    status = f"{move_sql('e')} AND e.to_status"
    last = (
        f"{status} = 'resolved' AND NOT EXISTS (SELECT 1 FROM request_event e2 WHERE e2.request_id = "
        f"e.request_id AND {move_sql('e2')} AND e2.to_status = 'resolved' AND e2.n > e.n AND e2.at >= e.at "
        f"AND {m_e2} = {m_e}{skip_e2})"
    )
    ps = f"CASE WHEN {r}.resolved_at = e.at THEN {r}.problems_solved ELSE {json_int(dialect, 'e.data', 'problems_solved')} END"
    cents = (
        f"CASE WHEN {r}.resolved_at = e.at THEN {r}.cost_saved_cents "
        f"ELSE {json_cents(dialect, 'e.data', 'cost_saved')} END"
    )
    delta = (
        f"(CASE WHEN e.to_status IN ({_OPEN}) THEN 1 ELSE 0 END) - "
        f"(CASE WHEN e.from_status IN ({_OPEN}) THEN 1 ELSE 0 END)"
    )
    moves = ", ".join(f"MAX(CASE WHEN {status} = '{s}' THEN 1 ELSE 0 END) AS {s}" for s in MOVES)
    # the last resolution of the month is the one of the highest n (reports.quality.last_resolutions): the
    # largest 2n + (on time) of the month's resolutions is 2 × that n + its "on time" (no correlated
    # lookup; no ``%``, which a driver's parameter style would take for a placeholder)
    due = f"CASE WHEN {local_date(dialect, 'e.at')} <= {r}.promised_date THEN 1 ELSE 0 END"
    last_n = f"MAX(CASE WHEN {status} = 'resolved' THEN e.n END)"
    on_time = f"COALESCE(MAX(CASE WHEN {status} = 'resolved' THEN 2 * e.n + {due} END) - 2 * {last_n}, 0)"
    followed = f"CASE WHEN MAX(CASE WHEN {status} = 'closed' THEN e.n END) > {last_n} THEN 1 ELSE 0 END"
    inner = (
        f"SELECT {r}.station_code AS st, {m_e} AS m, {date_month(dialect, f'{r}.promised_date')} AS pm, "
        f"SUM({delta}) AS open_delta, {moves}, "
        f"SUM(CASE WHEN {status} = 'closed' AND {r}.satisfaction IS NOT NULL THEN 1 ELSE 0 END) AS rated, "
        f"SUM(CASE WHEN {status} = 'closed' AND {r}.satisfaction >= 3 THEN 1 ELSE 0 END) AS satisfied, "
        f"SUM(CASE WHEN {last} THEN {ps} END) AS problems_solved, "
        f"SUM(CASE WHEN {last} THEN {cents} END) AS cost_cents, "
        f"{on_time} AS on_time, {followed} AS followed_up "
        f"FROM {src} WHERE {where} AND e.kind IN ({_KINDS}) AND NOT {r}.deleted{skip_e} "
        f"GROUP BY {r}.id, {r}.station_code, {m_e}, {r}.promised_date"
    )
    sums = ", ".join(f"{sign} * COALESCE(SUM(x.{v}), 0)" for v in values)
    cols = ", ".join((*KEY, *values))
    sets = ", ".join(f"{v} = {TABLE}.{v} + excluded.{v}" for v in values)
    return (
        f"INSERT INTO {TABLE} ({cols}) SELECT x.st, x.m, x.pm, {sums} FROM ({inner}) x "
        f"GROUP BY x.st, x.m, x.pm ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {sets}"
    )


def _changed(dialect: str) -> str:
    op = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    return " OR ".join(f"OLD.{f} {op} NEW.{f}" for f in ROW_FIELDS)


def _free(dialect: str) -> str:
    """The triggers' guard: true unless a :func:`held` write is running in this transaction."""
    if dialect == "postgresql":
        return f"COALESCE(current_setting('{HOLD_SETTING}', true), '') <> 'on'"
    return f"NOT EXISTS (SELECT 1 FROM {HOLD_TABLE})"


def trigger_sql(dialect: str, *, guard: bool = True, values: tuple[str, ...] = VALUES) -> list[str]:
    """CREATE statements of the triggers that keep the rollup right (``drop_sql`` undoes them).
    ``guard=False``: without the hold guard (revision 0013's triggers, for a downgrade); ``values``: the
    columns they keep (an earlier revision's: :data:`VALUES_0013`)."""

    def c(r: str, where: str, skip: str | None = None, sign: int = 1) -> str:
        return contribution_sql(dialect, r, where, skip=skip, sign=sign, values=values)

    ev_new = ("r", "r.id = NEW.request_id")
    ev_old = ("r", "r.id = OLD.request_id")
    kinds = f"kind IN ({_KINDS})"
    steps = {  # name -> (table, timing, event, condition, statements)
        "report_month_event_ins": (
            "request_event",
            "AFTER",
            "INSERT",
            f"NEW.{kinds}",
            [c(*ev_new, skip="NEW.id", sign=-1), c(*ev_new)],
        ),
        "report_month_event_del": (
            "request_event",
            "BEFORE",
            "DELETE",
            f"OLD.{kinds}",
            [c(*ev_old, sign=-1), c(*ev_old, skip="OLD.id")],
        ),
        "report_month_request_ins": ("request", "AFTER", "INSERT", None, [c("NEW", "e.request_id = NEW.id")]),
        "report_month_request_upd": (
            "request",
            "AFTER",
            "UPDATE",
            _changed(dialect),
            [c("OLD", "e.request_id = OLD.id", sign=-1), c("NEW", "e.request_id = NEW.id")],
        ),
        "report_month_request_del": (
            "request",
            "AFTER",
            "DELETE",
            None,
            [c("OLD", "e.request_id = OLD.id", sign=-1)],
        ),
    }
    out: list[str] = []
    for name, (table, timing, event, cond0, stmts) in steps.items():
        conds = [f"({x})" for x in (cond0, _free(dialect) if guard else None) if x]
        out += _trigger(dialect, name, table, timing, event, " AND ".join(conds) or "true", stmts)
    return out


def _trigger(
    dialect: str, name: str, table: str, timing: str, event: str, cond: str, stmts: list[str]
) -> list[str]:
    """The CREATE statements of one row trigger running ``stmts`` when ``cond`` holds (PostgreSQL: a
    function and its trigger; SQLite: the trigger)."""
    if dialect == "postgresql":
        ret = "OLD" if timing == "BEFORE" else "NULL"
        body = "; ".join(stmts)
        return [
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN {body}; RETURN {ret}; END; "
            "$$ LANGUAGE plpgsql",
            f"CREATE TRIGGER {name} {timing} {event} ON {table} FOR EACH ROW WHEN ({cond}) EXECUTE FUNCTION {name}()",
        ]
    body = "".join(f"{s}; " for s in stmts)
    return [f"CREATE TRIGGER {name} {timing} {event} ON {table} FOR EACH ROW WHEN {cond} BEGIN {body}END"]


def drop_sql(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            s
            for name, table in zip(TRIGGERS, ("request_event",) * 2 + ("request",) * 3, strict=True)
            for s in (f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()")
        ]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]


def rebuild_sql(dialect: str, values: tuple[str, ...] = VALUES) -> list[str]:
    """Empty the rollup and compute it again from every request and event (``values``: the columns, an
    earlier revision's for its migration)."""
    return [f"DELETE FROM {TABLE}", contribution_sql(dialect, "r", "1 = 1", values=values)]


# ---- the first request of each (enterprise row, station): ``request_first`` (revision 0025) --------------
# The report's "first request ever of the enterprises served this month" (reports.queries'
# first_requests_query) read every request of each served enterprise at a large hub (1.57 M index entries
# for 75 k enterprise rows at 10 M requests); this table keeps the answer, one row per (enterprise row,
# station): the earliest ``received_at`` of its requests that are not deleted. Like ``report_month`` it is
# a function of the rows as they are, kept by triggers on ``request`` (not held by :func:`held`: a new
# request is one upsert; a change of one of FIRST_FIELDS, rare, recomputes the old and the new key from
# ``ix_request_enterprise_first``), rebuilt by :func:`rebuild` (``report rebuild``, ``hub report rebuild``).
FIRST_TABLE = "request_first"
FIRST_KEY = ("enterprise_id", "station_code")
FIRST_FIELDS = ("enterprise_id", "station_code", "received_at", "deleted")  # what the first request reads
FIRST_TRIGGERS = ("request_first_ins", "request_first_upd", "request_first_del")


def first_of_sql(where: str, rows: str = "request") -> str:
    """THE first request of each (enterprise row, station) of the requests ``where`` selects (alias ``r``)
    from ``rows`` (the request table, or a statement's new requests: :data:`NEW_ROWS`), as rows of
    :data:`FIRST_TABLE`: the one definition the rebuild and the triggers run, and the one the report
    computes itself with ``exact=True``."""
    return (
        f"SELECT r.enterprise_id, r.station_code, MIN(r.received_at) AS first_at FROM {rows} r "
        f"WHERE {where} AND r.enterprise_id IS NOT NULL AND NOT r.deleted GROUP BY r.enterprise_id, r.station_code"
    )


def _first_recompute(row: str) -> list[str]:
    """Compute again the row of the key of ``row`` (a trigger's ``NEW`` / ``OLD``)."""
    key = " AND ".join(f"{k} = {row}.{k}" for k in FIRST_KEY)
    rkey = " AND ".join(f"r.{k} = {row}.{k}" for k in FIRST_KEY)
    return [
        f"DELETE FROM {FIRST_TABLE} WHERE {key}",
        f"INSERT INTO {FIRST_TABLE} (enterprise_id, station_code, first_at) {first_of_sql(rkey)}",
    ]


#: PostgreSQL (revision 0029): the transition table of the statement-level insert triggers
NEW_ROWS = "new_rows"


def _first_upsert(dialect: str, source: str) -> str:
    """Make each (enterprise row, station) key of the rows ``source`` gives (``enterprise_id``,
    ``station_code``, ``received_at``: one row per key) at most the time it names: THE upsert of a new
    request, for one row (a row trigger's ``NEW``) or a statement's new rows at once."""
    least = "LEAST" if dialect == "postgresql" else "MIN"
    return (
        f"INSERT INTO {FIRST_TABLE} (enterprise_id, station_code, first_at) {source} "
        f"ON CONFLICT ({', '.join(FIRST_KEY)}) "
        f"DO UPDATE SET first_at = {least}({FIRST_TABLE}.first_at, excluded.first_at)"
    )


def _statement_trigger(name: str, table: str, stmts: list[str]) -> list[str]:
    """PostgreSQL: the CREATE statements of one AFTER INSERT trigger run once per statement over the
    statement's new rows (the transition table :data:`NEW_ROWS`; COPY fills it too), instead of once
    per row: the same rows written by one set-based statement (revision 0029)."""
    body = "; ".join(stmts)
    return [
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN {body}; RETURN NULL; END; "
        "$$ LANGUAGE plpgsql",
        f"CREATE TRIGGER {name} AFTER INSERT ON {table} REFERENCING NEW TABLE AS {NEW_ROWS} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
    ]


def first_trigger_sql(dialect: str, *, per_statement: bool = True) -> list[str]:
    """CREATE statements of the triggers that keep :data:`FIRST_TABLE` right (``first_drop_sql`` undoes
    them). A new request can only make its key's first request earlier (one upsert); a change of a field
    the first request reads, or a removed row, computes the key again (the old key and the new).
    PostgreSQL, ``per_statement`` (revision 0029): the new requests of one statement (a push's COPY) in
    one upsert of their keys' earliest times, :func:`first_of_sql` over the statement's new rows;
    ``per_statement=False``: revision 0025's row trigger (SQLite keeps it: the same rows)."""
    op = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    upsert = _first_upsert(dialect, "VALUES (NEW.enterprise_id, NEW.station_code, NEW.received_at)")
    steps = {  # name -> (event, condition, statements)
        "request_first_ins": ("INSERT", "NEW.enterprise_id IS NOT NULL AND NOT NEW.deleted", [upsert]),
        "request_first_upd": (
            "UPDATE",
            " OR ".join(f"OLD.{f} {op} NEW.{f}" for f in FIRST_FIELDS),
            _first_recompute("OLD") + _first_recompute("NEW"),
        ),
        "request_first_del": ("DELETE", "OLD.enterprise_id IS NOT NULL", _first_recompute("OLD")),
    }
    out: list[str] = []
    for name, (event, cond, stmts) in steps.items():
        if name == "request_first_ins" and dialect == "postgresql" and per_statement:
            new = _first_upsert(dialect, first_of_sql("true", NEW_ROWS))
            out += _statement_trigger(name, "request", [new])
            continue
        out += _trigger(dialect, name, "request", "AFTER", event, cond, stmts)
    return out


def first_drop_sql(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            s
            for name in FIRST_TRIGGERS
            for s in (f"DROP TRIGGER IF EXISTS {name} ON request", f"DROP FUNCTION IF EXISTS {name}()")
        ]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in FIRST_TRIGGERS]


def first_rebuild_sql() -> list[str]:
    """Empty :data:`FIRST_TABLE` and compute it again from every request."""
    return [
        f"DELETE FROM {FIRST_TABLE}",
        f"INSERT INTO {FIRST_TABLE} (enterprise_id, station_code, first_at) {first_of_sql('1 = 1')}",
    ]


def _dialect(conn: Any) -> str:
    d = getattr(conn, "dialect", None)
    return str(d.name) if d is not None else "sqlite"


def _run(conn: Any, statements: list[str]) -> None:
    for sql in statements:
        if hasattr(conn, "exec_driver_sql"):
            conn.exec_driver_sql(sql)
        else:
            conn.execute(sql)


# ---------------------------------------------------------------------------------------------------
# The low ratings (revision 0024): every closed request rated 1 or 2 (``core.rectify``), not deleted,
# one row each, with what the report's open-rectification list shows and its first rectify record.
# The list spans the history (every low rating up to the month's end not rectified by then): read from
# this small table (no lookup of the request, its enterprise and its rectify records per row). Kept by
# triggers like ``report_month`` (every writer keeps it right), rebuilt with it.

LOW_TABLE = "report_low_rating"
LOW_COLUMNS = (
    "request_id",
    "station_code",
    "number",
    "enterprise_id",
    "ent_name",
    "satisfaction",
    "closed_at",
    "fixed",
)
# the request fields a row reads: a change of one of them makes the row again
LOW_ROW_FIELDS = (
    "id",
    "station_code",
    "number",
    "enterprise_id",
    "satisfaction",
    "closed_at",
    "status",
    "deleted",
)
LOW_TRIGGERS = (
    ("report_low_rating_request_ins", "request"),
    ("report_low_rating_request_upd", "request"),
    ("report_low_rating_request_del", "request"),
    ("report_low_rating_event_ins", "request_event"),
    ("report_low_rating_event_upd", "request_event"),
    ("report_low_rating_event_del", "request_event"),
    ("report_low_rating_enterprise_ins", "enterprise"),
    ("report_low_rating_enterprise_upd", "enterprise"),
    ("report_low_rating_enterprise_del", "enterprise"),
)


def is_low_sql(r: str) -> str:
    """THE condition of a row of :data:`LOW_TABLE` on request row ``r`` (the report's exact path reads the
    same rows from ``request``: ``reports.quality.low_ratings_query``)."""
    from qi_station.core.rectify import LOW_SATISFACTION

    return f"{r}.status = 'closed' AND {r}.satisfaction <= {LOW_SATISFACTION} AND NOT {r}.deleted"


def _first_rectify(rid: str) -> str:
    from qi_station.core.rectify import RECTIFY_KIND

    return f"(SELECT MIN(x.at) FROM request_event x WHERE x.request_id = {rid} AND x.kind = '{RECTIFY_KIND}')"


def low_row_sql(where: str) -> str:
    """(Re)write the rows of the requests ``where`` selects (on ``r``): removed, then put back when low."""
    return (
        f"INSERT INTO {LOW_TABLE} ({', '.join(LOW_COLUMNS)}) SELECT r.id, r.station_code, r.number, "
        f"r.enterprise_id, ent.name, r.satisfaction, r.closed_at, {_first_rectify('r.id')} FROM request r "
        f"LEFT JOIN enterprise ent ON ent.id = r.enterprise_id WHERE {where} AND {is_low_sql('r')}"
    )


def _low_refresh(rid: str) -> list[str]:
    return [f"DELETE FROM {LOW_TABLE} WHERE request_id = {rid}", low_row_sql(f"r.id = {rid}")]


def _low_fixed(rid: str) -> str:
    return f"UPDATE {LOW_TABLE} SET fixed = {_first_rectify(rid)} WHERE request_id = {rid}"


def _low_name(eid: str) -> str:
    return (
        f"UPDATE {LOW_TABLE} SET ent_name = (SELECT ent.name FROM enterprise ent WHERE ent.id = {eid}) "
        f"WHERE enterprise_id = {eid}"
    )


def low_trigger_sql(dialect: str, *, per_statement: bool = True) -> list[str]:
    """CREATE statements of the triggers that keep :data:`LOW_TABLE` right (``low_drop_sql`` undoes them).
    PostgreSQL, ``per_statement`` (revision 0029): the names of a statement's new enterprises (a push's
    COPY) written into their low ratings by one UPDATE; ``per_statement=False``: revision 0024's row
    trigger (SQLite keeps it: the same rows)."""
    from qi_station.core.rectify import RECTIFY_KIND

    op = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    rect = f"kind = '{RECTIFY_KIND}'"
    steps = {  # name -> (timing, event, condition, statements); every one AFTER the row is written
        "report_low_rating_request_ins": ("INSERT", is_low_sql("NEW"), _low_refresh("NEW.id")),
        "report_low_rating_request_upd": (
            "UPDATE",
            " OR ".join(f"OLD.{f} {op} NEW.{f}" for f in LOW_ROW_FIELDS),
            [f"DELETE FROM {LOW_TABLE} WHERE request_id = OLD.id", *_low_refresh("NEW.id")],
        ),
        "report_low_rating_request_del": (
            "DELETE",
            None,
            [f"DELETE FROM {LOW_TABLE} WHERE request_id = OLD.id"],
        ),
        "report_low_rating_event_ins": ("INSERT", f"NEW.{rect}", [_low_fixed("NEW.request_id")]),
        "report_low_rating_event_upd": (
            "UPDATE",
            f"OLD.{rect} OR NEW.{rect}",
            [_low_fixed("OLD.request_id"), _low_fixed("NEW.request_id")],
        ),
        "report_low_rating_event_del": ("DELETE", f"OLD.{rect}", [_low_fixed("OLD.request_id")]),
        "report_low_rating_enterprise_ins": ("INSERT", None, [_low_name("NEW.id")]),
        "report_low_rating_enterprise_upd": (
            "UPDATE",
            f"OLD.id {op} NEW.id OR OLD.name {op} NEW.name",
            [_low_name("OLD.id"), _low_name("NEW.id")],
        ),
        "report_low_rating_enterprise_del": ("DELETE", None, [_low_name("OLD.id")]),
    }
    tables = dict(LOW_TRIGGERS)
    out: list[str] = []
    for name, (event, cond, stmts) in steps.items():
        table = tables[name]
        if name == "report_low_rating_enterprise_ins" and dialect == "postgresql" and per_statement:
            # each new enterprise's own row: its name as the row trigger's look-up by id finds it
            name_of = (
                f"UPDATE {LOW_TABLE} SET ent_name = n.name FROM {NEW_ROWS} n "
                f"WHERE {LOW_TABLE}.enterprise_id = n.id"
            )
            out += _statement_trigger(name, table, [name_of])
            continue
        if dialect == "postgresql":
            body = "; ".join(stmts)
            out.append(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN {body}; RETURN NULL; END; "
                "$$ LANGUAGE plpgsql"
            )
            when = f" WHEN ({cond})" if cond else ""
            out.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} EXECUTE FUNCTION {name}()"
            )
        else:
            when = f" WHEN {cond}" if cond else ""
            body = "".join(f"{s}; " for s in stmts)
            out.append(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} BEGIN {body}END")
    return out


def low_drop_sql(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            s
            for name, table in LOW_TRIGGERS
            for s in (f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()")
        ]
    return [f"DROP TRIGGER IF EXISTS {name}" for name, _ in LOW_TRIGGERS]


def low_rebuild_sql() -> list[str]:
    """Empty :data:`LOW_TABLE` and write it again from every request (the same SQL as its triggers)."""
    return [f"DELETE FROM {LOW_TABLE}", low_row_sql("1 = 1")]


def has_table(conn: Any, table: str) -> bool:
    """Whether ``table`` exists yet (a migration before the one that made it calls these helpers too)."""
    sql = (
        f"SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '{table}' "
        "AND table_schema = current_schema()"
        if _dialect(conn) == "postgresql"
        else f"SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
    )
    if hasattr(conn, "exec_driver_sql"):
        return bool(conn.exec_driver_sql(sql).scalar())
    return bool(conn.execute(sql).fetchone()[0])


def drop_triggers(conn: Any) -> None:
    """Lift the triggers for a bulk load (call :func:`rebuild` and :func:`create_triggers` after it)."""
    d = _dialect(conn)
    _run(
        conn,
        drop_sql(d)
        + (low_drop_sql(d) if has_table(conn, LOW_TABLE) else [])
        + (first_drop_sql(d) if has_table(conn, FIRST_TABLE) else []),
    )


def create_triggers(conn: Any) -> None:
    d = _dialect(conn)
    low = low_drop_sql(d) + low_trigger_sql(d) if has_table(conn, LOW_TABLE) else []
    first = first_drop_sql(d) + first_trigger_sql(d) if has_table(conn, FIRST_TABLE) else []
    _run(conn, drop_sql(d) + trigger_sql(d) + low + first)


def rebuild(conn: Any) -> int:
    """Recompute the rollups (``report_month`` and, from revisions 0024 and 0025, :data:`LOW_TABLE` and
    :data:`FIRST_TABLE`) from the ledger in the caller's transaction; returns the month rollup's row count.
    ``conn``: a ``sqlite3`` or SQLAlchemy connection."""
    _run(
        conn,
        rebuild_sql(_dialect(conn))
        + (low_rebuild_sql() if has_table(conn, LOW_TABLE) else [])
        + (first_rebuild_sql() if has_table(conn, FIRST_TABLE) else []),
    )
    if hasattr(conn, "exec_driver_sql"):
        return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {TABLE}").scalar() or 0)
    return int(conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0])


def _ids_where(dialect: str) -> str:
    """The requests of a :func:`held` write: one bound parameter (PostgreSQL: a text array; SQLite: a
    JSON array, ``?``)."""
    if dialect == "postgresql":
        return "r.id = ANY(%(ids)s)"
    return "r.id IN (SELECT value FROM json_each(?))"


def batch_sql(dialect: str, sign: int) -> str:
    """Take out (``sign=-1``) or put back (``+1``) the contributions of a :func:`held` write's requests:
    the same :func:`contribution_sql` the triggers and :func:`rebuild` run, over a set of requests."""
    return contribution_sql(dialect, "r", _ids_where(dialect), sign=sign)


def _run_ids(conn: Any, dialect: str, sql: str, ids: list[str]) -> None:
    import json

    if dialect == "postgresql":
        params: Any = {"ids": ids}
    else:
        params = (json.dumps(ids),)
    if hasattr(conn, "exec_driver_sql"):
        conn.exec_driver_sql(sql, params)
    else:
        conn.execute(sql, params)


def _hold(conn: Any, dialect: str, on: bool) -> None:
    if dialect == "postgresql":
        _run(conn, [f"SELECT set_config('{HOLD_SETTING}', '{'on' if on else ''}', true)"])
    else:
        _run(conn, [f"INSERT INTO {HOLD_TABLE} (id) VALUES (1)" if on else f"DELETE FROM {HOLD_TABLE}"])


@contextmanager
def held(conn: Any, request_ids: Iterable[str]) -> Iterator[None]:
    """Write many ledger rows in ``conn``'s transaction with the per-row triggers held: the contributions
    of ``request_ids`` (every request whose row or ``created`` / ``status`` / ``referral`` events the
    block writes) are taken out before it and put back once after it, set-based. The rollup ends as the
    triggers would leave it. An exception out of the block: the hold is lifted and the contributions put
    back from what the transaction holds then, where the connection still takes statements (SQLite), so
    even a caller that commits after an error leaves the rollup right and the triggers working; a
    failed PostgreSQL transaction refuses them and can only roll back (the hold goes with it)."""
    d = _dialect(conn)
    ids = sorted(set(request_ids))
    if not ids:
        yield
        return
    _run_ids(conn, d, batch_sql(d, -1), ids)
    _hold(conn, d, True)
    try:
        yield
    except BaseException:
        try:
            _hold(conn, d, False)
            _run_ids(conn, d, batch_sql(d, 1), ids)
        except Exception:  # noqa: S110 - the transaction failed: it rolls back, the hold with it
            pass
        raise
    _hold(conn, d, False)
    _run_ids(conn, d, batch_sql(d, 1), ids)
