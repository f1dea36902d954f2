"""An operator tester's findings in F4's request form (tmux, 80x24, Chinese): the 服务要素 block as one
field, keys typed while the restore-draft question is up, a second kept draft, Ctrl+A in 需求描述, toasts
over the request detail's key lines and following to F4, the 节约成本 example in 万元."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import ENTERPRISES, fixture_db
from test_tui_journeys import make_app, rows, settle
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


def _keep_draft(db: Path, draft_id: str, title: str, when: str) -> None:
    """A kept draft (its ``updated_at`` set: which one is the newest)."""
    import sqlite3

    from qi_station.services.drafts import save_draft

    save_draft(db, draft_id, {"enterprise": "济南华泰", "title": title}, "测试员")
    conn = sqlite3.connect(db)
    try:
        conn.execute("UPDATE request_draft SET updated_at = ? WHERE id = ?", (when, draft_id))
        conn.commit()
    finally:
        conn.close()


async def test_keys_typed_while_the_restore_question_is_up_land_in_the_form(tmp_path: Path) -> None:
    """F4 with a kept draft, and the operator types a new request at once (tmux, an IME's commit): no
    key is lost -- the question closes as 稍后 (the draft stays for the next time) and every key lands
    in the name field in order; a reflexive Enter on the question restores nothing (稍后 is its default)."""
    from qi_station.screens.form_dialogs import ChoicesDialog
    from qi_station.screens.request_form import RequestFormScreen

    db = fixture_db(tmp_path)
    _keep_draft(db, "0190aaaa-0000-7000-8000-000000000001", "旧草稿", "2026-03-01 08:00:00")
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        burst(app, "f4", *"烟台鲁星")
        await until(pilot, lambda: isinstance(app.screen, RequestFormScreen))
        form = app.screen
        assert isinstance(form, RequestFormScreen)
        await until(pilot, lambda: form.query_one("#enterprise").value == "烟台鲁星")
        assert form.query_one("#enterprise").value == "烟台鲁星" and app.focused is form.query_one(
            "#enterprise"
        )
        assert form.query_one("#title").value == ""
        await pilot.press("escape", "escape")  # the suggestions, then leave: 放弃 the typed form
        await settle(pilot)
        if isinstance(app.screen, ChoicesDialog):
            await pilot.click("#ans-discard")
            await settle(pilot)
        burst(app, "f4")
        await until(pilot, lambda: isinstance(app.screen, ChoicesDialog))
        assert isinstance(app.screen, ChoicesDialog)  # the draft was kept: asked again
        burst(app, "enter")
        await until(pilot, lambda: isinstance(app.screen, RequestFormScreen))
        assert app.screen.query_one("#title").value == ""
    assert rows(db, "SELECT count(*) FROM request_draft WHERE data LIKE '%旧草稿%'") == [(1,)]


async def test_two_kept_drafts_are_both_kept_and_the_newest_offered_first(tmp_path: Path) -> None:
    """Two kept drafts: the question offers the newest and says another is kept; restoring it and
    saving the request leaves the older one, offered the next time (never overwritten by the newer)."""
    from qi_station.screens.form_dialogs import ChoicesDialog

    db = fixture_db(tmp_path)
    _keep_draft(db, "0190aaaa-0000-7000-8000-000000000001", "第一份", "2026-03-01 08:00:00")
    _keep_draft(db, "0190aaaa-0000-7000-8000-000000000002", "第二份", "2026-03-02 08:00:00")
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ChoicesDialog))
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "第二份" in text and "第一份" not in text and "2 份" in text, text
        await pilot.click("#ans-restore")
        await settle(pilot)
        form = app.screen
        assert form.query_one("#title").value == "第二份"
        form.query_one("#enterprise").value, form.query_one("#uscc").value = ENTERPRISES[1]
        form.query_one("#el-standards").checked = True
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ChoicesDialog))
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "第一份" in text, text
    assert rows(db, "SELECT count(*) FROM request WHERE title = '第二份'") == [(1,)]
    assert [r[0] for r in rows(db, "SELECT data FROM request_draft")] == [
        '{"enterprise": "济南华泰", "uscc": "", "elements": [], "title": "第一份", "description": "", '
        '"channel": "", "urgency": "", "received_at": "", "promised": "", "contact": "", "phone": ""}'
    ]


async def test_the_saved_toast_keeps_off_the_details_key_lines_and_stays_behind_on_f4(
    tmp_path: Path,
) -> None:
    """Saved at 80x24: the detail's toasts never lie over 编号/状态, 企业名称 or 信用代码/登记地 (the toast
    hid 企业名称 and 登记地); F4 from there opens a form without the detail's toasts."""
    from tui_pilot import notes, toasts

    from qi_station.screens.request_detail import RequestDetailScreen
    from qi_station.screens.request_form import RequestFormScreen

    db = fixture_db(tmp_path)
    app = make_app(db)
    app.NOTIFICATION_TIMEOUT = 120  # no toast times out while the test runs
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        form = await open_form(pilot)
        form.query_one("#enterprise").value, form.query_one("#uscc").value = ENTERPRISES[0]
        form.query_one("#el-metrology").checked = True
        form.query_one("#title").value = "压力表校准"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, RequestDetailScreen) and bool(toasts(app)))
        detail = app.screen
        await until(pilot, lambda: all(t.region.height for t in toasts(app)) and detail.req is not None)
        await settle(pilot)
        fields = detail.query_one("#fields")
        shown = str(fields.render()).split("\n")
        assert "状态" in shown[0] and ENTERPRISES[0][0] in shown[1] and "登记地" in shown[2], shown
        key = fields.region.y, fields.region.y + detail.key_rows
        assert detail.key_rows >= 3
        assert toasts(app), notes(app)
        for toast in toasts(app):
            assert toast.region.bottom <= key[0] or toast.region.y >= key[1], (toast.region, key)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, RequestFormScreen))
        await settle(pilot)
        assert notes(app) == [] and toasts(app) == []


async def test_tab_from_the_phone_goes_round_to_the_name_with_no_hidden_stop(tmp_path: Path) -> None:
    """Tab from 电话 (the form's last field) went to the form's scroll container, an invisible stop where
    typed text vanished; the next Tab reached 企业名称. Now one Tab goes round to 企业名称 and what is
    typed lands there."""
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        phone = form.query_one("#phone")
        phone.focus()
        await until(pilot, lambda: app.focused is phone)
        name = form.query_one("#enterprise")
        before = name.value
        burst(app, "tab", *"潍坊")
        await until(pilot, lambda: name.value.endswith("潍坊"))
        assert app.focused is name and name.value == before + "潍坊"


async def test_a_form_typed_then_cleared_leaves_no_draft(tmp_path: Path) -> None:
    """潍坊 typed (the pause saves it as a draft), then cleared, then Esc: the form leaves at once, as an
    untouched one does, and the draft is gone (it was offered at every F4 after, one junk draft more
    each time, in front of the operator's real one)."""
    from qi_station.screens.request_form import RequestFormScreen

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        name = form.query_one("#enterprise")
        burst(app, *"潍坊")
        await until(pilot, lambda: rows(db, "SELECT count(*) FROM request_draft") == [(1,)])
        burst(app, *(["backspace"] * 2))
        await until(pilot, lambda: name.value == "")
        burst(app, "escape")
        await until(pilot, lambda: not isinstance(app.screen, RequestFormScreen))
        await until(pilot, lambda: rows(db, "SELECT count(*) FROM request_draft") == [(0,)])
    assert rows(db, "SELECT count(*) FROM request_draft") == [(0,)]
