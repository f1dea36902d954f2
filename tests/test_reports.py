"""Monthly reports: a fixture ledger with hand-computed figures, every output format, the hub report.

The fixture (station QI0001, report month 2026-01, Asia/Shanghai month edges):

=====  ==================================  =========  ==============================================
req    received                            elements   history
=====  ==================================  =========  ==============================================
R1     2026-01-31 23:30 +08:00 (Jan!)      计量+标准  new (open, promised 02-13: 10 working days)
R2     2026-01-31 16:30Z = 02-01 00:30 +08 检验检测   new -> counts in February
R3     2026-01-05 10:00 +08:00             标准       accepted 01-05 12:00 (2 h), in_progress, resolved
                                                      01-10 10:00 (5 d, 2 problems, 1.50 万元),
                                                      closed 01-20 rating 4
R4     2026-01-08 09:00 +08:00             计量       cancelled 01-09
R5     2025-12-20 09:00 +08:00 (Dec)       认证认可   accepted 12-20 10:00, in_progress, resolved 12-28
                                                      (1, 0.50), reopened 01-03, resolved 01-15 09:00
                                                      (3, 2.00), closed 01-25 rating 2
R6     2026-01-10 09:00 +08:00             计量       accepted 01-11 09:00 (24 h), in_progress,
                                                      resolved 01-20 09:00 (10 d, 0, 0.00), unrated
R7     2025-12-01 09:00 +08:00 (Dec, ent B) 标准      accepted 12-02; open, promised 12-15 -> overdue
R8     2026-01-20 09:00 +08:00 (ent B)     品牌建设   urgent, promised 01-23 (3 working days), open -> overdue
R9     2026-02-03 09:00 +08:00             标准       after the month: not in January at all
=====  ==================================  =========  ==============================================
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from qi_station.core.validate import uscc_check_char

MONTH = "2026-01"


def uscc(region: str, serial: str) -> str:
    body = f"91{region}{serial}"
    assert len(body) == 17
    return body + uscc_check_char(body)


ENT_A = ("济南甲科技有限公司", uscc("370100", "MA3C00001"))
ENT_B = ("青岛乙制造有限公司", uscc("370200", "MA3C00002"))
ENT_C = ("烟台丙食品有限公司", uscc("370600", "MA3C00003"))


def _req(
    db: Path,
    ent: tuple[str, str],
    elements: str,
    received: str,
    channel: str = "walk_in",
    urgency: str = "normal",
    title: str = "需求",
) -> str:
    from qi_station.services import ledger

    r = ledger.create_request(
        db,
        ledger.RequestInput(
            enterprise=ent[0],
            uscc=ent[1],
            elements=elements,
            title=title,
            channel=channel,
            urgency=urgency,
            received_at=received,
        ),
    )
    return str(r["number"])


def _mv(db: Path, key: str, to: str, at: str, **kw: Any) -> None:
    from qi_station.services import ledger

    ledger.move_request(db, key, to, at=at, **kw)


def build_ledger(
    db: Path, code: str = "QI0001", region: str = "370100", name: str = "测试工作站"
) -> dict[str, str]:
    """The fixture ledger above; returns request numbers by label."""
    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station

    open_db(db)
    init_station(db, code=code, name=name, region_code=region)
    n: dict[str, str] = {}
    n["R1"] = _req(db, ENT_A, "计量,标准", "2026-01-31T23:30:00+08:00", channel="phone")
    n["R2"] = _req(db, ENT_A, "检验检测", "2026-01-31T16:30:00Z", channel="phone")
    n["R3"] = _req(db, ENT_C, "标准", "2026-01-05T10:00:00+08:00", channel="visit")
    _mv(db, n["R3"], "accepted", "2026-01-05T12:00:00+08:00")
    _mv(db, n["R3"], "in_progress", "2026-01-06T09:00:00+08:00")
    _mv(
        db,
        n["R3"],
        "resolved",
        "2026-01-10T10:00:00+08:00",
        result="已办结",
        problems_solved=2,
        cost_saved="1.50",
    )
    _mv(db, n["R3"], "closed", "2026-01-20T10:00:00+08:00", satisfaction=4)
    n["R4"] = _req(db, ENT_C, "计量", "2026-01-08T09:00:00+08:00")
    _mv(db, n["R4"], "cancelled", "2026-01-09T09:00:00+08:00", note="企业撤回")
    n["R5"] = _req(db, ENT_A, "认证认可", "2025-12-20T09:00:00+08:00")
    _mv(db, n["R5"], "accepted", "2025-12-20T10:00:00+08:00")
    _mv(db, n["R5"], "in_progress", "2025-12-21T09:00:00+08:00")
    _mv(
        db,
        n["R5"],
        "resolved",
        "2025-12-28T09:00:00+08:00",
        result="初次办结",
        problems_solved=1,
        cost_saved="0.50",
    )
    _mv(db, n["R5"], "in_progress", "2026-01-03T09:00:00+08:00")
    _mv(
        db,
        n["R5"],
        "resolved",
        "2026-01-15T09:00:00+08:00",
        result="再次办结",
        problems_solved=3,
        cost_saved="2.00",
    )
    _mv(db, n["R5"], "closed", "2026-01-25T09:00:00+08:00", satisfaction=2)
    n["R6"] = _req(db, ENT_C, "计量", "2026-01-10T09:00:00+08:00", channel="online")
    _mv(db, n["R6"], "accepted", "2026-01-11T09:00:00+08:00")
    _mv(db, n["R6"], "in_progress", "2026-01-12T09:00:00+08:00")
    _mv(db, n["R6"], "resolved", "2026-01-20T09:00:00+08:00", result="已办结", problems_solved=0)
    n["R7"] = _req(db, ENT_B, "标准", "2025-12-01T09:00:00+08:00")
    _mv(db, n["R7"], "accepted", "2025-12-02T09:00:00+08:00")
    n["R8"] = _req(db, ENT_B, "品牌建设", "2026-01-20T09:00:00+08:00", urgency="urgent")
    n["R9"] = _req(db, ENT_C, "标准", "2026-02-03T09:00:00+08:00")
    _add_referrals(db, n)
    return n


def _add_referrals(db: Path, n: dict[str, str]) -> None:
    """Two experts and one institution; four referrals in January, one in February."""
    import sqlite3

    from qi_station.services import ledger

    con = sqlite3.connect(db)
    with con:
        for i, nm in (("exp-1", "张工"), ("exp-2", "李工")):
            con.execute(
                "INSERT INTO expert (id, name, name_py, name_initials, haystack, elements, rev, seq, deleted,"
                " active_requests, updated_at) VALUES (?, ?, '', '', ?, '[]', 1, 0, 0, 0, '2025-01-01 00:00:00.000000')",
                (i, nm, nm),
            )
        con.execute(
            "INSERT INTO institution (id, name, name_py, name_initials, haystack, elements, rev, seq, deleted,"
            " updated_at) VALUES ('ins-1', '山东计量院', '', '', '山东计量院', '[]', 1, 0, 0, '2025-01-01 00:00:00.000000')"
        )
    con.close()
    jan = "2026-01-31T23:45:00+08:00"  # still January in Shanghai, after every January receipt
    ledger.refer_request(db, n["R1"], "expert", "exp-1", at=jan)
    ledger.refer_request(db, n["R8"], "expert", "exp-1", at="2026-01-21T10:00:00+08:00")
    ledger.refer_request(db, n["R8"], "expert", "exp-2", at="2026-01-21T10:00:00+08:00")
    ledger.refer_request(db, n["R7"], "institution", "ins-1", at="2026-01-21T10:00:00+08:00")
    ledger.refer_request(db, n["R9"], "expert", "exp-2", at="2026-02-05T10:00:00+08:00")


@pytest.fixture(scope="module")
def ledger_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    os.environ["QI_STATION_OPERATOR"] = "测试员"
    db = tmp_path_factory.mktemp("reports") / "station.db"
    return db, build_ledger(db)


@pytest.fixture(scope="module")
def report(ledger_db: tuple[Path, dict[str, str]]) -> dict[str, Any]:
    from qi_station.reports.figures import monthly_report

    return monthly_report(ledger_db[0], MONTH)


# ---- the hand-computed figures --------------------------------------------------------------------
EXPECTED: dict[str, Any] = {
    "month": "2026-01",
    "station": {"code": "QI0001", "name": "测试工作站"},
    "received": 5,  # R1 R3 R4 R6 R8 (R2 is February)
    "accepted": 2,  # R3 R6
    "resolved": 3,  # R3 R5 (again, after the reopen) R6
    "closed": 2,  # R3 R5
    "cancelled": 1,  # R4
    "open_at_end": 3,  # R1 (new) R7 (accepted) R8 (referred); R2 and R9 are later
    "overdue_at_end": 2,  # R7 (promised 2025-12-15), R8 (2026-01-23); R1 is promised 02-13
    "enterprises_served": 3,  # A (R1) C (R3 R4 R6) B (R8)
    "new_enterprises": 1,  # C; A (R5) and B (R7) first came in December
    "by_element": {"standards": 2, "metrology": 3, "brand": 1},
    "by_channel": {"visit": 1, "walk_in": 2, "phone": 1, "online": 1},
    "by_city": {"370100": 1, "370200": 1, "370600": 3},
    "problems_solved": 5,  # R3 2 + R5 3 (its January resolution) + R6 0
    "cost_saved_wan": 3.5,  # 1.50 + 2.00 + 0.00
    "satisfaction": {"rated": 2, "satisfied": 1, "rate": 0.5},
    "referrals": {
        "counts": {"expert": 3, "institution": 1, "equipment": 0, "project": 0},
        "top": {
            "expert": [
                {"id": "exp-1", "name": "张工", "count": 2},
                {"id": "exp-2", "name": "李工", "count": 1},
            ],
            "institution": [{"id": "ins-1", "name": "山东计量院", "count": 1}],
            "equipment": [],
            "project": [],
        },
    },
    "median_hours_to_accept": 13.0,  # R3 2 h, R6 24 h (R5 was first accepted in December)
    "median_days_to_resolve": 10.0,  # R3 5 d, R6 10 d, R5 26 d (12-20 09:00 -> 01-15 09:00)
    # working days after the day of receipt up to the resolution day (元旦 01-01..03 off, Sun 01-04 worked):
    # R3 Mon 01-05 -> Sat 01-10: 01-06..09 = 4; R6 Sat 01-10 -> Tue 01-20: 01-12..16, 19, 20 = 7;
    # R5 Sat 12-20 -> Thu 01-15: 12-22..26, 29..31, 01-04, 01-05..09, 01-12..15 = 5+3+1+5+4 = 18
    "median_workdays_to_resolve": 7.0,
    "workdays_unknown": 0,
}


def test_detail_days_in_calendar_and_working_days(
    ledger_db: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qi_station.reports.figures import monthly_report

    monkeypatch.setenv("QI_STATION_NOW", "2026-02-02T10:00:00+08:00")
    db, n = ledger_db
    rows = {d["number"]: d for d in monthly_report(db, MONTH)["details"]}
    keys = ("promised_date", "days_taken", "workdays_taken", "overdue_days", "overdue_workdays")
    # R8: urgent, received Tue 01-20, promised Fri 01-23 (3 working days); open on Mon 02-02:
    # 13 days since receipt, 9 working days (01-21..23, 01-26..30, 02-02); overdue 10 days, 6 working
    assert tuple(rows[n["R8"]][k] for k in keys) == ("2026-01-23", 13, 9, 10, 6)
    # R3: resolved Sat 01-10, 5 days / 4 working days after Mon 01-05; never overdue
    assert tuple(rows[n["R3"]][k] for k in keys)[1:] == (5, 4, None, None)
    # R4: cancelled without a resolution: no time taken
    assert rows[n["R4"]]["days_taken"] is None and rows[n["R4"]]["workdays_taken"] is None


def test_every_json_figure(report: dict[str, Any]) -> None:
    for key, want in EXPECTED.items():
        assert report[key] == want, key


def test_year_to_date_and_change(report: dict[str, Any]) -> None:
    ytd = report["year_to_date"]
    # January is the first month of the year: year to date equals the month
    for k in ("received", "accepted", "resolved", "closed", "cancelled", "problems_solved", "cost_saved_wan"):
        assert ytd[k] == report[k], k
    assert ytd["rated"] == 2 and ytd["satisfied"] == 1 and ytd["satisfaction_rate"] == 0.5
    ch = report["change"]
    assert ch["previous_month"] == "2025-12"
    # December: received R5 R7; accepted R5 R7; resolved R5 (1 problem, 0.50); open at end R7 (R5 resolved)
    assert ch["received"] == {"previous": 2, "delta": 3, "pct": 150.0}
    assert ch["accepted"]["previous"] == 2
    assert ch["resolved"]["previous"] == 1
    assert ch["closed"] == {"previous": 0, "delta": 2, "pct": None}
    assert ch["open_at_end"]["previous"] == 1
    assert ch["overdue_at_end"]["previous"] == 1  # R7 promised 12-16
    assert ch["problems_solved"]["previous"] == 1
    assert ch["cost_saved_wan"] == {"previous": 0.5, "delta": 3.0, "pct": 600.0}
    series = report["series"]
    assert len(series) == 12 and series[-1]["month"] == MONTH and series[0]["month"] == "2025-02"
    assert series[-1]["received"] == 5 and series[-2]["received"] == 2
    assert series[-1]["open_at_end"] == 3 and series[-2]["open_at_end"] == 1
    assert all(s["received"] == 0 for s in series[:-2])


def test_details_complete(report: dict[str, Any], ledger_db: tuple[Path, dict[str, str]]) -> None:
    n = ledger_db[1]
    numbers = {d["number"] for d in report["details"]}
    # received in January, or any event in January (R5 reopened, R7 and R8 referred)
    assert numbers == {n[k] for k in ("R1", "R3", "R4", "R5", "R6", "R7", "R8")}
    r1 = next(d for d in report["details"] if d["number"] == n["R1"])
    assert r1["received_at"] == "2026-01-31T23:30:00+08:00"
    assert r1["elements"] == ["metrology", "standards"]
    assert r1["received_in_month"] is True
    r5 = next(d for d in report["details"] if d["number"] == n["R5"])
    assert r5["received_in_month"] is False and r5["cost_saved_wan"] == 2.0 and r5["satisfaction"] == 2
    # its events in January: reopened 01-03, resolved 01-15, closed 01-25 (the December ones not counted)
    assert r5["events_in_month"] == 3


def test_february_edges(ledger_db: tuple[Path, dict[str, str]]) -> None:
    from qi_station.reports.figures import monthly_report

    feb = monthly_report(ledger_db[0], "2026-02")
    assert feb["received"] == 2  # R2 (16:30Z on Jan 31) and R9
    assert feb["open_at_end"] == 5  # R1 R7 R8 + R2 R9
    assert feb["year_to_date"]["received"] == 7
    assert feb["referrals"]["counts"]["expert"] == 1
    assert feb["satisfaction"] == {"rated": 0, "satisfied": 0, "rate": None}
    assert feb["median_days_to_resolve"] is None


# ---- writers ---------------------------------------------------------------------------------------
def test_json_writer_roundtrip(report: dict[str, Any], tmp_path: Path) -> None:
    from qi_station.reports.writers import write_report

    out = tmp_path / "r.json"
    write_report(report, "json", out)
    back = json.loads(out.read_text(encoding="utf-8"))
    for key, want in EXPECTED.items():
        assert back[key] == want, key
    assert len(back["details"]) == len(report["details"])


def test_xlsx_read_back(report: dict[str, Any], tmp_path: Path) -> None:
    import openpyxl

    from qi_station.reports.writers import write_report

    out = tmp_path / "r.xlsx"
    write_report(report, "xlsx", out, lang="zh")
    assert not list(tmp_path.glob("*.tmp*"))
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["概览", "分类", "整改", "指标", "明细"]
    ov = wb["概览"]
    values = {r[0]: r[1] for r in ov.iter_rows(min_row=1, max_col=2, values_only=True) if r[0]}
    assert values["登记需求数"] == 5
    assert values["办结数"] == 3
    assert values["月末未办结数"] == 3
    assert values["节约成本（万元）"] == 3.5
    assert values["满意率"] == 0.5
    assert len(ov._charts) == 1  # the native 12-month chart
    cat = wb["分类"]
    cat_rows = [r for r in cat.iter_rows(values_only=True) if any(v is not None for v in r)]
    assert ("服务要素", "计量", 3) in [tuple(r[:3]) for r in cat_rows]
    det = wb["明细"]
    rows = list(det.iter_rows(values_only=True))
    assert rows[0][0] == "编号"
    assert len(rows) - 1 == len(report["details"])
    numbers = {r[0] for r in rows[1:]}
    assert numbers == {d["number"] for d in report["details"]}


def test_xlsx_english_headers(report: dict[str, Any], tmp_path: Path) -> None:
    import openpyxl

    from qi_station.reports.writers import write_report

    out = tmp_path / "r-en.xlsx"
    write_report(report, "xlsx", out, lang="en")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Overview", "Breakdowns", "Rectification", "Indicators", "Details"]
    assert next(wb["Details"].iter_rows(values_only=True))[0] == "Number"


def test_csv_bom_and_rows(report: dict[str, Any], tmp_path: Path) -> None:
    from qi_station.reports.writers import write_report

    out = tmp_path / "r.csv"
    write_report(report, "csv", out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    flat = {r[0]: r[1] for r in rows if len(r) >= 2}
    assert flat["登记需求数"] == "5"
    header = rows.index(next(r for r in rows if r and r[0] == "编号"))
    assert len([r for r in rows[header + 1 :] if r]) == len(report["details"])


def test_markdown(report: dict[str, Any]) -> None:
    from qi_station.reports.writers import render_markdown

    md = render_markdown(report)
    assert md.startswith("# ")
    assert "| 登记需求数 | 5 |" in md
    assert "| 计量 | 3 |" in md
    for d in report["details"]:
        assert d["number"] in md
    assert "\r" not in md


def test_csv_and_markdown_neutralise_stored_control_characters(
    report: dict[str, Any], tmp_path: Path
) -> None:
    """Stored text with ESC/BEL (a hub note, an old ledger) is written as U+FFFD in csv and md: never raw
    bytes a terminal or a spreadsheet would act on."""
    import copy

    from qi_station.reports.writers import render_markdown, write_report

    rep = copy.deepcopy(report)
    rep["details"][0]["enterprise_name"] = "\x1b]0;PWNED\x07\x1b[2J"
    rep["details"][1]["enterprise_name"] = "a\x07b\udcff"
    out = write_report(rep, "csv", tmp_path / "r.csv")
    text = out.read_text(encoding="utf-8-sig")
    md = render_markdown(rep)
    for got in (text, md):
        assert "\x1b" not in got and "\x07" not in got and "\udcff" not in got
        assert "\ufffd]0;PWNED\ufffd\ufffd[2J" in got and "a\ufffdb\ufffd" in got


# ---- CLI ---------------------------------------------------------------------------------------------
def _cli(args: list[str], db: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys, typer\n"
        "from qi_station.cli.kit import OPTS\n"
        "from qi_station.cli.report import report_app, hub_report_app\n"
        f"OPTS.db = __import__('pathlib').Path({str(db)!r})\n"
        "app = typer.Typer()\n"
        "app.add_typer(report_app, name='report')\n"
        "app.add_typer(hub_report_app, name='hub-report')\n"
        "rc = app(sys.argv[1:], standalone_mode=False)\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')]\n"
        "sys.stderr.write('TEXTUAL:' + ','.join(bad) + '\\n')\n"
        "sys.exit(rc if isinstance(rc, int) else 0)\n"
    )
    env = {**os.environ, "QI_STATION_OPERATOR": "测试员"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_cli_never_imports_textual(ledger_db: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    p = _cli(["report", "monthly", "--month", MONTH, "--format", "json"], ledger_db[0], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "TEXTUAL:\n" in p.stderr  # nothing from textual was imported
    data = json.loads(p.stdout)
    assert data["received"] == 5


def test_cli_default_xlsx_name(ledger_db: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """No --out: the default name in the export folder (documents/qi-station, created on demand), never
    the folder the command was started in; the full path is printed."""
    p = _cli(["report", "monthly", "--month", MONTH], ledger_db[0], tmp_path)
    assert p.returncode == 0, p.stderr
    out = Path(os.environ["XDG_DOCUMENTS_DIR"]) / "qi-station" / "qi-report-QI0001-2026-01.xlsx"
    assert out.is_file()
    assert p.stdout.strip() == str(out)
    assert not list(tmp_path.glob("qi-report-*"))


def test_cli_bad_month(ledger_db: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    p = _cli(["report", "monthly", "--month", "2026-13"], ledger_db[0], tmp_path)
    assert p.returncode == 2
    assert "month" in p.stderr
    p = _cli(["report", "monthly", "--format", "pdf"], ledger_db[0], tmp_path)
    assert p.returncode == 2
    assert "format" in p.stderr


def test_cli_missing_hub_db(ledger_db: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    p = _cli(
        ["hub-report", "monthly", "--database-url", str(tmp_path / "nope.db"), "--format", "json"],
        ledger_db[0],
        tmp_path,
    )
    assert p.returncode == 1 and "hub database not found" in p.stderr
    assert not (tmp_path / "nope.db").exists()


def test_cli_md_is_written_to_a_file_as_xlsx_and_csv(
    ledger_db: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """No --out: md is a document, written to the default name in the export folder (op6b item 4), as
    xlsx and csv; only json goes to stdout (for scripts)."""
    p = _cli(["report", "monthly", "--month", MONTH, "--format", "md"], ledger_db[0], tmp_path)
    assert p.returncode == 0, p.stderr
    out = Path(os.environ["XDG_DOCUMENTS_DIR"]) / "qi-station" / "qi-report-QI0001-2026-01.md"
    assert p.stdout.strip() == str(out)
    assert "| 登记需求数 | 5 |" in out.read_text(encoding="utf-8")


# ---- hub -------------------------------------------------------------------------------------------
ADDITIVE = (
    "received",
    "accepted",
    "resolved",
    "closed",
    "cancelled",
    "open_at_end",
    "overdue_at_end",
    "problems_solved",
    "cost_saved_wan",
)


def _copy_station_into_hub(
    station_db: Path, hub_url: str, code: str, region: str, station_row: bool = True
) -> None:
    """Copy a station's enterprise/request/event/referral/station rows into a hub database (ids renamed)."""
    import sqlite3

    from qi_station.db.engine import make_engine

    src = sqlite3.connect(station_db)
    src.row_factory = sqlite3.Row
    suffix = code.lower()
    eng = make_engine(hub_url)
    with eng.begin() as conn:
        st = dict(src.execute("SELECT * FROM station WHERE is_self = 1").fetchone())
        st.update(id=f"{st['id']}-{suffix}", code=code, region_code=region, is_self=False)
        if station_row:
            _insert(conn, "station", st)
        for table in ("enterprise", "request", "request_event", "referral"):
            for row in src.execute(f"SELECT * FROM {table}"):
                d = dict(row)
                if table == "enterprise":  # each station's own row (as the hub holds them), same USCC
                    d["id"] = f"{d['id']}-{suffix}"
                    d["station_code"] = code
                if table == "request":
                    d["id"] = f"{d['id']}-{suffix}"
                    d["enterprise_id"] = f"{d['enterprise_id']}-{suffix}"
                    d["number"] = d["number"].replace("QI0001", code)
                    d["station_code"] = code
                elif table in ("request_event", "referral"):
                    d["id"] = f"{d['id']}-{suffix}"
                    d["request_id"] = f"{d['request_id']}-{suffix}"
                _insert(conn, table, d)
    eng.dispose()
    src.close()


