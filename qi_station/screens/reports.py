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
from qi_station.reports.labels import HEADLINE, MONEY_KEYS, RATE_KEYS, fig_label, headline_values
from qi_station.reports.sections import money_cell, percent_text
from qi_station.screens.base import MainScreen, brief, error_message
from qi_station.screens.bindings import bindings
from qi_station.screens.dialogs import ConfirmDialog


def _value(key: str, v: Any) -> str:
    if v is None:
        return "-"
    if key in RATE_KEYS:
        return str(percent_text(v))
    if key in MONEY_KEYS:
        return str(money_cell(v))
    if isinstance(v, float):
        return f"{v:.2f}"
    return f"{v:,}"


def summary_parts(report: dict[str, Any], lang: str) -> list[str]:
    """The headline figures of a monthly report as "label value" (the export's labels), in the file's order."""
    values = headline_values(report)
    return [f"{fig_label(k, lang)} {_value(k, values[k])}" for k in HEADLINE]


def element_parts(report: dict[str, Any]) -> list[str]:
    """Requests received in the month per QI element (the report's ``by_element``), every element shown."""
    by = report.get("by_element") or {}
    return [f"{element_name(e)} {by.get(e, 0):,}" for e in domain.ELEMENTS]


def breakdown_parts(report: dict[str, Any], lang: str) -> list[str]:
    """County, industry, size, satisfaction level and activity rows of the report (the export's breakdown
    rows and labels), one part per category; items counting 0 are left out, except the five levels."""
    from qi_station.reports.labels import word
    from qi_station.reports.sections import breakdown_rows

    level = word("level", lang)
    cats = [word(k, lang) for k in ("county", "industry", "size", "level", "activity")]
    rows = breakdown_rows(report, lang)
    parts = []
    for cat in cats:
        items = [f"{item} {n:,}" for c, item, n in rows if c == cat and (n or c == level)]
        if items:
            parts.append(f"{cat}: " + "  ".join(items))
    return parts


#: open rectifications listed on screen (the file lists every one)
RECTIFY_SHOWN = 10


def rectify_parts(report: dict[str, Any], lang: str) -> list[str]:
    """The first open rectifications (number, enterprise, rating, due; overdue flagged), a line with the
    totals when there are more, or a "none" line."""
    from qi_station.reports.labels import word
    from qi_station.reports.sections import rectify_rows

    rows = rectify_rows(report, lang)
    if not rows:
        return [t("reports.rectify_none")]
    rect = report.get("rectification") or {}
    lines = [
        f"{r[0]} {r[2] or ''} {r[3]} {word('due', lang)} {r[5]}"
        + (f" {word('overdue', lang)}" if o["overdue"] else "")
        for r, o in zip(rows[:RECTIFY_SHOWN], rect.get("open") or [], strict=False)
    ]
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
    BINDINGS = bindings("reports", "main")

    class Loaded(Message):
        """A worker computed the report of ``month`` (or failed with ``error``)."""

        def __init__(self, month: str, report: dict[str, Any] | None, error: str | None = None) -> None:
            super().__init__()
            self.month, self.report, self.error = month, report, error

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
        self._breakdowns: list[str] | None = None
        self._rectify: list[str] | None = None

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
                yield Static("", id="rectify", markup=False)
            with Vertical(classes="panel"):
                yield Static(t("reports.export_title"), classes="panel-title", markup=False)
                with Horizontal(classes="frow"):
                    yield Label(t("field.report_path"))
                    yield Input(id="out", compact=True, placeholder=t("ph.report_path"))
                yield Static("", id="export-status", markup=False)
        yield Static(t("reports.cli_hint"), id="status-line", markup=False)

    def on_mount(self) -> None:
        if self.station.ready:
            self.refresh_data()

    def refresh_data(self) -> None:
        self.query_one("#month-title", Static).update(t("reports.month", month=self.month))
        self.load(self.month, self.db_path)

    def action_month(self, delta: int) -> None:
        self.month = shift_month(self.month, delta)
        self.refresh_data()

    @work(thread=True, exclusive=True, group="report")
    def load(self, month: str, db_path: Path) -> None:
        from qi_station.reports.figures import monthly_report

        try:
            report = monthly_report(db_path, month)
        except Exception as e:  # noqa: BLE001
            self.post_message(self.Loaded(month, None, error_message(e)))
            return
        self.post_message(self.Loaded(month, report))

    def on_reports_screen_loaded(self, msg: Loaded) -> None:
        if msg.month != self.month:  # the user moved on while it was computed
            return
        if msg.report is None:
            self.query_one("#summary", Static).update(msg.error or "")
            return
        self._summary = summary_parts(msg.report, get_lang())
        self._by_element = element_parts(msg.report)
        self._breakdowns = breakdown_parts(msg.report, get_lang())
        self._rectify = rectify_parts(msg.report, get_lang())
        self._show()

    def _show(self) -> None:
        from qi_station.screens.dashboard import flow

        for wid, parts in (
            ("#summary", self._summary),
            ("#by-element", self._by_element),
            ("#breakdowns", self._breakdowns),
        ):
            if parts:
                box = self.query_one(wid, FlowBox)
                width = box.content_region.width or max(20, self.size.width - 4)
                box.flowed_at = max(20, width)
                box.update(flow(parts, box.flowed_at))
        if self._rectify is not None:
            self.query_one("#rectify", Static).update("\n".join(self._rectify))

    def on_resize(self) -> None:
        self._show()
        self.add_class("loaded", update=False)  # a marker (tests, the benchmark): no style uses it

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in 导出到 exports, as Ctrl+E does."""
        event.stop()
        self.action_export()

    def action_export(self) -> None:
        out = self.query_one("#out", Input).value.strip()
        self.query_one("#export-status", Static).update(t("msg.saving"))
        self.export(self.month, out, self.db_path, self.station.lang)

    @work(thread=True, exclusive=True, group="report-export")
    def export(self, month: str, out: str, db_path: Path, lang: str, force: bool = False) -> None:
        """``force``: the operator said yes to overwriting (the CLI's ``--force``, the same writer rule:
        only a file of this kind; never a database)."""
        from qi_station.reports.figures import monthly_report
        from qi_station.reports.writers import FORMATS, write_report
        from qi_station.services import files

        try:  # the CLI's rules: format from the extension, the default name, the export folder
            fmt = files.export_format(out or None, None, FORMATS)
            report = monthly_report(db_path, month)
            name = files.report_name(report["station"]["code"], month, fmt)
            path = files.export_path(out or None, name, fmt, base=files.export_dir())
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
        self.post_message(self.Exported(full, False, t("reports.exported", path=path.name)))

    def on_reports_screen_exported(self, msg: Exported) -> None:
        status = self.query_one("#export-status", Static)
        if msg.exists is not None:  # ask (Cancel first); yes writes it again with the CLI's --force
            month, out = self.month, self.query_one("#out", Input).value.strip()
            status.update(t("reports.overwrite_ask", path=str(msg.exists)))

            def answer(yes: bool | None) -> None:
                if yes:
                    status.update(t("msg.saving"))
                    self.export(month, out, self.db_path, self.station.lang, force=True)
                else:
                    status.update(t("reports.not_overwritten", path=str(msg.exists)))

            self.app.push_screen(
                ConfirmDialog(
                    t("reports.overwrite_title"),
                    t("reports.overwrite_ask", path=str(msg.exists)),
                    yes=t("btn.overwrite"),
                    no=t("btn.cancel"),
                    default_no=True,
                ),
                answer,
            )
            return
        status.update(msg.message)
        self.notify(brief(msg.toast or msg.message), severity="error" if msg.failed else "information")
