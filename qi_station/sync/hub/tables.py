"""The hub's tables and the wire-to-database value conversion (strict: junk is refused with a 422).

The synced tables are the station's SQLModel tables (:func:`core_table`); the hub's own bookkeeping
tables (stations, imported bundles, meta, the seq counter) are :func:`hub_tables`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from qi_station.core.clock import to_db, to_naive_utc
from qi_station.core.errors import QIError
from qi_station.db.session import jsonable
from qi_station.sync.proto import SyncError

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection


_CORE: dict[str, Table] = {}


def core_table(name: str) -> Table:
    got = _CORE.get(name)
    if got is None:
        from sqlmodel import SQLModel

        import qi_station.db.models  # noqa: F401 - registers the tables

        got = _CORE[name] = SQLModel.metadata.tables[name]
    return got


def id_in(c: Connection, col: Any, ids: Iterable[Any]) -> Any:
    """``col IN (ids)`` with the ids as ONE bound value, so the statement text is the same whatever
    their number (cached by SQLAlchemy and the driver, no placeholder per id): PostgreSQL
    ``col = ANY(:ids)`` (a text array; the index is used), SQLite ``col IN (SELECT value FROM
    json_each(:ids))``."""
    import json

    import sqlalchemy as sa

    ids = list(ids)
    if c.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return col == sa.any_(sa.bindparam(None, ids, type_=ARRAY(sa.String)))
    each = sa.func.json_each(sa.bindparam(None, json.dumps(ids), type_=sa.String)).table_valued("value")
    return col.in_(sa.select(each.c.value))


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
            # the station's last signed running head the hub acknowledged (revision 0004)
            sa.Column("head_n", sa.BigInteger),
            sa.Column("head_hash", sa.String),
            sa.Column("head_sig", sa.String),
            sa.Column("head_at", sa.DateTime),
            # the station's profile, as it last sent it (revision 0008)
            sa.Column("region_code", sa.String),
            sa.Column("park", sa.String),
            sa.Column("station_type", sa.String),
            sa.Column("service_mode", sa.String),
            sa.Column("profile_at", sa.DateTime),
            # the install (PC + database file) that last pushed (revision 0019; push.check_device)
            sa.Column("device_id", sa.String),
        )
        sa.Table(
            "hub_bundle",
            md,
            sa.Column("bundle_id", sa.String, primary_key=True),
            sa.Column("station_code", sa.String),
            sa.Column("kind", sa.String),
            sa.Column("at", sa.DateTime),
        )
        # the nonces of signed station calls inside the time window (revision 0022; guard.call_refusal):
        # a call whose nonce is here is a replay
        sa.Table(
            "hub_call_nonce",
            md,
            sa.Column("station_code", sa.String, primary_key=True),
            sa.Column("nonce", sa.String, primary_key=True),
            sa.Column("at_ms", sa.BigInteger, index=True),
        )
        # the digest of every station change the hub applied, by station and oseq (revision 0022;
        # push.PushJobs._check_duplicates): the same oseq re-sent with other content is another copy
        sa.Table(
            "hub_oseq",
            md,
            sa.Column("station_id", sa.String, primary_key=True),
            sa.Column("oseq", sa.BigInteger, primary_key=True),
            sa.Column("digest", sa.String),
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
    # never echo the value: it may be huge or hold a secret
    return SyncError(
        422,
        "bad_row",
        f"{table}.{col}: bad value (a {type(v).__name__} that is not a valid {col})",
        table=table,
        field=col,
        rule="type",
    )


_COERCE: dict[str, dict[str, Any]] = {}
_KINDS: dict[str, dict[str, str]] = {}  # table -> column -> "dt" | "date" | "bool" | "int" | "str"
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
    kinds: dict[str, str] = {}
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
                            return d if d.tzinfo is None else to_naive_utc(d, name)
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
                except (ValueError, TypeError, OverflowError, QIError):
                    pass
                raise _bad(table, name, v)

            return conv

        if isinstance(t, sa.DateTime):
            kind = "dt"
        elif isinstance(t, sa.Date):
            kind = "date"
        elif isinstance(t, sa.Boolean):
            kind = "bool"
        elif isinstance(t, sa.Integer):
            kind = "int"
        else:
            kind = "str"
        out[c.key] = mk(kind)
        kinds[c.key] = kind
    _KINDS[table] = kinds
    _COERCE[table] = out
    return out


def coerce_row(table: str, row: Any, *, strict: bool = False) -> dict[str, Any]:
    """Wire JSON -> column values. ``strict`` (rows from stations): a key that is not a column of the
    table is refused, not dropped. The common values (None, a clean str for a text column, an int in
    range for an integer column) are taken as they are; every other value goes through its column's
    converter (the same result as converting them all, without a call per value)."""
    if not isinstance(row, dict):
        raise SyncError(422, "bad_row", f"{table}: row is not an object", table=table, rule="object")
    conv = coercers(table)
    kinds = _KINDS[table]
    if strict and not kinds.keys() >= row.keys():
        for k in row:
            if k not in conv:
                name = k if isinstance(k, str) and k.isidentifier() and len(k) <= 40 else "?"
                raise SyncError(
                    422,
                    "bad_row",
                    f"{table}.{name}: not a column of {table} / 未知字段",
                    table=table,
                    field=name,
                    rule="unknown_column",
                )
    out: dict[str, Any] = {}
    for k, v in row.items():
        kind = kinds.get(k)
        if kind is None:
            continue
        if v is None:
            out[k] = None
            continue
        tv = type(v)
        if tv is str and kind == "str":
            if "\x00" not in v:
                out[k] = v
                continue
        elif tv is int and kind == "int":
            if -(2**31) <= v < 2**31:
                out[k] = v
                continue
        out[k] = conv[k](v)
    if not isinstance(out.get("id"), str) or not out["id"]:
        raise SyncError(422, "bad_row", f"{table}: row has no id", table=table, field="id", rule="required")
    return out


def wire_value(v: Any) -> Any:
    """Datetimes in the storage format, dates as ISO: the same form as the station's outbox rows."""
    return jsonable(v)


def norm_value(v: Any) -> Any:
    """A column value in comparable wire form (bools as 0/1, datetimes in the storage format)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, datetime):
        return to_db(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


def picker(keys: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``row -> tuple(row.get(k) for k in keys)`` (at least two keys), by one ``itemgetter`` call; a row
    that lacks one of them is read key by key (None for each missing one)."""
    get = itemgetter(*keys)

    def pick(row: Mapping[str, Any]) -> tuple[Any, ...]:
        try:
            return get(row)  # type: ignore[no-any-return]
        except KeyError:
            return tuple([row.get(k) for k in keys])

    return pick


def chunks(xs: list[Any], n: int) -> Iterator[list[Any]]:
    for i in range(0, len(xs), n):
        yield xs[i : i + n]
