"""Station-side sync client. Plain functions the CLI and the TUI's Sync screen (from a thread worker) call:

    sync_status(db_path) -> dict
    run_sync(db_path, progress=None) -> dict
    enroll(db_path, token, hub=None) -> dict

USB bundles (``export_bundle``, ``import_bundle``) are in :mod:`qi_station.sync.station.bundles`.

``progress`` is called as ``progress(phase, done, total)`` with phase "push" or "pull"; total may be None.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qi_station.core.chain import canonical
from qi_station.core.clock import iso_local
from qi_station.db import kvkeys, write
from qi_station.services.locks import SYNC_LOCK_SUFFIX as SYNC_LOCK
from qi_station.services.station import profile as station_profile
from qi_station.sync.proto import (
    PULL_PAGE,
    PUSH_BATCH,
    SyncError,
    check_hub_url,
    enroll_proof,
    parse_enroll_token,
)
from qi_station.sync.station import apply as S
from qi_station.sync.station import heads as H
from qi_station.sync.station import heal
from qi_station.sync.station.wire import HubClient, TransientError, prove_hub

Progress = Callable[[str, int, "int | None"], None]


# ---- status -----------------------------------------------------------------------------------
def enrolment_check(conn: Any) -> dict[str, Any]:
    """Whether this station's enrolment can be used on THIS PC: ``enrolment_usable`` (None: not
    enrolled) and, when it cannot, ``next_step``. The key and the hub token live in the secrets file
    outside the database (:mod:`qi_station.db.secrets`), so a database restored on another PC (or
    after its secrets file was lost) still says it is enrolled but has neither: it must be enrolled
    again (the hub reissues a token). Online needs the hub's address, its pinned key, the token and this
    station's key; a bundle station its key (the hub checks every bundle's signature against it)."""
    from qi_station.db import secrets

    mode = S.kv_get(conn, "enroll_mode")
    try:
        usable = secrets.enrolment_usable(secrets.db_file(conn), mode, bool(S.kv_get(conn, "hub_pubkey")))
    except ValueError:  # an in-memory database: nothing to check
        usable = None
    if usable is not False:
        return {"enrolment_usable": usable}
    code = S.kv_get(conn, "station_code") or S.station_code(conn) or "CODE"
    url = S.kv_get(conn, "hub_url")
    enrol = (
        f"qi-station sync enroll --hub {url} --token TOKEN" if url else "qi-station sync enroll --token TOKEN"
    )
    return {
        "enrolment_usable": False,
        "next_step": (
            f"enrolled ({mode}) but not usable on this PC: its hub token or station key is not here (a "
            "database restored from a backup, or on a new PC; a backup never carries them). Ask the hub's "
            f"administrator for `qi-station hub add-station {code} --name NAME --reissue`, then run `{enrol}`; "
            "nothing recorded here is lost / 已注册但本机无法使用：本机没有站点令牌或密钥（从备份恢复或更换电脑后），"
            f"请联系中心管理员重新签发（hub add-station {code} --reissue），再运行 {enrol} 重新注册；本机数据不会丢失"
        ),
    }


def sync_status(db_path: str | Path | None) -> dict[str, Any]:
    conn = S.open_conn(db_path)  # type: ignore[arg-type]
    try:
        conflicts = conn.execute("SELECT COUNT(*) FROM sync_conflict WHERE resolved = 0").fetchone()[0]
        return {
            "hub": S.kv_get(conn, "hub_url"),
            "last_success": iso_local(S.kv_get(conn, kvkeys.LAST_SUCCESS)),
            "pending": S.pending(conn),
            "last_error": S.kv_get(conn, "last_error"),
            "station": S.station_code(conn),
            "enrolled": S.kv_get(conn, "enroll_mode"),
            **enrolment_check(conn),
            "pull_cursor": S.kv_int(conn, "pull_cursor"),
            "acked_oseq": S.kv_int(conn, kvkeys.ACKED_OSEQ),
            "conflicts": int(conflicts),
            "resyncing": S.resyncing(conn),
            "restore_pending": S.kv_get(conn, "restore_pending") == "1",
        }
    finally:
        conn.close()


# ---- enroll -----------------------------------------------------------------------------------
def _check_local_code(db_path: Path, code: str) -> None:
    conn = S.open_conn(db_path)
    try:
        cur = S.station_code(conn)
        nreq = S.real_requests(conn)  # demo requests stay local under the code they were made with
        if cur and cur != code and nreq:
            raise SyncError(
                400,
                "code_mismatch",
                f"this station already logs requests as {cur!r}; the token is for {code!r} / 站点编码不一致",
            )
        if S.kv_get(conn, "hub_pubkey") or S.kv_get(conn, "enroll_mode") == "online":
            if S.kv_get(conn, "station_code") not in (None, code):
                raise SyncError(400, "already_enrolled", "this station is already enrolled with another code")
    finally:
        conn.close()


def enroll(
    db_path: str | Path | None,
    token: str,
    hub: str | None = None,
    *,
    http: Any = None,
    cafile: str | Path | None = None,
    insecure_http: bool = False,
) -> dict[str, Any]:
    """Online (``hub`` given): first make the server prove it holds the hub key whose fingerprint the
    token carries (and, over https, that it serves the certificate this PC met), and only then post our
    public key with the one-time token; get a bearer token (kept in the secrets file), pin the hub key and
    the certificate (or trust ``cafile``). Offline: remember proof of the token; the first up bundle
    carries it and the hub's reply bundle pins the hub key.

    ``http``: an injected client (the tests' in-process transport); the http:// rule applies to real
    connections this function opens itself."""
    import json

    from qi_station.db import secrets
    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station
    from qi_station.sync import keys
    from qi_station.sync.proto import enroll_key_message

    code, fp, _ = parse_enroll_token(token)
    p = open_db(db_path)
    _check_local_code(p, code)
    conn = S.open_conn(p)
    try:
        priv, pub = S.signing_key(conn)
        own = station_profile(conn)  # None: no station row yet (enrolled before `init`)
        if hub:
            url = check_hub_url(hub, insecure_http) if http is None else hub.rstrip("/")
            ca_pem = Path(cafile).read_text(encoding="utf-8") if cafile else None
            hub_pub, tls = prove_hub(url, fp, http=http, cafile_pem=ca_pem)
            cl = HubClient(url, http=http, hub_pubkey=hub_pub, tls=tls)
            try:
                try:
                    proof = keys.sign(priv, enroll_key_message(code, pub))  # it holds the key
                    got = cl.enroll(token.strip(), pub, own, key_proof=proof)
                except TransientError as e:
                    raise SyncError(503, "unreachable", str(e)) from None
            finally:
                cl.close()
            if got.get("hub_pubkey") != hub_pub:
                raise SyncError(
                    400,
                    "hub_key_mismatch",
                    "the hub's key does not match the enrollment token (wrong hub?) / 中心密钥与注册码不符",
                )
            if own is None:  # a fresh station takes the profile the hub holds (hub add-station)
                init_station(p, code=code, name=got.get("station_name") or None, **hub_profile(got))
            else:
                init_station(p, code=code, name=got.get("station_name") or None)
            secrets.save(secrets.db_file(conn), api_token=got["api_token"])
            with S.tx(conn):
                for k, v in (
                    ("hub_url", url),
                    ("hub_id", got["hub_id"]),
                    ("hub_pubkey", hub_pub),
                    ("hub_fp", fp),
                    ("station_id", got["station_id"]),
                    ("enroll_mode", "online"),
                    ("station_code", code),
                ):
                    S.kv_set(conn, k, v)
                S.kv_del(conn, "hub_tls")
                S.kv_del(conn, "insecure_http")
                if tls:
                    S.kv_set(conn, "hub_tls", json.dumps(tls))
                if insecure_http:
                    S.kv_set(conn, "insecure_http", 1)
                S.kv_del(conn, "enroll_proof")
                # a re-enrollment on a fresh database: the hub holds this station's rows -> restore them
                if int(got.get("own_requests") or 0) and not S.real_requests(conn):
                    S.kv_set(conn, "restore_pending", 1)
            out: dict[str, Any] = {
                "station": code,
                "station_id": got["station_id"],
                "hub": url,
                "mode": "online",
            }
            if tls:
                out["tls"] = tls["mode"]
            if S.kv_get(conn, "restore_pending") == "1":
                cl = hub_client(conn, http=http, insecure_http=insecure_http)
                try:
                    out["restored"] = restore_all(conn, cl)
                except TransientError as e:  # kept pending: `qi-station sync` finishes it first
                    out["restore_error"] = str(e)
                finally:
                    cl.close()
            return out
        init_station(p, code=code)
        with S.tx(conn):
            S.kv_set(conn, "enroll_proof", enroll_proof(token.strip(), pub))
            S.kv_set(conn, "hub_fp", fp)
            S.kv_set(conn, "enroll_mode", "offline-pending")
            S.kv_set(conn, "station_code", code)
        restored = S.kv_get(conn, kvkeys.STATION_RESTORED) == "1"  # a backup from before: behind the hub
        return {
            "station": code,
            "mode": "offline-pending",
            "next_step": "restore_bundle" if restored else "export_bundle",  # what `next` says, as a code
            "next": heal.restore_bundle_first(code)
            if restored
            else "run `qi-station sync export-bundle --out FILE` and carry it to the hub",
        }
    finally:
        conn.close()


def hub_profile(reply: dict[str, Any]) -> dict[str, Any]:
    """The profile in an enrollment reply as ``init_station`` arguments (only the values the hub has)."""
    got = reply.get("profile")
    prof: dict[str, Any] = got if isinstance(got, dict) else {}
    names = {
        "region_code": "region_code",
        "park": "park",
        "station_type": "type_",
        "service_mode": "service_mode",
    }
    return {arg: prof[k] for k, arg in names.items() if isinstance(prof.get(k), str) and prof[k]}


def hub_client(conn: Any, *, http: Any = None, insecure_http: bool = False) -> HubClient:
    """The client for this enrolled station: its URL (the http:// rule applied to real connections;
    ``--insecure-http`` given now or at enrollment), its token from the secrets file, the pinned hub key
    and TLS settings."""
    import json

    url, token = S.kv_get(conn, "hub_url"), S.api_token(conn)
    if not url and S.kv_get(conn, "enroll_mode") in ("offline", "offline-pending"):
        raise SyncError(
            400,
            "bundle_only",
            "this station syncs by USB bundle (`qi-station sync export-bundle` / `import-bundle`); online "
            "sync needs the hub's address, set by an online enrollment (`qi-station sync enroll --hub URL "
            "--token TOKEN`) / 本站通过U盘数据包同步；联网同步需要中心地址（联网注册）",
        )
    if not url:
        raise SyncError(
            400,
            "not_enrolled",
            "this station is not enrolled online: run `qi-station sync enroll --hub URL --token TOKEN` / 尚未注册",
        )
    code = S.kv_get(conn, "station_code") or "CODE"
    if not token or not S.kv_get(conn, "hub_pubkey"):
        raise SyncError(
            400,
            "not_enrolled",
            "this station's hub token is not on this PC (a restored backup carries no key or token): ask the "
            f"hub for `qi-station hub add-station {code} --name NAME --reissue`, then run "
            f"`qi-station sync enroll --hub {url} --token TOKEN` / 本机没有站点令牌，请重新注册",
        )
    if http is None:
        url = check_hub_url(url, insecure_http or S.kv_get(conn, "insecure_http") == "1")
    tls = S.kv_get(conn, "hub_tls")
    return HubClient(
        url,
        token,
        http=http,
        hub_pubkey=S.kv_get(conn, "hub_pubkey"),
        tls=json.loads(tls) if tls else None,
        signer=H.call_signer(conn),  # push, pull and restore are signed with the station key
    )


# ---- rebuild a lost station database --------------------------------------------------------------
def restore_all(
    conn: Any, cl: HubClient, progress: Progress | None = None, page_size: int = PULL_PAGE
) -> dict[str, int]:
    """Download this station's own rows from the hub (after a re-enrollment on a fresh database) and
    write them in ONE transaction with the ledger number counters (``ledger_seq:{CODE}-{YYYYMM}``),
    the hub's ack of the old outbox and the outbox sequence above it (so nothing collides or is
    re-pushed wrongly). Idempotent: rows already here are kept; nothing is written to the outbox."""
    from qi_station.sync.station.heal import adopt_hub_enterprises, check_own, fetch_own, move_outbox_above

    fetched, acked = fetch_own(cl, progress, page_size)
    check_own(fetched, S.station_code(conn) or "")
    counts: dict[str, int] = {}
    with S.tx(conn):
        adopt_hub_enterprises(conn, *fetched["enterprise"])  # an enterprise is its USCC
        for t, (cols, got) in fetched.items():
            local = [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
            keep = [i for i, c in enumerate(cols) if c in local]
            kc = [cols[i] for i in keep]
            counts[t] = write.insert_missing_rows(conn, t, kc, [[r[i] for i in keep] for r in got])
        code = S.station_code(conn) or ""
        # the ledger counters continue after every number restored
        write.set_ledger_counters(conn, write.ledger_counters(conn, code))
        write.seal_event_head(conn)  # restored events bypassed append_event
        move_outbox_above(conn, acked)  # new changes get oseq > the hub's ack
        S.kv_del(conn, "restore_pending")
    S.fix_oseq(conn)  # rows written on this fresh database before the restore move above the ack
    return counts


# ---- HTTP sync ----------------------------------------------------------------------------------
def demo_collision_hint(e: SyncError) -> SyncError:
    """A push refused because another station holds one of our enterprise ids, and that id is one
    of the fixed ids older releases gave the demo enterprises (``data/demo``): every station loaded
    from the demo had it. Name the way out (``qi-station demo rekey``); any other refusal as it is."""
    eid = e.data.get("enterprise_id")
    if e.code != "forbidden" or not isinstance(eid, str):
        return e
    from qi_station.services.demo import shipped_enterprise_ids

    if eid not in shipped_enterprise_ids():
        return e
    return SyncError(
        e.status,
        e.code,
        f"{e.message}: it is a demo enterprise id every demo station shares; run `qi-station demo rekey` "
        "to give this station's demo enterprises ids of their own, then sync again / 演示企业编号与其他站点"
        "重复：请运行 qi-station demo rekey 后重新同步",
        **e.data,
    )


def clock_ahead_hint(conn: Any, e: SyncError, batch: list[dict[str, Any]]) -> SyncError:
    """A push refused because a change carries a time ahead of the hub's clock (``clock_ahead``) while
    this PC's clock still runs ahead (``sync.hub.rules.clock_ok``): name the request and its time, say
    what becomes of it (it stays here, unsent, and so does what is queued after it) and what to do (set
    the clock right and sync again: the hub then takes it as stamped and flags it). Any other refusal as
    it is."""
    if e.data.get("rule") != "clock_ahead":
        return e
    from qi_station.core.clock import CLOCK_GAP, env_now, to_db

    ch = next((c for c in batch if c.get("oseq") == e.data.get("oseq")), None)
    row = ch.get("row") if ch else None
    row = row if isinstance(row, dict) else {}
    table = str(e.data.get("table"))
    what = _what_changed(conn, table, row, e.data.get("oseq"))
    stamp = str(row.get(str(e.data.get("field"))))[:19]
    now = env_now()
    lim = to_db(now + CLOCK_GAP)  # by this PC's clock as it reads now: the requests stamped ahead of it
    ahead = [
        str(r[0])
        for r in conn.execute(
            "SELECT number FROM request WHERE received_at > ? OR created_at > ? ORDER BY number LIMIT 20",
            (lim, lim),
        )
    ]
    which = f" (requests stamped ahead of this PC's clock: {', '.join(ahead)})" if ahead else ""
    return SyncError(  # its own code (proto.refusal_code): the CLI's ``[clock_ahead]``, --json ``error``
        e.status,
        e.code,
        f"{e.message}: {what} is stamped {stamp}, and this PC's clock runs ahead of the hub's (it reads "
        f"{to_db(now)[:16]} UTC){which}. What was recorded stays on this PC, unsent, and so does every change "
        "queued after it. Set this PC's date and time right, then sync again: the hub then takes what was "
        "stamped ahead as it was recorded (a ledger is never re-dated) and flags it for its administrator. "
        f"Do not delete or restore the database / 本机时钟超前：{what} 的时间为 {stamp}"
        f"{'（' + '、'.join(ahead) + '）' if ahead else ''}，仍保存在本机未上传（其后的变更也一并等待）。"
        "请校正本机日期时间后重新同步：届时这些变更按原时间上传，并由中心标记供管理员核查。勿删除或恢复数据库",
        **e.data,
    )


def _what_changed(conn: Any, table: str, row: dict[str, Any], oseq: Any) -> str:
    """A change as a person knows it: ``request {number}``, ``enterprise {name}``, else its oseq."""
    rid = row.get("request_id") if table == "request_event" else row.get("id") if table == "request" else None
    got = conn.execute("SELECT number FROM request WHERE id = ?", (rid,)).fetchone() if rid else None
    if got:
        return f"request {got[0]}"
    if table == "enterprise" and row.get("name"):
        return f"enterprise {row['name']}"
    return f"change {oseq} ({table})"


def keep_clock_ahead(conn: Any, taken: list[Any], batch: list[dict[str, Any]]) -> None:
    """Keep (kv ``CLOCK_AHEAD_TAKEN``) what the hub took although this PC stamped it ahead of the hub's
    clock (``sync.hub.rules.clock_ok``): the request numbers, for the sync to say."""
    import json

    by_oseq = {c.get("oseq"): c for c in batch}
    have = json.loads(S.kv_get(conn, kvkeys.CLOCK_AHEAD_TAKEN) or "[]")
    for t in taken:
        if not isinstance(t, dict):
            continue
        ch = by_oseq.get(t.get("oseq")) or {}
        row = ch.get("row")
        what = _what_changed(conn, str(t.get("table")), row if isinstance(row, dict) else {}, t.get("oseq"))
        if what not in have:
            have.append(what)
    with S.tx(conn):
        S.kv_set(conn, kvkeys.CLOCK_AHEAD_TAKEN, json.dumps(have[:200], ensure_ascii=False))


def said_once(conn: Any, key: str) -> list[str]:
    """The messages kept under kv ``key`` (a JSON list), cleared once read."""
    import json

    got = S.kv_get(conn, key)
    if not got:
        return []
    with S.tx(conn):
        S.kv_del(conn, key)
    return [str(x) for x in json.loads(got)]


def clock_ahead_taken(conn: Any) -> str | None:
    """The message for what the hub took although stamped ahead (kv ``CLOCK_AHEAD_TAKEN``), cleared
    once read: what it is, that its times stay as stamped, and what to do. None when nothing was."""
    import json

    got = S.kv_get(conn, kvkeys.CLOCK_AHEAD_TAKEN)
    if not got:
        return None
    with S.tx(conn):
        S.kv_del(conn, kvkeys.CLOCK_AHEAD_TAKEN)
    what = json.loads(got)
    names = ", ".join(what[:20]) + (f" and {len(what) - 20} more" if len(what) > 20 else "")
    return (
        f"the hub took {names}, stamped by this PC while its clock ran ahead, as recorded (their times stay "
        "as this PC stamped them: a ledger is never re-dated) and flagged them for its administrator "
        "(conflict clock_ahead). Keep this PC's date and time right; tell the hub's administrator the real "
        f"dates if you know them / 本机时钟超前时记录的 {names} 已按原时间上传，中心已标记（clock_ahead）"
        "供管理员核查；台账时间不会改写，请保持本机日期时间正确，如知道实际日期请告知中心管理员"
    )


def override_message(number: str, hub_status: str, status: str) -> str:
    """What a station move that overrode the province's says (sync, ``request show``)."""
    from qi_station.core.domain import STATUS_ZH

    hz, sz = STATUS_ZH.get(hub_status, hub_status), STATUS_ZH.get(status, status)
    return (
        f"request {number}: the province had set it to {hub_status} (e.g. cancelled it) and this station's "
        f"change, made before it saw that, overrode it: it is {status} at the hub and here. The hub recorded "
        "the conflict (station_overrides_hub_status): agree with the province's administrator which is right "
        f"(move it again if the province's stands) / 需求 {number}：省级中心已将其改为「{hz}」（如取消），本站在看到之前"
        f"所做的变更覆盖了中心的决定，现为「{sz}」；中心已记录冲突，请与省级中心管理员核实（如以中心为准，请再次变更状态）"
    )


