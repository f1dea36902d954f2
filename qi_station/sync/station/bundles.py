"""Station-side USB bundles: ``export_bundle(db_path, out)`` writes everything not yet acknowledged,
signed with this station's key; ``import_bundle(db_path, file)`` applies a hub's down bundle after its
signature, kind, protocol and target are checked. The CLI and the TUI's Sync screen call these."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from qi_station.db import kvkeys
from qi_station.services.station import profile as station_profile
from qi_station.sync.proto import MIN_PROTOCOL, PROTOCOL, SyncError, schema_head
from qi_station.sync.station import apply as S
from qi_station.sync.station import heads as H


def export_bundle(db_path: str | Path | None, out: str | Path, *, force: bool = False) -> dict[str, Any]:
    """Everything not yet acknowledged (cumulative), signed with this station's key. ``out``: a file or
    a directory (``force`` replaces an existing bundle file; nothing else is ever written over)."""
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
        priv, pub = S.signing_key(conn)
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
            "station_now_ms": time.time_ns() // 1_000_000,
            "head": head,
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
    in one transaction. Stale or repeated bundles change nothing."""
    from qi_station.sync import keys
    from qi_station.sync.bundle import open_signed, read_bundle

    p = Path(file)
    raw = read_bundle(p)
    conn = S.open_conn(db_path)  # type: ignore[arg-type]
    try:
        code = S.kv_get(conn, "station_code") or S.station_code(conn)
        if raw.signer_id == code:
            raise SyncError(
                400, "wrong_kind", f"bundle {p.name} was made by this station (an up bundle), not by the hub"
            )
        pinned = S.kv_get(conn, "hub_pubkey")
        extra: dict[str, str] = {}
        if pinned:
            manifest = open_signed(raw, pinned)
        else:
            fp = S.kv_get(conn, "hub_fp")
            if not fp or not keys.valid_pubkey(raw.signer_key) or keys.fingerprint(raw.signer_key) != fp:
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
        if manifest.get("target_id") != code:
            raise SyncError(
                400,
                "wrong_target",
                f"bundle {p.name} is for station {manifest.get('target_id')!r}, this is {code!r} / 数据包不是发给本站的",
            )
        changes = raw.changes
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
