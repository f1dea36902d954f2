"""Reports: a month's station summary (from the core) and, when the reports module is installed,
an export of the monthly summary file."""

from __future__ import annotations

import importlib.util
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, Static

from qi_station.core import domain
from qi_station.i18n import element_name, t
from qi_station.screens.base import MainScreen, error_message
from qi_station.screens.bindings import bindings


def reports_available() -> bool:
    try:
        return importlib.util.find_spec("qi_station.reports.figures") is not None
    except (ImportError, ValueError):
        return False


def shift_month(month: str, delta: int) -> str:
    y, m = (int(x) for x in month.split("-"))
    n = y * 12 + (m - 1) + delta
    return f"{n // 12}-{n % 12 + 1:02d}"


class ReportsScreen(MainScreen):
    SCREEN_KEY = "reports"
    CSS_PATH = "reports.tcss"
    BINDINGS = bindings("reports")

    def __init__(self) -> None:
        super().__init__()
        from qi_station.core.clock import env_now, local

        now = local(env_now())
        self.month = f"{now.year}-{now.month:02d}"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="reports-body"):
            with Vertical(classes="panel"):
                yield Static("", id="month-title", classes="panel-title", markup=False)
                yield Static(t("msg.loading"), id="summary", markup=False)
            with Vertical(classes="panel"):
                yield Static(t("reports.by_element"), classes="panel-title", markup=False)
                yield Static("", id="by-element", markup=False)
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
        self.load(self.month)

    def action_month(self, delta: int) -> None:
        self.month = shift_month(self.month, delta)
        self.refresh_data()

    @work(thread=True, exclusive=True, group="report")
    def load(self, month: str) -> None:
        from qi_station.services.dashboard import month_summary

        try:
            s = month_summary(self.station.db_path, month)
        except Exception as e:  # noqa: BLE001
            self.app.call_from_thread(self.query_one("#summary", Static).update, error_message(e))
            return
        self.app.call_from_thread(self.show, s)

    def show(self, s: dict[str, Any]) -> None:
        if s["month"] != self.month:
            return
        sat = f"{s['satisfaction_avg']:.2f}" if s["satisfaction_avg"] is not None else "-"
        self.query_one("#summary", Static).update(
            "\n".join(
                [
                    t("reports.received", n=s["received"]),
                    t(
                        "reports.resolved",
                        n=s["resolved"],
                        solved=s["problems_solved"],
                        cost=f"{s['cost_saved']:.2f}",
                    ),
                    t("reports.closed", n=s["closed"], sat=sat),
                ]
            )
        )
        self._by_element = [f"{element_name(e)} {s['by_element'][e]}" for e in domain.ELEMENTS]
        self._show_by_element()

    def _show_by_element(self) -> None:
        from qi_station.screens.dashboard import flow

        parts = getattr(self, "_by_element", None)
        if parts:
            box = self.query_one("#by-element", Static)
            width = box.content_region.width or max(20, self.size.width - 4)
            box.update(flow(parts, max(20, width)))

    def on_resize(self) -> None:
        self._show_by_element()
        self.add_class("loaded")

    def action_export(self) -> None:
        if not reports_available():
            self.notify(t("reports.cli_hint"), severity="warning")
            return
        out = self.query_one("#out", Input).value.strip() or f"qi-report-{self.month}.xlsx"
        self.query_one("#export-status", Static).update(t("msg.saving"))
        self.export(self.month, out)

    @work(thread=True, exclusive=True, group="report-export")
    def export(self, month: str, out: str) -> None:
        from pathlib import Path

        from qi_station.reports.figures import monthly_report
        from qi_station.reports.writers import write_report

        path = Path(out).expanduser()
        fmt = path.suffix.lstrip(".").lower() or "xlsx"
        if fmt not in ("xlsx", "csv", "json", "md"):
            fmt = "xlsx"
            path = path.with_suffix(".xlsx")
        try:
            report = monthly_report(self.station.db_path, month)
            write_report(report, fmt, path, lang=self.station.lang)
        except Exception as e:  # noqa: BLE001
            self.app.call_from_thread(self._exported, error_message(e), True)
            return
        self.app.call_from_thread(self._exported, t("reports.exported", path=str(path.resolve())), False)

    def _exported(self, message: str, failed: bool) -> None:
        self.query_one("#export-status", Static).update(message)
        self.notify(message, severity="error" if failed else "information")