def keep_overrides(conn: Any, overrode: list[Any]) -> None:
    """The hub took this station's status over one the province had set (``overrode`` of its push
    reply): a move out of a status this station never had itself (a cancellation, a hold the province
    made) is kept as a ``sync_conflict`` row here (``request show`` says it) and said by the sync's result
    (kv ``HUB_STATUS_OVERRIDDEN``); a hub copy merely behind the station's own earlier moves is not."""
    import json

    from qi_station.core.clock import env_now, to_db
    from qi_station.core.domain import HUB_STATUS_OVERRIDDEN
    from qi_station.core.ids import uuid7

    said = json.loads(S.kv_get(conn, kvkeys.HUB_STATUS_OVERRIDDEN) or "[]")
    with S.tx(conn):
        for o in overrode:
            if not isinstance(o, dict) or not isinstance(o.get("id"), str):
                continue
            hub_status, status = str(o.get("hub_status")), str(o.get("status"))
            own = conn.execute(
                "SELECT 1 FROM request_event WHERE request_id = ? AND (from_status = ? OR to_status = ?) "
                "AND kind != 'hub' LIMIT 1",
                (o["id"], hub_status, hub_status),
            ).fetchone()
            got = conn.execute("SELECT number FROM request WHERE id = ?", (o["id"],)).fetchone()
            if own is not None or got is None:  # the station's own earlier status: the hub was behind
                continue
            detail = {"hub_status": hub_status, "status": status, "oseq": o.get("oseq")}
            conn.execute(
                "INSERT INTO sync_conflict (id, at, table_name, row_id, kind, detail, resolved) "
                "VALUES (?, ?, 'request', ?, ?, ?, 0)",
                (
                    uuid7(),
                    to_db(env_now()),
                    o["id"],
                    HUB_STATUS_OVERRIDDEN,
                    json.dumps(detail, ensure_ascii=False),
                ),
            )
            said.append(override_message(str(got[0]), hub_status, status))
        S.kv_set(conn, kvkeys.HUB_STATUS_OVERRIDDEN, json.dumps(said[-50:], ensure_ascii=False))


