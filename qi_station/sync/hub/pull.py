"""Hub changes out to a station: THE read of rows after a seq (HTTP pull and down bundles alike)."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from qi_station.core.clock import env_now, to_db
from qi_station.sync.hub.base import HubBase
from qi_station.sync.hub.tables import core_table, hub_tables, wire_value
from qi_station.sync.proto import HUB_REQUEST_FIELDS, PROTOCOL, PULL_TABLES, SyncError, schema_head

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def _resync_required(horizon: int) -> SyncError:
    """410: the station's cursor is below the tombstone horizon (rows it never saw were compacted)."""
    return SyncError(
        410,
        "resync_required",
        f"changes before hub seq {horizon} were compacted (tombstones older than the horizon); "
        "download a full snapshot / 需要重新全量同步",
        horizon=horizon,
    )


class PullJobs(HubBase):
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
        with self.engine.connect() as hc:  # the in-flight horizon, read BEFORE the snapshot
            head = self.safe_head(hc)
            hc.rollback()
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as sc:
            with sc.begin():
                return self._read_changes(
                    _SaExec(sc),
                    station_code,
                    since,
                    limit,
                    raw=raw is True,
                    check_horizon=check_horizon,
                    head=head,
                )

    def _read_page_pg(
        self, c: Connection, station_code: str, since: int, limit: int, *, check_horizon: bool
    ) -> dict[str, Any]:
        """PostgreSQL, a page of at most ``limit`` rows as JSON built by the server: the head, the
        horizon, the page's cut and every table's rows in ONE statement on ``c`` (autocommit: one
        snapshot, one round trip, no transaction of its own), the same document :meth:`read_changes`
        gives with ``raw``. A station with nothing new costs one indexed ``seq > since`` probe a table."""
        import sqlalchemy as sa

        sql = _page_sql()
        # the in-flight horizon in its own statement: the page's snapshot is taken after it
        head = self.safe_head(c)
        params = {"code": station_code, "since": since, "lim1": limit + 1, "off": limit - 1, "head": head}
        row = c.execute(sa.text(sql), params).one()
        head, horizon_v, more, cutoff = int(row[0] or 0), row[1], bool(row[2]), int(row[3] or 0)
        horizon = int(horizon_v or 0)
        if 0 < since < horizon and check_horizon:
            raise _resync_required(horizon)
        tables: dict[str, Any] = {}
        for i, t in enumerate(PULL_TABLES):
            text = row[4 + i]
            if text and text != "[]":
                tables[t] = {"cols": _pull_cols(t), "rows_json": text}
        nxt = cutoff if more else max(head, since)
        return {"since": since, "next": nxt, "more": more, "head": head, "horizon": horizon, "tables": tables}

    def _read_changes(
        self,
        ex: Any,
        station_code: str,
        since: int,
        limit: int | None,
        raw: bool | str = False,
        check_horizon: bool = True,
        head: int | None = None,
    ) -> dict[str, Any]:
        """``head``: the PostgreSQL in-flight horizon (:meth:`safe_head`), read before this snapshot;
        SQLite reads the counter in it (one writer)."""
        import heapq

        if head is None:
            head = int(ex.scalar("SELECT value FROM hub_counter WHERE name = 'seq'") or 0)

        def where(t: str) -> tuple[str, dict[str, Any]]:
            if t == "request":
                return "station_code = :code AND seq > :since AND seq <= :head", {
                    "code": station_code,
                    "since": since,
                    "head": head,
                }
            return "seq > :since AND seq <= :head", {"since": since, "head": head}

        horizon = int(ex.scalar("SELECT v FROM hub_meta WHERE k = 'tombstone_horizon'") or 0)
        if 0 < since < horizon and check_horizon:
            raise _resync_required(horizon)
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
            if raw:  # the database builds the page's JSON: no Python object per row
                if self.is_sqlite:
                    sql = (
                        f"SELECT count(*), json_group_array(json_array({', '.join(cols)})) FROM "
                        f"(SELECT {', '.join(cols)} FROM {t} WHERE {w} AND seq <= :cut ORDER BY seq)"
                    )
                else:
                    sql = (
                        f"SELECT count(*), coalesce(json_agg(json_build_array({', '.join(pg_json_cols(t, cols))}) "
                        f"ORDER BY seq), '[]')::text FROM {t} WHERE {w} AND seq <= :cut"
                    )
                n, text = ex.rows(sql, {**p, "cut": cutoff})[0]
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
        # everything <= head is committed in this snapshot (SQLite: one writer; PostgreSQL: the in-flight
        # horizon was read before the snapshot)
        nxt = cutoff if more else max(head, since)
        return {"since": since, "next": nxt, "more": more, "head": head, "horizon": horizon, "tables": tables}

    def _seen(
        self,
        c: Connection,
        station: dict[str, Any],
        since: int,
        page: dict[str, Any],
        protocol: Any,
        schema: Any,
        station_now_ms: Any,
    ) -> None:
        """After a pull page: the station's last seen, versions and clock skew (``touch``) and its
        cursor, in ONE UPDATE of its row."""
        import sqlalchemy as sa

        hs = hub_tables()["hub_station"]
        vals: dict[str, Any] = {}
        self.touch(c, station, protocol, schema, station_now_ms, into=vals)
        # what the station says it has applied, never past what the hub has written: a call with only
        # the token cannot push the cursor beyond the head and starve its USB bundles
        cur = min(since, int(page.get("head") or 0))
        vals["station_cursor"] = sa.case((hs.c.station_cursor < cur, cur), else_=hs.c.station_cursor)
        c.execute(sa.update(hs).where(hs.c.id == station["id"]).values(**vals))

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
        if raw and not self.is_sqlite:  # PostgreSQL: the page and the bookkeeping, two statements
            from sqlalchemy.exc import DBAPIError

            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                page = self._read_page_pg(c, station["code"], since, limit, check_horizon=not resync)
                try:
                    self._seen(c, station, since, page, protocol, schema, station_now_ms)
                except DBAPIError:
                    pass  # bookkeeping only: a busy hub still serves the page
        else:
            page = self.read_changes(station["code"], since, limit, raw=raw, check_horizon=not resync)
            try:
                with self.write() as c:
                    self._seen(c, station, since, page, protocol, schema, station_now_ms)
            except SyncError:
                pass  # bookkeeping only: a busy hub still serves the page
        page["acked_oseq"] = int(station.get("acked_oseq") or 0)
        page["hub_now"] = to_db(env_now())  # the hub's clock, in the signed reply: the station compares
        page["protocol"] = PROTOCOL
        page["schema"] = schema_head()
        return page


