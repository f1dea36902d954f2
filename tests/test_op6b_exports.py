"""Outside operator, round 6 (op6b) item 4: the exports agree -- money as 2-decimal text in csv/md (and
on screen), one percent formatter, one time format in the headers, phones Excel shows cleanly, and md
written to a file as xlsx and csv."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from test_report_fee import month_db  # noqa: F401 - fixture

from qi_station.services import ledger


def _rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def test_money_percent_and_times_agree_across_csv_md_xlsx_and_screen(month_db: Any, tmp_path: Path) -> None:  # noqa: F811
    from openpyxl import load_workbook

    from qi_station.reports.figures import monthly_report
    from qi_station.reports.writers import render_markdown, write_report
    from qi_station.screens.reports import summary_parts

    db, rs = month_db
    ledger.move_request(db, rs["B"]["id"], "closed", satisfaction=4)
    rep = monthly_report(db, "2026-01")
    rep["followup"]["rate"] = 1.6667  # what the operator saw (166.67%): the formatter, not the figure
    rep["fee_yuan"] = 1200.5
    rows = _rows(write_report(rep, "csv", tmp_path / "r.csv"))
    flat = {r[0]: r[1:] for r in rows if len(r) >= 2}
    assert flat["回访率"][0] == "166.67%"
    assert flat["节约成本（万元）"][:2] == ["0.00", "0.00"]  # value, 上月
    d0 = next(i for i, r in enumerate(rows) if "编号" in r and "登记时间" in r)
    fee = rows[d0].index("收费金额（元）")
    got = {r[rows[d0].index("编号")]: r[fee] for r in rows[d0 + 1 :] if len(r) > fee}
    assert got[rs["B"]["number"]] == "350.50" and got[rs["C"]["number"]] == "0.00"
    md = render_markdown(rep)
    assert "| 回访率 | 166.67% |" in md and "| 节约成本（万元） | 0.00 | 0.00 |" in md
    screen = " ".join(summary_parts(rep, "zh"))
    assert "回访率 166.67%" in screen
    # 生成时间: one form in csv, md and xlsx (local wall clock, as Excel reads a date-time)
    when = flat["生成时间"][0]
    assert f"生成时间: {when} ·" in md and "T" not in when and "+08:00" not in when
    wb = load_workbook(write_report(rep, "xlsx", tmp_path / "r.xlsx"), read_only=True)
    header = {r[0]: r[1] for r in wb.worksheets[0].iter_rows(max_row=5, values_only=True) if r and r[0]}
    assert header["生成时间"] == when


def test_phones_show_cleanly_in_excel_and_formulas_stay_neutralised() -> None:
    from qi_station.reports.writers import csv_text

    assert csv_text("+8653188886666") == '="+8653188886666"'  # Excel shows +8653188886666
    assert csv_text("=WEBSERVICE(1)") == "'=WEBSERVICE(1)"
    assert csv_text("+1+cmd|' /C calc'!A0") == "'+1+cmd|' /C calc'!A0"  # not a phone: apostrophe
    assert csv_text("-5+1") == "'-5+1" and csv_text("@SUM(1)") == "'@SUM(1)"
    assert csv_text("-30.34") == "-30.34"  # a money change: a number to Excel, no apostrophe
    assert csv_text("0531-88886666") == "0531-88886666" and csv_text(12) == 12
