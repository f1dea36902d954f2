"""THE write module for station tables: every write of ``request``, ``request_event``, ``outbox``,
``referral``, ``activity``, ``enterprise``, ``staff``, ``request_draft``, the four library tables and the ledger
counters (``kv ledger_seq:…``) goes through here — the ledger, sync apply and restore, the demo loader and the generator alike.

Works on a stdlib :class:`sqlite3.Connection` or a SQLAlchemy ``Connection`` (for the ORM ledger:
``session.connection()``) alike: SQL is written once with named ``:param`` placeholders, run directly
on sqlite3 and through ``sqlalchemy.text()`` otherwise (imported lazily, so the sqlite3 paths never
load SQLAlchemy). Nothing here opens or commits a transaction: the caller holds it, so a change, its
event and its outbox row commit together.

Rules that live here and nowhere else:

- an event's ``n`` / ``prev_hash`` / ``hash`` (the hash itself is :mod:`qi_station.core.chain`);
- the outbox row format (``row_json`` is :func:`~qi_station.core.chain.canonical` of the whole row,
  ``hlc`` from :func:`~qi_station.core.ids.hlc_now`);
- the ledger number ``{CODE}-{YYYYMM}-{NNNN}`` and its counter ``kv('ledger_seq:{CODE}-{YYYYMM}')``;
- an enterprise is found by (station, USCC); its pinyin and search text, like every library row's,
  come from :func:`qi_station.db.searchtext.prepare` (the one search-text formula).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from qi_station.core.chain import (
    EVENT_ROW,
    GENESIS,
    canonical,
    event_fields,
    event_hash,
    fold_head,
    next_head,
)
from qi_station.core.clock import env_now, to_db
from qi_station.core.ids import format_number, hlc_now, number_sql, uuid7
from qi_station.db.kvkeys import EVENT_HEAD
from qi_station.db.sqlexec import execute

EVENT_COLUMNS = ("id", *EVENT_ROW)  # the request_event table, in order
REFERRAL_COLUMNS = ("id", "request_id", "kind", "item_id", "item_name", "note", "actor", "created_at")
LEDGER_SEQ = "ledger_seq:"


# ---- the adapter: one SQL text for both kinds of connection ------------------------------------
def execute_many(conn: Any, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """``executemany`` of named-parameter SQL over dict rows (one statement, many rows)."""
    if not rows:
        return
    if isinstance(conn, sqlite3.Connection):
        conn.executemany(sql, rows)
        return
    from sqlalchemy import text

    conn.execute(text(sql), [dict(r) for r in rows])


def fetch_one(conn: Any, sql: str, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
    row = execute(conn, sql, params).fetchone()
    return tuple(row) if row is not None else None


def fetch_dict(conn: Any, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The first row as a dict of column -> value, or None."""
    cur = execute(conn, sql, params)
    row = cur.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cur.description] if isinstance(conn, sqlite3.Connection) else list(cur.keys())
    return dict(zip(names, tuple(row), strict=True))


def db_value(value: Any) -> Any:
    """A Python value as stored and as it travels: datetimes as the DB text (``clock.to_db``), dates
    ISO (the same as ``db.session.jsonable``)."""
    if isinstance(value, datetime):
        return to_db(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def insert_rows(
    conn: Any,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    or_ignore: bool = False,
) -> None:
    """Bulk insert of positional rows (the generator's, the demo's, a restore's): ``executemany``."""
    head = f"INSERT {'OR IGNORE ' if or_ignore else ''}INTO {table} ({', '.join(columns)}) VALUES "
    if isinstance(conn, sqlite3.Connection):
        conn.executemany(head + f"({', '.join('?' * len(columns))})", rows)
    else:
        named = [dict(zip(columns, r, strict=True)) for r in rows]
        execute_many(conn, head + f"({', '.join(':' + c for c in columns)})", named)
    flush_search(conn, table)


def insert_missing_rows(conn: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """:func:`insert_rows` keeping the rows already held (``OR IGNORE``); how many were added (counted,
    not ``total_changes``, which also counts what triggers and the search index write)."""
    (before,) = execute(conn, f"SELECT count(*) FROM {table}").fetchone()
    insert_rows(conn, table, columns, rows, or_ignore=True)
    return int(execute(conn, f"SELECT count(*) FROM {table}").fetchone()[0]) - int(before)


def insert_row(conn: Any, table: str, row: Mapping[str, Any]) -> None:
    cols = list(row)
    execute(
        conn,
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})",
        {c: db_value(row[c]) for c in cols},
    )
    flush_search(conn, table)


def update_row(conn: Any, table: str, row_id: str, changes: Mapping[str, Any]) -> None:
    if not changes:
        return
    sets = ", ".join(f"{c} = :{c}" for c in changes)
    params = {c: db_value(v) for c, v in changes.items()}
    params["__id"] = row_id
    execute(conn, f"UPDATE {table} SET {sets} WHERE id = :__id", params)
    flush_search(conn, table)


def flush_search(conn: Any, table: str | None = None) -> None:
    """Bring the library search index up to date after a write of ``table`` (None: every searched
    table): :func:`qi_station.db.searchindex.flush`. Other tables: nothing."""
    from qi_station.db import searchindex

    if table is None:
        searchindex.flush(conn)
    elif table in searchindex.TABLES:
        searchindex.flush(conn, (table,))


