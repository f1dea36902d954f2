"""The station TUI: a thin App. Screens live in ``qi_station/screens/`` (one module each).

Start-up: only Textual, this module and the first screen's are imported before the first frame (the
first screen's title bar; its body follows in the next frame: ``MainScreen.BODY_AFTER_FIRST_FRAME``); the
database is checked (and migrated if needed) in a thread worker started at mount, and each screen
loads its data in its own thread worker (the first screen's waits for the database: ``wait_db``).
SQLModel/SQLAlchemy are imported only when something is written.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from qi_station.i18n import set_lang, t
from qi_station.screens.bindings import bindings
from qi_station.services import keymap

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from qi_station.services.dashboard import EarlyFigures


class FocusPoll(Message):
    """Has the focus moved after a Tab yet (keys typed after it are held: ``StationApp._hold_for_focus``)?"""


class RestoreSeen(Message):
    """The restore poll's thread worker read another restore mark (``StationApp._poll_restored``)."""


class DatabaseReady(Message):
    """The database is open at the newest schema; ``empty``: it holds no data yet."""

    def __init__(self, empty: bool) -> None:
        super().__init__()
        self.empty = empty


class DatabaseFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class DemoProgress(Message):
    """A notice from the demo-data worker (loading, missing, failed)."""

    def __init__(
        self, message: str, severity: SeverityLevel = "information", timeout: float | None = None
    ) -> None:
        super().__init__()
        self.message, self.severity, self.timeout = message, severity, timeout


class DemoLoaded(Message):
    pass


class StaffLoaded(Message):
    """The station's staff list and the operator this terminal session chose before (or None)."""

    def __init__(self, staff: list[dict[str, Any]], remembered: str | None) -> None:
        super().__init__()
        self.staff, self.remembered = staff, remembered


def _screen(module: str, cls: str) -> Any:
    def make() -> Screen[Any]:
        import importlib

        return getattr(importlib.import_module(f"qi_station.screens.{module}"), cls)()  # type: ignore[no-any-return]

    return make


def _plain_scrollbars() -> None:
    """Scrollbar thumbs in whole cells: Textual's default ends them with 1/8 block glyphs (U+2581-2587,
    U+2589-258F), which are East-Asian-ambiguous and drawn double width by CJK terminals."""
    from textual.scrollbar import ScrollBar, ScrollBarRender

    class PlainScrollBarRender(ScrollBarRender):
        VERTICAL_BARS = [" "] * 8
        HORIZONTAL_BARS = [" "] * 8

    ScrollBar.renderer = PlainScrollBarRender


def _neutral_control_codes() -> None:
    """Stored text the screens show may hold ESC sequences or other control characters (a ledger written
    before the text rule, a hub note): Textual (``textual.content``) and Rich (``rich.control``) strip
    only BEL, BS, VT, FF and CR from text, so ESC would reach the terminal. Their strip tables get
    every other character the text rule refuses (``core.validate.neutralise``) mapped to U+FFFD, in
    place (the tables are bound as default arguments)."""
    import rich.control
    import textual.content

    from qi_station.core.validate import neutralise

    extra: dict[int, str] = {}
    for cp in (*range(0x100), *range(0x200B, 0x2070), 0xFEFF):
        shown = neutralise(chr(cp))
        if shown != chr(cp):
            extra[cp] = shown
    # private, no public hook for the strip tables; guard: test_tui_control_codes.py
    tables: tuple[dict[int, Any], ...] = (
        textual.content._CONTROL_STRIP_TRANSLATE,
        rich.control._CONTROL_STRIP_TRANSLATE,
    )
    for table in tables:
        for cp, shown in extra.items():
            table.setdefault(cp, shown)


