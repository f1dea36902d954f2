"""收费金额 (the operator's request): the request's fee is the fee of the resolution it stands on
(``core.chain.request_fee``); the request detail (``services.queries.get_request``: CLI ``request show``,
the TUI) and the monthly report's 明细 (xlsx, CSV, JSON) show it. Also the report's list sheets: a
header frozen and an autofilter, 整改's rating by its label, 指标's percentages as real percentages."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_sync_util import request_input

from qi_station.services import ledger

RESOLVE = {"result": "已办结", "problems_solved": 1}


def _to_resolved(db: Path, r: dict[str, Any], **kw: Any) -> None:
    for st in ("accepted", "in_progress"):
        ledger.move_request(db, r["id"], st)
    ledger.move_request(db, r["id"], "resolved", **RESOLVE, **kw)


@pytest.fixture
def month_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, dict[str, Any]]]:
    """December: A resolved, charged 800 (closed in January: its fee comes from before the month).
    January: B charged 350.50; C free; D charged 100 then reopened (no fee while reopened); E resolved
    charged 90, reopened, resolved again charged 120.25 (the latest counts); F never resolved."""
    from qi_station.db.engine import open_db

    db = open_db(tmp_path / "station.db")
    monkeypatch.setenv("QI_STATION_NOW", "2025-12-10T10:00:00+08:00")
    rs: dict[str, dict[str, Any]] = {}
    rs["A"] = ledger.create_request(db, request_input(1, 1))
    _to_resolved(db, rs["A"], charged=True, fee="800")
    monkeypatch.setenv("QI_STATION_NOW", "2026-01-15T10:00:00+08:00")
    ledger.move_request(db, rs["A"]["id"], "closed", satisfaction=2)
    for i, k in enumerate("BCDEF", start=2):
        rs[k] = ledger.create_request(db, request_input(i, i))
    _to_resolved(db, rs["B"], charged=True, fee="350.50")
    _to_resolved(db, rs["C"])
    _to_resolved(db, rs["D"], charged=True, fee="100")
    ledger.move_request(db, rs["D"]["id"], "in_progress", note="重新办理")
    _to_resolved(db, rs["E"], charged=True, fee="90")
    ledger.move_request(db, rs["E"]["id"], "in_progress", note="重新办理")
    ledger.move_request(db, rs["E"]["id"], "resolved", **RESOLVE, charged=True, fee="120.25")
    monkeypatch.setenv("QI_STATION_NOW", "2026-01-20T10:00:00+08:00")
    return db, rs


WANT = {"A": "800.00", "B": "350.50", "C": "0.00", "D": None, "E": "120.25", "F": None}


def test_the_request_fee_rule() -> None:
    from qi_station.core.chain import request_fee, resolution_fee

    def ev(fs: str, ts: str, data: Any = None, kind: str = "status") -> dict[str, Any]:
        return {"kind": kind, "from_status": fs, "to_status": ts, "data": data}

    paid = ev("in_progress", "resolved", '{"charged": true, "fee": "12.5"}')
    assert resolution_fee('{"charged": true, "fee": "12.5"}') == Decimal("12.50")
    assert resolution_fee({"charged": False, "fee": "0.00"}) == Decimal("0.00")
    assert resolution_fee({"result": "x"}) is None  # a resolution written before the fee was asked
    assert request_fee([ev("new", "accepted"), paid]) == Decimal("12.50")
    assert request_fee([paid, ev("resolved", "closed", {"satisfaction": 4})]) == Decimal("12.50")
    assert request_fee([paid, ev("resolved", "in_progress")]) is None  # reopened
    assert (
        request_fee([paid, ev("resolved", "in_progress"), ev("waiting", "resolved", {"charged": False})]) == 0
    )
    assert request_fee([paid, ev(None, None, {"field": "result"}, kind="correct")]) == Decimal("12.50")


def test_request_detail_and_cli_show_the_fee(month_db: Any) -> None:
    from typer.testing import CliRunner

    from qi_station.cli.commands import app
    from qi_station.services.queries import get_request

    db, rs = month_db
    for k, want in WANT.items():
        assert get_request(db, rs[k]["number"])["fee_yuan"] == want, k
    out = CliRunner().invoke(app, ["--db", str(db), "request", "show", rs["B"]["number"]])
    assert out.exit_code == 0 and "收费金额（元）: 350.50" in out.output, out.output
    out = CliRunner().invoke(app, ["--db", str(db), "--lang", "en", "request", "show", rs["D"]["number"]])
    assert out.exit_code == 0 and "\n  fee (CNY):" not in out.output, out.output  # reopened: no fee line
    out = CliRunner().invoke(app, ["--db", str(db), "request", "show", rs["A"]["number"], "--json"])
    assert json.loads(out.output)["fee_yuan"] == 800.0  # a number, as the report's JSON gives it
    out = CliRunner().invoke(app, ["--db", str(db), "request", "show", rs["B"]["number"], "--json"])
    assert json.loads(out.output)["fee_yuan"] == 350.5
    out = CliRunner().invoke(app, ["--db", str(db), "request", "show", rs["D"]["number"], "--json"])
    assert json.loads(out.output)["fee_yuan"] is None


def test_report_details_carry_the_fee_in_every_format(month_db: Any, tmp_path: Path) -> None:
    import openpyxl

    from qi_station.reports.figures import monthly_report
    from qi_station.reports.writers import write_report

    db, rs = month_db
    rep = monthly_report(db, "2026-01")
    by_number = {d["number"]: d for d in rep["details"]}
    want = {rs[k]["number"]: None if v is None else float(v) for k, v in WANT.items()}
    assert {n: d["fee_yuan"] for n, d in by_number.items()} == want

    # xlsx: 明细 has the column, numbers with two decimals; the header frozen, an autofilter
    out = write_report(rep, "xlsx", tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(out)
    ws = wb["明细"]
    head = [c.value for c in ws[1]]
    col = head.index("收费金额（元）")
    num = head.index("编号")
    got = {r[num].value: r[col].value for r in ws.iter_rows(min_row=2)}
    assert got == want
    cell = next(r[col] for r in ws.iter_rows(min_row=2) if r[col].value)
    assert cell.data_type == "n" and cell.number_format == "0.00"
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref == f"A1:{ws.cell(1, len(head)).column_letter}7"
    for name in ("分类", "整改", "指标"):
        assert wb[name].freeze_panes == "A2", name
        sheet = wb[name]
        last = sheet.cell(1, sheet.max_column).column_letter
        assert sheet.auto_filter.ref == f"A1:{last}{sheet.max_row}", name
    # the received and resolved times are real date-times (those resolved), to the second
    from datetime import datetime

    rec, res = head.index("登记时间"), head.index("办结时间")
    assert all(isinstance(r[rec].value, datetime) for r in ws.iter_rows(min_row=2))
    resolved = {r[num].value: r[res].value for r in ws.iter_rows(min_row=2) if r[res].value is not None}
    assert resolved[rs["B"]["number"]] == datetime(2026, 1, 15, 10, 0)
    assert resolved[rs["A"]["number"]] == datetime(2025, 12, 10, 10, 0)

    # CSV and JSON: the same column, the same values
    out = write_report(rep, "csv", tmp_path / "r.csv")
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    at = next(i for i, r in enumerate(rows) if "收费金额（元）" in r and "编号" in r)
    c, n = rows[at].index("收费金额（元）"), rows[at].index("编号")
    got_csv = {r[n]: r[c] for r in rows[at + 1 :] if len(r) > c}
    assert got_csv == {k: "" if v is None else f"{v:.2f}" for k, v in want.items()}  # money: 2 decimals
    out = write_report(rep, "json", tmp_path / "r.json")
    got_json = {d["number"]: d["fee_yuan"] for d in json.loads(out.read_text(encoding="utf-8"))["details"]}
    assert got_json == want


def test_rectify_sheet_names_the_rating_and_indicators_are_percentages(month_db: Any, tmp_path: Path) -> None:
    import openpyxl

    from qi_station.reports.figures import monthly_report
    from qi_station.reports.writers import write_report

    db, rs = month_db
    rep = monthly_report(db, "2026-01")
    wb = openpyxl.load_workbook(write_report(rep, "xlsx", tmp_path / "r.xlsx"))
    rect = wb["整改"]
    head = [c.value for c in rect[1]]
    sat = [r[head.index("满意度")] for r in rect.iter_rows(min_row=2, values_only=True)]
    assert sat == ["2 不满意"]  # A, rated 2 in January
    ind = wb["指标"]
    pct = [r for r in ind.iter_rows(min_row=2) if r[4].value == "%" and r[3].value is not None]
    assert pct
    for r in pct:
        assert r[3].data_type == "n" and r[3].number_format == "0.00%", r[2].value
        assert 0 <= r[3].value <= 1.0, (r[2].value, r[3].value)
    want = {v["id"]: v["value"] for v in rep["indicators"] if v["unit"] == "%" and v["value"] is not None}
    got = {str(r[2].value).split(" ")[0]: r[3].value for r in pct}
    assert got == pytest.approx({k: v / 100 for k, v in want.items()})


def test_cost_saved_is_a_number_in_every_json(month_db: Any) -> None:
    """节约成本 (``cost_saved_wan``) has one JSON type, a number (``core.validate.money_number``): the
    report's JSON, ``request show --json`` and ``request list --json`` (it was "2.50" text in the last
    two); null where nothing was recorded."""
    from typer.testing import CliRunner

    from qi_station.cli.commands import app
    from qi_station.reports.figures import monthly_report

    db, rs = month_db
    _to_resolved(db, rs["F"], cost_saved="2.5")
    details = {d["number"]: d["cost_saved_wan"] for d in monthly_report(db, "2026-01")["details"]}
    assert details[rs["F"]["number"]] == 2.5
    out = CliRunner().invoke(app, ["--db", str(db), "request", "list", "--json"])
    listed = {r["number"]: r["cost_saved_wan"] for r in json.loads(out.output)}
    assert listed[rs["F"]["number"]] == 2.5 and listed[rs["B"]["number"]] == 0
    for number, want in details.items():
        out = CliRunner().invoke(app, ["--db", str(db), "request", "show", number, "--json"])
        got = json.loads(out.output)["cost_saved_wan"]
        assert (got, type(got)) == (want, type(want)) == (listed[number], type(listed[number])), number
