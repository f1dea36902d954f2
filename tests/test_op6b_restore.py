"""Outside operator, round 6 (op6b) items 1-2: a restore under the running app is noticed and said, and a
restore of a backup older than the last sync says what to do next (by USB: the hub's restore bundle);
re-enrolled with the token already used, the station takes that bundle before sending anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sync_heal_bundle import round_trip
from test_sync_hub import env, hub_url  # noqa: F401 - fixtures
from test_sync_util import request_input
from typer.testing import CliRunner

from qi_station.services import ledger
from qi_station.sync.proto import SyncError
from qi_station.sync.station import bundles as B
from qi_station.sync.station import client as C

_ = (env, hub_url)


def test_restore_writes_a_new_mark_each_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qi_station.db.engine import open_db
    from qi_station.services.backup import backup_db, restore_db, restore_mark

    monkeypatch.setenv("QI_STATION_NOW", "2026-03-20T10:00:00+08:00")
    db = tmp_path / "s.db"
    open_db(db)
    bk = backup_db(db, tmp_path / "b.db")
    assert restore_mark(db) is None
    restore_db(bk, db)
    first = restore_mark(db)
    assert first and first.startswith("2026-03-20 10:00:00 ")
    restore_db(bk, db)
    assert restore_mark(db) not in (None, first)


def test_restore_warns_while_an_app_holds_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    from qi_station.cli.commands import build
    from qi_station.db.engine import open_db
    from qi_station.services.backup import backup_db, hold_in_use, in_use

    monkeypatch.setenv("QI_STATION_NOW", "2026-03-20T10:00:00+08:00")
    db = tmp_path / "s.db"
    open_db(db)
    bk = backup_db(db, tmp_path / "b.db")
    assert in_use(db) is False
    args = ["--db", str(db), "restore", str(bk)]
    quiet = CliRunner().invoke(build(), args)
    assert quiet.exit_code == 0, quiet.output
    assert "正在使用" not in quiet.output
    held = hold_in_use(db)
    assert held is not None and in_use(db) is True
    try:
        got = CliRunner().invoke(build(), args)
        en = CliRunner().invoke(build(), ["--lang", "en", *args])
    finally:
        held.release()
    assert got.exit_code == en.exit_code == 0, got.output
    # in the CLI's language, as the rest of restore's answer (it used to be English in Chinese mode)
    assert "正在使用此数据库" in got.output and "is running" not in got.output and "已从" in got.output
    assert "qi-station is running with this database" in en.output and "restored from" in en.output
    assert in_use(db) is False  # the lock goes with the holder


def test_restore_of_a_backup_from_before_usb_enrollment_says_what_next(
    env: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from qi_station.db.engine import open_db
    from qi_station.db.session import dispose_all
    from qi_station.services.backup import backup_db, behind_hint, restore_db
    from qi_station.services.station import init_station

    hub, _tc, _dbs = env
    db, d = tmp_path / "BK02.db", tmp_path / "usb"
    d.mkdir()
    init_station(open_db(db), code="BK02")
    ledger.create_request(db, request_input(1))
    old = backup_db(db, tmp_path / "before-enroll.db")  # made before the USB enrollment
    token = hub.add_station("BK02", "BK02站")["token"]
    C.enroll(db, token)
    ledger.create_request(db, request_input(2))
    assert round_trip(hub, db, "BK02", d)["pending"] == 0
    dispose_all()
    kept, _check = restore_db(old, db)
    hint = behind_hint(kept, db)
    assert hint is not None
    assert "--restore" in hint and "docs/sync.md" in hint and "sync enroll" in hint and "恢复数据包" in hint
    # enrolled again with the token already used: the station knows it is behind and sends nothing
    # (the hub would refuse it as a second PC, device_conflict) before the hub's restore bundle
    assert "--restore" in C.enroll(db, token)["next"]
    with pytest.raises(SyncError, match="--restore") as ei:
        B.export_bundle(db, d, force=True)
    assert ei.value.code == "station_behind"
    rb = hub.export_restore_bundle("BK02", d, force=True)
    assert B.import_bundle(db, rb["file"])["status"] == "healed"
    ledger.create_request(db, request_input(3))
    up = B.export_bundle(db, d, force=True)
    assert hub.import_bundle(up["file"])["status"] == "imported"


def test_no_hint_when_the_backup_is_not_behind(tmp_path: Path) -> None:
    from qi_station.db.engine import open_db
    from qi_station.services.backup import backup_db, behind_hint, restore_db

    db = tmp_path / "s.db"
    open_db(db)
    bk = backup_db(db, tmp_path / "b.db")
    kept, _ = restore_db(bk, db)
    assert behind_hint(kept, db) is None
