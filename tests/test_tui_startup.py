"""What keeps the TUI's start and its first screen change small (no times here: the work itself).

- Textual re-parses every CSS source at each new screen (three times); the app's stylesheet parses each
  source once per set of CSS variables (``screens/css.py``).
- The ledger's COUNT (a table scan on a big ledger) starts only once the first page is on the screen.
- The dashboard's figures are read by a worker started at mount, which waits for the database.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import pytest
from test_tui_journeys import make_app, settle


@pytest.fixture(scope="module")
def ledger_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """More requests than one ledger page, so the first page comes before its COUNT."""
    from datetime import datetime

    from qi_station.devtools.generate.run import generate

    db = tmp_path_factory.mktemp("startup") / "station.db"
    generate(db, requests=250, library=20, seed=3, now=datetime(2026, 3, 20, 2, 0), parallel=False)
    return db


@pytest.mark.asyncio
async def test_each_css_source_is_parsed_once_per_set_of_variables(
    ledger_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import textual.css.stylesheet as ss

    counts: collections.Counter[Any] = collections.Counter()
    parse = ss.parse

    def counting(scope: str, css: str, read_from: Any, *a: Any, **k: Any) -> Any:
        counts[read_from] += 1
        return parse(scope, css, read_from, *a, **k)

    monkeypatch.setattr(ss, "parse", counting)
    app = make_app(ledger_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for key in ("f3", "f5", "f2"):
            await pilot.press(key)
            await settle(pilot)
        assert type(app.screen).__name__ == "DashboardScreen"
    assert any("ledger.tcss" in str(k) for k in counts), counts  # the screens' CSS was read
    # once before the theme's variables are in, once after; Textual alone parses some of them 13 times here
    assert max(counts.values()) <= 2, counts.most_common(5)


@pytest.mark.asyncio
async def test_the_ledger_counts_after_its_first_page_is_shown(
    ledger_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qi_station.services import queries

    app = make_app(ledger_db)
    seen: list[bool] = []
    count = queries.count_requests

    def counting(*a: Any, **k: Any) -> int:
        scr = app.screen
        seen.append(type(scr).__name__ == "LedgerScreen" and scr.has_class("loaded"))
        return count(*a, **k)

    monkeypatch.setattr(queries, "count_requests", counting)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        scr = app.screen
        assert type(scr).__name__ == "LedgerScreen"
        assert scr.total == 250 and not scr._counting  # type: ignore[attr-defined]
    assert seen == [True], seen  # one COUNT, after the first rows were shown


@pytest.mark.asyncio
async def test_dashboard_figures_load_without_a_second_read(
    ledger_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The figures' worker starts at mount and waits for the database; DatabaseReady does not start
    another one."""
    from qi_station.services import dashboard

    calls: list[int] = []
    compute = dashboard.compute

    def counting(*a: Any, **k: Any) -> Any:
        calls.append(1)
        return compute(*a, **k)

    monkeypatch.setattr(dashboard, "compute", counting)
    app = make_app(ledger_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.ready and app.screen.has_class("loaded")
    assert len(calls) == 1


@pytest.mark.asyncio
async def test_a_resize_to_the_same_size_does_not_lay_the_screen_out_again(
    ledger_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The terminal driver sends its size once it starts; Textual keeps that event and replays it to the
    screen when idle, a full re-layout for nothing. StationApp drops a Resize to the size it has; another
    size still reaches the screen."""
    from textual import events
    from textual.geometry import Size
    from textual.screen import Screen

    app = make_app(ledger_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        layouts: list[Size] = []
        refresh_layout = Screen._refresh_layout

        def counting(self: Screen[Any], size: Size | None = None, scroll: bool = False) -> None:
            if not scroll:
                layouts.append(size or self.size)
            refresh_layout(self, size, scroll)

        monkeypatch.setattr(Screen, "_refresh_layout", counting)
        app.post_message(events.Resize(Size(100, 30), Size(100, 30)))
        await settle(pilot)
        assert layouts == [] and app._resize_event is None
        app.post_message(events.Resize(Size(90, 28), Size(90, 28)))
        await settle(pilot)
        assert app.size == Size(90, 28) and Size(90, 28) in layouts


@pytest.mark.asyncio
async def test_dashboard_figures_read_before_the_ui_are_in_its_first_frame(
    ledger_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console entry point starts the figures' read before Textual is imported
    (``services.dashboard.EarlyFigures``). The app's first frame is the title bar alone
    (``MainScreen.BODY_AFTER_FIRST_FRAME``: few widgets, it paints sooner); the cards, panels and footer
    come in the next frame, with the figures already in them (no frame of placeholders), the database
    read no second time for them, the screen as when its worker read them."""
    from qi_station.app import StationApp
    from qi_station.services import dashboard

    async def screenshot(app: Any) -> str:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            assert app.screen.has_class("loaded")
            return str(app.export_screenshot())

    worker_read = await screenshot(make_app(ledger_db))

    calls: list[int] = []
    compute = dashboard._compute

    def counting(*a: Any, **k: Any) -> Any:
        calls.append(1)
        return compute(*a, **k)

    monkeypatch.setattr(dashboard, "_compute", counting)
    early = dashboard.EarlyFigures(ledger_db)
    assert early.result(30) is not None

    frames: list[tuple[bool, bool, bool]] = []  # each frame: (title bar, body, figures)

    class Marked(StationApp):
        def _display(self, screen: Any, renderable: Any) -> None:
            super()._display(screen, renderable)
            if renderable is not None and type(self.screen).__name__ == "DashboardScreen":
                scr = self.screen
                frames.append(
                    (bool(scr.query("#titlebar")), bool(scr.query("#cards")), scr.has_class("loaded"))
                )

    from qi_station.services import verify, workspace

    painted_at: dict[str, bool] = {}  # what the frames had shown when the threads' work began
    open_station, dashboard_check = workspace.open_station, verify.dashboard_check

    def opening(path: Any) -> Any:
        painted_at["open"] = any(f[2] for f in frames)
        return open_station(path)

    def checking(path: Any) -> Any:
        painted_at["check"] = any(f[2] for f in frames)
        return dashboard_check(path)

    monkeypatch.setattr(workspace, "open_station", opening)
    monkeypatch.setattr(verify, "dashboard_check", checking)
    app = Marked(ledger_db, lang="zh", config={}, offer_demo=False, early_figures=early)
    assert await screenshot(app) == worker_read
    assert frames[0] == (True, False, False), frames  # the first frame: the title bar alone
    assert next(f for f in frames if f[1]) == (True, True, True), frames  # the body comes with its figures
    assert len(calls) == 1  # the early read only
    # the database's open and the ledger check (threads that take the GIL) start once the figures are
    # painted, not while that frame is laid out and drawn
    assert painted_at == {"open": True, "check": True}


def test_early_figures_read_only_a_database_at_the_newest_schema(tmp_path: Path) -> None:
    """A missing file is not created (the app creates and migrates it); a database the app would migrate
    first is not read (its worker reads it once it is open)."""
    import sqlite3

    from qi_station.services.dashboard import EarlyFigures

    missing = tmp_path / "new.db"
    assert EarlyFigures(missing).result(30) is None
    assert not missing.exists()
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript(
        "CREATE TABLE alembic_version (version_num TEXT); INSERT INTO alembic_version VALUES ('0019');"
        "CREATE TABLE request (id TEXT)"
    )
    conn.commit()
    conn.close()
    early = EarlyFigures(old)
    assert early.result(30) is None
    told: list[Any] = []
    early.when_done(told.append)  # over: called at once, with nothing read
    assert told == [None]


@pytest.mark.asyncio
async def test_a_first_frame_never_waits_for_the_figures_read(
    ledger_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console entry point makes the figures' read and the dashboard starts it at mount: a read not
    done by then leaves placeholders in the first frame (never waited for), and its thread posts the
    figures, painted once in (one read; the same screen as the worker's); the app opens the database
    after that (its open and DatabaseReady's work stay out of the start-up window)."""
    import threading

    from qi_station.app import StationApp
    from qi_station.services import dashboard

    async with make_app(ledger_db).run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        worker_read = str(pilot.app.export_screenshot())

    release = threading.Event()
    calls: list[int] = []
    compute = dashboard._compute

    def held(*a: Any, **k: Any) -> Any:
        calls.append(1)
        release.wait(30)  # until the first frame is out
        return compute(*a, **k)

    monkeypatch.setattr(dashboard, "_compute", held)
    early = dashboard.EarlyFigures(ledger_db, start=False)
    first_frame: list[bool] = []

    class Marked(StationApp):
        def _display(self, screen: Any, renderable: Any) -> None:
            super()._display(screen, renderable)
            if renderable is not None and not first_frame:
                first_frame.append(self.screen.has_class("loaded"))
                release.set()

    from qi_station.services import workspace

    opened = threading.Event()
    open_station = workspace.open_station

    loaded_at_open: list[bool] = []

    def slow_open(path: Any) -> Any:
        loaded_at_open.append(app.screen.has_class("loaded"))
        opened.wait(30)  # held until the figures are painted
        return open_station(path)

    monkeypatch.setattr(workspace, "open_station", slow_open)
    app = Marked(ledger_db, lang="zh", config={}, offer_demo=False, early_figures=early)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(500):  # the figures come from the read's thread, not after the database opens
            if app.screen.has_class("loaded"):
                break
            await pilot.pause(0.02)
        assert app.screen.has_class("loaded") and not app.ready
        opened.set()
        await settle(pilot)
        assert str(app.export_screenshot()) == worker_read
    assert first_frame == [False]  # the title bar, then placeholders: the read was still held
    assert len(calls) == 1  # the early read only (no worker read beside it)
    assert loaded_at_open == [True]  # the database is opened once the early figures are painted


@pytest.mark.asyncio
async def test_the_database_opens_even_when_the_early_figures_are_slow(
    ledger_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open waits for the early figures only so long (``OPEN_DB_AFTER``): a read that hangs never
    keeps the other screens from their database."""
    import threading

    from qi_station.app import StationApp
    from qi_station.services import dashboard

    release = threading.Event()
    compute = dashboard._compute

    def hung(*a: Any, **k: Any) -> Any:
        release.wait(30)
        return compute(*a, **k)

    monkeypatch.setattr(dashboard, "_compute", hung)
    early = dashboard.EarlyFigures(ledger_db, start=False)
    app = StationApp(ledger_db, lang="zh", config={}, offer_demo=False, early_figures=early)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(500):
                if app.ready:
                    break
                await pilot.pause(0.02)
            assert app.ready and not app.screen.has_class("loaded")
            release.set()
            await settle(pilot)
            assert app.screen.has_class("loaded")
    finally:
        release.set()


@pytest.mark.asyncio
async def test_what_reaches_the_dashboard_before_its_body_is_shown_once_the_body_is_in(
    ledger_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first frame is the title bar alone: an error (or the figures) the dashboard gets before its
    body is mounted waits for the body and is shown in it, in order -- not lost, not a crash."""
    from textual.widgets import Static

    from qi_station.screens.dashboard import DashboardScreen

    before_body: list[bool] = []
    mount = DashboardScreen.on_mount

    def on_mount(self: DashboardScreen) -> None:
        mount(self)
        before_body.append(self.body_in)
        self.show_db_error("数据库文件已损坏")
        self.post_message(DashboardScreen.Loaded(error="磁盘已满"))

    monkeypatch.setattr(DashboardScreen, "on_mount", on_mount)
    monkeypatch.setattr(DashboardScreen, "load", lambda self, db_path: None)  # no figures over the errors
    app = make_app(ledger_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert before_body == [False]
        shown = str(app.screen.query_one("#by-status", Static).render())
        assert "磁盘已满" in shown and "数据库文件已损坏" not in shown  # the later one, over the first
        messages = [str(n.message) for n in app._notifications]  # no public list: tests only
        assert "数据库文件已损坏" in messages and "磁盘已满" in messages


@pytest.mark.asyncio
async def test_the_body_is_painted_as_soon_as_it_is_mounted(
    ledger_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The frame with the dashboard's body (and its figures) is painted by ``MainScreen._mount_body``
    itself (``Screen._on_timer_update``, Textual's private handler), not at the screen's next update
    tick, and the start holds no repaint (no switch: the dashboard is ``StationApp.DEFAULT_MODE``): a
    start-up paints the body right after its title bar. Run as the console entry point runs the app
    (``run_test`` holds a batch of repaints while its pilot starts)."""
    from qi_station.app import StationApp
    from qi_station.screens.base import MainScreen
    from qi_station.services import dashboard

    early = dashboard.EarlyFigures(ledger_db)
    assert early.result(30) is not None
    inside: list[bool] = []
    frames: list[tuple[bool, bool, bool]] = []  # each frame: (body, figures, painted inside _mount_body)
    mount_body = MainScreen._mount_body

    async def marked_mount(self: MainScreen) -> None:
        inside.append(True)
        try:
            await mount_body(self)
        finally:
            inside.pop()

    monkeypatch.setattr(MainScreen, "_mount_body", marked_mount)

    class Marked(StationApp):
        def _display(self, screen: Any, renderable: Any) -> None:
            super()._display(screen, renderable)
            if renderable is not None and type(self.screen).__name__ == "DashboardScreen":
                scr = self.screen
                frames.append((bool(scr.query("#cards")), scr.has_class("loaded"), bool(inside)))
                if scr.has_class("loaded"):
                    self.exit()

    app = Marked(ledger_db, lang="zh", config={}, offer_demo=False, early_figures=early)
    await app.run_async(headless=True, size=(80, 24))
    assert next(f for f in frames if f[0]) == (True, True, True), frames


@pytest.mark.asyncio
async def test_only_the_start_switches_to_its_screen_without_textual_s_hold(
    ledger_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual's ``switch_mode`` holds repaints for 50 ms (``App.delay_update``) to mask a change of
    screens; the start has no switch (the dashboard is ``StationApp.DEFAULT_MODE``, composed with the
    app), an F-key keeps it."""
    from textual.app import App

    from qi_station.app import StationApp
    from qi_station.services import dashboard

    held: list[str] = []
    delay_update = App.delay_update

    def recording(self: App[Any], delay: float = 0.05) -> None:
        held.append(self.current_mode)
        delay_update(self, delay)

    monkeypatch.setattr(App, "delay_update", recording)
    early = dashboard.EarlyFigures(ledger_db)
    app = StationApp(ledger_db, lang="zh", config={}, offer_demo=False, early_figures=early)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "DashboardScreen" and held == []
        await pilot.press("f3")
        await settle(pilot)
        assert type(app.screen).__name__ == "LedgerScreen"
    assert held == ["dashboard"]  # held when leaving the dashboard for the ledger
