"""The hub's database logic (SQLite or PostgreSQL, SQLAlchemy Core; same code and migrations for both).

Every writing transaction assigns the hub ``seq`` at its very end from the ``hub_counter`` row
(``UPDATE ... RETURNING`` takes the row lock), so on PostgreSQL seq follows commit order; SQLite has a
single writer anyway.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qi_station.core.clock import now_utc, to_db
from qi_station.core.ids import uuid7
from qi_station.db.session import jsonable
from qi_station.sync import keys
from qi_station.sync.proto import (
    HUB_REQUEST_FIELDS,
    LIBRARY_TABLES,
    PROTOCOL,
    PULL_TABLES,
    SKEW_WARN_MS,
    STATION_TABLES,
    TABLE_RANK,
    SyncError,
    check_enroll_proof,
    make_enroll_token,
    parse_enroll_token,
    schema_head,
    token_hash,
    tombstone_days,
)

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine

ID_NS = uuid.UUID("5b0c7f5e-7a43-4f0e-9d0a-6a1f2d8c9e11")
_ENGINES: dict[str, Any] = {}


# ---- tables & coercion ----------------------------------------------------------------------
def core_table(name: str) -> Table:
    from sqlmodel import SQLModel

    import qi_station.db.models  # noqa: F401 - registers the tables

    return SQLModel.metadata.tables[name]


_HUB_META: Any = None


def hub_tables() -> dict[str, Table]:
    global _HUB_META
    import sqlalchemy as sa

    if _HUB_META is None:
        md = sa.MetaData()
        sa.Table(
            "hub_station",
            md,
            sa.Column("id", sa.String, primary_key=True),
            sa.Column("code", sa.String),
            sa.Column("name", sa.String),
            sa.Column("pubkey", sa.String),
            sa.Column("token_hash", sa.String),
            sa.Column("enroll_hash", sa.String),
            sa.Column("enroll_used", sa.Boolean),
            sa.Column("revoked", sa.Boolean),
            sa.Column("acked_oseq", sa.BigInteger),
            sa.Column("station_cursor", sa.BigInteger),
            sa.Column("last_seen", sa.DateTime),
            sa.Column("protocol", sa.Integer),
            sa.Column("schema_rev", sa.String),
            sa.Column("clock_skew_ms", sa.BigInteger),
            sa.Column("last_error", sa.Text),
            sa.Column("created_at", sa.DateTime),
        )
        sa.Table(
            "hub_bundle",
            md,
            sa.Column("bundle_id", sa.String, primary_key=True),
            sa.Column("station_code", sa.String),
            sa.Column("kind", sa.String),
            sa.Column("at", sa.DateTime),
        )
        sa.Table("hub_meta", md, sa.Column("k", sa.String, primary_key=True), sa.Column("v", sa.Text))
        sa.Table(
            "hub_counter",
            md,
            sa.Column("name", sa.String, primary_key=True),
            sa.Column("value", sa.BigInteger),
        )
        _HUB_META = md
    return dict(_HUB_META.tables)


def _bad(table: str, col: str, v: Any) -> SyncError:
    return SyncError(422, "bad_row", f"{table}.{col}: bad value {str(v)[:60]!r}")


_COERCE: dict[str, dict[str, Any]] = {}
_BOOL_STR = {
    "1": True,
    "0": False,
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "是": True,
    "否": False,
}


def coercers(table: str) -> dict[str, Any]:
    """Per-column converters from wire JSON to Python values for SQLAlchemy Core (strict: refuse junk)."""
    got = _COERCE.get(table)
    if got is not None:
        return got
    import sqlalchemy as sa

    out: dict[str, Any] = {}
    for c in core_table(table).columns:
        t = c.type

        def mk(kind: str, name: str = c.key) -> Any:
            def conv(v: Any) -> Any:
                if v is None:
                    return None
                try:
                    if kind == "dt":
                        if isinstance(v, str):
                            d = datetime.fromisoformat(v)
                            return d.replace(tzinfo=None) if d.tzinfo is None else to_dt_naive(d)
                    elif kind == "date":
                        if isinstance(v, str):
                            return date.fromisoformat(v[:10]) if len(v) >= 10 else date.fromisoformat(v)
                    elif kind == "bool":
                        if isinstance(v, bool):
                            return v
                        if isinstance(v, int) and v in (0, 1):
                            return bool(v)
                        if isinstance(v, str) and v.strip().lower() in _BOOL_STR:
                            return _BOOL_STR[v.strip().lower()]
                    elif kind == "int":
                        if isinstance(v, bool):
                            return int(v)
                        if isinstance(v, float) and v.is_integer():
                            v = int(v)
                        if isinstance(v, str) and v.strip().lstrip("-").isdigit() and len(v) < 12:
                            v = int(v)
                        if isinstance(v, int) and -(2**31) <= v < 2**31:
                            return v
                    else:
                        if isinstance(v, str) and "\x00" not in v:
                            return v
                        if isinstance(v, int | float) and not isinstance(v, bool):
                            return str(v)
                except (ValueError, TypeError):
                    pass
                raise _bad(table, name, v)

            return conv

        if isinstance(t, sa.DateTime):
            out[c.key] = mk("dt")
        elif isinstance(t, sa.Date):
            out[c.key] = mk("date")
        elif isinstance(t, sa.Boolean):
            out[c.key] = mk("bool")
        elif isinstance(t, sa.Integer):
            out[c.key] = mk("int")
        else:
            out[c.key] = mk("str")
    _COERCE[table] = out
    return out


def to_dt_naive(d: datetime) -> datetime:
    from datetime import UTC

    return d.astimezone(UTC).replace(tzinfo=None)


def coerce_row(table: str, row: Any) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise SyncError(422, "bad_row", f"{table}: row is not an object")
    conv = coercers(table)
    out = {k: conv[k](v) for k, v in row.items() if k in conv}
    if not isinstance(out.get("id"), str) or not out["id"]:
        raise SyncError(422, "bad_row", f"{table}: row has no id")
    return out


def wire_value(v: Any) -> Any:
    """Datetimes in the storage format, dates as ISO: the same form as the station's outbox rows."""
    return jsonable(v)


