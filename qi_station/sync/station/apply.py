"""Station-side sync state and THE apply functions (raw sqlite3, bulk SQL; shared by HTTP and bundles).

Every table write goes through :mod:`qi_station.db.write`. Applying pulled library rows never writes
the outbox; an adopted hub change to one of our requests appends a ``kind="hub"`` event whose outbox
row carries it to the hub (the request row itself is not pushed back).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qi_station.core import domain
from qi_station.core.clock import env_now, to_db
from qi_station.db import kvkeys, searchindex, write
from qi_station.sync.proto import DOWN_TABLES, HUB_REQUEST_FIELDS, PUSH_BATCH, PUSH_BYTES, SyncError

_COLS: dict[tuple[str, str], list[str]] = {}


def open_conn(db: str | Path) -> sqlite3.Connection:
    from qi_station.db import secrets
    from qi_station.db.engine import connect, open_db

    p = open_db(db)
    conn = connect(p)
    secrets.migrate(conn)  # an older version kept the key and token in kv: move them out
    return conn


@contextmanager
def tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def kv_get(conn: sqlite3.Connection, k: str, default: str | None = None) -> str | None:
    r = conn.execute("SELECT v FROM kv WHERE k = ?", (k,)).fetchone()
    return r[0] if r else default


def kv_set(conn: sqlite3.Connection, k: str, v: Any) -> None:
    conn.execute(
        "INSERT INTO kv(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", (k, str(v))
    )


def device_id(conn: sqlite3.Connection) -> str:
    """This install of the station: a random id kept in ``kv device`` beside a fingerprint of where
    the database lives (its absolute path, the host name and the network card's node id). A database
    copied to another PC or file gets a new id at its first push, so the hub tells two copies pushing
    under one station identity apart (``sync.hub.push.PushJobs.check_device``); a backup put back in
    place keeps the id it had there."""
    import hashlib
    import json
    import socket
    import uuid

    from qi_station.core.ids import uuid7

    path = next((r[2] for r in conn.execute("PRAGMA database_list") if r[1] == "main"), "") or ""
    where = f"{os.path.abspath(path) if path else ''}|{socket.gethostname()}|{uuid.getnode()}"
    fp = hashlib.sha256(where.encode("utf-8")).hexdigest()[:32]
    try:
        got = json.loads(kv_get(conn, "device") or "{}")
    except ValueError:
        got = {}
    if isinstance(got, dict) and got.get("fp") == fp and isinstance(got.get("id"), str):
        return str(got["id"])
    new = uuid7()
    kv_set(conn, "device", json.dumps({"id": new, "fp": fp}))
    if conn.in_transaction:
        conn.commit()
    return new


def kv_del(conn: sqlite3.Connection, k: str) -> None:
    conn.execute("DELETE FROM kv WHERE k = ?", (k,))


def kv_int(conn: sqlite3.Connection, k: str) -> int:
    try:
        return int(kv_get(conn, k) or 0)
    except ValueError:
        return 0


def station_code(conn: sqlite3.Connection) -> str | None:
    r = conn.execute("SELECT code FROM station WHERE is_self = 1").fetchone()
    return r[0] if r else kv_get(conn, "station_code")


def signing_key(conn: sqlite3.Connection) -> tuple[str, str]:
    """This station's Ed25519 keypair (private_b64, public_b64), made on first use. Kept in the station
    secrets file (:mod:`qi_station.db.secrets`), never in the database: THE accessor for the key."""
    from qi_station.db import secrets

    db = secrets.db_file(conn)
    got = secrets.load(db)
    if got.get("station_privkey") and got.get("station_pubkey"):
        return got["station_privkey"], got["station_pubkey"]
    from qi_station.sync import keys

    priv, pub = keys.generate()
    with tx(conn):  # the database write lock serialises two processes making the first key
        got = secrets.load(db)
        if got.get("station_privkey") and got.get("station_pubkey"):
            return got["station_privkey"], got["station_pubkey"]
        secrets.save(db, station_privkey=priv, station_pubkey=pub)
    return priv, pub


def api_token(conn: sqlite3.Connection) -> str | None:
    """The bearer token the hub gave at online enrollment (from the secrets file), or None."""
    from qi_station.db import secrets

    return secrets.load(secrets.db_file(conn)).get("api_token")


def real_requests(conn: sqlite3.Connection) -> int:
    """Requests that are not demo data (``db.write.DEMO_ROWS``)."""
    return int(
        conn.execute(
            f"SELECT COUNT(*) FROM request WHERE id NOT IN ({write.demo_requests_sql()})"
        ).fetchone()[0]
    )


def pending(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


def fix_oseq(conn: sqlite3.Connection) -> int:
    """Guard for databases created before migration 0002 (outbox.oseq without AUTOINCREMENT restarts
    at 1 once the outbox was emptied): renumber unacked rows above the acked position, keeping order."""
    with tx(conn):
        acked = kv_int(conn, kvkeys.ACKED_OSEQ)
        mn = conn.execute("SELECT MIN(oseq) FROM outbox").fetchone()[0]
        if mn is None or mn > acked:
            return 0
        shift = acked - mn + 1
        conn.execute("UPDATE outbox SET oseq = -(oseq + ?)", (shift,))
        conn.execute("UPDATE outbox SET oseq = -oseq")
        return shift


def next_batch(
    conn: sqlite3.Connection, limit: int = PUSH_BATCH, max_bytes: int = PUSH_BYTES
) -> list[dict[str, Any]]:
    """The oldest outbox rows: at most ``limit`` of them and, past the first, at most ``max_bytes`` of row
    JSON. A full batch (either cap reached) is cut after its last request/enterprise/activity row: every
    ledger transaction ends with one, so an event never travels without the request it belongs to (an
    activity is a transaction of its own)."""
    rows = conn.execute(
        "SELECT oseq, table_name, op, row_json, hlc, length(CAST(row_json AS BLOB)) FROM outbox ORDER BY oseq "
        "LIMIT ?",
        (limit,),
    ).fetchall()
    full = len(rows) == limit
    size = 0
    for i, r in enumerate(rows):
        size += r[5] + 100  # the change's own keys (oseq, table, op, hlc) on the wire
        if size > max_bytes and i > 0:
            rows, full = rows[:i], True
            break
    if full:
        cut = max(
            (i for i, r in enumerate(rows) if r[1] in ("request", "enterprise", "activity")), default=-1
        )
        if cut >= 0:
            rows = rows[: cut + 1]
        else:  # no boundary inside: extend to the end of the transaction group
            end = conn.execute(
                "SELECT MIN(oseq) FROM outbox WHERE oseq > ? AND table_name IN ('request', 'enterprise', 'activity')",
                (rows[-1][0],),
            ).fetchone()[0]
            if end is not None:
                rows = conn.execute(
                    "SELECT oseq, table_name, op, row_json, hlc, 0 FROM outbox WHERE oseq <= ? ORDER BY oseq",
                    (end,),
                ).fetchall()
    return [{"oseq": r[0], "table": r[1], "op": r[2], "row": json.loads(r[3]), "hlc": r[4]} for r in rows]


def outbox_lines(conn: sqlite3.Connection) -> tuple[list[bytes], int, int, dict[str, int]]:
    lines: list[bytes] = []
    counts: dict[str, int] = {}
    lo = hi = 0
    for oseq, t, op, row_json, hlc in conn.execute(
        "SELECT oseq, table_name, op, row_json, hlc FROM outbox ORDER BY oseq"
    ):
        lo = lo or oseq
        hi = oseq
        counts[t] = counts.get(t, 0) + 1
        lines.append(
            f'{{"oseq":{int(oseq)},"table":{json.dumps(t)},"op":{json.dumps(op)},"hlc":{json.dumps(hlc)},"row":{row_json}}}\n'.encode()
        )
    return lines, lo, hi, counts


def ack(conn: sqlite3.Connection, acked: int) -> int:
    """The hub has everything <= acked: drop it from the outbox (monotonic; own transaction)."""
    with tx(conn):
        cur = kv_int(conn, kvkeys.ACKED_OSEQ)
        if acked > cur:
            kv_set(conn, kvkeys.ACKED_OSEQ, acked)
        n = conn.execute("DELETE FROM outbox WHERE oseq <= ?", (max(acked, cur),)).rowcount
    return n


def _cols(conn: sqlite3.Connection, table: str) -> list[str]:
    key = (str(conn), table)
    got = _COLS.get(key)
    if got is None:
        got = _COLS[key] = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    return got


def apply_tables(conn: sqlite3.Connection, tables: dict[str, Any], *, resync: bool = False) -> int:
    """THE apply function for hub rows (HTTP pull pages and down bundles). Caller holds the transaction.
    Library rows: upsert guarded by rev or a later hub seq (``resync``: a snapshot pass, which also takes equal revs and
    rows marked ``seq = -1`` so the unmarked ones can be deleted at the end). Own requests: only the
    hub fields (h_rev guard); the status follows the hub when the hub copy has seen every station
    change (its s_rev >= ours); every adopted hub change appends a ``kind="hub"`` event to the
    request's hash chain (and the outbox carries it to the hub, so both chains stay identical)."""
    n = 0
    for t in DOWN_TABLES:
        block = tables.get(t)
        if not block or not block.get("rows"):
            continue
        local = set(_cols(conn, t))
        cols = list(block["cols"])
        keep = [i for i, c in enumerate(cols) if c in local]  # an older station ignores unknown columns
        kc = [cols[i] for i in keep]
        rows = block["rows"]
        named = bool(block.get("named"))  # rows are dicts (bundles): named parameters, no conversion
        if not named and len(keep) != len(cols):
            rows = [[r[i] for i in keep] for r in rows]
        # a higher rev, or a later hub write (seq): a row re-created after its tombstone was purged at the
        # hub starts again at rev 1 but always carries a newer seq
        newer = f"excluded.rev > {t}.rev OR excluded.seq > {t}.seq"
        guard = f"excluded.rev >= {t}.rev OR {t}.seq < 0 OR excluded.seq > {t}.seq" if resync else newer
        idx = _defer_indexes(conn, t, len(rows))
        lifted = _defer_search(conn, t, len(rows))
        write.upsert_rows(conn, t, kc, rows, guard=guard, named=named)
        for isql in idx:  # same transaction: a crash rolls the DROP back with everything else
            conn.execute(isql)
        if lifted:
            searchindex.create_triggers(conn, (t,))
        n += len(rows)
        if t == "reference":
            _use_references(conn, block)
    block = tables.get("request")
    if block and block.get("rows"):
        n += _apply_hub_requests(conn, block)
    return n


def _apply_calendar(conn: sqlite3.Connection, key: str, doc: dict[int, Any]) -> None:
    for y, days in doc.items():
        write.replace_calendar_year(conn, y, days)


#: what a station does with a reference document of each kind once it is stored and checked (a kind
#: with no entry is only kept in ``reference``; a kind this program does not know is kept, not used)
REFERENCE_APPLY: dict[str, Callable[[sqlite3.Connection, str, Any], None]] = {"calendar": _apply_calendar}


def _use_references(conn: sqlite3.Connection, block: dict[str, Any]) -> None:
    """After the reference rows of a page were upserted: each document as now stored (the winner of the
    rev guard) is checked again (``core.reference.check``) and used, e.g. a calendar year replaces that
    year of the ``holiday`` table whole. A bad document refuses the whole page (nothing is written)."""
    from qi_station.core import reference
    from qi_station.core.errors import ValidationError

    named = bool(block.get("named"))
    ii = block["cols"].index("id") if not named else "id"
    ids = [r[ii] for r in block["rows"]]
    for rid in ids:
        got = conn.execute("SELECT kind, key, body, deleted FROM reference WHERE id = ?", (rid,)).fetchone()
        if got is None or got[3] or got[0] not in REFERENCE_APPLY or got[0] not in reference.CHECKS:
            continue
        try:
            doc = reference.check(got[0], got[1], got[2])
        except ValidationError as e:
            raise SyncError(400, "bad_reference", f"hub reference {rid}: {e.message}") from None
        REFERENCE_APPLY[got[0]](conn, got[1], doc)


DEFER_INDEX_ROWS = 20000


def _defer_indexes(conn: sqlite3.Connection, table: str, incoming: int) -> list[str]:
    """For a bulk load into a (nearly) empty table, drop its secondary indexes inside the caller's
    transaction and return their CREATE statements to run after the insert (building an index once is
    cheaper than maintaining it row by row; other connections keep reading their own snapshot)."""
    if incoming < DEFER_INDEX_ROWS:
        return []
    have = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    if have * 2 > incoming:
        return []
    idx = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table,),
    ).fetchall()
    for name, _sql in idx:
        conn.execute(f'DROP INDEX "{name}"')
    return [str(sql) for _name, sql in idx]


