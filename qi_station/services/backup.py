"""Backup and restore of the station database (SQLite online backup API: consistent while in use)."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qi_station.core.errors import QIError, ValidationError

if TYPE_CHECKING:
    from filelock import ReadWriteLock


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
        _copy(db, tmp)
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
    if db is not None and _same_file(file, Path(db)):
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


def _same_file(a: Path, b: Path) -> bool:
    """Are ``a`` and ``b`` one file: the same path once resolved, or another name of it (a hard link)?"""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


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


def sweep_safety_parts(base: Path) -> list[Path]:
    """Remove what a killed restore left while copying the database aside: the ``.part`` (and its
    ``-journal``) of ANY safety copy's name (``<db>.before-restore`` or ``.before-restore.N``: the next
    restore copies to another number, so the sweep of its own name would never reach it), only those
    no writer holds (``services.tempfiles.sweep``). Returns what was removed."""
    from qi_station.services.tempfiles import sweep

    return sweep(base, ".part", re.escape(base.name) + r"(?:\.[0-9]+)?")


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


#: beside the database: a running app holds a shared lock on it (:func:`hold_in_use`), so ``restore``
#: can tell the database is in use (:func:`in_use`)
IN_USE_SUFFIX = ".in-use"


def hold_in_use(db: Path) -> ReadWriteLock | None:
    """Called by the app once its database is open: a shared hold on ``<db>.in-use``
    (``services.locks.hold_shared``), kept until the process ends (the OS drops it then, a killed app
    too). Returns the lock, which the app keeps (None: the folder is not writable)."""
    from qi_station.services.locks import hold_shared

    return hold_shared(db.with_name(db.name + IN_USE_SUFFIX))


def in_use(db: Path) -> bool | None:
    """Does a running app hold ``db`` (:func:`hold_in_use`)? None: cannot tell (the app then notices the
    restore itself, see docs/cli.md)."""
    from qi_station.services.locks import held

    return held(db.with_name(db.name + IN_USE_SUFFIX))


def restore_db(file: Path, db: Path) -> tuple[Path | None, dict[str, Any]]:
    """Replace ``db`` with ``file``, everything checked first (:func:`check_backup`). The old database is
    first copied to ``<db>.before-restore`` (or ``.before-restore.N``, N above the highest held; the
    newest :data:`KEEP_SAFETY_COPIES` are kept, older ones removed). Returns
    that copy (None when there was no database) and the ledger check run on the restored database
    (``services.verify.verify_ledger``; kept in kv for the dashboard). Never while a sync, a bundle
    import or export runs: the station's sync lock is held throughout (``services.locks.hold_sync``;
    refused ``sync_running``, or ``sync_lock`` when it cannot be made), nothing done."""
    from qi_station.services.locks import hold_sync

    check_backup(file, db)
    db.parent.mkdir(parents=True, exist_ok=True)
    with hold_sync(db, "restore", "恢复", required=True):
        return _restore(file, db)


def _restore(file: Path, db: Path) -> tuple[Path | None, dict[str, Any]]:
    from qi_station.db.engine import open_db
    from qi_station.db.session import dispose_all

    replaced = _sync_state(db) if db.exists() else {}
    was_enrolled = bool(replaced.get("enroll_mode"))
    known_ack = max(_count(replaced, "acked_oseq"), _count(replaced, "restored_known_ack"))
    dispose_all()
    if db.exists():
        _secrets_out(db)  # a write: before the restore holds the database (the safety copy has none)
    kept: Path | None = None
    from qi_station.services.tempfiles import held_temp

    # the backup copied aside and marked restored first: the replacement brings the marks with it, so a
    # restore killed at any point leaves the old database or the restored one with its marks
    with held_temp(db.with_name(db.name + RESTORING_SUFFIX), ".part") as tmp:
        _copy(file, tmp, readonly=True)
        _mark_restored(tmp, was_enrolled, known_ack)
        kept = _replace(tmp, db)
    open_db(db)  # upgrade an older backup to the current schema
    _secrets_out(db)
    shutil.rmtree(db.with_name(db.name + ".restore-tmp"), ignore_errors=True)
    from qi_station.services.verify import verify_ledger

    return kept, verify_ledger(db)


#: beside the database while ``restore`` prepares the backup it copies in (``.<db>.restoring.XXXX.part``)
RESTORING_SUFFIX = ".restoring"

#: how long ``restore`` waits for a writer of the database (an import, the app saving) to finish before
#: it gives up, nothing done (``database_busy``)
RESTORE_WAIT_SECONDS = 120


def _copy(src_path: Path, out: Path, *, readonly: bool = False) -> None:
    """``src_path``'s committed content written into ``out`` (SQLite backup API), journal DELETE."""
    src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True) if readonly else sqlite3.connect(src_path)
    try:
        dst = sqlite3.connect(out)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _replace(prepared: Path, db: Path) -> Path | None:
    """Copy ``prepared`` over ``db`` in one write transaction on ``db``, and before any page of it is
    committed, copy ``db``'s content aside (the safety copy, returned; None when there was no database).
    Both happen under one hold of ``db``'s write lock: the copy-in holds it from its first page to its
    commit, and the safety copy is taken while it is held, so no write commits between them (a writer
    waits, then writes into the restored database, or fails busy; never succeeds into neither). A writer
    holding ``db`` is waited for (:data:`RESTORE_WAIT_SECONDS`), then ``database_busy``, nothing done."""
    import time

    had = db.exists() and db.stat().st_size > 0
    kept: list[Path] = []
    waited: list[float] = []

    def step(status: int, remaining: int, total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            waited.append(time.monotonic())
            if waited[-1] - waited[0] > RESTORE_WAIT_SECONDS:
                raise _RestoreBusy
            return
        if kept or not had:
            return
        if status != sqlite3.SQLITE_OK:  # done in one step: the safety copy would come too late
            raise QIError(
                "restore failed, database unchanged: the backup is too small to be a station database"
            )
        # the first page is copied, uncommitted: db's write lock is held; its committed content is read
        base = db.with_name(db.name + SAFETY_SUFFIX)
        sweep_safety_parts(base)
        out = _free_name(base)
        with held_temp(out, ".part") as part:
            _copy(db, part)
            os.chmod(part, 0o600)
            os.replace(part, out)
        kept.append(out)
        _prune_safety_copies(base)  # the new copy is whole: keep it and the two before it

    from qi_station.services.tempfiles import held_temp

    src = sqlite3.connect(f"file:{prepared}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(db, timeout=5)
        try:
            src.backup(dst, pages=1, progress=step)  # one write transaction on dst, held between steps
        except _RestoreBusy:
            from qi_station.services.locks import SyncLockError

            raise SyncLockError(
                "database_busy",
                f"another program kept writing to {db} for {RESTORE_WAIT_SECONDS} s: the restore did "
                "nothing; try again when it has finished / 另一程序一直在写入数据库，恢复未执行；请待其完成后再试",
            ) from None
        except sqlite3.Error as e:
            raise QIError(f"restore failed, database unchanged: {e}") from e
        finally:
            dst.close()
    finally:
        src.close()
    return kept[0] if kept else None


class _RestoreBusy(Exception):
    """The database stayed write-locked by another program longer than :data:`RESTORE_WAIT_SECONDS`."""


def _secrets_out(db: Path) -> None:
    from qi_station.db import secrets
    from qi_station.db.engine import connect

    conn = connect(db)
    try:
        secrets.migrate(conn)
    finally:
        conn.close()


def _mark_restored(db: Path, was_enrolled: bool, known_ack: int = 0) -> None:
    """Written into the backup's copy before it replaces the database (:func:`_restore`). An enrolled station restored from a backup may be behind the hub: the next sync catches up
    before it pushes (``kvkeys.STATION_RESTORED``). So is one whose backup was made before it enrolled
    (``was_enrolled``: the database replaced was): enrolled again, it first takes the hub's restore
    bundle, never sends its old outbox as a second PC would. Every restore also writes a new
    :data:`kvkeys.RESTORE_MARK` (:func:`restore_mark`). ``known_ack``: the highest hub ack the replaced
    database had known (``kvkeys.RESTORED_KNOWN_ACK``): an older restore bundle is refused as stale."""
    import secrets as _random

    from qi_station.core.clock import env_now, local
    from qi_station.db import kvkeys

    mark = f"{local(env_now()):%Y-%m-%d %H:%M:%S} {_random.token_hex(4)}"
    conn = sqlite3.connect(db)  # the copy being prepared: no station pragmas (it stays journal DELETE)
    try:
        with conn:
            conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (kvkeys.RESTORE_MARK, mark))
            if was_enrolled or conn.execute("SELECT 1 FROM kv WHERE k = 'enroll_mode'").fetchone():
                conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, '1')", (kvkeys.STATION_RESTORED,))
                top = conn.execute("SELECT COALESCE(MAX(oseq), 0) FROM outbox").fetchone()[0]
                conn.execute(
                    "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (kvkeys.RESTORED_OUTBOX_TOP, str(top))
                )
                acked = conn.execute("SELECT v FROM kv WHERE k = ?", (kvkeys.ACKED_OSEQ,)).fetchone()
                held = int(acked[0]) if acked and str(acked[0]).isdigit() else 0
                conn.execute(
                    "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)",
                    (kvkeys.RESTORED_KNOWN_ACK, str(max(known_ack, held))),
                )
    finally:
        conn.close()


