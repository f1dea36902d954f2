"""Load the demo data (``data/demo/*.json``) into a station database: ``qi-station init --demo``.

What goes in, in ONE transaction (a crash or an error leaves nothing half-loaded):

- the four libraries and the enterprises from ``data/demo`` (written by ``data/make_demo.py``),
  written by :func:`qi_station.db.write.upsert_library_rows`, so ``name_py`` / ``name_initials`` /
  ``haystack`` come from :func:`qi_station.db.searchtext.prepare`
  (pypinyin plus the Shandong override dictionary; experts read as person names) and each
  enterprise checked by :func:`qi_station.services.enterprises.check_enterprise` (USCC, phone);
- certificate expiries: the JSON stores day offsets (``cma_expiry_days`` …) and they are turned
  into dates relative to ``today`` here, so some certificates are always "expiring within 90
  days" and some always "expired", whenever the demo is loaded;
- ``requests`` requests (default 480) spread over the 12 **whole months before this one** (every event
  before the 1st of ``today``'s month, Asia/Shanghai: this month's report, 本月 figures and the
  dashboard's 今日 start empty of demo work, so the operator's own work is what they count), in every status,
  each with its full hash-chained event history (``core.chain.verify_chain`` accepts it), outcomes on
  resolved ones, satisfaction on closed ones, referrals to library items, some overdue; numbers
  ``STATION-YYYYMM-NNNN`` with this station's code, and the ``ledger_seq:`` counters set so
  ``db.write.next_ledger_no`` continues after them;
- this station's row if there is none yet (the defaults of ``services.station.ensure_station``).

Demo rows are NOT written to the outbox: they are sample data, not station changes to push to the
hub. The requests and enterprises loaded are listed in ``kv demo_rows`` (``db.write.DEMO_ROWS``), so
later changes to them are not pushed either (``db.write.write_outbox``) and ``qi-station demo remove``
(:func:`remove_demo`) deletes them, never real work. Bulk writes only (``db.write``'s ``executemany`` on a plain ``sqlite3`` connection).

Idempotent: on a database that already has the demo library nothing is written and the result is
``{"skipped": True, ...}``. Deterministic: the same ``seed`` and ``today`` give the same rows.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from qi_station.core.clock import TZ
from qi_station.core.validate import parse_elements
from qi_station.db import kvkeys, write
from qi_station.devtools.generate import fields as g
from qi_station.devtools.generate import library as lib
from qi_station.devtools.generate.requests import REQUEST_COLUMNS, EntRef
from qi_station.devtools.generate.run import self_station
from qi_station.devtools.generate.synth import synth_requests
from qi_station.services.demo import KIND_FILES, read_demo


def _anchor(today: date | None) -> datetime:
    """The demo's "now" (aware): ``today`` at 17:30 Asia/Shanghai, never later than the clock."""
    from qi_station.core.clock import env_now, local

    real = local(env_now().replace(second=0, microsecond=0))
    if today is None:
        return real
    at = datetime.combine(today, time(17, 30), tzinfo=TZ)
    return min(at, real)


