"""Report writers: xlsx (openpyxl, native chart), CSV (utf-8-sig), JSON, Markdown.

Every file is written atomically: a temporary file in the target directory, then ``os.replace``.
Headers are Chinese by default, English with ``lang="en"``. Nothing is ever truncated.

Formula-safe: text that a spreadsheet would run as a formula (``formula_like``: it begins with ``=``,
``+``, ``-``, ``@``, tab or CR) is written as text in xlsx (string cell with the quote prefix) and
neutralised in CSV (a leading ``'``, the OWASP rule). Numbers stay numbers; JSON and Markdown keep the
text as it is (Markdown escapes ``|`` and line breaks as before).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter, methodcaller
from pathlib import Path
from typing import IO, Any

from qi_station.core import domain
from qi_station.core.clock import local_minutes
from qi_station.core.validate import neutralise
from qi_station.reports.figures import DETAIL_DATETIME_FIELDS
from qi_station.reports.labels import (
    DETAIL_LABELS,
    GROUPS,
    HEADLINE,
    MONEY_KEYS,
    RATE_KEYS,
    SERIES_KEYS,
    channel_label,
    city_label,
    county_place_label,
    element_label,
    fig_label,
    group_name,
    headline_values,
    lang_index,
    status_label,
    word,
)
from qi_station.reports.sections import (
    INDICATOR_UNIT,
    INDICATOR_VALUE,
    RECTIFY_COLUMNS,
    breakdown_rows,
    change_text,
    csv_time,
    extra_tables,
    figure_format,
    figure_text,
    indicator_cell,
    indicator_header,
    indicator_text,
    money_cell,
    percent_text,
)

FORMATS = ("xlsx", "csv", "json", "md")
Progress = Callable[[int, int], None]  # (done, total) of the details rows
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


_formula_start = methodcaller("startswith", FORMULA_STARTS)


def formula_like(v: Any) -> bool:
    """THE rule for spreadsheet cells: text a spreadsheet would evaluate (a title typed as
    ``=WEBSERVICE(...)``, ``+1``, ``@SUM(1)``...). Only text: a negative number is a number."""
    return isinstance(v, str) and _formula_start(v)


#: an E.164 phone number (``+8653188886666``) or a rate's change in percentage points (``+3.2 个百分点``,
#: ``-1.5 pp``: ``sections.points_text``): formula-like by the sign, nothing to run after it
_CONSTANT = re.compile(r"\+[1-9][0-9]{6,14}|[+-][0-9]+\.[0-9]+ (个百分点|pp)")
#: a negative number as text -- a money change ``-30.34`` (``sections.money_cell``), a negative
#: percentage ``-7.85%`` (``sections.percent_text``): Excel reads a number, nothing to run
_NEGATIVE = re.compile(r"-[0-9]+(\.[0-9]+)?%?")


def csv_text(v: Any) -> Any:
    """THE form of a value in a CSV for Excel: formula-like text (:func:`formula_like`) gets a leading
    ``'`` (OWASP), except an E.164 phone number and a rate's change in percentage points
    (``+3.2 个百分点``), written as the text formula ``="+8653188886666"`` (a constant: nothing to
    inject), which Excel shows as ``+8653188886666`` -- with a ``'`` it showed the apostrophe, bare it
    read a formula and showed 8.65E+12. A negative number as text (``-30.34``, a money change;
    ``-7.85%``) is no formula: as it is, as a negative whole number.
    Other values as they are."""
    if not formula_like(v) or _NEGATIVE.fullmatch(v):
        return v
    return f'="{v}"' if _CONSTANT.fullmatch(v) else "'" + v


def formula_like_texts(texts: Iterable[str]) -> Iterator[bool]:
    """:func:`formula_like` of each of many ``str`` (the same test, mapped without a Python call per
    text: the xlsx writer asks it of every distinct text of a month's 明细)."""
    return map(_formula_start, texts)


def detail_header(report: dict[str, Any], lang: str) -> list[str]:
    return [DETAIL_LABELS[k][lang_index(lang)] for k in _detail_keys(report)]


def _detail_keys(report: dict[str, Any]) -> list[str]:
    det = report.get("details") or []
    return list(det[0].keys()) if det else list(DETAIL_LABELS)


def detail_values(report: dict[str, Any], lang: str) -> Iterator[list[Any]]:
    """Details rows as display values (labels for codes, 登记人 of a request with no staff member
    recorded as the station default ``labels.WORDS["no_staff"]``; every field, nothing cut). A month has
    thousands of rows over a few dozen codes: each code's label is looked up once (``memo``)."""
    keys = _detail_keys(report)
    sep = ", " if lang == "en" else "、"

    def elements(v: Any) -> Any:
        return sep.join(element_label(e, lang) for e in v or [])

    def urgency(v: Any) -> Any:
        return v if lang == "en" else domain.URGENCY_ZH.get(v, v)

    yes_no = ("yes", "no") if lang == "en" else ("是", "否")
    convert: dict[str, Callable[[Any], Any]] = {
        "status": lambda v: status_label(v, lang),
        "channel": lambda v: channel_label(v, lang) if v else v,
        "urgency": lambda v: urgency(v) if v else v,
        "enterprise_city": lambda v: city_label(v, lang) if v else v,
        # a city's code: its 市本级 (an enterprise registered at city level; core.places.breakdown_name)
        "enterprise_county": lambda v: county_place_label(v, lang) if v else v,
        "operator": lambda v: v or word("no_staff", lang),  # never a blank 登记人
    }
    memos: list[tuple[int, Callable[[Any], Any], dict[Any, Any]]] = [
        (i, convert[k], {}) for i, k in enumerate(keys) if k in convert
    ]
    el = keys.index("elements") if "elements" in keys else -1
    rim = keys.index("received_in_month") if "received_in_month" in keys else -1
    joined: dict[tuple[Any, ...], str] = {}
    take = itemgetter(*keys) if keys else (lambda d: ())
    for d in report.get("details") or []:
        try:
            got = take(d)
        except KeyError:  # a row without some field: None there
            got = tuple(d.get(k) for k in keys)
        row = [got] if len(keys) == 1 else list(got)
        for i, conv, memo in memos:
            v = row[i]
            try:
                row[i] = memo[v]
            except KeyError:
                row[i] = memo[v] = conv(v)
            except TypeError:  # not hashable: converted every time
                row[i] = conv(v)
        if el >= 0:
            v = row[el]
            key = tuple(v) if v else ()
            label = joined.get(key)
            row[el] = joined[key] = elements(v) if label is None else label
        if rim >= 0:
            row[rim] = yes_no[0] if row[rim] else yes_no[1]
        yield row


def _station_title(report: dict[str, Any], lang: str = "zh") -> str:
    st = report.get("station") or {}
    if lang == "en":
        return f"{st.get('name', '')} ({st.get('code', '')})"
    return f"{st.get('name', '')}（{st.get('code', '')}）"


# ---- atomic files ----------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(out: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``out``; on success it replaces ``out`` atomically. The temporary
    files a killed run left beside ``out`` are swept first (``services.tempfiles``: only those no writer
    holds)."""
    from qi_station.services.tempfiles import held_temp

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with held_temp(out, ".tmp") as tmp:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, out)


@contextlib.contextmanager
def atomic_text(out: Path, encoding: str = "utf-8", newline: str | None = None) -> Iterator[IO[str]]:
    with atomic_path(out) as tmp, open(tmp, "w", encoding=encoding, newline=newline) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


# ---- JSON ------------------------------------------------------------------------------------------
#: the mark every report and indicator export carries (JSON key ``generator``; xlsx custom document
#: property ``generator``): what ``--force`` may replace is a file that carries it (:func:`is_report_file`)
GENERATOR = "qi-station"


def generator_mark() -> str:
    from qi_station import __version__

    return f"{GENERATOR} {__version__}"


def mark_workbook(wb: Any) -> None:
    """Put the generator mark in the workbook's custom document properties (docProps/custom.xml)."""
    from openpyxl.packaging.custom import StringProperty

    wb.custom_doc_props.append(StringProperty(name="generator", value=generator_mark()))


def _marked(got: object) -> bool:
    return isinstance(got, dict) and str(got.get("generator") or "").split(" ", 1)[0] == GENERATOR


def render_json(report: dict[str, Any]) -> str:
    return (
        json.dumps({"generator": generator_mark(), **report}, ensure_ascii=False, indent=2, default=str)
        + "\n"
    )


# ---- CSV -------------------------------------------------------------------------------------------
def write_csv(report: dict[str, Any], f: IO[str], lang: str = "zh", progress: Progress | None = None) -> None:
    """Sections: headline figures, (hub) cities and stations, breakdowns, details. Blank line between.
    One convention for Excel: every rate and % indicator as percent text (``sections.percent_text``:
    ``94.44%``), every time as local ``YYYY-MM-DD HH:MM:SS`` (``sections.csv_time``); the JSON keeps
    fractions and ISO-8601."""
    w = _SafeWriter(csv.writer(f, lineterminator="\r\n"))
    w.writerow([word("title", lang), report.get("month"), _station_title(report, lang)])
    w.writerow([word("generated_at", lang), csv_time(report.get("generated_at"))])
    w.writerow([word("data_as_of", lang), csv_time(report.get("data_as_of"))])
    if report.get("demo_excluded"):
        w.writerow([word("demo_excluded", lang), report["demo_excluded"]])
    w.writerow([])
    w.writerow(
        [
            word("figure", lang),
            word("value", lang),
            word("previous", lang),
            word("delta", lang),
            word("ytd", lang),
        ]
    )

    def fig(k: str, v: Any) -> Any:
        return _cell(figure_text(k, v))

    change, ytd = report.get("change") or {}, report.get("year_to_date") or {}
    for k, v in headline_values(report).items():
        c = change.get(k) or {}
        w.writerow(
            [
                fig_label(k, lang),
                fig(k, v),
                fig(k, c.get("previous")),
                _cell(change_text(k, c.get("delta"), lang)),
                fig(k, ytd.get("satisfaction_rate" if k == "rate" else k)),
            ]
        )
    for group in GROUPS:
        if report.get(group):
            w.writerow([])
            w.writerow([word(group, lang), *[fig_label(k, lang) for k in HEADLINE]])
            for g in report[group]:
                vals = headline_values(g)
                w.writerow([group_name(group, g, lang), *[fig(k, vals[k]) for k in HEADLINE]])
    w.writerow([])
    w.writerow([word("category", lang), word("item", lang), word("count", lang)])
    for row in breakdown_rows(report, lang):
        w.writerow(row)
    for title, header, rows in extra_tables(report, lang):
        if header == indicator_header(lang):  # a % indicator as percent text, money with 2 decimals
            rows = [_indicator_text(r) for r in rows]
        w.writerows([[], [title], header, *[[_cell(v) for v in r] for r in rows]])
    w.writerow([])
    w.writerow(detail_header(report, lang))
    times = [i for i, k in enumerate(_detail_keys(report)) if k in DETAIL_DATETIME_FIELDS]
    money = [i for i, k in enumerate(_detail_keys(report)) if k in MONEY_KEYS]
    total = len(report.get("details") or [])
    for i, drow in enumerate(detail_values(report, lang), start=1):
        for j in times:
            drow[j] = csv_time(drow[j])
        for j in money:
            drow[j] = money_cell(drow[j])
        w.writerow([_cell(v) for v in drow])
        if progress and (i % 2000 == 0 or i == total):
            progress(i, total)


def _indicator_text(row: list[Any]) -> list[Any]:
    """An indicator row with its value as text (``sections.indicator_text``)."""
    row = [*row]
    row[INDICATOR_VALUE] = indicator_text(row[INDICATOR_VALUE], row[INDICATOR_UNIT])
    return row


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return int(v)
    return v


def _shown(v: Any) -> Any:
    """Stored text as every writer puts it out: control characters (an old ledger, a hub note) as
    U+FFFD (``core.validate.neutralise``); newline and tab kept. Other values as they are."""
    return neutralise(v) if isinstance(v, str) else v


class _SafeWriter:
    """Every CSV row goes through here: formula-like text as :func:`csv_text` makes it safe; control
    characters become U+FFFD (:func:`_shown`)."""

    def __init__(self, w: Any) -> None:
        self.w = w

    def writerow(self, row: Iterable[Any]) -> None:
        shown = (
            v if v.__class__ is not str or v.isprintable() else neutralise(v) for v in row
        )  # _shown inline
        self.w.writerow([csv_text(v) for v in shown])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


# ---- Markdown --------------------------------------------------------------------------------------
def _md(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v)) if abs(v) < 1e15 else str(v)
    s = str(v).replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return neutralise(s)  # control characters of stored text (an old ledger) as U+FFFD