DEFER_SEARCH_ROWS = 1000


def _defer_search(conn: sqlite3.Connection, table: str, incoming: int) -> bool:
    """A large pull into a library table: its search index is built once, after the pull
    (:func:`finish_search`), not row by row. The table is marked stale (``searchindex.mark_stale``: the
    search scans it meanwhile, correct) and its triggers are lifted for this upsert (the caller puts
    them back); all in the caller's transaction, so a kill leaves either the old state or a stale mark
    (the next :func:`finish_search` builds it: each sync and each down bundle ends with one).
    Taken for at least :data:`DEFER_SEARCH_ROWS` rows when the table is already stale or holds at most
    twice ``incoming`` (rebuilding is then cheaper than indexing row by row: a first pull, a snapshot).
    A smaller page into a stale table keeps its triggers (``flush`` drops what they record). True:
    lifted."""
    if table not in searchindex.TABLES or incoming < DEFER_SEARCH_ROWS:
        return False
    if table not in searchindex.stale(conn):
        have = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        if have > 2 * incoming or not searchindex.mark_stale(conn, table):
            return False
    return searchindex.drop_triggers(conn, (table,))


def finish_search(conn: sqlite3.Connection) -> int:
    """After a pull (``run_sync``, a down bundle's import): build the index of every table a large pull
    marked stale, one rebuild per table, in a transaction of its own, so the pull's pages commit at the
    cost of a bare upsert and the build is paid once. Until it commits the search scans those tables
    (same results); a kill leaves the mark and the next call builds it. Returns rows indexed (0: nothing
    stale, no transaction taken)."""
    if not searchindex.stale(conn):
        return 0
    with tx(conn):
        return searchindex.refresh(conn)


