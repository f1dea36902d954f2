"""Outside attacker's findings (not sync): generate's sizes and seeds, every bad field at once, county
codes named, backup over restore's safety copy, report months, list/demo/hub odds and ends."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from qi_station.core.errors import ValidationError, every_error

NOW = datetime(2026, 5, 1, 9, 0)


def test_generate_has_an_upper_limit_and_reports_both_sizes() -> None:
    from qi_station.devtools.generate.run import MAX_LIBRARY, MAX_REQUESTS, check_sizes

    with pytest.raises(ValidationError) as ei:
        check_sizes(MAX_REQUESTS + 1, MAX_LIBRARY + 1)
    assert [(e.field, e.rule) for e in every_error(ei.value)] == [
        ("--requests", "range"),
        ("--library", "range"),
    ]
    with pytest.raises(ValidationError) as ei:
        check_sizes(0, 0)
    assert ei.value.rule == "range"
    check_sizes(MAX_REQUESTS, MAX_LIBRARY)  # the limits themselves are fine


def test_generate_requests_0_does_not_silently_swallow_a_later_run(tmp_path: Path) -> None:
    from qi_station.devtools.generate.run import generate

    db = tmp_path / "g.db"
    first = generate(db, requests=0, library=20, seed=4, now=NOW)
    assert not first.get("skipped")
    with pytest.raises(ValidationError) as ei:  # used to answer "skipped" and do nothing
        generate(db, requests=50, library=20, seed=4, now=NOW)
    assert ei.value.field == "--seed" and "another --seed" in ei.value.message
    assert generate(db, requests=0, library=20, seed=4, now=NOW)["skipped"]  # the same run again: a no-op
    assert generate(db, requests=50, library=20, seed=5, now=NOW)["requests"] == 50


# ---- 4. --force replaces only what qi-station wrote (a real marker) ----------------------------
def test_force_does_not_take_a_users_xlsx_or_json_for_a_report(tmp_path: Path) -> None:
    import json

    from openpyxl import Workbook

    from qi_station.reports.writers import is_report_file, mark_workbook, render_json

    mine = tmp_path / "mine.xlsx"
    wb = Workbook()
    wb.active.title = "概览"  # the report's sheet name, in a user's own workbook
    wb.save(mine)
    assert not is_report_file(mine)
    theirs = tmp_path / "theirs.json"
    theirs.write_text(json.dumps({"month": "2026-01", "station": "x", "budget": 1}), encoding="utf-8")
    assert not is_report_file(theirs)
    ours = tmp_path / "ours.json"
    ours.write_text(render_json({"month": "2026-01", "station": {"code": "X"}}), encoding="utf-8")
    assert is_report_file(ours)
    wb2 = Workbook(write_only=True)
    mark_workbook(wb2)
    wb2.create_sheet("whatever").append([1])
    wb2.save(tmp_path / "ours.xlsx")
    assert is_report_file(tmp_path / "ours.xlsx")


# ---- 6. every bad field at once --------------------------------------------------------------
def test_request_add_reports_received_at_and_promised_together() -> None:
    from qi_station.services.ledger import RequestInput, check_request

    with pytest.raises(ValidationError) as ei:
        check_request(
            RequestInput(
                enterprise="测试",
                uscc="91350100M000100Y43",
                elements="standards",
                title="x",
                received_at="garbage",
                promised="garbage2",
            )
        )
    assert [e.field for e in every_error(ei.value)] == ["received_at", "promised"]


def test_import_row_reports_every_bad_field() -> None:
    from qi_station.services.importer.rows import check_row

    cells = {
        "received_at": "2026-03-01",
        "enterprise": "测试",
        "uscc": "bad",
        "elements": "nope",
        "title": "",
    }
    _plan, errs = check_row(cells, 2, "k", NOW, None)
    assert [e.field for e in errs] == ["uscc", "elements", "title"]


# ---- 7. a county code given as a city -----------------------------------------------------------
def test_city_filter_names_a_county_code_and_its_city() -> None:
    from qi_station.core.validate import check_city

    with pytest.raises(ValidationError) as ei:
        check_city("370116")
    assert ei.value.rule == "city" and "county" in ei.value.message and "370100" in ei.value.message
    assert "济南" in ei.value.message
    assert check_city("370800") == "370800"


# ---- 8. backup --force never over restore's safety copy -----------------------------------------
def test_backup_force_refuses_restores_safety_copy(tmp_path: Path) -> None:
    from qi_station.db.engine import open_db
    from qi_station.services.backup import backup_db, restore_db
    from qi_station.services.station import init_station

    db = tmp_path / "st.db"
    init_station(open_db(db), code="JN0001")
    b = backup_db(db, tmp_path / "b.db")
    kept, _ = restore_db(b, db)
    assert kept is not None and kept.name == "st.db.before-restore"
    before = kept.read_bytes()
    for target in (kept, tmp_path / "st.db.before-restore.3"):
        if not target.exists():
            target.write_bytes(before)
        with pytest.raises(ValidationError) as ei:
            backup_db(db, target, force=True)
        assert ei.value.rule == "safety_copy"
    assert kept.read_bytes() == before
    backup_db(db, b, force=True)  # an ordinary older backup is still replaced


# ---- 9. report months within the data ----------------------------------------------------------
def test_report_month_after_now_or_before_the_data_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qi_station.db.engine import open_db
    from qi_station.devtools.demo import load_demo
    from qi_station.reports.figures import monthly_report

    monkeypatch.setenv("QI_STATION_NOW", "2026-05-10T10:00:00+08:00")
    db = open_db(tmp_path / "d.db")
    load_demo(db, requests=60, today=NOW.date())
    for month in ("2099-01", "2026-06", "1999-01", "2024-01"):
        with pytest.raises(ValidationError) as ei:
            monthly_report(db, month)
        assert (ei.value.field, ei.value.rule) == ("month", "range"), month
    assert monthly_report(db, "2026-05")["month"] == "2026-05"  # this month
    assert monthly_report(db, "2025-06")["month"] == "2025-06"  # within the demo's 12 months


# ---- 10. odds and ends ---------------------------------------------------------------------------
def test_request_list_refuses_an_empty_status_and_names_every_bad_one(tmp_path: Path) -> None:
    from qi_station.db.engine import open_db
    from qi_station.services.queries import list_requests
    from qi_station.services.station import init_station

    db = tmp_path / "s.db"
    init_station(open_db(db), code="JN0001")
    for empty in ("", " , "):
        with pytest.raises(ValidationError) as ei:
            list_requests(db, status=empty)
        assert ei.value.rule == "required"
    with pytest.raises(ValidationError) as ei:
        list_requests(db, status="foo,new,bar")
    assert [e.message.split("'")[1] for e in every_error(ei.value)] == ["foo", "bar"]


def test_hub_add_station_refuses_an_empty_name(tmp_path: Path) -> None:
    from qi_station.sync.hub.store import Hub

    hub = Hub(f"sqlite:///{tmp_path / 'hub.db'}")
    hub.init(demo=False)
    with pytest.raises(ValidationError) as ei:
        hub.add_station("ZZ01", "  ")
    assert ei.value.field == "name"
    assert "ZZ01" not in {s["code"] for s in hub.stations()}
    hub.dispose()


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    import os
    import sys

    env = {**os.environ, "QI_STATION_DB": str(tmp_path / "c.db"), "QI_STATION_LANG": "en"}
    return subprocess.run(
        [sys.executable, "-m", "qi_station", *args], capture_output=True, text=True, env=env, encoding="utf-8"
    )


def test_demo_remove_with_nothing_left_says_so_and_hub_stations_show_local_times(tmp_path: Path) -> None:
    assert _cli(["init", "--station-code", "JN0001"], tmp_path).returncode == 0
    p = _cli(["demo", "remove"], tmp_path)
    assert p.returncode == 0 and "no demo data to remove" in p.stdout
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert _cli(["hub", "init", "--database-url", url], tmp_path).returncode == 0
    assert (
        _cli(["hub", "add-station", "ZB01", "--name", "淄博站", "--database-url", url], tmp_path).returncode
        == 0
    )
    from qi_station.sync.hub.store import Hub

    hub = Hub(url)
    import sqlalchemy as sa

    from qi_station.sync.hub.tables import hub_tables

    t = hub_tables()["hub_station"]
    with hub.engine.begin() as c:
        c.execute(sa.update(t).values(last_seen=datetime(2026, 5, 1, 1, 2, 3)))
    hub.dispose()
    p = _cli(["hub", "stations", "--database-url", url], tmp_path)
    assert p.returncode == 0 and "seen 2026-05-01 09:02 " in p.stdout, p.stdout  # as request show
    p = _cli(["hub", "add-station", "ZB02", "--name", "", "--database-url", url], tmp_path)
    assert p.returncode == 2 and "name" in p.stderr
