"""An operator tester's findings at 80x24 (tmux, Chinese UI), round tui4: 更正 switching its 更正项,
回访 typing on after the rating, the ``< … >`` selectors stopping at their ends, the 企业 library's
当前需求, a renamed enterprise's old requests in F3."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, rows, settle
from tui_pilot import burst, open_detail, press_to, until

pytestmark = pytest.mark.usefixtures("tui_env")

RESOLVED = "QI0001-202602-0001"  # the fixture's resolved request (2 problems, 1.50 万元)


async def test_switching_the_correction_field_drops_its_value_and_its_message(tmp_path: Path) -> None:
    """更正: a value refused for 解决问题数, then → to 节约成本: the message about it goes and the box is
    empty (the value was typed for the other field); ← back shows it again. A ``3`` typed for 解决问题数
    is never saved as 节约成本 3 万元: saved with the box empty, the rule refuses it (nothing written)."""
    from qi_station.screens.correct_dialog import CorrectDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db, RESOLVED)
        dialog = await press_to(pilot, "c", CorrectDialog)
        field, value, error = (dialog.query_one(f"#{w}") for w in ("field", "value", "error"))
        assert field.value == "problems_solved"
        value.focus()
        await pilot.press(*"两个")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "原因" in str(error.render()))
        assert "更正为" in str(error.render()) or "值" in str(error.render()), error.render()
        field.focus()
        await pilot.press("right")
        await settle(pilot)
        assert field.value == "cost_saved"
        assert value.value == ""
        shown = str(error.render())
        assert "原因" in shown and len(shown.splitlines()) == 1, shown  # 原因 is still missing
        assert "原值: 1.50" in str(dialog.query_one("#current").render())
        await pilot.press("left")
        await settle(pilot)
        assert (field.value, value.value) == ("problems_solved", "两个")
        value.value = "3"
        field.focus()
        await pilot.press("right")
        dialog.query_one("#reason").value = "登记有误"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "更正" in str(error.render()) and "保存" not in str(error.render()))
        assert app.screen is dialog
        assert rows(db, "SELECT count(*) FROM request_event WHERE kind = 'correct'") == [(0,)]


async def test_text_typed_right_after_the_rating_goes_to_the_note(tmp_path: Path) -> None:
    """回访: ``4`` then 企业很满意 at once (tmux send-keys): 4 is the rating and the text is the note
    (the keys after the digit were lost on the rating field)."""
    from qi_station.screens.dialogs import MoveDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db, RESOLVED)
        dialog = await press_to(pilot, "v", MoveDialog)
        burst(app, "4", *"企业很满意")
        note = dialog.query_one("#note")
        await until(pilot, lambda: note.value == "企业很满意")
        assert dialog.query_one("#satisfaction").value == 4
        assert note.value == "企业很满意"
        assert dialog.focused is note


async def test_the_arrows_stop_at_the_ends_of_a_selector(tmp_path: Path) -> None:
    """F5: → on the last library (企业) stays there, ← on the first (专家库) too (→ went round to 专家库);
    Ctrl+T 换库 still goes round. The same for F3's 状态."""
    from qi_station.core import domain
    from qi_station.screens.widgets import Choice

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        kind = app.screen.query_one("#kind", Choice)
        kind.focus()
        await pilot.press("left")
        assert kind.value == "experts"
        await pilot.press(*["right"] * (len(domain.SEARCH_KINDS) + 2))
        await settle(pilot)
        assert kind.value == "enterprises" and app.screen.kind == "enterprises"
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert kind.value == "experts"
        await pilot.press("f3")
        await settle(pilot)
        status = app.screen.query_one("#f-status", Choice)
        status.focus()
        await pilot.press("left")
        assert status.value == ""  # 全部状态, the first
        await pilot.press(*["right"] * (len(domain.STATUSES) + 2))
        assert status.value == domain.STATUSES[-1]