def _apply_hub_requests(conn: sqlite3.Connection, block: dict[str, Any]) -> int:
    ci: dict[str, Any] = {c: i for i, c in enumerate(block["cols"])}
    if block.get("named"):
        ci = {c: c for c in block["cols"]}
    fields = ("id", "status", "s_rev", "h_rev", "seq", *HUB_REQUEST_FIELDS)
    incoming = {r[ci["id"]]: {f: r[ci[f]] for f in fields} for r in block["rows"]}
    ids = list(incoming)
    local: dict[str, dict[str, Any]] = {}
    sel = ", ".join(fields)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        for r in conn.execute(
            f"SELECT {sel} FROM request WHERE id IN ({', '.join('?' * len(chunk))})", chunk
        ):
            local[r[0]] = dict(zip(fields, r, strict=True))
    code = station_code(conn) or ""
    for rid, inc in incoming.items():
        loc = local.get(rid)
        if loc is None or int(inc["h_rev"] or 0) <= int(loc["h_rev"] or 0):
            continue
        adopt = int(inc["s_rev"] or 0) >= int(loc["s_rev"] or 0)
        new_status = inc["status"] if adopt else loc["status"]
        data: dict[str, Any] = {"h_rev": inc["h_rev"], **{f: inc[f] for f in HUB_REQUEST_FIELDS}}
        if inc["status"] != loc["status"]:
            data["hub_status"] = inc["status"]
            data["adopted"] = adopt
        else:  # the province's status this station's push overrode (the hub row no longer says it)
            overridden = _overridden_hub_status(conn, rid, loc["status"], inc["h_rev"])
            if overridden is not None:
                data["hub_status"] = overridden
                data["adopted"] = False
        changes = {f: inc[f] for f in HUB_REQUEST_FIELDS}
        changes.update(h_rev=inc["h_rev"], seq=inc["seq"], status=new_status)
        # a hub reopen clears what the station's reopen clears; the event says so (the fold takes a
        # column of its data outright), so the row and the chain agree
        cleared = domain.move_clears(loc["status"], new_status)
        changes.update(cleared)
        data.update(cleared)
        event = dict(
            at=to_db(env_now()),
            keep_order=True,  # the ledger stays in time order even on a slow clock
            actor="hub",
            kind="hub",
            from_status=loc["status"],
            to_status=new_status,
            note=inc.get("hub_note"),
            data=data,
        )
        # the hub's fields are not pushed back; the event is (both chains stay identical)
        write.update_request(conn, loc, changes, code, event=event, push=False)
    return len(incoming)


