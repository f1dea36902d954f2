"""Restore replaces the station database atomically with its safety copy: a write committed by another
process around a restore is in the restored database or in ``<db>.before-restore``, never lost."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from qi_station.services import backup as B

_WRITER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO kv (k, v) VALUES ('probe', 'written')")
print("held", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
print("committed", flush=True)
"""


def _kv(db: Path, k: str) -> str | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT v FROM kv WHERE k = ?", (k,)).fetchone()
    finally:
        conn.close()
    return row[0] if row else None


def _spy_sqlite(busy: threading.Event) -> Any:
    """``sqlite3`` as ``services.backup`` sees it, its backups reporting when the target was busy."""

    class Spy(sqlite3.Connection):
        def backup(self, target: Any, *, pages: int = -1, progress: Any = None, **kw: Any) -> None:
            def step(status: int, remaining: int, total: int) -> None:
                if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    busy.set()
                if progress is not None:
                    progress(status, remaining, total)

            super().backup(target, pages=pages, progress=step, **kw)

    class Proxy:
        def __getattr__(self, name: str) -> Any:
            return getattr(sqlite3, name)

        @staticmethod
        def connect(*a: Any, **kw: Any) -> sqlite3.Connection:
            return sqlite3.connect(*a, factory=Spy, **kw)

    return Proxy()


def test_a_write_committed_while_restore_waits_is_kept_in_the_safety_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qi_station.db.engine import open_db

    db = tmp_path / "s.db"
    open_db(db)
    bk = B.backup_db(db, tmp_path / "b.db")
    busy = threading.Event()
    monkeypatch.setattr(B, "sqlite3", _spy_sqlite(busy))
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert writer.stdout is not None and writer.stdin is not None
    try:
        assert writer.stdout.readline().strip() == "held"  # a write transaction open on the live database
        out: dict[str, Any] = {}

        def run() -> None:
            try:
                out["kept"] = B.restore_db(bk, db)[0]
            except BaseException as e:  # noqa: BLE001 - reported below
                out["error"] = e

        t = threading.Thread(target=run)
        t.start()
        # the restore reached the live database and found the writer holding it
        while not busy.wait(0.05):
            assert t.is_alive(), out
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "committed"  # the writer was told it succeeded
        t.join()
    finally:
        writer.stdin.close()
        writer.wait()
    assert "error" not in out, out
    kept = out["kept"]
    # the write the writer reported is somewhere: here, in the copy restore kept of the old database
    assert _kv(kept, "probe") == "written"
    assert _kv(db, "probe") is None  # the restored database is the backup's


def test_restore_refuses_a_writer_that_never_lets_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Held past RESTORE_WAIT_SECONDS: database_busy, nothing done (no safety copy, the database as it was)."""
    from qi_station.db.engine import open_db
    from qi_station.services.locks import SyncLockError

    db = tmp_path / "s.db"
    open_db(db)
    bk = B.backup_db(db, tmp_path / "b.db")
    monkeypatch.setattr(B, "RESTORE_WAIT_SECONDS", 0)
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stdin is not None
    try:
        assert writer.stdout.readline().strip() == "held"
        with pytest.raises(SyncLockError) as e:
            B.restore_db(bk, db)
        assert e.value.code == "database_busy"
        assert not list(tmp_path.glob("s.db.before-restore*"))
        assert not list(tmp_path.glob(".s.db.restoring*"))
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "committed"
    finally:
        writer.stdin.close()
        writer.wait()
    assert _kv(db, "probe") == "written" and B.restore_mark(db) is None


def test_the_sync_lock_is_the_same_through_a_symlink_or_another_spelling(tmp_path: Path) -> None:
    from qi_station.db.engine import open_db
    from qi_station.services.locks import SyncLockError, hold_sync
    from qi_station.sync.proto import SyncError
    from qi_station.sync.station.client import db_sync_lock

    db = tmp_path / "s.db"
    open_db(db)
    bk = B.backup_db(db, tmp_path / "b.db")
    link = tmp_path / "link.db"
    link.symlink_to(db)
    (tmp_path / "sub").mkdir()
    spelled = tmp_path / "sub" / ".." / "s.db"
    with hold_sync(db, "sync", "同步"):  # a sync of the station, by the path SQLite resolves
        for other in (link, spelled):
            with pytest.raises(SyncLockError) as e:
                B.restore_db(bk, other)
            assert e.value.code == "sync_running"
            with pytest.raises(SyncError), db_sync_lock(other, "bundle export", "导出数据包"):
                pass
    with hold_sync(link, "restore", "恢复"), pytest.raises(SyncError), db_sync_lock(db, "sync", "同步"):
        pass
    assert not (tmp_path / "link.db.sync-lock").exists()


def test_restore_of_a_hard_link_to_the_own_database_is_refused(tmp_path: Path) -> None:
    from qi_station.core.errors import ValidationError
    from qi_station.db.engine import open_db

    db = tmp_path / "s.db"
    open_db(db)
    hard = tmp_path / "link.db"
    os.link(db, hard)
    with pytest.raises(ValidationError) as e:
        B.restore_db(hard, db)
    assert e.value.rule == "own_database"
    assert not list(tmp_path.glob("s.db.before-restore*"))


#: restores ``argv[1]`` onto ``argv[2]`` and is killed (``os._exit``) at ``argv[3]``: ``after_copy``,
#: once the backup's pages are in the database (before the schema upgrade and the rest), or
#: ``during_copy``, once the safety copy is made (the backup's pages not yet committed)
_KILLED_RESTORE = """
import os, sys
from pathlib import Path
from qi_station.db import engine
from qi_station.services import backup
def die(*a, **k):
    os._exit(9)
