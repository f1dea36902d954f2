"""Ledger (服务台账): one continuous, virtual table over any number of requests (a COUNT, then SQL pages
of LIMIT/OFFSET fetched in thread workers as the view and the cursor reach them; only the visible
lines are rendered), filters (status, element, month, overdue, text), sort, saved filters."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Input, Static

from qi_station.core import domain
from qi_station.i18n import element_name, status_short, t
from qi_station.screens.base import MainScreen, error_message
from qi_station.screens.dialogs import status_choices
from qi_station.screens.widgets import Chip, Choice
from qi_station.services import keymap

PAGE_SIZE = 100  # rows per SQL page (LIMIT/OFFSET); pages are fetched as the view reaches them
CACHE_PAGES = 40  # pages kept in memory (LRU): scrolling a million rows holds at most 4,000
SORTS = ("received_desc", "received_asc", "promised_asc", "number", "status")
DEBOUNCE = 0.25
FIELD = {"promised": "promised_date", "enterprise": "enterprise_name"}  # column key -> row field
# A sort whose exact reverse is another sort: a page in the back half is read from the other end with a
# small OFFSET (SQLite steps over every skipped row: OFFSET 999,900 of a million takes seconds).
REVERSE = {"received_desc": "received_asc", "received_asc": "received_desc"}


def page_rows(conn: Any, kw: dict[str, Any], sort: str, page: int, total: int) -> list[dict[str, Any]]:
    """One page of the ledger (``PAGE_SIZE`` rows from ``page * PAGE_SIZE``) in ``sort`` order."""
    from qi_station.services.queries import list_requests

    offset = page * PAGE_SIZE
    if total and sort in REVERSE and offset > total // 2:
        end = min(total, offset + PAGE_SIZE)
        rows = list_requests(conn, **kw, limit=max(0, end - offset), offset=total - end, sort=REVERSE[sort])
        return rows[::-1]
    return list_requests(conn, **kw, limit=PAGE_SIZE, offset=offset, sort=sort)


class LedgerTable(ScrollView, can_focus=True):
    """A virtual table over ``total`` rows: only the visible lines are rendered (``render_line``), and
    only the pages under the view (and the cursor) are fetched, in a thread worker of the screen.
    The table knows nothing of SQL: it posts :class:`NeedPages` and is fed with :meth:`set_page`."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "up", show=False),
        Binding("down", "cursor(1)", "down", show=False),
        Binding("pageup", "cursor_page(-1)", "page up", show=False),
        Binding("pagedown", "cursor_page(1)", "page down", show=False),
        Binding("home", "cursor_to(0)", "first", show=False),
        Binding("end", "cursor_to(-1)", "last", show=False),
        Binding("enter", "select", "open", show=False),
    ]
    COMPONENT_CLASSES = {
        "ledger-table--cursor",
        "ledger-table--even",
        "ledger-table--overdue",
        "ledger-table--loading",
    }
    DEFAULT_CSS = """
    LedgerTable { background: $surface; scrollbar-size-vertical: 1; overflow-x: hidden; }
    LedgerTable > .ledger-table--cursor { background: $block-cursor-blurred-background; }
    LedgerTable:focus > .ledger-table--cursor { background: $block-cursor-background;
        color: $block-cursor-foreground; text-style: bold; }
    LedgerTable > .ledger-table--even { background: $surface-lighten-1; }
    LedgerTable > .ledger-table--overdue { color: $error; text-style: bold; }
    LedgerTable > .ledger-table--loading { color: $text-muted; }
    """
    cursor: reactive[int] = reactive(0, always_update=True)

    class NeedPages(Message):
        def __init__(self, table: LedgerTable, generation: int, pages: list[int]) -> None:
            super().__init__()
            self.table, self.generation, self.pages = table, generation, pages

    class Selected(Message):
        def __init__(self, table: LedgerTable, row: dict[str, Any]) -> None:
            super().__init__()
            self.table, self.row = table, row

    class CursorMoved(Message):
        def __init__(self, table: LedgerTable, index: int) -> None:
            super().__init__()
            self.table, self.index = table, index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns: list[tuple[str, int]] = []  # (row field, width)
        self.total = 0
        self.generation = 0
        self.pages: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self.pending: set[int] = set()
        self.fetched: list[int] = []  # every page asked for since the last reset (tests read it)

    # ---- rows ------------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return self.total

    @property
    def loaded_rows(self) -> int:
        return sum(len(p) for p in self.pages.values())

    def reset(self, total: int, keep_cursor: bool = False) -> int:
        """New data (filters, sort, a change): forget every page; returns the new generation."""
        self.generation += 1
        self.total = total
        self.pages.clear()
        self.pending.clear()
        self.fetched = []
        self.virtual_size = Size(self.size.width, total)
        cursor = min(self.cursor, max(0, total - 1)) if keep_cursor else 0
        if not keep_cursor:
            self.scroll_to(y=0, animate=False, immediate=True)
        self.cursor = cursor
        self.refresh()
        return self.generation

    def set_total(self, generation: int, total: int) -> None:
        """The COUNT arrived after the first page: same rows, the real length."""
        if generation != self.generation:
            return
        self.total = total
        self.virtual_size = Size(self.size.width, total)
        self.cursor = self.cursor  # clamp
        self.refresh()

    def set_page(self, generation: int, page: int, rows: list[dict[str, Any]]) -> None:
        if generation != self.generation:
            return  # rows of an older query
        self.pending.discard(page)
        self.pages[page] = rows
        self.pages.move_to_end(page)
        while len(self.pages) > CACHE_PAGES:
            self.pages.popitem(last=False)
        self.refresh()
        self.post_message(self.CursorMoved(self, self.cursor))

    def row_at(self, index: int) -> dict[str, Any] | None:
        rows = self.pages.get(index // PAGE_SIZE)
        if rows is None or index % PAGE_SIZE >= len(rows):
            return None
        return rows[index % PAGE_SIZE]

    def _want(self) -> None:
        """Ask for the pages under the view and the cursor that are neither loaded nor on their way."""
        if not self.total:
            return
        top = int(self.scroll_offset.y)
        bottom = min(self.total - 1, top + max(1, self.size.height) - 1)
        pages = set(range(top // PAGE_SIZE, bottom // PAGE_SIZE + 1)) | {self.cursor // PAGE_SIZE}
        want = sorted(pages - self.pending - set(self.pages))
        if want:
            self.pending.update(want)
            self.fetched += want
            self.post_message(self.NeedPages(self, self.generation, want))

    # ---- rendering -------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.size.width
        if index >= self.total:
            return Strip.blank(width, self.rich_style)
        row = self.row_at(index)
        if row is None:  # not fetched yet: a blank line now, the page is on its way
            self.call_later(self._want)
            style = self.get_component_rich_style("ledger-table--loading")
            return Strip([Segment(" " * width, self.rich_style + style)], width)
        base = self.rich_style
        if index % 2:
            base = base + self.get_component_rich_style("ledger-table--even")
        if index == self.cursor:
            base = base + self.get_component_rich_style("ledger-table--cursor")
        overdue = self.get_component_rich_style("ledger-table--overdue", partial=True)
        line = Text(no_wrap=True, overflow="crop", end="")
        for field, w in self.columns:
            value = row.get(field) or ""
            if field == "status":
                value = status_short(row["status"]) + (" !" if row.get("overdue") else "")
            cell = Text(
                str(value),
                no_wrap=True,
                overflow="crop",
                end="",
                style=overdue if field == "status" and row.get("overdue") else "",
            )
            cell.truncate(w, overflow="crop", pad=True)
            line.append_text(cell)
            line.append(" ")
        line.truncate(width, overflow="crop", pad=True)
        segments = [
            Segment(seg.text, base + seg.style if seg.style else base)
            for seg in line.render(self.app.console)
        ]
        return Strip(segments).crop(0, width)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.total)

    # ---- cursor ----------------------------------------------------------------------------------
    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, self.total - 1)) if self.total else 0

    def watch_cursor(self, new: int) -> None:
        self.scroll_to_region(Region(0, new, 1, 1), animate=False, immediate=True)
        self.refresh()
        self.post_message(self.CursorMoved(self, new))

    def action_cursor(self, delta: int) -> None:
        self.cursor += delta

    def action_cursor_page(self, delta: int) -> None:
        self.cursor += delta * max(1, self.size.height - 1)

    def action_cursor_to(self, index: int) -> None:
        self.cursor = index if index >= 0 else self.total - 1

    def action_select(self) -> None:
        row = self.row_at(self.cursor)
        if row is not None:
            self.post_message(self.Selected(self, row))

    def on_click(self, event: events.Click) -> None:
        """A click moves the cursor; a click on the cursor row (or a double click) opens it."""
        self.focus()
        index = int(self.scroll_offset.y) + event.y
        if 0 <= index < self.total:
            again = index == self.cursor or event.chain > 1
            self.cursor = index
            if again:
                self.action_select()


