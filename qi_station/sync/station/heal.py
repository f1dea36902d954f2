"""Restores that heal: a station behind the hub, a hub behind the station.

- **Station behind** (restored from an older backup, or a copy of an older database): the hub holds
  changes this database never made or forgot — its ack of our outbox is above ours, its ledger numbers
  above our counters. Detected by the ``kvkeys.STATION_RESTORED`` mark ``restore`` leaves, or by the hub
  refusing a push with ``station_behind`` (a "duplicate" oseq carrying a row it never saw).
  :func:`heal_station_behind` fetches our own rows back from the hub (the ``restore`` endpoint), gives a
  fresh number to every local request whose number the hub holds under another request (a
  ``renumbered`` event records it), writes the hub's rows, raises the ledger counters past every number
  either side used (``db.write.set_ledger_counters``) and moves the outbox above the hub's ack, so new
  work is never taken for a duplicate and no number is ever reused.
- **Hub behind** (restored from an older copy): the hub's ack of our outbox is below ours, so its next
  expected oseq is one we already dropped. Design: the station does not keep acknowledged outbox rows;
  it rebuilds them from its own tables — every own enterprise, then each own request's events, referrals
  and the request row (:func:`resend_all`) — numbered from the hub's ack + 1, before the still pending
  rows. The hub takes what it lacks and counts the rest as stale or duplicate (its apply is
  idempotent). The pull restarts as a snapshot pass (the hub's change numbers went back too).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qi_station.core.clock import env_now, to_db
from qi_station.core.ids import format_number, split_number
from qi_station.db import kvkeys, write
from qi_station.sync.proto import PULL_PAGE, STATION_TABLES, SyncError
from qi_station.sync.station import apply as S

Progress = Callable[[str, int, "int | None"], None]


def restore_bundle_first(code: str) -> str:
    """What a USB station restored from a backup (``kvkeys.STATION_RESTORED``) does before it sends
    anything: import the hub's restore bundle. ``sync export-bundle`` refuses with it; ``sync enroll``
    (a backup from before the enrollment, enrolled again) names it as the next step."""
    return (
        "this station was restored from a backup and may be behind the hub: first import the "
        f"hub's restore bundle (at the hub: `qi-station hub export-bundle --station {code} "
        "--restore --out DIR`; here: `qi-station sync import-bundle FILE`), or run "
        "`qi-station sync` online / 本站已从备份恢复，可能落后于中心：请先导入中心的恢复数据包"
        f"（在中心运行 qi-station hub export-bundle --station {code} --restore --out 目录；"
        "在本站运行 qi-station sync import-bundle 文件），或联网运行 qi-station sync"
    )


def restored_next_step(db_path: str | Path, lang: str = "zh") -> str | None:
    """After ``restore``: what an enrolled station marked restored (``kvkeys.STATION_RESTORED``) does
    next, in ``lang`` -- online: ``qi-station sync`` (it first takes back from the hub what the backup
    lacks); by bundle: the hub's restore bundle first (``sync export-bundle`` refuses until then,
    :func:`restore_bundle_first`). None when the station is not marked or not enrolled."""
    try:
        conn = sqlite3.connect(f"file:{Path(db_path)}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        keys = (kvkeys.STATION_RESTORED, kvkeys.ENROLL_MODE, kvkeys.STATION_CODE)
        kv = dict(conn.execute("SELECT k, v FROM kv WHERE k IN (?, ?, ?)", keys).fetchall())
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    mode = kv.get(kvkeys.ENROLL_MODE)
    if kv.get(kvkeys.STATION_RESTORED) != "1" or not mode:
        return None
    code = kv.get(kvkeys.STATION_CODE) or "CODE"
    en = lang == "en"
    if mode == "online":
        return (
            "next: run `qi-station sync` before new work is sent; it first takes back from the hub "
            "what this backup lacks (docs/sync.md)"
            if en
            else "下一步：请运行 qi-station sync，它先从中心取回此备份之后的数据，再上传新的工作"
        )
    if en:
        return (
            "next: import the hub's restore bundle before exporting any bundle (at the hub: "
            f"`qi-station hub export-bundle --station {code} --restore --out DIR`; here: "
            "`qi-station sync import-bundle FILE`); `sync export-bundle` refuses until then (docs/sync.md)"
        )
    return (
        "下一步：导出数据包之前，请先导入中心的恢复数据包（在中心运行 qi-station hub export-bundle "
        f"--station {code} --restore --out 目录；在本站运行 qi-station sync import-bundle 文件），"
        "在此之前 sync export-bundle 会拒绝"
    )


def fetch_own(
    cl: Any, progress: Progress | None = None, page_size: int = PULL_PAGE
) -> tuple[dict[str, tuple[list[str], list[list[Any]]]], int]:
    """This station's own rows at the hub, per table in foreign-key order, and the hub's ack."""
    fetched: dict[str, tuple[list[str], list[list[Any]]]] = {}
    acked = done = 0
    for t in STATION_TABLES:  # enterprise, request, request_event, referral, activity
        after, cols, got = "", [], []
        while True:
            page = cl.restore(t, after, page_size)
            cols = list(page["cols"])
            got.extend(page["rows"])
            acked = max(acked, int(page.get("acked_oseq") or 0))
            done += len(page["rows"])
            if progress:
                progress("restore", done, None)
            if not page["more"] or not page["rows"]:
                break
            after = str(page["last"])
        fetched[t] = (cols, got)
    return fetched, acked


def check_own(fetched: dict[str, tuple[list[str], list[list[Any]]]], code: str) -> None:
    """Every row the hub sent as ours must be ours: an enterprise, request or activity of another
    station (a token copied from another station's PC) refuses the whole restore, before anything is
    written."""
    for t, (cols, got) in fetched.items():
        if "station_code" not in cols or not got:
            continue
        i = cols.index("station_code")
        other = {str(r[i]) for r in got if r[i] != code}
        if other:
            raise SyncError(
                403,
                "wrong_station",
                f"the hub sent {t} rows of station {', '.join(sorted(other))} as this station's ({code}): the "
                "hub token on this PC belongs to another station; nothing was written / 中心返回了其他站点的数据"
                "（本机的令牌属于其他站点），未写入任何数据",
            )


def refuse_stale(conn: sqlite3.Connection, hub_acked: int, code: str) -> None:
    """A station restored from a backup: the hub's answer (a restore bundle, or the ``restore``
    endpoint) acknowledges less than the station had known before the restore (the ack of the database
    ``restore`` replaced, or of the backup, ``kvkeys.RESTORED_KNOWN_ACK``): it is older than changes the
    hub already holds, so healing from it would reuse their oseqs (``device_conflict``) and numbers.
    Refused before anything is written; the restore mark stays. (A station not restored, or already
    healed, takes an older restore bundle as before: it changes nothing it holds.)"""
    known = S.kv_int(conn, kvkeys.RESTORED_KNOWN_ACK)
    if hub_acked >= known:
        return
    raise SyncError(
        409,
        "stale_restore",
        f"the hub's restore data acknowledges this station's changes up to {hub_acked}, but this station "
        f"has known an acknowledgement up to {known}: it is older than what the hub holds; nothing was "
        f"written. Ask the hub for a current restore bundle (`qi-station hub export-bundle --station {code} "
        "--restore --out DIR`) and import that one / 中心的恢复数据只确认到第 "
        f"{hub_acked} 条，而本站已知中心确认到第 {known} 条：这是过期的恢复数据，未写入任何数据。请在中心"
        f"重新导出当前的恢复数据包（qi-station hub export-bundle --station {code} --restore --out 目录）后再导入",
    )


def move_outbox_above(conn: sqlite3.Connection, acked: int) -> None:
    """Caller holds the transaction: the ack becomes at least ``acked`` and new outbox rows (and the
    pending ones, by ``S.fix_oseq`` after commit) are numbered above it."""
    if acked > S.kv_int(conn, kvkeys.ACKED_OSEQ):
        S.kv_set(conn, kvkeys.ACKED_OSEQ, acked)
    acked = S.kv_int(conn, kvkeys.ACKED_OSEQ)
    if conn.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'outbox'").fetchone() is None:
        conn.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('outbox', ?)", (acked,))
    else:
        conn.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'outbox'", (acked,))


def adopt_hub_enterprises(
    conn: sqlite3.Connection, cols: list[str], rows: list[list[Any]]
) -> list[dict[str, str]]:
    """An enterprise is its USCC: a local enterprise of this station holding a USCC the hub holds under
    another id (registered again after a restore) takes the hub's id (``write.rekey_enterprise``), so
    the hub's rows that name that id find it. Caller holds the transaction. Returns what was re-keyed."""
    if not rows:
        return []
    ci = {c: i for i, c in enumerate(cols)}
    done = []
    for r in rows:
        hid, uscc, st = str(r[ci["id"]]), r[ci["uscc"]], r[ci["station_code"]]
        if conn.execute("SELECT 1 FROM enterprise WHERE id = ?", (hid,)).fetchone():
            continue
        loc = conn.execute(
            "SELECT id FROM enterprise WHERE station_code = ? AND uscc = ?", (st, uscc)
        ).fetchone()
        if loc is None:
            continue
        write.rekey_enterprise(conn, str(loc[0]), hid, int(r[ci["s_rev"]] or 0) if "s_rev" in ci else 0)
        done.append({"uscc": str(uscc), "from": str(loc[0]), "to": hid})
    return done