# ---- outbox --------------------------------------------------------------------------------------
def write_outbox(
    conn: Any,
    table: str,
    row_id: str,
    op: str,
    row: Mapping[str, Any] | str,
    station_code: str,
) -> None:
    """One outbox row: ``row_json`` is the canonical JSON of the whole row (or the given JSON text).
    A change of demo data (:func:`is_demo`: a demo request, its events and referrals, a demo enterprise)
    writes nothing: demo rows stay on this PC."""
    if table in ("request", "enterprise"):
        owner, kind = row_id, table
    elif table in ("request_event", "referral") and isinstance(row, Mapping):
        owner, kind = str(row.get("request_id") or ""), "request"
    else:
        owner, kind = "", ""
    if owner and is_demo(conn, kind, owner):
        return
    execute(
        conn,
        "INSERT INTO outbox (table_name, row_id, op, row_json, hlc, created_at) "
        "VALUES (:t, :id, :op, :row, :hlc, :at)",
        {
            "t": table,
            "id": row_id,
            "op": op,
            "row": row if isinstance(row, str) else canonical({k: db_value(v) for k, v in row.items()}),
            "hlc": hlc_now(station_code or "-"),
            "at": to_db(env_now()),
        },
    )


# ---- demo rows -----------------------------------------------------------------------------------
#: kv row listing the demo data ``init --demo`` loaded: ``{"request": [ids], "enterprise": [ids]}``
DEMO_ROWS = "demo_rows"


def is_demo(conn: Any, kind: str, row_id: str) -> bool:
    """Is this request / enterprise demo data (listed in ``kv demo_rows``)? One indexed kv read when
    the station never loaded the demo."""
    return (
        fetch_one(
            conn,
            "SELECT 1 FROM kv, json_each(kv.v, '$.' || :t) j WHERE kv.k = :k AND j.value = :id",
            {"k": DEMO_ROWS, "t": kind, "id": row_id},
        )
        is not None
    )


def demo_requests_sql(schema: str = "") -> str:
    """The ids of the demo requests (``kv demo_rows``) as a subquery: ``id NOT IN (…)`` leaves demo data
    out (the station's report, ``reports.queries.leave_out_demo``; the enroll check). ``schema``: e.g.
    ``"main."`` from a temporary view."""
    return f"SELECT j.value FROM {schema}kv d, json_each(d.v, '$.request') j WHERE d.k = '{DEMO_ROWS}'"


def demo_request_count(conn: Any) -> int:
    """How many demo requests this database still holds (0 when the demo was never loaded or removed)."""
    r = fetch_one(conn, f"SELECT COUNT(*) FROM ({demo_requests_sql()}) x", {})
    return int(r[0]) if r else 0


def demo_rows(conn: Any) -> dict[str, list[str]]:
    import json

    r = fetch_one(conn, "SELECT v FROM kv WHERE k = :k", {"k": DEMO_ROWS})
    got = json.loads(r[0]) if r else {}
    return {"request": list(got.get("request") or []), "enterprise": list(got.get("enterprise") or [])}


def set_demo_rows(conn: Any, rows: Mapping[str, Iterable[str]]) -> None:
    """Write the demo list (an empty list removes the marker)."""
    got = {k: sorted(set(v)) for k, v in rows.items() if v}
    if not got:
        execute(conn, "DELETE FROM kv WHERE k = :k", {"k": DEMO_ROWS})
        return
    execute(
        conn,
        "INSERT INTO kv (k, v) VALUES (:k, :v) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
        {"k": DEMO_ROWS, "v": canonical(got)},
    )


