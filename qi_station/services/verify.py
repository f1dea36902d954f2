"""The ledger check (``qi-station ledger verify``; the hub's ``hub verify`` uses :func:`check_request`).

For every request: its hash chain verifies (:func:`qi_station.core.chain.verify_chain`), its row equals
the state folded from its events (:func:`qi_station.core.chain.fold_events`: status, outcome,
follow-up and hub fields) and its ``s_rev`` counts the events that changed it (a deleted last change
shows). For the station as a whole: the running head over all events (kv ``event_head``) equals the
one recomputed from the events (a deleted or re-hashed event anywhere shows), the head the hub
acknowledged is still a prefix of it, and every ledger counter (kv ``ledger_seq:…``) is at least the
highest number used. What a person with the PC can still hide is written in docs/sync.md.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from qi_station.core.chain import (
    FOLD_FIELDS,
    GENESIS,
    HUB_FOLD_FIELDS,
    fold_events,
    next_head,
    verify_chain,
)
from qi_station.core.clock import env_now, to_db
from qi_station.db import kvkeys
from qi_station.db.write import LEDGER_SEQ, parse_head

#: the event columns a check reads, in this order
EVENT_READ = (
    "request_id",
    "n",
    "at",
    "actor",
    "kind",
    "from_status",
    "to_status",
    "note",
    "data",
    "prev_hash",
    "hash",
)
#: the request columns a check reads, in this order
ROW_READ = ("id", "number", "s_rev", *FOLD_FIELDS, *HUB_FOLD_FIELDS)


def _norm(v: Any) -> Any:
    """Comparable form: datetimes as the DB text, dates ISO, bools 0/1."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, datetime):
        return to_db(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


def check_request(
    row: Mapping[str, Any], events: Sequence[Mapping[str, Any]], *, hub: bool = False
) -> list[str]:
    """What is wrong with one request (empty: intact). ``row`` has :data:`ROW_READ`; ``events`` are
    its events ordered by n (``at`` as stored text or datetime). ``hub``: at the hub, hub decisions
    not yet echoed by the station's events (row ``h_rev`` above the folded one) are not compared."""
    if not events:
        return ["no events / 无台账记录"]
    evs = [{**e, "at": _norm(e["at"])} for e in events]
    ok, bad = verify_chain(evs)
    if not ok:
        return [f"hash chain broken at event {bad} / 哈希链在第 {bad} 条断开"]
    got = fold_events(evs)
    out: list[str] = []
    if int(row.get("s_rev") or 0) != got["row_events"]:
        out.append(
            f"s_rev {row.get('s_rev')} but {got['row_events']} changing events (an event is missing) / 变更次数与记录不符"
        )
    fields: tuple[str, ...] = FOLD_FIELDS + HUB_FOLD_FIELDS
    if hub and int(row.get("h_rev") or 0) != int(got["h_rev"] or 0):
        fields = tuple(f for f in FOLD_FIELDS if f != "status")
    for f in fields:
        have, want = _norm(row.get(f)), got[f]
        if f == "h_rev":
            have, want = int(have or 0), int(want or 0)
        if have != want:
            out.append(f"{f} is {have!r} but its events say {want!r} / 字段与台账记录不符")
    return out


def _merge(
    rows: Iterator[Sequence[Any]], events: Iterator[Sequence[Any]]
) -> Iterator[tuple[dict[str, Any] | None, list[dict[str, Any]]]]:
    """Pairs (request row, its events) from two streams both ordered by request id."""
    ev = next(events, None)
    for r in rows:
        row = dict(zip(ROW_READ, r, strict=True))
        rid = row["id"]
        while ev is not None and ev[0] < rid:  # events of no request
            orphan = [dict(zip(EVENT_READ, ev, strict=True))]
            ev = next(events, None)
            while ev is not None and ev[0] == orphan[0]["request_id"]:
                ev = next(events, None)
            yield None, orphan
        mine: list[dict[str, Any]] = []
        while ev is not None and ev[0] == rid:
            mine.append(dict(zip(EVENT_READ, ev, strict=True)))
            ev = next(events, None)
        yield row, mine
    while ev is not None:
        orphan = [dict(zip(EVENT_READ, ev, strict=True))]
        ev = next(events, None)
        while ev is not None and ev[0] == orphan[0]["request_id"]:
            ev = next(events, None)
        yield None, orphan


def check_requests(
    rows: Iterator[Sequence[Any]], events: Iterator[Sequence[Any]], *, hub: bool = False
) -> tuple[int, list[dict[str, Any]]]:
    """(requests checked, problems) over two id-ordered streams (:data:`ROW_READ`, :data:`EVENT_READ`)."""
    problems: list[dict[str, Any]] = []
    n = 0
    for row, evs in _merge(rows, events):
        if row is None:
            problems.append(
                {
                    "number": None,
                    "id": evs[0]["request_id"],
                    "problems": ["events of a missing request / 孤立的台账记录"],
                }
            )
            continue
        n += 1
        got = check_request(row, evs, hub=hub)
        if got:
            problems.append({"number": row["number"], "id": row["id"], "problems": got})
    return n, problems


def _kv(conn: sqlite3.Connection, k: str) -> str | None:
    r = conn.execute("SELECT v FROM kv WHERE k = ?", (k,)).fetchone()
    return None if r is None else str(r[0])


def _head_problems(conn: sqlite3.Connection) -> tuple[int, list[str]]:
    """The running head recomputed over every event (insertion order) against kv ``event_head`` and
    the head the hub acknowledged (kv ``acked_head``)."""
    n_kv, head_kv = parse_head(_kv(conn, kvkeys.EVENT_HEAD))
    n_ack, head_ack = parse_head(_kv(conn, kvkeys.ACKED_HEAD))
    head, n, at_ack = GENESIS, 0, GENESIS if n_ack == 0 else None
    for (h,) in conn.execute("SELECT hash FROM request_event ORDER BY rowid"):
        head = next_head(head, h)
        n += 1
        if n == n_ack:
            at_ack = head
    out: list[str] = []
    if (n, head) != (n_kv, head_kv):
        out.append(
            f"the running head over {n} events differs from the one recorded over {n_kv} events "
            "(an event was deleted, added or rewritten outside the ledger) / 台账总哈希与记录不符"
        )
    if n_ack and at_ack != head_ack:
        out.append(
            f"the first {n_ack} events differ from the history the hub acknowledged / 已被中心确认的台账被改写"
        )
    return n, out


def _counter_problems(conn: sqlite3.Connection) -> list[str]:
    kv = {
        str(k).removeprefix(LEDGER_SEQ): int(v)
        for k, v in conn.execute("SELECT k, v FROM kv WHERE k LIKE ?", (LEDGER_SEQ + "%",))
    }
    out = []
    for prefix, mx in conn.execute(
        "SELECT substr(number, 1, length(number) - 5), max(CAST(substr(number, -4) AS INTEGER)) FROM request "
        "WHERE station_code = (SELECT code FROM station WHERE is_self) GROUP BY 1"
    ):
        if prefix and mx and kv.get(prefix, 0) < int(mx):
            out.append(
                f"ledger counter {prefix} is {kv.get(prefix, 0)} but number {mx} is used / 台账编号计数器落后"
            )
    return out


def verify_conn(conn: sqlite3.Connection) -> dict[str, Any]:
    """Check a station database (read only). Returns ``{"ok", "requests", "events", "problems",
    "ledger"}``: ``problems`` lists each bad request (number, id, what is wrong); ``ledger`` what is
    wrong with the ledger as a whole (running head, counters)."""
    rows = conn.execute(f"SELECT {', '.join(ROW_READ)} FROM request ORDER BY id")
    events = conn.execute(f"SELECT {', '.join(EVENT_READ)} FROM request_event ORDER BY request_id, n")
    n, problems = check_requests(iter(rows), iter(events))
    n_ev, ledger = _head_problems(conn)
    ledger += _counter_problems(conn)
    return {
        "ok": not problems and not ledger,
        "requests": n,
        "events": n_ev,
        "problems": problems,
        "ledger": ledger,
    }


def verify_ledger(db: Path | str, *, record: bool = True) -> dict[str, Any]:
    """Check the station database at ``db``; with ``record`` the outcome is kept in kv ``verify_last``
    (the dashboard shows it without checking again)."""
    conn = sqlite3.connect(Path(db), timeout=10)
    try:
        res = verify_conn(conn)
        if record:
            record_result(conn, res)
    finally:
        conn.close()
    return res


def check_and_record(db: Path | str) -> dict[str, Any]:
    """The dashboard's check: run it, keep it, return the kept summary (``{"ok", "at", "requests",
    "problems"}``)."""
    conn = sqlite3.connect(Path(db), timeout=10)
    try:
        return record_result(conn, verify_conn(conn))
    finally:
        conn.close()


def record_result(conn: sqlite3.Connection, res: Mapping[str, Any]) -> dict[str, Any]:
    """Keep a check's outcome in kv ``verify_last`` (own transaction); returns the summary kept."""
    summary = {
        "ok": bool(res["ok"]),
        "at": to_db(env_now()),
        "requests": res["requests"],
        "problems": len(res["problems"]) + len(res["ledger"]),
    }
    with conn:
        conn.execute(
            "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            (kvkeys.VERIFY_LAST, json.dumps(summary)),
        )
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


def report_lines(res: Mapping[str, Any]) -> list[str]:
    """Plain text: one line per bad request and per ledger problem; a last line with the totals."""
    out = [f"{p['number'] or p['id']}: {'; '.join(p['problems'])}" for p in res["problems"]]
    out += [f"ledger: {x}" for x in res["ledger"]]
    verdict = "intact / 台账完整" if res["ok"] else "NOT INTACT / 台账异常"
    events = f", {res['events']} events" if "events" in res else ""
    out.append(f"{res['requests']} requests{events} checked: {verdict}")
    return out
