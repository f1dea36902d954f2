"""An outside operator's findings at 80x24 (Chinese UI), round 6: the safe answer is the default of every
question (a reflexive Enter never throws typed text away nor renames an enterprise), and every dialog with
typed text asks before an F-key drops it (one shared mechanism: ``WorkerDialog.ask_before_leaving``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, fixture_db
from test_tui_journeys import make_app, rows, settle
from tui_pilot import backup_dialog, footer_text, open_detail, press_to, req_id

pytestmark = pytest.mark.usefixtures("tui_env")


async def test_f2_then_enter_on_a_half_typed_move_keeps_editing(tmp_path: Path) -> None:
    """流转尚未保存: 继续编辑 is highlighted and focused, so F2 then a reflexive Enter keeps the text."""
    from qi_station.screens.dialogs import MoveDialog
    from qi_station.screens.form_dialogs import ChoicesDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db)
        move = await press_to(pilot, "d", MoveDialog)
        await pilot.press(*"已出具标准文本")
        asked = await press_to(pilot, "f3", ChoicesDialog)
        assert asked.focused is asked.query_one("#ans-edit")
        assert asked.query_one("#ans-edit").variant == "primary"
        assert asked.query_one("#ans-discard").variant == "default"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is move
        assert move.query_one("#result").value == "已出具标准文本"


async def test_the_rename_question_defaults_to_keep_editing(tmp_path: Path) -> None:
    """企业改名了吗？: a reflexive Enter answers 继续编辑, never 已改名."""
    from qi_station.screens.form_dialogs import rename_dialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    got: list[Any] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dialog = rename_dialog("91370100MA3C00001X", "旧名称", "新名称")
        app.push_screen(dialog, got.append)
        await settle(pilot)
        assert dialog.focused is dialog.query_one("#ans-edit")
        assert dialog.query_one("#ans-renamed").variant == "default"
        await pilot.press("enter")
        await settle(pilot)
    assert got == ["edit"]


def _resolved(db: Path) -> str:
    return rows(db, "SELECT id FROM request WHERE status = 'resolved'")[0][0]


async def _open(pilot: Any, db: Path, which: str) -> tuple[Any, str]:
    """Open ``which`` dialog and return it with the id of a field to type into."""
    from qi_station.services.ledger import move_request

    app = pilot.app
    if which == "profile":
        app.action_profile()
        await settle(pilot)
        return app.screen, "park"
    if which == "rectify":
        closed = rows(db, "SELECT id FROM request WHERE status = 'closed' AND satisfaction = 1")
        rid = closed[0][0] if closed else _resolved(db)
        if not closed:
            move_request(db, rid, "closed", satisfaction=1, actor="小刘")
        app.open_request(rid)
        await settle(pilot)
        app.screen.action_rectify()
        await settle(pilot)
        return app.screen, "action"
    if which == "correct":
        app.open_request(_resolved(db))
        await settle(pilot)
        app.screen.action_correct()
        await settle(pilot)
        return app.screen, "reason"
    app.open_request(req_id(db, "QI0001-202603-0002"))  # refer: in progress
    await settle(pilot)
    app.screen.action_refer()
    await settle(pilot)
    return app.screen, "note" if app.screen.query("#note") else "search"


@pytest.mark.parametrize("which", ["rectify", "correct", "refer", "profile"])
async def test_every_dialog_with_typed_text_asks_before_an_f_key(tmp_path: Path, which: str) -> None:
    """整改, 更正, 转办 and 站点信息 ask 放弃 / 继续编辑 (the shared question) before F2 drops typed text;
    untouched (站点信息: as loaded), F2 goes at once."""
    from qi_station.screens.dashboard import DashboardScreen
    from qi_station.screens.dialogs import WorkerDialog
    from qi_station.screens.form_dialogs import ChoicesDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dialog, field = await _open(pilot, db, which)
        assert isinstance(dialog, WorkerDialog)
        dialog.query_one(f"#{field}").focus()
        await pilot.press(*"半句话")
        await press_to(pilot, "f2", ChoicesDialog)
        await pilot.press("enter")  # the default: 继续编辑
        await settle(pilot)
        assert app.screen is dialog
        assert "半句话" in dialog.query_one(f"#{field}").value
        await pilot.press("f2")
        await settle(pilot)
        app.screen.query_one("#ans-discard").press()
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _open(pilot, db, which)
        await press_to(pilot, "f2", DashboardScreen)


async def test_the_activity_form_shows_every_error_at_once_and_drops_a_corrected_one(tmp_path: Path) -> None:
    """走访培训活动: a save with several bad fields names them all (the core's ValidationErrors), the first
    focused; correcting one takes its line away at once; a good save clears the title and note (a
    reflexive second Ctrl+S is refused, never a duplicate) and nothing bad was written."""
    from textual.widgets import Input

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.switch_mode("activities")
        await settle(pilot)
        scr = app.screen
        scr.query_one("#people", Input).value = "-3"
        scr.query_one("#title", Input).value = ""
        scr.query_one("#date", Input).value = "2099-01-01"
        await pilot.press("ctrl+s")
        await settle(pilot)
        shown = str(scr.query_one("#activity-error").render())
        assert "活动日期" in shown or "日期" in shown
        assert "覆盖人数" in shown and "活动名称" in shown, shown
        assert len(shown.strip().splitlines()) == 3
        assert scr.focused is scr.query_one("#date")
        assert rows(db, "SELECT count(*) FROM activity") == [(0,)]
        scr.query_one("#people", Input).value = "30"
        await settle(pilot)
        shown = str(scr.query_one("#activity-error").render())
        assert "覆盖人数" not in shown and "活动名称" in shown
        scr.query_one("#date", Input).value = FROZEN_NOW[:10]
        scr.query_one("#title", Input).value = "计量进园区"
        await settle(pilot)
        assert not str(scr.query_one("#activity-error").render()).strip()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert rows(db, "SELECT title FROM activity") == [("计量进园区",)]
        assert scr.query_one("#title", Input).value == ""
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert rows(db, "SELECT count(*) FROM activity") == [(1,)]


async def test_esc_on_the_activity_page_goes_back(tmp_path: Path) -> None:
    """t from the dashboard, Esc: back to the dashboard as on every other page."""
    from qi_station.screens.activity import ActivityScreen
    from qi_station.screens.dashboard import DashboardScreen

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press_to(pilot, "t", ActivityScreen)
        await press_to(pilot, "escape", DashboardScreen)


async def test_a_refused_backup_names_the_field_as_the_dialog_labels_it(tmp_path: Path) -> None:
    """A missing folder: the message starts with 备份到 (the dialog's label), never the CLI's ``out``."""
    import os

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await backup_dialog(pilot, str(tmp_path / "没有这个文件夹") + os.sep)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is dialog
        shown = str(dialog.query_one("#error").render()).strip()
        assert shown.startswith("备份到: "), shown
        assert "out" not in shown.split(":", 1)[0]


async def test_the_footer_names_the_reopen_as_the_button_does(tmp_path: Path) -> None:
    """A resolved request: the button reads 重新办理 s and so does the key bar (not s 办理); an open
    request's key bar still says 办理."""
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(_resolved(db))
        await settle(pilot)
        labels = dict(app.screen._buttons)
        assert labels["in_progress"].startswith("重新办理")
        assert footer_text(app, "move('in_progress')") == "重新办理"
        app.screen.dismiss(None)
        await settle(pilot)
        accepted = rows(db, "SELECT id FROM request WHERE status = 'accepted'")
        if accepted:
            app.open_request(accepted[0][0])
            await settle(pilot)
            assert footer_text(app, "move('in_progress')") == "办理"


@pytest.mark.parametrize(
    ("status", "key", "says"),
    [("resolved", "r", "不能转办"), ("cancelled", "c", "没有可更正"), ("cancelled", "z", "整改仅针对")],
)
async def test_a_key_the_status_refuses_says_why(tmp_path: Path, status: str, key: str, says: str) -> None:
    """r on 已办结, c and z on 已取消: a warning with the core rule's message, as x/h/a give."""
    from qi_station.services.ledger import move_request

    db = fixture_db(tmp_path)
    if status == "cancelled":
        rid = req_id(db, "QI0001-202603-0002")
        move_request(db, rid, "cancelled", note="企业撤回", actor="测试员")
    else:
        rid = _resolved(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        detail = app.screen
        await pilot.press(key)
        await settle(pilot)
        assert app.screen is detail
        assert any(says in n.message for n in app._notifications), [n.message for n in app._notifications]


async def test_the_rating_hint_says_digits_first_as_the_field_behaves(tmp_path: Path) -> None:
    """回访: the empty rating's hint asks for a digit (an arrow does nothing before one: never a stray
    rating); after a digit the arrows move it."""
    from qi_station.screens.widgets import Choice

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(_resolved(db))
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        rating = app.screen.query_one("#satisfaction", Choice)
        rating.focus()
        await settle(pilot)
        shown = str(rating.render())
        assert "数字键" in shown and "方向键或数字键" not in shown, shown
        await pilot.press("right")
        await settle(pilot)
        assert rating.value is None
        await pilot.press("3", "right")
        await settle(pilot)
        assert rating.value == 4


async def test_a_free_request_shows_the_same_fee_line_in_the_cli_and_the_tui(tmp_path: Path) -> None:
    """收费金额 of a free resolution: ``request show`` and the TUI detail both say 0.00 (one definition:
    ``core.chain.request_fee`` shown by ``validate.money_text``)."""
    from typer.testing import CliRunner

    from qi_station.cli.commands import app as cli

    db = fixture_db(tmp_path)
    rid = _resolved(db)
    number = rows(db, "SELECT number FROM request WHERE id = ?", rid)[0][0]
    out = CliRunner().invoke(cli, ["--db", str(db), "request", "show", number])
    assert out.exit_code == 0 and "收费金额（元）: 0.00" in out.output, out.output
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        assert "收费金额（元）: 0.00" in str(app.screen.query_one("#fields").render())


async def test_a_half_typed_filter_name_asks_too(tmp_path: Path) -> None:
    """台账 Ctrl+S (save the filter), a name typed, F2: the same question (OkCancelModal's mechanism)."""
    from qi_station.screens.dialogs import InputDialog
    from qi_station.screens.form_dialogs import ChoicesDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        app.screen.action_save_filter()
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, InputDialog)
        await pilot.press(*"本月")
        await press_to(pilot, "f2", ChoicesDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is dialog and dialog.query_one("#value").value == "本月"
