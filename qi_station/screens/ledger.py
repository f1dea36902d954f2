"""Ledger (服务台账): one page of requests at a time (SQL LIMIT/OFFSET + COUNT in a thread worker),
filters (status, element, month, overdue, text), sort, saved filters in the config file."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from qi_station import domain, keymap
from qi_station.i18n import element_name, status_name, t
from qi_station.screens.base import MainScreen, error_message
from qi_station.screens.dialogs import status_choices
from qi_station.screens.widgets import Chip, Choice

PAGE_SIZE = 100
SORTS = ("received_desc", "received_asc", "promised_asc", "number", "status")
DEBOUNCE = 0.25


class LedgerScreen(MainScreen):
    SCREEN_KEY = "ledger"
    CSS_PATH = "ledger.tcss"
    BINDINGS = keymap.bindings("ledger")

    def __init__(self) -> None:
        super().__init__()
        self.page = 0
        self.total = 0
        self.sort = "received_desc"
        self._timer: Timer | None = None
        self._applying = False
        self._quiet: dict[str, str] = {}  # Input values set by code: their Changed is not a user edit

    def compose_body(self) -> ComposeResult:
        with Vertical(id="filters"):
            with Horizontal(classes="filter-row"):
                yield Choice(status_choices(), "", id="f-status")
                yield Choice([("", t("filter.all_elements"))] + [(e, element_name(e)) for e in domain.ELEMENTS],
                             "", id="f-element")
                yield Input(id="f-month", placeholder=t("ph.month"), compact=True, max_length=7)
                yield Chip(t("filter.overdue"), "overdue", id="f-overdue")
                yield Input(id="f-text", placeholder=t("ph.ledger_text"), compact=True)
            with Horizontal(classes="filter-row"):
                yield Choice(self._saved_options(), "", id="f-saved")
                yield Static("", id="sort-label", classes="muted", markup=False)
                yield Static(t("msg.loading"), id="page-info", markup=False)
        yield DataTable(id="ledger-table", cursor_type="row", zebra_stripes=True)

    def _saved_options(self) -> list[tuple[str, str]]:
        names = sorted(keymap.saved_filters(self.station.config_data))
        return [("", t("filter.saved_none"))] + [(n, t("filter.saved", name=n)) for n in names]

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, width in self._widths(self.app.size.width).items():
            table.add_column(t(f"col.{key}"), width=width, key=key)
        self._update_sort_label()
        self._take_preset()
        if self.station.ready:
            self.refresh_data()

    @staticmethod
    def _widths(total: int) -> dict[str, int]:
        """Column widths for a terminal ``total`` cells wide: enterprise and title share what is left."""
        from rich.cells import cell_len

        status = min(12, max(8, *(cell_len(status_name(s)) + 2 for s in domain.STATUSES)))
        fixed = 18 + status + 10
        rest = max(20, total - fixed - 2 * 5 - 2)
        ent = max(10, rest * 2 // 5)
        return {"number": 18, "status": status, "promised": 10, "enterprise": ent, "title": rest - ent}

    def on_resize(self) -> None:
        table = self.query_one(DataTable)
        for key, width in self._widths(self.size.width).items():
            col = table.columns.get(key)  # type: ignore[call-overload]
            if col is not None and col.width != width:
                col.width = width
                table._require_update_dimensions = True
        table.refresh(layout=True)

    def on_screen_resume(self) -> None:
        self._take_preset()
        super().on_screen_resume()

    def _take_preset(self) -> None:
        preset = self.station.ledger_preset
        if preset is not None:
            self.station.ledger_preset = None
            self.apply_filters({"status": "", "element": "", "month": "", "overdue": False, "text": "", **preset},
                               reload=False)

    # ---- filters -------------------------------------------------------------------------------
    def filters(self) -> dict[str, Any]:
        return {
            "status": self.query_one("#f-status", Choice).value or "",
            "element": self.query_one("#f-element", Choice).value or "",
            "month": self.query_one("#f-month", Input).value.strip(),
            "overdue": self.query_one("#f-overdue", Chip).checked,
            "text": self.query_one("#f-text", Input).value.strip(),
            "sort": self.sort,
        }

    def apply_filters(self, f: dict[str, Any], reload: bool = True, saved: str = "") -> None:
        self._applying = True
        try:
            self.query_one("#f-saved", Choice).value = saved
            self.query_one("#f-status", Choice).value = f.get("status") or ""
            self.query_one("#f-element", Choice).value = f.get("element") or ""
            for wid, key in (("f-month", "month"), ("f-text", "text")):
                inp = self.query_one(f"#{wid}", Input)
                new = str(f.get(key) or "")
                if inp.value != new:
                    self._quiet[wid] = new
                    inp.value = new
            self.query_one("#f-overdue", Chip).set_quietly(bool(f.get("overdue")))
            if f.get("sort") in SORTS:
                self.sort = f["sort"]
                self._update_sort_label()
        finally:
            self._applying = False
        self.page = 0
        if reload and self.station.ready:
            self.refresh_data()

    def _changed(self, delay: float = 0.0) -> None:
        if self._applying or not self.is_mounted:
            return
        self.page = 0
        self.query_one("#f-saved", Choice).value = ""  # a hand-edited filter is no longer the saved one
        if self._timer is not None:
            self._timer.stop()
        if delay:
            self._timer = self.set_timer(delay, self.refresh_data)
        else:
            self.refresh_data()

    def on_choice_changed(self, event: Choice.Changed) -> None:
        event.stop()
        if event.choice.id == "f-saved":
            if event.value:
                saved = keymap.saved_filters(self.station.config_data).get(event.value)
                if saved:
                    self.apply_filters(saved, saved=event.value)
            return
        self._changed()

    def on_chip_toggled(self, event: Chip.Toggled) -> None:
        event.stop()
        self._changed()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._quiet.get(event.input.id or "") == event.value:
            del self._quiet[event.input.id or ""]
            return
        if event.input.id == "f-month":
            v = event.value.strip()
            if v and len(v) < 7:
                return  # wait for a whole YYYY-MM
        self._changed(DEBOUNCE)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._changed()
        self.query_one(DataTable).focus()

    # ---- data ----------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        self.load(self.filters(), self.page)

    @work(thread=True, exclusive=True, group="ledger")
    def load(self, f: dict[str, Any], page: int) -> None:
        from qi_station.queries import count_requests, list_requests

        kw = {"status": f["status"] or None, "element": f["element"] or None, "month": f["month"] or None,
              "overdue": f["overdue"], "text": f["text"] or None}
        try:
            total = count_requests(self.db_path, **kw)
            rows = list_requests(self.db_path, **kw, limit=PAGE_SIZE, offset=page * PAGE_SIZE, sort=f["sort"])
        except Exception as e:  # noqa: BLE001
            self.app.call_from_thread(self._failed, error_message(e))
            return
        self.app.call_from_thread(self.show, total, page, rows)

    def _failed(self, message: str) -> None:
        self.query_one("#page-info", Static).update(message)
        self.query_one("#page-info").add_class("error")

    def show(self, total: int, page: int, rows: list[dict[str, Any]]) -> None:
        self.total, self.page = total, page
        info = self.query_one("#page-info", Static)
        info.remove_class("error")
        pages = max(1, -(-total // PAGE_SIZE))
        info.update(t("ledger.page", page=page + 1, pages=f"{pages:,}", total=f"{total:,}"))
        table = self.query_one(DataTable)
        table.clear()
        for r in rows:
            st = Text(status_name(r["status"]) + (" !" if r.get("overdue") else ""),
                      style="bold red" if r.get("overdue") else "")
            table.add_row(r["number"], st, r["promised_date"], r["enterprise_name"], r["title"], key=r["id"])
        if not rows:
            info.update(t("ledger.empty"))
        self.add_class("loaded")

    # ---- actions -------------------------------------------------------------------------------
    def action_page(self, delta: int) -> None:
        pages = max(1, -(-self.total // PAGE_SIZE))
        new = min(max(0, self.page + delta), pages - 1)
        if new != self.page:
            self.page = new
            self.refresh_data()

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._update_sort_label()
        self._changed()

    def _update_sort_label(self) -> None:
        self.query_one("#sort-label", Static).update(t("ledger.sort", sort=t(f"sort.{self.sort}")))

    def action_focus_search(self) -> None:
        self.query_one("#f-text", Input).focus()

    def action_clear_filters(self) -> None:
        self.apply_filters({"status": "", "element": "", "month": "", "overdue": False, "text": ""})

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key:
                self.station.open_request(key)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.station.open_request(event.row_key.value)

    def action_save_filter(self) -> None:
        from qi_station.screens.dialogs import InputDialog

        def done(name: str | None) -> None:
            name = (name or "").strip()
            if not name:
                return
            f = self.filters()
            try:
                keymap.save_filter(name, f)
            except OSError as e:
                self.notify(error_message(e), severity="error")
                return
            self.station.config_data.setdefault("filters", {})[name] = f
            saved = self.query_one("#f-saved", Choice)
            saved.set_options(self._saved_options())
            saved.value = name
            self.notify(t("msg.filter_saved", name=name))

        self.app.push_screen(InputDialog(t("ledger.save_title"), t("field.filter_name")), done)
