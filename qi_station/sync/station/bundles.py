"""Station-side USB bundles: ``export_bundle(db_path, out)`` writes everything not yet acknowledged,
signed with this station's key; ``import_bundle(db_path, file)`` applies a hub's down bundle after its
signature, kind, protocol and target are checked. The CLI and the TUI's Sync screen call these."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qi_station.db import kvkeys, write
from qi_station.services.station import profile as station_profile
from qi_station.sync.proto import MIN_PROTOCOL, PROTOCOL, SyncError, schema_head
from qi_station.sync.station import apply as S
from qi_station.sync.station import heads as H
from qi_station.sync.station import heal
from qi_station.sync.station.client import db_sync_lock
from qi_station.sync.station.wire import station_now_ms

#: kv: when the newest down bundle imported here was made (an older one replayed is stale, never a sign
#: that the hub lost changes)
DOWN_BUNDLE_AT = "down_bundle_at"


def export_bundle(db_path: str | Path | None, out: str | Path, *, force: bool = False) -> dict[str, Any]:
    """Everything not yet acknowledged (cumulative), signed with this station's key. ``out``: a file or
    a directory (``force`` replaces an existing bundle file; nothing else is ever written over). Never
    beside a sync, a bundle import or a restore (``client.db_sync_lock``: refused ``sync_running``)."""
    with db_sync_lock(db_path, "bundle export", "导出数据包"):
        return _export_bundle(db_path, out, force=force)


def _export_bundle(db_path: str | Path | None, out: str | Path, *, force: bool = False) -> dict[str, Any]:
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
        if S.kv_get(conn, kvkeys.STATION_RESTORED) == "1":
            raise SyncError(409, "station_behind", heal.restore_bundle_first(code))
        priv, pub = S.signing_key(conn)
        with S.tx(conn):  # a station that loaded the demo before demo rows were listed
            write.list_legacy_demo(conn)
        S.fix_oseq(conn)
        conn.execute("BEGIN")  # one consistent read of outbox + cursor
        try:
            lines, lo, hi, counts = S.outbox_lines(conn)
            acked = S.kv_int(conn, kvkeys.ACKED_OSEQ)
            cursor = S.kv_int(conn, "pull_cursor")
            proof = S.kv_get(conn, "enroll_proof")
            head = H.signed_head(conn)
            profile = station_profile(conn)
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
            "station_now_ms": station_now_ms(),  # the clock it stamps with, as a push says it
            "head": head,
            "resyncing": S.resyncing(conn),
            "device": S.device_id(conn),  # this install: the hub refuses a second copy (device_conflict)
        }
        if profile is not None:
            manifest["profile"] = profile  # the station's region, park, type and mode
        if proof:
            manifest["enroll"] = {"pubkey": pub, "proof": proof}
        outp = write_bundle(
            out,
            manifest,
            lines,
            priv,
            signer_id=code,
            public_b64=pub,
            force=force,
            default_name=bundle_name("up", manifest["from"], manifest["to"], target, bid),
            protect=(db_path,),
        )
        now = to_db(env_now())
        with S.tx(conn):  # F6's log lists the export too (not a sync: the hub has acknowledged nothing)
            conn.execute(
                "INSERT INTO sync_log(started_at, finished_at, mode, pushed, pulled, ok)"
                " VALUES (?, ?, 'bundle-out', ?, 0, 1)",
                (now, now, len(lines)),
            )
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
    """A hub (down) bundle: caps, then the signature of the pinned hub key (or, offline-enrolled, of the
    key whose fingerprint the token carries) before anything is parsed; then kind, protocol and target
    (a bundle for another station is refused); then the SAME apply as HTTP pull, the cursor and the ack
    in one transaction. Stale or repeated bundles change nothing. Never beside a sync, a bundle export
    or a restore (``client.db_sync_lock``: refused ``sync_running``)."""
    with db_sync_lock(db_path, "bundle import", "导入数据包"):
        return _import_bundle(db_path, file)


def _import_bundle(db_path: str | Path | None, file: str | Path) -> dict[str, Any]:
    from qi_station.sync import keys
    from qi_station.sync.bundle import claimed_kind, open_signed, read_bundle

    p = Path(file)
    raw = read_bundle(p)
    conn = S.open_conn(db_path)  # type: ignore[arg-type]
    try:
        code = S.kv_get(conn, "station_code") or S.station_code(conn)
        if raw.signer_id == code or claimed_kind(raw) == "up":  # before the signature: only the kind
            raise SyncError(
                400,
                "wrong_kind",
                f"bundle {p.name} is a station's up bundle, not one made by the hub (down or restore) / "
                "这是站点上传的数据包，不是中心下发的数据包",
            )
        pinned = S.kv_get(conn, "hub_pubkey")
        extra: dict[str, str] = {}
        if pinned:
            manifest = open_signed(raw, pinned)
        else:
            fp = S.kv_get(conn, "hub_fp")
            if not fp:  # never enrolled: no hub to check the signer against
                raise SyncError(
                    400,
                    "not_enrolled",
                    f"this station is not enrolled yet, so bundle {p.name} cannot be checked: ask the hub for "
                    "an enrollment token (`qi-station hub add-station CODE --name NAME`), run "
                    "`qi-station sync enroll --token TOKEN` here, then import the bundle again / "
                    "本站尚未注册，无法校验数据包：请向省级中心索取注册码，运行 qi-station sync enroll --token 注册码"
                    " 登记本站后再导入",
                )
            if not keys.valid_pubkey(raw.signer_key) or keys.fingerprint(raw.signer_key) != fp:
                raise SyncError(
                    400,
                    "bad_signature",
                    f"bundle {p.name} is not signed by the hub named in the enrollment token / 数据包签名者不是本站的中心",
                )
            manifest = open_signed(raw, raw.signer_key)
            extra = {
                "hub_pubkey": raw.signer_key,
                "hub_id": str(manifest.get("source_id") or ""),
                "station_id": str(manifest.get("station_id") or ""),
                "enroll_mode": "offline",
            }
        kind = manifest.get("kind")
        if kind not in ("down", "restore"):
            raise SyncError(
                400,
                "wrong_kind",
                f"bundle {p.name} is a {kind!r} bundle, not a hub (down or restore) bundle / "
                "不是中心下发的数据包",
            )
        proto = manifest.get("protocol")
        if not isinstance(proto, int) or not MIN_PROTOCOL <= proto <= PROTOCOL:
            raise SyncError(
                426,
                "upgrade_required",
                f"bundle {p.name} uses protocol {proto!r}; this station speaks {MIN_PROTOCOL}..{PROTOCOL}",
            )
        if manifest.get("target_id") != code:
            raise SyncError(
                400,
                "wrong_target",
                f"bundle {p.name} is for station {manifest.get('target_id')!r}, this is {code!r} / 数据包不是发给本站的",
            )
        tables = S.lines_to_tables(raw.changes)
        acked = manifest.get("acked_oseq")
        if kind == "restore":
            return _heal_from_bundle(conn, p.name, manifest, tables)
        log_id = S.log_start(conn, "bundle-in")
        waiting = S.pending(conn)  # changes the hub has not acknowledged before this bundle
        made = str(manifest.get("created_at") or "")
        older = made < (S.kv_get(conn, DOWN_BUNDLE_AT) or "")  # a replay of an older down bundle
        if not older:
            extra = {**extra, DOWN_BUNDLE_AT: made}
        resend = manifest.get("resend_from")  # the hub says it lost changes (``hub export-bundle --resend``)
        if (
            isinstance(resend, int)
            and not isinstance(resend, bool)
            and resend < S.kv_int(conn, kvkeys.ACKED_OSEQ)
            and not older
        ):
            acked = resend
            # the hub lost changes it had acknowledged (restored from an older copy): queue the
            # ledger again from its ack; the next up bundle fills the gap, and the library restarts
            # from a snapshot (the up bundle says so, and the hub's next down bundle starts at 0)
            resent = heal.resend_all(conn, acked)
            S.kv_set(conn, DOWN_BUNDLE_AT, made)
            S.log_end(conn, log_id, pushed=0, pulled=0, ok=True, error=None)
            return {
                "bundle_id": manifest.get("bundle_id"),
                "status": "hub_behind",
                "applied": 0,
                "resent": resent,
                "pull_cursor": S.kv_int(conn, "pull_cursor"),
                "pending": S.pending(conn),
            }
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
        left = S.pending(conn)
        # a sync with the hub (上次同步) only when it acknowledged changes waiting here, or none wait
        mode = S.BUNDLE_IN_WAITING if left and left >= waiting else None
        S.log_end(conn, log_id, pushed=0, pulled=res["applied"], ok=True, error=None, mode=mode)
        S.finish_search(conn)  # the index of what a large bundle left stale, in its own transaction
        return {
            "bundle_id": manifest.get("bundle_id"),
            "status": "stale" if res["stale"] else "imported",
            "applied": res["applied"],
            "pull_cursor": res["cursor"],
            "pending": left,
        }
    finally:
        conn.close()


class _BundleRows:
    """The hub's ``restore`` endpoint, answered from a restore bundle (one page per table)."""

    def __init__(self, tables: dict[str, Any], acked: int) -> None:
        self.tables, self.acked = tables, acked

    def restore(self, table: str, after: str, limit: int) -> dict[str, Any]:
        block = self.tables.get(table) or {"cols": [], "rows": []}
        cols = list(block["cols"])
        rows = [[r.get(c) for c in cols] if isinstance(r, dict) else list(r) for r in block["rows"]]
        return {"cols": cols, "rows": rows, "more": False, "last": after, "acked_oseq": self.acked}


def _heal_from_bundle(
    conn: Any, name: str, manifest: dict[str, Any], tables: dict[str, Any]
) -> dict[str, Any]:
    """A restore bundle: the same heal as online (``heal.heal_station_behind``), in one transaction."""
    acked = manifest.get("acked_oseq")
    if not isinstance(acked, int) or isinstance(acked, bool) or acked < 0:
        raise SyncError(400, "bad_bundle", f"bundle {name}: acked_oseq must be a whole number")
    log_id = S.log_start(conn, "bundle-restore")
    try:
        done = heal.heal_station_behind(conn, _BundleRows(tables, acked))
    except SyncError as e:
        S.log_end(conn, log_id, pushed=0, pulled=0, ok=False, error=str(e))
        raise
    recovered = sum(done["recovered"].values())
    S.log_end(conn, log_id, pushed=0, pulled=recovered, ok=True, error=None)
    return {
        "bundle_id": manifest.get("bundle_id"),
        "status": "healed",
        "applied": recovered,
        "recovered": done["recovered"],
        "renumbered": done["renumbered"],
        "hub_acked_oseq": done["hub_acked_oseq"],
        "pull_cursor": S.kv_int(conn, "pull_cursor"),
        "pending": S.pending(conn),
    }