def _whole_wide_chars() -> None:
    """A Chinese character drawn over an edge of a widget underneath stays whole. Textual's compositor
    cuts each line of a widget at every edge of every widget on that line, the ones it covers too, and
    a double-width character across such a cut became two blanks: a toast over a page lost one character
    in its text wherever the page had an edge (数据库已  备份恢复 for 数据库已从备份恢复). A line with a
    character cut so keeps the pieces this widget shows next to each other in one piece (the first
    cut's; the others hold an empty strip): nothing is cut between them."""
    from textual._compositor import Compositor
    from textual.geometry import Region
    from textual.strip import Strip

    empty = Strip([])

    def _render_chops(self: Compositor, crop: Region, is_rendered_line: Any) -> Any:
        cuts = self.cuts
        chops: list[dict[int, Strip | None]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
        for region, clip, strips in self._get_renders(crop):
            render_region = Region.intersection(region, clip)
            render_x = render_region.x
            first_cut, last_cut = render_region.column_span
            for y, strip in zip(render_region.line_range, strips, strict=False):
                if not is_rendered_line(y):
                    continue
                chops_line = chops[y]
                final_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
                pieces = strip.divide([cut - render_x for cut in final_cuts[1:]])
                if len(pieces) > 1 and "".join(p.text for p in pieces) != strip.text:  # a character cut
                    runs: list[tuple[int, int]] = []  # (first, end) of each run of free pieces
                    for i, cut in enumerate(final_cuts[:-1]):
                        if chops_line.get(cut) is None:
                            if runs and runs[-1][1] == i:
                                runs[-1] = (runs[-1][0], i + 1)
                            else:
                                runs.append((i, i + 1))
                    for first, end in runs:
                        whole = strip.crop(final_cuts[first] - render_x, final_cuts[end] - render_x)
                        chops_line[final_cuts[first]] = whole
                        for cut in final_cuts[first + 1 : end]:
                            chops_line[cut] = empty
                    continue
                for cut, piece in zip(final_cuts, pieces, strict=False):
                    if chops_line.get(cut) is None:
                        chops_line[cut] = piece
        return chops

    # Textual's private method, replaced (no public hook); guard: test_tui_tuifix.py (toast over wide text)
    Compositor._render_chops = _render_chops  # type: ignore[method-assign]


def _one_line_paste() -> None:
    """A paste into a one-line field (every ``Input``) keeps all its lines, joined by the text rule's
    :func:`~qi_station.core.validate.one_line`: Textual's ``Input`` kept only the first line and dropped
    the rest without a word (需求事项 pasted from two lines lost the second)."""
    from textual.widgets import Input

    from qi_station.core.validate import one_line

    def _on_paste(self: Input, event: events.Paste) -> None:
        if event.text:
            line = one_line(event.text)
            if self.selection.is_empty:
                self.insert_text_at_cursor(line)
            else:
                self.replace(line, *self.selection)
        event.stop()

    # Textual's private handler, replaced (no public hook); guard: test_tui_op6b.py (paste)
    Input._on_paste = _on_paste  # type: ignore[method-assign]


class StationApp(App[None]):
    """qi-station: the park workstation's daily screens."""

    CSS_PATH = Path(__file__).resolve().parent / "screens" / "app.tcss"
    ENABLE_COMMAND_PALETTE = True
    #: the longest an information or warning toast stays (seconds); errors stay as long as asked
    INFO_TIMEOUT: float = 10
    #: the first screen: Textual composes it as the app is composed (``App._init_mode``), with no blank
    #: default screen before it to compose, style and switch away from (``switch_mode`` restyled both)
    DEFAULT_MODE = "dashboard"
    MODES = {
        "dashboard": _screen("dashboard", "DashboardScreen"),
        "ledger": _screen("ledger", "LedgerScreen"),
        "libraries": _screen("libraries", "LibrariesScreen"),
        "sync": _screen("sync", "SyncScreen"),
        "reports": _screen("reports", "ReportsScreen"),
        "activities": _screen("activity", "ActivityScreen"),
    }
    #: Ctrl+A selects the whole text of the field typed in (F4's, a dialog's, F3/F5's search, F4's
    #: 需求描述): typing then replaces it. Textual's Input and TextArea take Ctrl+A as Home (text typed
    #: went in front of the old one in F4, while the search boxes selected all; in 需求描述 the cursor
    #: went to the line's start); a priority key, so the field's own binding never runs
    BINDINGS = [*bindings("app"), Binding("ctrl+a", "select_all_text", show=False, priority=True)]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "select_all_text":  # elsewhere (a table, a list) Ctrl+A goes on as before
            from textual.widgets import Input, TextArea

            return isinstance(self.focused, Input | TextArea)
        return True

    def action_select_all_text(self) -> None:
        from textual.widgets import Input, TextArea

        if isinstance(self.focused, Input | TextArea):
            self.focused.select_all()

    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        lang: str | None = None,
        config: dict[str, Any] | None = None,
        offer_demo: bool = True,
        early_figures: EarlyFigures | None = None,
    ) -> None:
        from qi_station.services.workspace import SharedReader, station_db_path

        self.config_data: dict[str, Any] = config if config is not None else keymap.load_config()
        self.lang = set_lang(lang or keymap.config_lang(self.config_data) or "zh")
        super().__init__()
        from qi_station.screens.css import CachedStylesheet

        # each CSS source parsed once per set of variables (Textual re-parses all of them per new screen)
        self.stylesheet = CachedStylesheet(variables=self.stylesheet._variables)
        from qi_station.screens.base import localize_bindings

        localize_bindings(self)
        self.db_path: Path = station_db_path(db_path)
        self.ready = False
        self.db_error: str | None = None
        self._db_opened = threading.Event()  # set by prepare_db, opened or not (see wait_db)
        self._db_started = False  # prepare_db started (open_db)
        self._db_ok = False
        self.offer_demo = offer_demo
        # the dashboard's figures, read in a thread since before Textual was imported (``run``)
        self._early_figures = early_figures
        #: the dashboard opens the database once its early figures are painted (see on_mount); decided
        #: here: the dashboard (composed with the app) may take the figures before the app's own mount
        self._early_open = early_figures is not None and early_figures.db_path == self.db_path
        self.current_request: str | None = None  # id of the request last opened: "refer to this" targets it
        self.current_request_label: str = ""
        #: its status as last shown (None until read): F5 offers 转办 only where ``domain.can_refer`` allows
        self.current_request_status: str | None = None
        self.ledger_preset: dict[str, Any] | None = None  # filters the dashboard hands to the ledger
        self.staff: list[dict[str, Any]] = []  # the station's staff list (name, role)
        self.operator: str | None = None  # who signs the events (None: no staff list, the old default)
        # where Esc goes back to: (mode, the request that was open there or None), newest last
        self.back_stack: list[tuple[str, str | None]] = []
        #: the last backup written from the app ("<full path> (<size>)"): the backup dialog shows it, the
        #: toast names only the file (a full path wraps over the page at 80x24)
        self.last_backup: str | None = None
        #: the error toasts shown (:meth:`notify`): a screen switch drops every other toast
        self.errors_shown: list[tuple[float, str, str, bool]] = []
        #: the [keys] table: binding id -> keys (our own record of what set_keymap was given; Textual keeps
        #: it private), set before the first screen is composed (with the app: ``DEFAULT_MODE``)
        self.user_keys: dict[str, str] = keymap.user_keymap(self.config_data)
        if self.user_keys:
            self.set_keymap(self.user_keys)
        self.library_preset: dict[str, Any] | None = None  # ... and to the libraries (资质将到期)
        self.reader = SharedReader(self.db_path)  # search-as-you-type connection (warm page cache)
        self.title = t("app.title")

    # ---- start-up -------------------------------------------------------------------------------
    _laid_out_size: Any = None  # the terminal size the screens were last given (see _on_resize)

    async def _on_resize(self, event: events.Resize) -> None:
        """A Resize to the size the app already has is dropped. The driver sends the terminal's size once
        it starts, after the app has sized itself; Textual keeps that event and replays it to the screen
        when the app is next idle, which lays out and repaints every widget again for nothing -- just as
        the first screen's figures arrive. Any other size goes on to Textual (App._on_resize)."""
        if self._laid_out_size is not None and event.size == self._laid_out_size:
            event.prevent_default()
            event.stop()
            return
        self._laid_out_size = event.size

    _settling = False  # a key went on: the keys after it wait until the app has settled (_hold_for_focus)
    _idle_polls = 0
    _hold_started = 0.0
    _held: list[events.Key] = []

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._hold_for_focus(event):
                return
            self._settling = True
            if self._field_key(event):
                return
        await super().on_event(event)

    def _hold_for_focus(self, event: events.Key) -> bool:
        """Every key of a burst lands where it would land if typed slowly: a key typed while the one
        before it is still at work (a Tab moving the focus, Down moving into a list, Enter opening a
        request, ``v`` opening a dialog, a dialog mounting and focusing its first field) or while the
        screen loads what its keys need (:meth:`holds_keys` of a screen, e.g. the request detail before
        the request is read) is held, and held keys go on in their order once the app has settled
        (:meth:`_focus_poll`). Textual hands a key to the focused widget's queue, runs its binding once
        it has bubbled back up to the app and moves the focus in a callback after that: without the hold
        the next keys reached the widget being left (Tab 1 2 put ``12`` in the result, Down Down Enter in
        the enterprise suggestions picked nothing, ``v 4`` lost the 4)."""
        if not self._held and not self._settling and not self._screen_holds_keys(event.key):
            return False
        self._held = [*self._held, event]
        if len(self._held) == 1:
            self._idle_polls, self._hold_started = 0, monotonic()
            self.post_message(FocusPoll())
        return True

    def _screen_holds_keys(self, key: str) -> bool:
        """Does the screen (or dialog) shown wait for something before ``key`` (the first key held) may
        go on: its ``holds_keys(key)`` (the request detail before the request is read, a dialog while it
        writes, the request form while the suggestions for the typed name are on their way)."""
        holds = getattr(self.screen, "holds_keys", None)
        return bool(holds(key)) if holds is not None else False

    def _widgets_idle(self) -> bool:
        """No message or after-refresh callback waiting in the current screen or its widgets
        (``_next_callbacks``: private, no public count of them; guard:
        test_tui_op6.py::test_down_down_enter_in_a_burst_picks_the_second_suggestion)."""
        if not self.screen_stack:  # the app is closing: nothing left to settle
            return True
        screen = self.screen
        for node in (screen, *screen.walk_children()):
            if node.message_queue_size or node._next_callbacks:
                return False
        return True

    @on(FocusPoll)
    async def _focus_poll(self) -> None:
        import asyncio

        await asyncio.sleep(0)  # the other widgets' queues run: the key before goes on bubbling up
        # settled: the widgets idle at two polls in a row (what the app queue held between them -- a
        # binding, a focus callback -- has run) and the screen has what its keys need
        self._idle_polls = self._idle_polls + 1 if self._widgets_idle() else 0
        waited = monotonic() - self._hold_started
        if self._idle_polls < SETTLED_POLLS and waited < HOLD_KEYS_MAX:
            self.post_message(FocusPoll())
            return
        if (
            self._held and self._screen_holds_keys(self._held[0].key) and waited < HOLD_KEYS_MAX
        ):  # a thread worker reads: no busy loop
            self.set_timer(HOLD_POLL_INTERVAL, lambda: self.post_message(FocusPoll()))
            return
        held, self._held, self._settling = self._held, [], False
        for key in held:  # in order, each as if it came now (each one held again until it has settled)
            await self.on_event(key)

    def _field_key(self, event: events.Key) -> bool:
        """A key the focused widget binds itself (Backspace, Ctrl+U, Left, Enter in an Input; Down in a
        list) runs in that widget's queue, after the keys sent before it. Textual runs such a binding
        only once the key has bubbled back up to the app, and the next keys of a burst (tmux send-keys,
        a scanner, a paste of keys) reach the field first: Ctrl+U then ``yantai`` left the box empty, six
        Backspaces then ``ytld`` left ``yant``, Backspace 6 0 in a field holding 0 saved 6. A key with a
        priority binding keeps Textual's way (those read fields through ``settled``)."""
        # Textual privates (_bindings, _binding_chain, _check_bindings, _forward_event), no public way to
        # run a binding in order; guard: test_tui_trial4.py::test_a_burst_of_keys_in_a_search_box_is_never_lost
        focused, key = self.focused, event.key
        if focused is None or key not in focused._bindings.key_to_bindings:
            return False
        if any(b.priority for _ns, bm in self.screen._binding_chain for b in bm.key_to_bindings.get(key, ())):
            return False
        focused.call_later(self._field_binding, event)
        return True

    async def _field_binding(self, event: events.Key) -> None:
        """The binding of a key :meth:`_field_key` kept in order (the focus chain's, as Textual's own
        check); a key no binding takes goes on to the focused widget as usual."""
        if not await self._check_bindings(event.key):
            (self.focused or self.screen)._forward_event(event)

    def keys_of(self, binding_id: str) -> list[str]:
        """The keys of the binding ``binding_id`` as this app binds them: the user's [keys] table
        (:attr:`user_keys`, handed to Textual's ``set_keymap``), else the keymap's default."""
        keys = self.user_keys.get(binding_id, keymap.BY_ID[binding_id].key)
        return [k.strip() for k in keys.split(",")]

    def on_mount(self) -> None:
        # Textual's rendering as the station wants it, in place before anything but the first screen's
        # title bar is shown (the first frame: painted as the app is composed, before its mount; the
        # body, toasts, dialogs and other screens come after): the imports stay out of the first frame
        _plain_scrollbars()
        _neutral_control_codes()
        _one_line_paste()
        _whole_wide_chars()
        if "_error" in self.config_data:
            self.notify(t("msg.config_error", detail=self.config_data["_error"]), severity="warning")
        if not self._early_open:
            # the database is opened (and the first screen's figures read) while the first screen is
            # composed and painted: the worker's time is mostly in SQLite, which leaves the GIL to the UI
            self.open_db()
        else:  # the dashboard opens it once its early figures are painted (or found unread): the open, the
            # staff list and the rest of DatabaseReady do not share the start-up window with them; at the
            # latest after OPEN_DB_AFTER seconds (a screen left before its figures came)
            self.set_timer(OPEN_DB_AFTER, self.open_db)

    def open_db(self) -> None:
        """Start :meth:`prepare_db` (once)."""
        if not self._db_started:
            self._db_started = True
            self.prepare_db(self.db_path)

    @work(thread=True, exclusive=True, group="db")
    def prepare_db(self, path: Path) -> None:
        from qi_station.services.workspace import open_station

        try:
            empty = open_station(path)
        except Exception as e:  # noqa: BLE001 - shown to the user
            from qi_station.screens.base import error_message

            self._db_opened.set()
            self.post_message(DatabaseFailed(error_message(e)))
            return
        self._db_ok = True
        self._db_opened.set()
        self.post_message(DatabaseReady(empty))

    def take_early_figures(self) -> EarlyFigures | None:
        """The early read of the dashboard's figures (:class:`~qi_station.services.dashboard.EarlyFigures`)
        for this database, once (the first dashboard takes it; a refresh reads the database again)."""
        early, self._early_figures = self._early_figures, None
        return early if early is not None and early.db_path == self.db_path else None

    def wait_db(self) -> bool:
        """In a thread worker: wait until :meth:`prepare_db` has opened the database at the newest schema
        (True) or failed (False: :class:`DatabaseFailed` says why); False too when the worker is cancelled.
        The first screen's worker starts at mount and reads as soon as the database is open."""
        from textual.worker import get_current_worker

        worker = get_current_worker()
        while not self._db_opened.wait(0.05):
            if worker.is_cancelled:
                return False
        return self._db_ok

    @on(DatabaseFailed)
    def _db_failed(self, event: DatabaseFailed) -> None:
        message = event.message
        self.db_error = message
        self.notify(message, severity="error", timeout=30)
        scr = self.screen
        if hasattr(scr, "show_db_error"):
            scr.show_db_error(message)

    def freeze_gc(self) -> None:
        """Move the long-lived objects (CSS, widgets, modules) out of the collector's sight: a full
        collection then scans only new objects, so no 80 ms pause lands on a keystroke."""
        import gc

        gc.freeze()

    @on(DatabaseReady)
    def _db_ready(self, event: DatabaseReady) -> None:
        empty = event.empty
        self.ready = True
        self.call_after_refresh(self.freeze_gc)
        refresh = getattr(self.screen, "refresh_data", None)
        if refresh is not None and not getattr(self.screen, "LOADS_BEFORE_READY", False):
            refresh()
        self.load_staff(self.db_path)
        # the in-use hold after the figures' frame: taking it loads filelock and makes its lock file
        # (~20-60 ms on an old PC), which the dashboard's first figures need not wait for
        self.call_after_refresh(self.watch_restore)
        if empty and self.offer_demo:
            from qi_station.screens.dialogs import ConfirmDialog

            self.push_screen(ConfirmDialog(t("demo.title"), t("demo.question")), self._demo_answer)

    _restore_mark: str | None = None
    #: restores seen under the running app (:meth:`check_restored`): a page compares it with the count
    #: it last saw to start its fields afresh after one (F6's bundle path is the old database's)
    restores = 0
    #: the app's hold on its database (``services.backup.hold_in_use``), kept while it runs
    _in_use: object | None = None

    def watch_restore(self) -> None:
        """Hold the database as in use (``restore`` warns) and keep the mark of its last restore: every
        :data:`RESTORE_POLL` seconds (and on each screen switch) :meth:`check_restored` compares it."""
        from qi_station.services.backup import hold_in_use, restore_mark

        if self._in_use is None:
            self._in_use = hold_in_use(self.db_path)
        self._restore_mark = restore_mark(self.db_path)
        self.set_interval(RESTORE_POLL, self._poll_restored)

    @work(thread=True, exclusive=True, group="restore-poll")
    def _poll_restored(self) -> None:
        """The periodic check reads the mark in a thread worker (the UI thread opens no database every
        :data:`RESTORE_POLL` seconds); only another mark posts :class:`RestoreSeen`."""
        from qi_station.services.backup import restore_mark

        if restore_mark(self.db_path) != self._restore_mark:
            self.post_message(RestoreSeen())

    @on(RestoreSeen)
    def _restore_seen(self) -> None:
        self.check_restored()

    def check_restored(self) -> bool:
        """``qi-station restore`` replaced the database under the running app (its mark changed): say so
        plainly and reload the screen shown (the others reload when shown again). Returns True then."""
        from qi_station.services.backup import restore_mark

        if not self.ready:
            return False
        mark = restore_mark(self.db_path)
        if mark == self._restore_mark:
            return False
        self._restore_mark = mark
        self.restores += 1  # the pages with fields of their own start afresh (``SyncScreen``)
        self.reader.close()  # reopened on the next search
        when = (mark or "").rsplit(" ", 1)[0]
        from qi_station.sync.station.heal import restored_next_step

        step = restored_next_step(self.db_path, self.lang)  # what the station must do next (sync first)
        said = t("msg.db_restored", when=when) + (f"\n{step}" if step else "")
        self.notify(said, severity="warning", timeout=30)
        refresh = getattr(self.screen, "refresh_data", None)
        if refresh is not None:
            refresh()
        return True

    def _demo_answer(self, yes: bool | None) -> None:
        if yes:
            self.load_demo(self.db_path)

    @work(thread=True, exclusive=True, group="demo")
    def load_demo(self, path: Path) -> None:
        try:
            from qi_station.devtools.demo import load_demo
        except ImportError:
            self.post_message(DemoProgress(t("demo.missing"), "warning"))
            return
        self.post_message(DemoProgress(t("demo.loading")))
        try:
            load_demo(path)
        except Exception as e:  # noqa: BLE001
            from qi_station.screens.base import error_message

            self.post_message(DemoProgress(error_message(e), "error", 20))
            return
        self.post_message(DemoLoaded())

    @on(DemoProgress)
    def _demo_progress(self, event: DemoProgress) -> None:
        self.notify(event.message, severity=event.severity, timeout=event.timeout)

    @on(DemoLoaded)
    def _demo_loaded(self) -> None:
        self.notify(t("demo.loaded"))
        refresh = getattr(self.screen, "refresh_data", None)
        if refresh is not None:
            refresh()

    # ---- who is working ------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="staff")
    def load_staff(self, path: Path) -> None:
        from qi_station.services.staff import list_staff, session_operator

        try:
            staff = list_staff(path)
        except Exception as e:  # noqa: BLE001 - shown; the core refuses unsigned writes itself
            from qi_station.screens.base import error_message

            self.post_message(DemoProgress(error_message(e), "error", 20))
            return
        self.post_message(StaffLoaded(staff, session_operator()))

    @on(StaffLoaded)
    def _staff_loaded(self, event: StaffLoaded) -> None:
        self.staff = event.staff
        names = [s["name"] for s in self.staff]
        if len(names) == 1:
            self.set_operator(names[0], remember=False)
        elif event.remembered is not None and event.remembered in names:
            self.set_operator(event.remembered, remember=False)
        elif names:
            # over a dashboard still filling, the dialog waits for its figures: a screen under a dialog is
            # painted with the layout it had (its sync line, a row taller once filled, came out cut)
            after = getattr(self.screen, "after_loaded", None)
            if after is not None:
                after(self.action_switch_operator)
            else:
                self.action_switch_operator()

    def action_switch_operator(self) -> None:
        from qi_station.screens.operator import OperatorDialog

        if self.staff:
            self.push_screen(OperatorDialog(self.staff, self.operator), self._operator_chosen)

    def _operator_chosen(self, name: str | None) -> None:
        if name:
            self.set_operator(name)

    def set_operator(self, name: str, *, remember: bool = True) -> None:
        self.operator = name
        for scr in self.screen_stack:
            bar = scr.query("#titlebar")
            if bar and hasattr(scr, "title_text"):
                bar.first().update(scr.title_text())  # type: ignore[attr-defined]
        if remember:
            self.remember(name)

    @work(thread=True, group="staff-remember")
    def remember(self, name: str) -> None:
        from qi_station.services.staff import remember_operator

        remember_operator(name)

    def on_unmount(self) -> None:
        self.reader.close()

    # ---- navigation ----------------------------------------------------------------------------
    def leave_then(self, go: Any, *, quitting: bool = False) -> None:
        """Run ``go`` (a move away from the pushed screens, or quit) unless a screen on the stack holds
        unsaved input: that screen asks first (the request form: keep the draft / discard / keep
        editing) and runs ``go`` after the answer. A main screen a switch keeps (``KEPT_ON_SWITCH``:
        the 走访培训活动 form) asks only when ``quitting``, then from whichever screen is shown."""
        from qi_station.screens.dialogs import LeaveAsks

        screens: list[Any] = list(reversed(self.screen_stack))
        if quitting:  # the other modes' kept pages are dropped too (LeaveAsks' registry of mounted ones)
            screens += [s for s in LeaveAsks.open_pages(self) if s not in screens]
        for scr in screens:
            if getattr(scr, "KEPT_ON_SWITCH", False) and not quitting:
                continue
            ask = getattr(scr, "ask_before_leaving", None)
            if ask is not None and ask(go):
                return
        go()

    async def action_quit(self) -> None:
        self.leave_then(self.exit, quitting=True)

    def action_settled(self, action: str) -> None:
        """Run the screen's ``action`` after the focused field has processed every key already sent to
        it: Ctrl+S / Ctrl+E are priority keys and would otherwise read a field that has not yet taken
        the last characters of a fast burst (:data:`qi_station.screens.bindings.SETTLED`)."""
        screen = self.screen
        target = screen.focused or screen
        target.call_later(screen.run_action, action)

    def action_goto(self, mode: str) -> None:
        if self.current_mode == mode and isinstance(self.screen, _main_screens()):
            return
        self.leave_then(lambda: self._goto(mode))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Textual's notify (a newer information or warning replaces the older: :meth:`_on_notify`); an
        error is also kept in :attr:`errors_shown` (a screen switch keeps it).
        Information and warnings stay at most :attr:`INFO_TIMEOUT` seconds (a long one over the page the
        operator works on is in the way); an error stays as long as asked."""
        if severity != "error":
            timeout = min(self.NOTIFICATION_TIMEOUT if timeout is None else timeout, self.INFO_TIMEOUT)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)
        if severity == "error":
            ends = monotonic() + (self.NOTIFICATION_TIMEOUT if timeout is None else timeout)
            self.errors_shown = [*self.live_errors(), (ends, message, title, markup)]

    def _on_notify(self, event: Any) -> None:
        """A newer information or warning toast replaces an older one of its severity still shown:
        stacked, they covered the page's key line (the request detail's 状态 at 80x24). Errors stay
        (each is a different trouble, kept across screens: :attr:`errors_shown`)."""
        severity = event.notification.severity
        if severity != "error":
            for n in [n for n in self._notifications if n.severity == severity]:
                self._unnotify(n, refresh=False)
        super()._on_notify(event)

    def _refresh_notifications(self) -> None:
        """Textual's (the toasts shown on the current screen), then placed off the fields there
        (:func:`qi_station.screens.toasts.place_toasts`, again once the screen is laid out)."""
        super()._refresh_notifications()
        if not len(self._notifications):  # none shown (every screen change at the start): nothing to place,
            return  # and the placing module stays out of the first frame (test_import_hygiene)
        from qi_station.screens.toasts import place_toasts

        try:
            screen = self.screen
        except Exception:  # noqa: BLE001 - no screen yet: nothing to place
            return
        place_toasts(screen)
        screen.call_after_refresh(place_toasts, screen)

    def live_errors(self) -> list[tuple[float, str, str, bool]]:
        """The error toasts shown and not yet timed out: (when it ends, message, title, markup)."""
        now = monotonic()
        return [e for e in self.errors_shown if e[0] > now]

    #: the page (a StationScreen, not a dialog) shown last, weakly, and the mode it was shown in
    _shown_page: tuple[Any, str] | None = None

    def shown_page(self) -> tuple[Any, str | None]:
        """The page (a StationScreen, never a dialog) shown last if it is still alive, and its mode."""
        if self._shown_page is None:
            return None, None
        page, mode = self._shown_page
        return page(), mode

    def drop_stale_toasts(self) -> None:
        """On a screen switch: the notifications about the screen left go (an error stays, for the time it
        has left: it is still true on the next screen, e.g. a database that cannot be opened). Textual's
        public calls only: every toast is cleared, the live errors are shown again."""
        errors = self.live_errors()
        self.clear_notifications()
        self.errors_shown = []
        now = monotonic()
        for ends, message, title, markup in errors:
            self.notify(message, title=title, severity="error", timeout=ends - now, markup=markup)

    def _goto(self, mode: str) -> None:
        request_id = getattr(self.screen, "request_id", None)  # a request open here: Esc comes back to it
        self._leave_pushed()
        if self.current_mode != mode:
            self.drop_stale_toasts()
            self.back_stack = [*self.back_stack[-(BACK_DEPTH - 1) :], (self.current_mode, request_id)]
            self.switch_mode(mode)

    def go_back(self) -> None:
        """Esc on a main screen: the screen (and the request) it was reached from; the dashboard at first."""
        mode, request_id = self.back_stack.pop() if self.back_stack else ("dashboard", None)
        self._leave_pushed()
        if self.current_mode != mode:
            self.drop_stale_toasts()
            self.switch_mode(mode)
        if request_id:
            self.open_request(request_id)

    def _leave_pushed(self) -> None:
        """Leave pushed screens (form, detail) before switching the main screen."""
        while len(self.screen_stack) > 1 and not isinstance(self.screen, _main_screens()):
            self.pop_screen()

    async def action_new_request(self) -> None:
        """F4: the request form. The app's own queue waits until the form has focused its name field:
        the keys typed right after F4 (an IME's commit, a scanner) are then taken from that queue by the
        field, never handed to a form that has no focused field yet (where they were dropped)."""
        import asyncio

        from qi_station.screens.request_form import RequestFormScreen

        if any(isinstance(s, RequestFormScreen) for s in self.screen_stack):
            return  # one form: F4 on it, or on its leave question (Esc), never stacks a second one
        self.drop_stale_toasts()  # the page left (已登记 … on the detail) keeps its toasts, errors stay
        form = RequestFormScreen()
        self.push_screen(form)
        try:
            await asyncio.wait_for(form.focused_ready.wait(), FORM_READY_WAIT)
        except TimeoutError:  # never seen; the keys are then no worse off than before
            pass

    def open_request(self, request_id: str) -> None:
        from qi_station.screens.request_detail import RequestDetailScreen

        self.push_screen(RequestDetailScreen(request_id))

    def action_profile(self) -> None:
        from qi_station.screens.profile import ProfileScreen

        if isinstance(self.screen, ProfileScreen):
            return
        self.push_screen(ProfileScreen(), self._profile_saved)

    def _profile_saved(self, info: Any) -> None:
        if info is not None:
            self.notify(t("profile.saved"))

    def action_help(self) -> None:
        from qi_station.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(self.screen))

    def action_command_palette(self) -> None:
        from textual.command import CommandPalette

        from qi_station.screens.palette import StationPalette

        if self.use_command_palette and not isinstance(self.screen, CommandPalette):
            self.push_screen(StationPalette())

    # ---- command palette: every binding of the app and of the current screen ----------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        seen: set[str] = set()
        for node in (screen, self):  # _bindings: private, no public list of a node's own bindings;
            # guard: test_tui_stumbles.py::test_command_palette_speaks_chinese
            for _key, b in node._bindings:
                if not b.id or b.id in seen or b.action == "command_palette":
                    continue
                seen.add(b.id)
                from qi_station.screens.bindings import key_text

                yield SystemCommand(
                    f"{b.description} ({key_text(self, b)})",
                    t("palette.binding", id=b.id),
                    _runner(node, b.action),
                )
        if len(self.staff) > 1:
            yield SystemCommand(
                t("palette.operator"), t("palette.operator_help"), self.action_switch_operator
            )
        yield SystemCommand(t("palette.backup"), t("palette.backup_help"), self.action_backup)

    def action_backup(self) -> None:
        """备份数据库 (command palette): the backup dialog; the copy is made in its worker."""
        from qi_station.screens.backup import BackupDialog

        self.push_screen(BackupDialog(), self._backed_up)

    def _backed_up(self, done: dict[str, Any] | None) -> None:
        if done:
            from qi_station.i18n import human_size

            size = human_size(done["size"])
            self.last_backup = t("backup.done", path=done["path"], size=size)
            self.notify(backup_toast(Path(done["path"]), size), timeout=15)


def backup_toast(path: Path, size: str) -> str:
    """The backup toast: its size and folder on the first line, the file on the second; at most two
    lines at 80x24. The folder is absolute or ``~/...`` (never ``../``, read as a relative path); when
    it and the size do not fit one line, the folder keeps the line and the size goes beside the file
    (if it fits there); a folder too long even so is cut from the left, marked ``...`` (its end names
    the USB stick's folder)."""
    from rich.cells import cell_len

    from qi_station.screens.base import TOAST_WIDTH, brief
    from qi_station.screens.cells import clip_path, shown_path

    first, second = t("backup.written", size=size, folder=shown_path(path.parent)), path.name
    if cell_len(first) > TOAST_WIDTH:
        room = TOAST_WIDTH - cell_len(t("backup.written_to", folder=""))
        first = t("backup.written_to", folder=clip_path(path.parent, room))
        sized = f"{path.name} ({size})"
        second = sized if cell_len(sized) <= TOAST_WIDTH else path.name
    return brief(first + "\n" + second)


BACK_DEPTH = 20  # Esc goes back this many screens at most
SETTLED_POLLS = 2  # idle polls in a row before held keys go on (see StationApp._focus_poll)
HOLD_KEYS_MAX = 3.0  # seconds keys are held at most (a screen whose read hangs never eats them)
HOLD_POLL_INTERVAL = 0.01  # seconds between polls while a screen's thread worker reads
RESTORE_POLL = 2.0  # seconds between the checks that the database was not restored under the app
OPEN_DB_AFTER = 0.5  # seconds after mount the database is opened at the latest (see on_mount)
FORM_READY_WAIT = 5.0  # seconds F4 holds the keys typed after it at most (the form is ready in ~0.1 s)


def _runner(node: Any, action: str) -> Any:
    async def run() -> None:
        await node.run_action(action)

    return run


def _main_screens() -> tuple[type, ...]:
    from qi_station.screens.base import MainScreen

    return (MainScreen,)


def run(
    db_path: str | Path | None = None, lang: str | None = None, early_figures: EarlyFigures | None = None
) -> None:
    """Open the station TUI on ``db_path`` (the default database when None). ``early_figures``: the
    dashboard's read, started by the caller before Textual was imported (else started here)."""
    if early_figures is None:
        from qi_station.services.dashboard import EarlyFigures
        from qi_station.services.workspace import station_db_path

        early_figures = EarlyFigures(station_db_path(db_path))
    StationApp(db_path, lang=lang, early_figures=early_figures).run()