if sys.argv[3] == "after_copy":
    engine.open_db = die
else:
    backup._prune_safety_copies = die
backup.restore_db(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def _enrolled_station(tmp_path: Path) -> tuple[Path, Path]:
    from qi_station.db.engine import open_db

    db = tmp_path / "s.db"
    open_db(db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO kv (k, v) VALUES ('enroll_mode', 'usb')")
    conn.close()
    return db, B.backup_db(db, tmp_path / "b.db")


def test_a_restore_killed_after_the_copy_leaves_the_restored_database_with_its_marks(tmp_path: Path) -> None:
    from qi_station.db import kvkeys

    db, bk = _enrolled_station(tmp_path)
    run = subprocess.run([sys.executable, "-c", _KILLED_RESTORE, str(bk), str(db), "after_copy"], check=False)
    assert run.returncode == 9
    # the next sync heals (catches up from the hub) instead of failing device_conflict
    assert _kv(db, kvkeys.STATION_RESTORED) == "1"
    assert _kv(db, kvkeys.RESTORED_OUTBOX_TOP) == "0"
    assert B.restore_mark(db)
    assert list(tmp_path.glob("s.db.before-restore*"))


def test_a_restore_killed_during_the_copy_leaves_the_old_database(tmp_path: Path) -> None:
    from qi_station.db import kvkeys

    db, bk = _enrolled_station(tmp_path)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO kv (k, v) VALUES ('probe', 'old')")
    conn.close()
    run = subprocess.run(
        [sys.executable, "-c", _KILLED_RESTORE, str(bk), str(db), "during_copy"], check=False
    )
    assert run.returncode == 9
    assert _kv(db, "probe") == "old" and _kv(db, kvkeys.STATION_RESTORED) is None
    assert B.restore_mark(db) is None
    left = list(tmp_path.glob(".s.db.restoring*"))
    assert left  # the backup's copy the killed restore prepared
    for p in left:  # older than the sweep's grace (services.tempfiles.GRACE_SECONDS)
        os.utime(p, (p.stat().st_mtime - 60,) * 2)
    B.restore_db(bk, db)  # the next restore sweeps what the killed one left and restores
    assert _kv(db, "probe") is None and _kv(db, kvkeys.STATION_RESTORED) == "1"
    assert not list(tmp_path.glob(".s.db.restoring*"))


_LATE_WRITER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
print("trying", flush=True)
try:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO kv (k, v) VALUES ('late', 'written')")
    conn.execute("COMMIT")
except sqlite3.Error as e:
    print("failed", e, flush=True)
else:
    print("committed", flush=True)
"""


def test_a_writer_coming_while_restore_holds_the_database_writes_into_the_restored_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qi_station.db.engine import open_db

    db = tmp_path / "s.db"
    open_db(db)
    bk = B.backup_db(db, tmp_path / "b.db")
    started: list[subprocess.Popen[str]] = []
    prune = B._prune_safety_copies

    def prune_with_a_writer(base: Path) -> list[Path]:  # runs while restore holds the write lock
        w = subprocess.Popen([sys.executable, "-c", _LATE_WRITER, str(db)], stdout=subprocess.PIPE, text=True)
        started.append(w)
        assert w.stdout is not None and w.stdout.readline().strip() == "trying"
        return prune(base)

    monkeypatch.setattr(B, "_prune_safety_copies", prune_with_a_writer)
    kept = B.restore_db(bk, db)[0]
    assert kept is not None and started
    w = started[0]
    assert w.stdout is not None
    said = w.stdout.readline().strip()
    w.wait()
    assert _kv(kept, "late") is None
    if said == "committed":  # it reported success: the write is in the restored database
        assert _kv(db, "late") == "written"
    else:  # or it failed, clearly
        assert said.startswith("failed") and _kv(db, "late") is None