def heal_station_behind(
    conn: sqlite3.Connection, cl: Any, progress: Progress | None = None
) -> dict[str, Any]:
    """See the module doc. One transaction; returns what was done."""
    fetched, acked = fetch_own(cl, progress)
    code = S.station_code(conn) or ""
    check_own(fetched, code)
    refuse_stale(conn, acked, code)
    out: dict[str, Any] = {"hub_acked_oseq": acked, "renumbered": [], "recovered": {}}
    with S.tx(conn):
        rcols, rrows = fetched["request"]
        ri = {c: i for i, c in enumerate(rcols)}
        hub_no = {str(r[ri["number"]]): str(r[ri["id"]]) for r in rrows}
        counters = write.ledger_counters(conn, code)
        for no in hub_no:
            parts = split_number(no)
            if parts and parts[1] > counters.get(parts[0], 0):
                counters[parts[0]] = parts[1]
        # 1. a local request holding a number the hub gave another request gets the next free number
        now = to_db(env_now())
        for no, hid in hub_no.items():
            loc = write.fetch_dict(conn, "SELECT * FROM request WHERE number = :n", {"n": no})
            if loc is None or loc["id"] == hid:
                continue
            pre = no.rpartition("-")[0]
            counters[pre] = counters.get(pre, 0) + 1
            new = format_number(pre, counters[pre])
            write.update_request(
                conn,
                loc,
                {"number": new, "s_rev": int(loc["s_rev"]) + 1, "updated_at": now},
                code,
                event=dict(
                    at=now,
                    keep_order=True,
                    actor="sync",
                    kind="renumbered",
                    note=f"{no} → {new}",
                    data={"from": no, "to": new},
                ),
            )
            # its outbox rows not yet sent carry the new number too (the hub holds the old one)
            conn.execute(
                "UPDATE outbox SET row_json = json_set(row_json, '$.number', ?) "
                "WHERE table_name = 'request' AND row_id = ?",
                (new, loc["id"]),
            )
            out["renumbered"].append({"id": loc["id"], "from": no, "to": new})
        # 2. the hub's rows: missing ones written; a request the hub has seen more changes of (and with
        #    nothing of ours pending) takes the hub's row
        out["rekeyed"] = adopt_hub_enterprises(conn, *fetched["enterprise"])
        refold: set[str] = set()  # requests the hub's events were added to
        for t, (cols, got) in fetched.items():
            if not got:
                out["recovered"][t] = 0
                continue
            local = set(S._cols(conn, t))
            keep = [i for i, c in enumerate(cols) if c in local]
            kc = [cols[i] for i in keep]
            if t == "request_event":  # never a second event at a position our chain already holds
                ci = {c: i for i, c in enumerate(cols)}
                held = set(conn.execute("SELECT request_id, n FROM request_event").fetchall())
                got = [r for r in got if (r[ci["request_id"]], r[ci["n"]]) not in held]
            out["recovered"][t] = write.insert_missing_rows(conn, t, kc, [[r[i] for i in keep] for r in got])
            if t == "request_event" and got:
                refold.update(str(r[ci["request_id"]]) for r in got)
            if t == "request":
                for r in got:
                    row = {kc[j]: r[i] for j, i in enumerate(keep)}
                    loc = write.fetch_dict(
                        conn, "SELECT s_rev FROM request WHERE id = :id", {"id": row["id"]}
                    )
                    busy = conn.execute(
                        "SELECT 1 FROM outbox WHERE table_name = 'request' AND row_id = ?", (row["id"],)
                    ).fetchone()
                    if loc and int(row.get("s_rev") or 0) > int(loc["s_rev"] or 0) and not busy:
                        write.update_row(
                            conn, "request", row["id"], {k: v for k, v in row.items() if k != "id"}
                        )
        # each request whose events came back is what its whole chain gives (core.chain.fold_events)
        out["refolded"] = len(write.refold_requests(conn, sorted(refold)))
        # 3. counters past every number either side used; the outbox above the hub's ack
        write.set_ledger_counters(conn, counters)  # never lowers one
        write.set_ledger_counters(conn, write.ledger_counters(conn, code))
        write.seal_event_head(conn)  # the recovered events bypassed append_event
        out["already_held"] = drop_held_backup_outbox(conn, acked)
        move_outbox_above(conn, acked)
        S.kv_del(conn, kvkeys.STATION_RESTORED)
        S.kv_del(conn, kvkeys.RESTORED_KNOWN_ACK)
        S.kv_del(conn, "restore_pending")
    S.fix_oseq(conn)
    return out


