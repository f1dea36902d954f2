"""Outside testers' findings (round opfix4): focus in dialogs, the correction dialog's arrows, the
request form's element checkboxes, Ctrl+A in form inputs, F6's export messages, toasts at 80x24."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, settle
from test_tui_op6 import _closed_rated_2
from tui_pilot import burst, open_detail, press_to, until


def _marked(widget: Any) -> bool:
    """A focus marker seen at any colour depth (a 256-colour tmux, where blended backgrounds fall
    together) and on CJK text (where bold alone hardly shows): reverse or underline."""
    style = widget.styles.text_style
    return bool(style.reverse or style.underline)


async def _every_focus_is_seen(pilot: Any, dialog: Any) -> list[str]:
    """Each widget Tab reaches in ``dialog``: on screen, enabled, and drawn otherwise when focused."""
    bad = []
    chain = list(dialog.focus_chain)
    assert chain
    for widget in chain:
        other = next((w for w in chain if w is not widget), None)
        if other is not None:
            other.focus()
            await settle(pilot)
            if _marked(widget):
                bad.append(f"{type(widget).__name__}#{widget.id} marked unfocused")
        widget.focus()
        await settle(pilot)
        on_screen = widget.display and widget.visible and widget.region.area > 0 and not widget.disabled
        on_screen = on_screen and dialog.region.contains_region(widget.region)
        if not on_screen or not _marked(widget):
            bad.append(f"{type(widget).__name__}#{widget.id}")
    return bad


async def _correction_refused(pilot: Any, db: Path) -> Any:
    """更正 of a closed request, keys as tmux sends them: 节约成本 ``ab`` saved, refused (应为数字); the
    dialog, focus on 更正为 (the bad field)."""
    from qi_station.screens.correct_dialog import CorrectDialog

    app = pilot.app
    await open_detail(pilot, db, _closed_rated_2(db))
    dialog = await press_to(pilot, "c", CorrectDialog)
    burst(app, "right", "right", "tab", "a", "b", "ctrl+s")
    error = dialog.query_one("#error")
    await until(pilot, lambda: "数字" in str(error.render()))
    assert dialog.query_one("#field").value == "cost_saved" and app.focused is dialog.query_one("#value")
    return dialog


async def test_every_focusable_widget_of_a_dialog_shows_its_focus(tmp_path: Path) -> None:
    """更正 after a 节约成本 error: the operator pressed Shift+Tab and could not tell where focus was (the
    更正项 selector, the inputs, the buttons look alike focused or not at a low colour depth); in 企业改名
    the focused 继续编辑 had no marker of its own. Every focusable widget of a dialog is on screen and
    shows its focus in its text style."""
    from qi_station.screens.form_dialogs import rename_dialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await _correction_refused(pilot, db)
        assert await _every_focus_is_seen(pilot, dialog) == []
        question = rename_dialog("91370100MA3C00001X", "旧名称", "新名称")
        app.push_screen(question)
        await settle(pilot)
        assert app.focused is question.query_one("#ans-edit")
        assert await _every_focus_is_seen(pilot, question) == []


async def test_arrows_after_a_correction_error_move_where_the_focus_is(tmp_path: Path) -> None:
    """更正 after a 节约成本 error, keys as tmux sends them: Shift+Tab twice from 更正为 reaches 取消, where
    ← → did nothing (the dialog seemed frozen); they move between the buttons now, and back on 更正项
    they cycle it."""
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await _correction_refused(pilot, db)
        field = dialog.query_one("#field")
        burst(app, "shift+tab", "shift+tab", "left")
        await settle(pilot)
        assert app.focused is dialog.query_one("#ok")
        burst(app, "right")
        await settle(pilot)
        assert app.focused is dialog.query_one("#cancel")
        burst(app, "tab", "right")
        await settle(pilot)
        assert app.focused is field and field.value == "result"
        burst(app, "left", "left")
        await settle(pilot)
        assert field.value == "problems_solved"


async def test_the_element_checkboxes_move_with_the_arrows(tmp_path: Path) -> None:
    """F4's 服务要素: the arrows move between the boxes (Down a row of the grid), Space toggles, Enter
    neither toggles nor leaves the block (form4: Tab leaves it, test_tui_form4.py)."""
    from test_tui_op5 import open_form

    from qi_station.screens.widgets import Chip

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        chips = list(form.query_one("#elements").query_children(Chip))
        chips[0].focus()
        await settle(pilot)
        await pilot.press("right", "right", "left")
        assert app.focused is chips[1]
        await pilot.press("down")
        assert app.focused is chips[5]
        await pilot.press("right", "right", "right", "right")
        assert app.focused is chips[-1]
        await pilot.press("space")
        assert chips[-1].checked
        await pilot.press("up", "left")
        assert app.focused is chips[2]
        await pilot.press("enter")
        await settle(pilot)
        assert not chips[2].checked and app.focused is chips[2]


async def test_ctrl_a_selects_the_whole_field_in_the_request_form(tmp_path: Path) -> None:
    """F4: Ctrl+A then typing replaces the field's text (it went to the line start and the new text
    went in front of the old), as in F3/F5's search boxes; in 需求描述 too (test_tui_form4.py)."""
    from test_tui_op5 import open_form

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        title = form.query_one("#title")
        title.focus()
        await pilot.press(*"old", "ctrl+a", *"new")
        await settle(pilot)
        assert title.value == "new"