def push_all(
    conn: Any,
    cl: HubClient,
    progress: Progress | None = None,
    batch_size: int = PUSH_BATCH,
    tally: dict[str, int] | None = None,
) -> int:
    """Upload the outbox in batches; every batch carries the station's profile. With nothing to upload,
    one empty push still carries the profile when the hub has not acknowledged it as it is now. Returns
    how many changes were sent; ``tally["acked"]`` counts those the hub's reply acknowledged (its
    ``acked_oseq`` at or above their oseq), a batch acknowledged only in part too."""
    S.fix_oseq(conn)
    total = S.pending(conn)
    done = 0
    profile = station_profile(conn)
    sent = canonical(profile) if profile is not None else None
    device = S.device_id(conn)
    restored = S.kv_get(conn, kvkeys.STATION_RESTORED) == "1"  # a held oseq re-sent: heal, not conflict
    while True:
        batch = S.next_batch(conn, batch_size)
        if not batch:
            if sent is not None and S.kv_get(conn, kvkeys.PROFILE_SENT) != sent:
                cl.push([], H.signed_head(conn), profile, device, restored=restored)
                S.kv_set(conn, kvkeys.PROFILE_SENT, sent)
            return done
        head = H.signed_head(conn)
        try:
            reply = cl.push(batch, head, profile, device, restored=restored)
        except SyncError as e:
            raise clock_ahead_hint(conn, demo_collision_hint(e), batch) from None
        if sent is not None:
            S.kv_set(conn, kvkeys.PROFILE_SENT, sent)
        acked = int(reply["acked_oseq"])
        if reply.get("clock_ahead"):  # taken as stamped, flagged at the hub: said by the sync's result
            keep_clock_ahead(conn, reply["clock_ahead"], batch)
        if reply.get("overrode"):  # this station's move overrode the province's: kept and said
            keep_overrides(conn, reply["overrode"])
        S.ack(conn, acked)
        H.keep_acked_head(conn, head)
        if tally is not None:
            tally["acked"] = tally.get("acked", 0) + sum(1 for c in batch if c["oseq"] <= acked)
        if acked < batch[-1]["oseq"]:
            raise SyncError(409, "not_acked", f"hub acknowledged only up to {acked} of {batch[-1]['oseq']}")
        done += len(batch)
        if progress:
            progress("push", done, total)