def render_markdown(report: dict[str, Any], lang: str = "zh") -> str:
    out: list[str] = []
    out.append(f"# {word('title', lang)} · {report.get('month')} · {_station_title(report, lang)}")
    out.append("")
    out.append(
        f"{word('generated_at', lang)}: {csv_time(report.get('generated_at'))} · "
        f"{word('data_as_of', lang)}: {csv_time(report.get('data_as_of')) or '—'}"
    )
    if report.get("demo_excluded"):
        out.append("")
        out.append(f"{word('demo_excluded', lang)}: {report['demo_excluded']}")
    out.append("")
    change, ytd = report.get("change") or {}, report.get("year_to_date") or {}
    out.append(
        f"| {word('figure', lang)} | {word('value', lang)} | {word('previous', lang)} | "
        f"{word('delta', lang)} | {word('ytd', lang)} |"
    )
    out.append("|---|---:|---:|---:|---:|")
    for k, v in headline_values(report).items():
        c = change.get(k) or {}
        if k in RATE_KEYS:
            vals = [  # 按期办结率, 回访率: previous month and year to date (quality.earlier_rates)
                _pct(v),
                _pct(c.get("previous")) if c else "—",
                _md(change_text(k, c.get("delta"), lang)) if c else "—",
                _pct(ytd.get("satisfaction_rate" if k == "rate" else k)),
            ]
        else:
            vals = [
                _md(figure_text(k, v)),
                _md(figure_text(k, c.get("previous"))) if c else "—",
                _signed(change_text(k, c.get("delta"), lang)) if c else "—",
                _md(figure_text(k, ytd.get(k))) if k in ytd else "—",
            ]
        out.append(f"| {fig_label(k, lang)} | " + " | ".join(vals) + " |")
    # plain two-column copy (easy to grep / paste into a sentence)
    for group in GROUPS:
        if report.get(group):
            out.append("")
            out.append(f"## {word(group, lang)}")
            out.append("")
            out.append(f"| {word(group, lang)} | " + " | ".join(fig_label(k, lang) for k in HEADLINE) + " |")
            out.append("|---|" + "---:|" * len(HEADLINE))
            for g in report[group]:
                name = group_name(group, g, lang)
                hv = headline_values(g)
                out.append(
                    f"| {_md(name)} | " + " | ".join(_md(figure_text(k, hv[k])) for k in HEADLINE) + " |"
                )
    out.append("")
    out.append(f"## {word('breakdowns', lang)}")
    out.append("")
    rows = breakdown_rows(report, lang)
    cats = list(dict.fromkeys(r[0] for r in rows))
    for cat in cats:
        out.append(f"### {cat}")
        out.append("")
        out.append(f"| {word('item', lang)} | {word('count', lang)} |")
        out.append("|---|---:|")
        for _c, item, n in (r for r in rows if r[0] == cat):
            out.append(f"| {_md(item)} | {n} |")
        out.append("")
    for title, header, trows in extra_tables(report, lang):
        if header == indicator_header(lang):  # as the CSV writes them (sections.indicator_text)
            trows = [_indicator_text(r) for r in trows]
        out += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(_md(v) for v in r) + " |" for r in trows] + [""]
    out.append(f"## {word('series', lang)}")
    out.append("")
    out.append(f"| {word('month', lang)} | " + " | ".join(fig_label(k, lang) for k in SERIES_KEYS) + " |")
    out.append("|---|" + "---:|" * len(SERIES_KEYS))
    for s in report.get("series") or []:
        out.append(f"| {s['month']} | " + " | ".join(_md(s[k]) for k in SERIES_KEYS) + " |")
    out.append("")
    out.append(f"## {word('details_note', lang)}")
    out.append("")
    keys = ("number", "enterprise_name", "elements", "received_at", "status", "resolved_at")
    out.append("| " + " | ".join(DETAIL_LABELS[k][lang_index(lang)] for k in keys) + " |")
    out.append("|" + "---|" * len(keys))
    for d in report.get("details") or []:
        cells = []
        for k in keys:
            v = d.get(k)
            if k == "elements":
                v = "、".join(element_label(e, lang) for e in v or [])
            elif k == "status":
                v = status_label(v, lang)
            elif k in ("received_at", "resolved_at"):  # as request show gives them; json keeps ISO
                v = local_minutes(v) or None
            cells.append(_md(v))
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)