def list_legacy_demo(conn: sqlite3.Connection) -> dict[str, int] | None:
    """A station that loaded the demo before demo rows were listed (``kv demo_loaded`` but no
    ``demo_rows``) pushed changes of demo requests and real requests on demo enterprises the hub never
    received: every sync failed. Caller holds the transaction. Found once, by what the older loader
    wrote, never by time (a clock set back, or work in the minute of the load, would make real work
    demo): its enterprises carry the shipped fixed ids (:func:`qi_station.core.ids.demo_id` of their
    name or a former one; a station's own ids are UUIDv7); its requests are the ones on those
    enterprises whose creation never went to the outbox (no pending first event) and that the hub
    never sent back (``seq = 0``): a real request's creation is queued with it, and one on a demo
    enterprise could never be taken by the hub. Pending outbox rows of demo requests are dropped (they
    stay on this PC, as demo changes do now); a demo enterprise a real request uses becomes real and is
    queued ahead of the pending rows (the hub needs it first); the rest are listed in ``kv demo_rows``.
    Returns what was done, or None."""
    import json

    from qi_station.core.ids import demo_id
    from qi_station.db import kvkeys

    stamp = conn.execute("SELECT v FROM kv WHERE k = ?", (kvkeys.DEMO_LOADED,)).fetchone()
    if (
        stamp is None
        or conn.execute("SELECT 1 FROM kv WHERE k IN (?, ?)", (DEMO_ROWS, kvkeys.DEMO_LEGACY_DONE)).fetchone()
    ):
        return None
    code_row = conn.execute("SELECT code FROM station WHERE is_self = 1").fetchone()
    code = str(code_row[0]) if code_row else ""
    ents = [  # UUIDv5 ids only (the 15th character is the version)
        eid
        for eid, name, former in conn.execute(
            "SELECT id, name, former_names FROM enterprise WHERE substr(id, 15, 1) = '5'"
        )
        if eid in {demo_id("enterprise", n) for n in [name, *(f["name"] for f in json.loads(former or "[]"))]}
    ]
    created = {
        r[0]
        for r in conn.execute(
            "SELECT json_extract(row_json, '$.request_id') FROM outbox "
            "WHERE table_name = 'request_event' AND json_extract(row_json, '$.n') = 1"
        )
    }
    reqs, used = [], set()
    for rid, eid, seq in conn.execute(
        "SELECT id, enterprise_id, seq FROM request WHERE enterprise_id IN (SELECT value FROM json_each(?))",
        (json.dumps(ents),),
    ):
        if rid in created or (seq or 0) > 0:
            used.add(eid)  # real work on a demo enterprise
        else:
            reqs.append(rid)
    adopted = [e for e in ents if e in used]
    demo_ents = [e for e in ents if e not in used]
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _demo_ids (id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM _demo_ids")
    conn.executemany("INSERT OR IGNORE INTO _demo_ids VALUES (?)", [(x,) for x in reqs + demo_ents])
    dropped = conn.execute(
        "DELETE FROM outbox WHERE (table_name IN ('request', 'enterprise') AND row_id IN "
        "(SELECT id FROM _demo_ids)) OR (table_name IN ('request_event', 'referral') AND "
        "json_extract(row_json, '$.request_id') IN (SELECT id FROM _demo_ids))"
    ).rowcount
    conn.execute("DROP TABLE _demo_ids")
    pending = conn.execute(
        "SELECT table_name, row_id, op, row_json, hlc, created_at FROM outbox ORDER BY oseq"
    ).fetchall()
    conn.execute("DELETE FROM outbox")
    acked = conn.execute("SELECT v FROM kv WHERE k = ?", (kvkeys.ACKED_OSEQ,)).fetchone()
    # numbered again right after the hub's ack: no gap where the dropped rows were
    conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'outbox'", (int(acked[0]) if acked else 0,))
    for eid in adopted:
        row = fetch_dict(conn, "SELECT * FROM enterprise WHERE id = :id", {"id": eid})
        if row is not None:
            write_outbox(conn, "enterprise", eid, "upsert", row, code)
    conn.executemany(
        "INSERT INTO outbox (table_name, row_id, op, row_json, hlc, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        pending,
    )
    set_demo_rows(conn, {"request": reqs, "enterprise": demo_ents})
    conn.execute(
        "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (kvkeys.DEMO_LEGACY_DONE, to_db(env_now()))
    )
    return {
        "demo_requests": len(reqs),
        "demo_enterprises": len(demo_ents),
        "adopted": len(adopted),
        "dropped": dropped,
    }


def mark_generated(conn: Any, enterprise_ids: Iterable[str]) -> None:
    """List enterprises ``qi-station generate`` wrote (revision 0019): local test data, never pushed."""
    conn.executemany(
        "INSERT OR IGNORE INTO generated_enterprise (id) VALUES (?)", [(str(i),) for i in enterprise_ids]
    )


def check_not_generated(conn: Any, enterprise_id: str | None) -> None:
    """A request row naming an enterprise still on the generated list is refused: the generator's
    rows never go to the hub, so the request could never sync and would block every later sync
    ``[own_enterprise]``. (``request add`` and ``request import`` find the enterprise by
    :func:`upsert_enterprise`, which makes it real first: this is the last guard.)"""
    from qi_station.core.errors import ValidationError

    if enterprise_id and fetch_one(
        conn, "SELECT 1 FROM generated_enterprise WHERE id = :i", {"i": enterprise_id}
    ):
        raise ValidationError(
            "enterprise",
            "generated",
            "this enterprise is generated test data (qi-station generate), which never reaches the hub: "
            "a real request on it could never sync; log real work on a station database without generated "
            "data / 该企业是生成的测试数据，不会上传到中心，不能登记真实需求",
        )


def adopt_generated(conn: Any, row: dict[str, Any], station_code: str) -> dict[str, Any]:
    """Real work on an enterprise ``qi-station generate`` wrote makes it real, like a demo one
    (:func:`_adopt_demo_enterprise`): it leaves the generated list, takes a new id of this station's
    own (:func:`rekey_enterprise`: the generator's ids repeat across stations generated with one seed)
    and goes to the outbox whole, ahead of the request that uses it. Any other row as it is."""
    if not fetch_one(conn, "SELECT 1 FROM generated_enterprise WHERE id = :i", {"i": row["id"]}):
        return row
    execute(conn, "DELETE FROM generated_enterprise WHERE id = :i", {"i": row["id"]})
    new_id = uuid7()
    rekey_enterprise(conn, row["id"], new_id, 0)
    got = fetch_dict(conn, "SELECT * FROM enterprise WHERE id = :i", {"i": new_id})
    assert got is not None
    write_outbox(conn, "enterprise", new_id, "upsert", got, station_code)
    return got


def forget_generated(conn: Any) -> None:
    """Every own row is queued as real (``sync.station.heal.resend_all``): nothing is test-only now."""
    execute(conn, "DELETE FROM generated_enterprise", {})


def _adopt_demo_enterprise(conn: Any, enterprise_id: str | None, station_code: str) -> None:
    """Real work on a demo enterprise makes it real: it leaves the demo list and goes to the outbox
    whole (the hub needs it before the request that refers to it)."""
    if not enterprise_id or not is_demo(conn, "enterprise", enterprise_id):
        return
    got = demo_rows(conn)
    got["enterprise"] = [e for e in got["enterprise"] if e != enterprise_id]
    set_demo_rows(conn, got)
    row = fetch_dict(conn, "SELECT * FROM enterprise WHERE id = :id", {"id": enterprise_id})
    if row is not None:
        write_outbox(conn, "enterprise", enterprise_id, "upsert", row, station_code)


# ---- events --------------------------------------------------------------------------------------
def last_event(conn: Any, request_id: str) -> tuple[int, str, str] | None:
    """(n, hash, at) of the request's last event, or None."""
    r = fetch_one(
        conn,
        "SELECT n, hash, at FROM request_event WHERE request_id = :r ORDER BY n DESC LIMIT 1",
        {"r": request_id},
    )
    return (int(r[0]), str(r[1]), str(r[2])) if r else None


def append_event(
    conn: Any,
    request_id: str,
    station_code: str,
    *,
    at: datetime | str,
    actor: str,
    kind: str,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    data: Mapping[str, Any] | str | None = None,
    keep_order: bool = False,
    outbox: bool = True,
) -> dict[str, Any]:
    """Append one event to the request's hash chain and write its outbox row (``op="insert"``).

    ``data`` is a dict (stored as canonical JSON) or JSON text. ``keep_order``: an ``at`` earlier than
    the last event's is moved up to it (the sync apply's hub events on a slow clock). Returns the row.
    """
    last = last_event(conn, request_id)
    at_s = to_db(at) if isinstance(at, datetime) else str(at)
    if keep_order and last is not None:
        at_s = max(at_s, last[2])
    ev: dict[str, Any] = {
        "id": uuid7(),
        "request_id": request_id,
        "n": last[0] + 1 if last else 1,
        "at": at_s,
        "actor": actor,
        "kind": kind,
        "from_status": from_status,
        "to_status": to_status,
        "note": note,
        "data": data if isinstance(data, str) else canonical(dict(data or {})),
        "prev_hash": last[1] if last else GENESIS,
    }
    ev["hash"] = event_hash(ev["prev_hash"], event_fields(ev))
    insert_row(conn, "request_event", ev)
    n, head = event_head(conn)
    set_event_head(conn, n + 1, next_head(head, ev["hash"]))
    if outbox:
        write_outbox(conn, "request_event", ev["id"], "insert", ev, station_code)
    return ev


# ---- the running head over all events (kv ``event_head``) ----------------------------------------
def parse_head(text: str | None) -> tuple[int, str]:
    """``"{n}:{head}"`` -> (n, head); nothing stored: (0, GENESIS)."""
    if not text:
        return 0, GENESIS
    n, _, head = str(text).partition(":")
    return int(n), head


def event_head(conn: Any) -> tuple[int, str]:
    """(n, head): the running head over the station's first n events (insertion order)."""
    r = fetch_one(conn, "SELECT v FROM kv WHERE k = :k", {"k": EVENT_HEAD})
    return parse_head(r[0] if r else None)


def set_event_head(conn: Any, n: int, head: str, key: str = EVENT_HEAD) -> None:
    execute(
        conn,
        "INSERT INTO kv (k, v) VALUES (:k, :v) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
        {"k": key, "v": f"{n}:{head}"},
    )


def advance_event_head(conn: Any, hashes: Sequence[str]) -> None:
    """Fold ``hashes`` (events just bulk-inserted, in insertion order) onto the running head."""
    if hashes:
        n, head = event_head(conn)
        set_event_head(conn, n + len(hashes), fold_head(head, hashes))


def seal_event_head(conn: Any) -> tuple[int, str]:
    """Recompute the running head over every event in insertion (rowid) order and store it: after a
    bulk load (generator, demo, a restore from the hub), whose events bypass :func:`append_event`."""
    hashes = [str(r[0]) for r in execute(conn, "SELECT hash FROM request_event ORDER BY rowid").fetchall()]
    head = fold_head(GENESIS, hashes)
    set_event_head(conn, len(hashes), head)
    return len(hashes), head


# ---- the ledger number ---------------------------------------------------------------------------
def ledger_prefix(station_code: str, month: date | str) -> str:
    """``{CODE}-{YYYYMM}``; ``month`` is any date in the month or ``"YYYYMM"`` text."""
    ym = month if isinstance(month, str) else f"{month.year}{month.month:02d}"
    return f"{station_code}-{ym}"


def next_ledger_no(conn: Any, station_code: str, month: date | str) -> str:
    """The next request number of the month: bumps ``kv ledger_seq:`` in the caller's transaction
    (two writers serialise on the write lock, so a number is never handed out twice)."""
    prefix = ledger_prefix(station_code, month)
    row = fetch_one(
        conn,
        "INSERT INTO kv(k, v) VALUES (:k, '1') ON CONFLICT(k) DO UPDATE SET v = CAST(v AS INTEGER) + 1 "
        "RETURNING v",
        {"k": LEDGER_SEQ + prefix},
    )
    assert row is not None
    return format_number(prefix, int(row[0]))


def ledger_counters(conn: Any, station_code: str) -> dict[str, int]:
    """``{CODE}-{YYYYMM}`` -> last number used: the kv counters, raised to any number already in
    ``request`` (a counter lost or behind, e.g. after rows were restored, never repeats a number)."""
    out: dict[str, int] = {}
    for k, v in execute(
        conn, "SELECT k, v FROM kv WHERE k LIKE :p", {"p": f"{LEDGER_SEQ}{station_code}-%"}
    ).fetchall():
        out[str(k).removeprefix(LEDGER_SEQ)] = int(v)
    pre, seq = number_sql("number", ":c")
    for mk, mx in execute(
        conn,
        f"SELECT {pre}, max({seq}) FROM request WHERE station_code = :c "
        "AND substr(number, 1, length(:c) + 1) = :c || '-' GROUP BY 1",
        {"c": station_code},
    ).fetchall():
        if mk and mx and int(mx) > out.get(mk, 0):
            out[mk] = int(mx)
    return out


def set_ledger_counters(conn: Any, counters: Mapping[str, int]) -> None:
    """Write ``ledger_seq:`` counters (never lowering one)."""
    execute_many(
        conn,
        "INSERT INTO kv (k, v) VALUES (:k, :v) ON CONFLICT(k) DO UPDATE SET v = excluded.v "
        "WHERE CAST(excluded.v AS INTEGER) > CAST(kv.v AS INTEGER)",
        [{"k": LEDGER_SEQ + k, "v": str(v)} for k, v in sorted(counters.items())],
    )


# ---- requests and referrals ----------------------------------------------------------------------
def insert_request(
    conn: Any, row: Mapping[str, Any], station_code: str, *, event: Mapping[str, Any] | None = None
) -> None:
    """Insert a whole request row (every column), append ``event`` (keyword arguments of
    :func:`append_event`) to its chain, and write the request's outbox row LAST: every ledger
    transaction's outbox rows end with its request row (``sync.station.apply.next_batch`` cuts there).
    A real request on a demo enterprise makes that enterprise real (:func:`_adopt_demo_enterprise`); one
    on a generated enterprise is refused (:func:`check_not_generated`)."""
    check_not_generated(conn, row.get("enterprise_id"))
    _adopt_demo_enterprise(conn, row.get("enterprise_id"), station_code)
    insert_row(conn, "request", row)
    if event is not None:
        append_event(conn, row["id"], station_code, **event)
    write_outbox(conn, "request", row["id"], "upsert", row, station_code)


def update_request(
    conn: Any,
    row: Mapping[str, Any],
    changes: Mapping[str, Any],
    station_code: str,
    *,
    event: Mapping[str, Any] | None = None,
    push: bool = True,
) -> dict[str, Any]:
    """Write ``changes`` to the request ``row`` (the whole row as read), append ``event`` (keyword
    arguments of :func:`append_event`, its outbox row included) and, with ``push``, write the whole
    updated request to the outbox last (the sync apply's adoption of hub fields does not: the hub
    already has them). Returns the updated row."""
    update_row(conn, "request", row["id"], changes)
    new = {k: db_value(v) for k, v in {**row, **changes}.items()}
    if event is not None:
        append_event(conn, new["id"], station_code, **event)
    if push:
        write_outbox(conn, "request", new["id"], "upsert", new, station_code)
    return new


def refold_requests(conn: Any, ids: Sequence[str]) -> list[str]:
    """Re-derive each request row (``ids``) from its events, as they stand (events written outside
    :func:`append_event`, e.g. those a restored station fetched back from the hub): its lifecycle fields
    and ``s_rev`` become what :func:`qi_station.core.chain.fold_events` of its chain gives (the fold
    ``ledger verify`` compares with). No outbox row (the hub holds those events and a row at least as
    new). Returns the ids of the rows changed."""
    from qi_station.core.chain import EVENT_ROW, fold_events

    changed: list[str] = []
    for rid in ids:
        row = fetch_dict(conn, "SELECT * FROM request WHERE id = :i", {"i": rid})
        if row is None:
            continue
        evs = [
            dict(zip(EVENT_ROW, r, strict=True))
            for r in execute(
                conn,
                f"SELECT {', '.join(EVENT_ROW)} FROM request_event WHERE request_id = :i ORDER BY n",
                {"i": rid},
            ).fetchall()
        ]
        if not evs or [e["n"] for e in evs] != list(range(1, len(evs) + 1)):
            continue  # no chain, or one with a hole: nothing to fold from
        folded = fold_events(evs)
        want = {k: db_value(x) for k, x in folded.items() if k in row and k != "row_events"}
        want["s_rev"] = folded["row_events"]
        diff = {k: x for k, x in want.items() if row.get(k) != x}
        if diff:
            update_row(conn, "request", rid, diff)
            changed.append(rid)
    return changed


def insert_histories(
    conn: Any, histories: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]], station_code: str
) -> list[dict[str, Any]]:
    """Bulk insert of new requests with their whole histories (the spreadsheet import): each item is
    (request row, events), the events as keyword arguments of :func:`append_event` (``at``, ``actor``,
    ``kind``, ``from_status``, ``to_status``, ``note``, ``data``) in order. Each chain is hashed here,
    the row's lifecycle fields and ``s_rev`` are folded from its events
    (:func:`qi_station.core.chain.fold_events`, so ``ledger verify`` agrees), one ``executemany`` per
    table, the running head advanced once; the outbox gets each request's events, then its row (its
    group's boundary, like every ledger transaction). Returns the rows written."""
    from qi_station.core.chain import fold_events

    requests: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    created = to_db(env_now())

    def out(table: str, row: Mapping[str, Any], op: str) -> None:
        outbox.append(
            {
                "t": table,
                "id": row["id"],
                "op": op,
                "row": canonical(dict(row)),
                "hlc": hlc_now(station_code or "-"),
                "at": created,
            }
        )

    eids = list(dict.fromkeys(str(row.get("enterprise_id") or "") for row, _ in histories))
    for eid in eids:
        check_not_generated(conn, eid)
    for eid in eids:
        _adopt_demo_enterprise(conn, eid, station_code)
    for row, specs in histories:
        prev, mine = GENESIS, []
        for n, spec in enumerate(specs, 1):
            at = spec["at"]
            data = spec.get("data")
            ev: dict[str, Any] = {
                "id": uuid7(),
                "request_id": row["id"],
                "n": n,
                "at": to_db(at) if isinstance(at, datetime) else str(at),
                "actor": spec["actor"],
                "kind": spec["kind"],
                "from_status": spec.get("from_status"),
                "to_status": spec.get("to_status"),
                "note": spec.get("note"),
                "data": data if isinstance(data, str) else canonical(dict(data or {})),
                "prev_hash": prev,
            }
            ev["hash"] = prev = event_hash(prev, event_fields(ev))
            mine.append(ev)
        folded = fold_events(mine)
        full = {k: db_value(v) for k, v in row.items()}
        full.update({k: folded[k] for k in folded if k in full and k != "row_events"})
        full["s_rev"] = folded["row_events"]
        for ev in mine:
            out("request_event", ev, "insert")
        out("request", full, "upsert")
        requests.append(full)
        events.extend(mine)
    if requests:
        cols = list(requests[0])
        insert_rows(conn, "request", cols, [tuple(r[c] for c in cols) for r in requests])
        insert_rows(
            conn, "request_event", EVENT_COLUMNS, [tuple(e[c] for c in EVENT_COLUMNS) for e in events]
        )
        advance_event_head(conn, [e["hash"] for e in events])
        execute_many(
            conn,
            "INSERT INTO outbox (table_name, row_id, op, row_json, hlc, created_at) "
            "VALUES (:t, :id, :op, :row, :hlc, :at)",
            outbox,
        )
    return requests


