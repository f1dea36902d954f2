"""Dashboard (工作台): today's intake, open by status, overdue, awaiting follow-up, expiring
certificates, last sync and pending changes, 12 months of requests received as bars (the monthly
report's ``received``, named by its label). The figures are read in a thread started before Textual's
import (``services.dashboard.EarlyFigures``; a refresh: a thread worker). The app's first frame is the
title bar alone (``MainScreen.BODY_AFTER_FIRST_FRAME``); the cards, panels and footer are mounted and
painted right after it, with the figures in them when the read is in by then, else with
placeholders the thread's message fills (never waited for). The bars are coloured blanks, not block
glyphs (U+2581-2588 are East-Asian-ambiguous: a CJK terminal draws them double width and the layout
tears)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.widgets import Static

from qi_station.i18n import get_lang, status_name, t
from qi_station.screens.base import MainScreen, error_message
from qi_station.screens.bindings import bindings

CARDS = ("today_intake", "open_total", "overdue", "awaiting_followup", "expiring_certs")
BAR_ROWS = 3


def _short(n: int) -> str:
    return f"{n / 1000:.0f}k" if n >= 10_000 else f"{n:,}"


def flow(parts: list[str], width: int, sep: str = "   ") -> str:
    """Join ``parts`` on lines no wider than ``width`` cells, never breaking inside a part."""
    from rich.cells import cell_len

    lines: list[str] = []
    line = ""
    for part in parts:
        cand = f"{line}{sep}{part}" if line else part
        if line and cell_len(cand) > width:
            lines.append(line)
            line = part
        else:
            line = cand
    if line:
        lines.append(line)
    return "\n".join(lines)


class MonthBars(Static):
    """Twelve monthly counts as vertical bars of coloured blanks (BAR_ROWS high), the counts beneath."""

    COMPONENT_CLASSES = {"month-bars--bar"}
    DEFAULT_CSS = """
    MonthBars { height: 4; }
    MonthBars > .month-bars--bar { background: $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.data: list[int] = []

    def set_data(self, data: list[int]) -> None:
        self.data = list(data)
        self.refresh()

    def render(self) -> Text:
        data = self.data or [0]
        col = max(3, min(8, self.size.width // max(1, len(data))))
        peak = max(data) or 1
        levels = [0 if v <= 0 else max(1, round(v * BAR_ROWS / peak)) for v in data]
        bar = self.get_component_rich_style("month-bars--bar", partial=True)
        out = Text(no_wrap=True, overflow="crop", end="")
        for row in range(BAR_ROWS, 0, -1):
            for lv in levels:
                out.append(" " * (col - 1), style=bar if lv >= row else "")
                out.append(" ")
            out.append("\n")
        for v in data:
            out.append(_short(v)[: col - 1].ljust(col))
        return out


def _card(title: str, value: str, alert: bool = False) -> Text:
    out = Text(title + "\n", style="dim")
    out.append(value, style="bold red" if alert else "bold")
    return out


def _panel(title: str, body: str) -> Text:
    out = Text(title, style="bold")
    if body:
        out.append("\n" + body, style="")
    return out


class DashboardScreen(MainScreen):
    SCREEN_KEY = "dashboard"
    CSS_PATH = "dashboard.tcss"
    #: the figures start loading at mount, their worker waiting for the database (``StationApp.wait_db``):
    #: they are read while the first frame is painted, and the app's DatabaseReady does not load them again
    LOADS_BEFORE_READY = True
    #: the app's first frame is the title bar; the cards, panels and footer follow in the next frame,
    #: with the figures when they are in by then (see :meth:`body_mounted`)
    BODY_AFTER_FIRST_FRAME = True
    BINDINGS = bindings("dash", "main")
    _by_status: list[str] | None = None
    _pending: tuple[Any, ...] = ()  # the Loaded messages that came before the body was mounted

    class Loaded(Message):
        """The figures (``figs``) were read, or the read failed (``error``); neither: the early read did
        not read, the worker reads."""

        def __init__(self, figs: Any = None, error: str | None = None) -> None:
            super().__init__()
            self.figs, self.error = figs, error

    class Verified(Message):
        """A worker checked the ledger (``summary``: ``services.verify.record_result``'s) or failed."""

        def __init__(self, summary: Any = None, error: str | None = None) -> None:
            super().__init__()
            self.summary, self.error = summary, error

    def compose_body(self) -> ComposeResult:
        from qi_station.reports.labels import fig_label, word  # (after the first frame: the body's)

        with Vertical(id="dash-body"):
            # few widgets on the first screen: one Static per card and per panel (paint first)
            with Grid(id="cards"):
                for key in CARDS:
                    yield Static(_card(t(f"dash.{key}"), "-"), classes="card", id=f"card-{key}")
            yield Static(_panel(t("dash.by_status"), t("msg.loading")), id="by-status", classes="panel")
            with Vertical(classes="panel", id="trend"):
                lang = get_lang()
                trend = t("dash.trend", figure=fig_label("received", lang), series=word("series", lang))
                yield Static(_panel(trend, ""), id="trend-title")
                yield MonthBars(id="spark")
                yield Static("", id="months", classes="muted", markup=False)
            yield Static(_panel(t("dash.sync"), ""), id="sync-line", classes="panel")
            yield Static("", id="ledger-line", markup=False)

    _early = False  # the figures were read early (``EarlyFigures``): the app opens the database after them

    def on_mount(self) -> None:
        early = self.station.take_early_figures()
        self._early = self.PAINT_BODY_AT_ONCE = early is not None
        figs = early.result(0) if early is not None else None
        if figs is not None:  # read while the UI started: painted with the body (body_mounted)
            self._pending = (self.Loaded(figs),)
        elif early is not None:  # the first frame paints placeholders; the read's thread posts the figures
            early.when_done(self._early_done)
            early.start()  # (a read its caller did not start: SQLite reads while this frame is painted)
        else:
            self.load(self.db_path)

    def _early_done(self, figs: Any) -> None:
        """The early read is over (called in its thread, or here): its figures, or None (a database the
        app migrates first, a failure) and then the worker reads them once the database is open."""
        self.post_message(self.Loaded(figs))

    def body_mounted(self) -> None:
        """The figures (or the error) that came before the body: in the body's first frame."""
        pending, self._pending = self._pending, ()
        for msg in pending:
            self.on_dashboard_screen_loaded(msg)

    def on_resize(self) -> None:
        self._show_by_status()

    def _show_by_status(self) -> None:
        if self._by_status is None:
            return
        panel = self.query_one("#by-status", Static)
        width = max(20, (panel.size.width or self.size.width - 2) - 2)
        panel.update(_panel(t("dash.by_status"), flow(self._by_status, width)))

    def refresh_data(self) -> None:
        self.load(self.db_path)

    @work(thread=True, exclusive=True, group="dashboard")
    def load(self, db_path: Path) -> None:
        """The figures, read once the database is open."""
        if not self.station.wait_db():
            return  # the app shows why the database could not be opened
        from qi_station.services.dashboard import compute

        try:
            figs = compute(db_path)
        except Exception as e:  # noqa: BLE001
            self.post_message(self.Loaded(error=error_message(e)))
            return
        self.post_message(self.Loaded(figs))

    @work(thread=True, exclusive=True, group="dashboard-verify")
    def check(self, db_path: Path) -> None:
        """The ledger check, in its own worker after the figures: a small ledger is checked here, a large
        one shows its last recorded check (``services.verify.dashboard_check``)."""
        if not self.station.wait_db():
            return
        from qi_station.services.verify import dashboard_check

        try:
            summary = dashboard_check(db_path)
        except Exception as e:  # noqa: BLE001
            self.post_message(self.Verified(error=error_message(e)))
            return
        self.post_message(self.Verified(summary))

    def on_dashboard_screen_loaded(self, msg: Loaded) -> None:
        if not self.body_in:
            self._pending = (*self._pending, msg)  # shown by body_mounted
            return
        if msg.error is not None:
            self.show_db_error(msg.error)
        elif msg.figs is None:  # the early read did not read (see _early_done): the worker does
            self.station.open_db()
            self.load(self.db_path)
        else:
            self._show_loaded(msg.figs)

    def _show_loaded(self, figs: Any) -> None:
        self.show(figs)
        if self._early:  # the start's frame with the body and figures: nothing else in its way
            self.call_after_body(self._after_figures)
        else:  # (the app opened the database at its mount)
            self.call_after_refresh(self._after_figures)

    def _after_figures(self) -> None:
        self.station.open_db()  # (if not open yet)
        self.check(self.db_path)

    def on_dashboard_screen_verified(self, msg: Verified) -> None:
        from qi_station.core.clock import iso_local  # (zoneinfo: not before the first frame)

        line = self.query_one("#ledger-line", Static)
        if msg.error is not None:
            line.update(Text(msg.error, style="dim"))
        elif msg.summary is None:
            line.update(Text(t("dash.ledger_unchecked"), style="dim"))
        elif msg.summary["ok"]:
            key = "dash.ledger_ok_at" if msg.summary.get("recorded") else "dash.ledger_ok"
            if (
                msg.summary.get("recorded")
                and msg.summary.get("full") is False
                and msg.summary.get("full_at")
            ):
                key = "dash.ledger_ok_since"  # a post-sync check: it says when the last full check ran

            def when(v: Any) -> str:
                at = iso_local(v)
                return at[:16].replace("T", " ") if isinstance(at, str) else ""

            line.update(
                Text(
                    t(
                        key,
                        requests=f"{msg.summary['requests']:,}",
                        at=when(msg.summary.get("at")),
                        full=when(msg.summary.get("full_at")),
                    ),
                    style="dim",
                )
            )
        else:
            line.update(Text(t("dash.ledger_bad", problems=msg.summary["problems"]), style="bold red"))

    def show(self, figs: Any) -> None:
        for key in CARDS:
            alert = key == "overdue" and figs.overdue > 0
            value = f"{getattr(figs, key):,}"
            if key == "expiring_certs":  # the expired ones are counted on the same card
                alert = figs.expired_certs > 0
                value += f" {t('dash.expired_certs', n=f'{figs.expired_certs:,}')}"
            # a card's size is fixed (dashboard.tcss: a grid cell, height 3): no layout pass for its text
            self.query_one(f"#card-{key}", Static).update(_card(t(f"dash.{key}"), value, alert), layout=False)
        self._by_status = [f"{status_name(s)} {n:,}" for s, n in figs.open_by_status.items()]
        self._show_by_status()
        self.query_one("#spark", MonthBars).set_data(figs.month_counts or [0])
        if figs.months:
            first, last = figs.months[0], figs.months[-1]
            peak = max(figs.month_counts) if figs.month_counts else 0
            self.query_one("#months", Static).update(
                t("dash.months", first=first, last=last, peak=f"{peak:,}", this=f"{figs.month_counts[-1]:,}"),
                layout=False,  # one line, height 1 (dashboard.tcss)
            )
        if figs.last_sync:
            state = t("dash.sync_ok") if figs.last_sync_ok else t("dash.sync_failed")
            line = t(
                "dash.sync_line",
                at=figs.last_sync_local or str(figs.last_sync)[:16],
                state=state,
                pending=f"{figs.pending_outbox:,}",
            )
        else:
            line = t("dash.sync_never", pending=f"{figs.pending_outbox:,}")
        self.query_one("#sync-line", Static).update(_panel(t("dash.sync"), line))
        self.add_class("loaded", update=False)  # a marker (tests, the benchmark): no style uses it
        self._run_waiting()

    _waiting: tuple[Any, ...] = ()  # callbacks for after the figures are shown (:meth:`after_loaded`)

    def after_loaded(self, callback: Any) -> None:
        """Call ``callback`` once the figures (or the error) are shown and laid out: at once if they are."""
        if self.has_class("loaded") or self._failed:
            self.call_after_refresh(callback)
        else:
            self._waiting = (*self._waiting, callback)

    _failed = False

    def _run_waiting(self) -> None:
        waiting, self._waiting = self._waiting, ()
        for callback in waiting:
            self.call_after_refresh(callback)

    def show_db_error(self, message: str) -> None:
        if not self.body_in:
            self._pending = (*self._pending, self.Loaded(error=message))  # shown by body_mounted
            return
        self.query_one("#by-status", Static).update(_panel(t("dash.by_status"), message))
        self.notify(message, severity="error", timeout=20)
        self._failed = True
        self._run_waiting()

    def action_refresh(self) -> None:
        if self.station.ready:
            self.refresh_data()

    def action_show_overdue(self) -> None:
        self.station.ledger_preset = {"overdue": True}
        self.station.action_goto("ledger")

    def action_show_followup(self) -> None:
        self.station.ledger_preset = {"status": "resolved"}
        self.station.action_goto("ledger")

    def action_show_expiring(self) -> None:
        """The institutions whose CMA or CNAS has expired or expires within 90 days."""
        self.station.library_preset = {"kind": "institutions", "expiring": True}
        self.station.action_goto("libraries")

    CARD_ACTIONS = {
        "card-overdue": "show_overdue",
        "card-awaiting_followup": "show_followup",
        "card-expiring_certs": "show_expiring",
    }

    def on_click(self, event: Any) -> None:
        """A click on a card opens its list (the same as its key)."""
        action = self.CARD_ACTIONS.get(getattr(event.widget, "id", None) or "")
        if action:
            getattr(self, f"action_{action}")()
