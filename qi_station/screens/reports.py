"""Reports: a month's figures and the export of the monthly summary file.

The figures on screen are the exported file's figures: the worker computes the report with
``qi_station.reports.figures.monthly_report`` (the same call as the export and ``report monthly``) and
each figure is named by ``qi_station.reports.labels`` (the file's wording). Thread workers only compute
and post a message; the handlers (UI thread) update the widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static

from qi_station.core import domain
from qi_station.core.months import current_month, shift_month
from qi_station.i18n import element_name, get_lang, t
from qi_station.reports.labels import HEADLINE, fig_label, headline_values, word
from qi_station.reports.sections import figure_text
from qi_station.screens.base import MainScreen, brief, error_message
from qi_station.screens.bindings import bindings
from qi_station.screens.dialogs import ConfirmDialog


def _value(key: str, v: Any) -> str:
    """A headline figure as the export writes it (``sections.figure_text``); a count with thousands
    separators."""
    if v is None:
        return "-"
    shown = figure_text(key, v)
    return f"{shown:,}" if isinstance(shown, int) and not isinstance(shown, bool) else str(shown)


def summary_parts(report: dict[str, Any], lang: str) -> list[str]:
    """The headline figures of a monthly report as "label value" (the export's labels), in the file's order."""
    values = headline_values(report)
    parts = [f"{fig_label(k, lang)} {_value(k, values[k])}" for k in HEADLINE]
    if report.get("demo_excluded"):  # the files' line too (reports.writers)
        parts.append(f"{word('demo_excluded', lang)} {report['demo_excluded']:,}")
    return parts


def element_parts(report: dict[str, Any]) -> list[str]:
    """Requests received in the month per QI element (the report's ``by_element``), every element shown."""
    by = report.get("by_element") or {}
    return [f"{element_name(e)} {by.get(e, 0):,}" for e in domain.ELEMENTS]


def breakdown_parts(report: dict[str, Any], lang: str) -> list[list[str]]:
    """County, industry, size, satisfaction level and activity rows of the report (the export's breakdown
    rows and labels): per category its items (``1 非常不满意 0``), the first led by the category's name;
    items counting 0 are left out, except the five levels. Each category is flowed on lines of its own,
    never breaking inside an item (:func:`flow_breakdowns`)."""
    from qi_station.reports.labels import word
    from qi_station.reports.sections import breakdown_rows

    level = word("level", lang)
    cats = [word(k, lang) for k in ("county", "industry", "size", "level", "activity")]
    rows = breakdown_rows(report, lang)
    parts = []
    for cat in cats:
        items = [f"{item} {n:,}" for c, item, n in rows if c == cat and (n or c == level)]
        if items:
            parts.append([f"{cat}: {items[0]}", *items[1:]])
    return parts


def flow_breakdowns(parts: list[list[str]], width: int) -> str:
    """The categories on lines no wider than ``width``: those that fit on a line flowed together (as
    before), a longer one on lines of its own (continuations indented), broken only between items: "1
    非常不满意" and its count stay together at 80 columns."""
    from rich.cells import cell_len

    from qi_station.screens.dashboard import flow

    blocks: list[str] = []
    short: list[str] = []
    for items in parts:
        whole = "  ".join(items)
        if cell_len(whole) <= width:
            short.append(whole)
            continue
        if short:
            blocks.append(flow(short, width))
            short = []
        lines = flow(items, width - 2, sep="  ").split("\n")
        blocks.append("\n".join([lines[0], *("  " + line for line in lines[1:])]))
    if short:
        blocks.append(flow(short, width))
    return "\n".join(blocks)


#: open rectifications listed on screen (the file lists every one)
RECTIFY_SHOWN = 10


def rectify_parts(report: dict[str, Any], lang: str, width: int | None = None) -> list[str]:
    """The first open rectifications (number, enterprise, rating, due; overdue flagged), a line with the
    totals when there are more, or a "none" line. ``width``: each row fits it on one line, the
    enterprise's name shortened (``..``) to make room."""
    from qi_station.reports.labels import word
    from qi_station.reports.sections import rectify_rows

    rows = rectify_rows(report, lang)
    if not rows:
        return [t("reports.rectify_none")]
    rect = report.get("rectification") or {}
    from rich.cells import cell_len

    from qi_station.screens.cells import clip

    lines = []
    for r, o in zip(rows[:RECTIFY_SHOWN], rect.get("open") or [], strict=False):
        rest = f" {r[3]} {word('due', lang)} {r[5]}" + (f" {word('overdue', lang)}" if o["overdue"] else "")
        name = str(r[2] or "")
        if width is not None:
            name = clip(name, max(4, width - cell_len(f"{r[0]} ") - cell_len(rest)))
        lines.append(f"{r[0]} {name}{rest}")
    if len(rows) > RECTIFY_SHOWN:
        lines.append(t("reports.rectify_more", n=len(rows), overdue=rect.get("overdue_count", 0)))
    return lines


class FlowBox(Static):
    """A report block whose items are flowed to its width (``dashboard.flow``): flowed again when its
    own width changes (its scrollbar comes once the blocks are taller than the screen), not only when
    the screen is resized; the layout was the one of whichever came first."""

    flowed_at = 0

    def on_resize(self) -> None:
        width = self.content_region.width
        if self.flowed_at and width and max(20, width) != self.flowed_at:
            self.screen.call_later(getattr(self.screen, "_show", lambda: None))


class ReportsScreen(MainScreen):
    SCREEN_KEY = "reports"
    CSS_PATH = "reports.tcss"
    #: the page, not 导出到, has the focus when F7 shows it (again): ``[`` / ``]`` change the month
    AUTO_FOCUS = "#reports-body"
    BINDINGS = bindings("reports", "main")

    class Loaded(Message):
        """A worker computed the report of ``month`` (or failed with ``error``); ``span``: the months
        with data, ``(first, this month)`` (``[`` / ``]`` stop there)."""

        def __init__(
            self,
            month: str,
            report: dict[str, Any] | None,
            error: str | None = None,
            span: tuple[str, str] | None = None,
        ) -> None:
            super().__init__()
            self.month, self.report, self.error, self.span = month, report, error, span

    class Exported(Message):
        """The export's answer: ``message`` for the page's status line (the full path), ``toast`` for the
        toast (the file's name: a full path wraps over the page at 80x24); ``exists``: the file that is
        there already (ask before overwriting)."""

        def __init__(
            self, message: str, failed: bool, toast: str | None = None, exists: Path | None = None
        ) -> None:
            super().__init__()
            self.message, self.failed, self.toast, self.exists = message, failed, toast, exists

    def __init__(self) -> None:
        super().__init__()
        self.month = current_month()
        self._summary: list[str] | None = None
        self._by_element: list[str] | None = None
        self._breakdowns: list[list[str]] | None = None
        self._report: dict[str, Any] | None = None
        self._span: tuple[str, str] | None = None  # (first month with data, this month)

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="reports-body"):
            with Vertical(classes="panel"):
                yield Static("", id="month-title", classes="panel-title", markup=False)
                yield FlowBox(t("msg.loading"), id="summary", markup=False)
            with Vertical(classes="panel"):
                yield Static(t("reports.by_element"), classes="panel-title", markup=False)
                yield FlowBox("", id="by-element", markup=False)
            with Vertical(classes="panel"):
                yield Static(t("reports.breakdowns"), classes="panel-title", markup=False)
                yield FlowBox("", id="breakdowns", markup=False)
            with Vertical(classes="panel"):
                yield Static(t("reports.rectify"), classes="panel-title", markup=False)
                yield FlowBox("", id="rectify", markup=False)
        # 导出到 under the figures, out of their scroll: in view at 80x24 whatever the month's figures
        # take (it was the last panel, below the fold: F7 showed only "Ctrl+E 导出月报")
        with Vertical(id="export-bar"):
            with Horizontal(classes="frow"):
                yield Label(t("field.report_path"))
                yield Input(id="out", compact=True, placeholder=t("ph.report_path"))
            status = Static("", id="export-status", markup=False)
            status.display = False  # shown with an answer (_export_status)
            yield status
        yield Static(t("reports.cli_hint"), id="status-line", classes="page-hint", markup=False)

    def on_mount(self) -> None:
        if self.station.ready:
            self.refresh_data()

    _asked = False  # back from the 覆盖？ question: 导出到 keeps the focus (not back on F7)

    def on_screen_resume(self) -> None:
        if self._asked:
            self._asked = False
            return
        if isinstance(self.focused, Input):  # back on F7: the page keys work, nothing typed into 导出到
            self.query_one("#reports-body").focus()

    def refresh_data(self) -> None:
        self.query_one("#month-title", Static).update(t("reports.month", month=self.month))
        self.load(self.month, self.db_path)

    def action_month(self, delta: int) -> None:
        month = shift_month(self.month, delta)
        first, last = self._span or (None, None)
        if first is not None and month < first and delta < 0:  # the core refuses it: say so, stay
            self.notify(t("reports.first_month", month=first))
            month = max(first, self.month)
        elif last is not None and month > last and delta > 0:
            self.notify(t("reports.last_month", month=last))
            month = min(last, self.month)
        if month != self.month:
            self._follow_month(self.month, month)
            self.month = month
            self._clear(t("msg.loading"), "")  # the last month's figures never stand under this title
            self.refresh_data()
        self.query_one("#reports-body", VerticalScroll).scroll_home(animate=False)

    @work(thread=True, exclusive=True, group="report")
    def load(self, month: str, db_path: Path) -> None:
        from qi_station.reports.figures import monthly_report, report_month_range

        try:
            span = report_month_range(db_path)
        except Exception:  # noqa: BLE001  (the report's own error says what is wrong)
            span = None
        try:
            report = monthly_report(db_path, month)
        except Exception as e:  # noqa: BLE001
            self.post_message(self.Loaded(month, None, error_message(e), span))
            return
        self.post_message(self.Loaded(month, report, span=span))

    def on_reports_screen_loaded(self, msg: Loaded) -> None:
        if msg.span is not None:
            self._span = msg.span
        if msg.month != self.month:  # the user moved on while it was computed
            return
        if msg.report is None:  # no figure of another month stays under this month's title
            self._clear(msg.error or "", t("reports.no_data", month=msg.month))
            return
        self._summary = summary_parts(msg.report, get_lang())
        self._by_element = element_parts(msg.report)
        self._breakdowns = breakdown_parts(msg.report, get_lang())
        self._report = msg.report
        self._show()

    def _clear(self, summary: str, sections: str) -> None:
        """The month's blocks emptied: ``summary`` in the first, ``sections`` in the others."""
        self._summary = self._by_element = self._breakdowns = None
        self._report = None
        self.query_one("#summary", Static).update(summary)
        for wid in ("#by-element", "#breakdowns", "#rectify"):
            self.query_one(wid, Static).update(sections)

    def _show(self) -> None:
        from qi_station.screens.dashboard import flow

        def width_of(box: FlowBox) -> int:
            box.flowed_at = max(20, box.content_region.width or max(20, self.size.width - 4))
            return box.flowed_at

        for wid, parts in (("#summary", self._summary), ("#by-element", self._by_element)):
            if parts:
                box = self.query_one(wid, FlowBox)
                box.update(flow(parts, width_of(box)))
        if self._breakdowns:
            box = self.query_one("#breakdowns", FlowBox)
            box.update(flow_breakdowns(self._breakdowns, width_of(box)))
        if self._report is not None:
            box = self.query_one("#rectify", FlowBox)
            box.update("\n".join(rectify_parts(self._report, get_lang(), width_of(box))))

    def on_resize(self) -> None:
        self._show()
        self.add_class("loaded", update=False)  # a marker (tests, the benchmark): no style uses it

    def _follow_month(self, old: str, new: str) -> None:
        """The month changes: the last export's answer (about ``old``) goes; a file name in 导出到 that
        the app proposes for ``old`` (:func:`qi_station.services.files.report_name`) becomes
        ``new``'s; a name the operator typed stays (the 覆盖？ question names the month written)."""
        self._export_status("")
        from qi_station.services import files

        box = self.query_one("#out", Input)
        text = box.value
        name = text.replace("\\", "/").rpartition("/")[2]
        fmt = name.rpartition(".")[2]
        tail = f"-{old}.{fmt}"
        code = name[len("qi-report-") : -len(tail)] if name.endswith(tail) else ""
        if code and name == files.report_name(code, old, fmt):
            box.value = text[: len(text) - len(name)] + files.report_name(code, new, fmt)

    def _export_status(self, text: str) -> None:
        """The export's answer under 导出到; no blank line while there is none (a line of the figures)."""
        status = self.query_one("#export-status", Static)
        status.update(text)
        status.display = bool(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in 导出到 exports, as Ctrl+E does."""
        event.stop()
        self.action_export()

    #: where the focus was when the export was asked (the page or 导出到): back there after 覆盖？ is
    #: cancelled, so ``[`` / ``]`` pressed on the page are the month keys, never typed over the name
    _focus_before: Any = None

    def action_export(self) -> None:
        self._focus_before = self.focused
        out = self.query_one("#out", Input).value.strip()
        self._export_status(t("msg.saving"))
        self.export(self.month, out, self.db_path, self.station.lang)

    @work(thread=True, exclusive=True, group="report-export")
    def export(self, month: str, out: str, db_path: Path, lang: str, force: bool = False) -> None:
        """``force``: the operator said yes to overwriting (the CLI's ``--force``, the same writer rule:
        only a file of this kind; never a database)."""
        from qi_station.reports.figures import check_report_month_of, monthly_report
        from qi_station.reports.writers import FORMATS, check_report_out, write_report
        from qi_station.services import files
        from qi_station.services.queries import station

        try:  # the CLI's rules: format from the extension, the default name, the export folder
            fmt = files.export_format(out or None, None, FORMATS)
            st = station(db_path)  # the report's station: its code names the file
            name = files.report_name(st["code"] if st else None, month, fmt)
            path = files.export_path(out or None, name, fmt, base=files.export_dir())
            check_report_month_of(db_path, month)  # a month without data: said before any 覆盖？
            # an existing file is asked about now, not after the report's seconds of computing
            path = check_report_out(path, fmt, default_name=name, protect=(db_path,), force=force)
            report = monthly_report(db_path, month)
            path = write_report(
                report, fmt, path, lang=lang, default_name=name, protect=(db_path,), force=force
            )
        except files.FileExists as e:
            self.post_message(self.Exported(error_message(e), True, exists=None if force else e.path))
            return
        except Exception as e:  # noqa: BLE001
            self.post_message(self.Exported(error_message(e), True))
            return
        full = t("reports.exported", path=str(path.resolve()))
        self.post_message(self.Exported(full, False, export_toast(path)))

    def _refocus(self) -> None:
        """The focus back where it was before the export: on the page (``[`` / ``]`` change the
        month); in 导出到 with the cursor at the name's end and nothing selected (a key typed next
        adds to the name, never replaces it)."""
        box = self.query_one("#out", Input)
        if self._focus_before is box:
            box.select_on_focus = False  # not the whole name selected: the next key would replace it
            box.focus()

            def unselect() -> None:
                box.cursor_position = len(box.value)
                box.select_on_focus = True

            self.call_after_refresh(unselect)
        else:
            self.query_one("#reports-body").focus()

    def on_reports_screen_exported(self, msg: Exported) -> None:
        status = self._export_status
        if msg.exists is not None:  # ask (Cancel first); yes writes it again with the CLI's --force
            month, out = self.month, self.query_one("#out", Input).value.strip()
            status("")  # one question: the dialog's

            def answer(yes: bool | None) -> None:
                if yes:
                    status(t("msg.saving"))
                    self.export(month, out, self.db_path, self.station.lang, force=True)
                else:  # back where the export was asked: the page (month keys) or 导出到
                    status(t("reports.not_overwritten", path=str(msg.exists)))
                    self._refocus()

            self._asked = True
            self.app.push_screen(
                ConfirmDialog(
                    t("reports.overwrite_title"),
                    t("reports.overwrite_ask", path=str(msg.exists), month=month_name(month)),
                    yes=t("btn.overwrite"),
                    no=t("btn.cancel"),
                    default_no=True,
                ),
                answer,
            )
            return
        status(msg.message)
        self.notify(brief(msg.toast or msg.message), severity="error" if msg.failed else "information")


def month_name(month: str) -> str:
    """``2026-12`` as the page says it to the operator (``2026年12月``)."""
    year, _, mm = month.partition("-")
    return t("reports.month_name", year=year, month=int(mm) if mm.isdigit() else mm)


def export_toast(path: Path) -> str:
    """The export's toast: where the file is, as the operator finds it (``~/Documents/qi-station/...``,
    not the file's name alone); a folder too long for the toast's first line is cut from the left and
    the file's name has the second."""
    import os

    from rich.cells import cell_len

    from qi_station.screens.base import TOAST_LINES, TOAST_WIDTH, toast_lines
    from qi_station.screens.cells import clip_path, shown_path

    whole = t("reports.exported", path=shown_path(path))
    if toast_lines(whole) <= TOAST_LINES:
        return whole
    head = t("reports.exported", path="")
    return brief(f"{head}{clip_path(path.parent, TOAST_WIDTH - cell_len(head) - 1)}{os.sep}\n{path.name}")