# ---- the hub --------------------------------------------------------------------------------
class Hub:
    """A handle on one hub database (cheap; engines are cached per URL)."""

    def __init__(self, database_url: str | None = None) -> None:
        from qi_station.db.paths import default_hub_url

        self.url = default_hub_url(database_url)
        if self.url.startswith("postgresql://"):
            self.url = "postgresql+psycopg://" + self.url[len("postgresql://") :]
        self.is_sqlite = self.url.startswith("sqlite")
        self.sqlite_path: Path | None = None
        if self.is_sqlite:
            from sqlalchemy.engine import make_url

            self.sqlite_path = Path(make_url(self.url).database or "")

    @property
    def engine(self) -> Engine:
        eng = _ENGINES.get(self.url)
        if eng is None:
            from qi_station.db.engine import make_engine

            eng = _ENGINES[self.url] = make_engine(self.url)
        return eng  # type: ignore[no-any-return]

    def dispose(self) -> None:
        eng = _ENGINES.pop(self.url, None)
        if eng is not None:
            eng.dispose()

    # -- setup --------------------------------------------------------------------------------
    def migrate(self) -> None:
        from qi_station.db.engine import run_migrations

        if self.sqlite_path is not None:
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        run_migrations(self.url)

    def ready(self) -> bool:
        import sqlalchemy as sa

        if self.sqlite_path is not None and not self.sqlite_path.exists():
            return False
        try:
            with self.engine.connect() as c:
                v = c.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            return v == schema_head()
        except Exception:  # noqa: BLE001
            return False

    def require(self) -> Hub:
        if not self.ready():
            raise SyncError(
                400,
                "hub_not_initialized",
                f"hub database {self.safe_url()} is not initialised: run `qi-station hub init` first",
            )
        return self

    def safe_url(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def init(self, library: str | Path | None = None, *, demo: bool = True) -> dict[str, Any]:
        self.migrate()
        meta = self.meta()
        if "hub_id" not in meta:
            priv, pub = keys.generate()
            with self.write() as c:
                for k, v in (("hub_id", uuid7()), ("hub_privkey", priv), ("hub_pubkey", pub)):
                    self._meta_insert(c, k, v)
        out: dict[str, Any] = {"database": self.safe_url(), **self.info()}
        if library is not None:
            out["library"] = self.import_library(library)
        elif demo and self.library_count() == 0:
            rows = demo_library_rows()
            if rows:
                out["library"] = self.upsert_library(rows, tombstone_missing=False)
        return out

    def _meta_insert(self, c: Connection, k: str, v: str) -> None:
        t = hub_tables()["hub_meta"]
        ins = self._insert(t).values(k=k, v=v).on_conflict_do_nothing(index_elements=["k"])
        c.execute(ins)

    def meta(self) -> dict[str, str]:
        import sqlalchemy as sa

        with self.engine.connect() as c:
            return {r[0]: r[1] for r in c.execute(sa.text("SELECT k, v FROM hub_meta"))}

    def info(self) -> dict[str, Any]:
        m = self.meta()
        pub = m.get("hub_pubkey", "")
        return {
            "hub_id": m.get("hub_id"),
            "hub_pubkey": pub,
            "hub_fingerprint": keys.fingerprint(pub) if pub else None,
            "protocol": PROTOCOL,
            "schema": schema_head(),
        }

    def _insert(self, t: Table) -> Any:
        if self.is_sqlite:
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(t)
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(t)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction; SQLite busy/locked becomes a 503 the client retries."""
        from sqlalchemy.exc import DataError, IntegrityError, OperationalError

        try:
            with self.engine.begin() as c:
                yield c
        except IntegrityError as e:
            raise SyncError(
                422, "integrity", f"refused, nothing changed: {str(e.orig).splitlines()[0][:200]}"
            ) from None
        except DataError as e:
            raise SyncError(
                422, "bad_data", f"refused, nothing changed: {str(e.orig).splitlines()[0][:200]}"
            ) from None
        except OperationalError as e:
            raise SyncError(
                503, "busy", f"hub database busy, retry: {str(e.orig).splitlines()[0][:200]}"
            ) from None

    def alloc_seq(self, c: Connection, n: int) -> int:
        """Reserve n hub seqs at the END of a write transaction (row lock until commit). Returns the first."""
        import sqlalchemy as sa

        last = c.execute(
            sa.text("UPDATE hub_counter SET value = value + :n WHERE name = 'seq' RETURNING value"), {"n": n}
        ).scalar_one()
        return int(last) - n + 1

    def stamp(self, c: Connection, written: list[tuple[str, str]]) -> int:
        """Give each written row a new seq, in write order. Returns the last seq (0 when nothing)."""
        import sqlalchemy as sa

        if not written:
            return 0
        # one seq per row: a row written twice in a transaction keeps the later position
        last_pos: dict[tuple[str, str], int] = {}
        for i, key in enumerate(written):
            last_pos[key] = i
        order = sorted(last_pos, key=last_pos.__getitem__)
        first = self.alloc_seq(c, len(order))
        by_table: dict[str, list[dict[str, Any]]] = {}
        for i, (t, rid) in enumerate(order):
            by_table.setdefault(t, []).append({"s": first + i, "i": rid})
        for t, params in by_table.items():
            c.execute(sa.text(f"UPDATE {t} SET seq = :s WHERE id = :i"), params)
        return first + len(order) - 1

    # -- stations -----------------------------------------------------------------------------
    def add_station(self, code: str, name: str, *, reissue: bool = False) -> dict[str, Any]:
        """Register a station and issue its one-time enrollment token. For an enrolled station whose
        database was lost, ``reissue`` gives a new token: enrolling with it on a fresh database
        restores the station's own rows from the hub (``restore``)."""
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
        name = (name or "").strip() or code
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
                        created_at=now_utc(),
                    )
                )
            else:
                # re-issue: a new one-time token for a station (e.g. after revoke, or a lost token)
                sid = row[0]
                c.execute(
                    t.update()
                    .where(t.c.id == sid)
                    .values(name=name, enroll_hash=token_hash(token), enroll_used=False, revoked=False)
                )
        return {"station_id": sid, "code": code, "name": name, "token": token}

    def revoke_station(self, code: str) -> dict[str, Any]:
        t = hub_tables()["hub_station"]
        with self.write() as c:
            r = c.execute(
                t.update()
                .where(t.c.code == code.strip().upper())
                .values(revoked=True, token_hash=None, enroll_hash=None)
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
        ]
        with self.engine.connect() as c:
            rows = c.execute(sa.select(*cols).order_by(t.c.code)).mappings().all()
        out = []
        for r in rows:
            d = {k: wire_value(v) for k, v in r.items()}
            d["enrolled"] = bool(d.pop("pubkey"))
            d["revoked"] = bool(d["revoked"])
            d["enroll_used"] = bool(d["enroll_used"])
            out.append(d)
        return out

    def station_by_token(self, token: str | None) -> dict[str, Any]:
        import sqlalchemy as sa

        if not token:
            raise SyncError(401, "no_token", "missing bearer token / 缺少访问令牌")
        t = hub_tables()["hub_station"]
        with self.engine.connect() as c:
            r = c.execute(sa.select(t).where(t.c.token_hash == token_hash(token))).mappings().first()
        if r is None:
            raise SyncError(401, "bad_token", "unknown or revoked token / 令牌无效或已吊销")
        if r["revoked"]:
            raise SyncError(401, "revoked", "this station was revoked / 站点已被吊销")
        return dict(r)

    def station_by_code(self, c: Connection, code: str, *, lock: bool = False) -> dict[str, Any]:
        import sqlalchemy as sa

        t = hub_tables()["hub_station"]
        q = sa.select(t).where(t.c.code == code)
        if lock and not self.is_sqlite:
            q = q.with_for_update()
        r = c.execute(q).mappings().first()
        if r is None:
            raise SyncError(404, "unknown_station", f"no station {code!r} at this hub")
        return dict(r)

    def enroll(self, token: str, pubkey: str) -> dict[str, Any]:
        """Online enrollment: one-time token + station public key -> a bearer token (stored hashed)."""
        import sqlalchemy as sa

        code, _fp, _secret = parse_enroll_token(token)
        if not pubkey or not _valid_pubkey(pubkey):
            raise SyncError(400, "bad_pubkey", "station public key is not a base64 Ed25519 key")
        t = hub_tables()["hub_station"]
        api = secrets.token_urlsafe(32)
        with self.write() as c:
            st = self._check_enroll(c, code, token_hash(token))
            # a re-enrollment (new key, maybe a rebuilt database): forget the cursor it last reported
            c.execute(
                t.update()
                .where(t.c.id == st["id"])
                .values(
                    pubkey=pubkey,
                    token_hash=token_hash(api),
                    enroll_used=True,
                    last_seen=now_utc(),
                    station_cursor=0,
                )
            )
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
        }

    def restore(self, station: dict[str, Any], table: str, after: str, limit: int) -> dict[str, Any]:
        """The station's OWN rows (enterprises, requests with every field, events, referrals) in id order
        after ``after``, to rebuild a lost station database. Returns {table, cols, rows, more, last, acked_oseq}."""
        import sqlalchemy as sa

        if table not in STATION_TABLES:
            raise SyncError(400, "bad_table", f"table must be one of {', '.join(STATION_TABLES)}")
        t = core_table(table)
        code = station["code"]
        if table in ("enterprise", "request"):
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
        out = [[_norm(v) for v in r] for r in got[:limit]]
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

    def touch(
        self,
        c: Connection,
        st: dict[str, Any],
        protocol: Any,
        schema: Any,
        station_now_ms: Any,
        error: str | None = None,
    ) -> int | None:
        import sqlalchemy as sa

        t = hub_tables()["hub_station"]
        skew = None
        if isinstance(station_now_ms, int) and not isinstance(station_now_ms, bool):
            from time import time_ns

            skew = max(-(2**62), min(2**62, station_now_ms - time_ns() // 1_000_000))
        vals: dict[str, Any] = {
            "last_seen": now_utc(),
            "protocol": _int_or_none(protocol),
            "schema_rev": str(schema)[:20] if schema is not None else None,
        }
        if skew is not None:
            vals["clock_skew_ms"] = skew
        if error is not None:
            vals["last_error"] = error[:500]
        c.execute(sa.update(t).where(t.c.id == st["id"]).values(**vals))
        return skew

    # -- push (HTTP and bundles) ----------------------------------------------------------------
    def push(
        self,
        station: dict[str, Any],
        batch: list[dict[str, Any]],
        *,
        protocol: Any = PROTOCOL,
        schema: Any = None,
        station_now_ms: Any = None,
    ) -> dict[str, Any]:
        with self.write() as c:
            st = self.station_by_code(c, station["code"], lock=True)
            if st["revoked"]:
                raise SyncError(401, "revoked", "this station was revoked / 站点已被吊销")
            out = self.apply_push(c, st, batch)
            skew = self.touch(c, st, protocol, schema, station_now_ms)
        if skew is not None and abs(skew) > SKEW_WARN_MS:
            out["warning"] = (
                f"station clock is off by {skew / 1000:.0f} s; fix the PC clock (sync is not affected)"
            )
        out["clock_skew_ms"] = skew
        return out

    def apply_push(self, c: Connection, st: dict[str, Any], batch: list[dict[str, Any]]) -> dict[str, Any]:
        """THE apply function for station changes (HTTP push and up bundles). Runs inside ``c``'s
        transaction: skip what is acked, refuse gaps, check ownership, s_rev guards, stamp seq, ack."""
        import sqlalchemy as sa

        acked = int(st["acked_oseq"])
        code = st["code"]
        results: list[dict[str, Any]] = []
        fresh: list[dict[str, Any]] = []
        for ch in sorted(batch, key=lambda x: x["oseq"]):
            if ch["oseq"] <= acked:
                results.append({"oseq": ch["oseq"], "status": "duplicate"})
            else:
                fresh.append(ch)
        expect = acked + 1
        seen: set[int] = set()
        for ch in fresh:
            if ch["oseq"] in seen:
                raise SyncError(422, "bad_batch", f"oseq {ch['oseq']} appears twice in one batch")
            seen.add(ch["oseq"])
            if ch["oseq"] != expect:
                raise SyncError(
                    409,
                    "gap",
                    f"out-of-order change: expected oseq {acked + 1 if not results and expect == acked + 1 else expect}, got {ch['oseq']} (need an earlier bundle / 缺少更早的数据包)",
                    expected=expect,
                    acked_oseq=acked,
                )
            expect += 1
        if not fresh:
            return {"acked_oseq": acked, "results": results, "applied": 0}
        # authorize + coerce everything before writing anything
        prepared: list[tuple[int, int, str, dict[str, Any], dict[str, Any]]] = []
        batch_requests: set[str] = set()
        for ch in fresh:
            table = ch.get("table")
            if table in LIBRARY_TABLES:
                raise SyncError(
                    403, "forbidden", f"a station cannot write library table {table!r} / 站点不能修改资源库"
                )
            if table not in STATION_TABLES:
                raise SyncError(403, "forbidden", f"table {table!r} is not synced from stations")
            row = coerce_row(str(table), ch.get("row"))
            if table in ("enterprise", "request") and row.get("station_code") != code:
                raise SyncError(
                    403,
                    "forbidden",
                    f"{table} {row['id']} belongs to station {row.get('station_code')!r}, not {code!r} / 不能修改其他站点的数据",
                )
            if table == "request":
                batch_requests.add(row["id"])
            prepared.append((TABLE_RANK[str(table)], ch["oseq"], str(table), row, ch))
        # ownership against what the hub already holds
        treq, tent = core_table("request"), core_table("enterprise")
        req_ids = {p[3]["id"] for p in prepared if p[2] == "request"} | {
            p[3].get("request_id") for p in prepared if p[2] in ("request_event", "referral")
        }
        req_ids.discard(None)
        owners: dict[str, tuple[str, int, int, str]] = {}
        for chunk in _chunks(sorted(x for x in req_ids if isinstance(x, str)), 500):
            for r in c.execute(
                sa.select(treq.c.id, treq.c.station_code, treq.c.s_rev, treq.c.h_rev, treq.c.status).where(
                    treq.c.id.in_(chunk)
                )
            ):
                owners[r[0]] = (r[1], r[2], r[3], r[4])
        ent_ids = [p[3]["id"] for p in prepared if p[2] == "enterprise"]
        ent_owner: dict[str, tuple[str | None, int]] = {}
        for chunk in _chunks(ent_ids, 500):
            for er in c.execute(
                sa.select(tent.c.id, tent.c.station_code, tent.c.s_rev).where(tent.c.id.in_(chunk))
            ):
                ent_owner[er[0]] = (er[1], er[2])
        for _rank, _o, table, row, _ch in prepared:
            rid = row["id"] if table == "request" else row.get("request_id")
            if table in ("request", "request_event", "referral"):
                own = owners.get(str(rid))
                if own is not None and own[0] != code:
                    raise SyncError(
                        403,
                        "forbidden",
                        f"request {rid} belongs to station {own[0]!r}, not {code!r} / 不能修改其他站点的台账",
                    )
                if own is None and rid not in batch_requests:
                    raise SyncError(422, "orphan", f"{table} {row['id']} refers to unknown request {rid}")
            if table == "enterprise":
                eo = ent_owner.get(row["id"])
                if eo is not None and eo[0] != code:
                    raise SyncError(
                        403,
                        "forbidden",
                        f"enterprise {row['id']} belongs to station {eo[0]!r} / 不能修改其他站点的企业",
                    )
        # apply in foreign-key order; within a table in oseq order. New rows are collected and inserted
        # in bulk (one executemany per table and column set) before the next table; a later change of a
        # row inserted in this batch is merged into its pending insert.
        written: list[tuple[str, str]] = []
        status_of: dict[int, str] = {}
        have: set[str] = set()
        for tname in ("request_event", "referral"):
            ids = [p[3]["id"] for p in prepared if p[2] == tname]
            tt = core_table(tname)
            for chunk in _chunks(ids, 500):
                have.update(r[0] for r in c.execute(sa.select(tt.c.id).where(tt.c.id.in_(chunk))))
        pending: dict[str, dict[str, dict[str, Any]]] = {}

        def flush(table: str) -> None:
            rows_ = pending.pop(table, None)
            if not rows_:
                return
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for r in rows_.values():
                groups.setdefault(tuple(sorted(r)), []).append(r)
            for params in groups.values():
                c.execute(core_table(table).insert(), params)

        current = None
        for _rank, oseq, table, row, _ch in sorted(prepared, key=lambda p: (p[0], p[1])):
            if table != current:
                if current is not None:
                    flush(current)
                current = table
            t = core_table(table)
            ins = pending.setdefault(table, {})
            if table == "enterprise":
                prev = ent_owner.get(row["id"])
                if prev is None:
                    row["seq"] = 0
                    ins[row["id"]] = row
                    ent_owner[row["id"]] = (code, row.get("s_rev", 1))
                    written.append((table, row["id"]))
                    status_of[oseq] = "applied"
                elif row.get("s_rev", 0) > prev[1]:
                    vals = {k: v for k, v in row.items() if k not in ("id", "seq")}
                    if row["id"] in ins:
                        ins[row["id"]].update(vals)
                    else:
                        c.execute(t.update().where(t.c.id == row["id"]).values(**vals))
                    ent_owner[row["id"]] = (code, row["s_rev"])
                    written.append((table, row["id"]))
                    status_of[oseq] = "applied"
                else:
                    status_of[oseq] = "stale"
            elif table == "request":
                prevr = owners.get(row["id"])
                if prevr is None:
                    row["seq"] = 0
                    ins[row["id"]] = row
                    owners[row["id"]] = (
                        code,
                        row.get("s_rev", 1),
                        row.get("h_rev", 0),
                        row.get("status", "new"),
                    )
                    written.append((table, row["id"]))
                    status_of[oseq] = "applied"
                elif row.get("s_rev", 0) > prevr[1]:
                    vals = {
                        k: v for k, v in row.items() if k not in ("id", "seq", "h_rev", *HUB_REQUEST_FIELDS)
                    }
                    if row.get("h_rev", 0) < prevr[2] and row.get("status") != prevr[3]:
                        self.conflict(
                            c,
                            "request",
                            row["id"],
                            "station_overrides_hub_status",
                            {
                                "station": code,
                                "hub_status": prevr[3],
                                "station_status": row.get("status"),
                                "hub_h_rev": prevr[2],
                                "station_seen_h_rev": row.get("h_rev"),
                            },
                        )
                    if row["id"] in ins:
                        ins[row["id"]].update(vals)
                    else:
                        c.execute(t.update().where(t.c.id == row["id"]).values(**vals))
                    owners[row["id"]] = (code, row["s_rev"], prevr[2], row.get("status", prevr[3]))
                    written.append((table, row["id"]))
                    status_of[oseq] = "applied"
                else:
                    status_of[oseq] = "stale"
            else:  # append-only rows: insert once
                if row["id"] in have:
                    status_of[oseq] = "duplicate"
                else:
                    have.add(row["id"])
                    ins[row["id"]] = row
                    status_of[oseq] = "applied"
        if current is not None:
            flush(current)
        self.stamp(c, written)
        new_ack = fresh[-1]["oseq"]
        hs = hub_tables()["hub_station"]
        c.execute(sa.update(hs).where(hs.c.id == st["id"]).values(acked_oseq=new_ack))
        st["acked_oseq"] = new_ack
        results.extend({"oseq": ch["oseq"], "status": status_of.get(ch["oseq"], "applied")} for ch in fresh)
        return {"acked_oseq": new_ack, "results": results, "applied": len(fresh)}

    def conflict(self, c: Connection, table: str, row_id: str, kind: str, detail: dict[str, Any]) -> None:
        t = core_table("sync_conflict")
        c.execute(
            t.insert().values(
                id=uuid7(),
                at=now_utc(),
                table_name=table,
                row_id=row_id,
                kind=kind,
                detail=json.dumps(detail, ensure_ascii=False),
                resolved=False,
            )
        )

    # -- pull (HTTP and down bundles) -----------------------------------------------------------
    def read_changes(
        self,
        station_code: str,
        since: int,
        limit: int | None,
        *,
        raw: bool | str = False,
        check_horizon: bool = True,
    ) -> dict[str, Any]:
        """Rows with seq > since, in seq order, scoped to the station (libraries + its own requests),
        read in ONE snapshot. Columnar: {tables: {t: {cols, rows}}, next, more, head}. With ``raw`` on
        SQLite, each table's rows come as JSON text built by SQLite itself (``rows_json``): no Python
        objects per row on the hot path."""
        if self.is_sqlite:
            assert self.sqlite_path is not None
            conn = sqlite3.connect(self.sqlite_path, timeout=5, check_same_thread=False)
            conn.isolation_level = None
            try:
                conn.execute("BEGIN")
                return self._read_changes(
                    _SqliteExec(conn), station_code, since, limit, raw=raw, check_horizon=check_horizon
                )
            finally:
                conn.execute("ROLLBACK") if conn.in_transaction else None
                conn.close()
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as sc:
            with sc.begin():
                return self._read_changes(
                    _SaExec(sc), station_code, since, limit, check_horizon=check_horizon
                )

    def _read_changes(
        self,
        ex: Any,
        station_code: str,
        since: int,
        limit: int | None,
        raw: bool | str = False,
        check_horizon: bool = True,
    ) -> dict[str, Any]:
        import heapq

        def where(t: str) -> tuple[str, dict[str, Any]]:
            if t == "request":
                return "station_code = :code AND seq > :since", {"code": station_code, "since": since}
            return "seq > :since", {"since": since}

        head = int(ex.scalar("SELECT value FROM hub_counter WHERE name = 'seq'") or 0)
        horizon = int(ex.scalar("SELECT v FROM hub_meta WHERE k = 'tombstone_horizon'") or 0)
        if 0 < since < horizon:
            if check_horizon:
                raise SyncError(
                    410,
                    "resync_required",
                    f"changes before hub seq {horizon} were compacted (tombstones older than the horizon); "
                    "download a full snapshot / 需要重新全量同步",
                    horizon=horizon,
                )
        cutoff = head
        more = False
        if limit is not None:
            seqs: list[int] = []
            for t in PULL_TABLES:
                w, p = where(t)
                seqs.extend(
                    r[0]
                    for r in ex.rows(
                        f"SELECT seq FROM {t} WHERE {w} ORDER BY seq LIMIT :lim", {**p, "lim": limit + 1}
                    )
                )
            if len(seqs) > limit:
                small = heapq.nsmallest(limit, seqs)
                cutoff = small[-1]
                more = True
        tables: dict[str, Any] = {}
        nxt = since
        for t in PULL_TABLES:
            cols = [c.key for c in core_table(t).columns]
            if t == "request":
                cols = ["id", "station_code", "status", "s_rev", "h_rev", "seq", *HUB_REQUEST_FIELDS]
            w, p = where(t)
            if raw == "lines" and self.is_sqlite:
                pairs = ", ".join(f"'{c}', {c}" for c in cols)
                n, text = ex.rows(
                    f"SELECT count(*), group_concat(json_object('t', '{t}', 'row', json_object({pairs})), "
                    f"char(10)) FROM (SELECT {', '.join(cols)} FROM {t} WHERE {w} AND seq <= :cut "
                    "ORDER BY seq)",
                    {**p, "cut": cutoff},
                )[0]
                if n:
                    tables[t] = {"cols": cols, "lines": text, "n": n}
                continue
            if raw and self.is_sqlite:
                n, text = ex.rows(
                    f"SELECT count(*), json_group_array(json_array({', '.join(cols)})) FROM "
                    f"(SELECT {', '.join(cols)} FROM {t} WHERE {w} AND seq <= :cut ORDER BY seq)",
                    {**p, "cut": cutoff},
                )[0]
                if n:
                    tables[t] = {"cols": cols, "rows_json": text}
                continue
            rows = ex.rows(
                f"SELECT {', '.join(cols)} FROM {t} WHERE {w} AND seq <= :cut ORDER BY seq",
                {**p, "cut": cutoff},
            )
            if rows:
                if not self.is_sqlite:
                    rows = [[wire_value(v) for v in r] for r in rows]
                else:
                    rows = [list(r) for r in rows]
                si = cols.index("seq")
                nxt = max(nxt, rows[-1][si])
                tables[t] = {"cols": cols, "rows": rows}
        # everything <= head is committed in this snapshot (seq is assigned under the counter row lock)
        nxt = cutoff if more else max(head, since)
        return {"since": since, "next": nxt, "more": more, "head": head, "horizon": horizon, "tables": tables}

    def pull_json(
        self,
        station: dict[str, Any],
        since: int,
        limit: int,
        *,
        protocol: Any = PROTOCOL,
        schema: Any = None,
        station_now_ms: Any = None,
        resync: bool = False,
    ) -> bytes:
        """The pull reply as JSON bytes (SQLite: row JSON assembled by SQLite; same document as ``pull``)."""
        page = self.pull(
            station,
            since,
            limit,
            protocol=protocol,
            schema=schema,
            station_now_ms=station_now_ms,
            raw=True,
            resync=resync,
        )
        tables = page.pop("tables")
        parts = []
        for t, block in tables.items():
            rows = (
                block["rows_json"] if "rows_json" in block else json.dumps(block["rows"], ensure_ascii=False)
            )
            parts.append(f'{json.dumps(t)}:{{"cols":{json.dumps(block["cols"])},"rows":{rows}}}')
        head = json.dumps(page, ensure_ascii=False, separators=(",", ":"))
        return (head[:-1] + ',"tables":{' + ",".join(parts) + "}}").encode("utf-8")

    def pull(
        self,
        station: dict[str, Any],
        since: int,
        limit: int,
        *,
        protocol: Any = PROTOCOL,
        schema: Any = None,
        station_now_ms: Any = None,
        raw: bool = False,
        resync: bool = False,
    ) -> dict[str, Any]:
        """``resync``: a page of a snapshot pass the station began at since=0 (it will delete what the
        pass does not bring), so no 410 below the tombstone horizon."""
        page = self.read_changes(station["code"], since, limit, raw=raw, check_horizon=not resync)
        try:
            with self.write() as c:
                import sqlalchemy as sa

                hs = hub_tables()["hub_station"]
                self.touch(c, station, protocol, schema, station_now_ms)
                c.execute(
                    sa.update(hs)
                    .where(hs.c.id == station["id"], hs.c.station_cursor < since)
                    .values(station_cursor=since)
                )
        except SyncError:
            pass  # bookkeeping only: a busy hub still serves the page
        page["acked_oseq"] = int(station.get("acked_oseq") or 0)
        page["protocol"] = PROTOCOL
        page["schema"] = schema_head()
        return page

    # -- tombstone horizon ----------------------------------------------------------------------
    def horizon(self) -> int:
        """Hub seq below which tombstones may have been purged: a pull with 0 < since < horizon is 410."""
        return int(self.meta().get("tombstone_horizon") or 0)

    def purge_tombstones(self, days: int | None = None) -> dict[str, int]:
        """Physically delete library tombstones older than ``days`` (default TOMBSTONE_DAYS or
        QI_HUB_TOMBSTONE_DAYS) and raise the horizon to the highest purged seq, in one transaction."""
        from datetime import timedelta

        import sqlalchemy as sa

        cutoff = now_utc() - timedelta(days=tombstone_days(days))
        purged = 0
        with self.write() as c:
            top = 0
            for t in LIBRARY_TABLES:
                tt = core_table(t)
                cond = sa.and_(tt.c.deleted == sa.true(), tt.c.updated_at <= cutoff)
                mx = c.execute(sa.select(sa.func.max(tt.c.seq)).where(cond)).scalar()
                if mx is None:
                    continue
                top = max(top, int(mx))
                purged += int(c.execute(tt.delete().where(cond)).rowcount or 0)
            old = int(
                c.execute(sa.text("SELECT v FROM hub_meta WHERE k = 'tombstone_horizon'")).scalar() or 0
            )
            if top > old:
                hm = hub_tables()["hub_meta"]
                if old:
                    c.execute(sa.update(hm).where(hm.c.k == "tombstone_horizon").values(v=str(top)))
                else:
                    self._meta_insert(c, "tombstone_horizon", str(top))
        return {"purged": purged, "horizon": max(top, old)}

    # -- hub-side edits -------------------------------------------------------------------------
    def library_count(self) -> int:
        import sqlalchemy as sa

        n = 0
        with self.engine.connect() as c:
            for t in LIBRARY_TABLES:
                n += int(c.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
        return n

    def upsert_library(
        self, rows: list[tuple[str, dict[str, Any]]], *, tombstone_missing: bool = False
    ) -> dict[str, int]:
        """Add/update library rows (rev+1 and a new seq only when something changed); optionally tombstone
        the rows of the same tables that are missing from ``rows``. Pinyin is computed here, on write."""
        import sqlalchemy as sa

        from qi_station.db.pinyin import pinyin_fields

        stats = {"added": 0, "updated": 0, "deleted": 0, "unchanged": 0}
        by_table: dict[str, list[dict[str, Any]]] = {}
        for table, r in rows:
            if table not in LIBRARY_TABLES:
                raise SyncError(
                    400,
                    "bad_library",
                    f"unknown library table {table!r} (expert/institution/equipment/project)",
                )
            by_table.setdefault(table, []).append(r)
        now = now_utc()
        with self.write() as c:
            written: list[tuple[str, str]] = []
            for table, trows in by_table.items():
                t = core_table(table)
                colnames = [col.key for col in t.columns]
                existing = {
                    r[0]: dict(zip(colnames, r, strict=True))
                    for r in c.execute(sa.select(*[t.c[k] for k in colnames]))
                }
                seen: set[str] = set()
                ins: list[dict[str, Any]] = []
                for raw in trows:
                    r = {
                        k: v
                        for k, v in raw.items()
                        if k in colnames and k not in ("rev", "seq", "updated_at")
                    }
                    name = str(r.get("name") or "").strip()
                    if not name:
                        raise SyncError(400, "bad_library", f"{table}: a row without a name")
                    r["name"] = name
                    rid = str(r.get("id") or uuid.uuid5(ID_NS, f"{table}:{name}"))
                    r["id"] = rid
                    if isinstance(r.get("elements"), list):
                        r["elements"] = json.dumps(r["elements"], ensure_ascii=False)
                    deleted = (
                        bool(raw.get("deleted"))
                        if raw.get("deleted") not in ("", "0", "false", "False", None)
                        else False
                    )
                    r["deleted"] = deleted
                    for k, v in raw.items():  # demo style: cma_expiry_days -> a date relative to today
                        if (
                            k.endswith("_days")
                            and k[:-5] in colnames
                            and isinstance(v, int | float | str)
                            and v not in ("", None)
                        ):
                            from datetime import timedelta

                            from qi_station.core.clock import today_local

                            r[k[:-5]] = (today_local() + timedelta(days=int(float(v)))).isoformat()
                    try:
                        # the station's own search fields, when present
                        from qi_station.db.searchtext import prepare

                        prep = prepare(table, {**r, "elements": r.get("elements") or "[]"})
                        r["name_py"], r["name_initials"], r["haystack"] = (
                            prep["name_py"],
                            prep["name_initials"],
                            prep["haystack"],
                        )
                    except (ImportError, KeyError, TypeError, ValueError):
                        py, ini = pinyin_fields(name, person=(table == "expert"))
                        r["name_py"], r["name_initials"] = py, ini
                        r["haystack"] = " ".join(
                            str(x) for x in [name, *(raw.get(k) for k in _HAY.get(table, ()))] if x
                        ).lower()
                    r = coerce_row(table, {k: wire_value(v) for k, v in r.items()})
                    seen.add(rid)
                    old = existing.get(rid)
                    if old is None:
                        if deleted:
                            continue
                        r.update(rev=1, seq=0, updated_at=now)
                        ins.append(r)
                        stats["added"] += 1
                        written.append((table, rid))
                    else:
                        changed = {k: v for k, v in r.items() if _norm(old.get(k)) != _norm(v)}
                        if not changed:
                            stats["unchanged"] += 1
                            continue
                        changed.update(rev=int(old["rev"]) + 1, updated_at=now)
                        c.execute(t.update().where(t.c.id == rid).values(**changed))
                        stats["deleted" if deleted and not old["deleted"] else "updated"] += 1
                        written.append((table, rid))
                if ins:
                    keys_ = sorted({k for r in ins for k in r})
                    full = [{k: r.get(k, _default(t, k)) for k in keys_} for r in ins]
                    for chunk in _chunks(full, 2000):
                        c.execute(t.insert(), chunk)
                if tombstone_missing:
                    gone = [rid for rid, old in existing.items() if rid not in seen and not old["deleted"]]
                    for rid in gone:
                        c.execute(
                            t.update()
                            .where(t.c.id == rid)
                            .values(deleted=True, rev=int(existing[rid]["rev"]) + 1, updated_at=now)
                        )
                        written.append((table, rid))
                    stats["deleted"] += len(gone)
            self.stamp(c, written)
        return stats

    def delete_library(self, table: str, ids: list[str]) -> int:
        import sqlalchemy as sa

        t = core_table(table)
        n = 0
        with self.write() as c:
            written = []
            for rid in ids:
                r: Any = c.execute(sa.select(t.c.rev, t.c.deleted).where(t.c.id == rid)).first()
                if r is None or r[1]:
                    continue
                c.execute(
                    t.update().where(t.c.id == rid).values(deleted=True, rev=r[0] + 1, updated_at=now_utc())
                )
                written.append((table, rid))
                n += 1
            self.stamp(c, written)
        return n

    def import_library(self, path: str | Path, *, partial: bool = False) -> dict[str, int]:
        rows = read_library_file(Path(path))
        return self.upsert_library(rows, tombstone_missing=not partial)

    def assign(
        self,
        request_id: str,
        *,
        expert_id: str | None = None,
        note: str | None = None,
        priority: str | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        """A hub-side update of a request: hub fields bump h_rev; a status move is checked with
        domain.can_move against the hub copy and flows down with the hub fields."""
        import sqlalchemy as sa

        from qi_station.core import domain

        t = core_table("request")
        with self.write() as c:
            r: Any = (
                c.execute(sa.select(t).where(sa.or_(t.c.id == request_id, t.c.number == request_id)))
                .mappings()
                .first()
            )
            if r is None:
                raise SyncError(404, "unknown_request", f"no request {request_id!r} at this hub")
            vals: dict[str, Any] = {}
            if expert_id is not None:
                vals["hub_expert_id"] = expert_id or None
            if note is not None:
                vals["hub_note"] = note or None
            if priority is not None:
                vals["hub_priority"] = priority or None
            if status is not None and status != r["status"]:
                if not domain.can_move(r["status"], status):
                    self.conflict(
                        c, "request", r["id"], "hub_move_refused", {"from": r["status"], "to": status}
                    )
                    raise SyncError(
                        409, "illegal_move", f"illegal move {r['status']} -> {status} / 不允许的状态变更"
                    )
                vals["status"] = status
            if not vals:
                return {"id": r["id"], "h_rev": r["h_rev"], "changed": False}
            vals["h_rev"] = int(r["h_rev"]) + 1  # updated_at is a station-owned field: left alone
            c.execute(t.update().where(t.c.id == r["id"]).values(**vals))
            seq = self.stamp(c, [("request", r["id"])])
        return {"id": r["id"], "h_rev": vals["h_rev"], "seq": seq, "changed": True}

    # -- bundles --------------------------------------------------------------------------------
    def import_bundle(self, path: str | Path) -> dict[str, Any]:
        """An up bundle from a station: verify, then the SAME apply_push as HTTP, in one transaction."""
        import sqlalchemy as sa

        from qi_station.sync.bundle import check_signature, read_bundle

        self.require()
        p = Path(path)
        manifest, mbytes, sig, changes = read_bundle(p)
        if manifest.get("kind") != "up":
            raise SyncError(
                400,
                "wrong_kind",
                f"bundle {p.name} is a {manifest.get('kind')!r} bundle, not a station (up) bundle",
            )
        from qi_station.sync.proto import check_versions

        check_versions(manifest.get("protocol"), manifest.get("schema"))
        info = self.info()
        if manifest.get("target_id") not in (info["hub_id"], info["hub_fingerprint"]):
            raise SyncError(
                400,
                "wrong_target",
                f"bundle {p.name} is addressed to hub {manifest.get('target_id')!r}, not this hub ({info['hub_fingerprint']}) / 数据包不是发给本中心的",
            )
        code = str(manifest.get("source_id") or "")
        batch = _parse_up_changes(changes)
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
            enroll = manifest.get("enroll") or None
            if st["pubkey"]:
                check_signature(p.name, mbytes, sig, st["pubkey"])
                if enroll and enroll.get("pubkey") != st["pubkey"]:
                    raise SyncError(403, "bad_enroll", f"station {code} is enrolled with another key")
            else:
                if not enroll or not isinstance(enroll, dict):
                    raise SyncError(
                        403,
                        "not_enrolled",
                        f"station {code} has not enrolled yet and the bundle carries no enrollment",
                    )
                pub = str(enroll.get("pubkey") or "")
                if not _valid_pubkey(pub):
                    raise SyncError(400, "bad_pubkey", "bundle enrollment key is not an Ed25519 key")
                check_signature(p.name, mbytes, sig, pub)
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
                c.execute(sa.update(hs).where(hs.c.id == st["id"]).values(pubkey=pub, enroll_used=True))
                st["pubkey"] = pub
            bid = str(manifest.get("bundle_id") or "")
            if c.execute(sa.select(hb.c.bundle_id).where(hb.c.bundle_id == bid)).first() is not None:
                return {
                    "bundle_id": bid,
                    "station": code,
                    "status": "already_imported",
                    "acked_oseq": st["acked_oseq"],
                    "applied": 0,
                }
            out = self.apply_push(c, st, batch)
            cur = manifest.get("station_cursor")
            if isinstance(cur, int) and not isinstance(cur, bool) and cur >= 0:
                c.execute(
                    sa.update(hs)
                    .where(hs.c.id == st["id"], hs.c.station_cursor < cur)
                    .values(station_cursor=cur)
                )
            c.execute(hb.insert().values(bundle_id=bid, station_code=code, kind="up", at=now_utc()))
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

    def export_bundle(self, code: str, out: str | Path) -> dict[str, Any]:
        """A down bundle for a station: every change since the cursor it last reported (cumulative), the
        hub's ack of its outbox, and the hub key (pinned by offline-enrolled stations)."""
        import sqlalchemy as sa

        from qi_station.sync.bundle import write_bundle

        self.require()
        with self.engine.connect() as c:
            try:
                st = self.station_by_code(c, code.strip().upper())
            except SyncError:
                raise SyncError(404, "unknown_station", f"no station {code!r} at this hub") from None
            if st["revoked"]:
                raise SyncError(403, "revoked", f"station {code} was revoked")
            _ = sa
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
            cols = block["cols"]
            counts[t] = len(block["rows"])
            dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
            lines.extend(
                (dumps({"t": t, "row": dict(zip(cols, r, strict=True))}) + "\n").encode("utf-8")
                for r in block["rows"]
            )
        info = self.meta()
        bid = uuid7()
        manifest = {
            "bundle_id": bid,
            "kind": "down",
            "source_id": info["hub_id"],
            "target_id": st["code"],
            "station_id": st["id"],
            "station_name": st["name"],
            "hub_pubkey": info["hub_pubkey"],
            "protocol": PROTOCOL,
            "schema": schema_head(),
            "from": since,
            "to": page["next"],
            "acked_oseq": int(st["acked_oseq"]),
            "counts": counts,
            "created_at": to_db(now_utc()),
            "horizon": int(page.get("horizon") or 0),
        }
        if resync:
            manifest["resync"] = True
        outp = Path(out)
        if outp.is_dir():
            from qi_station.sync.bundle import bundle_name

            outp = outp / bundle_name("down", since, page["next"], st["code"], bid)
        write_bundle(outp, manifest, lines, info["hub_privkey"])
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


# ---- helpers --------------------------------------------------------------------------------
_HAY = {
    "expert": ("title", "employer", "specialty"),
    "institution": ("short_name", "scope", "address"),
    "equipment": ("model", "description"),
    "project": ("lead", "description"),
}


def _norm(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, datetime):
        return to_db(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


def _default(t: Table, k: str) -> Any:
    col = t.c[k]
    if col.default is not None and getattr(col.default, "is_scalar", False):
        return col.default.arg  # type: ignore[attr-defined]
    return None


def _int_or_none(v: Any) -> int | None:
    try:
        i = int(v)
    except (TypeError, ValueError):
        return None
    return i if -(2**31) <= i < 2**31 else None


def _valid_pubkey(pub: str) -> bool:
    import base64
    import binascii

    try:
        return len(base64.b64decode(pub, validate=True)) == 32
    except (binascii.Error, ValueError, TypeError):
        return False


def _chunks(xs: list[Any], n: int) -> Iterator[list[Any]]:
    for i in range(0, len(xs), n):
        yield xs[i : i + n]


def _parse_up_changes(changes: bytes) -> list[dict[str, Any]]:
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


class _SqliteExec:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        r = self.conn.execute(sql, params or {}).fetchone()
        return r[0] if r else None

    def rows(self, sql: str, params: dict[str, Any]) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()


class _SaExec:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        import sqlalchemy as sa

        return self.conn.execute(sa.text(sql), params or {}).scalar()

    def rows(self, sql: str, params: dict[str, Any]) -> list[Any]:
        import sqlalchemy as sa

        return list(self.conn.execute(sa.text(sql), params).all())


def demo_library_rows() -> list[tuple[str, dict[str, Any]]]:
    """The demo library from data/demo (through qi_station.services.demo when it exists, else the JSON files)."""
    try:
        from qi_station.services import demo  # type: ignore[attr-defined]

        loader = getattr(demo, "library_rows", None) or getattr(demo, "load_library", None)
        if loader is not None:
            got = loader()
            if isinstance(got, dict):
                return [(t, r) for t, rs in got.items() if t in LIBRARY_TABLES for r in rs]
            return [(t, r) for t, r in got if t in LIBRARY_TABLES]
    except Exception:  # noqa: BLE001 - fall back to the files
        pass
    from qi_station.db.paths import repo_data_dir

    d = repo_data_dir() / "demo"
    out: list[tuple[str, dict[str, Any]]] = []
    for t in LIBRARY_TABLES:
        for name in (f"{t}.json", f"{t}s.json"):
            f = d / name
            if f.exists():
                out.extend(read_library_file(f, default_table=t))
                break
    if not out:
        f = d / "library.json"
        if f.exists():
            out = read_library_file(f)
    return out


def read_library_file(path: Path, default_table: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """csv / xlsx / json. A row names its table in a ``table`` (or ``kind``) column, or the file is named
    after the table (expert.csv), or a JSON object maps table -> rows."""
    if not path.exists():
        raise SyncError(400, "no_file", f"no such file: {path}")
    stem = path.stem.lower().rstrip("s")
    default_table = default_table or next((t for t in LIBRARY_TABLES if stem.startswith(t)), None)
    suffix = path.suffix.lower()
    raw: list[tuple[str | None, dict[str, Any]]] = []
    if suffix == ".json":
        try:
            with open(path, encoding="utf-8-sig") as f:
                data = json.load(f)
        except ValueError as e:
            raise SyncError(400, "bad_library", f"{path.name}: not JSON ({e})") from None
        if isinstance(data, dict):
            if "rows" in data and isinstance(data["rows"], list):
                raw = [(None, r) for r in data["rows"]]
            else:
                for k, rs in data.items():
                    kk = k.lower().rstrip("s")
                    tname = next((t for t in LIBRARY_TABLES if kk == t), None)
                    if tname and isinstance(rs, list):
                        raw.extend((tname, r) for r in rs)
        elif isinstance(data, list):
            raw = [(None, r) for r in data]
    elif suffix == ".csv":
        import csv

        with open(path, encoding="utf-8-sig", newline="") as f:
            raw = [(None, dict(r)) for r in csv.DictReader(f)]
    elif suffix in (".xlsx", ".xlsm"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        for ws in wb.worksheets:
            sheet_t = next((t for t in LIBRARY_TABLES if ws.title.lower().rstrip("s") == t), None)
            it = ws.iter_rows(values_only=True)
            header = next(it, None)
            if not header:
                continue
            hdr = [str(h).strip() if h is not None else "" for h in header]
            for vals in it:
                if all(v is None for v in vals):
                    continue
                raw.append((sheet_t, {h: v for h, v in zip(hdr, vals, strict=False) if h}))
    else:
        raise SyncError(400, "bad_library", f"{path.name}: use .csv, .xlsx or .json")
    out: list[tuple[str, dict[str, Any]]] = []
    for i, (tname, r) in enumerate(raw, start=1):
        if not isinstance(r, dict):
            raise SyncError(400, "bad_library", f"{path.name}: row {i} is not an object")
        t = (
            str(r.pop("table", None) or r.pop("kind", None) or tname or default_table or "")
            .lower()
            .rstrip("s")
        )
        if t not in LIBRARY_TABLES:
            raise SyncError(
                400, "bad_library", f"{path.name}: row {i}: unknown table {t!r} (add a 'table' column)"
            )
        clean = {k: (None if v == "" else v) for k, v in r.items()}
        out.append((t, clean))
    return out