class LedgerScreen(MainScreen):
    SCREEN_KEY = "ledger"
    CSS_PATH = "ledger.tcss"
    AUTO_FOCUS = "#ledger-table"  # browse at once (o / Enter open); Ctrl+F goes to the search box
    BINDINGS = keymap.bindings("ledger")

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

    def compose_body(self) -> ComposeResult:
        with Vertical(id="filters"):
            with Horizontal(classes="filter-row"):
                yield Choice(status_choices(), "", id="f-status")
                yield Choice(
                    [("", t("filter.all_elements"))] + [(e, element_name(e)) for e in domain.ELEMENTS],
                    "",
                    id="f-element",
                )
                yield Input(id="f-month", placeholder=t("ph.month"), compact=True, max_length=7)
                yield Chip(t("filter.overdue"), "overdue", id="f-overdue")
                yield Input(id="f-text", placeholder=t("ph.ledger_text"), compact=True)
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
    def _widths(total: int) -> dict[str, int]:
        """Column widths for a terminal ``total`` cells wide: enterprise and title share what is left
        (one cell after each column, one for the scrollbar)."""
        from rich.cells import cell_len

        status = min(12, max(8, *(cell_len(status_short(s)) + 2 for s in domain.STATUSES)))
        fixed = 18 + status + 10
        rest = max(20, total - fixed - 5 - 1)
        ent = max(10, rest * 2 // 5)
        return {"number": 18, "status": status, "promised": 10, "enterprise": ent, "title": rest - ent}

    def _set_columns(self, width: int) -> None:
        widths = self._widths(width)
        table = self.query_one(LedgerTable)
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
            v = event.value.strip()
            if v and len(v) < 7:
                return  # wait for a whole YYYY-MM
        self._changed(DEBOUNCE)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._changed()
        self.query_one(LedgerTable).focus()

    # ---- data ----------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        keep = self._keep_cursor  # True after a return from a request, until the filters change
        table = self.query_one(LedgerTable)
        self.load(self.filters(), table.cursor // PAGE_SIZE if keep else 0, keep)

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
    def load(self, f: dict[str, Any], page: int, keep: bool) -> None:
        """The first page the view needs, then the COUNT (on the shared reader). From the top, the rows
        are shown before the count is in (a COUNT over a million rows takes a few hundred ms)."""
        from qi_station.services.queries import count_requests

        kw = self._kw(f)
        try:
            if keep and page:
                with self.station.reader as conn:
                    total = count_requests(conn, **kw)
                    page = min(page, max(0, (total - 1) // PAGE_SIZE))
                    rows = page_rows(conn, kw, f["sort"], page, total)
                self.app.call_from_thread(self.show, f, total, page, rows, keep, False)
                return
            with self.station.reader as conn:
                rows = page_rows(conn, kw, f["sort"], 0, 0)
            generation = self.app.call_from_thread(
                self.show, f, len(rows), 0, rows, keep, len(rows) >= PAGE_SIZE
            )
            if len(rows) < PAGE_SIZE:
                return  # the first page is all there is
            with self.station.reader as conn:
                total = count_requests(conn, **kw)
        except Exception as e:  # noqa: BLE001
            self.app.call_from_thread(self._failed, error_message(e))
            return
        self.app.call_from_thread(self.set_total, generation, total)

    def on_ledger_table_need_pages(self, event: LedgerTable.NeedPages) -> None:
        event.stop()
        if self._query and event.generation == event.table.generation:
            self.fetch(self._query, event.generation, event.pages, event.table.total)

    @work(thread=True, group="ledger-pages")
    def fetch(self, f: dict[str, Any], generation: int, pages: list[int], total: int) -> None:
        table = self.query_one(LedgerTable)
        kw = self._kw(f)
        for page in pages:
            if generation != table.generation:
                return  # the filters changed meanwhile
            try:
                with self.station.reader as conn:
                    rows = page_rows(conn, kw, f["sort"], page, total)
            except Exception as e:  # noqa: BLE001
                self.app.call_from_thread(self._failed, error_message(e))
                return
            self.app.call_from_thread(table.set_page, generation, page, rows)

    def _failed(self, message: str) -> None:
        self.query_one("#page-info", Static).update(message)
        self.query_one("#page-info").add_class("error")

    def show(
        self, f: dict[str, Any], total: int, page: int, rows: list[dict[str, Any]], keep: bool, counting: bool
    ) -> int:
        self._query = f
        self.total = total
        self._counting = counting
        self.query_one("#page-info").remove_class("error")
        table = self.query_one(LedgerTable)
        generation = table.reset(total, keep_cursor=keep)
        table.set_page(generation, page, rows)
        self._update_info()
        self.add_class("loaded")
        return generation

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
        if not self.total:
            info.update(t("ledger.empty"))
        else:
            total = "..." if self._counting else f"{self.total:,}"
            info.update(t("ledger.rows", row=f"{table.cursor + 1:,}", total=total))

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
        self.query_one("#f-text", Input).focus()

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

        self.app.push_screen(InputDialog(t("ledger.save_title"), t("field.filter_name")), done)