def _overridden_hub_status(conn: sqlite3.Connection, rid: str, status: Any, h_rev: Any) -> str | None:
    """The status the province had set on request ``rid`` that this station's offline move (to
    ``status``) overrode at the hub, as the push reply told it (an unresolved ``sync_conflict``
    ``station_overrides_hub_status`` kept by ``client.keep_overrides``), not yet said by a ``hub``
    event: the hub's row, pulled after the push, already holds the station's status, so the ``hub``
    event that records the province's decision says it in its data (``hub_status``, ``adopted``
    false: the timeline reads that the province set it and the station's move overrode it). The
    conflict is marked said (``event_h_rev``) so a later hub change does not say it again."""
    rows = conn.execute(
        "SELECT id, detail FROM sync_conflict WHERE table_name = 'request' AND row_id = ? AND kind = ? "
        "AND resolved = 0 ORDER BY at DESC",
        (rid, domain.HUB_STATUS_OVERRIDDEN),
    ).fetchall()
    for cid, text in rows:
        try:
            detail = json.loads(text)
        except ValueError:
            continue
        if not isinstance(detail, dict) or "event_h_rev" in detail or detail.get("status") != status:
            continue
        hub_status = detail.get("hub_status")
        if not isinstance(hub_status, str) or hub_status == status:
            continue
        # a hub event already said it (the station pulled the province's move before its push
        # overrode it, e.g. a down bundle first): marked said, not said again
        last = conn.execute(
            "SELECT data FROM request_event WHERE request_id = ? AND kind = 'hub' ORDER BY n DESC LIMIT 1",
            (rid,),
        ).fetchone()
        try:
            said = json.loads(last[0]) if last is not None and last[0] else {}
        except ValueError:
            said = {}
        already = isinstance(said, dict) and said.get("hub_status") == hub_status
        detail["event_h_rev"] = said.get("h_rev") if already else h_rev
        conn.execute(
            "UPDATE sync_conflict SET detail = ? WHERE id = ?", (json.dumps(detail, ensure_ascii=False), cid)
        )
        return None if already else hub_status
    return None


