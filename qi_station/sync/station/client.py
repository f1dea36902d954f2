"""Station-side sync client. Plain functions the CLI and the TUI's Sync screen (from a thread worker) call:

    sync_status(db_path) -> dict
    run_sync(db_path, progress=None) -> dict
    enroll(db_path, token, hub=None) -> dict
    export_bundle(db_path, out) -> dict
    import_bundle(db_path, file) -> dict

``progress`` is called as ``progress(phase, done, total)`` with phase "push" or "pull"; total may be None.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qi_station.core.clock import iso_local
from qi_station.db import kvkeys
from qi_station.sync.proto import (
    MIN_PROTOCOL,
    PROTOCOL,
    PULL_PAGE,
    PUSH_BATCH,
    SyncError,
    enroll_proof,
    parse_enroll_token,
    schema_head,
)
from qi_station.sync.station import apply as S
from qi_station.sync.station import heads as H

Progress = Callable[[str, int, "int | None"], None]


class TransientError(Exception):
    """Network trouble or a 5xx/503: retried with backoff."""


class HubClient:
    def __init__(
        self, url: str, token: str | None = None, *, http: Any = None, timeout: float = 60.0
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._own = http is None
        if http is None:
            import httpx

            http = httpx.Client(base_url=self.url, timeout=timeout, trust_env=False)
        self.http = http

    def close(self) -> None:
        if self._own:
            self.http.close()

    def _headers(self) -> dict[str, str]:
        h = {"X-Sync-Protocol": str(PROTOCOL), "X-Sync-Schema": schema_head()}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            r = self.http.request(method, path, headers=self._headers(), **kw)
        except httpx.HTTPError as e:
            raise TransientError(f"cannot reach the hub at {self.url}: {e}") from None
        if r.status_code >= 500:
            raise TransientError(f"hub error {r.status_code}: {r.text[:200]}")
        try:
            data = r.json()
        except ValueError:
            raise TransientError(
                f"hub sent a damaged reply ({r.status_code}, {len(r.content)} bytes)"
            ) from None
        if r.status_code >= 400:
            if r.status_code == 503:
                raise TransientError(str(data))
            if isinstance(data, dict) and "error" in data:
                extra = {k: v for k, v in data.items() if k not in ("error", "message")}
                raise SyncError(r.status_code, str(data["error"]), str(data.get("message")), **extra)
            raise SyncError(
                r.status_code, "refused", f"hub refused the call ({r.status_code}): {str(data)[:300]}"
            )
        return data

    def info(self) -> dict[str, Any]:
        return dict(self._call("GET", "/sync/v1/info"))

    def enroll(self, token: str, pubkey: str) -> dict[str, Any]:
        return dict(self._call("POST", "/sync/v1/enroll", json={"token": token, "pubkey": pubkey}))

    def restore(self, table: str, after: str, limit: int = PULL_PAGE) -> dict[str, Any]:
        return dict(
            self._call("GET", "/sync/v1/restore", params={"table": table, "after": after, "limit": limit})
        )

    def push(self, batch: list[dict[str, Any]], head: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"batch": batch, "station_now_ms": time.time_ns() // 1_000_000}
        if head is not None:
            body["head"] = head
        return dict(self._call("POST", "/sync/v1/push", json=body))

    def pull(self, since: int, limit: int = PULL_PAGE, *, resync: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {
            "since": since,
            "limit": limit,
            "station_now_ms": time.time_ns() // 1_000_000,
        }
        if resync:
            params["resync"] = "true"
        return dict(self._call("GET", "/sync/v1/pull", params=params))


# ---- status -----------------------------------------------------------------------------------
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
        nreq = conn.execute("SELECT COUNT(*) FROM request").fetchone()[0]
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
    db_path: str | Path | None, token: str, hub: str | None = None, *, http: Any = None
) -> dict[str, Any]:
    """Online (``hub`` given): post our public key with the one-time token, get a bearer token, pin the hub
    key (its fingerprint is in the token). Offline: remember proof of the token; the first up bundle
    carries it and the hub's reply bundle pins the hub key."""
    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station
    from qi_station.sync import keys

    code, fp, _ = parse_enroll_token(token)
    p = open_db(db_path)
    _check_local_code(p, code)
    conn = S.open_conn(p)
    try:
        _priv, pub = S.ensure_keys(conn)
        if hub:
            cl = HubClient(hub, http=http)
            try:
                try:
                    got = cl.enroll(token.strip(), pub)
                except TransientError as e:
                    raise SyncError(503, "unreachable", str(e)) from None
            finally:
                cl.close()
            if keys.fingerprint(got["hub_pubkey"]) != fp:
                raise SyncError(
                    400,
                    "hub_key_mismatch",
                    "the hub's key does not match the enrollment token (wrong hub?) / 中心密钥与注册码不符",
                )
            init_station(p, code=code, name=got.get("station_name") or None)
            with S.tx(conn):
                for k, v in (
                    ("hub_url", hub.rstrip("/")),
                    ("api_token", got["api_token"]),
                    ("hub_id", got["hub_id"]),
                    ("hub_pubkey", got["hub_pubkey"]),
                    ("hub_fp", fp),
                    ("station_id", got["station_id"]),
                    ("enroll_mode", "online"),
                    ("station_code", code),
                ):
                    S.kv_set(conn, k, v)
                S.kv_del(conn, "enroll_proof")
                # a re-enrollment on a fresh database: the hub holds this station's rows -> restore them
                if (
                    int(got.get("own_requests") or 0)
                    and not conn.execute("SELECT COUNT(*) FROM request").fetchone()[0]
                ):
                    S.kv_set(conn, "restore_pending", 1)
            out: dict[str, Any] = {
                "station": code,
                "station_id": got["station_id"],
                "hub": hub,
                "mode": "online",
            }
            if S.kv_get(conn, "restore_pending") == "1":
                cl = HubClient(hub, got["api_token"], http=http)
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
        return {
            "station": code,
            "mode": "offline-pending",
            "next": "run `qi-station sync export-bundle --out FILE` and carry it to the hub",
        }
    finally:
        conn.close()


