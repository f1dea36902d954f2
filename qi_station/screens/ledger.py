"""Ledger (服务台账): one continuous, virtual table over any number of requests (a COUNT, then SQL pages
of LIMIT/OFFSET fetched in thread workers as the view and the cursor reach them; only the visible
lines are rendered), filters (status, element, month, overdue, text), sort, saved filters."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from qi_station.core import domain
from qi_station.i18n import element_name, status_short, t
from qi_station.screens.base import MainScreen, error_message
from qi_station.screens.bindings import bindings
from qi_station.screens.dialogs import status_choices
from qi_station.screens.ledger_table import LedgerTable
from qi_station.screens.result_list import SearchInput
from qi_station.screens.widgets import Chip, Choice
from qi_station.services import keymap

SORTS = ("received_desc", "received_asc", "promised_asc", "number", "status")
DEBOUNCE = 0.25
FIELD = {"promised": "promised_date", "enterprise": "enterprise_name"}  # column key -> row field
# A sort whose exact reverse is another sort: a page in the back half is read from the other end with a
# small OFFSET (SQLite steps over every skipped row: OFFSET 999,900 of a million takes seconds).
REVERSE = {"received_desc": "received_asc", "received_asc": "received_desc"}


def page_rows(
    conn: Any, kw: dict[str, Any], sort: str, page: int, total: int, size: int
) -> list[dict[str, Any]]:
    """One page of the ledger (``size`` rows from ``page * size``) in ``sort`` order."""
    from qi_station.services.queries import list_requests

    offset = page * size
    if total and sort in REVERSE and offset > total // 2:
        end = min(total, offset + size)
        rows = list_requests(conn, **kw, limit=max(0, end - offset), offset=total - end, sort=REVERSE[sort])
        return rows[::-1]
    return list_requests(conn, **kw, limit=size, offset=offset, sort=sort)


class RowsLoaded(Message):
    """The first rows of load ``seq`` (filters ``f``): ``rows`` are page ``page`` of ``total``; ``counting``:
    the total is a lower bound, :class:`TotalCounted` follows."""

    def __init__(
        self,
        seq: int,
        f: dict[str, Any],
        total: int,
        page: int,
        rows: list[dict[str, Any]],
        keep: bool,
        counting: bool,
    ) -> None:
        super().__init__()
        self.seq, self.f, self.total, self.page, self.rows = seq, f, total, page, rows
        self.keep, self.counting = keep, counting


class TotalCounted(Message):
    def __init__(self, seq: int, total: int) -> None:
        super().__init__()
        self.seq, self.total = seq, total


class PageLoaded(Message):
    def __init__(self, generation: int, page: int, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.generation, self.page, self.rows = generation, page, rows


class LedgerFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


def _failure_text(e: Exception, f: dict[str, Any]) -> str:
    """A failed load's text for the filter row (about 35 cells at 80 columns): a month the core refuses
    is named short, with this month as the example; anything else as :func:`error_message` gives it."""
    from qi_station.core.errors import ValidationError

    if isinstance(e, ValidationError) and e.field == "month":
        from qi_station.core.months import current_month

        return t("ledger.bad_month", typed=str(f.get("month") or "")[:10], example=current_month())
    return error_message(e)


#: the filters a request number typed whole in the search box is not held back by
NUMBER_FREE = {"status": "", "element": "", "month": "", "overdue": False}


def exact_number(conn: Any, f: dict[str, Any], kw: Any) -> dict[str, Any]:
    """``f`` itself, or (the search text a whole request number, ``QI0001-202612-0001``, that the other
    filters hide: 状态=已办结 set from the dashboard) ``f`` without them, marked ``unfiltered``: a number
    finds its request whatever the filters (the operator saw 没有符合条件的需求)."""
    from qi_station.core.ids import number_key, number_month
    from qi_station.services.queries import count_requests

    text = number_key(f.get("text"))  # ＱＩ０００１－… typed with a Chinese input method too
    if not text or number_month(text) is None or all(f.get(k) == v for k, v in NUMBER_FREE.items()):
        return f
    if count_requests(conn, **kw(f)):
        return f
    bare = {**f, **NUMBER_FREE}
    return {**bare, "unfiltered": True} if count_requests(conn, **kw(bare)) else f


class LedgerScreen(MainScreen):
    SCREEN_KEY = "ledger"
    CSS_PATH = "ledger.tcss"
    AUTO_FOCUS = "#ledger-table"  # browse at once (o / Enter open); Ctrl+F goes to the search box
    BINDINGS = bindings("ledger", "main")

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.sort = "received_desc"
        self._timer: Timer | None = None
        self._applying = False
        self._quiet: dict[str, str] = {}  # Input values set by code: their Changed is not a user edit
        self._query: dict[str, Any] = {}  # the filters of the rows in the table (pages are fetched with them)
        self._keep_cursor = False
        self._counting = False  # the first page is shown, its COUNT is on its way
        self._seq = 0  # the newest load: rows and counts of older ones are dropped
        self._generation = 0  # the table generation the newest load's rows went into
        self._error: str | None = None  # the newest load failed: its message stays in place of the count
        self._open_seq = -1  # the load started by Enter in a filter box: a single match opens at once

    def compose_body(self) -> ComposeResult:
        with Vertical(id="filters"):
            with Horizontal(classes="filter-row"):
                yield Choice(status_choices(), "", id="f-status")
                yield Choice(
                    [("", t("filter.all_elements"))] + [(e, element_name(e)) for e in domain.ELEMENTS],
                    "",
                    id="f-element",
                )
                yield Input(id="f-month", placeholder=t("ph.month"), compact=True, max_length=9)
                yield Chip(t("filter.overdue"), "overdue", id="f-overdue")
                yield SearchInput(id="f-text", placeholder=t("ph.ledger_text"), compact=True)
            with Horizontal(classes="filter-row"):
                yield Choice(self._saved_options(), "", id="f-saved")
                yield Static("", id="sort-label", classes="muted", markup=False)
                yield Static(t("msg.loading"), id="page-info", markup=False)
        yield Static("", id="ledger-header", markup=False)
        yield LedgerTable(id="ledger-table")

    def _saved_options(self) -> list[tuple[str, str]]:
        names = sorted(keymap.saved_filters(self.station.config_data))
        return [("", t("filter.saved_none"))] + [(n, t("filter.saved", name=n)) for n in names]

    def on_mount(self) -> None:
        super().on_mount()
        self._set_columns(self.app.size.width)
        self._update_sort_label()
        self._take_preset()
        if self.station.ready:
            self.refresh_data()

    @staticmethod
    def _widths(total: int, status_fit: int = 0, number_fit: int = 0) -> dict[str, int]:
        """Column widths for a terminal ``total`` cells wide: enterprise and title share what is left
        (one cell after each column, one for the scrollbar). The status column is as wide as the widest
        status of the rows loaded (``status_fit``: 已登记 !1), else as the longest status could be
        (待反馈 !123): the room it does not need goes to the enterprise (4/7) and the title (3/7). The
        number column is as wide as the longest number loaded (``number_fit``; 18 for a 6-character
        station code, more for a longer one: a number is never cut)."""
        from rich.cells import cell_len

        widest = max(cell_len(status_short(s)) + 5 for s in domain.STATUSES)
        status = min(16, max(8, status_fit or widest, cell_len(t("col.status"))))
        number = max(18, number_fit)
        fixed = number + status + 10
        rest = max(20, total - fixed - 5 - 1)
        ent = max(10, rest * 4 // 7)  # the enterprise's name is the longer (济南华泰食品股份有限公司)
        return {"number": number, "status": status, "promised": 10, "enterprise": ent, "title": rest - ent}

    def on_ledger_table_status_width(self, event: LedgerTable.StatusWidth) -> None:
        event.stop()
        self._set_columns(self.size.width)

    def _set_columns(self, width: int) -> None:
        table = self.query_one(LedgerTable)
        widths = self._widths(width, table.status_width, table.number_width)
        table.columns = [(FIELD.get(k, k), w) for k, w in widths.items()]
        head = Text(no_wrap=True, end="")
        for k, w in widths.items():
            cell = Text(t(f"col.{k}"), end="")
            cell.truncate(w, overflow="crop", pad=True)
            head.append_text(cell)
            head.append(" ")
        self.query_one("#ledger-header", Static).update(head)
        table.refresh()

    def on_resize(self) -> None:
        self._set_columns(self.size.width)

    def on_screen_resume(self) -> None:
        self._take_preset()
        self._keep_cursor = True  # back from a request: the same place, fresh rows
        super().on_screen_resume()

    def _take_preset(self) -> None:
        preset = self.station.ledger_preset
        if preset is not None:
            self.station.ledger_preset = None
            self.apply_filters(
                {"status": "", "element": "", "month": "", "overdue": False, "text": "", **preset},
                reload=False,
            )

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
        self._keep_cursor = False
        if reload and self.station.ready:
            self.refresh_data()

    def _changed(self, delay: float = 0.0) -> None:
        if self._applying or not self.is_mounted:
            return
        self.query_one("#f-saved", Choice).value = ""  # a hand-edited filter is no longer the saved one
        self._keep_cursor = False
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
            from qi_station.core.errors import ValidationError
            from qi_station.core.months import parse_month

            v = event.value.strip()
            try:
                if v:
                    parse_month(v)
            except ValidationError:
                if len(v) < 9:
                    return  # wait for a whole month (2026-03, 202603, 2026年3月 ...)
        self._changed(DEBOUNCE)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._changed()
        self._open_seq = self._seq  # the load Enter started: one matching request opens at once
        self.query_one(LedgerTable).focus()

    def on_key(self, event: events.Key) -> None:
        """Down from a filter box goes to the table, onto its first row (the key does not move the
        cursor on: Down, Enter opens the first match)."""
        if event.key == "down" and isinstance(self.focused, Input):
            event.stop()
            event.prevent_default()
            table = self.query_one(LedgerTable)
            table.cursor = 0
            table.focus()

    # ---- data ----------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        keep = self._keep_cursor  # True after a return from a request, until the filters change
        table = self.query_one(LedgerTable)
        self._seq += 1
        page = table.cursor // table.page_size if keep else 0
        self.load(self.station.reader, self._seq, self.filters(), page, keep, table.page_size)

    @staticmethod
    def _kw(f: dict[str, Any]) -> dict[str, Any]:
        return {
            "status": f["status"] or None,
            "element": f["element"] or None,
            "month": f["month"] or None,
            "overdue": f["overdue"],
            "text": f["text"] or None,
        }

    @work(thread=True, exclusive=True, group="ledger")
    def load(self, reader: Any, seq: int, f: dict[str, Any], page: int, keep: bool, size: int) -> None:
        """The first page the view needs (on the shared reader). From the top, the rows are shown before
        the count is in: :meth:`count` starts once they are painted (a COUNT over a million rows takes a
        few hundred ms and scans the table: run beside the first paint, it slowed F3 from about 110 ms to
        270-440 ms)."""
        from qi_station.services.queries import count_requests

        try:
            with reader as conn:
                f = exact_number(conn, f, self._kw)
            kw = self._kw(f)
            if keep and page:
                with reader as conn:
                    total = count_requests(conn, **kw)
                    page = min(page, max(0, (total - 1) // size))
                    rows = page_rows(conn, kw, f["sort"], page, total, size)
                self.post_message(RowsLoaded(seq, f, total, page, rows, keep, False))
                return
            with reader as conn:
                rows = page_rows(conn, kw, f["sort"], 0, 0, size)
        except Exception as e:  # noqa: BLE001
            self.post_message(LedgerFailed(_failure_text(e, f)))
            return
        self.post_message(RowsLoaded(seq, f, len(rows), 0, rows, keep, len(rows) >= size))

    @work(thread=True, exclusive=True, group="ledger-count")
    def count(self, reader: Any, seq: int, f: dict[str, Any]) -> None:
        """The COUNT of load ``seq``, after its first page (a full first page: there may be more)."""
        from qi_station.services.queries import count_requests

        if seq != self._seq:
            return  # a newer load is on its way (it counts for itself)
        try:
            with reader as conn:
                total = count_requests(conn, **self._kw(f))
        except Exception as e:  # noqa: BLE001
            self.post_message(LedgerFailed(_failure_text(e, f)))
            return
        self.post_message(TotalCounted(seq, total))

    def on_ledger_table_need_pages(self, event: LedgerTable.NeedPages) -> None:
        event.stop()
        table = event.table
        if self._query and event.generation == table.generation:
            self.fetch(
                self.station.reader, self._query, event.generation, event.pages, table.total, table.page_size
            )

    @work(thread=True, group="ledger-pages")
    def fetch(
        self, reader: Any, f: dict[str, Any], generation: int, pages: list[int], total: int, size: int
    ) -> None:
        worker = get_current_worker()
        kw = self._kw(f)
        for page in pages:
            if worker.is_cancelled:
                return  # the filters changed meanwhile (a new table generation cancels the fetches)
            try:
                with reader as conn:
                    rows = page_rows(conn, kw, f["sort"], page, total, size)
            except Exception as e:  # noqa: BLE001
                self.post_message(LedgerFailed(_failure_text(e, f)))
                return
            self.post_message(PageLoaded(generation, page, rows))

    @on(LedgerFailed)
    def _failed(self, event: LedgerFailed) -> None:
        """A refused filter (a bad month) or a failed read: the message, and no rows that do not match it."""
        self.workers.cancel_group(self, "ledger-pages")
        self._query = {}
        self.total = 0
        self._counting = False
        self._error = event.message
        self._generation = self.query_one(LedgerTable).reset(0)
        self._update_info()

    @on(RowsLoaded)
    def _rows_loaded(self, event: RowsLoaded) -> None:
        if event.seq == self._seq:  # else a newer load is on its way
            self.show(event.f, event.total, event.page, event.rows, event.keep, event.counting)
            if event.counting:  # the rows painted first, then the COUNT
                self.call_after_refresh(self.count, self.station.reader, event.seq, event.f)
            if event.seq == self._open_seq and event.total == 1 and not event.counting:
                self.station.open_request(event.rows[0]["id"])

    @on(TotalCounted)
    def _total_counted(self, event: TotalCounted) -> None:
        if event.seq == self._seq:
            self.set_total(self._generation, event.total)

    @on(PageLoaded)
    def _page_loaded(self, event: PageLoaded) -> None:
        self.query_one(LedgerTable).set_page(event.generation, event.page, event.rows)

    def show(
        self, f: dict[str, Any], total: int, page: int, rows: list[dict[str, Any]], keep: bool, counting: bool
    ) -> None:
        self._query = f
        self.total = total
        self._counting = counting
        self._error = None
        table = self.query_one(LedgerTable)
        self.workers.cancel_group(self, "ledger-pages")  # pages of the old rows are no longer wanted
        self._generation = table.reset(total, keep_cursor=keep)
        table.set_page(self._generation, page, rows)
        self._update_info()
        self.add_class("loaded", update=False)  # a marker (tests, the benchmark): no style uses it

    def set_total(self, generation: int, total: int) -> None:
        table = self.query_one(LedgerTable)
        if generation != table.generation:
            return
        self.total = total
        self._counting = False
        table.set_total(generation, total)
        self._update_info()

    def on_ledger_table_cursor_moved(self, event: LedgerTable.CursorMoved) -> None:
        event.stop()
        self._update_info()

    def _update_info(self) -> None:
        table = self.query_one(LedgerTable)
        info = self.query_one("#page-info", Static)
        info.set_class(self._error is not None, "error")
        if self._error is not None:
            info.update(self._error)
        elif not self.total:
            info.update(t("ledger.empty"))
        else:
            total = "..." if self._counting else f"{self.total:,}"
            text = t("ledger.rows", row=f"{table.cursor + 1:,}", total=total)
            if self._query.get("unfiltered"):  # a whole number shown past the filters: say so
                text += t("ledger.unfiltered")
            info.update(text)

    # ---- actions -------------------------------------------------------------------------------
    def action_page(self, delta: int) -> None:
        self.query_one(LedgerTable).action_cursor_page(delta)

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._update_sort_label()
        self._changed()

    def _update_sort_label(self) -> None:
        self.query_one("#sort-label", Static).update(t("ledger.sort", sort=t(f"sort.{self.sort}")))

    def action_focus_search(self) -> None:
        self.query_one("#f-text", SearchInput).take()

    def action_clear_filters(self) -> None:
        self.apply_filters({"status": "", "element": "", "month": "", "overdue": False, "text": ""})

    def action_open(self) -> None:
        table = self.query_one(LedgerTable)
        row = table.row_at(table.cursor)
        if row is not None:
            self.station.open_request(row["id"])

    def on_ledger_table_selected(self, event: LedgerTable.Selected) -> None:
        event.stop()
        self.station.open_request(event.row["id"])

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

        self.app.push_screen(
            InputDialog(t("ledger.save_title"), t("field.filter_name"), check=keymap.check_filter_name), done
        )
