"""What every screen shares: translated bindings, error text for core errors, the app handle."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on
from textual.binding import BindingsMap
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen

from qi_station.i18n import err_text, t

if TYPE_CHECKING:
    from qi_station.app import StationApp


def localize_bindings(node: DOMNode) -> None:
    """Replace catalogue keys in this node's binding descriptions with the current language."""
    keys: dict[str, list[Any]] = {}
    # _bindings: private, Textual has no public call to replace a node's bindings; guard:
    # test_tui_stumbles.py::test_footer_fits_80_columns (the footer's texts in each language)
    for key, binds in node._bindings.key_to_bindings.items():
        out = []
        for b in binds:
            if b.description and (b.description.startswith("key.") or b.id):
                desc = t(b.description) if b.description.startswith("key.") else b.description
                tip = t(b.tooltip) if b.tooltip and b.tooltip.startswith("key.") else b.tooltip
                b = dataclasses.replace(b, description=desc, tooltip=tip)
            out.append(b)
        keys[key] = out
    node._bindings = BindingsMap.from_keys(keys)


def relabel_binding(node: DOMNode, binding_id: str, description: str) -> None:
    """Give the binding ``binding_id`` of ``node`` another footer text (a key whose meaning follows the
    data shown, e.g. 办理 / 重新办理); the footer is refreshed only when the text changes."""
    changed = False  # _bindings: as localize_bindings; guard: test_tui_trial6.py::test_the_footer_names_the_reopen_as_the_button_does
    for binds in node._bindings.key_to_bindings.values():
        for i, b in enumerate(binds):
            if b.id == binding_id and b.description != description:
                binds[i] = dataclasses.replace(b, description=description)
                changed = True
    if changed:
        node.refresh_bindings()


def title_line(screen_name: str, operator: str | None = None) -> str:
    """The title bar: where you are, and the two keys the footer leaves out (help and quit) so that the
    screen's own keys and the F-keys fit in 80 cells. With a chosen operator (a station with several
    staff) the operator's name stands where the app's name is."""
    head = t("operator.current", name=operator) if operator else t("app.title")
    return f" {head}  >  {screen_name}   [F1 {t('key.help')}]  [Ctrl+Q {t('key.quit')}]"


def error_message(exc: BaseException) -> str:
    """A clear, translated message for any error the core raises."""
    from qi_station.core.errors import DatabaseError, NotFoundError, ValidationError

    if isinstance(exc, ValidationError | NotFoundError):  # the core's own bilingual message, its half
        return err_text(exc)  # in the current language (a not-found one names what: 找不到需求: …)
    raw = str(exc)
    low = raw.lower()
    if isinstance(exc, DatabaseError | OSError) or "sqlite" in type(exc).__module__:
        if "locked" in low or "busy" in low:
            return t("err.db_locked")
        if "readonly" in low or "read-only" in low or "read only" in low or "permission" in low:
            return t("err.db_readonly")
        if "full" in low or "no space" in low:
            return t("err.disk_full")
        return t("err.db", detail=raw[:200])
    msg = getattr(exc, "message", None) or raw
    if isinstance(msg, str) and " / " in msg:  # the core's bilingual messages ("english / 中文"): both
        return msg[:300]  # halves, the English one often carries the command to run
    return t("err.unexpected", detail=f"{type(exc).__name__}: {raw[:200]}")


#: cells inside a toast at 80 columns (as drawn: 46 cells wide, ``app.tcss`` padding 0 1)
TOAST_WIDTH = 44
#: lines a toast may take at 80x24: more covers the page for seconds
TOAST_LINES = 2


def toast_lines(text: str, width: int = TOAST_WIDTH) -> int:
    """How many lines ``text`` wraps to inside a toast ``width`` cells wide (rich's wrapping, as drawn)."""
    from rich.console import Console
    from rich.text import Text

    console = Console(width=width, legacy_windows=False, file=None, color_system=None)
    return len(Text(text).wrap(console, width))


def brief(text: str, lines: int = TOAST_LINES, width: int = TOAST_WIDTH) -> str:
    """A toast's text that fits ``lines`` lines at 80 columns: ``text`` itself, or its head and "…" (the
    whole text stays in the page's own status line; a toast only says that something happened)."""
    if toast_lines(text, width) <= lines:
        return text
    from rich.cells import cell_len, set_cell_size

    cut = set_cell_size(text, lines * width - 1)
    while cut and toast_lines(cut.rstrip() + "…", width) > lines:
        cut = set_cell_size(cut, cell_len(cut) - 2)
    return cut.rstrip() + "…"