def insert_referral(conn: Any, row: Mapping[str, Any], station_code: str) -> None:
    insert_row(conn, "referral", row)
    write_outbox(conn, "referral", row["id"], "insert", row, station_code)


# ---- staff (station-local: no outbox) -------------------------------------------------------------
def insert_staff(conn: Any, name: str, role: str) -> None:
    insert_row(conn, "staff", {"name": name, "role": role, "created_at": env_now()})


def delete_staff(conn: Any, name: str) -> int:
    """Remove a staff member; returns how many rows went (0: no such name)."""
    return int(execute(conn, "DELETE FROM staff WHERE name = :n", {"n": name}).rowcount)


def insert_activity(conn: Any, row: Mapping[str, Any], station_code: str) -> None:
    """An activity (visit / training / event): the row and its outbox row (``op="insert"``, sent once)."""
    insert_row(conn, "activity", row)
    write_outbox(conn, "activity", row["id"], "insert", row, station_code)


# ---- enterprises and library rows ----------------------------------------------------------------
ENTERPRISE_FILL = ("contact_name", "phone_e164", "phone_display", "industry", "scale")


CONTACT_PAIR = ("contact_name", "phone_e164", "phone_display")


def contact_half(data: Mapping[str, Any], old: Mapping[str, Any]) -> tuple[str, ...]:
    """The contact fields of ``data`` an existing enterprise must not take: the contact person and the
    phone are one pair. Half a pair (a phone without a name, or a name without a phone) fills the
    enterprise only when its stored pair lacks the other half; otherwise the stored pair stays as it
    is (the request keeps its own contact and phone), so a phone is never paired with someone else's
    name. Both given: the pair is replaced."""
    name, phone = bool(data.get("contact_name")), bool(data.get("phone_e164"))
    if name and phone:
        return ()
    if phone and old.get("contact_name"):
        return CONTACT_PAIR
    if name and old.get("phone_e164"):
        return CONTACT_PAIR
    return ()


