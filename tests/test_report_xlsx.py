"""The xlsx writer (issue 13): the streamed 明细 sheet gives the same workbook as the writer before it.

``data/report_xlsx_fixture.json`` is a station report (150 detail rows of a generated month, plus rows
with every awkward value: formula-like text, Chinese, ``&<>``, leading and trailing spaces, line
breaks, CR, tab, emoji, empty text, negative and large numbers, booleans). ``data/report_xlsx_golden.json``
is what the previous writer (openpyxl write-only for every sheet, commit d9e8824) produced for it, read
back with openpyxl by :func:`capture`: every sheet, every cell's value, type, number format, bold and
quote prefix, the frozen panes, the column widths and the chart. Regenerate both only on purpose::

    python tests/test_report_xlsx.py --regenerate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "report_xlsx_fixture.json"
GOLDEN = DATA / "report_xlsx_golden.json"


def load_fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _norm(v: Any) -> Any:
    """XML gives a bare CR back as LF (the old writer wrote it bare; the new one as ``&#13;``); a date
    cell (明细's times) as ISO-8601 text to the second."""
    from datetime import datetime, timedelta

    if isinstance(v, datetime):
        return (v + timedelta(microseconds=500_000)).replace(microsecond=0).isoformat()
    return v.replace("\r", "\n") if isinstance(v, str) else v


def capture(path: Path) -> dict[str, Any]:
    """Everything a reader sees in the workbook, as JSON-able values."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    out: dict[str, Any] = {"sheets": wb.sheetnames}
    for ws in wb.worksheets:
        cells = []
        for row in ws.iter_rows():
            for c in row:
                if c.value is None:
                    continue
                cells.append(
                    [
                        c.coordinate,
                        _norm(c.value),
                        c.data_type,
                        c.number_format,
                        bool(c.font and c.font.b),
                        bool(c.quotePrefix),
                    ]
                )
        charts = []
        for ch in ws._charts:
            charts.append(
                {
                    "type": type(ch).__name__,
                    "series": len(ch.series),
                    "title": _chart_title(ch),
                    "children": [type(x).__name__ for x in getattr(ch, "_charts", [])],
                    "refs": [s.val.numRef.f for x in getattr(ch, "_charts", [ch]) for s in x.series],
                }
            )
        out[ws.title] = {
            "cells": cells,
            "max_row": ws.max_row,
            "max_column": ws.max_column,
            "freeze_panes": ws.freeze_panes,
            "auto_filter": ws.auto_filter.ref,
            "widths": {k: d.width for k, d in sorted(ws.column_dimensions.items()) if d.customWidth},
            "charts": charts,
        }
    return out


def _chart_title(ch: Any) -> str | None:
    try:
        return "".join(r.t for p in ch.title.tx.rich.p for r in (p.r or []))
    except AttributeError:
        return None


def test_xlsx_equals_previous_writer(tmp_path: Path) -> None:
    from qi_station.reports.writers import write_report

    out = write_report(load_fixture(), "xlsx", tmp_path / "r.xlsx")
    got = capture(out)
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert got["sheets"] == want["sheets"]
    for name in want["sheets"]:
        g, w = got[name], want[name]
        assert g["charts"] == w["charts"], name
        assert (g["max_row"], g["max_column"], g["freeze_panes"], g["widths"]) == (
            w["max_row"],
            w["max_column"],
            w["freeze_panes"],
            w["widths"],
        ), name
        for gc, wc in zip(g["cells"], w["cells"], strict=True):
            assert gc == wc, f"{name}!{wc[0]}"
    assert got == want


def test_xlsx_has_the_native_chart(tmp_path: Path) -> None:
    import openpyxl

    from qi_station.reports.writers import write_report

    out = write_report(load_fixture(), "xlsx", tmp_path / "r.xlsx")
    ov = openpyxl.load_workbook(out).worksheets[0]
    assert len(ov._charts) == 1
    bar = ov._charts[0]
    assert type(bar).__name__ == "BarChart" and len(bar.series) == 3
    assert [type(c).__name__ for c in bar._charts] == ["BarChart", "LineChart"]


def test_xlsx_details_read_only_mode(tmp_path: Path) -> None:
    """openpyxl's read-only reader (what a big import uses) sees the same 明细 rows."""
    import openpyxl

    from qi_station.reports.writers import write_report

    out = write_report(load_fixture(), "xlsx", tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(out, read_only=True)
    rows = [list(r) for r in wb.worksheets[-1].iter_rows(values_only=True)]
    wb.close()
    want = [list(r) for r in openpyxl.load_workbook(out).worksheets[-1].iter_rows(values_only=True)]
    assert len(rows) == 1 + len(load_fixture()["details"])
    assert rows == want


def test_xlsx_writes_stored_control_characters_as_replacement(tmp_path: Path) -> None:
    """Stored text holding characters a worksheet cannot hold (a ledger written before the text rule,
    a hub note with ESC/BEL) never crashes the writer: each is written as U+FFFD, in the streamed rows
    (明细, checked per chunk) and in the cells openpyxl writes; tab and newline are kept."""
    import openpyxl

    from qi_station.reports.writers import write_report

    report = load_fixture()
    report["details"][-1]["title"] = "bad\x01title"
    report["details"][0]["title"] = "\x1b]0;PWNED\x07\x1b[2J"
    report["details"][1]["title"] = "a\x00b\udcff"
    report["details"][2]["title"] = "tab\tnewline\nok"
    out = write_report(report, "xlsx", tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(out).worksheets[-1]
    got = {v for r in ws.iter_rows(min_row=2, values_only=True) for v in r if isinstance(v, str)}
    assert {"bad\ufffdtitle", "\ufffd]0;PWNED\ufffd\ufffd[2J", "a\ufffdb\ufffd", "tab\tnewline\nok"} <= got
    assert not any("\x1b" in v or "\x07" in v for v in got)


if __name__ == "__main__" and "--regenerate" in sys.argv:
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent.parent))
    from qi_station.reports.writers import write_report

    with tempfile.TemporaryDirectory() as d:
        p = write_report(load_fixture(), "xlsx", Path(d) / "g.xlsx")
        GOLDEN.write_text(
            json.dumps(capture(p), ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
        )
    print(f"wrote {GOLDEN}")


def test_xlsx_many_rows_read_back_as_written(tmp_path: Path) -> None:
    """Several chunks of rows (values cached per column across chunks): 明细 read back by openpyxl is
    the header and the display rows, cell for cell."""
    from datetime import datetime

    import openpyxl

    from qi_station.reports.writers import (
        XLSX_DETAIL_FORMATS,
        _detail_keys,
        detail_header,
        detail_values,
        write_report,
    )

    report = load_fixture()
    report["details"] = report["details"] * 8  # > 2 chunks of 500 rows, every value seen again
    out = write_report(report, "xlsx", tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(out).worksheets[-1]

    # XML reads CRLF and CR back as LF; empty text as no value; a float as its 16 significant digits
    def back(v: Any) -> Any:
        if isinstance(v, str):
            return v.replace("\r\n", "\n").replace("\r", "\n") or None
        return float(f"{v:.16g}") if isinstance(v, float) else v

    # the times are Excel dates (to the second) of the wall-clock times of the ISO texts
    times = [i for i, k in enumerate(_detail_keys(report)) if k in XLSX_DETAIL_FORMATS]
    assert times

    def iso(v: Any) -> Any:
        return datetime.fromisoformat(v).replace(tzinfo=None).isoformat() if isinstance(v, str) else v

    got = [[back(_norm(v)) for v in r] for r in ws.iter_rows(values_only=True)]
    want = [detail_header(report, "zh"), *detail_values(report, "zh")]
    want = [want[0]] + [[iso(v) if i in times else v for i, v in enumerate(r)] for r in want[1:]]
    want = [[back(v) for v in r] + [None] * (len(got[0]) - len(r)) for r in want]
    assert got == want
    assert ws.column_dimensions["P"].width >= 17 and ws["P2"].number_format == "yyyy-mm-dd hh:mm"


def test_xlsx_rectify_dates_are_excel_dates(tmp_path: Path) -> None:
    """整改's 评价日期 and 整改期限 are Excel dates (numbers formatted yyyy-mm-dd), as 明细's dates are,
    not text: each reads back as the report's date."""
    from datetime import date, datetime

    import openpyxl

    from qi_station.reports.writers import write_report

    report = load_fixture()
    open_rows = report["rectification"]["open"]
    out = write_report(report, "xlsx", tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(out)["整改"]
    assert [c.value for c in ws[1]][4:6] == ["评价日期", "整改期限"]
    rows = list(ws.iter_rows(min_row=2))
    assert len(rows) == len(open_rows)
    for cells, r in zip(rows, open_rows, strict=True):
        for cell, key in ((cells[4], "rated_on"), (cells[5], "due")):
            assert isinstance(cell.value, datetime), (cell.coordinate, cell.value)
            assert cell.number_format == "yyyy-mm-dd"
            assert cell.value.date() == date.fromisoformat(r[key])
    assert isinstance(rows[0][0].value, str)  # the request number stays text
    assert ws.column_dimensions["E"].width >= 12 and ws.column_dimensions["F"].width >= 12


def test_xlsx_indicator_definitions_in_chinese(tmp_path: Path) -> None:
    """指标's 定义 column names each figure in Chinese (``labels.definition_label``); English keeps the
    figure names."""
    import openpyxl

    from qi_station.reports.labels import definition_label
    from qi_station.reports.writers import write_report

    assert definition_label("element_metrology / received * 100", "zh") == "计量需求数 ÷ 登记需求数 × 100"
    assert definition_label("referrals_equipment", "en") == "referrals_equipment"
    out = write_report(load_fixture(), "xlsx", tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(out)["指标"]
    defs = [r[6] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert defs and all(d and not any("a" <= ch <= "z" for ch in d) for d in defs), defs


def test_xlsx_rows_keep_types_apart_and_refuse_nul() -> None:
    """``True == 1 == 1.0``: a column mixing booleans and numbers is not served from one cache entry;
    ragged rows leave no cell where a row is short; NUL (the row-number mark) is refused."""
    import io
    import xml.etree.ElementTree as ET

    from qi_station.reports.writers import formula_like, formula_like_texts
    from qi_station.reports.xlsx_rows import _write_rows

    rows: list[list[Any]] = [
        [1, True, "1", 1.5, "=x"],
        [True, 1, 1.0, None],
        [False, 0, "a b ", " "],
        [],
    ] * 300
    buf = io.BytesIO()
    _write_rows(buf, rows, 2, "7", formula_like, None, formula_like_texts)
    root = ET.fromstring(b"<d>" + buf.getvalue() + b"</d>")
    got = root.findall("row")
    assert len(got) == 1200 and got[-1].get("r") == "1201"
    for i in [*range(8), *range(1192, 1200)]:
        row, want = got[i], rows[i]
        cells = row.findall("c")
        assert [c.get("r") for c in cells] == [
            f"{'ABCDE'[j]}{i + 2}" for j, v in enumerate(want) if v is not None
        ]
        for c, v in zip(cells, [v for v in want if v is not None], strict=True):
            if isinstance(v, bool):
                assert (c.get("t"), c.findtext("v")) == ("b", str(int(v)))
            elif isinstance(v, int | float):
                assert (c.get("t"), float(c.findtext("v") or "nan")) == ("n", v)
            else:
                assert (c.get("t"), c.findtext("is/t")) == ("inlineStr", v)
                assert (c.get("s") == "7") == formula_like(v)
    buf = io.BytesIO()  # NUL (the row-number mark) and other control characters: U+FFFD, never a crash
    _write_rows(buf, [["ok"]] * 600 + [["a\x00b", "c\x07"]], 2, "7", formula_like, None, formula_like_texts)
    last = ET.fromstring(b"<d>" + buf.getvalue() + b"</d>").findall("row")[-1]
    assert [c.findtext("is/t") for c in last.findall("c")] == ["a\ufffdb", "c\ufffd"]
    assert last.get("r") == "602"


def test_xlsx_rows_distinct_texts_column() -> None:
    """A column whose texts are all new each chunk is made in a batch without the cache: escapes,
    outer spaces (``xml:space``), formula-like text (quote prefix) and empty text as cell by cell."""
    import io
    import xml.etree.ElementTree as ET

    from qi_station.reports.writers import formula_like, formula_like_texts
    from qi_station.reports.xlsx_rows import _write_rows

    kinds = ("=x{}", " sp{} ", "a&<>{}", "t{}", "+{}", "{}")
    texts = ["" if i == 1700 else kinds[i % len(kinds)].format(i) for i in range(2000)]
    buf = io.BytesIO()
    _write_rows(buf, [[t, 1] for t in texts], 2, "7", formula_like, None, formula_like_texts)
    space = "{http://www.w3.org/XML/1998/namespace}space"
    for row, t in zip(ET.fromstring(b"<d>" + buf.getvalue() + b"</d>").findall("row"), texts, strict=True):
        c = row.find("c")
        assert c is not None and c.get("t") == "inlineStr"
        assert (c.findtext("is/t") or "") == t
        assert (c.get("s") == "7") == formula_like(t)
        el = c.find("is/t")
        assert (el is not None and el.get(space) == "preserve") == (t != t.strip() and bool(t.strip()))


def test_xlsx_date_column_numbers_equal_the_serial() -> None:
    """明细's times are made a column at a time from texts (day number + time-of-day fraction): every
    second of a day gives the number :func:`excel_serial` gives (to a third of a millisecond, so a
    reader gets the second back), dates give whole days, other shapes go cell by cell (a number when
    ISO-8601 reads them, else text, formula-like text quoted), None leaves no cell."""
    import io
    import xml.etree.ElementTree as ET

    from qi_station.reports.writers import formula_like, formula_like_texts
    from qi_station.reports.xlsx_rows import _write_rows, excel_serial

    times = [f"2026-01-31T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+08:00" for s in range(0, 86400, 7)]
    odd = ["2026-01-31", "2026-01-31T23:30:00.250+08:00", "2026-01-31 23:30:00", "not a date", "=1+1", None]
    values = times + odd + ["2026-02-30", "2026-02-01T24:00:00+08:00"]
    buf = io.BytesIO()
    _write_rows(buf, [[v] for v in values], 2, "7", formula_like, None, formula_like_texts, {"A": "9"}, [0])
    rows = ET.fromstring(b"<d>" + buf.getvalue() + b"</d>").findall("row")
    assert len(rows) == len(values)
    for row, v in zip(rows, values, strict=True):
        c = row.find("c")
        if v is None:
            assert c is None
            continue
        assert c is not None
        serial = excel_serial(v)
        if serial is None:
            assert (c.get("t"), c.findtext("is/t"), c.get("s") == "7") == ("inlineStr", v, formula_like(v))
        else:
            assert c.get("t") == "n" and c.get("s") == "9", v
            assert abs(float(c.findtext("v") or "nan") - serial) < 1e-10, v
    assert excel_serial("2026-01-31") == 46053.0
    assert abs((excel_serial("2026-01-31T23:30:00+08:00") or 0) - (46053 + 23.5 / 24)) < 1e-9
    assert excel_serial("2026-02-30") is None