def _pct(v: Any) -> str:
    return "—" if v is None else str(percent_text(v))


def _signed(v: Any) -> str:
    if v is None:
        return "—"
    s = _md(v)
    return s if s.startswith("-") or not s.strip("0.") else f"+{s}"  # 0 and 0.00 unsigned


# ---- xlsx ------------------------------------------------------------------------------------------
def write_xlsx(
    report: dict[str, Any], path: Path, lang: str = "zh", progress: Progress | None = None
) -> None:
    """概览 (headline + 12-month chart), 分类 (breakdowns), 明细 (every detail row); openpyxl write-only
    mode for all but 明细's rows, which :func:`qi_station.reports.xlsx_rows.splice_rows` streams."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    mark_workbook(wb)
    bold = Font(bold=True)

    def text(c: Any) -> Any:
        """Formula-like text stays text: a string cell with Excel's quote prefix (not a formula)."""
        if formula_like(c.value):
            c.data_type = "s"
            c.quotePrefix = True
        return c

    def hdr(ws: Any, values: list[Any]) -> list[Any]:
        cells = []
        for v in map(_shown, values):
            c = WriteOnlyCell(ws, value=v)
            c.font = bold
            cells.append(text(c))
        return cells

    def safe(ws: Any, values: Iterable[Any]) -> list[Any]:
        return [text(WriteOnlyCell(ws, value=v)) if formula_like(v) else v for v in map(_shown, values)]

    # 概览
    ov = wb.create_sheet(word("overview", lang))
    ov.column_dimensions["A"].width = 26
    for col in "BCDE":
        ov.column_dimensions[col].width = 14
    ov.append(hdr(ov, [word("title", lang), report.get("month")]))
    ov.append(safe(ov, [word("station", lang), _station_title(report, lang)]))
    ov.append(safe(ov, [word("generated_at", lang), csv_time(report.get("generated_at"))]))
    ov.append(safe(ov, [word("data_as_of", lang), csv_time(report.get("data_as_of"))]))
    if report.get("demo_excluded"):
        ov.append([word("demo_excluded", lang), report["demo_excluded"]])
    ov.append([])
    ov.append(
        hdr(
            ov,
            [
                word("figure", lang),
                word("value", lang),
                word("previous", lang),
                word("delta", lang),
                word("ytd", lang),
            ],
        )
    )
    change, ytd = report.get("change") or {}, report.get("year_to_date") or {}
    fmt = {k: f for k in HEADLINE if (f := figure_format(k))}
    for k, v in headline_values(report).items():
        c = change.get(k) or {}
        row: list[Any] = [
            fig_label(k, lang),
            v,
            c.get("previous"),
            c.get("delta"),
            ytd.get("satisfaction_rate" if k == "rate" else k),
        ]
        if k in RATE_KEYS:  # a rate's change: text in percentage points, as the CSV writes it
            row[3] = change_text(k, row[3], lang)
        if k in fmt:
            cells: list[Any] = safe(ov, [row[0]])
            for value in row[1:]:
                if isinstance(value, str):
                    cells.extend(safe(ov, [value]))
                    continue
                cell = WriteOnlyCell(ov, value=value)
                cell.number_format = fmt[k]
                cells.append(cell)
            row = cells
        ov.append(safe(ov, row))
    ov.append([])
    series = report.get("series") or []
    # title block 5 rows (6 with the demo line), header, figures, blank, series title
    first_row = 6 + bool(report.get("demo_excluded")) + len(HEADLINE) + 3
    ov.append(hdr(ov, [word("series", lang)]))
    ov.append(hdr(ov, [word("month", lang), *[fig_label(k, lang) for k in SERIES_KEYS]]))
    for s in series:
        ov.append(safe(ov, [s["month"], *[s[k] for k in SERIES_KEYS]]))
    if series:
        header_row = first_row
        last = header_row + len(series)
        bar = BarChart()
        bar.type = "col"
        bar.title = f"{word('series', lang)} · {_station_title(report, lang)}"
        bar.y_axis.title = word("count", lang)
        bar.x_axis.title = word("month", lang)
        data = Reference(ov, min_col=2, max_col=4, min_row=header_row, max_row=last)
        cats = Reference(ov, min_col=1, min_row=header_row + 1, max_row=last)
        bar.add_data(data, titles_from_data=True)
        bar.set_categories(cats)
        line = LineChart()
        line.add_data(
            Reference(ov, min_col=7, max_col=7, min_row=header_row, max_row=last), titles_from_data=True
        )
        for axis in (bar.x_axis, bar.y_axis, line.y_axis):
            axis.delete = False  # openpyxl 3.1 hides axes by default in newer Excel otherwise
        bar += line
        bar.width, bar.height = 24, 10
        ov.add_chart(bar, "G2")

    # the tables below: header by openpyxl, rows streamed into the saved package (reports/xlsx_rows.py)
    import io

    from qi_station.reports.xlsx_rows import probe, splice_rows

    later: dict[str, Any] = {}
    dates: dict[str, list[int]] = {}  # probe -> its columns of ISO-8601 texts written as Excel date-times

    def table(
        ws: Any,
        header: list[Any],
        rows: Sequence[Sequence[Any]] | Iterable[Sequence[Any]],
        formats: dict[int, str] | None = None,
        count: int | None = None,
        freeze: str = "A2",
    ) -> None:
        """``formats``: column index -> number format; the probe row carries a cell of that format in
        the column, and every number written there takes its style (``splice_rows``). Every list
        sheet gets its header frozen and an autofilter over the header and its ``count`` rows
        (:func:`list_sheet`; ``count``: ``len(rows)`` unless given)."""
        list_sheet(ws, len(header), len(rows) if count is None else count, freeze)  # type: ignore[arg-type]
        ws.append(hdr(ws, header))
        mark = probe(len(later))
        styled: list[Any] = safe(ws, [mark])
        for i in range(1, max(formats or {0: ""}) + 1):
            fmt = (formats or {}).get(i)
            cell = None
            if fmt:
                cell = WriteOnlyCell(ws, value=0)
                cell.number_format = fmt
            styled.append(cell)
        ws.append(styled)
        later[mark] = rows

    # 分类
    cat = wb.create_sheet(word("breakdowns", lang))
    cat.column_dimensions["A"].width = 22
    cat.column_dimensions["B"].width = 30
    table(
        cat, [word("category", lang), word("item", lang), word("count", lang)], breakdown_rows(report, lang)
    )
    for group in GROUPS:
        if report.get(group):
            header = [word(group, lang), *[fig_label(k, lang) for k in HEADLINE]]
            table(wb.create_sheet(word(group, lang)), header, list(_group_rows(report, group, lang)))
    for title, header, xrows in extra_tables(report, lang):  # 整改, 指标
        ws = wb.create_sheet(title)
        if title != word("indicators", lang):
            # 整改: 评价日期 and 整改期限 as Excel dates, like 明细's (XLSX_RECTIFY_DATES)
            from openpyxl.utils import get_column_letter

            cols = [RECTIFY_COLUMNS.index(k) for k in XLSX_RECTIFY_DATES]
            for i in cols:  # wide enough for the date (a narrow one shows ####)
                ws.column_dimensions[get_column_letter(i + 1)].width = DETAIL_WIDTHS["promised_date"]
            table(ws, header, xrows, {i: XLSX_RECTIFY_DATES[RECTIFY_COLUMNS[i]] for i in cols})
            dates[probe(len(later) - 1)] = cols
            continue
        # 指标: a few dozen rows, each value with its own format (a percentage as 0.0%): cell by cell
        list_sheet(ws, len(header), len(xrows))
        ws.append(hdr(ws, header))
        for r in xrows:
            value, value_fmt = indicator_cell(r[INDICATOR_VALUE], r[INDICATOR_UNIT])
            row_cells: list[Any] = safe(ws, r)
            if value_fmt:
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = value_fmt
                row_cells[INDICATOR_VALUE] = cell
            ws.append(row_cells)

    # 明细
    from openpyxl.utils import get_column_letter

    det = wb.create_sheet(word("details", lang))
    keys, header = _detail_keys(report), detail_header(report, lang)
    for i, (k, label) in enumerate(zip(keys, header, strict=True)):
        det.column_dimensions[get_column_letter(i + 1)].width = detail_width(k, label)
    formats = {i: XLSX_DETAIL_FORMATS[k] for i, k in enumerate(keys) if k in XLSX_DETAIL_FORMATS}
    # frozen: the header and the number
    table(det, header, detail_values(report, lang), formats, len(report.get("details") or []), "B2")
    dates[probe(len(later) - 1)] = [i for i, k in enumerate(keys) if k in XLSX_DETAIL_DATES]
    buf = io.BytesIO()
    wb.save(buf)
    total = len(report.get("details") or [])
    on_row = (lambda i: progress(i, total)) if progress else None
    splice_rows(
        buf.getvalue(),
        Path(path),
        later,
        formula_like,
        {probe(len(later) - 1): on_row},
        formula_like_texts,
        dates,
    )


