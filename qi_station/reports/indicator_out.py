"""``report indicators`` output: the indicators of one month (station, one hub station or the province)
as a text table, JSON, CSV (utf-8-sig), Markdown or xlsx. Rows come from
:func:`qi_station.reports.sections.indicator_rows` (the same rows as the monthly xlsx's 指标 sheet)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from qi_station.reports.labels import word
from qi_station.reports.sections import (
    INDICATOR_UNIT,
    INDICATOR_VALUE,
    indicator_cell,
    indicator_header,
    indicator_rows,
    indicator_text,
)

INDICATOR_FORMATS = ("table", "json", "csv", "xlsx", "md")


def indicator_report(report: dict[str, Any]) -> dict[str, Any]:
    """The JSON form: month, station (or province), the definition file's title and source, indicators."""
    spec = report["indicator_set"]  # computed with the report (reports.figures.monthly_report)
    return {
        "month": report.get("month"),
        "station": report.get("station"),
        "data_as_of": report.get("data_as_of"),
        "title": spec["title"],
        "source": spec["source"],
        "distributed": spec["distributed"],
        "indicators": report["indicators"],
    }


def _texts(rows: list[list[Any]]) -> list[list[Any]]:
    """The rows with each value as text (``sections.indicator_text``: 85.71%, money 1200.50)."""
    return [
        [
            *r[:INDICATOR_VALUE],
            indicator_text(r[INDICATOR_VALUE], r[INDICATOR_UNIT]),
            *r[INDICATOR_VALUE + 1 :],
        ]
        for r in rows
    ]


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4f}".rstrip("0").rstrip(".")
    return str(v)


def render_indicators(report: dict[str, Any], fmt: str, lang: str = "zh") -> str:
    """Text formats: ``table``, ``json``, ``md``."""
    if fmt == "json":
        from qi_station.reports.writers import generator_mark

        return (
            json.dumps(
                {"generator": generator_mark(), **indicator_report(report)}, ensure_ascii=False, indent=2
            )
            + "\n"
        )
    head, rows = indicator_header(lang), indicator_rows(report, lang)
    st = report.get("station") or {}
    title = f"{word('indicators', lang)} · {report.get('month')} · {st.get('name', '')} {st.get('code', '')}"
    if fmt == "md":
        lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(_fmt(v).replace("|", "\\|") for v in r) + " |" for r in _texts(rows)]
        return "\n".join(lines) + "\n"
    lines = [title]
    for r in rows:  # table: indicator, value, unit (the levels as section lines); money with 2 decimals
        value = r[3] if r[4] == "%" else indicator_text(r[3], r[4])
        lines.append(f"{r[2]}  {_fmt(value)} {r[4]}  ({r[1]})")
    return "\n".join(lines) + "\n"


def write_indicators(
    report: dict[str, Any],
    fmt: str,
    out: Path,
    lang: str = "zh",
    *,
    force: bool = False,
    default_name: str | None = None,
    protect: tuple[Path | None, ...] = (),
) -> Path:
    """``csv``, ``xlsx`` (or a text format) written atomically to ``out`` (checked like a report file)."""
    from qi_station.reports.writers import (
        atomic_path,
        atomic_text,
        csv_text,
        formula_like,
        is_report_file,
        list_sheet,
        mark_workbook,
    )
    from qi_station.services.files import check_out

    kind = fmt if fmt in ("csv", "xlsx", "json", "md") else "md"
    out = check_out(out, kind, force=force, default_name=default_name, protect=protect, ours=is_report_file)
    head, rows = indicator_header(lang), indicator_rows(report, lang)
    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        wb = Workbook(write_only=True)
        mark_workbook(wb)
        ws = wb.create_sheet(word("indicators", lang))
        list_sheet(ws, len(head), len(rows))
        ws.append(head)
        for r in rows:
            cells: list[Any] = ["'" + v if formula_like(v) else v for v in r]
            value, value_fmt = indicator_cell(r[INDICATOR_VALUE], r[INDICATOR_UNIT])  # a percentage as 0.0%
            if value_fmt:
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = value_fmt
                cells[INDICATOR_VALUE] = cell
            ws.append(cells)
        with atomic_path(out) as tmp:
            wb.save(str(tmp))
    elif fmt == "csv":
        with atomic_text(out, encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f, lineterminator="\r\n")
            w.writerow(head)
            w.writerows([["" if v is None else csv_text(v) for v in r] for r in _texts(rows)])
    else:
        with atomic_text(out) as f:
            f.write(render_indicators(report, fmt, lang))
    return out
