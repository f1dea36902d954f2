"""The monthly CSV in one convention for Excel: every rate (满意率 …) and every % indicator as percent
text with two decimals (``94.44%``: Excel reads the number 0.9444 shown as a percentage), where it had
``0.9444`` beside ``14.2857`` (unit %); every time as local ``YYYY-MM-DD HH:MM:SS`` (Excel reads a
date-time). The JSON is unchanged (fractions, ISO-8601)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from test_report_fee import month_db  # noqa: F401 - fixture

from qi_station.services import ledger


def test_csv_rates_percent_text_and_excel_times(month_db: Any, tmp_path: Path) -> None:  # noqa: F811
    from qi_station.reports.figures import monthly_report
    from qi_station.reports.sections import csv_time, percent_text
    from qi_station.reports.writers import write_report

    db, rs = month_db
    ledger.move_request(db, rs["B"]["id"], "closed", satisfaction=4)
    ledger.move_request(db, rs["C"]["id"], "closed", satisfaction=2)
    rep = monthly_report(db, "2026-01")
    assert rep["satisfaction"]["rate"] == 0.3333  # A 2, B 4, C 2: 1 of 3 satisfied
    before = json.dumps(rep, ensure_ascii=False, sort_keys=True, default=str)
    out = write_report(rep, "csv", tmp_path / "r.csv")
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    flat = {r[0]: r[1:] for r in rows if len(r) >= 2}
    assert flat["满意率"][0] == "33.33%"
    assert flat["按期办结率"][0].endswith("%") and flat["回访率"][0].endswith("%")
    # the indicators: a % one as percent text too, never the bare percentage
    at = next(i for i, r in enumerate(rows) if r[:1] == ["一级指标"] or "单位" in r and "指标" in r)
    head = rows[at]
    value, unit = head.index("值") if "值" in head else 3, head.index("单位")
    percent = [r for r in rows[at + 1 :] if len(r) > unit and r[unit] == "%"]
    assert percent and all(re.fullmatch(r"-?\d+\.\d\d%", r[value]) or r[value] == "" for r in percent)
    # times: the header lines and every time of 明细
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", flat["生成时间"][0]), flat["生成时间"]
    d0 = next(i for i, r in enumerate(rows) if "编号" in r and "登记时间" in r)
    rec = rows[d0].index("登记时间")
    got = {r[rows[d0].index("编号")]: r[rec] for r in rows[d0 + 1 :] if len(r) > rec}
    assert got[rs["B"]["number"]] == "2026-01-15 10:00:00"
    assert json.dumps(rep, ensure_ascii=False, sort_keys=True, default=str) == before  # the JSON untouched
    assert rep["details"][0]["received_at"].endswith("+08:00")
    assert (percent_text(0.9444), percent_text(None), csv_time("2026-01-15T10:00:00+08:00")) == (
        "94.44%",
        None,
        "2026-01-15 10:00:00",
    )
