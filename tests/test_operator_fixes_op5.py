"""An operator tester's CLI stumbles, fixed in the core and services (so the TUI gets them too): each
test here fails without its fix."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_reports import uscc

NOW = "2026-12-01T10:00:00+08:00"


@pytest.fixture
def station(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station

    monkeypatch.setenv("QI_STATION_NOW", NOW)
    path = tmp_path / "station.db"
    open_db(path)
    init_station(path, code="QI0001", name="测试工作站", region_code="370100")
    return path


def cli(db: Path, *args: str, code: int = 0) -> Any:
    from typer.testing import CliRunner

    from qi_station.cli.commands import app

    out = CliRunner().invoke(app, ["--db", str(db), *args])
    assert out.exit_code == code, out.output
    return out


def _request(db: Path, contact: str | None, phone: str | None, at: str = "2026-12-01T09:00:00+08:00") -> None:
    from qi_station.services import ledger

    ledger.create_request(
        db,
        ledger.RequestInput(
            "济南信鑫制药有限公司",
            uscc("370126", "890457693"),
            "计量",
            "仪器校准",
            received_at=at,
            contact=contact,
            phone=phone,
        ),
    )


def _stored(db: Path) -> tuple[Any, Any]:
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT contact_name, phone_display FROM enterprise").fetchone()
    conn.close()
    return row[0], row[1]


# ---- 1. a phone without a name never takes the stored contact's name ------------------------------------


def test_a_phone_without_a_contact_leaves_the_stored_pair(station: Path) -> None:
    _request(station, "钟伟晨", "13800000000")
    _request(station, None, "0634-6123456", "2026-12-01T09:10:00+08:00")
    assert _stored(station) == ("钟伟晨", "138 0000 0000")  # not 钟伟晨 with someone else's number
    conn = sqlite3.connect(station)
    phones = [r[0] for r in conn.execute("SELECT phone_display FROM request ORDER BY received_at")]
    conn.close()
    assert phones == ["138 0000 0000", "0531 7612 3456"]  # the request keeps its own (莱芜 0634 → 0531 76)
    _request(station, "李娜", None, "2026-12-01T09:20:00+08:00")  # nor a name with someone else's phone
    assert _stored(station) == ("钟伟晨", "138 0000 0000")
    _request(station, "李娜", "13900000000", "2026-12-01T09:30:00+08:00")  # a whole pair replaces it
    assert _stored(station) == ("李娜", "139 0000 0000")


def test_half_a_pair_fills_an_enterprise_that_lacks_the_other_half(station: Path) -> None:
    _request(station, None, "13800000000")
    _request(station, None, "13900000000", "2026-12-01T09:10:00+08:00")  # an unnamed contact: new phone
    assert _stored(station) == (None, "139 0000 0000")


# ---- 2. one syntax of an operator's date and time: the CLI's time options read what the importer reads ----


TYPED = {
    "2026年12月1日": "2026-12-01 00:00",
    "2026-12-01 9点": "2026-12-01 09:00",
    "2026年12月1日 9点30": "2026-12-01 09:30",
    "2026年12月1日9点30分": "2026-12-01 09:30",
    "2026/12/1 9点半": "2026-12-01 09:30",
    "２０２６年１２月１日 ９：００": "2026-12-01 09:00",
}


def test_typed_and_spreadsheet_times_share_one_syntax(station: Path) -> None:
    from qi_station.core.clock import local_minutes, parse_datetime, parse_sheet_time, to_db

    for text, want in TYPED.items():
        at = parse_datetime(text)
        assert local_minutes(to_db(at)) == want, text
        assert parse_sheet_time(text, "received_at")[0] == at, text
    assert local_minutes(to_db(parse_datetime("12月1日 9:00"))) == "2026-12-01 09:00"  # this year
    assert local_minutes(to_db(parse_datetime("9点"))) == "2026-12-01 09:00"  # today


def test_request_add_takes_chinese_received_times_and_names_the_field(station: Path) -> None:
    base = ["request", "add", "--enterprise", "济南信鑫制药有限公司", "--uscc", uscc("370126", "890457693")]
    base += ["--elements", "计量", "--title", "仪器校准"]
    for text in ("2026年12月1日", "12月1日 9:00", "2026-12-01 9点"):
        cli(station, *base, "--received-at", text)
    conn = sqlite3.connect(station)
    n = conn.execute("SELECT count(*) FROM request").fetchone()[0]
    conn.close()
    assert n == 3
    bad = cli(station, *base, "--received-at", "12月19点", code=2)
    assert "received_at" in bad.output or "收到" in bad.output


# ---- 3. enterprise show: the USCC as request add reads it, the name or a former name, 未填 -------------


def test_enterprise_show_finds_a_full_width_uscc_a_name_and_a_former_name(station: Path) -> None:
    from qi_station.services import ledger

    code = uscc("370211", "MA3X77777")
    wide = code.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
    ledger.create_request(
        station,
        ledger.RequestInput("青岛示例有限公司", wide, "计量", "校准", received_at=NOW, phone="400 123 4567"),
    )
    ledger.create_request(
        station,
        ledger.RequestInput("青岛新示例有限公司", code, "计量", "校准", received_at=NOW, renamed=True),
    )
    for key in (wide, code.lower(), "青岛新示例有限公司", "青岛示例有限公司", " 青岛新示例 有限公司"):
        out = cli(station, "enterprise", "show", key).output
        assert out.startswith(f"青岛新示例有限公司  {code}"), key
    assert "联系人: 未填  400 123 4567" in out  # as request show: the phone is not a name
    en = cli(station, "--lang", "en", "enterprise", "show", code).output
    assert "contact: (not given)  400 123 4567" in en
    cli(station, "enterprise", "show", "青岛", code=2)  # a part of a name is not a name


def test_a_name_two_enterprises_have_is_refused_naming_their_usccs(station: Path) -> None:
    from qi_station.core.errors import ValidationError
    from qi_station.services import enterprises, ledger

    a, b = uscc("370211", "MA3X77771"), uscc("370211", "MA3X77772")
    for code in (a, b):
        ledger.create_request(
            station, ledger.RequestInput("青岛同名有限公司", code, "计量", "校准", received_at=NOW)
        )
    with pytest.raises(ValidationError) as e:
        enterprises.get_enterprise(station, "青岛同名有限公司")
    assert e.value.field == "enterprise" and a in e.value.message and b in e.value.message


# ---- 4. a bundle brought to a station that never enrolled: not_enrolled and the next step --------------


def test_import_bundle_on_a_station_never_enrolled_says_so_and_the_next_step(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qi_station.cli.commands import app
    from qi_station.db.session import dispose_all

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, list(args))

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    down = tmp_path / "down.zip"
    try:
        assert run("hub", "init", "--database-url", url).exit_code == 0
        assert run("hub", "add-station", "ZB01", "--name", "淄博站", "--database-url", url).exit_code == 0
        made = run("hub", "export-bundle", "--station", "ZB01", "--out", str(down), "--database-url", url)
        assert made.exit_code == 0, made.output
        db = tmp_path / "fresh.db"
        assert run("--db", str(db), "init", "--station-code", "ZB01").exit_code == 0, "init"
        got = run("--db", str(db), "sync", "import-bundle", str(down))
    finally:
        dispose_all()
    assert got.exit_code != 0
    assert "[not_enrolled]" in got.output and "qi-station sync enroll --token" in got.output, got.output
    assert "bad_signature" not in got.output


# ---- 5. times for people as request show gives them (YYYY-MM-DD HH:MM), ISO kept in --json ------------


def test_sync_status_hub_stations_and_the_markdown_details_show_times_as_request_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    from test_sync_util import request_input
    from typer.testing import CliRunner

    from qi_station.cli.commands import app
    from qi_station.db.session import dispose_all
    from qi_station.services import ledger

    def run(*args: str) -> str:
        res = CliRunner().invoke(app, list(args))
        assert res.exit_code == 0, res.output
        return res.output

    iso = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
    shown = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(?!:)")
    monkeypatch.setenv("QI_STATION_NOW", NOW)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    db = tmp_path / "st.db"
    up, down, md = tmp_path / "up.zip", tmp_path / "down.zip", tmp_path / "r.md"
    try:
        run("hub", "init", "--database-url", url)
        token = run("hub", "add-station", "ZB01", "--name", "淄博站", "--database-url", url).splitlines()[-1]
        run("--db", str(db), "sync", "enroll", "--token", token)
        ledger.create_request(db, request_input(1, 1))
        run("--db", str(db), "sync", "export-bundle", "--out", str(up))
        run("hub", "import-bundle", str(up), "--database-url", url)
        run("hub", "export-bundle", "--station", "ZB01", "--out", str(down), "--database-url", url)
        run("--db", str(db), "sync", "import-bundle", str(down))
        status = run("--db", str(db), "sync", "status")
        stations = run("hub", "stations", "--database-url", url)
        st_json = json.loads(run("--db", str(db), "sync", "status", "--json"))
        hub_json = json.loads(run("hub", "stations", "--json", "--database-url", url))
        run("--db", str(db), "report", "monthly", "--month", "2026-12", "--format", "md", "--out", str(md))
    finally:
        dispose_all()
    last = next(line for line in status.splitlines() if line.startswith("上次成功同步"))
    assert shown.search(last) and not iso.search(last), status
    seen = next(line for line in stations.splitlines() if line.startswith("ZB01"))
    assert shown.search(seen) and not iso.search(seen), stations
    assert iso.search(st_json["last_success"]) and iso.search(hub_json[0]["last_seen"])  # JSON keeps ISO
    details = md.read_text(encoding="utf-8").split("## 明细", 1)[1]
    assert shown.search(details) and not iso.search(details), details


# ---- 6. activity list labels its counts --------------------------------------------------------------


def test_activity_list_labels_the_enterprises_and_people_reached(station: Path) -> None:
    args = [
        "--kind",
        "visit",
        "--date",
        "2026-12-01",
        "--enterprises",
        "3",
        "--people",
        "12",
        "--title",
        "走访",
    ]
    cli(station, "activity", "add", *args)
    assert "覆盖企业数 3  覆盖人数 12" in cli(station, "activity", "list").stdout
    assert "Enterprises 3  People 12" in cli(station, "--lang", "en", "activity", "list").stdout