def load_demo(
    db_path: Path | str,
    *,
    seed: int = 2021,
    requests: int = 480,
    today: date | None = None,
    data_dir: Path | None = None,
    id_seed: str | None = None,
) -> dict[str, Any]:
    """Load the demo library, enterprises and ``requests`` requests. Returns counts (see module doc).

    The demo enterprises get ids of this station's own (UUIDv7 drawn from ``id_seed``, by default a
    fresh random value), never the fixed ids of ``data/demo``: a demo enterprise that real work makes
    real is pushed, and two stations loaded from the same demo must not push the same id."""
    import secrets as _secrets

    from qi_station.core.ids import uuid7
    from qi_station.db.engine import connect, open_db
    from qi_station.services.enterprises import EnterpriseInput, check_enterprise

    path = open_db(db_path)
    data = read_demo(data_dir)
    anchor = _anchor(today)
    day0 = anchor.date()
    now_ms = g.to_ms(anchor)
    # the demo ledger ends a minute before this month began: no demo event is this month's work
    ledger_ms = g.to_ms(datetime(day0.year, day0.month, 1, tzinfo=TZ)) - 60_000
    # ... and begins on the 1st of the month a year before this one: 12 whole months, never a 13th (a
    # fixed 12 × 30.44 days back from the 28th of February would reach into the February before)
    first_ms = g.to_ms(datetime(day0.year - 1, day0.month, 1, tzinfo=TZ))
    span_months = (ledger_ms - first_ms - 60_000) / (30.44 * g.DAY_MS)
    rng = random.Random(seed)
    id_rng = random.Random(id_seed if id_seed is not None else _secrets.token_hex(16))
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            first = data["experts"][0]["id"]
            if (
                conn.execute("SELECT 1 FROM kv WHERE k = ?", (kvkeys.DEMO_LOADED,)).fetchone()
                or conn.execute("SELECT 1 FROM expert WHERE id = ?", (first,)).fetchone()
            ):
                conn.execute("ROLLBACK")
                return {"skipped": True, "reason": "demo library already present / 演示数据已存在"}
            code = self_station(conn, rng, now_ms)

            def stamp() -> str:
                return g.fmt_ms(now_ms - rng.randrange(30 * g.DAY_MS, 400 * g.DAY_MS))

            counts: dict[str, Any] = {"skipped": False}
            refs: dict[str, list[tuple[str, str]]] = {}
            columns = {
                "expert": lib.EXPERT_COLUMNS,
                "institution": lib.INSTITUTION_COLUMNS,
                "equipment": lib.EQUIPMENT_COLUMNS,
                "project": lib.PROJECT_COLUMNS,
            }
            for table in ("institution", "expert", "equipment", "project"):
                rows = []
                for raw in data[KIND_FILES[table]]:
                    r = dict(raw)
                    if table == "institution":
                        for k in ("cma", "cnas"):
                            off = r.pop(f"{k}_expiry_days", None)
                            r[f"{k}_expiry"] = (
                                (day0 + timedelta(days=off)).isoformat() if off is not None else None
                            )
                    if table == "equipment":
                        r["shared"] = int(bool(r["shared"]))
                    r.update(rev=1, seq=0, deleted=0, updated_at=stamp())
                    if table == "expert":
                        r.setdefault("active_requests", 0)
                    rows.append(r)
                    refs.setdefault(table, []).append((r["id"], r["name"]))
                write.upsert_library_rows(conn, table, rows, columns[table])
                counts[KIND_FILES[table]] = len(rows)

            # enterprises: validated like a hand-typed one; an existing row with the same USCC is reused
            existing = {
                u: i
                for i, u in conn.execute("SELECT id, uscc FROM enterprise WHERE station_code = ?", (code,))
            }
            ents: list[EntRef] = []
            rows = []
            for raw in data["enterprises"]:
                e = check_enterprise(
                    EnterpriseInput(
                        raw["name"],
                        raw["uscc"],
                        raw.get("industry"),
                        raw.get("scale"),
                        raw.get("contact_name"),
                        raw.get("phone"),
                    )
                )
                # the station's own element rule (codes, each once): the shipped file lists some twice
                els = tuple(parse_elements(raw["elements"])) if raw.get("elements") else ()
                if e["uscc"] in existing:
                    ents.append(
                        EntRef(
                            existing[e["uscc"]], e["contact_name"], e["phone_e164"], e["phone_display"], els
                        )
                    )
                    continue
                ts_ms = now_ms - rng.randrange(400 * g.DAY_MS, 2000 * g.DAY_MS)
                ts = g.fmt_ms(ts_ms)
                eid = uuid7(ts_ms, id_rng.getrandbits(74))  # this station's own id (see the doc above)
                row = {
                    **e,
                    "id": eid,
                    "elements": list(els),
                    "station_code": code,
                    "s_rev": 1,
                    "seq": 0,
                    "deleted": 0,
                    "created_at": ts,
                    "updated_at": ts,
                }
                rows.append(row)
                ents.append(EntRef(eid, e["contact_name"], e["phone_e164"], e["phone_display"], els))
            write.upsert_library_rows(conn, "enterprise", rows, lib.ENTERPRISE_COLUMNS)
            counts["enterprises"] = len(rows)

            counters = write.ledger_counters(conn, code)
            n_req = n_ev = n_ref = 0
            demo_ids: list[str] = []
            for b in synth_requests(
                rng,
                requests,
                station_code=code,
                enterprises=ents,
                refs=refs,
                now_ms=ledger_ms,
                months=span_months,
                counters=counters,
                describe=True,
            ):
                write.insert_rows(conn, "request", REQUEST_COLUMNS, b.requests)
                demo_ids.extend(str(r[0]) for r in b.requests)
                write.insert_rows(conn, "request_event", write.EVENT_COLUMNS, b.events)
                write.advance_event_head(conn, [e[11] for e in b.events])
                write.insert_rows(conn, "referral", write.REFERRAL_COLUMNS, b.referrals)
                n_req += len(b.requests)
                n_ev += len(b.events)
                n_ref += len(b.referrals)
            write.set_ledger_counters(conn, counters)
            # marked as demo: never pushed (db.write.write_outbox), removable (remove_demo)
            old = write.demo_rows(conn)
            write.set_demo_rows(
                conn,
                {
                    "request": old["request"] + demo_ids,
                    "enterprise": old["enterprise"] + [str(r["id"]) for r in rows],
                },
            )
            conn.execute(
                "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (kvkeys.DEMO_LOADED, g.fmt_ms(now_ms))
            )
            counts.update(requests=n_req, events=n_ev, referrals=n_ref)
            counts["overdue"] = conn.execute(
                "SELECT count(*) FROM request WHERE station_code = ? AND status IN "
                "('new','accepted','in_progress','referred','waiting','on_hold') AND promised_date < ?",
                (code, day0.isoformat()),
            ).fetchone()[0]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    counts["station_code"] = code
    counts["today"] = day0.isoformat()
    return counts


