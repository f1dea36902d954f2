"""Backup and restore of the station database (SQLite online backup API: consistent while in use)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from qi_station.core.errors import QIError, ValidationError


def _self_code(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT code FROM station WHERE is_self = 1").fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row and row[0] else None


def backup_name(db: Path) -> str:
    """The file name a backup gets inside an ``--out`` directory: qi-backup-<station>-<local time>.db."""
    from qi_station.core.clock import env_now, local

    code = None
    if Path(db).is_file():
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            code = _self_code(conn)
        finally:
            conn.close()
    return f"qi-backup-{code or 'station'}-{local(env_now()):%Y%m%d-%H%M%S}.db"


def backup_db(db: Path, out: str | Path, *, force: bool = False) -> Path:
    """Write a consistent copy of ``db`` to ``out`` (a file, or a directory to write into); returns the
    file written. ``out`` obeys :func:`qi_station.services.files.check_out`: never the database itself
    nor another database; an older backup only with ``force``. A failure leaves no partial file."""

    from qi_station.services.files import check_out

    out = check_out(out, "backup", force=force, default_name=backup_name(db), protect=(db,))
    if out.exists() and is_safety_copy(out, db):
        raise ValidationError(
            "out",
            "safety_copy",
            f"{out} is the copy `restore` kept of this station's database before it restored a backup: "
            "it is never overwritten, not even with --force; choose another --out / 这是恢复前保留的安全副本，不能覆盖",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    _secrets_out(db)  # an older database may still hold the station key/token: never copy them
    from qi_station.services.tempfiles import held_temp

    with held_temp(out, ".part") as tmp:  # the .part files a killed backup left are swept first
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
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    return out


#: without ``flock`` (Windows) a backup's temporary file untouched this long was left by a run that was
#: killed (``services.tempfiles``; on POSIX one no writer holds goes at once)
STALE_PART_SECONDS = 15 * 60


def sweep_stale_parts(out: Path) -> list[Path]:
    """Remove what a killed backup to ``out`` left beside it (``.<name>.XXXX.part`` and its
    ``-journal``) that no backup holds (``services.tempfiles.sweep``). Returns what was removed."""
    from qi_station.services.tempfiles import sweep

    return sweep(out, ".part")


def is_safety_copy(path: Path, db: Path) -> bool:
    """Is ``path`` a copy :func:`restore_db` kept of ``db`` (``<db>.before-restore`` or
    ``<db>.before-restore.N`` beside it)?"""
    p, d = Path(path).resolve(), Path(db).resolve()
    return p.parent == d.parent and _safety_number(p.name, d.name + SAFETY_SUFFIX) is not None


def _safety_number(name: str, stem: str) -> int | None:
    """``stem`` (``<db>.before-restore``) is copy 0, ``stem.N`` copy N; any other name: None."""
    if not name.startswith(stem):
        return None
    rest = name[len(stem) :]
    return 0 if rest == "" else int(rest[1:]) if rest[:1] == "." and rest[1:].isdigit() else None


#: what :func:`restore_db` appends to the database's name for the copy it keeps
SAFETY_SUFFIX = ".before-restore"


def check_backup(file: Path, db: Path | None = None) -> str:
    """Return the backup's schema revision, or raise ``ValidationError("file", ...)`` saying what the
    file is when it is not a sound qi-station station database this program can restore onto ``db``:
    not SQLite, a hub database, a newer schema, failed integrity, another station's database."""
    from qi_station.db.engine import SCHEMA_HEAD, known_revisions
    from qi_station.services.files import describe, sniff

    file = Path(file)
    kind = sniff(file)
    if kind is None:
        raise ValidationError("file", "exists", f"no such file: {file} / 文件不存在")
    if db is not None and file.resolve() == Path(db).resolve():
        raise ValidationError("file", "own_database", f"{file} is this station's own database / 即本站数据库")
    if kind == "hub-db":
        raise ValidationError(
            "file",
            "hub_database",
            f"{file} is {describe(kind)}, not a station backup / 这是中心数据库，不是站点备份",
        )
    if kind not in ("backup", "station-db"):
        raise ValidationError(
            "file", "qi_station_db", f"{file} is {describe(kind)}, not a qi-station backup / 不是有效的备份"
        )
    try:
        conn = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            rev = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            conn.execute("SELECT count(*) FROM request").fetchone()
            code = _self_code(conn)
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise ValidationError(
            "file", "qi_station_db", f"not a qi-station database: {e} / 不是有效的备份"
        ) from None
    if ok != "ok" or not rev:
        raise ValidationError("file", "integrity", f"backup failed its integrity check: {ok} / 备份文件损坏")
    if str(rev[0]) not in known_revisions():
        raise ValidationError(
            "file",
            "newer_schema",
            f"{file} is a station database from a newer qi-station (schema {rev[0]}, this program knows up "
            f"to {SCHEMA_HEAD}): upgrade qi-station first / 备份来自更新版本的程序",
        )
    mine = _station_with_requests(db) if db is not None else None
    if mine and code and code != mine:
        raise ValidationError(
            "file",
            "other_station",
            f"{file} is station {code}'s database, this is station {mine} / 这是其他站点 {code} 的数据库",
        )
    return str(rev[0])