def start_resync(conn: sqlite3.Connection) -> None:
    """The hub answered 410 (our cursor is below its tombstone horizon): mark every library row
    (``seq = -1``) and restart a snapshot pass at 0. The pull cursor itself is left alone (monotonic);
    the pass has its own ``resync_cursor``. Requests and the outbox are never touched."""
    with tx(conn):
        _mark_library(conn)
        kv_set(conn, "resync", 1)
        kv_set(conn, "resync_cursor", 0)


def resyncing(conn: sqlite3.Connection) -> bool:
    return kv_get(conn, "resync") == "1"


def _mark_library(conn: sqlite3.Connection) -> None:
    for t in DOWN_TABLES:
        conn.execute(f"UPDATE {t} SET seq = -1")


def _sweep_library(conn: sqlite3.Connection) -> int:
    """End of a snapshot pass: library rows the hub no longer has (their tombstones were purged)."""
    n = sum(conn.execute(f"DELETE FROM {t} WHERE seq < 0").rowcount for t in DOWN_TABLES)
    write.flush_search(conn)
    return n


def apply_page(
    conn: sqlite3.Connection,
    page: dict[str, Any],
    *,
    acked: int | None = None,
    extra_kv: dict[str, str] | None = None,
    snapshot: bool = False,
) -> dict[str, Any]:
    """Apply one page and move the cursor in the SAME transaction (a crash loses at most this page).

    During a resync pass (``start_resync``) pages advance ``resync_cursor``; the last page sweeps the
    unseen library rows and moves ``pull_cursor``. ``snapshot``: the page is a whole snapshot (a
    resync down bundle): mark, apply, sweep in this one transaction."""
    frm, to = int(page.get("since", 0)), int(page["next"])
    swept = 0
    stale = False
    with tx(conn):
        cur = kv_int(conn, "pull_cursor")
        n = 0
        if snapshot:
            stale = to <= cur
            if frm != 0:
                raise SyncError(400, "bad_bundle", "a snapshot must start at hub seq 0")
            if to > cur:
                _mark_library(conn)
                n = apply_tables(conn, page.get("tables") or {}, resync=True)
                swept = _sweep_library(conn)
                kv_set(conn, "pull_cursor", to)
                kv_del(conn, "resync")
                kv_del(conn, "resync_cursor")
        elif resyncing(conn):
            rc = kv_int(conn, "resync_cursor")
            if frm > rc:
                raise SyncError(
                    409,
                    "gap",
                    f"snapshot page starts at hub seq {frm} but the resync is at {rc}",
                    expected=rc,
                )
            n = apply_tables(conn, page.get("tables") or {}, resync=True)
            kv_set(conn, "resync_cursor", max(rc, to))
            if not page.get("more"):
                swept = _sweep_library(conn)
                kv_set(conn, "pull_cursor", max(cur, to))
                kv_del(conn, "resync")
                kv_del(conn, "resync_cursor")
        else:
            stale = to <= cur
            if frm > cur:
                raise SyncError(
                    409,
                    "gap",
                    f"changes start after hub seq {frm} but this station is at {cur}: need an earlier bundle / 缺少更早的数据包",
                    expected=cur,
                )
            if to > cur:
                n = apply_tables(conn, page.get("tables") or {})
                kv_set(conn, "pull_cursor", to)
        if acked is not None:
            old = kv_int(conn, kvkeys.ACKED_OSEQ)
            if acked > old:
                kv_set(conn, kvkeys.ACKED_OSEQ, acked)
            conn.execute("DELETE FROM outbox WHERE oseq <= ?", (max(acked, old),))
        hz = page.get("horizon")
        hz = hz if isinstance(hz, int) and not isinstance(hz, bool) else 0
        known = kv_int(conn, "tombstone_horizon")
        if hz > known or (known and not page.get("more")):
            # the hub purged its tombstones up to this seq: drop our copies too (libraries stay equal;
            # also at the end of each pull, for tombstones an older bundle brought back)
            for t in DOWN_TABLES:
                conn.execute(f"DELETE FROM {t} WHERE deleted = 1 AND seq > 0 AND seq <= ?", (max(hz, known),))
            write.flush_search(conn)
            if hz > known:
                kv_set(conn, "tombstone_horizon", hz)
        for k, v in (extra_kv or {}).items():
            kv_set(conn, k, v)
        cur_after = kv_int(conn, "pull_cursor")
    return {"applied": n, "cursor": cur_after, "stale": stale, "swept": swept}


