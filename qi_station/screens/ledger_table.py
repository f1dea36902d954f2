"""The ledger's virtual table: one continuous table over any number of rows, of which only the visible
lines are rendered and only the pages under the view (and the cursor) are held. It knows nothing of SQL:
it posts :class:`LedgerTable.NeedPages` and is fed with :meth:`LedgerTable.set_page`."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from qi_station.i18n import status_short
from qi_station.screens.bindings import ROW_CURSOR
from qi_station.screens.cells import clip

PAGE_SIZE = 100  # rows per SQL page (LIMIT/OFFSET); pages are fetched as the view reaches them
EXACT = frozenset({"number", "status", "promised_date"})  # never cut with a mark (they fit their width)
CACHE_PAGES = 40  # pages kept in memory (LRU): scrolling a million rows holds at most 4,000


class LedgerTable(ScrollView, can_focus=True):
    """A virtual table over ``total`` rows: only the visible lines are rendered (``render_line``), and
    only the pages under the view (and the cursor) are fetched, in a thread worker of the screen.
    The table knows nothing of SQL: it posts :class:`NeedPages` and is fed with :meth:`set_page`."""

    BINDINGS = ROW_CURSOR
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

    class StatusWidth(Message):
        """The widest status (with its overdue mark) or request number of the rows loaded since the last
        reset grew: the screen sets its columns again."""

        def __init__(self, table: LedgerTable, width: int) -> None:
            super().__init__()
            self.table, self.width = table, width

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
        self.page_size = PAGE_SIZE  # rows per page: the screen fetches pages of this many rows
        self.status_width = 0  # the widest status cell of the rows loaded since the last reset
        self.number_width = 0  # the widest request number of the rows loaded since the last reset

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
        self.status_width = 0
        self.number_width = 0
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
        widest = max((cell_len(status_text(r)) for r in rows), default=0)
        numbers = max((cell_len(r.get("number") or "") for r in rows), default=0)
        grew = widest > self.status_width or numbers > self.number_width
        self.status_width = max(self.status_width, widest)  # the rows shown, not the rarest status
        self.number_width = max(self.number_width, numbers)  # a long station code: whole numbers
        if grew:
            self.post_message(self.StatusWidth(self, self.status_width))
        self.pending.discard(page)
        self.pages[page] = rows
        self.pages.move_to_end(page)
        while len(self.pages) > CACHE_PAGES:
            self.pages.popitem(last=False)
        self.refresh()
        self.post_message(self.CursorMoved(self, self.cursor))

    def row_at(self, index: int) -> dict[str, Any] | None:
        rows = self.pages.get(index // self.page_size)
        if rows is None or index % self.page_size >= len(rows):
            return None
        return rows[index % self.page_size]

    def _want(self) -> None:
        """Ask for the pages under the view and the cursor that are neither loaded nor on their way."""
        if not self.total:
            return
        top = int(self.scroll_offset.y)
        bottom = min(self.total - 1, top + max(1, self.size.height) - 1)
        size = self.page_size
        pages = set(range(top // size, bottom // size + 1)) | {self.cursor // size}
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
            if field == "status":
                value = status_text(row)
            elif (
                field == "enterprise_name"
            ):  # a renamed enterprise's old request: the name it was logged under
                value = row.get("enterprise_former_name") or row["enterprise_name"]
            else:
                value = str(row.get(field) or "")
            cell = Text(
                value if field in EXACT else clip(value, w),
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


def status_text(row: dict[str, Any]) -> str:
    """A row's status cell: the short status, and the working days overdue ("待反馈 !12")."""
    return status_short(row["status"]) + (f" !{_overdue_workdays(row)}" if row.get("overdue") else "")


def _overdue_workdays(row: dict[str, Any]) -> str:
    """Working days past the promised date ("?" where the holiday calendar does not cover them)."""
    n = row.get("overdue_workdays")
    return "?" if n is None else str(n)