def _insert(conn: Any, table: str, d: dict[str, Any]) -> None:
    from datetime import date, datetime

    from sqlalchemy import Boolean, Date, DateTime, MetaData, Table

    md = MetaData()
    t = Table(table, md, autoload_with=conn)
    row: dict[str, Any] = {}
    for c in t.columns:
        if c.name not in d:
            continue
        v = d[c.name]
        if v is not None and isinstance(c.type, DateTime) and isinstance(v, str):
            v = datetime.fromisoformat(v)
        elif v is not None and isinstance(c.type, Date) and isinstance(v, str):
            v = date.fromisoformat(v)
        elif v is not None and isinstance(c.type, Boolean):
            v = bool(v)
        row[c.name] = v
    conn.execute(t.insert().values(**row))


def _check_hub_cli(hub_url: str, station_db: Path, tmp_path: Path) -> None:
    p = _cli(
        ["hub-report", "monthly", "--database-url", hub_url, "--month", MONTH, "--format", "json"],
        station_db,
        tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert "TEXTUAL:\n" in p.stderr
    data = json.loads(p.stdout)
    assert data["station"]["code"] == "370000" and data["received"] == 10 and len(data["stations"]) == 2
    p = _cli(
        [
            "hub-report",
            "monthly",
            "--database-url",
            hub_url,
            "--month",
            MONTH,
            "--station",
            "qd0001",
            "--format",
            "csv",
        ],
        station_db,
        tmp_path,
    )
    assert p.returncode == 0, p.stderr
    exports = Path(os.environ["XDG_DOCUMENTS_DIR"]) / "qi-station"
    out = exports / "qi-report-QD0001-2026-01.csv"
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    p = _cli(["hub-report", "monthly", "--database-url", hub_url, "--month", MONTH], station_db, tmp_path)
    assert p.returncode == 0, p.stderr
    import openpyxl

    wb = openpyxl.load_workbook(exports / "qi-report-province-2026-01.xlsx")
    assert wb.sheetnames == [
        "概览",
        "分类",
        "地市",
        "区县",
        "站点类型",
        "服务模式",
        "站点",
        "整改",
        "指标",
        "明细",
    ]
    assert len(list(wb["明细"].iter_rows())) == 1 + 14
    assert len(list(wb["站点"].iter_rows())) == 1 + 2


def _check_hub(hub_url: str, station_db: Path) -> None:
    from qi_station.reports.figures import monthly_report

    hub = monthly_report(hub_url, MONTH, hub=True)
    assert [s["station"]["code"] for s in hub["stations"]] == ["JN0001", "QD0001"]
    for s in hub["stations"]:
        for k, want in EXPECTED.items():
            if k in ("station", "month"):
                continue
            assert s[k] == want, (s["station"]["code"], k)
    for k in ADDITIVE:
        assert hub[k] == sum(s[k] for s in hub["stations"]), k
        assert hub[k] == sum(c[k] for c in hub["cities"]), k
    assert hub["satisfaction"]["rated"] == 4 and hub["satisfaction"]["rate"] == 0.5
    assert hub["by_element"] == {k: 2 * v for k, v in EXPECTED["by_element"].items()}
    assert hub["referrals"]["counts"]["expert"] == 6
    assert hub["referrals"]["top"]["expert"][0] == {"id": "exp-1", "name": "张工", "count": 4}
    # the same enterprises (one row per station, the same USCC) used both stations: distinct counts are
    # not additive, and an enterprise is one enterprise however many stations served it (attacker trial)
    assert hub["enterprises_served"] == 3 and hub["new_enterprises"] == 1
    assert [c["city"]["code"] for c in hub["cities"]] == ["370100", "370200"]
    assert len(hub["details"]) == 14
    assert hub["median_days_to_resolve"] == 10.0
    one = monthly_report(hub_url, MONTH, hub=True, station="QD0001")
    assert one["station"]["code"] == "QD0001" and one["received"] == 5 and len(one["details"]) == 7
    # the station's own report equals its row at the hub
    own = monthly_report(station_db, MONTH)
    for k in EXPECTED:
        if k != "station":
            assert own[k] == one[k], k


def test_hub_equals_sum_of_stations_sqlite(ledger_db: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    from qi_station.db.engine import run_migrations, sqlite_url

    url = sqlite_url(tmp_path / "hub.db")
    run_migrations(url)
    _copy_station_into_hub(ledger_db[0], url, "JN0001", "370100")
    _copy_station_into_hub(ledger_db[0], url, "QD0001", "370200")
    _check_hub(url, ledger_db[0])
    _check_hub_cli(url, ledger_db[0], tmp_path)


PG_URL = os.environ.get("QI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    try:
        psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3).close()
    except Exception:  # noqa: BLE001
        return False
    return True


def test_hub_equals_sum_of_stations_postgres(ledger_db: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    if not _pg_reachable():
        pytest.skip("PostgreSQL not reachable at " + PG_URL)
    import psycopg

    base = PG_URL.replace("+psycopg", "")
    dbname = f"qi_reports_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{dbname}"')
    url = PG_URL.rsplit("/", 1)[0] + "/" + dbname
    try:
        from qi_station.db.engine import run_migrations

        run_migrations(url)
        _copy_station_into_hub(ledger_db[0], url, "JN0001", "370100")
        _copy_station_into_hub(ledger_db[0], url, "QD0001", "370200")
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as c:
            c.execute("SET TIME ZONE 'America/New_York'")  # the report must not depend on the server zone
            c.execute(f"ALTER DATABASE \"{dbname}\" SET timezone TO 'Asia/Tokyo'")
        _check_hub(url, ledger_db[0])
        _check_hub_cli(url.replace("+psycopg", ""), ledger_db[0], tmp_path)  # a plain postgresql:// URL works
    finally:
        with psycopg.connect(base, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def test_hub_without_station_rows(ledger_db: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """The hub knows a station only from its enrolment row (hub_station): name and profile from there.
    The city is the station's own, never guessed from the enterprises it served: before the station sent
    its profile it is "unknown"."""
    import sqlite3

    from qi_station.db.engine import run_migrations, sqlite_url
    from qi_station.reports.figures import monthly_report

    url = sqlite_url(tmp_path / "hub2.db")
    run_migrations(url)
    _copy_station_into_hub(ledger_db[0], url, "JN0001", "370100")
    _copy_station_into_hub(ledger_db[0], url, "QD0001", "370200", station_row=False)
    con = sqlite3.connect(tmp_path / "hub2.db")
    with con:
        con.execute(
            "INSERT INTO hub_station (id, code, name, created_at) "
            "VALUES ('x', 'QD0001', '青岛工作站', '2025-01-01 00:00:00.000000')"
        )
    con.close()
    hub = monthly_report(url, MONTH, hub=True)
    qd = next(s for s in hub["stations"] if s["station"]["code"] == "QD0001")
    assert qd["station"]["name"] == "青岛工作站"
    assert qd["city"]["code"] == "unknown"  # most of its enterprises are of 烟台: not a reason to say 烟台
    assert [c["city"]["code"] for c in hub["cities"]] == ["370100", "unknown"]
    assert hub["received"] == sum(c["received"] for c in hub["cities"]) == 10
    con = sqlite3.connect(tmp_path / "hub2.db")
    with con:
        con.execute(
            "UPDATE hub_station SET region_code = '370211', station_type = '龙头企业', service_mode = '市场主导' "
            "WHERE code = 'QD0001'"
        )
    con.close()
    hub = monthly_report(url, MONTH, hub=True)
    qd = next(s for s in hub["stations"] if s["station"]["code"] == "QD0001")
    assert (qd["city"]["code"], qd["county"]["code"], qd["type"]["code"], qd["mode"]["code"]) == (
        "370200",
        "370211",
        "龙头企业",
        "市场主导",
    )
    assert qd["profile_from"] == "hub"
    assert [c["city"]["code"] for c in hub["cities"]] == ["370100", "370200"]
