"""Backup and restore of the station database (SQLite online backup API: consistent while in use)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from qi_station.core.errors import QIError, ValidationError


def backup_db(db: Path, out: Path) -> int:
    out = Path(out)
    if out.resolve() == Path(db).resolve():
        raise ValidationError(
            "out", "different_file", "backup file must differ from the database / 备份文件不能是数据库本身"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    _secrets_out(db)  # an older database may still hold the station key/token: never copy them
    tmp = out.with_name(out.name + ".part")
    src = sqlite3.connect(db)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(tmp, out)
    return out.stat().st_size


def check_backup(file: Path) -> str:
    """Return the backup's schema revision, or raise if it is not a sound qi-station database."""
    if not Path(file).is_file():
        raise ValidationError("file", "exists", f"no such file: {file} / 文件不存在")
    try:
        conn = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            rev = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            conn.execute("SELECT count(*) FROM request").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise ValidationError(
            "file", "qi_station_db", f"not a qi-station database: {e} / 不是有效的备份"
        ) from None
    if ok != "ok" or not rev:
        raise ValidationError("file", "integrity", f"backup failed its integrity check: {ok} / 备份文件损坏")
    return str(rev[0])


def restore_db(file: Path, db: Path) -> tuple[Path | None, dict[str, Any]]:
    """Replace ``db`` with ``file``. The old database is first copied to ``<db>.before-restore``.
    Returns that copy (None when there was no database) and the ledger check run on the restored
    database (``services.verify.verify_ledger``; kept in kv for the dashboard)."""
    from qi_station.db.engine import open_db
    from qi_station.db.session import dispose_all

    check_backup(file)
    dispose_all()
    kept: Path | None = None
    db.parent.mkdir(parents=True, exist_ok=True)
    if db.exists():
        kept = db.with_name(db.name + ".before-restore")
        backup_db(db, kept)
    src = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(db, timeout=5)
        try:
            src.backup(dst)  # page-by-page inside one write transaction on dst
        except sqlite3.Error as e:
            raise QIError(f"restore failed, database unchanged: {e}") from e
        finally:
            dst.close()
    finally:
        src.close()
    open_db(db)  # upgrade an older backup to the current schema
    _secrets_out(db)
    _mark_restored(db)
    shutil.rmtree(db.with_name(db.name + ".restore-tmp"), ignore_errors=True)
    from qi_station.services.verify import verify_ledger

    return kept, verify_ledger(db)


def _secrets_out(db: Path) -> None:
    from qi_station.db import secrets
    from qi_station.db.engine import connect

    conn = connect(db)
    try:
        secrets.migrate(conn)
    finally:
        conn.close()


def _mark_restored(db: Path) -> None:
    """An enrolled station restored from a backup may be behind the hub: the next sync catches up
    before it pushes (``kvkeys.STATION_RESTORED``)."""
    from qi_station.db import kvkeys
    from qi_station.db.engine import connect

    conn = connect(db)
    try:
        if conn.execute("SELECT 1 FROM kv WHERE k = 'enroll_mode'").fetchone():
            with conn:
                conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, '1')", (kvkeys.STATION_RESTORED,))
    finally:
        conn.close()


def reenroll_hint(db: Path) -> str | None:
    """After a restore: an enrolled station whose key (and token) are not on this PC -- backups carry no
    secrets -- must be re-enrolled. Returns what to do, or None when nothing is missing."""
    from qi_station.db import secrets

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        kv = dict(conn.execute("SELECT k, v FROM kv WHERE k IN ('enroll_mode', 'station_code', 'hub_url')"))
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    mode = kv.get("enroll_mode")
    if not mode:
        return None
    have = secrets.load(db)
    if have.get("station_privkey") and (mode != "online" or have.get("api_token")):
        return None
    code = kv.get("station_code") or "CODE"
    hub = f" --hub {kv['hub_url']}" if kv.get("hub_url") else ""
    return (
        f"station {code}'s key and hub token are not in backups and not on this PC: ask the hub to run "
        f"`qi-station hub add-station {code} --name NAME --reissue`, then run "
        f"`qi-station sync enroll{hub} --token TOKEN` here / 备份不含站点密钥，请中心重新签发注册码后重新注册"
    )
