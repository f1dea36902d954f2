"""Outside operator (opfix3) item 2: a headline figure is formatted the same on screen (F7) and in
every export -- the medians had ``0.00`` / ``6`` on screen and ``0`` / ``0.1`` in the Markdown. One
formatter (``reports.sections.figure_text``; the xlsx number format ``figure_format``)."""

from __future__ import annotations

import csv
from pathlib import Path

from test_report_fee import month_db  # noqa: F401 - fixture


def test_medians_read_the_same_on_screen_and_in_csv_md_xlsx(month_db, tmp_path: Path) -> None:  # noqa: F811
    from openpyxl import load_workbook

    from qi_station.reports.figures import monthly_report
    from qi_station.reports.writers import render_markdown, write_report
    from qi_station.screens.reports import summary_parts

    db, _ = month_db
    rep = monthly_report(db, "2026-01")
    rep.update(median_hours_to_accept=21.5, median_days_to_resolve=0.1, median_workdays_to_resolve=6)
    want = {
        "受理用时中位数（小时）": "21.50",
        "办结用时中位数（天）": "0.10",
        "办结用时中位数（工作日）": "6.0",
    }
    with open(write_report(rep, "csv", tmp_path / "r.csv"), encoding="utf-8-sig", newline="") as f:
        csv_rows = {r[0]: r[1] for r in csv.reader(f) if len(r) >= 2}
    md = render_markdown(rep)
    screen = " ".join(summary_parts(rep, "zh"))
    ws = load_workbook(write_report(rep, "xlsx", tmp_path / "r.xlsx")).worksheets[0]
    cells = {r[0].value: r[1] for r in ws.iter_rows() if r and r[0].value in want}
    for label, text in want.items():
        assert csv_rows[label] == text, label
        assert f"| {label} | {text} |" in md, label
        assert f"{label} {text}" in screen, label
        decimals = len(text.partition(".")[2])
        assert cells[label].number_format == "0." + "0" * decimals, label  # Excel shows the same digits
    rep["median_workdays_to_resolve"] = 0.0  # December's "0.00" on screen, "0" in the Markdown
    assert "办结用时中位数（工作日） 0.0" in " ".join(summary_parts(rep, "zh"))
    assert "| 办结用时中位数（工作日） | 0.0 |" in render_markdown(rep)
