"""Search as you type without re-laying out the screen on each key: :class:`ResultList`, a light table for
a short list of results (the library search), and :class:`SearchInput`, its search box.

The list's rows are plain text cells, only the visible lines are rendered (``render_line``), and new
rows neither re-lay out the screen nor build a widget per row. It replaces Textual's ``DataTable``
where a keystroke puts a new list in: ``DataTable`` added and measured each row (about 0.3 ms of CPU
a row) before the frame could be painted. Its API keeps the ``DataTable`` names the screen and its
tests use (``row_count``, ``cursor_row``, ``move_cursor``, ``get_row_at``, ``get_cell_at``)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.control import strip_control_codes
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input

from qi_station.screens.bindings import ROW_CURSOR
from qi_station.screens.cells import clip

Cells = tuple[str, ...]
_FLAT = str.maketrans({"\n": " ", "\r": " ", "\t": " "})  # one line per row, whatever the text holds


def plain(text: str) -> str:
    """A cell's text as it is drawn: control codes stripped (the app's strip table), on one line."""
    return strip_control_codes(text).translate(_FLAT)


class ResultList(ScrollView, can_focus=True):
    """Rows of text cells under a header line, with a row cursor. Up/Down/PgUp/PgDn/Home/End move the
    cursor (:class:`Highlighted`), Enter or a click on the cursor row posts :class:`Selected`. Wide
    (Chinese) characters are measured in terminal cells; a cell cut to its column ends with ``..``."""

    BINDINGS = ROW_CURSOR
    COMPONENT_CLASSES = {
        "result-list--header",
        "result-list--cursor",
        "result-list--even",
        "result-list--below",
    }
    # the look of Textual's DataTable (which this list replaced)
    DEFAULT_CSS = """
    ResultList {
        overflow-x: hidden;
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .result-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .result-list--header { background-tint: $foreground 5%; }
        }
        &:dark > .result-list--even { background: $surface-darken-1 40%; }
        & > .result-list--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .result-list--header { background: ansi_bright_blue; color: ansi_default; }
        & > .result-list--even { background: $surface-lighten-1 50%; }
        & > .result-list--below { background: $background; }  /* under the last row: the pane's */
        & > .result-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class Highlighted(Message):
        def __init__(self, result_list: ResultList, index: int) -> None:
            super().__init__()
            self.result_list, self.index = result_list, index

    class Selected(Message):
        def __init__(self, result_list: ResultList, index: int) -> None:
            super().__init__()
            self.result_list, self.index = result_list, index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.labels: list[str] = []
        self.widths: list[int] = []
        self.rows: list[Cells] = []
        self._shown: list[str | None] = []  # each row's line of text, made when first drawn
        self._header: str | None = None
        self.cursor_row = 0
        self._styles: dict[str, Style] = {}  # this paint's styles (render_lines)

    # ---- columns and rows ------------------------------------------------------------------------
    def set_columns(self, columns: Sequence[tuple[str, int]]) -> None:
        """(label, width in cells) of each column; each column pads one cell either side."""
        self.labels = [plain(label) for label, _w in columns]
        self.widths = [w for _label, w in columns]
        self._forget_lines()

    def set_widths(self, widths: Sequence[int]) -> None:
        if list(widths) != self.widths:
            self.widths = list(widths)
            self._forget_lines()

    def set_rows(self, rows: Sequence[Cells]) -> None:
        """New rows: the cursor and the view go back to the first. Only the view is redrawn; the layout
        is redone only when the scrollbar appears or goes."""
        self.rows = [tuple(plain(c) for c in row) for row in rows]
        self._shown = [None] * len(self.rows)
        self.cursor_row = 0
        self._set_virtual_height()
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()

    def _set_virtual_height(self) -> None:
        size = Size(self.size.width, len(self.rows) + 1)  # the header line, then the rows
        if size != self.virtual_size:
            # _scroll_update: private, Textual has no public call to move a virtual size's scroll limits
            # without a layout; guard: test_tui_results.py (the list's view follows its cursor)
            self.set_reactive(Widget.virtual_size, size)  # no re-layout for the new length ...
            self._scroll_update(size)  # ... the scrollbar follows (a layout if it appears or goes)

    def _forget_lines(self) -> None:
        self._shown = [None] * len(self.rows)
        self._header = None
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def get_row_at(self, index: int) -> Cells:
        return self.rows[index]

    def get_cell_at(self, coordinate: tuple[int, int]) -> str:
        row, column = coordinate
        return self.rows[row][column]

    # ---- rendering -------------------------------------------------------------------------------
    def _line(self, cells: Sequence[str]) -> str:
        out = []
        for value, w in zip(cells, self.widths, strict=False):
            shown = clip(value, w)
            out.append(f" {shown}{' ' * (w - cell_len(shown))} ")
        return "".join(out)

    def render_lines(self, crop: Region) -> list[Strip]:
        """The lines of one paint, with the styles worked out once for all of them (each look-up walks
        the widget's ancestors for their backgrounds)."""
        base = self.rich_style
        part = self.get_component_rich_style
        even, cursor = part("result-list--even"), part("result-list--cursor")
        self._styles = {
            "header": base + part("result-list--header"),
            "below": base + part("result-list--below"),
            "odd": base,
            "even": base + even,
            "odd cursor": base + cursor,
            "even cursor": base + even + cursor,
        }
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width, styles = self.size.width, self._styles
        if y == 0:
            if self._header is None:
                self._header = self._line(self.labels)
            return self._strip(self._header, styles["header"], width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self.rows):
            return Strip.blank(width, styles["below"])
        text = self._shown[index]
        if text is None:
            text = self._shown[index] = self._line(self.rows[index])
        kind = "even" if index % 2 else "odd"
        return self._strip(text, styles[kind + " cursor" if index == self.cursor_row else kind], width)

    @staticmethod
    def _strip(text: str, style: Style, width: int) -> Strip:
        """``text`` in ``style``, padded (or cut) to the line's ``width``."""
        used = cell_len(text)
        if used >= width:
            return Strip([Segment(text, style)], used).crop(0, width)
        return Strip([Segment(text + " " * (width - used), style)], width)

    def on_resize(self) -> None:
        self._set_virtual_height()

    # ---- cursor ----------------------------------------------------------------------------------
    def move_cursor(self, *, row: int) -> None:
        row = max(0, min(row, len(self.rows) - 1)) if self.rows else 0
        old, self.cursor_row = self.cursor_row, row
        self._scroll_to_cursor()
        if old != row:
            self._refresh_row(old)
            self._refresh_row(row)
            self.post_message(self.Highlighted(self, row))

    def _refresh_row(self, index: int) -> None:
        self.refresh(Region(0, index + 1 - int(self.scroll_offset.y), self.size.width, 1))

    def _scroll_to_cursor(self) -> None:
        top, rows = int(self.scroll_offset.y), max(1, self.size.height - 1)  # the header takes a line
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + rows:
            self.scroll_to(y=self.cursor_row - rows + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(row=self.cursor_row + delta)

    def action_cursor_page(self, delta: int) -> None:
        self.move_cursor(row=self.cursor_row + delta * max(1, self.size.height - 2))

    def action_cursor_to(self, index: int) -> None:
        self.move_cursor(row=index if index >= 0 else len(self.rows) - 1)

    def action_select(self) -> None:
        if self.rows:
            self.post_message(self.Selected(self, self.cursor_row))

    def on_click(self, event: events.Click) -> None:
        """A click moves the cursor; a click on the cursor row (or a double click) selects it."""
        index = int(self.scroll_offset.y) + event.y - 1
        if event.y >= 1 and 0 <= index < len(self.rows):
            again = index == self.cursor_row or event.chain > 1
            self.move_cursor(row=index)
            if again:
                self.action_select()


class SearchInput(Input):
    """A search box (the ledger's, the library's). Ctrl+A selects all its text (Textual's moves to the
    start, as Home does); :meth:`take` (Ctrl+F, Ctrl+T) focuses it with its text selected: typing
    replaces the old search, as after Tab into the month box, never appends to it.

    Textual's ``Input`` sets its virtual size to its text's width on every change, and that size is a
    layout reactive: every key re-laid out the whole screen before the frame (two to three ms of CPU
    on the library screen). The box's own size never depends on its text (``width: 1fr``, one line),
    so here the new virtual size only moves the scroll limits."""

    def take(self) -> None:
        """Focus the box with its whole text selected (already focused too: Ctrl+F twice)."""
        self.focus()
        self.select_all()

    def _watch_value(self, value: str) -> None:
        # Input._watch_value and _scroll_update: private; guard:
        # test_tui_results.py::test_a_search_longer_than_its_box_scrolls_to_the_cursor
        size = Size(self.content_width, 1)  # what Input._watch_value sets: it is then no change
        if size != self.virtual_size:
            self.set_reactive(Widget.virtual_size, size)
            self._scroll_update(size)
        super()._watch_value(value)