def upsert_enterprise(
    conn: Any,
    data: Mapping[str, Any],
    station_code: str,
    *,
    outbox: bool = True,
    add_elements: Sequence[str] = (),
) -> dict[str, Any]:
    """Find the station's enterprise by USCC (its identity) or create it (pinyin and search text by
    :func:`searchtext.prepare`); an existing one gets missing or changed contact data (the contact and
    phone as one pair: :func:`contact_half`). ``add_elements`` (a request's elements): a new
    enterprise's 服务要素 start as them, and so do those of one that has none yet; an enterprise with 服务要素 keeps them (no enterprise change to push at every request). A
    new or changed row goes to the outbox. Returns the row."""
    import json

    from qi_station.core.validate import unique_elements
    from qi_station.db.searchtext import prepare

    old = fetch_dict(
        conn,
        "SELECT * FROM enterprise WHERE station_code = :c AND uscc = :u",
        {"c": station_code, "u": data["uscc"]},
    )
    now = to_db(env_now())
    if old is not None and outbox:
        old = adopt_generated(conn, old, station_code)
    if old is None:
        base = {"elements": [], **data}
        if add_elements and isinstance(base["elements"], list):
            base["elements"] = [*base["elements"], *add_elements]  # each once: prepare
        row = prepare("enterprise", base)
        row = {
            "id": row.get("id") or uuid7(),
            **row,
            "station_code": station_code,
            "s_rev": 1,
            "seq": 0,
            "deleted": False,
            "created_at": row.get("created_at") or now,
            "updated_at": row.get("updated_at") or now,
        }
        row = {k: db_value(v) for k, v in row.items()}
        insert_row(conn, "enterprise", row)
    else:
        fill = [k for k in ENTERPRISE_FILL if k not in contact_half(data, old)]
        changes = {k: data[k] for k in fill if data.get(k) and old.get(k) != data[k]}
        try:
            have = json.loads(old.get("elements") or "[]")
        except ValueError:  # a damaged elements text: left as it is
            have = None
        if have == [] and add_elements:  # an enterprise with none yet (made before its first request)
            changes["elements"] = json.dumps(unique_elements(list(add_elements)))
        if not changes:
            return old
        changes.update(s_rev=int(old["s_rev"]) + 1, updated_at=now)
        update_row(conn, "enterprise", old["id"], changes)
        row = {**old, **changes}
    if outbox:
        write_outbox(conn, "enterprise", row["id"], "upsert", row, station_code)
    return row