class StationScreen(Screen[None]):
    """Base screen: translated bindings and a typed ``station`` handle on the app."""

    SCREEN_KEY = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        localize_bindings(self)

    @property
    def station(self) -> StationApp:
        return self.app  # type: ignore[return-value]

    @property
    def db_path(self) -> Path:
        return self.station.db_path

    def refresh_data(self) -> None:
        """Reload what the screen shows (called on mount and when the database becomes ready)."""

    def title_text(self) -> str:
        return title_line(t("screen." + self.SCREEN_KEY), self.station.operator)

    @on(events.Key)
    def _arrow_between_buttons(self, event: events.Key) -> None:
        arrow_between_buttons(self, event)

    _resumed = False  # on_screen_resume has run since the screen was last suspended

    def on_screen_resume(self) -> None:
        """Once per resume: Textual resumes a mode's screen twice when it is first shown, and calls this
        handler a second time for a screen whose own ``on_screen_resume`` calls it through ``super()``;
        each call reloaded the screen's data (F3 read the ledger's first page and its COUNT five times)."""
        if self._resumed:
            return
        self._resumed = True
        self._drop_toasts_of_closed_page()
        bar = self.query("#titlebar")
        if bar:
            bar.first().update(self.title_text())  # type: ignore[attr-defined]
        if self.station.ready:
            self.refresh_data()

    def _on_screen_suspend(self) -> None:
        self._resumed = False

    @on(events.ScreenSuspend)
    def _hide_page_hints(self) -> None:
        """A dialog over the page (or another page shown): its line of page keys (``.page-hint``: [ ]
        切换月份, Ctrl+E 导出) is hidden, those keys go to the dialog now; the dialog's footer says its own."""
        for hint in self.query(".page-hint"):
            hint.visible = False

    @on(events.ScreenResume)
    def _show_page_hints(self) -> None:
        for hint in self.query(".page-hint"):
            hint.visible = True

    _shown_before = False  # this page has been shown (resumed) before: a resume now is a return to it

    def _drop_toasts_of_closed_page(self) -> None:
        """Back on a page from one that was closed (Esc from request 0002 to request 0001): the closed
        page's toasts (已转办至 …) go, as on a screen switch (``StationApp.drop_stale_toasts``: errors
        stay). A page shown for the first time keeps them (已保存 … from the form that opened it), and a
        dialog closed over the page is no page (its 已转办至 … is about this page)."""
        from weakref import ref

        app = self.station
        if app.screen is not self:  # resumed and covered at once (the form closed, the detail it opened
            return  # pushed over this page): never shown, its resume drops nothing (the 已登记 … toast)
        last, mode = app.shown_page()
        # the page shown last was of this mode and has left its stack (a screen switch drops the
        # toasts itself: ``StationApp._goto``)
        closed = last is not None and mode == app.current_mode and last not in app.screen_stack
        if self._shown_before and last is not self and closed:
            app.drop_stale_toasts()
        self._shown_before = True
        app._shown_page = (ref(self), app.current_mode)


class StationModal(ModalScreen[Any]):
    """A dialog over a page. It has a footer of its own (bottom row, over the page's): the keys it shows
    are the dialog's (Ctrl+S 确定, Esc 取消), never the page's keys that the dialog does not take."""

    CSS_PATH = "dialogs.tcss"  # read with the first dialog shown: not part of the app's first frame

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        localize_bindings(self)

    @on(events.Mount)
    def _mount_footer(self) -> None:
        from qi_station.screens.footer import StationFooter

        self.mount(StationFooter(compact=True, show_command_palette=False))

    @property
    def station(self) -> StationApp:
        return self.app  # type: ignore[return-value]

    @on(events.Key)
    def _arrow_between_buttons(self, event: events.Key) -> None:
        arrow_between_buttons(self, event)


def arrow_between_buttons(screen: Screen[Any], event: events.Key) -> None:
    """Left/Right on a button move to the next button of its row or bar (as Tab/Shift+Tab do), stopping
    at the ends (→ on the last never goes round to the first): in every dialog (after a save error an
    operator Shift+Tabbed onto 取消 in 更正 and took the dialog for frozen when ← → did nothing there) and
    on every page (the request detail's 可办理 bar, shown after F4 saves, ignored ← →)."""
    from textual.widgets import Button

    focused = screen.focused
    if event.key not in ("left", "right") or not isinstance(focused, Button):
        return
    buttons = list(focused.parent.query_children(Button)) if focused.parent else [focused]
    i = buttons.index(focused) + (1 if event.key == "right" else -1)
    if 0 <= i < len(buttons):
        buttons[i].focus()
    event.stop()
    event.prevent_default()