# ---- rebuild a lost station database --------------------------------------------------------------
def restore_all(
    conn: Any, cl: HubClient, progress: Progress | None = None, page_size: int = PULL_PAGE
) -> dict[str, int]:
    """Download this station's own rows from the hub (after a re-enrollment on a fresh database) and
    write them in ONE transaction with the ledger number counters (``ledger_seq:{CODE}-{YYYYMM}``),
    the hub's ack of the old outbox and the outbox sequence above it (so nothing collides or is
    re-pushed wrongly). Idempotent: rows already here are kept; nothing is written to the outbox."""
    from qi_station.db import write
    from qi_station.sync.proto import STATION_TABLES

    fetched: dict[str, tuple[list[str], list[list[Any]]]] = {}
    acked = 0
    done = 0
    for t in STATION_TABLES:  # foreign-key order: enterprise, request, request_event, referral
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
    counts: dict[str, int] = {}
    with S.tx(conn):
        for t, (cols, got) in fetched.items():
            local = [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
            keep = [i for i, c in enumerate(cols) if c in local]
            kc = [cols[i] for i in keep]
            before = conn.total_changes
            write.insert_rows(conn, t, kc, [[r[i] for i in keep] for r in got], or_ignore=True)
            counts[t] = conn.total_changes - before
        code = S.station_code(conn) or ""
        # the ledger counters continue after every number restored
        write.set_ledger_counters(conn, write.ledger_counters(conn, code))
        write.seal_event_head(conn)  # restored events bypassed append_event
        if acked > S.kv_int(conn, kvkeys.ACKED_OSEQ):
            S.kv_set(conn, kvkeys.ACKED_OSEQ, acked)
        acked = S.kv_int(conn, kvkeys.ACKED_OSEQ)
        # new changes get oseq > the hub's ack (AUTOINCREMENT continues from sqlite_sequence)
        if conn.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'outbox'").fetchone() is None:
            conn.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('outbox', ?)", (acked,))
        else:
            conn.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'outbox'", (acked,))
        S.kv_del(conn, "restore_pending")
    S.fix_oseq(conn)  # rows written on this fresh database before the restore move above the ack
    return counts


# ---- HTTP sync ----------------------------------------------------------------------------------
def push_all(conn: Any, cl: HubClient, progress: Progress | None = None, batch_size: int = PUSH_BATCH) -> int:
    S.fix_oseq(conn)
    total = S.pending(conn)
    done = 0
    while True:
        batch = S.next_batch(conn, batch_size)
        if not batch:
            return done
        head = H.signed_head(conn)
        reply = cl.push(batch, head)
        acked = int(reply["acked_oseq"])
        S.ack(conn, acked)
        H.keep_acked_head(conn, head)
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
            res = S.apply_page(conn, item, acked=int(item.get("acked_oseq") or 0))
            n += res["applied"]
            if progress:
                progress("pull", int(item["next"]), int(item.get("head") or 0) or None)
            if not item.get("more"):
                return n
    finally:
        stop.set()
        th.join(120)


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
) -> dict[str, Any]:
    """Push the outbox, then pull; network trouble is retried with exponential backoff (a refused call is
    not). Each step is idempotent, so a retry after any crash or lost reply is safe."""
    import os

    page_size = int(os.environ.get("QI_SYNC_PAGE", page_size))
    batch_size = int(os.environ.get("QI_SYNC_PUSH_BATCH", batch_size))
    conn = S.open_conn(db_path)  # type: ignore[arg-type]
    try:
        url, token = S.kv_get(conn, "hub_url"), S.kv_get(conn, "api_token")
        if not url or not token:
            raise SyncError(
                400,
                "not_enrolled",
                "this station is not enrolled online: run `qi-station sync enroll --hub URL --token TOKEN` / 尚未注册",
            )
        log_id = S.log_start(conn, "http")
        pushed = pulled = 0
        cl = HubClient(url, token, http=http)
        attempt = 0
        try:
            while True:
                try:
                    if S.kv_get(conn, "restore_pending") == "1":
                        restore_all(conn, cl, progress, page_size)
                    pushed += push_all(conn, cl, progress, batch_size)
                    try:
                        pulled += pull_all(conn, cl, progress, page_size)
                    except SyncError as e:
                        if e.code != "resync_required":
                            raise
                        # below the hub's tombstone horizon: outbox first, then a full snapshot pass
                        # (library rows the snapshot lacks are deleted; requests and outbox are kept)
                        pushed += push_all(conn, cl, progress, batch_size)
                        S.start_resync(conn)
                        pulled += pull_all(conn, cl, progress, page_size)
                    pushed += push_all(conn, cl, progress, batch_size)  # edits made while pulling
                    break
                except TransientError as e:
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
                    sleep(min(30.0, backoff * (2 ** (attempt - 1))))
                except SyncError as e:
                    S.log_end(conn, log_id, pushed=pushed, pulled=pulled, ok=False, error=str(e))
                    raise
        finally:
            cl.close()
        S.log_end(conn, log_id, pushed=pushed, pulled=pulled, ok=True, error=None)
        ledger_ok = H.check_ledger(conn)
        return {
            "ok": True,
            "pushed": pushed,
            "pulled": pulled,
            "pending": S.pending(conn),
            "pull_cursor": S.kv_int(conn, "pull_cursor"),
            "acked_oseq": S.kv_int(conn, kvkeys.ACKED_OSEQ),
            "retries": attempt,
            "ledger_ok": ledger_ok,
        }
    finally:
        conn.close()