def rekey_enterprise(conn: Any, old_id: str, new_id: str, hub_rev: int) -> None:
    """An enterprise is its USCC: a local row registered again under a new id (after a restore) while
    the hub holds the same station and USCC under ``new_id`` takes the hub's id. Its requests and the
    pending outbox rows follow; its s_rev goes above the hub's so the local data, being the newer,
    is pushed. Caller holds the transaction."""
    execute(conn, "PRAGMA defer_foreign_keys = ON")  # the request rows name the new id before the row has it
    row = fetch_dict(conn, "SELECT s_rev FROM enterprise WHERE id = :i", {"i": old_id})
    rev = max(int(row["s_rev"]) if row else 0, int(hub_rev or 0)) + 1
    execute(
        conn, "UPDATE request SET enterprise_id = :n WHERE enterprise_id = :o", {"n": new_id, "o": old_id}
    )
    execute(
        conn, "UPDATE enterprise SET id = :n, s_rev = :r WHERE id = :o", {"n": new_id, "r": rev, "o": old_id}
    )
    execute(
        conn,
        "UPDATE outbox SET row_id = :n, row_json = json_set(row_json, '$.id', :n, '$.s_rev', :r) "
        "WHERE table_name = 'enterprise' AND row_id = :o",
        {"n": new_id, "r": rev, "o": old_id},
    )
    execute(
        conn,
        "UPDATE outbox SET row_json = json_set(row_json, '$.enterprise_id', :n) "
        "WHERE table_name = 'request' AND json_extract(row_json, '$.enterprise_id') = :o",
        {"n": new_id, "o": old_id},
    )


