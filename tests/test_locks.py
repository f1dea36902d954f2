"""The locks beside the database (``services.locks``, the ``filelock`` library) are taken without
``fcntl`` too: on Windows the running app's hold (``restore`` warns) and the one-sync-at-a-time lock
used to be skipped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from qi_station.services import tempfiles


@pytest.fixture
def no_fcntl(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on Windows: no ``fcntl`` (what the old locks looked for)."""
    monkeypatch.setattr(tempfiles, "fcntl", None)


@pytest.mark.usefixtures("no_fcntl")
def test_the_apps_hold_is_taken_and_seen_without_fcntl(db: Path) -> None:
    from qi_station.services.backup import hold_in_use, in_use

    assert in_use(db) is False
    first, second = hold_in_use(db), hold_in_use(db)  # two apps on one database: both hold it
    assert first is not None and second is not None
    assert in_use(db) is True
    first.release()
    assert in_use(db) is True  # the other app still runs
    second.release()
    assert in_use(db) is False


@pytest.mark.usefixtures("no_fcntl")
def test_a_second_sync_is_refused_without_fcntl(tmp_path: Path) -> None:
    from qi_station.services.locks import exclusive
    from qi_station.sync.proto import SyncError
    from qi_station.sync.station.client import SYNC_LOCK_SUFFIX, sync_lock

    db = tmp_path / "s.db"
    conn = sqlite3.connect(db)
    try:
        with exclusive(Path(str(db) + SYNC_LOCK_SUFFIX), AssertionError) as held:  # a sync is running
            assert held
            with pytest.raises(SyncError) as ei, sync_lock(conn):
                pass
            assert ei.value.code == "sync_running" and "本站另一同步正在进行" in ei.value.message
        with sync_lock(conn):  # once it finished
            pass
    finally:
        conn.close()
