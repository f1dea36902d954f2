"""Locks beside the database that the OS drops with their holder (a killed process too), on POSIX and
Windows alike, through the ``filelock`` library: the one home of "who holds this database".

- ``<db>.in-use``: a running app holds it shared (:func:`hold_shared`, several apps at once);
  ``restore`` asks whether anyone does (:func:`held`) to warn (``services.backup``).
- ``<db>.sync-lock``: a running sync holds it alone (:func:`exclusive`); a second sync of the station is
  refused (``sync.station.client.sync_lock``).

A folder where the lock file cannot be made (read-only media) leaves the lock untaken: the callers say
what that means for them. (Temporary files a writer holds while it writes are ``services.tempfiles``'.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, ReadWriteLock, Timeout

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
