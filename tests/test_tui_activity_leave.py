"""An outside operator's finding at 80x24 (Chinese UI): Ctrl+Q with a half-filled 走访培训活动 form quit
without asking, while every other form asks. The form asks by the one shared question
(``dialogs.LeaveAsks``: 放弃 / 继续编辑, 继续编辑 the default); an F-key keeps the page and its fields (a
main screen stays), so only quitting asks, from whichever page is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, fixture_db
from test_tui_journeys import make_app, settle
from tui_pilot import press_to

pytestmark = pytest.mark.usefixtures("tui_env")


def _watch_exit(app: Any) -> list[int]:
    """The app's exit calls (Ctrl+Q's ``go``), recorded instead of run: the test sees whether it quit."""
    exited: list[int] = []
    app.exit = lambda *a, **k: exited.append(1)
    return exited


async def test_ctrl_q_on_a_half_filled_activity_form_asks(tmp_path: Path) -> None:
    """t, a title typed, Ctrl+Q: 活动尚未保存 asks, 继续编辑 focused; Enter keeps the text and the app;
    Ctrl+Q again and 放弃 quits."""
    from textual.widgets import Input

    from qi_station.screens.activity import ActivityScreen
    from qi_station.screens.form_dialogs import ChoicesDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        exited = _watch_exit(app)
        await settle(pilot)
        form = await press_to(pilot, "t", ActivityScreen)
        form.query_one("#title", Input).focus()
        await pilot.press(*"计量进园区")
        asked = await press_to(pilot, "ctrl+q", ChoicesDialog)
        assert asked.focused is asked.query_one("#ans-edit")
        assert str(asked.query_one(".dialog-title").render()) == "活动尚未保存"
        await pilot.press("enter")  # the default: 继续编辑
        await settle(pilot)
        assert app.screen is form and not exited
        assert form.query_one("#title", Input).value == "计量进园区"
        await pilot.press("ctrl+q")
        await settle(pilot)
        app.screen.query_one("#ans-discard").press()
        await settle(pilot)
        assert exited


async def test_an_f_key_keeps_the_activity_form_and_quitting_elsewhere_asks(tmp_path: Path) -> None:
    """F2 from a half-filled activity form goes at once (the page and its fields stay); Ctrl+Q on the
    dashboard then asks for the form's sake. An untouched form, or one just saved, quits at once."""
    from textual.widgets import Input

    from qi_station.screens.dashboard import DashboardScreen
    from qi_station.screens.form_dialogs import ChoicesDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        exited = _watch_exit(app)
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        form = app.screen
        form.query_one("#people", Input).value = "12"
        await press_to(pilot, "f2", DashboardScreen)
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert isinstance(app.screen, ChoicesDialog) and not exited
        await pilot.press("enter")
        await settle(pilot)
        assert not exited
        await pilot.press("t")
        await settle(pilot)
        assert app.screen is form and form.query_one("#people", Input).value == "12"
        form.query_one("#date", Input).value = FROZEN_NOW[:10]
        form.query_one("#title", Input).value = "计量进园区"
        await pilot.press("ctrl+s")  # saved: the counts and date that stay are not "typed"
        await settle(pilot)
        assert form.query_one("#title", Input).value == ""
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert exited
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        exited = _watch_exit(app)
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert exited