def pull_all(conn: Any, cl: HubClient, progress: Progress | None = None, page_size: int = PULL_PAGE) -> int:
    """Pages in order; a fetch thread downloads and decodes page k+1 while page k is applied (the cursor
    of each page is committed with it, so a crash anywhere loses at most the page being applied)."""
    import queue
    import threading

    q: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    resync = S.resyncing(conn)
    start = S.kv_int(conn, "resync_cursor") if resync else S.kv_int(conn, "pull_cursor")

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def fetch() -> None:
        since = start
        try:
            while not stop.is_set():
                page = cl.pull(since, page_size, resync=resync)
                put(page)
                if not page.get("more"):
                    return
                since = int(page["next"])
        except BaseException as e:  # noqa: BLE001 - handed to the applying thread
            put(e)

    th = threading.Thread(target=fetch, name="qi-sync-pull", daemon=True)
    th.start()
    n = 0
    try:
        while True:
            item = q.get()
            if isinstance(item, BaseException):
                raise item
            if n == 0 and isinstance(item.get("hub_now"), str):
                check_clock(conn, item["hub_now"])
            hub_ack = int(item.get("acked_oseq") or 0)
            if hub_ack < S.kv_int(conn, kvkeys.ACKED_OSEQ):  # the hub lost changes we sent (restored)
                raise SyncError(409, "hub_behind", "the hub is behind this station", acked_oseq=hub_ack)
            res = S.apply_page(conn, item, acked=hub_ack)
            n += res["applied"]
            if progress:
                progress("pull", int(item["next"]), int(item.get("head") or 0) or None)
            if not item.get("more"):
                return n
    finally:
        stop.set()
        th.join(120)