def drop_held_backup_outbox(conn: sqlite3.Connection, acked: int) -> int:
    """Caller holds the transaction: the restored backup's waiting changes (oseq up to kv
    ``RESTORED_OUTBOX_TOP``) at or below the hub's ack are the hub's already (this station sent them
    under those oseqs after the backup was made), so they are deleted, not renumbered above the ack and
    sent again (a backup made before the first sync held the whole ledger). Work done after the restore
    is numbered above that top and stays. Returns how many were dropped."""
    top = S.kv_int(conn, kvkeys.RESTORED_OUTBOX_TOP)
    S.kv_del(conn, kvkeys.RESTORED_OUTBOX_TOP)
    if top <= 0:
        return 0
    return int(conn.execute("DELETE FROM outbox WHERE oseq <= ?", (min(top, acked),)).rowcount)


def resend_all(conn: sqlite3.Connection, hub_acked: int) -> int:
    """The hub is behind (restored from an older copy): rebuild outbox rows for every own row,
    numbered from ``hub_acked + 1``, ahead of the pending rows; the ack drops to the hub's; the next
    pull is a snapshot pass. Returns the number of rows queued again."""
    code = S.station_code(conn) or ""
    with S.tx(conn):
        pending = conn.execute(
            "SELECT table_name, row_id, op, row_json, hlc, created_at FROM outbox ORDER BY oseq"
        ).fetchall()
        conn.execute("DELETE FROM outbox")
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'outbox'", (hub_acked,))
        S.kv_set(conn, kvkeys.ACKED_OSEQ, hub_acked)
        write.forget_generated(conn)  # every own row goes to the hub now, generated ones too
        n = 0
        for row in _dicts(conn, "SELECT * FROM enterprise WHERE station_code = ? ORDER BY id", (code,)):
            write.write_outbox(conn, "enterprise", row["id"], "upsert", row, code)
            n += 1
        for (rid,) in conn.execute(
            "SELECT id FROM request WHERE station_code = ? ORDER BY created_at, id", (code,)
        ).fetchall():
            for t, order in (("request_event", "n"), ("referral", "created_at, id")):
                for row in _dicts(conn, f"SELECT * FROM {t} WHERE request_id = ? ORDER BY {order}", (rid,)):
                    write.write_outbox(conn, t, row["id"], "insert", row, code)
                    n += 1
            req = _dicts(conn, "SELECT * FROM request WHERE id = ?", (rid,))[0]
            write.write_outbox(conn, "request", rid, "upsert", req, code)
            n += 1
        for row in _dicts(conn, "SELECT * FROM activity WHERE station_code = ? ORDER BY id", (code,)):
            write.write_outbox(conn, "activity", row["id"], "insert", row, code)
            n += 1
        conn.executemany(
            "INSERT INTO outbox (table_name, row_id, op, row_json, hlc, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            pending,
        )
    S.start_resync(conn)
    return n


def _dicts(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def hub_is_behind(conn: sqlite3.Connection, err: Any) -> int | None:
    """A push refused as a gap (or a pull page, ``hub_behind``) whose hub ack is below ours: the hub lost
    changes. Returns the hub's ack, else None."""
    got = (getattr(err, "data", None) or {}).get("acked_oseq")
    if (
        getattr(err, "code", "") in ("gap", "hub_behind")
        and isinstance(got, int)
        and got < S.kv_int(conn, kvkeys.ACKED_OSEQ)
    ):
        return got
    return None
