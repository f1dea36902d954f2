"""An outside operator's findings at 80x24 (Chinese UI, tmux): the refer window refers exactly the
highlighted suggestion whatever has focus, a burst of keys is never lost in a search-as-you-type field
or the activity form, a half-typed note asks before a screen switch throws it away."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, rows, settle
from test_tui_op5 import suggestions
from tui_pilot import ask_to_leave, burst, open_detail, press_to, req_id

pytestmark = pytest.mark.usefixtures("tui_env")


async def _open_refer(pilot: Any, db: Path, number: str = "QI0001-202603-0002") -> Any:
    from qi_station.screens.dialogs import ReferDialog

    pilot.app.open_request(req_id(db, number))  # 0002: in progress, standards + certification
    await settle(pilot)
    await pilot.press("r")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ReferDialog)
    return pilot.app.screen


def _testing_request(db: Path) -> str:
    """Request 0002 about testing too: both institutions are suggested for it."""
    import sqlite3

    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE request SET elements = '[\"standards\",\"testing\"]' WHERE number = 'QI0001-202603-0002'"
        )
    conn.close()
    return "QI0001-202603-0002"


def _highlighted(dialog: Any) -> str:
    from textual.widgets import OptionList

    ol = dialog.query_one("#suggestions", OptionList)
    assert ol.highlighted is not None
    return str(ol.get_option_at_index(ol.highlighted).id)


@pytest.mark.parametrize("switch", [False, True])
async def test_refer_down_arrow_moves_the_highlight_and_ctrl_s_refers_it(
    tmp_path: Path, switch: bool
) -> None:
    """r, (Right: the next library kind), Down, Ctrl+S refers the SECOND suggestion: Down moves the list's
    highlight though the focus is on the kind field; the referral names it."""
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        number = _testing_request(db) if switch else "QI0001-202603-0002"
        dialog = await _open_refer(pilot, db, number)
        if switch:
            await pilot.press("right")
            await settle(pilot)
            assert dialog.query_one("#kind").value == "institution"
        assert len(dialog.items) >= 2
        second = dialog.items[1]
        await pilot.press("down")
        assert _highlighted(dialog) == second["id"]
        await pilot.press("up", "down")
        assert _highlighted(dialog) == second["id"]
        if second.get("kind") == "institution" and not second.get("qualified"):
            dialog.query_one("#reason").value = "就近"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, type(dialog))
    got = rows(db, "SELECT item_id FROM referral WHERE request_id = ?", req_id(db, number))
    assert got == [(second["id"],)]


async def test_refer_keys_typed_before_the_suggestions_land_count(tmp_path: Path) -> None:
    """Right, Down, Ctrl+S as one burst: the Down waits for the new kind's list (never lost to the list's
    reset), and Ctrl+S never refers an item of the previous kind still shown."""
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dialog = await _open_refer(pilot, db, _testing_request(db))
        await pilot.press("right", "down", "ctrl+s")
        assert rows(db, "SELECT count(*) FROM referral") == [(0,)]  # not the expert still shown
        await settle(pilot)
        assert dialog.query_one("#kind").value == "institution"
        assert _highlighted(dialog) == dialog.items[1]["id"]


async def test_refer_highlight_is_scrolled_into_view(tmp_path: Path) -> None:
    """Down past the list's height keeps the highlighted row on screen."""
    from textual.widgets import OptionList

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dialog = await _open_refer(pilot, db)
        ol = dialog.query_one("#suggestions", OptionList)
        for _ in range(len(dialog.items) - 1):
            await pilot.press("down")
        await pilot.pause()
        assert ol.highlighted == len(dialog.items) - 1
        top = ol.scroll_offset.y
        assert top <= ol.highlighted < top + ol.scrollable_content_region.height


@pytest.mark.parametrize("screen_key", ["f3", "f5"])
async def test_a_burst_of_keys_in_a_search_box_is_never_lost(tmp_path: Path, screen_key: str) -> None:
    """Ctrl+U then ``yantai`` without a pause, then six Backspaces and ``ytld``: every key lands."""
    from textual.widgets import Input

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(screen_key)
        await settle(pilot)
        await pilot.press("ctrl+f")
        box = app.screen.focused
        assert isinstance(box, Input)
        burst(app, "ctrl+u", *"yantai")
        await settle(pilot)
        assert box.value == "yantai"
        burst(app, *["backspace"] * 6, *"ytld")
        await settle(pilot)
        assert box.value == "ytld"
        assert app.screen.focused is box


async def test_a_burst_in_the_activity_form_saves_what_was_typed(tmp_path: Path) -> None:
    """覆盖人数 holds 0: Backspace 6 0 sent at once is 60 (the Backspace ran last: 6 was saved)."""
    from textual.widgets import Input

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.switch_mode("activities")
        await settle(pilot)
        app.screen.query_one("#title", Input).value = "计量进园区"
        people = app.screen.query_one("#people", Input)
        people.focus()
        await pilot.pause()
        people.cursor_position = len(people.value)
        burst(app, "backspace", "6", "0", "ctrl+s")
        await settle(pilot)
        assert people.value == "60"
    assert rows(db, "SELECT people FROM activity") == [(60,)]


@pytest.mark.parametrize("answer", ["edit", "discard"])
async def test_a_screen_switch_asks_before_throwing_a_half_typed_note_away(
    tmp_path: Path, answer: str
) -> None:
    """F2 with a half-typed 备注 asks 放弃 / 继续编辑 (as the 登记 form asks): 继续编辑 keeps the note
    and its text, 放弃 goes to the dashboard."""
    from qi_station.screens.dashboard import DashboardScreen
    from qi_station.screens.dialogs import NoteDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db)
        note = await press_to(pilot, "n", NoteDialog)
        await pilot.press(*"已电话联系")
        await ask_to_leave(pilot, "f2", "备注尚未保存")
        app.screen.query_one(f"#ans-{answer}").press()
        await settle(pilot)
        if answer == "edit":
            assert app.screen is note
            assert note.query_one("#note").value == "已电话联系"
        else:
            assert isinstance(app.screen, DashboardScreen)


async def test_picking_an_enterprise_goes_on_to_the_elements(tmp_path: Path) -> None:
    """Down, Enter in the enterprise list fills 信用代码 / 联系人 / 电话 and goes on to the first field
    still to fill, 服务要素 (标准), as docs/operator-guide-zh.md says; Shift+Tab goes back to 信用代码."""
    from textual.widgets import Input

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        form = app.screen
        # the list is shown before Down (keys typed before it appears: a known gap, not this test's)
        await suggestions(pilot, form, "yantai")
        await pilot.press("down", "enter")
        await settle(pilot)
        assert len(form.query_one("#uscc", Input).value) == 18
        assert form.focused is not None and form.focused.id == "el-standards"
        await pilot.press("shift+tab")
        assert form.focused.id == "uscc"
