"""Helpers for the sync tests (no tests here)."""

from __future__ import annotations

import atexit
import os
import random
import shutil
import sqlite3
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("QI_STATION_OPERATOR", "tester")

PG_ADMIN = os.environ.get("QI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def uscc(i: int, region: str = "370100") -> str:
    from qi_station.core.validate import uscc_check_char

    body = f"91{region}MA{i:07d}"[:17]
    body = body.replace("I", "1").replace("O", "0")
    return body + uscc_check_char(body)


def request_input(i: int, ent: int = 0, title: str = "标准咨询") -> Any:
    from qi_station.services.ledger import RequestInput

    return RequestInput(
        enterprise=f"测试企业{ent}", uscc=uscc(ent), elements="standards", title=f"{title}{i}"
    )


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001
        return False


_MADE: set[str] = set()  # the qi_sync_* databases this process made and has not dropped yet


def pg_create() -> str:
    """A throwaway PostgreSQL database (``qi_sync_<hex>``, or ``$QI_TEST_PG_PREFIX<hex>``) on the shared server. Drop it with
    ``pg_drop`` (in a ``finally``); whatever this process made and did not drop goes when it exits
    (``atexit``: a test or benchmark that failed in its setup leaves nothing behind)."""
    import psycopg

    name = f"{os.environ.get('QI_TEST_PG_PREFIX') or 'qi_sync_'}{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    if not _MADE:
        atexit.register(pg_drop_left)
    _MADE.add(name)
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{name}"


def pg_drop(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _MADE.discard(name)


def pg_drop_left() -> list[str]:
    """Drop every database this process made and has not dropped (registered with ``atexit`` by the
    first ``pg_create``). Returns their names. A database that cannot be dropped is reported, not raised."""
    import sys

    base = PG_ADMIN.rsplit("/", 1)[0]
    left = sorted(_MADE)
    for name in left:
        try:
            pg_drop(f"{base}/{name}")
        except Exception as e:  # noqa: BLE001 - at exit: say it, go on with the next
            print(f"could not drop PostgreSQL database {name}: {e}", file=sys.stderr)
    return left


def enroll_station(db: Path, hub: Any, tc: Any, code: str) -> dict[str, Any]:
    from qi_station.sync.station.client import enroll

    tok = hub.add_station(code, f"{code}站")["token"]
    return enroll(db, tok, "http://testserver", http=tc)


def rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    c = sqlite3.connect(db)
    try:
        return c.execute(sql, params).fetchall()
    finally:
        c.close()


def checkpoint(db: Path) -> None:
    c = sqlite3.connect(db)
    try:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        c.close()


def copy_db(src: Path, dst: Path) -> Path:
    checkpoint(src)
    shutil.copyfile(src, dst)
    return dst


STATION_FIELDS_SKIP = {"seq"}


def station_requests(db: Path) -> dict[str, dict[str, Any]]:
    c = sqlite3.connect(db)
    c.row_factory = sqlite3.Row
    try:
        return {r["id"]: dict(r) for r in c.execute("SELECT * FROM request")}
    finally:
        c.close()


def hub_requests(hub: Any, code: str | None = None) -> dict[str, dict[str, Any]]:
    import sqlalchemy as sa

    from qi_station.sync.hub.tables import core_table, wire_value

    t = core_table("request")
    q = sa.select(t)
    if code:
        q = q.where(t.c.station_code == code)
    with hub.engine.connect() as c:
        return {r["id"]: {k: wire_value(v) for k, v in r.items()} for r in c.execute(q).mappings()}


def library(hub_or_db: Any, table: str = "expert") -> dict[str, tuple[Any, ...]]:
    if isinstance(hub_or_db, Path):
        return {
            r[0]: (r[1], r[2], bool(r[3]))
            for r in rows(hub_or_db, f"SELECT id, name, rev, deleted FROM {table}")
        }
    import sqlalchemy as sa

    with hub_or_db.engine.connect() as c:
        return {
            r[0]: (r[1], r[2], bool(r[3]))
            for r in c.execute(sa.text(f"SELECT id, name, rev, deleted FROM {table}"))
        }


def rnd_name(rng: random.Random) -> str:
    return "".join(rng.choice("张王李赵刘陈杨黄周吴山东济南青岛计量标准") for _ in range(3))


def signed_call(
    db: Path, method: str, path: str, params: dict[str, Any] | None = None, body: bytes = b""
) -> dict[str, Any]:
    """``url`` (path and exact query) and ``headers`` for a hand-made station call, signed with the key of
    the station of ``db`` at a fresh nonce and the current time, as ``sync.station.heads.call_signer``
    signs them for ``sync.station.wire.HubClient``."""
    import secrets as _secrets
    import time
    from urllib.parse import urlencode

    from qi_station.sync.station import apply as S
    from qi_station.sync.station import heads as H

    query = urlencode(params or {})
    nonce, when = _secrets.token_urlsafe(18), time.time_ns() // 1_000_000
    conn = S.open_conn(db)
    try:
        sig = H.call_signer(conn)(method, path, query, when, nonce, body)
    finally:
        conn.close()
    return {
        "url": f"{path}?{query}" if query else path,
        "headers": {"X-Station-Signature": sig, "X-Station-Time": str(when), "X-Sync-Nonce": nonce},
    }


def signed_push(db: Path, body: Any) -> dict[str, Any]:
    """``content`` and ``headers`` for a hand-made POST /sync/v1/push from the station of ``db``: the exact
    body bytes signed with its key (:func:`signed_call`)."""
    import json

    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
    got = signed_call(db, "POST", "/sync/v1/push", body=raw)
    return {"content": raw, "headers": {"Content-Type": "application/json", **got["headers"]}}