def _station_with_requests(db: Path) -> str | None:
    """This station's code when it has an identity a foreign restore would take away: requests logged,
    or enrolled with a hub (its secrets hold a hub token: a foreign backup would push under another
    station's code with this PC's token and never sync again)."""
    if not Path(db).is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        code = _self_code(conn)
        has = conn.execute("SELECT 1 FROM request LIMIT 1").fetchone() is not None
        if not has and code:
            from qi_station.db import secrets

            has = bool(secrets.load(Path(db)).get("api_token"))
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return code if has else None


#: how many copies ``restore`` keeps of the database it replaced (``<db>.before-restore[.N]``): each is
#: a full database, and every restore (a killed one too) made another, so they piled up
KEEP_SAFETY_COPIES = 3


def _safety_copies(base: Path) -> list[tuple[int, Path]]:
    """The copies ``restore`` kept beside the database (``base`` = ``<db>.before-restore``: number 0,
    ``base.N``: N), oldest first; regular files only (a symlink or folder of that name is not ours)."""
    out: list[tuple[int, Path]] = []
    try:
        names = [e.name for e in os.scandir(base.parent)]
    except OSError:
        return out
    for name in names:
        n = _safety_number(name, base.name)
        p = base.parent / name
        if n is not None and p.is_file() and not p.is_symlink():
            out.append((n, p))
    return sorted(out)


def _free_name(base: Path) -> Path:
    """``base``, or when copies exist the number above the highest (``base.N+1``): an earlier copy is
    never overwritten, and the highest number is always the newest."""
    held = [n for n, _ in _safety_copies(base)]
    p = base if not held and not (base.exists() or base.is_symlink()) else None
    n = max(held, default=0)
    while p is None or p.exists() or p.is_symlink():
        n += 1
        p = base.with_name(f"{base.name}.{n}")
    return p


def _prune_safety_copies(base: Path, keep: int = KEEP_SAFETY_COPIES) -> list[Path]:
    """Remove all but the newest ``keep`` copies ``restore`` kept (the highest numbers). Returns what
    was removed."""
    gone: list[Path] = []
    for _n, p in _safety_copies(base)[:-keep]:
        try:
            p.unlink()
            gone.append(p)
        except OSError:
            continue
    return gone


def restore_db(file: Path, db: Path) -> tuple[Path | None, dict[str, Any]]:
    """Replace ``db`` with ``file``, everything checked first (:func:`check_backup`). The old database is
    first copied to ``<db>.before-restore`` (or ``.before-restore.N``, N above the highest held; the
    newest :data:`KEEP_SAFETY_COPIES` are kept, older ones removed). Returns
    that copy (None when there was no database) and the ledger check run on the restored database
    (``services.verify.verify_ledger``; kept in kv for the dashboard)."""
    from qi_station.db.engine import open_db
    from qi_station.db.session import dispose_all

    check_backup(file, db)
    dispose_all()
    kept: Path | None = None
    db.parent.mkdir(parents=True, exist_ok=True)
    if db.exists():
        base = db.with_name(db.name + SAFETY_SUFFIX)
        kept = backup_db(db, _free_name(base))
        _prune_safety_copies(base)  # the new copy is whole: keep it and the two before it
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