# ---- bundles ------------------------------------------------------------------------------------
def export_bundle(db_path: str | Path | None, out: str | Path) -> dict[str, Any]:
    """Everything not yet acknowledged (cumulative), signed with this station's key."""
    from qi_station.core.clock import env_now, to_db
    from qi_station.core.ids import uuid7
    from qi_station.sync.bundle import bundle_name, write_bundle

    conn = S.open_conn(db_path)  # type: ignore[arg-type]
    try:
        code = S.kv_get(conn, "station_code") or S.station_code(conn)
        target = S.kv_get(conn, "hub_fp")
        if not code or not target:
            raise SyncError(
                400,
                "not_enrolled",
                "this station is not enrolled: run `qi-station sync enroll --token TOKEN` first / 尚未注册",
            )
        priv, pub = H.signing_key(conn)
        S.fix_oseq(conn)
        conn.execute("BEGIN")  # one consistent read of outbox + cursor
        try:
            lines, lo, hi, counts = S.outbox_lines(conn)
            acked = S.kv_int(conn, kvkeys.ACKED_OSEQ)
            cursor = S.kv_int(conn, "pull_cursor")
            proof = S.kv_get(conn, "enroll_proof")
            head = H.signed_head(conn)
        finally:
            conn.execute("COMMIT")
        bid = uuid7()
        manifest: dict[str, Any] = {
            "bundle_id": bid,
            "kind": "up",
            "source_id": code,
            "target_id": target,
            "protocol": PROTOCOL,
            "schema": schema_head(),
            "from": lo or acked + 1,
            "to": hi or acked,
            "acked_oseq": acked,
            "station_cursor": cursor,
            "counts": counts,
            "created_at": to_db(env_now()),
            "station_now_ms": time.time_ns() // 1_000_000,
            "head": head,
        }
        if proof:
            manifest["enroll"] = {"pubkey": pub, "proof": proof}
        outp = Path(out)
        if outp.is_dir():
            outp = outp / bundle_name("up", manifest["from"], manifest["to"], target, bid)
        write_bundle(outp, manifest, lines, priv)
        return {
            "file": str(outp),
            "bundle_id": bid,
            "from": manifest["from"],
            "to": manifest["to"],
            "changes": len(lines),
            "station": code,
        }
    finally:
        conn.close()