def _pull_cols(t: str) -> list[str]:
    if t == "request":
        return ["id", "station_code", "status", "s_rev", "h_rev", "seq", *HUB_REQUEST_FIELDS]
    return [c.key for c in core_table(t).columns]


_PAGE_SQL: list[str] = []


def _page_sql() -> str:
    """The one-statement pull page (PostgreSQL): ``:since``, ``:code`` (the station: its own requests),
    ``:lim1`` (limit + 1), ``:off`` (limit - 1) and ``:head`` (:meth:`~.base.HubBase.safe_head`, read
    before this statement). The cut is the limit-th smallest seq after since (and at most the head)
    over the pulled tables when more than ``limit`` rows wait (``more``), else the head; each table's
    rows up to the cut, in seq order, as one JSON text (``[]`` when none)."""
    if _PAGE_SQL:
        return _PAGE_SQL[0]

    def where(t: str) -> str:
        return (
            "station_code = :code AND seq > :since AND seq <= :head"
            if t == "request"
            else "seq > :since AND seq <= :head"
        )

    probes = " UNION ALL ".join(
        f"(SELECT seq FROM {t} WHERE {where(t)} ORDER BY seq LIMIT :lim1)" for t in PULL_TABLES
    )
    blocks = ", ".join(
        f"(SELECT coalesce(json_agg(json_build_array({', '.join(pg_json_cols(t, _pull_cols(t)))}) ORDER BY seq), "
        f"'[]')::text FROM {t} WHERE {where(t)} AND seq <= cut.cut)"
        for t in PULL_TABLES
    )
    sql = (
        "WITH hd AS (SELECT CAST(:head AS bigint) AS head, "
        "(SELECT v FROM hub_meta WHERE k = 'tombstone_horizon') AS horizon), "
        f"s AS (SELECT seq FROM ({probes}) u ORDER BY seq OFFSET :off LIMIT 2), "
        "cut AS (SELECT (SELECT count(*) FROM s) > 1 AS more, CASE WHEN (SELECT count(*) FROM s) > 1 "
        "THEN (SELECT min(seq) FROM s) ELSE coalesce((SELECT head FROM hd), 0) END AS cut) "
        f"SELECT hd.head, hd.horizon, cut.more, cut.cut, {blocks} FROM hd, cut"
    )
    _PAGE_SQL.append(sql)
    return sql


def pg_json_cols(table: str, cols: list[str]) -> list[str]:
    """The columns as PostgreSQL JSON values in the wire form :func:`~.tables.wire_value` gives (a
    datetime in the storage format ``YYYY-MM-DD HH:MM:SS.ffffff``, a date as ISO, booleans as JSON)."""
    import sqlalchemy as sa

    t = core_table(table)
    out = []
    for c in cols:
        if isinstance(t.c[c].type, sa.DateTime):
            out.append(f"to_char({c}, 'YYYY-MM-DD HH24:MI:SS.US')")
        else:
            out.append(c)
    return out


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
