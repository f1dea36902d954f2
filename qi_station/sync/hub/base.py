"""The hub database handle: engine, migrations, meta, the write transaction and seq stamping.

Every writing transaction assigns the hub ``seq`` at its very end. SQLite (one writer): from the
``hub_counter`` row. PostgreSQL: from the ``hub_seq`` sequence, which no writer holds until its commit,
so concurrent writes commit (and flush) together; seq then need not follow commit order, so a writer
first registers a lower bound of the seqs it will take (a shared advisory lock, held until its commit
ends) and pulls serve only up to :meth:`HubBase.safe_head`, below every seq still in flight. The jobs (registry, push, pull, library, assign, bundles, purge) are mixins on
:class:`HubBase`, composed into :class:`qi_station.sync.hub.store.Hub`.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from qi_station.core.clock import env_now, env_now_ms
from qi_station.core.ids import uuid7
from qi_station.sync import keys
from qi_station.sync.hub.tables import core_table, hub_tables
from qi_station.sync.proto import PROTOCOL, SyncError, schema_head

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine

_ENGINES: dict[str, Any] = {}


def _need_psycopg() -> None:
    """A PostgreSQL hub needs the ``postgres`` extra (psycopg 3): said in the project's form, not as a
    traceback (the attacker trial: ``hub init --database-url postgresql://…`` on a default install)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        from qi_station.core.errors import ValidationError

        raise ValidationError(
            "database_url",
            "driver",
            'a PostgreSQL hub needs psycopg: pip install "qi-station[postgres]" (or -e ".[postgres]") / '
            "PostgreSQL 中心需先安装 postgres 扩展",
        ) from None


#: PostgreSQL: the advisory lock key of an in-flight writer's seq bound is this + the bound (bigint key:
#: pg_locks shows its high 32 bits as classid, the low ones as objid)
_INFLIGHT_TAG = 0x51_4953 << 40
#: a writer's in-flight registration: a lower bound of every seq its transaction will take (the
#: sequence's value now + 1), read and locked in one row's evaluation, BEFORE nextval; held until commit
_REGISTER_INFLIGHT = f"SELECT pg_advisory_xact_lock_shared({_INFLIGHT_TAG} + last_value + 1) FROM hub_seq"
_SAFE_HEAD_SQL = (
    "SELECT h.last_value, (SELECT min(((l.classid::bigint << 32) | l.objid::bigint) - "
    f"{_INFLIGHT_TAG}) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objsubid = 1 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    f"AND ((l.classid::bigint << 32) | l.objid::bigint) > {_INFLIGHT_TAG} "
    f"AND ((l.classid::bigint << 32) | l.objid::bigint) <= {_INFLIGHT_TAG} + h.last_value + 1) "
    "FROM hub_seq h"
)

#: the ``hub_meta`` key prefix of a station's running heads (``ledger.trail_key``)
TRAIL_PREFIX = "heads:"
#: where ``station_by_code(with_trail=True)`` puts the trail it read with the station row
TRAIL_COLUMN = "_heads_trail"


def skew_of(station_now_ms: Any) -> int | None:
    """``station_now - hub_now`` in ms (the station's clock as a push or bundle says it reads), or None
    when it says nothing usable. ``hub_now`` is the hub's own clock (``core.clock.env_now_ms``), the one
    it checks stamped rows against (``rules.check_row``), never the station's word."""
    if isinstance(station_now_ms, int) and not isinstance(station_now_ms, bool):
        return max(-(2**62), min(2**62, station_now_ms - env_now_ms()))
    return None


class HubBase:
    """A handle on one hub database (cheap; engines are cached per URL): the connection, the write
    transaction, seq stamping, meta, and the station-row helpers every job shares."""

    def __init__(self, database_url: str | None = None) -> None:
        from qi_station.db.paths import default_hub_url

        self.url = default_hub_url(database_url)
        if self.url.startswith("postgresql://"):
            self.url = "postgresql+psycopg://" + self.url[len("postgresql://") :]
        self.is_sqlite = self.url.startswith("sqlite")
        if self.url.startswith("postgresql+psycopg"):
            _need_psycopg()
        self.sqlite_path: Path | None = None
        if self.is_sqlite:
            from sqlalchemy.engine import make_url

            self.sqlite_path = Path(make_url(self.url).database or "")

    @property
    def engine(self) -> Engine:
        """The engine for reads: on SQLite its transactions are deferred (``sqlite_read``) and never
        take the write lock; :meth:`write` takes it up front."""
        eng = _ENGINES.get(self.url)
        if eng is None:
            from qi_station.db.engine import make_engine

            # no pre-ping (a round trip at every checkout, ~6 a station's sync): a connection the server
            # dropped fails its first statement, the pool is invalidated, and the call is retried
            # (:meth:`admit`) or answers 503 busy, which stations retry
            raw = make_engine(self.url, pool_pre_ping=self.is_sqlite)
            eng = _ENGINES[self.url] = (raw, raw.execution_options(sqlite_read=True))
        return eng[1]  # type: ignore[no-any-return]

    def read_once(self, read: Callable[[Connection], Any]) -> Any:
        """``read(c)``: a few reads, each statement its own snapshot (PostgreSQL: an AUTOCOMMIT
        connection, no BEGIN and ROLLBACK round trips). A pooled connection the server dropped (a
        restart: the pool has no pre-ping) fails its first statement; the pool is then invalidated and
        ``read`` runs once more on a fresh connection."""
        from sqlalchemy.exc import DBAPIError

        for attempt in (0, 1):
            try:
                if self.is_sqlite:
                    with self.engine.connect() as c:
                        return read(c)
                with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    return read(c)
            except DBAPIError as e:
                if attempt or not e.connection_invalidated:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def dispose(self) -> None:
        eng = _ENGINES.pop(self.url, None)
        if eng is not None:
            eng[0].dispose()

    # -- setup --------------------------------------------------------------------------------
    def migrate(self) -> None:
        from qi_station.db.engine import run_migrations

        if self.sqlite_path is not None:
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        run_migrations(self.url)
        if self.sqlite_path is not None:  # the hub never searches its libraries: no search index to keep
            from qi_station.db import searchindex

            with self.engine.begin() as c:
                for stmt in searchindex.drop_ddl():
                    c.exec_driver_sql(stmt)

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

    def require(self) -> Self:
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

    def meta_insert(self, c: Connection, k: str, v: str) -> None:
        t = hub_tables()["hub_meta"]
        ins = self.dialect_insert(t).values(k=k, v=v).on_conflict_do_nothing(index_elements=["k"])
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

    def dialect_insert(self, t: Table) -> Any:
        if self.is_sqlite:
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(t)
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(t)

    @contextmanager
    def write(self, *, autocommit: bool = False) -> Iterator[Connection]:
        """One write transaction; SQLite busy/locked becomes a 503 the client retries. ``autocommit``
        (PostgreSQL; SQLite ignores it): for ONE statement, which is then its own transaction, without
        the BEGIN and COMMIT round trips."""
        from sqlalchemy.exc import DataError, IntegrityError, OperationalError
        from sqlalchemy.exc import TimeoutError as PoolTimeout

        with _WRITERS_LOCK:
            _WRITERS[0] += 1
        try:
            if autocommit and not self.is_sqlite:
                with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    yield c
            else:
                with self.engine.execution_options(sqlite_read=False).begin() as c:
                    yield c
        except IntegrityError as e:
            raise SyncError(
                422, "integrity", f"refused, nothing changed: {str(e.orig).splitlines()[0][:200]}"
            ) from None
        except DataError as e:
            raise SyncError(
                422, "bad_data", f"refused, nothing changed: {str(e.orig).splitlines()[0][:200]}"
            ) from None
        except (OperationalError, PoolTimeout) as e:  # PoolTimeout: every pooled connection in use
            raise busy(e) from None
        finally:
            with _WRITERS_LOCK:
                _WRITERS[0] -= 1

    def bulk_insert(self, c: Connection, t: Table, rows: list[dict[str, Any]]) -> None:
        """Insert many rows with the same keys in ``c``'s transaction: on PostgreSQL one COPY (the
        driver's bulk path; a library import of 12,000 rows in well under a second), on SQLite an
        executemany of one prepared INSERT."""
        if not rows:
            return
        if self.is_sqlite:
            c.execute(t.insert(), rows)
            return
        import psycopg

        cols = list(rows[0])
        names = ", ".join('"' + k + '"' for k in cols)  # column names of the table (quoted: at, n, data)
        raw: Any = c.connection.driver_connection
        try:
            with raw.cursor() as cur, cur.copy(f"COPY {t.name} ({names}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row([r[k] for k in cols])
        except psycopg.errors.IntegrityError as e:
            raise SyncError(
                422, "integrity", f"refused, nothing changed: {str(e).splitlines()[0][:200]}"
            ) from None
        except psycopg.errors.DataError as e:
            raise SyncError(
                422, "bad_data", f"refused, nothing changed: {str(e).splitlines()[0][:200]}"
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
        if not self.is_sqlite:
            return self._stamp_pg(c, order)
        first = self.alloc_seq(c, len(order))
        by_table: dict[str, list[dict[str, Any]]] = {}
        for i, (t, rid) in enumerate(order):
            by_table.setdefault(t, []).append({"s": first + i, "i": rid})
        for t, params in by_table.items():
            if self.is_sqlite:  # one prepared statement, many parameter sets: SQLite's fast path
                c.execute(sa.text(f"UPDATE {t} SET seq = :s WHERE id = :i"), params)
                continue
            # PostgreSQL: one UPDATE joined to two arrays, not a statement per row
            c.execute(
                sa.text(
                    f"UPDATE {t} SET seq = v.s FROM unnest(CAST(:ids AS text[]), CAST(:seqs AS bigint[])) "
                    f"AS v(i, s) WHERE {t}.id = v.i"
                ),
                {"ids": [p["i"] for p in params], "seqs": [p["s"] for p in params]},
            )
        return first + len(order) - 1

    def _stamp_pg(self, c: Connection, order: list[tuple[str, str]]) -> int:
        """PostgreSQL: register the in-flight bound, then take n seqs from ``hub_seq`` and set every
        written row's seq in ONE statement (data-modifying CTEs: the seqs, ascending, given to the rows
        by their position in write order). Nothing is held until commit but the shared advisory lock on
        the bound (:meth:`safe_head` reads it), so concurrent writers commit together."""
        import sqlalchemy as sa

        c.execute(sa.text(_REGISTER_INFLIGHT))  # first: the in-flight bound, held until commit ends
        n = len(order)
        by_table: dict[str, tuple[list[str], list[int]]] = {}
        for i, (t, rid) in enumerate(order):
            ids, pos = by_table.setdefault(t, ([], []))
            ids.append(rid)
            pos.append(i)
        parts = [
            "q0 AS (SELECT nextval('hub_seq') AS s FROM generate_series(1, :n)), "
            "q AS (SELECT s, row_number() OVER (ORDER BY s) - 1 AS p FROM q0)"
        ]
        params: dict[str, Any] = {"n": n}
        for k, (t, (ids, pos)) in enumerate(sorted(by_table.items())):
            parts.append(
                f"u{k} AS (UPDATE {t} SET seq = q.s FROM q, "
                f"unnest(CAST(:ids{k} AS text[]), CAST(:pos{k} AS bigint[])) AS v(i, p) "
                f"WHERE {t}.id = v.i AND q.p = v.p RETURNING 1)"
            )
            params[f"ids{k}"], params[f"pos{k}"] = ids, pos
        last = c.execute(sa.text("WITH " + ", ".join(parts) + " SELECT max(s) FROM q"), params).scalar_one()
        return int(last)

    def take_seqs(self, c: Connection, n: int) -> list[int]:
        """PostgreSQL: ``n`` new seqs, ascending, for rows about to be inserted with them (no UPDATE of
        each row after its insert: a second heap tuple and every index entry again). The in-flight
        bound is registered first, as :meth:`_stamp_pg` does, and held until commit: pulls serve below
        it from this point of the writer's transaction on, not only from its end."""
        import sqlalchemy as sa

        c.execute(sa.text(_REGISTER_INFLIGHT))
        got = c.execute(sa.text("SELECT nextval('hub_seq') FROM generate_series(1, :n)"), {"n": n})
        return sorted(int(s) for (s,) in got)

    def set_seqs(self, c: Connection, table: str, ids: list[str], seqs: list[int]) -> None:
        """PostgreSQL: give the rows ``ids`` of ``table`` the seqs ``seqs`` (one UPDATE over two arrays)."""
        import sqlalchemy as sa

        c.execute(
            sa.text(
                f"UPDATE {table} SET seq = v.s FROM unnest(CAST(:ids AS text[]), CAST(:seqs AS bigint[])) "
                f"AS v(i, s) WHERE {table}.id = v.i"
            ),
            {"ids": ids, "seqs": seqs},
        )

    def safe_head(self, c: Connection) -> int:
        """The highest seq a pull may serve: every change with a seq at or below it has committed
        (or never will). SQLite: the counter (one writer). PostgreSQL: the sequence's value L, lowered
        below the smallest bound a writer still in flight registered (:meth:`_stamp_pg`). L is read
        BEFORE the locks (a correlated subquery runs after its outer row), and the caller's data must be
        read in a LATER statement: a writer whose seq is <= L took it after registering, so at the
        lock read it is either still registered (and below the answer) or finished, and then committed
        before the caller's snapshot. Not inside a REPEATABLE READ transaction's snapshot."""
        import sqlalchemy as sa

        if self.is_sqlite:
            return int(c.execute(sa.text("SELECT value FROM hub_counter WHERE name = 'seq'")).scalar() or 0)
        row = c.execute(sa.text(_SAFE_HEAD_SQL)).one()
        last, low = int(row[0]), row[1]
        return last if low is None else min(last, int(low) - 1)

    def station_by_code(
        self, c: Connection, code: str, *, lock: bool = False, with_trail: bool = False
    ) -> dict[str, Any]:
        """The station's row (``lock``: held FOR UPDATE until commit on PostgreSQL). ``with_trail``: its
        running heads' trail (``hub_meta``) read in the same statement, under :data:`TRAIL_COLUMN`
        (taken by ``head_trail``)."""
        import sqlalchemy as sa

        t = hub_tables()["hub_station"]
        cols: list[Any] = [t]
        if with_trail:
            hm = hub_tables()["hub_meta"]
            key = sa.literal(TRAIL_PREFIX) + t.c.id
            cols.append(sa.select(hm.c.v).where(hm.c.k == key).scalar_subquery().label(TRAIL_COLUMN))
        q = sa.select(*cols).where(t.c.code == code)
        if lock and not self.is_sqlite:
            q = q.with_for_update(of=t)
        r = c.execute(q).mappings().first()
        if r is None:
            raise SyncError(404, "unknown_station", f"no station {code!r} at this hub")
        return dict(r)

    def touch(
        self,
        c: Connection,
        st: dict[str, Any],
        protocol: Any,
        schema: Any,
        station_now_ms: Any,
        error: str | None = None,
        into: dict[str, Any] | None = None,
    ) -> int | None:
        """Keep when the station was last seen, its versions and clock skew. ``into``: the values are
        added to it (the caller writes the station row once per call) instead of written here."""
        import sqlalchemy as sa

        t = hub_tables()["hub_station"]
        skew = skew_of(station_now_ms)
        vals: dict[str, Any] = {
            "last_seen": env_now(),
            "protocol": _int_or_none(protocol),
            "schema_rev": str(schema)[:20] if schema is not None else None,
        }
        if skew is not None:
            vals["clock_skew_ms"] = skew
        if error is not None:
            vals["last_error"] = error[:500]
        if into is not None:
            into.update(vals)
            return skew
        c.execute(sa.update(t).where(t.c.id == st["id"]).values(**vals))
        return skew

    def keep_profile(
        self, c: Connection, st: dict[str, Any], profile: Any, into: dict[str, Any] | None = None
    ) -> None:
        """Keep the profile a station sent (enrollment, push, up bundle): checked by the core's own rules
        (``core.validate.check_station_profile``); a bad one refuses the call with a 422 naming the field.
        None (an older station): the hub keeps what it has. ``into``: as in ``touch``."""
        if profile is None:
            return
        checked = check_profile(profile)
        import sqlalchemy as sa

        t = hub_tables()["hub_station"]
        vals = {k: checked[k] for k in profile}  # the keys sent (a station sends them all)
        if into is not None:
            into.update(vals, profile_at=env_now())
        else:
            c.execute(sa.update(t).where(t.c.id == st["id"]).values(**vals, profile_at=env_now()))
        st.update(vals)

    def conflict(self, c: Connection, table: str, row_id: str, kind: str, detail: dict[str, Any]) -> None:
        t = core_table("sync_conflict")
        c.execute(
            t.insert().values(
                id=uuid7(),
                at=env_now(),
                table_name=table,
                row_id=row_id,
                kind=kind,
                detail=json.dumps(detail, ensure_ascii=False),
                resolved=False,
            )
        )

    def refuse(
        self, error: SyncError, table: str, row_id: str, kind: str, detail: dict[str, Any]
    ) -> SyncError:
        """Record the conflict that explains a refusal in its OWN transaction, so it survives the
        refusal, and return the error for the caller to raise. Call it after the refused write
        transaction has ended (nothing of the refused change is written)."""
        with self.write() as c:
            self.conflict(c, table, row_id, kind, detail)
        return error

    def horizon(self) -> int:
        """Hub seq below which tombstones may have been purged: a pull with 0 < since < horizon is 410."""
        return int(self.meta().get("tombstone_horizon") or 0)


RETRY_AFTER = 1  # seconds a station is told to wait when the hub database is busy (one writer waiting)
RETRY_AFTER_MAX = 30  # the longest wait the hub asks for (the station caps it there too)
_WRITERS = [0]  # write transactions in this process that are waiting for the lock or running
_WRITERS_LOCK = threading.Lock()


def busy(e: Exception) -> SyncError:
    """A busy database (SQLite "database is locked" after the busy timeout, a PostgreSQL connection
    or lock failure): 503 with ``Retry-After``; the station's sync waits and retries (a busy answer
    does not use up its retries). The wait grows with the writers queued in this process and is
    spread at random, so a morning rush comes back in turns rather than all at once."""
    orig = getattr(e, "orig", e)
    first = (str(orig).splitlines() or [""])[0][:200]
    n = _WRITERS[0]
    after = RETRY_AFTER if n <= 1 else min(RETRY_AFTER_MAX, n + random.randint(0, n))
    return SyncError(503, "busy", f"hub database busy, retry: {first}", retry_after=after)


PROFILE_KEYS = ("region_code", "park", "station_type", "service_mode")


def check_profile(profile: Any, *, fields: bool = False) -> dict[str, str | None]:
    """A station profile from the wire (or ``hub add-station``) -> its checked values; refused (422,
    naming the field and the rule) by the core's rules. ``fields``: a bad value is raised as the core's
    ValidationError(s), every bad field at once (``hub add-station`` reports them with its other
    fields), not as one 422."""
    from qi_station.core.errors import ValidationError
    from qi_station.core.validate import check_station_profile

    if not isinstance(profile, dict) or any(k not in PROFILE_KEYS for k in profile):
        raise SyncError(
            422, "bad_profile", f"station profile must be an object with {', '.join(PROFILE_KEYS)}"
        )
    for k, val in profile.items():
        if val is not None and not isinstance(val, str):
            raise SyncError(422, "bad_profile", f"profile.{k} must be text", field=k, rule="type")
    try:
        return check_station_profile(
            profile.get("region_code"),
            profile.get("park"),
            profile.get("station_type"),
            profile.get("service_mode"),
        )
    except ValidationError as e:
        if fields:
            raise
        raise SyncError(
            422, "bad_profile", f"station profile: {e.field}: {e.message}", field=e.field, rule=e.rule
        ) from None


def _int_or_none(v: Any) -> int | None:
    try:
        i = int(v)
    except (TypeError, ValueError):
        return None
    return i if -(2**31) <= i < 2**31 else None