def import_bundle(db_path: str | Path | None, file: str | Path) -> dict[str, Any]:
    """A hub (down) bundle: verify signature, hashes and target, then the SAME apply as HTTP pull, the
    cursor and the ack in one transaction. Stale or repeated bundles change nothing."""
    from qi_station.sync import keys
    from qi_station.sync.bundle import check_signature, read_bundle

    p = Path(file)
    manifest, mbytes, sig, changes = read_bundle(p)
    if manifest.get("kind") != "down":
        raise SyncError(
            400,
            "wrong_kind",
            f"bundle {p.name} is a {manifest.get('kind')!r} bundle, not a hub (down) bundle",
        )
    proto = manifest.get("protocol")
    if not isinstance(proto, int) or not MIN_PROTOCOL <= proto <= PROTOCOL:
        raise SyncError(
            426,
            "upgrade_required",
            f"bundle {p.name} uses protocol {proto!r}; this station speaks {MIN_PROTOCOL}..{PROTOCOL}",
        )
    conn = S.open_conn(db_path)  # type: ignore[arg-type]
    try:
        code = S.kv_get(conn, "station_code") or S.station_code(conn)
        if manifest.get("target_id") != code:
            raise SyncError(
                400,
                "wrong_target",
                f"bundle {p.name} is for station {manifest.get('target_id')!r}, this is {code!r} / 数据包不是发给本站的",
            )
        pinned = S.kv_get(conn, "hub_pubkey")
        extra: dict[str, str] = {}
        if pinned:
            check_signature(p.name, mbytes, sig, pinned)
        else:
            fp = S.kv_get(conn, "hub_fp")
            hub_pub = str(manifest.get("hub_pubkey") or "")
            if not fp or not hub_pub or keys.fingerprint(hub_pub) != fp:
                raise SyncError(
                    400,
                    "bad_signature",
                    f"bundle {p.name} is not signed by the hub named in the enrollment token / 数据包签名者不是本站的中心",
                )
            check_signature(p.name, mbytes, sig, hub_pub)
            extra = {
                "hub_pubkey": hub_pub,
                "hub_id": str(manifest.get("source_id") or ""),
                "station_id": str(manifest.get("station_id") or ""),
                "enroll_mode": "offline",
            }
        tables = S.lines_to_tables(changes)
        acked = manifest.get("acked_oseq")
        log_id = S.log_start(conn, "bundle-in")
        try:
            res = S.apply_page(
                conn,
                {
                    "since": int(manifest.get("from") or 0),
                    "next": int(manifest.get("to") or 0),
                    "tables": tables,
                    "horizon": manifest.get("horizon"),
                },
                acked=acked if isinstance(acked, int) else None,
                extra_kv=extra,
                snapshot=bool(manifest.get("resync")),
            )
        except SyncError as e:
            S.log_end(conn, log_id, pushed=0, pulled=0, ok=False, error=str(e))
            raise
        S.log_end(conn, log_id, pushed=0, pulled=res["applied"], ok=True, error=None)
        return {
            "bundle_id": manifest.get("bundle_id"),
            "status": "stale" if res["stale"] else "imported",
            "applied": res["applied"],
            "pull_cursor": res["cursor"],
            "pending": S.pending(conn),
        }
    finally:
        conn.close()
