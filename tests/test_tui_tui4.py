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


def _screen_text(app: object) -> str:
    return "\n".join(
        "".join(seg.text for seg in strip)
        for strip in app.screen._compositor.render_strips()  # type: ignore[attr-defined]
    )


async def test_the_enterprise_library_names_an_enterprises_open_requests(tmp_path: Path) -> None:
    """F5 企业: 烟台鲁星 has two open requests (已受理, 已登记): the status line's 当前需求 names them
    (it was blank) and the detail pane counts them; 青岛海润's only request is resolved: 无."""
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        await pilot.press("ctrl+t", "ctrl+t", "ctrl+t", "ctrl+t")
        await until(pilot, lambda: app.screen.kind == "enterprises" and "鲁星" in _screen_text(app))
        await pilot.press(*"ytlx")
        line = app.screen.query_one("#status-line")
        await until(pilot, lambda: "当前需求" in str(line.render()))
        shown = str(line.render())
        assert "在办 2 条" in shown and "QI0001-202603-0001" in shown, shown
        assert "在办需求: 2 条" in str(app.screen.query_one("#lib-detail-text").render())
        assert "QI0001-202601-0001" in _screen_text(app)
        await pilot.press("ctrl+a", *"qdhr")
        await until(pilot, lambda: "无" in str(line.render()))
        assert "当前需求: 无" in str(line.render())


async def test_a_renamed_enterprises_old_requests_keep_the_name_they_were_logged_under(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """烟台鲁星精密机械 renamed 烟台鲁星智能装备 (a day after the fixture's requests were logged): F3 lists
    its old requests under 精密机械 (all were under the new name) and the new one under 智能装备; the old
    one's detail names both; a change of width or spaces only is no rename (the one rule)."""
    from qi_station.services import enterprises
    from qi_station.services.ledger import RequestInput, create_request

    db = fixture_db(tmp_path)
    monkeypatch.setenv("QI_STATION_NOW", "2026-03-21T10:00:00+08:00")
    uscc = rows(db, "SELECT uscc FROM enterprise WHERE name = '烟台鲁星精密机械有限公司'")[0][0]
    create_request(
        db, RequestInput("烟台鲁星智能装备有限公司", uscc, ["metrology"], "改名后的校准", renamed=True)
    )
    former = rows(db, "SELECT former_names FROM enterprise WHERE uscc = ?", uscc)[0][0]
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await until(pilot, lambda: "改名后" in _screen_text(app))
        lines = _screen_text(app).splitlines()
        by_number = {line.split()[0]: line for line in lines if line.startswith("QI0001-")}
        assert "烟台鲁星精密机械" in by_number["QI0001-202603-0001"], lines
        assert "烟台鲁星精密机械" in by_number["QI0001-202601-0001"], lines
        assert "烟台鲁星智能装备" in next(line for line in lines if "改名后" in line), lines
        await open_detail(pilot, db, "QI0001-202603-0001")
        shown = _screen_text(app)
        assert "烟台鲁星智能装备有限公司（登记时名为烟台鲁星精密机械有限公司）" in shown.replace(" ", ""), (
            shown
        )
    new, old = "烟台鲁星智能装备有限公司", "烟台鲁星精密机械有限公司"
    assert enterprises.former_name(new, former, "2026-03-20 02:00:00") == old  # logged before the rename
    assert enterprises.former_name(new, former, "2026-03-21 02:00:00") is None  # with it (the same instant)
    assert enterprises.former_name("烟台鲁星精密机械 有限公司", former, "2026-03-20") is None  # spaces only


def test_chinese_halves_quote_text_with_corner_brackets() -> None:
    """The Chinese half of a ledger check's line (the dashboard's 台账校验, ``ledger verify``) quotes text
    as the zh catalogue does (「」), never with ASCII quotes; numbers stay bare; the English half keeps repr."""
    from qi_station.services.verify import _differs

    line = _differs("status", "new", "closed")
    en, zh = line.split(" / ")
    assert en == "status is 'new' but its events say 'closed'"
    assert zh == "字段 status 为 「new」，台账记录为 「closed」" and "'" not in zh and '"' not in zh
    assert _differs("cost_saved_cents", 99999900, 325).endswith("为 99999900，台账记录为 325")


async def test_the_arrows_move_along_the_detail_action_bar_and_stop_at_its_ends(tmp_path: Path) -> None:
    """The request detail (where F4's save lands): ← → move between the 可办理 buttons as in a dialog
    (they did nothing), → on the last stays there, ← on the first too."""
    from textual.widgets import Button

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_detail(pilot, db)
        buttons = list(detail.query("#action-bar Button").results(Button))
        assert len(buttons) > 2
        buttons[0].focus()
        await pilot.press("left")
        assert detail.focused is buttons[0]
        await pilot.press("right", "right")
        assert detail.focused is buttons[2]
        await pilot.press(*["right"] * len(buttons))
        assert detail.focused is buttons[-1]
        await pilot.press("left")
        assert detail.focused is buttons[-2]
