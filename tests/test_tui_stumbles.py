"""Issue 9, keys and screens: every key in the footer works from every focused widget, Esc goes back,
the Sync screen states the station's state, Chinese screens speak Chinese, the layout fits 80x24, and
times are read as operators type them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db
from test_tui_journeys import make_app, settle
from tui_pilot import notes, req_id, until

SCREENS = ("dashboard", "ledger", "libraries", "sync", "reports", "detail")


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


async def _open(pilot: Any, screen: str, db: Path) -> None:
    await settle(pilot)
    keys = {"ledger": "f3", "libraries": "f5", "sync": "f6", "reports": "f7"}
    if screen in keys:
        await pilot.press(keys[screen])
    elif screen == "detail":
        pilot.app.open_request(req_id(db, "QI0001-202603-0002"))  # in progress: many moves
    await settle(pilot)


def _lines(app: Any) -> list[str]:
    return ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()]


# ---- every footer key works from every focused widget --------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize("screen", SCREENS)
async def test_every_footer_key_works_from_every_focused_widget(tmp_path: Path, screen: str) -> None:
    """For each focusable widget of the screen: each key the footer shows reaches the screen's (or the
    app's) action, never a widget's own use of the key (an Input's Ctrl+E "end of line", Ctrl+X "cut");
    and a screen key leaves the footer only when it is a character the focused field types."""
    from textual.keys import key_to_character

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, screen, db)
        scr = app.screen
        calls: list[tuple[str, Any]] = []

        async def spy(action: Any, default_namespace: Any = None) -> bool:
            calls.append((action, default_namespace))
            return True

        def footer() -> dict[str, Any]:
            return {k: ab.binding for k, ab in scr.active_bindings.items() if ab.binding.show and ab.enabled}

        app.run_action = spy  # record what a key dispatches, run nothing
        scr.set_focus(None)
        await pilot.pause()
        screen_keys = {k: b.action for k, b in footer().items()}
        assert screen_keys, screen
        checked = 0
        for w in [None, *scr.focus_chain]:  # None: nothing focused
            scr.set_focus(w)
            await pilot.pause()
            shown = footer()
            where = f"{screen} with {w!r} focused"
            for key, action in screen_keys.items():
                if key not in shown or shown[key].action != action:
                    char = key_to_character(key)
                    typed = w is not None and char is not None and w.check_consume_key(key, char)
                    assert typed, f"{where}: {key} ({action}) is taken from the footer by the widget"
            for key, binding in shown.items():
                calls.clear()
                await pilot.press(key)
                await pilot.pause()
                assert calls, f"{where}: {key}: nothing ran"
                action, namespace = calls[0]
                assert action == binding.action, f"{where}: {key} ran {action!r}, not {binding.action!r}"
                assert namespace in (scr, app), f"{where}: {key} ran on {namespace!r}"
                checked += 1
        assert checked


def test_no_key_is_one_a_terminal_cannot_send() -> None:
    """Ctrl+I arrives as Tab (Ctrl+M as Enter, Ctrl+H as Backspace): a binding on one can never fire."""
    from qi_station.services.keymap import KEYS, TERMINAL_ALIASES

    assert not [k.id for k in KEYS if k.key in TERMINAL_ALIASES]


# ---- the keys the manual names ----------------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize("key", ["ctrl+e", "enter"])
async def test_reports_export_with_the_cursor_still_in_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "reports", tmp_path)
        app.screen.query_one("#out").focus()
        await pilot.press(*"m.csv", key)
        await settle(pilot)
        from qi_station.services.files import export_dir

        assert (export_dir() / "m.csv").exists()  # a bare name: the export folder, never the cwd


@pytest.mark.asyncio
async def test_sync_export_key_works_after_asking_for_the_path(tmp_path: Path) -> None:
    """Ctrl+E with no path asks for it and puts the cursor there; the path typed, Ctrl+E runs the export
    (this station is not enrolled: the answer is the Chinese instruction to enroll, no English command)."""
    from qi_station.i18n import t

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "sync", tmp_path)
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert t("sync.need_path") in notes(app)
        assert app.focused is app.screen.query_one("#bundle")
        await pilot.press(*"up.qib", "ctrl+e")
        await settle(pilot)
        progress = str(app.screen.query_one("#sync-progress").render())
        assert progress == t("sync.not_enrolled")
        assert "`" not in progress and "run" not in progress
        await pilot.press("enter")  # Enter cannot tell export from import: it names both keys
        await settle(pilot)
        assert t("sync.enter_hint", export="Ctrl+E", load="Ctrl+O") in notes(app)


@pytest.mark.asyncio
async def test_ctrl_x_clears_the_ledger_filters_from_the_search_box(tmp_path: Path) -> None:
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "ledger", tmp_path)
        await pilot.press("ctrl+f", *"华泰")
        await until(pilot, lambda: app.screen.total == 2)
        assert app.screen.total == 2
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert app.screen.query_one("#f-text").value == ""
        assert app.screen.total == 5


@pytest.mark.asyncio
async def test_esc_goes_back_and_back_to_the_request_after_the_library(tmp_path: Path) -> None:
    from qi_station.screens.dashboard import DashboardScreen
    from qi_station.screens.ledger import LedgerScreen
    from qi_station.screens.libraries import LibrariesScreen
    from qi_station.screens.reports import ReportsScreen
    from qi_station.screens.request_detail import RequestDetailScreen

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "ledger", db)
        for key in ("f7", "f5"):
            await pilot.press(key)
            await settle(pilot)
        for want in (ReportsScreen, LedgerScreen, DashboardScreen):
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, want)
        rid = req_id(db, "QI0001-202603-0001")
        await pilot.press("f3")
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, LibrariesScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, RequestDetailScreen) and app.screen.request_id == rid


@pytest.mark.asyncio
async def test_f1_shows_the_key_ids(tmp_path: Path) -> None:
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "ledger", tmp_path)
        await pilot.press("f1")
        await settle(pilot)
        text = str(app.screen.query_one("#help-keys").render())
        for bid in ("ledger.sort", "ledger.clear", "main.back", "app.libraries"):
            assert bid in text


@pytest.mark.asyncio
async def test_a_move_the_status_does_not_allow_says_why(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(req_id(db, "QI0001-202603-0003"))  # 已登记
        await settle(pilot)
        await pilot.press("v")  # 回访: only after 已办结
        await settle(pilot)
        assert "不允许从「已登记」转为「已回访」" in notes(app)
        assert type(app.screen).__name__ == "RequestDetailScreen"


# ---- item 10: the Sync screen shows the station's state at once ------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_sync_screen_shows_the_state_on_open(tmp_path: Path, lang: str) -> None:
    db = fixture_db(tmp_path)
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(
            "INSERT OR REPLACE INTO kv(k, v) VALUES (?, ?)",
            [
                ("enroll_mode", "online"),
                ("hub_url", "https://hub.example.cn"),
                ("last_error", "2026-03-20 01:00:00.000000 hub unreachable: run `x` / 中心连不上 [network]"),
            ],
        )
    conn.close()
    app = make_app(db, lang=lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "sync", db)
        text = str(app.screen.query_one("#sync-status").render())
        assert "https://hub.example.cn" in text
        if lang == "zh":
            assert "本站已注册（联网同步）" in text and "待上传变更: " in text
            assert "中心连不上" in text and "hub unreachable" not in text and "2026-03-20 09:00" in text
        else:
            assert "Enrolled (online sync)" in text and "中心连不上" not in text
        assert "{" not in text and "None" not in text


# ---- item 11: no English in Chinese screens, labels not codes ---------------------------------------------
@pytest.mark.asyncio
async def test_command_palette_speaks_chinese(tmp_path: Path) -> None:
    from textual.command import CommandInput, CommandPalette

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        assert app.screen.query_one(CommandInput).placeholder == "输入几个字查找操作"
        await pilot.press(*"zzzzqqq")
        for _ in range(100):  # the palette waits a moment before saying nothing matched
            await pilot.pause(0.05)
            text = "\n".join(_lines(app))
            if "没有找到" in text:
                break
        assert "没有找到" in text and "No matches" not in text


@pytest.mark.asyncio
async def test_fee_unit_is_shown_by_its_label(tmp_path: Path) -> None:
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "libraries", tmp_path)
        await pilot.press("ctrl+t", "ctrl+t")  # equipment
        await settle(pilot)
        assert "计费单位: 小时" in str(app.screen.query_one("#lib-detail-text").render())
        assert any("300/小时" in line for line in _lines(app))  # in the table, not cut


def test_transition_error_names_statuses_as_people_read_them() -> None:
    from qi_station.core.errors import TransitionError

    msg = TransitionError("new", "resolved").message
    assert "不允许从「已登记」转为「已办结」" in msg and "cannot move from New to Resolved" in msg


def test_cli_prints_labels_not_codes(tmp_path: Path) -> None:
    from test_core_cli import run

    db = fixture_db(tmp_path)
    shown = run(db, "request", "show", "QI0001-202603-0001").stdout
    assert "渠道: 走访" in shown and "紧急程度: 一般" in shown and "visit" not in shown
    refused = run(db, "request", "move", "QI0001-202603-0003", "resolved", ok=False)
    assert refused.returncode == 2
    assert "不允许从「已登记」转为「已办结」" in refused.stderr


# ---- item 13: 80x24 --------------------------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_footer_fits_80_columns(tmp_path: Path, lang: str) -> None:
    db = fixture_db(tmp_path)
    for screen in SCREENS:
        app = make_app(db, lang=lang)
        async with app.run_test(size=(80, 24)) as pilot:
            await _open(pilot, screen, db)
            footer = _lines(app)[-1]
            for _key, ab in app.screen.active_bindings.items():
                if ab.binding.show and ab.enabled:
                    assert ab.binding.description in footer, f"{screen}: {footer!r}"


@pytest.mark.asyncio
@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_resolve_dialog_labels_do_not_run_into_their_fields(tmp_path: Path, lang: str) -> None:
    from rich.cells import cell_len
    from textual.widgets import Input, Label

    from qi_station.screens.dialogs import MoveDialog

    db = fixture_db(tmp_path)
    app = make_app(db, lang=lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(MoveDialog(req_id(db, "QI0001-202603-0002"), "QI0001-202603-0002", "resolved"))
        await settle(pilot)
        for row in app.screen.query(".row"):
            label, field = row.query_one(Label), row.query(Input)
            if field:
                text = str(label.render())
                assert field.first().region.x >= label.region.x + cell_len(text) + 1, text


# ---- item 14: times as typed, a bad month, pinyin in the ledger, Enter on one match -----------------------
@pytest.mark.parametrize(
    ("typed", "utc"),
    [
        ("2026-11-29 9:30", "2026-11-29 01:30:00"),
        ("2026-11-29", "2026-11-28 16:00:00"),
        ("9:30", "2026-03-20 01:30:00"),  # today (QI_STATION_NOW)
        ("11-29 9:30", "2026-11-29 01:30:00"),  # this year
        ("2026/11/29 09:30", "2026-11-29 01:30:00"),
        ("2026-11-29T09:30:00+08:00", "2026-11-29 01:30:00"),
    ],
)
def test_times_as_operators_type_them(typed: str, utc: str) -> None:
    from qi_station.core.clock import parse_datetime

    assert str(parse_datetime(typed)) == utc


@pytest.mark.parametrize("typed", ["25:00", "2026-13-01 9:30", "明天", "9:3"])
def test_an_unreadable_time_gives_an_example_not_jargon(typed: str) -> None:
    from qi_station.core.clock import parse_datetime
    from qi_station.core.errors import ValidationError

    with pytest.raises(ValidationError) as e:
        parse_datetime(typed, "received_at")
    assert e.value.field == "received_at"
    assert "ISO" not in e.value.message and "2026-03-20 09:30" in e.value.message


@pytest.mark.asyncio
async def test_a_bad_month_clears_the_old_rows(tmp_path: Path) -> None:
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "ledger", tmp_path)
        assert app.screen.total == 5
        app.screen.query_one("#f-month").focus()
        await pilot.press(*"2026-13", "enter")
        await settle(pilot)
        info = str(app.screen.query_one("#page-info").render())
        assert "2026-13" in info or "月份" in info
        assert app.screen.query_one("#ledger-table").total == 0
        assert not any("QI0001-2026" in line for line in _lines(app))


@pytest.mark.asyncio
@pytest.mark.parametrize(("typed", "n"), [("ytl", 2), ("yantai", 2), ("hrxcl", 1)])
async def test_ledger_search_by_pinyin_of_the_enterprise(tmp_path: Path, typed: str, n: int) -> None:
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "ledger", tmp_path)
        await pilot.press("ctrl+f", *typed)
        await until(pilot, lambda: app.screen.total != 5)
        assert app.screen.total == n


@pytest.mark.asyncio
async def test_enter_on_a_single_match_opens_it(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "ledger", db)
        await pilot.press("ctrl+f", *"qdhr", "enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "RequestDetailScreen"
        assert app.screen.request_id == req_id(db, "QI0001-202602-0001")
