"""Outside attacker's findings (stop 24): a month past 9,999 requests, concurrent imports, a killed
restore's leftovers, messages naming the right rule in both languages, concurrent syncs."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_sync_util import request_input

from qi_station.core.ids import format_number, number_month, split_number
from qi_station.services import ledger
from qi_station.services.verify import verify_ledger


# ---- 1. the request number past 9,999 in a month ---------------------------------------------
def test_the_number_rule_takes_any_width() -> None:
    assert format_number("JN-AT1K-202611", 7) == "JN-AT1K-202611-0007"
    assert format_number("JN-AT1K-202611", 10005) == "JN-AT1K-202611-10005"
    assert split_number("JN-AT1K-202611-10005") == ("JN-AT1K-202611", 10005)
    assert split_number("JN-AT1K-202611-0001") == ("JN-AT1K-202611", 1)
    assert number_month("JN-AT1K-202611-10005") == "202611"
    assert split_number("JN-AT1K-2026-0001") is None and split_number("0001") is None
    assert split_number(None) is None


def test_a_month_past_9999_requests_verifies_intact(db: Path) -> None:
    from qi_station.db import write

    first = ledger.create_request(db, request_input(0, 1))
    prefix, n = split_number(first["number"]) or ("", 0)
    assert n == 1
    c = sqlite3.connect(db)
    with c:
        c.execute("UPDATE kv SET v = '9998' WHERE k = ?", (write.LEDGER_SEQ + prefix,))
    c.close()
    numbers = [ledger.create_request(db, request_input(i, 1))["number"] for i in range(1, 4)]
    assert numbers == [f"{prefix}-9999", f"{prefix}-10000", f"{prefix}-10001"]
    res = verify_ledger(db)
    assert res["ok"], res  # used to say "ledger counter …- is 0 but number 1 is used"
    c = sqlite3.connect(db)
    try:
        code = prefix.rsplit("-", 1)[0]
        assert write.ledger_counters(c, code) == {prefix: 10001}  # no "{prefix}-" key made up
    finally:
        c.close()
    assert ledger.create_request(db, request_input(9, 1))["number"] == f"{prefix}-10002"


# ---- 2. two imports of the same ledger at once -------------------------------------------------
def test_the_import_that_loses_the_race_skips_what_the_other_wrote(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_import import ROW1, ROW2, counts, gbk_csv

    from qi_station.services.importer import import_ledger
    from qi_station.services.importer import run as R

    f = gbk_csv(tmp_path / "台账.csv", ROW1, ROW2)
    real = R._renames
    other: list[dict[str, Any]] = []

    def the_other_import_commits_first(*a: Any) -> Any:  # after our check, before our write lock
        if not other:
            monkeypatch.setattr(R, "_renames", real)
            other.append(import_ledger(db, f))
        return real(*a)

    monkeypatch.setattr(R, "_renames", the_other_import_commits_first)
    s = import_ledger(db, f)  # used to fail: UNIQUE constraint failed: import_row.key
    assert other[0]["imported"] == 2
    assert s["imported"] == 0 and s["already_imported"] == 2 and s["numbers"] == []
    assert s["imported_before"] == [{"source": "台账.csv", "rows": 2}]
    assert counts(db)["request"] == 2 and counts(db)["import_row"] == 2


# ---- 3. a restore killed while it copied the database aside ------------------------------------
def test_a_later_restore_removes_what_a_killed_one_left(db: Path, tmp_path: Path) -> None:
    import fcntl
    import os

    from qi_station.services.backup import SAFETY_SUFFIX, backup_db, restore_db

    ledger.create_request(db, request_input(0, 1))
    bk = backup_db(db, tmp_path / "bk.db")
    restore_db(bk, db)  # a safety copy <db>.before-restore now exists: the next one is .1
    base = db.name + SAFETY_SUFFIX
    left = [tmp_path / f".{base}.k2j4x8qa.part", tmp_path / f".{base}.k2j4x8qa.part-journal"]
    live = tmp_path / f".{base}.2.zzzzzzzz.part"  # another restore's, held right now
    other = tmp_path / f".{db.name}.k2j4x8qa.part"  # not a safety copy's: not restore's to remove
    for p in [*left, live, other]:
        p.write_bytes(b"x")
        os.utime(p, (1_000_000_000, 1_000_000_000))  # long untouched
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        kept, _ = restore_db(bk, db)
    finally:
        os.close(fd)
    assert kept is not None and kept.name == base + ".1"
    assert not any(p.exists() for p in left)  # used to stay for good
    assert live.exists() and other.exists()


# ---- 4. messages: the right rule, both languages, every bad field ------------------------------
def test_a_bundle_of_the_other_side_is_the_wrong_kind_in_both_languages(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from test_sync_util import enroll_station

    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub
    from qi_station.sync.proto import SyncError
    from qi_station.sync.station import bundles as B

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = Hub(url)
    hub.init(demo=False)
    tc = TestClient(create_app(url))
    try:
        a, b = tmp_path / "ZB01.db", tmp_path / "QD02.db"
        enroll_station(a, hub, tc, "ZB01")
        enroll_station(b, hub, tc, "QD02")
        ledger.create_request(a, request_input(1, 1))
        up = tmp_path / "up.zip"
        B.export_bundle(a, up)
        with pytest.raises(SyncError) as ei:  # another station's up bundle: used to say bad_signature
            B.import_bundle(b, up)
        assert ei.value.code == "wrong_kind" and "up bundle" in ei.value.message, ei.value
        assert "不是中心下发的数据包" in ei.value.message
        import zipfile

        with zipfile.ZipFile(up) as z:
            parts = {n: z.read(n) for n in z.namelist()}
        forged = tmp_path / "forged.zip"  # a manifest edited to say "up": not read, a bad signature
        with zipfile.ZipFile(forged, "w") as z:
            for n, body in parts.items():
                z.writestr(n, body.replace(b'"up"', b'"up" ') if n == "manifest.json" else body)
        with pytest.raises(SyncError) as ei:
            B.import_bundle(b, forged)
        assert ei.value.code == "bad_signature"
        down = tmp_path / "down.zip"
        hub.export_bundle("ZB01", down)
        with pytest.raises(SyncError) as ei:
            hub.import_bundle(down)
        assert ei.value.code == "wrong_kind" and "不是站点上传的数据包" in ei.value.message, ei.value
    finally:
        tc.close()
        dispose_all()
        hub.dispose()


def test_a_workbook_is_not_a_bundle(tmp_path: Path) -> None:
    from openpyxl import Workbook

    from qi_station.sync.bundle import read_bundle
    from qi_station.sync.proto import SyncError

    wb = Workbook()
    for i in range(6):
        wb.create_sheet(f"s{i}")
    x = tmp_path / "台账.xlsx"
    wb.save(x)
    with pytest.raises(SyncError) as ei:  # used to say "N members, more than the limit 8"
        read_bundle(x)
    assert ei.value.code == "bad_bundle" and "not a qi-station sync bundle" in ei.value.message
    assert "不是 qi-station 同步数据包" in ei.value.message
    small = tmp_path / "small.xlsx"
    Workbook().save(small)  # fewer members than the cap: the same answer
    with pytest.raises(SyncError) as ei:
        read_bundle(small)
    assert "not a qi-station sync bundle" in ei.value.message


def test_library_kind_is_refused_in_both_languages(db: Path) -> None:
    from qi_station.core.errors import ValidationError
    from qi_station.services.search import search

    with pytest.raises(ValidationError) as ei:
        search(db, "bogus", "x")
    assert (ei.value.field, ei.value.rule) == ("kind", "choice") and "类别应为" in ei.value.message


def test_report_monthly_names_every_bad_field(db: Path) -> None:
    from qi_station.cli.report import _check_month_format
    from qi_station.core.errors import ValidationError, every_error

    with pytest.raises(ValidationError) as ei:
        _check_month_format("abc", "docx", None)
    assert [e.field for e in every_error(ei.value)] == ["month", "format"]


# ---- 5. syncs of one station at once ----------------------------------------------------------
def test_a_second_sync_of_the_station_is_refused_while_one_runs(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from test_sync_util import enroll_station

    from qi_station.db.session import dispose_all
    from qi_station.services.locks import exclusive
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub
    from qi_station.sync.proto import SyncError
    from qi_station.sync.station import client as C

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = Hub(url)
    hub.init(demo=False)
    tc = TestClient(create_app(url))
    try:
        a = tmp_path / "ZB01.db"
        enroll_station(a, hub, tc, "ZB01")
        ledger.create_request(a, request_input(1, 1))
        with exclusive(Path(str(a) + C.SYNC_LOCK_SUFFIX), AssertionError) as held:  # a sync is running
            assert held
            with pytest.raises(SyncError) as ei:  # used to push the same rows and count them again
                C.run_sync(a, http=tc, sleep=lambda s: None)
            assert ei.value.code == "sync_running" and ei.value.exit_code == 1
            assert "本站另一同步正在进行" in ei.value.message
        res = C.run_sync(a, http=tc, sleep=lambda s: None)  # once it finished: this one runs
        assert res["pushed"] >= 1 and res["pending"] == 0
    finally:
        tc.close()
        dispose_all()
        hub.dispose()