#: the 明细 columns written as Excel dates and times (numbers with a date format, so they sort, filter
#: and compute as dates: ``xlsx_rows.excel_serial``); the other writers keep ISO-8601 text
XLSX_DETAIL_DATES: dict[str, str] = {
    **dict.fromkeys(DETAIL_DATETIME_FIELDS, "yyyy-mm-dd hh:mm"),
    "promised_date": "yyyy-mm-dd",
}
#: the 整改 columns written as Excel dates (``sections.RECTIFY_COLUMNS`` keys), as 明细's are
XLSX_RECTIFY_DATES: dict[str, str] = {"rated_on": "yyyy-mm-dd", "due": "yyyy-mm-dd"}
#: every 明细 column with a number format (the dates, then money)
XLSX_DETAIL_FORMATS: dict[str, str] = {**XLSX_DETAIL_DATES, "fee_yuan": "0.00"}


def list_sheet(ws: Any, columns: int, rows: int, freeze: str = "A2") -> None:
    """A list sheet of the xlsx (分类, 整改, 指标, 明细 …): its header row frozen (``freeze``: the first
    cell not frozen) and an autofilter over the header and its ``rows`` rows (set before the first row
    is written: write-only sheets write the panes with it)."""
    from openpyxl.utils import get_column_letter

    ws.freeze_panes = freeze
    ws.auto_filter.ref = f"A1:{get_column_letter(max(1, columns))}{rows + 1}"


