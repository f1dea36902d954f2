"""USB bundles at the hub: import a station's up bundle, export a down bundle (or a restore bundle) for a
station."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qi_station.core.clock import env_now, to_db
from qi_station.core.ids import uuid7
from qi_station.sync import keys
from qi_station.sync.hub import rules
from qi_station.sync.hub.base import skew_of
from qi_station.sync.hub.pull import PullJobs
from qi_station.sync.hub.push import PushJobs
from qi_station.sync.hub.registry import RegistryJobs, check_key_free
from qi_station.sync.hub.tables import hub_tables
from qi_station.sync.proto import PROTOCOL, SyncError, check_enroll_proof, schema_head


class BundleJobs(PushJobs, PullJobs, RegistryJobs):
    def import_bundle(self, path: str | Path) -> dict[str, Any]:
        """An up bundle from a station: caps, then the signature of the station it names (the key it
        enrolled with), then parse; the bundle's station must be the signer's station. Then the SAME
        apply_push as HTTP, in one transaction; a second copy of the station (``check_device``, the
        oseq rule) is refused ``device_conflict`` and recorded, as an HTTP push is."""
        from qi_station.sync.bundle import claimed_kind, read_bundle

        self.require()
        p = Path(path)
        raw = read_bundle(p)
        info = self.info()
        if raw.signer_id == info["hub_id"] or claimed_kind(raw) in ("down", "restore"):  # only the kind
            raise SyncError(
                400,
                "wrong_kind",
                f"bundle {p.name} was made by a hub (a down or restore bundle), not by a station / "
                "这是中心下发的数据包，不是站点上传的数据包",
            )
        try:
            return self._import_up(p, raw, raw.signer_id, info)
        except SyncError as e:
            raise self.conflict_refused(e) from None

    def _import_up(self, p: Path, raw: Any, code: str, info: dict[str, Any]) -> dict[str, Any]:
        import sqlalchemy as sa

        from qi_station.sync.bundle import open_signed

        hs = hub_tables()["hub_station"]
        hb = hub_tables()["hub_bundle"]
        with self.write() as c:
            try:
                st = self.station_by_code(c, code, lock=True)
            except SyncError:
                raise SyncError(
                    403, "unknown_station", f"bundle {p.name} comes from unknown station {code!r}"
                ) from None
            if st["revoked"]:
                raise SyncError(403, "revoked", f"station {code} was revoked / 站点已被吊销")
            if st["pubkey"]:
                manifest = open_signed(raw, st["pubkey"])
                enroll = manifest.get("enroll") or None
                if enroll and (not isinstance(enroll, dict) or enroll.get("pubkey") != st["pubkey"]):
                    raise SyncError(403, "bad_enroll", f"station {code} is enrolled with another key")
            else:
                pub = raw.signer_key
                if not keys.valid_pubkey(pub):
                    raise SyncError(400, "bad_pubkey", "bundle enrollment key is not an Ed25519 key")
                manifest = open_signed(raw, pub)
                enroll = manifest.get("enroll") or None
            _check_up_manifest(p.name, manifest, code, info)
            if not st["pubkey"]:
                if not isinstance(enroll, dict) or enroll.get("pubkey") != pub:
                    raise SyncError(
                        403,
                        "not_enrolled",
                        f"station {code} has not enrolled yet and the bundle carries no enrollment",
                    )
                if (
                    st["enroll_used"]
                    or not st["enroll_hash"]
                    or not check_enroll_proof(st["enroll_hash"], pub, str(enroll.get("proof") or ""))
                ):
                    raise SyncError(
                        403,
                        "bad_enroll_token",
                        f"bundle {p.name}: enrollment proof does not match a valid one-time token / 注册码无效",
                    )
                check_key_free(c, st["id"], pub)
                c.execute(sa.update(hs).where(hs.c.id == st["id"]).values(pubkey=pub, enroll_used=True))
                st["pubkey"] = pub
            batch = _parse_up_changes(raw.changes)
            bid = str(manifest.get("bundle_id") or "")
            if c.execute(sa.select(hb.c.bundle_id).where(hb.c.bundle_id == bid)).first() is not None:
                return {
                    "bundle_id": bid,
                    "station": code,
                    "status": "already_imported",
                    "acked_oseq": st["acked_oseq"],
                    "applied": 0,
                }
            dev = manifest.get("device")  # this install of the station (signed with the manifest)
            self.check_device(c, st, batch, dev if isinstance(dev, str) and 8 <= len(dev) <= 64 else None)
            head = manifest.get("head")
            self.keep_profile(c, st, manifest.get("profile"))
            try:
                ok = rules.clock_ok(skew_of(manifest.get("station_now_ms")))  # its clock when written
                out = self.apply_push(
                    c, st, batch, head=head if isinstance(head, dict) else None, clock_ok=ok
                )
            except SyncError as e:
                raise _with_bundle_hint(e, code, manifest) from None
            cur = manifest.get("station_cursor")
            if manifest.get("resyncing") is True:
                # the station restarts its library from a snapshot (the hub was behind it): the next
                # down bundle starts at 0 whatever cursor the hub held
                c.execute(sa.update(hs).where(hs.c.id == st["id"]).values(station_cursor=0))
            elif isinstance(cur, int) and not isinstance(cur, bool) and cur >= 0:
                c.execute(
                    sa.update(hs)
                    .where(hs.c.id == st["id"], hs.c.station_cursor < cur)
                    .values(station_cursor=cur)
                )
            c.execute(hb.insert().values(bundle_id=bid, station_code=code, kind="up", at=env_now()))
            self.touch(
                c, st, manifest.get("protocol"), manifest.get("schema"), manifest.get("station_now_ms")
            )
        return {
            "bundle_id": bid,
            "station": code,
            "status": "imported",
            "acked_oseq": out["acked_oseq"],
            "applied": out["applied"],
        }

    def export_bundle(
        self, code: str, out: str | Path, *, force: bool = False, resend: bool = False
    ) -> dict[str, Any]:
        """A down bundle for a station: every change since the cursor it last reported (cumulative), the
        hub's ack of its outbox, and the hub key (pinned by offline-enrolled stations). ``resend``: the
        hub lost changes it had acknowledged (restored from an older copy; its import of the station's
        up bundle was refused as a gap): the bundle asks the station to queue its ledger again from the
        hub's ack (``resend_from``). A plain bundle's ack is never taken for that: a bundle made before
        the station's last push carries an older ack."""
        st = self._bundle_station(code)
        since = int(st["station_cursor"] or 0)
        resync = since < self.horizon()
        if resync:  # tombstones it may not have seen are gone: a full snapshot the station applies as such
            since = 0
        page = self.read_changes(st["code"], since, None, raw="lines")
        lines: list[bytes] = []
        counts: dict[str, int] = {}
        for t, block in page["tables"].items():
            if "lines" in block:  # SQLite built the JSON lines itself
                counts[t] = block["n"]
                lines.append((block["lines"] + "\n").encode("utf-8"))
                continue
            counts[t] = len(block["rows"])
            lines.extend(_row_lines(t, block["cols"], block["rows"]))
        manifest, outp = self._write_down(
            st,
            "down",
            int(st["acked_oseq"]),
            counts,
            lines,
            out,
            force,
            (since, page["next"]),
            {
                "from": since,
                "to": page["next"],
                **({"resend_from": int(st["acked_oseq"])} if resend else {}),
                "horizon": int(page.get("horizon") or 0),
                **({"resync": True} if resync else {}),
            },
        )
        bid = manifest["bundle_id"]
        return {
            "file": str(outp),
            "bundle_id": bid,
            "station": st["code"],
            "from": since,
            "to": page["next"],
            "rows": sum(counts.values()),
            "acked_oseq": manifest["acked_oseq"],
            "resync": resync,
        }

    def export_restore_bundle(self, code: str, out: str | Path, *, force: bool = False) -> dict[str, Any]:
        """A restore bundle for a station that is behind the hub and has no network (restored from an
        older backup, or a lost disk): every row of its OWN the hub holds (the ``restore`` endpoint's
        rows, all pages) and the hub's ack of its outbox, signed with the hub key. The station's
        ``sync import-bundle`` heals with it exactly as ``sync`` does online
        (``sync.station.heal.heal_station_behind``)."""
        from qi_station.sync.proto import STATION_TABLES

        st = self._bundle_station(code)
        lines: list[bytes] = []
        counts: dict[str, int] = {}
        acked = int(st["acked_oseq"] or 0)
        for t in STATION_TABLES:
            after, n = "", 0
            while True:
                page = self.restore(st, t, after, 5000)
                lines.extend(_row_lines(t, page["cols"], page["rows"]))
                n += len(page["rows"])
                acked = max(acked, int(page["acked_oseq"]))
                if not page["more"] or not page["rows"]:
                    break
                after = str(page["last"])
            counts[t] = n
        manifest, outp = self._write_down(st, "restore", acked, counts, lines, out, force, (0, acked), {})
        bid = manifest["bundle_id"]
        return {
            "file": str(outp),
            "bundle_id": bid,
            "station": st["code"],
            "kind": "restore",
            "rows": sum(counts.values()),
            "counts": counts,
            "acked_oseq": acked,
        }

    def _bundle_station(self, code: str) -> dict[str, Any]:
        """The station a down or restore bundle is for: known to this hub, not revoked."""
        self.require()
        with self.engine.connect() as c:
            try:
                st: dict[str, Any] = self.station_by_code(c, code.strip().upper())
            except SyncError:
                raise SyncError(404, "unknown_station", f"no station {code!r} at this hub") from None
        if st["revoked"]:
            raise SyncError(403, "revoked", f"station {code} was revoked")
        return st

    def _write_down(
        self,
        st: dict[str, Any],
        kind: str,
        acked: int,
        counts: dict[str, int],
        lines: list[bytes],
        out: str | Path,
        force: bool,
        span: tuple[int, int],
        extra: dict[str, Any],
    ) -> tuple[dict[str, Any], Path]:
        """Sign and write a bundle from the hub to a station (down or restore): its manifest
        (:func:`_down_manifest`) and the file (``span``: the seq range in the default file name)."""
        from qi_station.sync.bundle import bundle_name, write_bundle

        info = self.meta()
        manifest = _down_manifest(info, st, kind, acked, counts, extra)
        outp = write_bundle(
            out,
            manifest,
            lines,
            info["hub_privkey"],
            signer_id=info["hub_id"],
            public_b64=info["hub_pubkey"],
            force=force,
            default_name=bundle_name(kind, span[0], span[1], st["code"], manifest["bundle_id"]),
        )
        return manifest, outp