class MainScreen(StationScreen):
    """A main screen (reached by an F-key): a title bar, the body, the footer; Esc goes back."""

    SCREEN_KEY = ""  # each main screen's BINDINGS end with bindings("main"): Esc goes back

    #: the first frame is the title bar alone; the body and the footer are mounted right after it is
    #: painted (:meth:`_mount_body`), in one batch (no frame shows them half mounted), and painted at
    #: once. For the first screen: the app's first frame then has few widgets to style and
    #: draw. :meth:`body_mounted` runs once the body is in; until then (:attr:`body_in` False) its
    #: widgets are not there to query.
    BODY_AFTER_FIRST_FRAME = False
    #: the body's frame is painted as soon as the body is mounted (:meth:`_mount_body`), not at Textual's
    #: next update tick (the dashboard: when its figures were read early, at the start)
    PAINT_BODY_AT_ONCE = False
    body_in = True  # the body's widgets are mounted (False until then when BODY_AFTER_FIRST_FRAME)
    body_painted = True  # a frame with the body has been painted (False until then, as body_in)
    _after_body: list[Any]  # callbacks waiting for that frame (:meth:`call_after_body`)

    def compose(self) -> Any:
        from textual.widgets import Static

        yield Static(self.title_text(), id="titlebar", markup=False)
        if self.BODY_AFTER_FIRST_FRAME:
            self.body_in = False
            self.body_painted = False
            self._after_body = []
            return
        yield from self._body_and_footer()

    def _body_and_footer(self) -> Any:
        yield from self.compose_body()
        yield self._footer()

    def _footer(self) -> Any:
        from qi_station.screens.footer import StationFooter

        return StationFooter(compact=True, show_command_palette=False)

    async def _mount_body(self) -> None:
        if self.body_in or not self.is_attached:
            return
        if self.app._batch_count:  # the app's start (the first screen is composed with the app) holds
            # its repaints until its own mount is over: the body is mounted after that, painted at once
            # (a private count, no public one; guard:
            # test_tui_startup.py::test_the_body_is_painted_as_soon_as_it_is_mounted)
            self.app.call_later(self._mount_body)
            return
        with self.app.batch_update():  # one frame with the body and what body_mounted puts in it
            await self.mount_compose(self._body_and_footer())
            self.body_in = True
            self.body_mounted()
        # the body's frame: the next layout of the screen (the new widgets need one), painted before the
        # signal is published; ``call_after_refresh`` alone can run before it (the new widgets ask for
        # their layout from their own message queues, after the screen has gone idle)
        bar = self.query_one("#titlebar")  # (a node of its own: unsubscribing the screen would drop
        self.screen_layout_refresh_signal.subscribe(bar, self._body_painted)  # Textual's own callback)
        # painted now, not at the screen's next update tick: Textual's update timer ticks on a 1/60 s grid
        # and, resumed after an idle spell, skips to the tick after next (17-33 ms with nothing to do).
        # The same call the timer makes (a private handler; guard:
        # test_tui_startup.py::test_the_body_is_painted_as_soon_as_it_is_mounted)
        if self.PAINT_BODY_AT_ONCE:
            self._on_timer_update()
        # (and in any case once the app is idle after it: a screen that is not the current one -- a dialog
        # pushed over it at the start -- is laid out as a background and never publishes the signal)
        self.call_after_refresh(self._body_painted, self)
        # Textual's footer draws its keys after a change of the bindings (all came before it was
        # mounted): its keys follow in the next frame, as on a screen composed at once
        self.refresh_bindings()

    def body_mounted(self) -> None:
        """The body is mounted (:attr:`BODY_AFTER_FIRST_FRAME`): show what came before it."""

    def _body_painted(self, _screen: Any) -> None:
        if self.body_painted:
            return
        self.screen_layout_refresh_signal.unsubscribe(self.query_one("#titlebar"))
        self.body_painted = True
        callbacks, self._after_body = self._after_body, []
        for callback in callbacks:
            callback()

    def call_after_body(self, callback: Any) -> None:
        """``call_after_refresh(callback)``, and never before the first frame with the body: work for
        later (a thread worker, opening the database) stays out of that frame's way."""
        if self.body_painted:
            self.call_after_refresh(callback)
        else:
            self._after_body.append(callback)

    def on_mount(self) -> None:
        self.call_after_refresh(self.station.freeze_gc)  # a new main screen: its widgets live long
        if not self.body_in:
            self.call_after_refresh(self._mount_body)

    _styled = False  # every node restyled by a resume since the screen was last suspended

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        """Textual resumes a mode's screen twice when it is first shown (``App._init_mode``, then
        ``App.switch_mode``) and each resume restyles every node of the screen: the first frame styled
        the dashboard's nodes three times. The second of two resumes with no suspend between them keeps
        the styles the first one gave (new CSS, a theme, is applied by ``App.refresh_css`` itself)."""
        # a private handler of Textual's Screen (runs before its own); guard:
        # test_tui_results.py::test_a_main_screen_is_restyled_once_per_resume
        if self._styled:
            event.refresh_styles = False
        self._styled = self.is_attached

    def _on_screen_suspend(self) -> None:
        self._styled = False

    def compose_body(self) -> Any:
        yield from ()

    def show_db_error(self, message: str) -> None:
        self.notify(message, severity="error")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":  # the dashboard is home: Esc there only after coming from elsewhere
            return self.SCREEN_KEY != "dashboard" or bool(self.station.back_stack)
        return True

    def action_back(self) -> None:
        self.station.go_back()
