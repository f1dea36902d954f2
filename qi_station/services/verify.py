"""The ledger check (``qi-station ledger verify``; the hub's ``hub verify`` uses :func:`check_request`).

For every request: its hash chain verifies (:func:`qi_station.core.chain.chain_break`), its row equals
the state folded from its events (:func:`qi_station.core.chain.fold_rows`: status, outcome,
follow-up and hub fields) and its ``s_rev`` counts the events that changed it (a deleted last change
shows). For the station as a whole: the running head over all events (kv ``event_head``) equals the
one recomputed from the events (a deleted or re-hashed event anywhere shows), the head the hub
acknowledged is still a prefix of it, and every ledger counter (kv ``ledger_seq:…``) is at least the
highest number used. What a person with the PC can still hide is written in docs/sync.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from qi_station.core.chain import (
    CREATED_FIELDS,
    EVENT_ROW,
    FOLDED,
    GENESIS,
    chain_break,
    created_says,
    fold_head,
    fold_rows,
    request_fee,
    wan_to_cents,
)
from qi_station.core.clock import env_now, local_date, to_db
from qi_station.core.errors import zh_quoted
from qi_station.core.ids import number_month, number_sql
from qi_station.db import kvkeys
from qi_station.db.write import LEDGER_SEQ, parse_head

#: the event columns a check reads, in this order (``core.chain.EVENT_ROW``)
EVENT_READ = EVENT_ROW
#: the request columns a check reads, in this order: the folded ones, then those its ``created`` event
#: fixes (``core.chain.CREATED_FIELDS``)
ROW_READ = ("id", "number", "s_rev", *FOLDED, *CREATED_FIELDS)
_FOLD_END = 3 + len(FOLDED)
_STATUS_ONLY = tuple(
    i
    for i, f in enumerate(FOLDED)
    # resolved_at: a hub reopen clears it at the hub before the station's event says so (move_clears)
    if f in ("status", "resolved_at", "hub_expert_id", "hub_note", "hub_priority", "h_rev")
)
_H_REV = FOLDED.index("h_rev")


def comparable(v: Any) -> Any:
    """Comparable form: datetimes as the DB text, dates ISO, bools 0/1."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, datetime):
        return to_db(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


def check_request(row: Sequence[Any], events: Sequence[Sequence[Any]], *, hub: bool = False) -> list[str]:
    """What is wrong with one request (empty: intact). ``row`` is a tuple of :data:`ROW_READ`,
    ``events`` its events as tuples of :data:`EVENT_READ` ordered by n, values as stored (at the hub,
    :func:`comparable` them first). ``hub``: hub decisions not yet echoed by the station's events (the
    row's ``h_rev`` above the folded one) are not compared (status and hub fields)."""
    if not events:
        return ["no events / 无台账记录"]
    bad = chain_break(events)
    if bad is not None:
        return [f"hash chain broken at event {bad} / 哈希链在第 {bad} 条断开"]
    fixes = [k for k, e in enumerate(events) if e[4] == "correct"]
    if fixes:
        bad_fix = _bad_corrections(events, fixes)
        if bad_fix:
            return bad_fix
    out: list[str] = []
    for f, have, got in created_differences(row, events):
        if f == "number":
            month = "".join(c for c in str(got) if c.isdigit())  # the receipt month (created_differences)
            out.append(f"number {have!r} is not {got} / 编号 {zh_quoted(have)} 不是登记月份 {month} 的编号")
        else:
            out.append(_differs(f, have, got))
    for f, have, got in fold_differences(row, events, hub=hub):
        if f == "s_rev":
            out.append(
                f"s_rev {have} but {got} changing events (an event is missing) / "
                f"变更次数 s_rev 为 {have}，台账记录有 {got} 次变更（缺少记录）"
            )
        else:
            out.append(_differs(f, have, got))
    return out


def _differs(field: str, have: Any, got: Any) -> str:
    """A column that is not what the events say, both ways worded (the field and both values in each)."""
    return f"{field} is {have!r} but its events say {got!r} / 字段 {field} 为 {zh_quoted(have)}，台账记录为 {zh_quoted(got)}"


def fold_differences(
    row: Sequence[Any], events: Sequence[Sequence[Any]], *, hub: bool = False
) -> list[tuple[str, Any, Any]]:
    """THE comparison of a request row with its events (``row``: :data:`ROW_READ`; ``events``:
    :data:`EVENT_READ` ordered by n, values :func:`comparable`): each column whose value is not what
    :func:`~qi_station.core.chain.fold_rows` of the events gives, as (column, the row's value, the
    events' value); ``s_rev`` first when it is not the number of changing events. ``hub``: as in
    :func:`check_request`. Used by :func:`check_request` and by the hub's push (a pushed row that
    contradicts its own events is refused: ``sync.hub.rules.check_request_fold``)."""
    got, changes = fold_rows(events)
    have = list(row[3:_FOLD_END])
    have[_H_REV] = have[_H_REV] or 0
    if have == got and row[2] == changes:
        return []
    out: list[tuple[str, Any, Any]] = []
    if int(row[2] or 0) != changes:
        out.append(("s_rev", row[2], changes))
    skip = _STATUS_ONLY if hub and int(have[_H_REV] or 0) != int(got[_H_REV] or 0) else ()
    for i, f in enumerate(FOLDED):
        if i not in skip and have[i] != got[i]:
            out.append((f, have[i], got[i]))
    return out


def _said_form(field: str, value: Any) -> Any:
    """A value of a :data:`~qi_station.core.chain.CREATED_FIELDS` column in one form, whether the row
    or the event holds it (a time as DB text, elements a list, a date ISO text)."""
    if value is None:
        return None
    if field == "received_at":
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return value
        return to_db(value) if isinstance(value, datetime) else value
    if field == "elements" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if field == "promised_date":
        return value.isoformat() if isinstance(value, date) else str(value)[:10]
    return value


def created_differences(row: Sequence[Any], events: Sequence[Sequence[Any]]) -> list[tuple[str, Any, Any]]:
    """THE comparison of a request row (:data:`ROW_READ`) with what its ``created`` event (``events[0]``,
    n 1) fixed (``core.chain.created_says``: received_at, title, elements, channel, urgency, promised
    date: no event changes them afterwards), then of its number's month with its receipt month
    (``core.ids.number_month``): each (column, the row's value, what the events say). Used by
    :func:`check_request` (``ledger verify``, ``hub verify``) and by the hub's push
    (``sync.hub.rules.check_request_fold``)."""
    out: list[tuple[str, Any, Any]] = []
    if events and events[0][1] == 1:
        said = created_says(events[0])
        for i, f in enumerate(CREATED_FIELDS):
            if f in said and len(row) > _FOLD_END + i:
                have, got = row[_FOLD_END + i], said[f]
                if have != got and _said_form(f, have) != _said_form(f, got):  # equal as held: most rows
                    out.append((f, have, got))
    received = row[_FOLD_END] if len(row) > _FOLD_END else None
    month = number_month(str(row[1])) if row[1] is not None else None
    if month is not None and received is not None:
        try:
            day = local_date(received if isinstance(received, datetime) else datetime.fromisoformat(received))
        except (TypeError, ValueError):
            return out
        if month != f"{day.year}{day.month:02d}":
            out.append(
                ("number", row[1], f"a number of {day.year}{day.month:02d}, the month it was received")
            )
    return out


def _bad_corrections(events: Sequence[Sequence[Any]], at: Sequence[int]) -> list[str]:
    """The ``correct`` events (at positions ``at`` of ``events``) that break the core's correction rules
    (:func:`core.validate.check_correct_event`) or whose old value is not what the events before them
    say (:func:`core.chain.fold_rows` of those events)."""
    from qi_station.core.domain import CORRECTABLE
    from qi_station.core.errors import ValidationError
    from qi_station.core.validate import check_correct_event, money_text

    out = []
    for k in at:
        e = events[k]
        try:
            data = json.loads(e[8]) if isinstance(e[8], str) else e[8]
            check_correct_event(e[5], e[6], e[7], data)
            col = CORRECTABLE[data["field"]]
            old = data.get("old")
            if col is None:  # the fee: no column, read from the events before (core.chain.request_fee)
                was = money_text(request_fee(dict(zip(EVENT_ROW, r, strict=False)) for r in events[:k]))
            else:
                was = fold_rows(events[:k])[0][FOLDED.index(col)]
                old = wan_to_cents(old) if col == "cost_saved_cents" else old
            if old != was:
                raise ValidationError("old", "correct_old", "the old value is not the recorded one")
        except (ValueError, ArithmeticError, ValidationError) as x:
            rule = getattr(x, "rule", "json")
            out.append(
                f"correction at event {e[1]} breaks rule {rule!r} / 第 {e[1]} 条更正不符合规则 {zh_quoted(rule)}"
            )
    return out


def check_requests(
    rows: Iterator[Sequence[Any]], events: Iterator[Sequence[Any]]
) -> tuple[int, list[dict[str, Any]]]:
    """(requests checked, problems) over two streams of tuples (:data:`ROW_READ`, :data:`EVENT_READ`)
    both ordered by request id."""
    problems: list[dict[str, Any]] = []
    n = 0
    orphan = ["events of a missing request / 孤立的台账记录"]
    groups = groupby(events, key=itemgetter(0))  # (request id, its events)
    g = next(groups, None)
    for row in rows:
        rid = row[0]
        while g is not None and g[0] < rid:  # events of no request
            problems.append({"number": None, "id": g[0], "problems": orphan})
            g = next(groups, None)
        if g is not None and g[0] == rid:
            mine = list(g[1])
            g = next(groups, None)
        else:
            mine = []
        n += 1
        got = check_request(row, mine)
        if got:
            problems.append({"number": row[1], "id": rid, "problems": got})
    while g is not None:
        problems.append({"number": None, "id": g[0], "problems": orphan})
        g = next(groups, None)
    return n, problems


def _kv(conn: sqlite3.Connection, k: str) -> str | None:
    r = conn.execute("SELECT v FROM kv WHERE k = ?", (k,)).fetchone()
    return None if r is None else str(r[0])


def _fold_from(
    conn: sqlite3.Connection, rowid: int, n: int, head: str, n_ack: int
) -> tuple[int, str, str | None, int, str | None]:
    """Fold the running head from (``n`` events, ``head``) over the events after ``rowid`` (insertion
    order): (events, head, the head after the first ``n_ack`` events when reached here, last rowid, its
    hash)."""
    at_ack = head if n_ack == n else None
    last_rowid, last_hash = rowid, None
    cur = conn.execute("SELECT rowid, hash FROM request_event WHERE rowid > ? ORDER BY rowid", (rowid,))
    while True:
        rows = cur.fetchmany(20_000)
        if not rows:
            break
        hashes = [r[1] for r in rows]
        if at_ack is None and n < n_ack <= n + len(hashes):
            k = n_ack - n
            at_ack = fold_head(head, hashes[:k])
            head = fold_head(at_ack, hashes[k:])
        else:
            head = fold_head(head, hashes)
        n += len(hashes)
        last_rowid, last_hash = rows[-1]
    return n, head, at_ack, last_rowid, last_hash


def _head_problems(
    conn: sqlite3.Connection, mark: Mapping[str, Any] | None = None
) -> tuple[int, list[str], dict[str, Any]]:
    """The running head recomputed over every event (insertion order; with ``mark``, a watermark of
    :func:`_valid_mark`, folded on from its head over the events after it) against kv ``event_head`` and
    the head the hub acknowledged (kv ``acked_head``): (events, problems, the new watermark's head part)."""
    n_kv, head_kv = parse_head(_kv(conn, kvkeys.EVENT_HEAD))
    acked = _kv(conn, kvkeys.ACKED_HEAD)
    n_ack, head_ack = parse_head(acked)
    start = (0, 0, GENESIS) if mark is None else (int(mark["rowid"]), int(mark["n"]), str(mark["head"]))
    n, head, at_ack, rowid, last = _fold_from(conn, *start, n_ack)
    if mark is not None and n_ack <= int(mark["n"]):
        at_ack = head_ack  # unchanged since the watermark (_valid_mark), checked then
    out: list[str] = []
    if (n, head) != (n_kv, head_kv):
        out.append(
            f"the running head over {n} events differs from the one recorded over {n_kv} events "
            "(an event was deleted, added or rewritten outside the ledger) / "
            f"按 {n} 条记录重算的台账总哈希与记录的（{n_kv} 条）不符（有记录在台账之外被删除、添加或改写）"
        )
    if n_ack and at_ack != head_ack:
        out.append(
            f"the first {n_ack} events differ from the history the hub acknowledged / "
            f"已被中心确认的前 {n_ack} 条记录被改写"
        )
    if mark is not None and last is None:
        last = mark.get("hash")
    return n, out, {"rowid": rowid, "hash": last, "n": n, "head": head, "acked": acked}


def _counter_max(conn: sqlite3.Connection, ids: Sequence[str] | None = None) -> dict[str, int]:
    """The highest number used per ledger prefix by this station's own requests (``ids``: only those)."""
    pre, seq = number_sql("number", "station_code")
    source, params = "request", tuple[str, ...]()
    if ids is not None:  # driven by the ids (CROSS JOIN keeps that order): never a scan of every request
        source = "json_each(?) AS j CROSS JOIN request ON request.id = j.value"
        params = (json.dumps(list(ids)),)
    return {
        str(prefix): int(mx)
        for prefix, mx in conn.execute(
            f"SELECT {pre}, max({seq}) FROM {source} "
            "WHERE station_code = (SELECT code FROM station WHERE is_self) "
            "AND substr(number, 1, length(station_code) + 1) = station_code || '-' GROUP BY 1",
            params,
        )
        if prefix and mx
    }


def _counter_problems(conn: sqlite3.Connection, used: Mapping[str, int] | None = None) -> list[str]:
    """Every ledger counter (kv ``ledger_seq:…``) against the highest number used (``used``:
    :func:`_counter_max`, read here when None)."""
    kv = {
        str(k).removeprefix(LEDGER_SEQ): int(v)
        for k, v in conn.execute("SELECT k, v FROM kv WHERE k LIKE ?", (LEDGER_SEQ + "%",))
    }
    out = []
    for prefix, mx in sorted((_counter_max(conn) if used is None else used).items()):
        if kv.get(prefix, 0) < mx:
            out.append(
                f"ledger counter {prefix} is {kv.get(prefix, 0)} but number {mx} is used / "
                f"台账编号计数器 {prefix} 为 {kv.get(prefix, 0)}，落后于已使用的编号 {mx}"
            )
    return out


#: above this many events the per-request checks run in worker processes (one per core)
PARALLEL_EVENTS = 300_000


def _range_sql(lo: str | None, hi: str | None, col: str) -> tuple[str, tuple[str, ...]]:
    conds, params = [], []
    if lo is not None:
        conds.append(f"{col} >= ?")
        params.append(lo)
    if hi is not None:
        conds.append(f"{col} < ?")
        params.append(hi)
    return (" WHERE " + " AND ".join(conds)) if conds else "", tuple(params)


def _check_range(
    conn: sqlite3.Connection, lo: str | None = None, hi: str | None = None
) -> tuple[int, list[dict[str, Any]], int]:
    """The per-request checks of the requests with ``lo <= id < hi`` (and of events in that range
    that belong to no request), read in one transaction; with the highest event rowid it saw."""
    rw, rp = _range_sql(lo, hi, "id")
    ew, ep = _range_sql(lo, hi, "request_id")
    conn.execute("BEGIN")
    try:
        rows = conn.execute(f"SELECT {', '.join(ROW_READ)} FROM request{rw} ORDER BY id", rp)
        events = conn.execute(
            f"SELECT {', '.join(EVENT_READ)} FROM request_event{ew} ORDER BY request_id, n", ep
        )
        n, problems = check_requests(iter(rows), iter(events))
        top = int(conn.execute("SELECT max(rowid) FROM request_event").fetchone()[0] or 0)
        return n, problems, top
    finally:
        conn.execute("COMMIT")


def _check_file_range(db: str, lo: str | None, hi: str | None) -> tuple[int, list[dict[str, Any]], int]:
    """:func:`_check_range` in a worker process, on its own read-only connection."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    try:
        return _check_range(conn, lo, hi)
    finally:
        conn.close()


def _whole_in(
    conn: sqlite3.Connection, mark: Mapping[str, Any] | None = None, ids: Sequence[str] | None = None
) -> tuple[int, list[str], dict[str, Any]]:
    """The running head and the counters (with ``mark``: from the watermark on, the counters' highest
    numbers from the watermark's and those of requests ``ids``), in the caller's transaction: (events,
    problems, the new watermark but its ``full_at``)."""
    n_ev, ledger, state = _head_problems(conn, mark)
    if mark is None:
        used = _counter_max(conn)
    else:
        used = {str(k): int(v) for k, v in dict(mark["counters"]).items()}
        for k, v in _counter_max(conn, ids).items():
            used[k] = max(used.get(k, 0), v)
    state["counters"] = used
    state["rows"] = int(conn.execute("SELECT max(rowid) FROM request").fetchone()[0] or 0)
    return n_ev, ledger + _counter_problems(conn, used), state


def _whole(conn: sqlite3.Connection) -> tuple[int, list[str], dict[str, Any]]:
    """The running head and the counters, read in one transaction: (events, problems, watermark)."""
    conn.execute("BEGIN")
    try:
        return _whole_in(conn)
    finally:
        conn.execute("COMMIT")


#: the post-sync check (``verify_conn(incremental=True)``) is a full one when the last full check is
#: older than this many days (or there is no intact watermark): what an edit of an old row outside the
#: app can hide from the checks after a sync, it hides for at most this long (docs/sync.md)
FULL_CHECK_DAYS = 7


def _valid_mark(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The watermark (kv ``verify_mark``) the last intact check left, when it still fits the database:
    a full check within :data:`FULL_CHECK_DAYS`, its last event still there with its hash, the recorded
    running head not behind it, the hub's acknowledged head unchanged unless past it. Else None."""
    try:
        mark = json.loads(_kv(conn, kvkeys.VERIFY_MARK) or "null")
        if not isinstance(mark, dict):
            return None
        # both naive UTC (the DB's form, core.clock.to_db)
        age = (
            datetime.fromisoformat(to_db(env_now())) - datetime.fromisoformat(str(mark["full_at"]))
        ).total_seconds()
        if not 0 <= age <= FULL_CHECK_DAYS * 86_400:
            return None
        rowid, n = int(mark["rowid"]), int(mark["n"])
        got = conn.execute("SELECT hash FROM request_event WHERE rowid = ?", (rowid,)).fetchone()
        if (rowid or n) and (got is None or got[0] != mark["hash"]):
            return None
        if parse_head(_kv(conn, kvkeys.EVENT_HEAD))[0] < n:
            return None
        acked = _kv(conn, kvkeys.ACKED_HEAD)
        if parse_head(acked)[0] <= n and acked != mark["acked"]:
            return None
        dict(mark["counters"])
        str(mark["head"])
        int(mark["rows"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return mark


def _incremental(
    conn: sqlite3.Connection, touched: Sequence[str]
) -> tuple[int, list[dict[str, Any]], int, list[str], dict[str, Any]] | None:
    """The post-sync check from the watermark on, in one transaction: the chains of the requests with an
    event after it or in ``touched``, the running head folded on from it, the counters. None: no valid
    watermark (the caller checks in full)."""
    conn.execute("BEGIN")
    try:
        mark = _valid_mark(conn)
        if mark is None:
            return None
        ids = sorted(
            {
                str(r[0])
                for r in conn.execute(
                    "SELECT DISTINCT request_id FROM request_event WHERE rowid > ?", (int(mark["rowid"]),)
                )
            }
            | {  # new rows (a request with no event yet shows too)
                str(r[0])
                for r in conn.execute("SELECT id FROM request WHERE rowid > ?", (int(mark["rows"]),))
            }
            | {str(t) for t in touched}
        )
        each = json.dumps(ids)
        rows = conn.execute(
            f"SELECT {', '.join(ROW_READ)} FROM request "
            "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (each,),
        )
        events = conn.execute(
            f"SELECT {', '.join(EVENT_READ)} FROM request_event "
            "WHERE request_id IN (SELECT value FROM json_each(?)) ORDER BY request_id, n",
            (each,),
        )
        n, problems = check_requests(iter(rows), iter(events))
        n_ev, ledger, state = _whole_in(conn, mark, ids)
        return n, problems, n_ev, ledger, {**state, "full_at": mark["full_at"]}
    finally:
        conn.execute("COMMIT")


def verify_conn(
    conn: sqlite3.Connection,
    *,
    workers: int | None = None,
    incremental: bool = False,
    touched: Sequence[str] = (),
) -> dict[str, Any]:
    """Check a station database (read only). Returns ``{"ok", "requests", "events", "problems",
    "ledger", "full", "mark"}``: ``problems`` lists each bad request (number, id, what is wrong);
    ``ledger`` what is wrong with the ledger as a whole (running head, counters); ``full`` whether every
    request was checked; ``mark`` the watermark :func:`record_result` keeps when the check found the
    ledger intact (None: none can be kept). A large ledger (more than :data:`PARALLEL_EVENTS` events,
    ``workers`` None) is split by request id over one worker process per core while this process folds
    the running head; ``QI_VERIFY_WORKERS`` sets ``workers`` (1: one process).

    ``incremental`` (the check after a sync): from the last intact check's watermark on, only the
    requests with a newer event or in ``touched``, the running head over the newer events and the
    counters; in full when there is no valid watermark or the last full check is older than
    :data:`FULL_CHECK_DAYS` (:func:`_valid_mark`). ``qi-station ledger verify`` always checks in full."""
    old = conn.isolation_level
    conn.isolation_level = None  # explicit BEGIN/COMMIT: each part reads one snapshot
    try:
        inc = _incremental(conn, touched) if incremental else None
        mark: dict[str, Any] | None
        if inc is not None:
            n, problems, n_ev, ledger, mark = inc
            full = False
        else:
            n, problems, n_ev, ledger, mark = _full(conn, workers)
            full = True
    finally:
        conn.isolation_level = old
    return {
        "ok": not problems and not ledger,
        "requests": n,
        "events": n_ev,
        "problems": problems,
        "ledger": ledger,
        "full": full,
        "mark": mark,
    }


def _full(
    conn: sqlite3.Connection, workers: int | None
) -> tuple[int, list[dict[str, Any]], int, list[str], dict[str, Any] | None]:
    """Every request, the running head and the counters: (requests, problems, events, ledger problems,
    the watermark, None when an event came between the parts' snapshots)."""
    db = str(conn.execute("PRAGMA database_list").fetchone()[2] or "")
    if workers is None and os.environ.get("QI_VERIFY_WORKERS", "").isdigit():
        workers = int(os.environ["QI_VERIFY_WORKERS"])
    if workers is None:
        big = int(conn.execute("SELECT max(rowid) FROM request_event").fetchone()[0] or 0) > PARALLEL_EVENTS
        workers = min(4, os.cpu_count() or 1) if big and db else 1
    if workers <= 1:
        n, problems, seen = _check_range(conn)
        n_ev, ledger, state = _whole(conn)
    else:
        n, problems, seen, (n_ev, ledger, state) = _parallel(conn, db, workers)
    # the watermark covers only events every per-request part saw
    mark = {**state, "full_at": to_db(env_now())} if int(state["rowid"]) <= seen else None
    return n, problems, n_ev, ledger, mark


def _parallel(
    conn: sqlite3.Connection, db: str, workers: int
) -> tuple[int, list[dict[str, Any]], int, tuple[int, list[str], dict[str, Any]]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    total = int(conn.execute("SELECT count(*) FROM request").fetchone()[0])
    cuts: list[str | None] = [None]
    for i in range(1, workers):
        got = conn.execute(
            "SELECT id FROM request ORDER BY id LIMIT 1 OFFSET ?", (total * i // workers,)
        ).fetchone()
        if got is not None:
            cuts.append(str(got[0]))
    cuts.append(None)
    ctx = multiprocessing.get_context("spawn")  # never fork a process that runs threads (the TUI)
    with ProcessPoolExecutor(max_workers=len(cuts) - 1, mp_context=ctx) as ex:
        futs = [ex.submit(_check_file_range, db, cuts[i], cuts[i + 1]) for i in range(len(cuts) - 1)]
        whole = _whole(conn)
        n, problems, seen = 0, [], -1
        for f in futs:
            k, p, top = f.result()
            n += k
            problems += p
            seen = top if seen < 0 else min(seen, top)
    return n, problems, seen, whole


def verify_ledger(db: Path | str, *, record: bool = True, workers: int | None = None) -> dict[str, Any]:
    """Check the station database at ``db``; with ``record`` the outcome is kept in kv ``verify_last``
    (the dashboard shows it without checking again)."""
    conn = sqlite3.connect(Path(db), timeout=10)
    try:
        res = verify_conn(conn, workers=workers)
        if record:
            record_result(conn, res)
    finally:
        conn.close()
    return res


#: the dashboard checks a ledger of up to this many events itself, in its worker; a larger one shows the
#: last recorded check (after every sync and restore, and by ``ledger verify``): a full check of a
#: million-request ledger takes ~18 s of CPU and hundreds of MiB, too much for every start of the app
DASHBOARD_CHECK_EVENTS = PARALLEL_EVENTS


def dashboard_check(db: Path | str) -> dict[str, Any] | None:
    """What the dashboard shows: a fresh check of a small ledger, else the last recorded check (with its
    ``at``; ``"recorded": True``), or None when a large ledger was never checked."""
    conn = sqlite3.connect(Path(db), timeout=10)
    try:
        events = int(conn.execute("SELECT max(rowid) FROM request_event").fetchone()[0] or 0)
        if events <= DASHBOARD_CHECK_EVENTS:
            return record_result(conn, verify_conn(conn, workers=1))
    finally:
        conn.close()
    last = last_result(db)
    return None if last is None else {**last, "recorded": True}


def check_and_record(db: Path | str) -> dict[str, Any]:
    """The dashboard's check: run it, keep it, return the kept summary (``{"ok", "at", "requests",
    "problems"}``)."""
    conn = sqlite3.connect(Path(db), timeout=10)
    try:
        return record_result(conn, verify_conn(conn))
    finally:
        conn.close()


def record_result(conn: sqlite3.Connection, res: Mapping[str, Any]) -> dict[str, Any]:
    """Keep a check's outcome in kv ``verify_last`` (own transaction) and, when intact, its watermark in kv
    ``verify_mark`` (where the next post-sync check starts; dropped otherwise); returns the summary kept
    (``full_at``: when the last full check ran)."""
    mark = res.get("mark") if res["ok"] else None
    summary = {
        "ok": bool(res["ok"]),
        "at": to_db(env_now()),
        "requests": res["requests"],
        "problems": len(res["problems"]) + len(res["ledger"]),
        "full": bool(res.get("full", True)),
    }
    if mark is not None:
        summary["full_at"] = mark["full_at"]  # the last full check (the dashboard says when)
    set_kv = "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v"
    with conn:
        conn.execute(set_kv, (kvkeys.VERIFY_LAST, json.dumps(summary)))
        if mark is not None:
            conn.execute(set_kv, (kvkeys.VERIFY_MARK, json.dumps(mark)))
        else:  # not intact (or not all seen): the next check after a sync is a full one
            conn.execute("DELETE FROM kv WHERE k = ?", (kvkeys.VERIFY_MARK,))
    return summary


def last_result(db: Path | str) -> dict[str, Any] | None:
    """The last recorded check (``{"ok", "at", "requests", "problems"}``), or None."""
    conn = sqlite3.connect(f"file:{Path(db)}?mode=ro", uri=True)
    try:
        got = _kv(conn, kvkeys.VERIFY_LAST)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return json.loads(got) if got else None


def report_lines(res: Mapping[str, Any], pick: Callable[[str], str] | None = None) -> list[str]:
    """Plain text: one line per bad request and per ledger problem; a last line with the totals.
    ``pick``: each bilingual message (``english / 中文``) in the reader's language (the CLI passes
    ``i18n.in_lang`` in its language: ``cli/kit.verify_lines``); without it, as the check words it."""
    say = pick or str
    out = [f"{p['number'] or p['id']}: {'; '.join(map(say, p['problems']))}" for p in res["problems"]]
    lead = pick("ledger:  / 台账：") if pick else "ledger: "  # English "ledger: x", Chinese "台账：x"
    out += [f"{lead}{say(x)}" for x in res["ledger"]]
    verdict = "intact / 台账完整" if res["ok"] else "NOT INTACT / 台账异常"
    events = f", {res['events']} events" if "events" in res else ""
    out.append(f"{res['requests']} requests{events} checked: {verdict}")
    return out