_LIBRARY = ("expert", "institution", "equipment", "project")


def remove_demo(db_path: Path | str, *, data_dir: Path | None = None) -> dict[str, int]:
    """Delete every demo row, in ONE transaction: the demo requests with their events and referrals,
    the demo enterprises no real request refers to, and the demo library rows (ids from ``data/demo``)
    the hub never sent (``seq = 0``) and no real referral names. Real work is never touched; the
    ledger counters stay where they are (a number is never reused); the running head is sealed again
    over the events left. Refused (``ValidationError("demo", "head_sent")``, nothing written) once the
    station sent its running head to a hub (a push or an up bundle): the hub's head counts the demo
    events, and removing them would rewrite history the hub holds. Returns counts per table."""
    from qi_station.db.engine import connect, open_db

    path = open_db(db_path)
    try:
        data = read_demo(data_dir)
    except Exception:  # noqa: BLE001 - without the files only the marked rows go
        data = {}
    conn = connect(path)
    counts: dict[str, int] = {}
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            marked = write.demo_rows(conn)
            _check_head_not_sent(conn, marked)
            reqs = canonical_list(marked["request"])
            n = {"ids": reqs}
            counts["referral"] = conn.execute(
                "DELETE FROM referral WHERE request_id IN (SELECT value FROM json_each(:ids))", n
            ).rowcount
            counts["outbox"] = conn.execute(
                "DELETE FROM outbox WHERE table_name = 'request' AND row_id IN (SELECT value FROM json_each(:ids))",
                n,
            ).rowcount
            # request_event is append-only (triggers): lifted for this one transaction, then restored
            trig = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'request_event' "
                "AND name NOT LIKE 'report_month%' AND name NOT LIKE 'report_low_rating%'"  # the rollups' own
                # triggers take the events out
            ).fetchall()
            for name, _sql in trig:
                conn.execute(f'DROP TRIGGER "{name}"')
            counts["request_event"] = conn.execute(
                "DELETE FROM request_event WHERE request_id IN (SELECT value FROM json_each(:ids))", n
            ).rowcount
            for _name, sql in trig:
                conn.execute(sql)
            counts["request"] = conn.execute(
                "DELETE FROM request WHERE id IN (SELECT value FROM json_each(:ids))", n
            ).rowcount
            counts["enterprise"] = conn.execute(
                "DELETE FROM enterprise WHERE id IN (SELECT value FROM json_each(:ids)) "
                "AND id NOT IN (SELECT enterprise_id FROM request WHERE enterprise_id IS NOT NULL)",
                {"ids": canonical_list(marked["enterprise"])},
            ).rowcount
            for table in _LIBRARY:
                ids = canonical_list([str(r["id"]) for r in data.get(KIND_FILES[table], [])])
                counts[table] = conn.execute(
                    f"DELETE FROM {table} WHERE id IN (SELECT value FROM json_each(:ids)) AND seq = 0 "
                    "AND id NOT IN (SELECT item_id FROM referral WHERE kind = :k)",
                    {"ids": ids, "k": table},
                ).rowcount
            write.flush_search(conn)
            write.seal_event_head(conn)  # the running head over the events left
            write.set_demo_rows(conn, {})
            conn.execute("DELETE FROM kv WHERE k = ?", (kvkeys.DEMO_LOADED,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return counts


def rekey_demo(db_path: Path | str, *, data_dir: Path | None = None) -> dict[str, int]:
    """The way out for a station that loaded the demo before demo enterprises got ids of their own:
    every such station held the fixed ids of ``data/demo``, so once real work made one of them real
    (pushed), the second station to push it was refused ``[forbidden]`` on every sync. Here each
    enterprise under a fixed demo id gets a new id of this station's own, in ONE transaction
    (:func:`qi_station.db.write.rekey_enterprise`: its requests and pending outbox rows follow; the
    demo list names the new id). An enterprise the hub already took from this station (made real,
    nothing of it left in the outbox) keeps its id: the hub knows it under that id. Returns
    ``{"rekeyed": n, "kept": n}``."""
    from qi_station.core.ids import uuid7
    from qi_station.db.engine import connect, open_db
    from qi_station.services.demo import shipped_enterprise_ids

    path = open_db(db_path)
    fixed = sorted(shipped_enterprise_ids(data_dir))
    conn = connect(path)
    rekeyed = kept = 0
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            marked = write.demo_rows(conn)
            listed = set(marked["enterprise"])
            here = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM enterprise WHERE id IN (SELECT value FROM json_each(?))",
                    (canonical_list(fixed),),
                )
            ]
            for old in here:
                pending = conn.execute(
                    "SELECT 1 FROM outbox WHERE table_name = 'enterprise' AND row_id = ?", (old,)
                ).fetchone()
                if old not in listed and not pending:
                    kept += 1  # made real and taken by the hub under this id
                    continue
                new = uuid7()
                write.rekey_enterprise(conn, old, new, 0)
                if old in listed:
                    listed.discard(old)
                    listed.add(new)
                rekeyed += 1
            if rekeyed:
                write.set_demo_rows(conn, {"request": marked["request"], "enterprise": sorted(listed)})
                write.flush_search(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return {"rekeyed": rekeyed, "kept": kept}


def _head_sent(conn: Any) -> bool:
    """Has this station sent its running head to a hub (a push or an up bundle; ``acked_*`` of an older
    version)? From then on the hub's head counts every event here, the demo's included."""
    return any(
        conn.execute("SELECT 1 FROM kv WHERE k = ? AND v NOT IN ('', '0')", (k,)).fetchone()
        for k in (kvkeys.HEAD_SENT, kvkeys.ACKED_HEAD, kvkeys.ACKED_OSEQ)
    )


def removable_demo(db_path: Path | str) -> int:
    """The demo requests :func:`remove_demo` could still delete: all of them before the station's first
    sync (its head not sent yet), none after it (0 without demo data). ``sync enroll``, the first ``sync``
    and the first ``sync export-bundle`` say so while it can still be done."""
    from qi_station.db.engine import connect, open_db

    if not Path(db_path).exists():  # no database yet: nothing to say (and none made here)
        return 0
    conn = connect(open_db(db_path))
    try:
        return 0 if _head_sent(conn) else write.demo_request_count(conn)
    finally:
        conn.close()


def _check_head_not_sent(conn: Any, marked: dict[str, list[str]]) -> None:
    from qi_station.core.errors import ValidationError

    if not marked["request"]:
        return
    # Not even the demo requests the hub never received: the running head is ONE chain over every event
    # in insertion order, and the hub holds (and checks each later head against) the one it was sent;
    # taking any event out changes every head after it
    if _head_sent(conn):
        raise ValidationError(
            "demo",
            "head_sent",
            "demo data cannot be removed once this station has synced: the ledger head the hub holds counts "
            "the demo events, and removing any of them would rewrite history the hub holds. The demo rows "
            "never reach the hub and are left out of every report (this station's and the province's), so "
            "they can stay / 已同步的站点不能删除演示数据（中心保存的台账总哈希已包含演示记录，删除会改写已上报的"
            "历史）；演示数据不会上传到中心，也不计入本站和全省的报表，保留无妨",
        )


def canonical_list(ids: list[str]) -> str:
    import json

    return json.dumps(ids)
