"""Two months of the monthly report compare line by line (operator test rep4): every breakdown over a
fixed domain lists each item, 0 included, in the domain's order; every rate's change versus the
previous month is in percentage points (``+3.2 个百分点`` / ``+3.2 pp``), never ``%``; 评价数, 满意数,
满意率 and 按期办结数 carry 上月 and 环比 in every writer.

The ledger: December, 4 ratings (5, 5, 4, 1: 3 satisfied, 75.00%); January, 2 ratings (5, 2: 1
satisfied, 50.00%) -> 满意率 -25.0 个百分点, 评价数 -2, 满意数 -2. Every request is 标准, 来访.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from test_reports import ENT_A, _mv, _req


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    import os

    os.environ["QI_STATION_OPERATOR"] = "测试员"
    from qi_station.db.engine import open_db
    from qi_station.reports.figures import monthly_report
    from qi_station.services.station import init_station

    db = tmp_path_factory.mktemp("compare") / "station.db"
    open_db(db)
    init_station(db, code="QI0001", name="测试工作站", region_code="370100")
    plan = [("2025-12", d, s) for d, s in ((3, 5), (4, 5), (5, 4), (8, 1))]
    plan += [("2026-01", d, s) for d, s in ((6, 5), (7, 2))]
    for month, day, level in plan:
        at = f"{month}-{day:02d}"
        num = _req(db, ENT_A, "标准", f"{at}T09:00:00+08:00")
        _mv(db, num, "accepted", f"{at}T10:00:00+08:00")
        _mv(db, num, "in_progress", f"{at}T11:00:00+08:00")
        _mv(db, num, "resolved", f"{at}T15:00:00+08:00", result="已办结", problems_solved=1)
        _mv(db, num, "closed", f"{at}T16:00:00+08:00", satisfaction=level)
    return {m: monthly_report(db, m) for m in ("2025-12", "2026-01")}


def test_satisfaction_figures_have_a_previous_month(months: dict[str, dict[str, Any]]) -> None:
    dec, jan = months["2025-12"], months["2026-01"]
    assert dec["satisfaction"] == {"rated": 4, "satisfied": 3, "rate": 0.75}
    ch = jan["change"]
    assert ch["rated"] == {"previous": 4, "delta": -2, "pct": -50.0}
    assert ch["satisfied"] == {"previous": 3, "delta": -2, "pct": -66.7}
    assert ch["rate"] == {"previous": 0.75, "delta": -0.25, "pct": None}
    assert ch["on_time_count"]["previous"] == dec["on_time"]["count"] == 4


def test_points_text() -> None:
    from qi_station.reports.sections import change_text, points_text

    assert points_text(0.032, "zh") == "+3.2 个百分点"
    assert points_text(0.032, "en") == "+3.2 pp"
    assert points_text(-0.0785, "zh") == "-7.9 个百分点"  # the 4-decimal fraction, half away from zero
    assert points_text(0.0, "zh") == points_text(-0.0004, "zh") == "0.0 个百分点"  # no sign on no change
    assert points_text(None, "zh") is None
    assert change_text("rate", 0.032, "en") == "+3.2 pp"
    assert change_text("received", -3, "zh") == -3  # a count's change stays a number


def _csv_rows(report: dict[str, Any], lang: str) -> list[list[str]]:
    from qi_station.reports.writers import write_csv

    out = io.StringIO()
    write_csv(report, out, lang)
    return list(csv.reader(io.StringIO(out.getvalue())))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_csv_overview_rows_have_previous_and_change(months: dict[str, dict[str, Any]], lang: str) -> None:
    from qi_station.reports.labels import fig_label

    rows = {r[0]: r for r in _csv_rows(months["2026-01"], lang) if r}
    unit = "pp" if lang == "en" else "个百分点"
    assert rows[fig_label("rated", lang)][1:4] == ["2", "4", "-2"]
    assert rows[fig_label("satisfied", lang)][1:4] == ["1", "3", "-2"]
    assert rows[fig_label("rate", lang)][1:4] == ["50.00%", "75.00%", f'="-25.0 {unit}"']
    for k in ("on_time_rate", "followup_rate", "rate"):  # no rate's change in %
        assert not rows[fig_label(k, lang)][3].endswith("%"), k


def test_markdown_and_xlsx_overview(months: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    import openpyxl

    from qi_station.reports.writers import render_markdown, write_report

    md = render_markdown(months["2026-01"])
    assert "| 满意率 | 50.00% | 75.00% | -25.0 个百分点 | " in md
    assert "| 评价数 | 2 | 4 | -2 | " in md
    ov = openpyxl.load_workbook(write_report(months["2026-01"], "xlsx", tmp_path / "r.xlsx")).worksheets[0]
    rows = {r[0].value: [c.value for c in r[1:4]] for r in ov.iter_rows() if r and r[0].value}
    assert rows["满意率"] == [0.5, 0.75, "-25.0 个百分点"]
    assert rows["评价数"] == [2, 4, -2]
    assert rows["满意数（基本满意及以上）"] == [1, 3, -2]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_breakdowns_list_every_item_in_domain_order(months: dict[str, dict[str, Any]], lang: str) -> None:
    """December and January have the same breakdown lines (only 标准 and 来访 counted, every other
    element and channel 0), in the domain's order, in every writer."""
    from qi_station.core import domain, places
    from qi_station.reports.labels import channel_label, element_label, word
    from qi_station.reports.sections import breakdown_rows

    dec, jan = (breakdown_rows(months[m], lang) for m in ("2025-12", "2026-01"))
    fixed = {word(k, lang) for k in ("element", "channel", "city", "size", "level")}
    assert [r[:2] for r in dec if r[0] in fixed] == [r[:2] for r in jan if r[0] in fixed]
    elements = [(item, n) for cat, item, n in jan if cat == word("element", lang)]
    assert elements == [(element_label(e, lang), 2 if e == "standards" else 0) for e in domain.ELEMENTS]
    channels = [(item, n) for cat, item, n in jan if cat == word("channel", lang)]
    assert channels == [(channel_label(c, lang), 2 if c == "walk_in" else 0) for c in domain.CHANNELS]
    cities = [n for cat, _item, n in jan if cat == word("city", lang)]
    assert len(cities) == len(places.CITIES) and cities[0] == 2  # 济南 first, every city listed
    sizes = [item for cat, item, _n in jan if cat == word("size", lang)]
    assert sizes[: len(domain.ENTERPRISE_SCALES)] == list(domain.ENTERPRISE_SCALES)
    rows = [r for r in _csv_rows(months["2026-01"], lang) if r[:1] == [word("element", lang)]]
    assert [r[1] for r in rows] == [element_label(e, lang) for e in domain.ELEMENTS]