def rename_enterprise(
    conn: Any, old: Mapping[str, Any], name: str, station_code: str, *, at: datetime, by: str
) -> dict[str, Any]:
    """The enterprise's new name (its pinyin and search text by :func:`searchtext.prepare`, the former
    names still in the search text); the old name is appended to ``former_names`` (``{"name", "until", "by"}``,
    oldest first), so the change travels with the row to the hub; the oldest names are dropped when the
    row would pass the hub's text caps (``core.validate.OTHER_TEXT_MAX`` / ``LONG_TEXT_MAX``: a refused
    row would hold every later change on this PC). Returns the updated row (also written to the outbox)."""
    import json

    from qi_station.core.validate import LONG_TEXT_MAX, OTHER_TEXT_MAX
    from qi_station.db.searchtext import prepare

    former = json.loads(old.get("former_names") or "[]")
    former.append({"name": old["name"], "until": to_db(at), "by": by})
    while True:  # the row must stay within the hub's caps, or it and every later change never leave the PC:
        fresh = prepare("enterprise", {**old, "name": name, "former_names": former})  # the oldest names go
        if len(former) <= 1 or (
            len(canonical(former)) <= OTHER_TEXT_MAX
            and all(len(fresh[c]) <= LONG_TEXT_MAX[c] for c in ("haystack", "haystack_py"))
        ):
            break
        former.pop(0)
    changes = {
        "name": name,
        "name_py": fresh["name_py"],
        "name_initials": fresh["name_initials"],
        "haystack": fresh["haystack"],
        "haystack_py": fresh["haystack_py"],  # the old name's readings stay searchable
        "former_names": canonical(former),
        "s_rev": int(old["s_rev"]) + 1,
        "updated_at": to_db(env_now()),
    }
    update_row(conn, "enterprise", old["id"], changes)
    row = {**old, **changes}
    write_outbox(conn, "enterprise", row["id"], "upsert", row, station_code)
    return row


def locate_enterprise(
    conn: Any, station_code: str, uscc: str, county_code: str, city_code: str | None
) -> dict[str, Any] | None:
    """Set where the station's enterprise is (its county and that county's city; the search text names
    the city): s_rev + 1, to the outbox. None: no such enterprise."""
    from qi_station.db.searchtext import haystack

    sql = "SELECT * FROM enterprise WHERE station_code = :c AND uscc = :u"
    old = fetch_dict(conn, sql, {"c": station_code, "u": uscc})
    if old is None:
        return None
    changes: dict[str, Any] = {"county_code": county_code, "city_code": city_code}
    changes.update(haystack=haystack("enterprise", {**old, **changes}), s_rev=int(old["s_rev"]) + 1)
    changes["updated_at"] = to_db(env_now())
    update_row(conn, "enterprise", old["id"], changes)
    row = {**old, **changes}
    write_outbox(conn, "enterprise", row["id"], "upsert", row, station_code)
    return row


