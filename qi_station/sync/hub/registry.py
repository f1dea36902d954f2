"""Stations at the hub: registration, enrollment tokens, online enrollment, and the restore of a lost
station's own rows."""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qi_station.core import places
from qi_station.core.clock import env_now
from qi_station.core.ids import uuid7
from qi_station.sync import keys
from qi_station.sync.hub.base import PROFILE_KEYS, HubBase, busy, check_profile
from qi_station.sync.hub.ledger import trail_key
from qi_station.sync.hub.tables import core_table, hub_tables, norm_value, wire_value
from qi_station.sync.proto import (
    CALL_WINDOW_MS,
    PROTOCOL,
    STATION_TABLES,
    SyncError,
    enroll_key_message,
    hub_proof_message,
    make_enroll_token,
    parse_enroll_token,
    schema_head,
    token_hash,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


log = logging.getLogger(__name__)

#: expired nonces are pruned at most this often per process (``use_nonce``), not on every signed call
NONCE_PRUNE_EVERY_S = 60.0
_NONCE_PRUNED: dict[str, float] = {}  # hub URL -> when this process last pruned (monotonic seconds)
_NONCE_LOCK = threading.Lock()
_monotonic = time.monotonic  # the prune clock (a test moves it)


def _prune_due(url: str) -> bool:
    """Is it this call's turn to prune the hub's expired nonces? At most once a minute per process."""
    now = _monotonic()
    with _NONCE_LOCK:
        last = _NONCE_PRUNED.get(url)
        if last is not None and now - last < NONCE_PRUNE_EVERY_S:
            return False
        _NONCE_PRUNED[url] = now
        return True


def nonce_path(db: Path) -> Path:
    """A SQLite hub's nonce file, beside its database (``hub.db`` -> ``hub.db.nonces``), named from the
    database's real path (symlinks resolved): every spelling of one hub database (``link.db -> hub.db``,
    a relative path, ``..``) shares one nonce file, so a captured signed call cannot be replayed through
    another spelling."""
    real = db.resolve()
    return real.with_name(real.name + ".nonces")


def _damaged(path: Path, e: Exception) -> SyncError:
    """A nonce file SQLite cannot read (``file is not a database``, …): every signed call is refused
    (fail closed: no replay check, no call), said plainly in the hub's log and the reply."""
    msg = (
        f"the hub's nonce file {path} is damaged ({str(e).splitlines()[0][:120]}): signed calls are "
        "refused until it is fixed. Stop `qi-station hub serve`, delete that file (and its -wal/-shm "
        "files; it only holds the last minutes of call nonces, no data) and start the hub again / "
        "中心的防重放文件已损坏，请停止中心服务、删除该文件后重启"
    )
    log.error("%s", msg)
    return SyncError(503, "nonce_file_damaged", msg)


_SIDE_READY: set[str] = set()  # nonce files this process made sure of (WAL, the table)


def _side_conn(path: Path) -> sqlite3.Connection:
    """A connection to the nonce file (one per call: nothing stays open beside a hub handle)."""
    from qi_station.db.engine import BUSY_TIMEOUT_MS

    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    if str(path) not in _SIDE_READY:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS call_nonce (station_code TEXT NOT NULL, nonce TEXT NOT NULL, "
            "at_ms INTEGER NOT NULL, PRIMARY KEY (station_code, nonce)) WITHOUT ROWID"
        )
        conn.execute("CREATE INDEX IF NOT EXISTS call_nonce_at ON call_nonce (at_ms)")
        _SIDE_READY.add(str(path))
    return conn


def _side_nonce(path: Path, code: str, nonce: str, at_ms: int, prune_before: int | None) -> bool:
    """Keep ``nonce`` in the SQLite hub's nonce file (its own write lock, held for one small insert):
    False when it was there already (a replay). ``prune_before``: expired nonces to drop first."""
    try:
        conn = _side_conn(path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if prune_before is not None:
                    conn.execute("DELETE FROM call_nonce WHERE at_ms < ?", (prune_before,))
                cur = conn.execute(
                    "INSERT INTO call_nonce (station_code, nonce, at_ms) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (code, nonce, at_ms),
                )
                fresh = cur.rowcount == 1
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e) and str(path) in _SIDE_READY:  # the file was removed: made again
            _SIDE_READY.discard(str(path))
            return _side_nonce(path, code, nonce, at_ms, prune_before)
        raise busy(e) from None  # locked past the busy timeout: 503, the station retries
    except sqlite3.DatabaseError as e:  # not a database / malformed: fail closed, say what to do
        raise _damaged(path, e) from None
    return fresh


def check_key_free(c: Connection, station_id: Any, pubkey: str) -> None:
    """One key, one station: a public key another station enrolled is refused (two stations sharing a key
    could sign each other's heads and bundles)."""
    import sqlalchemy as sa

    t = hub_tables()["hub_station"]
    other = c.execute(sa.select(t.c.code).where(t.c.pubkey == pubkey, t.c.id != station_id).limit(1)).first()
    if other is not None:
        raise SyncError(
            409,
            "key_in_use",
            f"this station key is already enrolled by station {other[0]!r}: each station enrolls a key of "
            "its own / 该站点密钥已被其他站点使用",
        )


class RegistryJobs(HubBase):
    def add_station(
        self, code: str, name: str, *, reissue: bool = False, profile: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Register a station and issue its one-time enrollment token. For an enrolled station whose
        database was lost, ``reissue`` gives a new token: enrolling with it on a fresh database
        restores the station's own rows from the hub (``restore``). ``profile``: the station's region,
        park, type and mode as the hub knows them until the station sends its own."""
        import sqlalchemy as sa

        code = (code or "").strip().upper()
        if (
            not code
            or not code.isascii()
            or not all(ch.isalnum() or ch in "-_" for ch in code)
            or len(code) > 20
        ):
            raise SyncError(
                400,
                "bad_code",
                "station code: ASCII letters, digits, - and _ (≤ 20) / 站点编码只能含字母数字",
            )
        from qi_station.core.validate import Checks, clean_text

        # every bad field at once, before anything is written
        checks = Checks()
        # no control characters, ≤ 100, not empty (ValidationError("name")): never the code in its place
        name = checks.run(clean_text, name, "name", required=True)
        if profile:
            checks.run(check_profile, profile, fields=True)
        checks.done()
        info = self.info()
        secret = secrets.token_urlsafe(24)
        token = make_enroll_token(code, info["hub_fingerprint"], secret)
        t = hub_tables()["hub_station"]
        with self.write() as c:
            row = c.execute(sa.select(t.c.id, t.c.pubkey, t.c.revoked).where(t.c.code == code)).first()
            if row is not None and row[1] and not row[2] and not reissue:
                raise SyncError(
                    409,
                    "already_enrolled",
                    f"station {code} is enrolled; use --reissue for a new token "
                    "(e.g. to rebuild a lost station database) / 站点已注册，重新签发请加 --reissue",
                )
            if row is None:
                sid = uuid7()
                c.execute(
                    t.insert().values(
                        id=sid,
                        code=code,
                        name=name,
                        enroll_hash=token_hash(token),
                        enroll_used=False,
                        revoked=False,
                        acked_oseq=0,
                        station_cursor=0,
                        created_at=env_now(),
                    )
                )
            else:
                # re-issue: a new one-time token for a station (e.g. after revoke, or a lost token). The
                # old key and API token are retired NOW (a stolen or lost PC is refused over HTTP and by
                # bundle alike); the station is "waiting" until the new token is used.
                sid = row[0]
                c.execute(
                    t.update()
                    .where(t.c.id == sid)
                    # a rebuilt station starts a new running head: the old PC's signed head is retired
                    .values(
                        name=name,
                        enroll_hash=token_hash(token),
                        enroll_used=False,
                        revoked=False,
                        pubkey=None,
                        token_hash=None,
                        head_n=0,
                        head_hash=None,
                        head_sig=None,
                    )
                )
                hm = hub_tables()["hub_meta"]
                c.execute(hm.delete().where(hm.c.k == trail_key(sid)))  # and the heads it sent before
            if profile:
                self.keep_profile(c, {"id": sid}, profile)
        return {"station_id": sid, "code": code, "name": name, "token": token}

    def revoke_station(self, code: str) -> dict[str, Any]:
        t = hub_tables()["hub_station"]
        with self.write() as c:
            r = c.execute(
                t.update()
                .where(t.c.code == code.strip().upper())
                .values(revoked=True, token_hash=None, enroll_hash=None, pubkey=None)
            )
            if r.rowcount == 0:
                raise SyncError(404, "unknown_station", f"no station {code!r} at this hub")
        return {"code": code.strip().upper(), "revoked": True}

    def stations(self) -> list[dict[str, Any]]:
        import sqlalchemy as sa

        t = hub_tables()["hub_station"]
        cols = [
            t.c.id,
            t.c.code,
            t.c.name,
            t.c.revoked,
            t.c.acked_oseq,
            t.c.station_cursor,
            t.c.last_seen,
            t.c.protocol,
            t.c.schema_rev,
            t.c.clock_skew_ms,
            t.c.last_error,
            t.c.pubkey,
            t.c.enroll_used,
            t.c.region_code,
            t.c.park,
            t.c.station_type,
            t.c.service_mode,
            t.c.profile_at,
        ]
        with self.engine.connect() as c:
            rows = c.execute(sa.select(*cols).order_by(t.c.code)).mappings().all()
        # each station's open conflicts, of every kind (device_moved, clock_ahead,
        # station_overrides_hub_status, …): what the admin must look at (``hub conflicts`` lists them)
        seen: dict[str, list[dict[str, Any]]] = {}
        for k in self.conflicts():
            if k["station"] is not None:
                seen.setdefault(k["station"], []).append(k)
        out = []
        for r in rows:
            d = {k: wire_value(v) for k, v in r.items()}
            mine = seen.get(str(d["code"]), [])
            kinds: dict[str, int] = {}
            for k in mine:
                kinds[k["kind"]] = kinds.get(k["kind"], 0) + 1
            d["conflicts"] = len(mine)
            d["conflict_kinds"] = kinds
            d["last_conflict"] = {"kind": mine[-1]["kind"], "at": mine[-1]["at"]} if mine else None
            d["enrolled"] = bool(d.pop("pubkey"))
            d["revoked"] = bool(d["revoked"])
            d["enroll_used"] = bool(d["enroll_used"])
            d["city_code"] = places.city_of(d["region_code"])
            d["county_code"] = places.county_of(d["region_code"])
            out.append(d)
        return out

    def conflicts(self, station: str | None = None) -> list[dict[str, Any]]:
        """The hub's unresolved ``sync_conflict`` rows, oldest first, each with the code of the station
        it is about (``station``; None for the hub's own, e.g. ``hub_move_refused``): a ``hub_station``
        row's is its row id (the station's id), any other's the ``station`` its detail names. With
        ``station`` (a code), that station's only. THE reading of whose conflict a row is (``hub
        stations`` counts these, ``hub conflicts`` lists them)."""
        import json

        import sqlalchemy as sa

        t = hub_tables()["hub_station"]
        sc = core_table("sync_conflict")
        with self.engine.connect() as c:
            code_of = {str(i): str(code) for i, code in c.execute(sa.select(t.c.id, t.c.code))}
            got = c.execute(
                sa.select(sc.c.id, sc.c.at, sc.c.table_name, sc.c.row_id, sc.c.kind, sc.c.detail)
                .where(sc.c.resolved == sa.false())
                .order_by(sc.c.at, sc.c.id)
            ).all()
        want = station.strip().upper() if station is not None else None
        out = []
        for cid, at, table, rid, kind, text in got:
            try:
                detail = json.loads(text) if text else {}
            except ValueError:
                detail = {"text": text}
            if not isinstance(detail, dict):
                detail = {"value": detail}
            if table == "hub_station":
                who = code_of.get(str(rid)) or detail.get("station")
            else:
                who = detail.get("station")
            who = str(who) if who else None
            if want is not None and who != want:
                continue
            out.append(
                {
                    "id": cid,
                    "at": wire_value(at),
                    "station": who,
                    "kind": kind,
                    "table": table,
                    "row_id": rid,
                    "detail": detail,
                }
            )
        return out

    def station_by_token(self, token: str | None) -> dict[str, Any]:
        import sqlalchemy as sa

        if not token:
            raise SyncError(401, "no_token", "missing bearer token / 缺少访问令牌")
        t = hub_tables()["hub_station"]
        q = sa.select(t).where(t.c.token_hash == token_hash(token))
        r = self.read_once(lambda c: c.execute(q).mappings().first())
        if r is None:
            raise SyncError(401, "bad_token", "unknown or revoked token / 令牌无效或已吊销")
        if r["revoked"]:
            raise SyncError(401, "revoked", "this station was revoked / 站点已被吊销")
        return dict(r)

    def use_nonce(self, code: str, nonce: str, time_ms: int) -> None:
        """A signed station call's nonce (``guard.call_refusal`` checked its signature and time): kept
        while its time is inside the window; one the hub already holds is a replay, refused
        ``[replayed_call]`` before the endpoint does anything.

        Where: a PostgreSQL hub keeps them in ``hub_call_nonce`` (a row insert never waits on a push's
        transaction); a SQLite hub in its own small file beside the database (:func:`nonce_path`), so a
        signed pull or restore never waits on the write lock a push holds on the hub database (it
        answered 503 under a long push). Every worker and every restart uses the same table or file:
        a replay is refused across them.

        Nonces older than twice the window are pruned at most once a minute per process
        (:data:`NONCE_PRUNE_EVERY_S`), not on every call: one that stays longer can never be used again
        anyway, its call is refused by its time first (``stale_call``)."""
        now = time.time_ns() // 1_000_000
        prune = _prune_due(self.url)
        cutoff = now - 2 * CALL_WINDOW_MS
        if self.sqlite_path is not None:
            fresh = _side_nonce(
                nonce_path(self.sqlite_path), code, nonce, int(time_ms), cutoff if prune else None
            )
        else:
            import sqlalchemy as sa

            t = hub_tables()["hub_call_nonce"]
            with self.write(autocommit=True) as c:  # each statement its own transaction: one round trip
                if prune:
                    c.execute(sa.delete(t).where(t.c.at_ms < cutoff))
                got = c.execute(
                    self.dialect_insert(t)
                    .values(station_code=code, nonce=nonce, at_ms=int(time_ms))
                    .on_conflict_do_nothing()
                    .returning(t.c.nonce)  # no row back: the nonce was there (rowcount is -1 on psycopg)
                ).first()
            fresh = got is not None
        if not fresh:
            raise SyncError(
                403,
                "replayed_call",
                "this signed call was already made (its nonce was used): refused as a replay, nothing done "
                "/ 重复的请求（重放），已拒绝",
            )

    def prove(self, nonce: str, tls_sha256: str | None = None) -> dict[str, Any]:
        """Proof that this server holds the hub key (asked by a station BEFORE it sends its enrollment
        token): the hub key signs the station's nonce and the TLS certificate this hub serves."""
        if not nonce or len(nonce) > 200 or not nonce.isascii():
            raise SyncError(400, "bad_nonce", "nonce must be 1-200 ASCII characters")
        m = self.meta()
        return {
            "hub_pubkey": m["hub_pubkey"],
            "tls_sha256": tls_sha256,
            "signature": keys.sign(m["hub_privkey"], hub_proof_message(nonce, tls_sha256)),
        }

    def enroll(
        self,
        token: str,
        pubkey: str,
        profile: dict[str, Any] | None = None,
        *,
        key_proof: str | None = None,
    ) -> dict[str, Any]:
        """Online enrollment: one-time token + station public key, signed by that key (``key_proof``
        over ``proto.enroll_key_message``) -> a bearer token (stored hashed). The station's profile,
        when sent, is kept (``keep_profile``)."""
        import sqlalchemy as sa

        code, _fp, _secret = parse_enroll_token(token)
        if not pubkey or not keys.valid_pubkey(pubkey):
            raise SyncError(400, "bad_pubkey", "station public key is not a base64 Ed25519 key")
        if not key_proof or not keys.verify(pubkey, enroll_key_message(code, pubkey), key_proof):
            raise SyncError(
                403,
                "bad_key_proof",
                "the enrollment is not signed by the key it registers (key_proof): a station enrolls only a "
                "key it holds; update qi-station on the station / 注册未用所登记的站点密钥签名",
            )
        t = hub_tables()["hub_station"]
        api = secrets.token_urlsafe(32)
        with self.write() as c:
            st = self._check_enroll(c, code, token_hash(token))
            check_key_free(c, st["id"], pubkey)
            # a re-enrollment (new key, maybe a rebuilt database): forget the cursor it last reported
            c.execute(
                t.update()
                .where(t.c.id == st["id"])
                .values(
                    pubkey=pubkey,
                    token_hash=token_hash(api),
                    enroll_used=True,
                    last_seen=env_now(),
                    station_cursor=0,
                )
            )
            self.keep_profile(c, st, profile)
            treq = core_table("request")
            own = int(
                c.execute(
                    sa.select(sa.func.count()).select_from(treq).where(treq.c.station_code == code)
                ).scalar()
                or 0
            )
        info = self.info()
        return {
            "station_id": st["id"],
            "station_code": code,
            "station_name": st["name"],
            "api_token": api,
            "hub_id": info["hub_id"],
            "hub_pubkey": info["hub_pubkey"],
            "protocol": PROTOCOL,
            "schema": schema_head(),
            "acked_oseq": int(st["acked_oseq"] or 0),
            "own_requests": own,
            # the profile the hub holds (a fresh station without its own takes it)
            "profile": {k: st.get(k) for k in PROFILE_KEYS},
        }

    def restore(self, station: dict[str, Any], table: str, after: str, limit: int) -> dict[str, Any]:
        """The station's OWN rows (enterprises, requests with every field, events, referrals, activities) in id order
        after ``after``, to rebuild a lost station database. Returns {table, cols, rows, more, last, acked_oseq}."""
        import sqlalchemy as sa

        if table not in STATION_TABLES:
            raise SyncError(400, "bad_table", f"table must be one of {', '.join(STATION_TABLES)} / 表名无效")
        t = core_table(table)
        code = station["code"]
        if table in ("enterprise", "request", "activity"):
            cond = t.c.station_code == code
        else:
            treq = core_table("request")
            cond = t.c.request_id.in_(sa.select(treq.c.id).where(treq.c.station_code == code))
        cols = [c.key for c in t.columns]
        with self.engine.connect() as c:
            got = c.execute(
                sa.select(*t.columns).where(cond, t.c.id > after).order_by(t.c.id).limit(limit + 1)
            ).all()
            acked = c.execute(
                sa.select(hub_tables()["hub_station"].c.acked_oseq).where(
                    hub_tables()["hub_station"].c.id == station["id"]
                )
            ).scalar()
        more = len(got) > limit
        out = [[norm_value(v) for v in r] for r in got[:limit]]
        return {
            "table": table,
            "cols": cols,
            "rows": out,
            "more": more,
            "last": out[-1][0] if out else after,
            "acked_oseq": int(acked or 0),
        }

    def _check_enroll(self, c: Connection, code: str, thash: str) -> dict[str, Any]:
        try:
            st = self.station_by_code(c, code, lock=True)
        except SyncError:
            raise SyncError(403, "bad_enroll_token", "enrollment token is not valid / 注册码无效") from None
        if st["revoked"] or not st["enroll_hash"] or not secrets.compare_digest(st["enroll_hash"], thash):
            raise SyncError(
                403, "bad_enroll_token", "enrollment token is not valid or was revoked / 注册码无效"
            )
        if st["enroll_used"]:
            raise SyncError(
                403,
                "enroll_token_used",
                "enrollment token was already used (ask the hub for a new one) / 注册码已使用",
            )
        return st