def lines_to_tables(changes: bytes | bytearray) -> dict[str, Any]:
    """Down-bundle ``changes.jsonl`` -> {table: {cols, rows (dicts), named}}. Fast path: the hub writes
    each table's lines together as ``{"t":"<table>","row":{...}}``, so each run of lines becomes one
    JSON array of row objects (one ``json.loads``, no wrapper objects, no per-row Python step);
    anything else takes the general per-line path."""
    body = changes.strip()
    if not body:
        return {}
    try:
        got = _runs_to_tables(body)
    except ValueError:
        got = None
    return got if got is not None else _lines_to_tables_slow(body)


def _runs_to_tables(body: bytes | bytearray) -> dict[str, Any] | None:
    lines = body.split(b"\n")
    tables: dict[str, Any] = {}
    pos, n = 0, len(lines)
    while pos < n:
        line = lines[pos]
        q = line.find(b'"', 6)
        if not line.startswith(b'{"t":"') or q < 0 or line[q : q + 9] != b'","row":{':
            return None
        prefix = line[: q + 8]
        t = line[6:q].decode("utf-8")
        end = pos + 1
        while end < n and lines[end].startswith(prefix):
            end += 1
        k = len(prefix)
        rows = json.loads(b"[" + b",".join([ln[k:-1] for ln in lines[pos:end]]) + b"]")
        if not rows or t in tables:
            return None
        ncols = len(rows[0]) if type(rows[0]) is dict else -1
        for r in rows:
            if type(r) is not dict or len(r) != ncols:
                return None
        tables[t] = {"cols": list(rows[0]), "rows": rows, "named": True}
        pos = end
    return tables


