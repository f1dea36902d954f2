"""An operator tester's findings in F4's request form (tmux, 80x24, Chinese): the 服务要素 block as one
field, keys typed while the restore-draft question is up, a second kept draft, Ctrl+A in 需求描述, toasts
over the request detail's key lines and following to F4, the 节约成本 example in 万元."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import ENTERPRISES, fixture_db
from test_tui_journeys import make_app, settle
from test_tui_op5 import open_form
from tui_pilot import burst, until

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("tui_env")]


def _chips(form: Any) -> list[Any]:
    from qi_station.screens.widgets import Chip

    return list(form.query_one("#elements").query_children(Chip))


async def test_tab_leaves_the_element_block_and_the_text_typed_after_it_lands_in_the_title(
    tmp_path: Path,
) -> None:
    """Keys as tmux sends them: the USCC, Tab into 服务要素, Space, Tab, 压力表校准: one Tab leaves the
    block (it moved box to box and the text was lost), the text is the 需求事项; Shift+Tab from there
    comes back into the block and Shift+Tab again goes back to the USCC."""
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#uscc").focus()
        await settle(pilot)
        burst(app, *ENTERPRISES[0][1], "tab", "space", "tab", *"压力表校准")
        title = form.query_one("#title")
        await until(pilot, lambda: title.value == "压力表校准")
        assert title.value == "压力表校准" and app.focused is title
        assert [c.value for c in _chips(form) if c.checked] == ["standards"]
        burst(app, "shift+tab")
        await until(pilot, lambda: app.focused is not title)
        assert app.focused in _chips(form)
        burst(app, "shift+tab")
        await until(pilot, lambda: app.focused is form.query_one("#uscc"))
        assert app.focused is form.query_one("#uscc")


async def test_text_typed_in_the_element_block_goes_on_into_the_title_and_enter_stays(
    tmp_path: Path,
) -> None:
    """No Tab: text typed (or pasted) on a box goes on at the end of 需求事项, never lost; Enter neither
    toggles nor leaves the block (it jumped to 需求事项): the hint line says the block's keys, as it does
    whenever the block has the focus."""
    from textual import events

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        chips = _chips(form)
        hint = form.query_one("#form-error")
        chips[1].focus()
        await settle(pilot)
        assert "空格 勾选" in str(hint.render()) and "需求事项" in str(hint.render())
        burst(app, "space", "enter")
        await settle(pilot)
        assert app.focused is chips[1] and chips[1].checked
        assert hint.has_class("warning") and "Tab 下一项" in str(hint.render())
        burst(app, *"压力表")
        title = form.query_one("#title")
        await until(pilot, lambda: title.value == "压力表")
        assert title.value == "压力表" and app.focused is title
        chips[0].focus()
        await settle(pilot)
        app.post_message(events.Paste("校准"))
        await until(pilot, lambda: title.value == "压力表校准")
        assert title.value == "压力表校准"
        assert not chips[0].checked and [c.value for c in chips if c.checked] == ["metrology"]
        assert "Ctrl+S 保存" in str(hint.render())  # out of the block: the form's keys again


async def test_ctrl_a_in_the_description_selects_its_whole_text(tmp_path: Path) -> None:
    """Ctrl+A in 需求描述 (a TextArea) selects all its lines (it went to the line's start): typing then
    replaces the text, as in the one-line fields."""
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        desc = form.query_one("#description")
        desc.focus()
        await settle(pilot)
        burst(app, *"abc", "enter", *"def", "ctrl+a")
        await until(pilot, lambda: desc.selected_text == "abc\ndef")
        assert desc.selected_text == "abc\ndef" and app.focused is desc
        burst(app, *"新")
        await until(pilot, lambda: desc.text == "新")
        assert desc.text == "新"


async def test_the_cost_saved_example_is_in_ten_thousand_yuan(tmp_path: Path) -> None:
    """节约成本 is in 万元: a refused value's example was 1200.50 (twelve million yuan); the correction
    dialog shows an example of its order (so does the 办结 dialog's box once its 0 is cleared); a fee
    (元) keeps 1200.50."""
    from test_tui_opfix4 import _correction_refused

    from qi_station.core.errors import ValidationError
    from qi_station.core.validate import parse_correction

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await _correction_refused(pilot, db)
        error = str(dialog.query_one("#error").render())
        assert "万元" in error and "2.5" in error and "1200" not in error, error
        assert "万元" in dialog.query_one("#value").placeholder
    with pytest.raises(ValidationError) as e:
        parse_correction("fee", "ab", "closed")
    assert "1200.50" in e.value.message and "万元" not in e.value.message