def check_clock(conn: Any, hub_now: str) -> None:
    """This PC's clock against the hub's (its time in the signed pull reply): more than a day apart
    (``core.clock.clock_gap``) is kept as kv ``clock_warning`` and said by the sync; else cleared."""
    from qi_station.core.clock import clock_gap, env_now, from_db

    hub = from_db(hub_now)
    msg = clock_gap(env_now(), hub, "this PC", "the hub") if hub is not None else None
    with S.tx(conn):
        if msg:
            S.kv_set(conn, kvkeys.CLOCK_WARNING, msg)
        else:
            S.kv_del(conn, kvkeys.CLOCK_WARNING)


def _pull(conn: Any, cl: HubClient, progress: Progress | None, page_size: int, batch_size: int) -> int:
    try:
        return pull_all(conn, cl, progress, page_size)
    except SyncError as e:
        if e.code != "resync_required":
            raise
    # below the hub's tombstone horizon: outbox first, then a full snapshot pass
    # (library rows the snapshot lacks are deleted; requests and outbox are kept)
    push_all(conn, cl, progress, batch_size)
    S.start_resync(conn)
    return pull_all(conn, cl, progress, page_size)


def _heal(conn: Any, cl: HubClient, e: SyncError, progress: Progress | None, healed: list[Any]) -> bool:
    """A refusal that says one side is behind the other: heal it (``sync.station.heal``) and say so
    (True: push and pull again). Once per kind in one sync."""
    kinds = {h["kind"] for h in healed}
    if e.code == "station_behind" and "station_behind" not in kinds:
        healed.append({"kind": "station_behind", **heal.heal_station_behind(conn, cl, progress)})
        return True
    hub_ack = heal.hub_is_behind(conn, e)
    if hub_ack is not None and "hub_behind" not in kinds:
        healed.append(
            {"kind": "hub_behind", "hub_acked_oseq": hub_ack, "resent": heal.resend_all(conn, hub_ack)}
        )
        return True
    return False


