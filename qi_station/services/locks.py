"""Locks beside the database that the OS drops with their holder (a killed process too), on POSIX and
Windows alike, through the ``filelock`` library: the one home of "who holds this database".

- ``<db>.in-use``: a running app holds it shared (:func:`hold_shared`, several apps at once);
  ``restore`` asks whether anyone does (:func:`held`) to warn (``services.backup``).
- ``<db>.sync-lock``: a running sync, bundle import or export, or restore holds it alone
  (:func:`hold_sync`); any of them while another runs is refused ``sync_running``
  (``sync.station.client.sync_lock``, ``services.backup.restore_db``).

A folder where the lock file cannot be made (read-only media) leaves the lock untaken: the callers say
what that means for them. (Temporary files a writer holds while it writes are ``services.tempfiles``'.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, ReadWriteLock, Timeout

from qi_station.core.errors import QIError

#: what taking a lock raises when the lock file cannot be made or opened (a read-only folder, a lock
#: file of another kind): the lock is then not taken
_CANNOT = (OSError, ValueError, sqlite3.Error)


def hold_shared(path: Path) -> ReadWriteLock | None:
    """A shared hold on ``path``, kept until :meth:`~filelock.ReadWriteLock.release` or the process ends.
    Returns the lock (keep a reference: dropping it releases the hold), or None when it cannot be taken
    (the folder is not writable, or someone holds it alone)."""
    try:
        lock = ReadWriteLock(path, blocking=False, is_singleton=False)
        lock.acquire_read()
    except (Timeout, *_CANNOT):
        return None
    return lock


def held(path: Path) -> bool | None:
    """Does anyone hold ``path`` through :func:`hold_shared`? None: cannot tell (the lock file cannot be
    opened)."""
    if not path.exists():
        return False
    try:
        lock = ReadWriteLock(path, blocking=False, is_singleton=False)
    except _CANNOT:
        return None
    try:
        lock.acquire_write()
    except Timeout:
        return True
    except _CANNOT:
        return None
    finally:
        lock.close()
    return False


@contextmanager
def exclusive(path: Path, busy: Callable[[], BaseException]) -> Iterator[bool]:
    """``path`` held alone for the block (yields True); held by another: ``busy()`` is raised, nothing
    done. Yields False (the block runs unheld) when the lock file cannot be made."""
    # never the soft fallback (a file that stays when its holder is killed): the OS lock or none
    lock = FileLock(path, mode=0o600, blocking=False, is_singleton=False, fallback_to_soft=False)
    try:
        lock.acquire()
    except Timeout:
        raise busy() from None
    except _CANNOT:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


#: beside the station database: the lock a sync, a bundle import or export and a restore hold alone
SYNC_LOCK_SUFFIX = ".sync-lock"


class SyncLockError(QIError):
    """A sync, bundle or restore refused because of the station's sync lock (exit 1, as every refusal
    that may pass when tried again): ``code`` ``sync_running`` (another holds it) or ``sync_lock``
    (the lock file cannot be made), or a restore's ``database_busy`` (another program kept writing to
    the database, ``services.backup``); ``message`` bilingual (``english / 中文``)."""

    exit_code = 1

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{message} [{code}]")


def sync_running(what: str, what_zh: str) -> SyncLockError:
    """The refusal of ``what`` (``sync``, ``restore`` …) while another holds the sync lock."""
    return SyncLockError(
        "sync_running",
        f"another sync of this station is running (a sync, a bundle import or export, or a restore): "
        f"the {what} did nothing; try again when it has finished / 本站另一同步正在进行（同步、导入导出数据包或"
        f"恢复），{what_zh}未执行；请待其完成后再试",
    )


def sync_lock_path(db: Path) -> Path:
    """The sync lock of the station database ``db``: ``<db>.sync-lock`` beside the file the path leads
    to (symlinks followed, ``..`` and relative parts resolved)."""
    real = Path(db).resolve()
    return real.with_name(real.name + SYNC_LOCK_SUFFIX)


@contextmanager
def hold_sync(db: Path, what: str, what_zh: str, *, required: bool = False) -> Iterator[bool]:
    """``<db>.sync-lock`` held alone for the block (yields True): one sync, bundle import or export, or
    restore of a station at a time. Held by another: :func:`sync_running` raised, nothing done. The lock
    file cannot be made: ``required`` raises ``sync_lock`` (a restore, which replaces the whole database,
    never runs without knowing no sync runs); else the block runs unheld (yields False: the hub's ack
    keeps two syncs correct, only their counts overlap). The path is resolved here, once for every
    caller: a symlink to the database, or another spelling of its path, locks the same file."""
    lock = sync_lock_path(db)
    with exclusive(lock, lambda: sync_running(what, what_zh)) as held:
        if not held and required:
            raise SyncLockError(
                "sync_lock",
                f"cannot make the sync lock {lock} (is the folder read-only, or is that "
                f"name taken by something else?): the {what} did nothing, as it cannot tell whether a sync "
                f"is running; make the folder writable and try again / 无法创建同步锁 {lock}"
                f"（文件夹只读或该名称已被占用），无法确认是否正在同步，{what_zh}未执行；请确保文件夹可写后重试",
            )
        yield held