def _down_manifest(
    info: dict[str, Any],
    st: dict[str, Any],
    kind: str,
    acked: int,
    counts: dict[str, int],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """THE manifest of a bundle from the hub to a station (``kind`` down or restore): who signs it, for
    which station, the hub key (pinned by offline-enrolled stations), versions, the hub's ack of the
    station's outbox and the row counts; ``extra`` what only one kind carries."""
    return {
        "bundle_id": uuid7(),
        "kind": kind,
        "source_id": info["hub_id"],
        "target_id": st["code"],
        "station_id": st["id"],
        "station_name": st["name"],
        "hub_pubkey": info["hub_pubkey"],
        "protocol": PROTOCOL,
        "schema": schema_head(),
        "acked_oseq": acked,
        "counts": counts,
        "created_at": to_db(env_now()),
        **extra,
    }


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _row_lines(table: str, cols: list[str], rows: Any) -> list[bytes]:
    """One JSON line per row (``{"t": table, "row": {...}}``), as a bundle's changes.jsonl holds them."""
    return [
        (_DUMPS({"t": table, "row": dict(zip(cols, r, strict=True))}) + "\n").encode("utf-8") for r in rows
    ]


def _with_bundle_hint(e: SyncError, code: str, manifest: dict[str, Any]) -> SyncError:
    """A station behind the hub, or the hub behind a station, by USB: say which bundle heals it."""
    if e.code == "station_behind":
        hint = (
            f" — by USB: `qi-station hub export-bundle --station {code} --restore --out DIR`, then "
            "`qi-station sync import-bundle FILE` at the station heals it; export again after / "
            "请中心导出恢复数据包（--restore），在本站导入后再导出"
        )
    elif e.code == "gap" and int(manifest.get("acked_oseq") or 0) > int(e.data.get("acked_oseq") or 0):
        hint = (
            f" — the hub holds fewer of this station's changes than the station was told (the hub was "
            f"restored from an older copy?): `qi-station hub export-bundle --station {code} --resend --out DIR`; "
            "importing it, the station queues its ledger again, and its next bundle fills the gap / "
            "中心数据比本站旧：请中心导出数据包给本站，本站导入后重新导出"
        )
    else:
        return e
    return SyncError(e.status, e.code, e.message + hint, **e.data)


def _check_up_manifest(name: str, manifest: dict[str, Any], signer: str, info: dict[str, Any]) -> None:
    """After the signature: an up bundle, a protocol we speak, for this hub, from the signer's station."""
    from qi_station.sync.proto import check_versions

    if manifest.get("kind") != "up":
        raise SyncError(
            400,
            "wrong_kind",
            f"bundle {name} is a {manifest.get('kind')!r} bundle, not a station (up) bundle / "
            "不是站点上传的数据包",
        )
    check_versions(manifest.get("protocol"), manifest.get("schema"))
    if manifest.get("target_id") not in (info["hub_id"], info["hub_fingerprint"]):
        raise SyncError(
            400,
            "wrong_target",
            f"bundle {name} is addressed to hub {manifest.get('target_id')!r}, not this hub ({info['hub_fingerprint']}) / 数据包不是发给本中心的",
        )
    if manifest.get("source_id") != signer:
        raise SyncError(
            403,
            "wrong_station",
            f"bundle {name} says it is from station {manifest.get('source_id')!r} but is signed by station {signer!r}: a station's bundle must be its own / 数据包的站点与签名站点不一致",
        )


def _parse_up_changes(changes: bytes | bytearray) -> list[dict[str, Any]]:
    batch = []
    for i, line in enumerate(changes.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            ch = json.loads(line)
        except ValueError:
            raise SyncError(400, "bad_bundle", f"changes.jsonl line {i} is not JSON") from None
        if not isinstance(ch, dict) or not isinstance(ch.get("oseq"), int):
            raise SyncError(400, "bad_bundle", f"changes.jsonl line {i} is not a change")
        batch.append(ch)
    return batch