#: seconds a sync keeps coming back to a hub that answers "busy, retry after N s" (QI_SYNC_BUSY_MAX)
BUSY_MAX = 1800.0


#: beside the station database: the lock a running sync holds alone (the OS drops it with the process,
#: a killed sync too): ``services.locks.SYNC_LOCK_SUFFIX``
SYNC_LOCK_SUFFIX = SYNC_LOCK


@contextmanager
def sync_lock(conn: Any, what: str = "sync", what_zh: str = "同步") -> Iterator[None]:
    """One sync of this station at a time, and no bundle import or export or restore beside it:
    ``<db>.sync-lock`` held alone (``services.locks.hold_sync``, POSIX and Windows); held by another:
    refused ``sync_running`` (nothing done; its own sync reports what it pushed and pulled). Without a
    writable folder: not held (the hub's ack keeps two syncs correct; only their counts overlap)."""
    row = conn.execute("PRAGMA database_list").fetchone()
    if not (row and row[2]):  # an in-memory database: nothing beside it to lock
        yield
        return
    with db_sync_lock(str(row[2]), what, what_zh):
        yield


@contextmanager
def db_sync_lock(db_path: str | Path | None, what: str, what_zh: str) -> Iterator[None]:
    """:func:`sync_lock` of the station database at ``db_path`` (None: the default one), for a bundle
    import or export; a refusal as a ``SyncError`` (``sync_running``, exit 1)."""
    from qi_station.db.paths import resolve_db_path
    from qi_station.services.locks import SyncLockError, hold_sync

    try:
        with hold_sync(resolve_db_path(db_path), what, what_zh):
            yield
    except SyncLockError as e:
        raise SyncError(503, e.code, e.message) from None