# ---- request drafts (local to this PC: never in the outbox) --------------------------------------
def save_draft(conn: Any, draft_id: str, data_json: str, operator: str) -> None:
    """Insert or replace one unsaved request form (the typed fields as JSON)."""
    now = to_db(env_now())
    execute(
        conn,
        "INSERT INTO request_draft (id, data, operator, created_at, updated_at) "
        "VALUES (:id, :data, :op, :now, :now) "
        "ON CONFLICT(id) DO UPDATE SET data = excluded.data, operator = excluded.operator, "
        "updated_at = excluded.updated_at",
        {"id": draft_id, "data": data_json, "op": operator, "now": now},
    )


def delete_draft(conn: Any, draft_id: str) -> None:
    execute(conn, "DELETE FROM request_draft WHERE id = :id", {"id": draft_id})


def upsert_rows(
    conn: Any,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Any],
    *,
    guard: str | None = None,
    named: bool = False,
) -> None:
    """Bulk upsert by ``id`` (``executemany``): rows are positional sequences, or dicts with
    ``named``. ``guard`` is the SQL condition under which an existing row is replaced (``excluded.``
    is the incoming row), e.g. ``excluded.rev > expert.rev``; None: always."""
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    values = ", ".join(f":{c}" for c in columns) if named else ", ".join("?" * len(columns))
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}) "
        f"ON CONFLICT(id) DO UPDATE SET {sets}" + (f" WHERE {guard}" if guard else "")
    )
    if isinstance(conn, sqlite3.Connection):
        conn.executemany(sql, rows)
    else:
        if not named:
            rows = [dict(zip(columns, r, strict=True)) for r in rows]
            sql = sql.replace(f"VALUES ({values})", f"VALUES ({', '.join(':' + c for c in columns)})")
        execute_many(conn, sql, rows)
    flush_search(conn, table)


def upsert_library_rows(
    conn: Any,
    table: str,
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    keep_pinyin: bool = False,
    guard: str | None = None,
) -> list[dict[str, Any]]:
    """Library (or enterprise) rows written with their pinyin, initials and search text computed by
    :func:`searchtext.prepare`; one ``executemany`` upsert of ``columns`` (missing ones NULL).
    ``keep_pinyin``: rows that already carry ``name_py``/``name_initials`` keep them (the generator
    composes them from cached parts). Returns the prepared rows."""
    out = prepare_library_rows(table, rows, keep_pinyin=keep_pinyin)
    upsert_rows(conn, table, columns, library_values(out, columns), guard=guard)
    return out


def prepare_library_rows(
    table: str, rows: Iterable[Mapping[str, Any]], *, keep_pinyin: bool = False
) -> list[dict[str, Any]]:
    """``rows`` with their pinyin, initials and search text by :func:`searchtext.prepare`."""
    from qi_station.db.searchtext import prepare

    return [prepare(table, dict(r), keep_pinyin=keep_pinyin) for r in rows]


def library_values(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """Prepared rows as the positional tuples of ``columns`` that :func:`upsert_rows` writes."""
    return [tuple(db_value(r.get(c)) for c in columns) for r in rows]


# ---- the working-day calendar ----------------------------------------------------------------------
SHIPPED_CALENDAR = Path(__file__).resolve().parent / "calendar" / "cn-holidays.csv"


def replace_calendar_year(conn: Any, year: int, days: Sequence[Any]) -> int:
    """Replace one calendar year whole: its rows are deleted and ``days`` (``core.workdays.Day``, already
    checked by ``check_year_days``) inserted. Caller holds the transaction. Returns the rows written."""
    execute(conn, "DELETE FROM holiday WHERE year = :y", {"y": int(year)})
    execute_many(
        conn,
        "INSERT INTO holiday (day, kind, name, year) VALUES (:day, :kind, :name, :year)",
        [{"day": d.day.isoformat(), "kind": d.kind, "name": d.name, "year": int(year)} for d in days],
    )
    return len(days)


def load_shipped_calendar(conn: Any, path: Path | None = None) -> list[int]:
    """The years shipped with the program that this database does not have yet (a year the hub already
    sent is never overwritten by an older shipped copy). Returns the years loaded."""
    from qi_station.core.workdays import read_calendar_text

    p = path or SHIPPED_CALENDAR
    with open(p, encoding="utf-8") as f:
        years = read_calendar_text(f.read(), p.name)
    have = {int(r[0]) for r in execute(conn, "SELECT DISTINCT year FROM holiday").fetchall()}
    loaded = []
    for y, days in sorted(years.items()):
        if y not in have:
            replace_calendar_year(conn, y, days)
            loaded.append(y)
    return loaded


def set_promise_workdays(conn: Any, promises: Mapping[str, int]) -> None:
    """This station's promise in working days by urgency (kv ``promise_workdays:{urgency}``), already
    checked by ``core.workdays.check_promise_days``."""
    from qi_station.db.kvkeys import PROMISE_WORKDAYS

    execute_many(
        conn,
        "INSERT INTO kv (k, v) VALUES (:k, :v) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
        [{"k": f"{PROMISE_WORKDAYS}{u}", "v": str(int(n))} for u, n in promises.items()],
    )