def _lines_to_tables_slow(body: bytes | bytearray) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    try:  # one parse for the whole file (lines never contain raw newlines)
        items = json.loads(b"[" + body.replace(b"\n", b",") + b"]")
    except ValueError:
        raise SyncError(400, "bad_bundle", "changes.jsonl is not JSON lines") from None
    for i, ch in enumerate(items, start=1):
        try:
            t, row = ch["t"], ch["row"]
            block = tables.get(t)
            if block is None:
                block = tables[t] = {"cols": list(row), "rows": [], "named": True}
            elif len(row) != len(block["cols"]):
                row = {c: row.get(c) for c in block["cols"]}
            block["rows"].append(row)
        except (KeyError, TypeError, AttributeError):
            raise SyncError(400, "bad_bundle", f"changes.jsonl line {i} is not a change") from None
    return tables


def log_start(conn: sqlite3.Connection, mode: str) -> int:
    with tx(conn):
        cur = conn.execute(
            "INSERT INTO sync_log(started_at, mode, pushed, pulled, ok) VALUES (?, ?, 0, 0, 0)",
            (to_db(env_now()), mode),
        )
    return int(cur.lastrowid or 0)


BUNDLE_IN_WAITING = kvkeys.BUNDLE_IN_WAITING


def log_end(
    conn: sqlite3.Connection,
    log_id: int,
    *,
    pushed: int,
    pulled: int,
    ok: bool,
    error: str | None,
    mode: str | None = None,
) -> None:
    """The sync log's row ``log_id`` finished; ``ok`` records ``last_success`` unless ``mode`` is
    :data:`BUNDLE_IN_WAITING` (the row's mode then becomes it)."""
    now = to_db(env_now())
    with tx(conn):
        conn.execute(
            "UPDATE sync_log SET finished_at = ?, pushed = ?, pulled = ?, ok = ?, error = ?, "
            "mode = COALESCE(?, mode) WHERE id = ?",
            (now, pushed, pulled, 1 if ok else 0, error, mode, log_id),
        )
        if ok and mode != BUNDLE_IN_WAITING:
            kv_set(conn, kvkeys.LAST_SUCCESS, now)
            kv_del(conn, "last_error")
        elif error:
            kv_set(conn, "last_error", f"{now} {error}")