def test_breakdown_keeps_codes_outside_the_domain_after_it() -> None:
    from qi_station.reports.sections import in_domain_order

    assert in_domain_order({"unknown": 1, "b": 2, "zz": 3}, ("b", "a")) == [
        ("b", 2),
        ("a", 0),
        ("zz", 3),
        ("unknown", 1),
    ]
    assert in_domain_order(None, ("a",)) == [("a", 0)]


@pytest.mark.parametrize(
    ("lang", "label"), [("zh", "本站默认（未登记人员）"), ("en", "Station default (no staff recorded)")]
)
def test_a_request_without_staff_reads_the_station_default(
    months: dict[str, dict[str, Any]], lang: str, label: str, tmp_path: Path
) -> None:
    """明细's 登记人 of a request with no staff member recorded: the station default, never a blank."""
    import copy

    import openpyxl

    from qi_station.reports.labels import DETAIL_LABELS, lang_index
    from qi_station.reports.writers import detail_values, write_report

    rep = copy.deepcopy(months["2026-01"])
    rep["details"][0]["operator"] = None
    rep["details"][1]["operator"] = ""
    col = list(rep["details"][0]).index("operator")
    assert [r[col] for r in detail_values(rep, lang)] == [label, label]
    rep["details"][1]["operator"] = "张三"
    assert [r[col] for r in detail_values(rep, lang)] == [label, "张三"]
    head = DETAIL_LABELS["operator"][lang_index(lang)]
    rows = _csv_rows(rep, lang)
    at = next(i for i, r in enumerate(rows) if head in r)
    assert rows[at + 1][rows[at].index(head)] == label
    det = openpyxl.load_workbook(write_report(rep, "xlsx", tmp_path / "r.xlsx", lang=lang)).worksheets[-1]
    cells = [[c.value for c in r] for r in det.iter_rows(max_row=2)]
    assert cells[1][cells[0].index(head)] == label