def run_sync(
    db_path: str | Path | None,
    progress: Progress | None = None,
    *,
    http: Any = None,
    retries: int = 5,
    backoff: float = 0.5,
    page_size: int = PULL_PAGE,
    batch_size: int = PUSH_BATCH,
    sleep: Callable[[float], None] = time.sleep,
    insecure_http: bool = False,
) -> dict[str, Any]:
    """Push the outbox, then pull; network trouble is retried with exponential backoff (a refused call is
    not); a busy hub's ``Retry-After`` is honoured for up to ``BUSY_MAX`` seconds in all, without using
    up the retries. Each step is idempotent, so a retry after any crash or lost reply is safe. Every reply is
    checked against the hub key pinned at enrollment before it is applied. One sync of a station at a
    time (:func:`sync_lock`): a second is refused ``sync_running``."""
    page_size = int(os.environ.get("QI_SYNC_PAGE", page_size))
    batch_size = int(os.environ.get("QI_SYNC_PUSH_BATCH", batch_size))
    conn = S.open_conn(db_path)  # type: ignore[arg-type]
    try:
        with sync_lock(conn):
            return _run_sync(
                conn, progress, http, retries, backoff, page_size, batch_size, sleep, insecure_http
            )
    finally:
        conn.close()


def _run_sync(
    conn: Any,
    progress: Progress | None,
    http: Any,
    retries: int,
    backoff: float,
    page_size: int,
    batch_size: int,
    sleep: Callable[[float], None],
    insecure_http: bool,
) -> dict[str, Any]:
    cl = hub_client(conn, http=http, insecure_http=insecure_http)
    with S.tx(conn):  # a station that loaded the demo before demo rows were listed
        write.list_legacy_demo(conn)
    log_id = S.log_start(conn, "http")
    pushed = pulled = 0
    attempt = 0
    busy_waited, busy_max = 0.0, float(os.environ.get("QI_SYNC_BUSY_MAX", BUSY_MAX))
    healed: list[dict[str, Any]] = []
    tally = {"acked": 0}  # of the changes pushed, how many the hub acknowledged (push_all)
    restored = False
    try:
        while True:
            try:
                if S.kv_get(conn, "restore_pending") == "1":
                    restored = True
                    restore_all(conn, cl, progress, page_size)
                elif S.kv_get(conn, kvkeys.STATION_RESTORED) == "1":
                    healed.append({"kind": "restored", **heal.heal_station_behind(conn, cl, progress)})
                try:
                    pushed += push_all(conn, cl, progress, batch_size, tally)
                    pulled += _pull(conn, cl, progress, page_size, batch_size)
                except SyncError as e:
                    if not _heal(conn, cl, e, progress, healed):
                        raise
                    pushed += push_all(conn, cl, progress, batch_size, tally)
                    pulled += _pull(conn, cl, progress, page_size, batch_size)
                pushed += push_all(conn, cl, progress, batch_size, tally)  # edits made while pulling
                break
            except TransientError as e:
                wait = e.retry_after  # the hub's Retry-After (a busy hub), capped in wire
                if wait is not None and busy_waited + wait <= busy_max:
                    # the hub is up and says when to come back (a morning rush): not a failure
                    busy_waited += wait
                    if progress:
                        progress("wait", int(busy_waited), int(busy_max))
                    sleep(wait)
                    continue
                attempt += 1
                if attempt > retries:
                    S.log_end(conn, log_id, pushed=pushed, pulled=pulled, ok=False, error=str(e))
                    raise SyncError(
                        503,
                        "unreachable",
                        f"{e} (gave up after {retries} retries; data is safe, try again later)",
                    ) from None
                if progress:
                    progress("retry", attempt, retries)
                sleep(wait if wait is not None else min(30.0, backoff * (2 ** (attempt - 1))))
            except SyncError as e:
                S.log_end(conn, log_id, pushed=pushed, pulled=pulled, ok=False, error=str(e))
                raise
    finally:
        cl.close()
    S.finish_search(conn)  # what a large pull left stale (a failed sync leaves it to the next one)
    S.log_end(conn, log_id, pushed=pushed, pulled=pulled, ok=True, error=None)
    # a restore or heal rewrites rows without a new event: the ledger check is a full one then
    ledger_ok, ledger_problems = H.check_ledger(conn, full=restored or bool(healed))
    return {
        "ok": ledger_ok,  # the data went through; a ledger that does not verify is not ok
        **({"ledger_problems": ledger_problems} if ledger_problems else {}),
        "pushed": pushed,
        "acked": tally["acked"],
        "pulled": pulled,
        "pending": S.pending(conn),
        "pull_cursor": S.kv_int(conn, "pull_cursor"),
        "acked_oseq": S.kv_int(conn, kvkeys.ACKED_OSEQ),
        "retries": attempt,
        "busy_waited_s": busy_waited,
        "ledger_ok": ledger_ok,
        **({"healed": healed} if healed else {}),
        **({"clock_warning": w} if (w := S.kv_get(conn, kvkeys.CLOCK_WARNING)) else {}),
        **({"clock_ahead_taken": t} if (t := clock_ahead_taken(conn)) else {}),
        **({"hub_status_overridden": o} if (o := said_once(conn, kvkeys.HUB_STATUS_OVERRIDDEN)) else {}),
    }