def restore_mark(db: Path) -> str | None:
    """The mark the last ``restore`` of ``db`` wrote (None: never restored, or unreadable). A running
    app keeps the value it read at start-up; another value means the database was replaced under it."""
    from qi_station.db import kvkeys

    return _sync_state(db).get(kvkeys.RESTORE_MARK)


_STATE_KEYS = (
    "enroll_mode",
    "station_code",
    "hub_url",
    "acked_oseq",
    "head_sent",
    "restore_mark",
    "restored_known_ack",
)


def _sync_state(db: Path) -> dict[str, str]:
    """The kv rows of ``db`` that say how far it synced (read-only; empty when unreadable)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return {}
    try:
        marks = ",".join("?" * len(_STATE_KEYS))
        return {
            str(k): str(v) for k, v in conn.execute(f"SELECT k, v FROM kv WHERE k IN ({marks})", _STATE_KEYS)
        }
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


def _count(state: dict[str, str], key: str) -> int:
    head = (state.get(key) or "0").split(":", 1)[0]
    return int(head) if head.isdigit() else 0


def behind_hint(kept: Path | None, db: Path) -> str | None:
    """After a restore: what to do when the restored database synced less than the one it replaced
    (``kept``, the copy restore made) -- its backup predates the enrollment, or the hub holds changes it
    lacks. None when it is not behind. docs/sync.md, "Restoring a station"."""
    if kept is None:
        return None
    old, new = _sync_state(kept), _sync_state(db)
    if not old.get("enroll_mode"):
        return None
    behind = not new.get("enroll_mode") or any(
        _count(new, k) < _count(old, k) for k in ("acked_oseq", "head_sent")
    )
    if not behind:
        return None
    code = old.get("station_code") or "CODE"
    if old.get("enroll_mode") == "online" and not new.get("enroll_mode"):
        hub = f" --hub {old['hub_url']}" if old.get("hub_url") else ""
        return (
            f"this backup was made before station {code} enrolled: ask the hub for a new token "
            f"(`qi-station hub add-station {code} --name NAME --reissue`; the one used is spent), then run "
            f"`qi-station sync enroll{hub} --token TOKEN` here: its first sync takes back from the hub what "
            "the backup lacks (docs/sync.md) / 此备份早于本站注册：请中心重新签发注册码（"
            f"qi-station hub add-station {code} --name 名称 --reissue；原注册码已用过），再在本机运行 "
            f"qi-station sync enroll{hub} --token 注册码，首次同步会从中心取回备份缺少的数据（见 docs/sync.md）"
        )
    if old.get("enroll_mode") == "online":
        return (
            f"this backup is older than what station {code} already sent to the hub: run `qi-station sync` "
            "before new work is sent; it first takes back from the hub what the backup lacks (docs/sync.md) / "
            "此备份早于本站上次同步：请先运行 qi-station sync（在上传新工作之前），它先从中心取回备份之后的数据（见 docs/sync.md）"
        )
    enroll = (
        ""
        if new.get("enroll_mode")
        else "enroll again here with the same token (`qi-station sync enroll --token TOKEN`; this PC keeps "
        "the station key), then "
    )
    return (
        f"this backup is older than what station {code} already sent to the hub: {enroll}ask the hub for a "
        f"restore bundle (at the hub: `qi-station hub export-bundle --station {code} --restore --out DIR`) and "
        "import it here (`qi-station sync import-bundle FILE`) before exporting any bundle (docs/sync.md) / "
        "此备份早于本站上次同步："
        + (
            "请用原注册码重新注册（qi-station sync enroll --token 注册码；本机保留站点密钥），再"
            if enroll
            else "请"
        )
        + f"向中心索取恢复数据包（在中心运行 qi-station hub export-bundle --station {code} --restore --out 文件夹）"
        "并在本机导入（qi-station sync import-bundle 文件），然后才能导出数据包（见 docs/sync.md）"
    )


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
        f"`qi-station sync enroll{hub} --token TOKEN` here / 备份不含站点密钥与中心令牌，本机也没有：请中心运行 "
        f"qi-station hub add-station {code} --name 名称 --reissue 重新签发注册码，再在本机运行 "
        f"qi-station sync enroll{hub} --token 注册码"
    )
