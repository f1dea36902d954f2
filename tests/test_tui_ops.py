"""Pilot tests of issue 9: the satisfaction follow-up (item 3), corrections from the request detail, and
the operator picker (item 15)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db
from test_tui_journeys import make_app, rows, settle

pytestmark = pytest.mark.asyncio

RESOLVED = "QI0001-202602-0001"  # the fixture's resolved request (2 problems, 1.50 万元)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


def _rid(db: Path, number: str) -> str:
    return str(rows(db, "SELECT id FROM request WHERE number = ?", number)[0][0])


async def _dialog(pilot: Any, rid: str, key: str) -> Any:
    """The request ``rid`` opened, ``key`` pressed on its detail: the dialog it opens."""
    await settle(pilot)
    pilot.app.open_request(rid)
    await settle(pilot)
    await pilot.press(key)
    await settle(pilot)
    return pilot.app.screen


async def test_the_follow_up_opens_with_no_rating_and_never_wraps(tmp_path: Path) -> None:
    from qi_station.screens.dialogs import MoveDialog
    from qi_station.screens.widgets import Choice

    db = fixture_db(tmp_path)
    rid = _rid(db, RESOLVED)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        detail = app.screen
        await pilot.press("v")
        await settle(pilot)
        dlg = app.screen
        assert isinstance(dlg, MoveDialog)
        sat = dlg.query_one("#satisfaction", Choice)
        assert sat.value is None and "请选择" in str(sat.render())  # nothing pre-chosen
        assert [label for _v, label in sat.options] == [
            "1 非常不满意",
            "2 不满意",
            "3 基本满意",
            "4 满意",
            "5 非常满意",
        ]
        await pilot.press("ctrl+s")  # saving without a choice names the field, writes nothing
        await settle(pilot)
        assert app.screen is dlg
        err = str(dlg.query_one("#error").render())
        assert "满意度" in err and "回访须填写满意度" in err
        assert dlg.focused is sat
        await pilot.press("enter")  # Enter does not choose for the operator
        assert sat.value is None
        await pilot.press("left")  # a stray arrow never records a rating (it wrapped to 5 before)
        assert sat.value is None
        await pilot.press("right")
        assert sat.value is None
        assert "回访须填写满意度" in str(dlg.query_one("#error").render())
        await pilot.press("5")
        assert "回访须填写满意度" not in str(dlg.query_one("#error").render())  # a rating clears it
        await pilot.press("right", "right")
        assert sat.value == 5  # never 5 -> 1
        await pilot.press(*["left"] * 6)
        assert sat.value == 1  # never 1 -> 5
        await pilot.press("4")
        assert sat.value == 4 and "4 满意" in str(sat.render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is detail
    assert rows(db, "SELECT status, satisfaction FROM request WHERE id = ?", rid) == [("closed", 4)]


async def test_the_resolve_dialog_asks_for_problems_solved(tmp_path: Path) -> None:
    from textual.widgets import Input

    from qi_station.screens.dialogs import MoveDialog

    db = fixture_db(tmp_path)
    rid = _rid(db, "QI0001-202603-0002")  # in progress
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        dlg = await _dialog(pilot, rid, "d")
        assert isinstance(dlg, MoveDialog)
        assert dlg.query_one("#problems_solved", Input).value == ""  # not pre-filled
        dlg.query_one("#result", Input).value = "已制定企业标准"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is dlg
        assert "解决问题数" in str(dlg.query_one("#error").render())
        assert dlg.focused is dlg.query_one("#problems_solved")
    assert rows(db, "SELECT status FROM request WHERE id = ?", rid) == [("in_progress",)]


async def test_the_resolve_dialog_reports_every_bad_field_at_once(tmp_path: Path) -> None:
    """The second operator trial: one error at a time made the operator save four times."""
    from qi_station.screens.dialogs import MoveDialog

    db = fixture_db(tmp_path)
    rid = _rid(db, "QI0001-202603-0002")  # in progress
    before = rows(db, "SELECT count(*) FROM request_event")
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        move = await _dialog(pilot, rid, "d")
        assert isinstance(move, MoveDialog)
        move.query_one("#cost_saved").value = "abc"
        move.query_one("#fee").value = "-5"
        move.query_one("#note").focus()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is move
        shown = str(move.query_one("#error").render())
        for what in ("办理结果", "解决问题数", "节约成本", "收费金额"):
            assert what in shown, (what, shown)
        assert shown.index("办理结果") < shown.index("收费金额")  # the dialog's order, top first
        assert app.focused is move.query_one("#result")  # the top bad field
    assert rows(db, "SELECT count(*) FROM request_event") == before


async def test_correct_a_closed_request_from_its_detail(tmp_path: Path) -> None:
    from textual.widgets import Input

    from qi_station.screens.correct_dialog import CorrectDialog
    from qi_station.services import ledger

    db = fixture_db(tmp_path)
    rid = _rid(db, RESOLVED)
    ledger.move_request(db, rid, "closed", satisfaction=1, note="对服务满意")
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        detail = app.screen
        # rated 1: a correction, and the rectification a low rating needs (issue 10)
        assert [b.id for b in detail.query("#action-bar Button")] == [
            "act-note",
            "act-correct",
            "act-rectify",
        ]
        await pilot.press("c")
        await settle(pilot)
        dlg = app.screen
        assert isinstance(dlg, CorrectDialog)
        assert "原值: 1 非常不满意" in str(dlg.query_one("#current").render())
        dlg.query_one("#value", Input).value = "4"
        await pilot.press("ctrl+s")  # no reason: refused, named
        await settle(pilot)
        assert app.screen is dlg and "原因: 更正须填写原因" in str(dlg.query_one("#error").render())
        dlg.query_one("#reason", Input).value = "回访时误选"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is detail
        text = str(detail.query_one("#timeline").render())
        # (wrapped at 80 columns under the log line's time: op6, cells.hang)
        assert "更正 满意度: 1 非常不满意 > 4 满意\n    (回访时误选)" in text
        assert "[已更正，见第 6 条]" in text
        assert "满意度: 满意" in str(detail.query_one("#fields").render())
    assert rows(db, "SELECT satisfaction FROM request WHERE id = ?", rid) == [(4,)]


async def test_the_operator_is_asked_at_start_shown_and_remembered(tmp_path: Path) -> None:
    from qi_station.screens.operator import OperatorDialog
    from qi_station.services import staff

    db = fixture_db(tmp_path)
    staff.add_staff(db, "王站长", "站长")
    staff.add_staff(db, "李专员", "服务专员")
    rid = _rid(db, "QI0001-202603-0002")
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dlg = app.screen
        assert isinstance(dlg, OperatorDialog)
        await pilot.press("down", "enter")  # 李专员 is first (name order), 王站长 second
        await settle(pilot)
        assert app.operator == "王站长"
        assert "操作员 王站长" in str(app.screen.query_one("#titlebar").render())
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "切换操作员" in titles
        app.open_request(rid)
        await settle(pilot)
        assert "操作员 王站长" in str(app.screen.query_one("#titlebar").render())
        await app.run_action("switch_operator")
        await settle(pilot)
        assert isinstance(app.screen, OperatorDialog)
        await pilot.press("up", "enter")
        await settle(pilot)
        assert app.operator == "李专员"
        assert "操作员 李专员" in str(app.screen.query_one("#titlebar").render())
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one("#note").value = "电话联系企业"
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert rows(db, "SELECT actor FROM request_event WHERE request_id = ? ORDER BY n DESC LIMIT 1", rid) == [
        ("李专员",)
    ]
    # the same terminal session: not asked again
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert not isinstance(app.screen, OperatorDialog)
        assert app.operator == "李专员"


@pytest.mark.asyncio
async def test_keys_typed_right_before_ctrl_s_are_all_saved(tmp_path: Path) -> None:
    """A burst (a scanner, a paste, an IME commit) ending in Ctrl+S: the save waits until the field has
    taken every key typed before it (Ctrl+S beats the field's queue, being a priority key)."""
    from textual import events

    from qi_station.screens.dialogs import NoteDialog
    from qi_station.services.queries import get_request

    db = fixture_db(tmp_path)
    rid = _rid(db, RESOLVED)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, NoteDialog)
        driver = app._driver
        assert driver is not None
        for ch in "备注立即保存":  # no pause between the keys
            driver.send_message(events.Key(ch, ch))
        driver.send_message(events.Key("ctrl+s", None))
        for _ in range(3):
            await settle(pilot)
    notes = [e["note"] for e in get_request(db, rid)["events"] if e["kind"] == "note"]
    assert notes[-1] == "备注立即保存"


@pytest.mark.asyncio
async def test_a_non_head_is_told_before_filling_a_correction(tmp_path: Path) -> None:
    """Only a 站长 may correct or cancel: another staff member is told at the key, not after typing."""
    from qi_station.screens.correct_dialog import CorrectDialog
    from qi_station.services import ledger

    db = fixture_db(tmp_path)
    rid = _rid(db, RESOLVED)
    ledger.move_request(db, rid, "closed", satisfaction=4)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        while len(app.screen_stack) > 1:  # an operator picker, if any
            app.pop_screen()
        app.staff = [{"name": "王站长", "role": "head"}, {"name": "李娜", "role": "steward"}]
        app.operator = "李娜"
        app.open_request(rid)
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert not isinstance(app.screen, CorrectDialog)
        assert any("只有站长" in str(n.message) for n in app._notifications)
        app.operator = "王站长"
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CorrectDialog)