#: 明细 column widths (Excel's character units; a Chinese character takes about two)
DETAIL_WIDTHS: dict[str, float] = {
    **dict.fromkeys(DETAIL_DATETIME_FIELDS, 17),
    "promised_date": 12,
    "number": 22,
    "enterprise_name": 30,
    "enterprise_uscc": 21,
    "elements": 20,
    "title": 30,
    "description": 40,
    "result": 30,
    "followup_note": 30,
    "hub_note": 24,
    "phone_display": 16,
    "phone_e164": 16,
    "id": 38,
    "enterprise_id": 38,
}


def detail_width(key: str, label: str) -> float:
    """The 明细 column's width: its own (:data:`DETAIL_WIDTHS`), else wide enough for its header (two
    units per Chinese character), at least 10."""
    head = sum(2 if ord(ch) > 0x2E80 else 1 for ch in label) + 2
    return max(DETAIL_WIDTHS.get(key, 10), head)


def _group_rows(report: dict[str, Any], group: str, lang: str) -> Iterator[list[Any]]:
    for g in report[group]:
        vals = headline_values(g)
        yield [group_name(group, g, lang), *[vals[k] for k in HEADLINE]]


# ---- entry point -----------------------------------------------------------------------------------
def is_report_file(path: Path) -> bool:
    """Does the file at ``path`` hold a report or indicator export this program wrote (what ``--force``
    may replace)? JSON: an object whose ``generator`` is qi-station's; xlsx: a workbook whose custom
    document property ``generator`` is qi-station's (a sheet named 概览 or keys named month and station
    are not enough: a user's own file may have them); text (md, csv, the indicator table): a first line
    that is the report's or the indicators' title, in either language."""
    import re
    import zipfile

    names = [word(k, lang) for k in ("title", "overview", "indicators") for lang in ("zh", "en")]
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
        if head.startswith(b"PK"):
            with zipfile.ZipFile(path) as z:
                custom = z.read("docProps/custom.xml").decode("utf-8", "replace")
            found = re.search(
                r'<property[^>]*name="generator"[^>]*>\s*<vt:lpwstr>([^<]*)</vt:lpwstr>', custom
            )
            return found is not None and found.group(1).split(" ", 1)[0] == GENERATOR
        text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
        if text.startswith(("{", "[")):
            with open(path, encoding="utf-8-sig") as f:
                got = json.load(f)
            return _marked(got)
        first = text.split("\n", 1)[0].rstrip("\r")
        if first in (",".join(indicator_header(lang)) for lang in ("zh", "en")):  # the indicators' csv
            return True
        first = first.lstrip("# ")
        return any(first.startswith((f"{n},", f"{n} ·")) for n in (names[0], names[1], names[4], names[5]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return False


def check_report_out(
    out: Path,
    fmt: str,
    *,
    force: bool = False,
    default_name: str | None = None,
    protect: Iterable[Path | None] = (),
) -> Path:
    """May a report be written to ``out`` (the path to write)? :func:`write_report`'s check, which the
    app also asks before computing the report: an existing file is asked about at once (``FileExists``),
    not once the report is computed."""
    from qi_station.services.files import check_out

    return check_out(out, fmt, force=force, default_name=default_name, protect=protect, ours=is_report_file)


def write_report(
    report: dict[str, Any],
    fmt: str,
    out: Path,
    lang: str = "zh",
    progress: Progress | None = None,
    *,
    force: bool = False,
    default_name: str | None = None,
    protect: Iterable[Path | None] = (),
) -> Path:
    """Write ``report`` as ``fmt`` to ``out`` atomically; returns the path written. ``out`` is checked
    first by :func:`qi_station.services.files.check_out` (a directory gets ``default_name``; an existing
    file needs ``force`` and the same kind; a database, ``protect`` above all, is never written over)."""
    if fmt in FORMATS:
        out = check_report_out(out, fmt, force=force, default_name=default_name, protect=protect)
    if fmt == "xlsx":
        with atomic_path(out) as tmp:
            write_xlsx(report, tmp, lang, progress)
    elif fmt == "csv":
        with atomic_text(out, encoding="utf-8-sig", newline="") as f:
            write_csv(report, f, lang, progress)
    elif fmt == "json":
        with atomic_text(out) as f:
            f.write(render_json(report))
    elif fmt == "md":
        with atomic_text(out) as f:
            f.write(render_markdown(report, lang))
    else:
        from qi_station.core.errors import ValidationError

        raise ValidationError("format", "choice", f"format must be one of {', '.join(FORMATS)} / 格式无效")
    return out
