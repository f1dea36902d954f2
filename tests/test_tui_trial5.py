"""An outside operator's findings at 80x24 (Chinese UI): a half-typed move asks before a screen switch
drops it (the note's mechanism, shared), toasts never hide the title bar or the key bar and do not
follow the operator to the next screen, a closed request offers only what the lifecycle allows, a
backup can be made from the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db
from test_tui_journeys import make_app, rows, settle


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


def _rid(db: Path, number: str) -> str:
    return rows(db, "SELECT id FROM request WHERE number = ?", number)[0][0]


@pytest.mark.parametrize("answer", ["edit", "discard"])
async def test_a_screen_switch_asks_before_throwing_a_half_typed_move_away(
    tmp_path: Path, answer: str
) -> None:
    """d (办结) on an in-progress request, a result typed, F2: asks 放弃 / 继续编辑 as the note dialog does;
    继续编辑 keeps the dialog and its text, 放弃 goes to the dashboard and writes nothing."""
    from qi_station.screens.dashboard import DashboardScreen
    from qi_station.screens.dialogs import MoveDialog
    from qi_station.screens.form_dialogs import ChoicesDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(_rid(db, "QI0001-202603-0002"))
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        move = app.screen
        assert isinstance(move, MoveDialog)
        await pilot.press(*"已出具标准文本")
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, ChoicesDialog)
        assert "流转尚未保存" in str(app.screen.query_one(".dialog-title").render())
        app.screen.query_one(f"#ans-{answer}").press()
        await settle(pilot)
        if answer == "edit":
            assert app.screen is move
            assert move.query_one("#result").value == "已出具标准文本"
        else:
            assert isinstance(app.screen, DashboardScreen)
    assert rows(db, "SELECT status FROM request WHERE number = 'QI0001-202603-0002'") == [("in_progress",)]


async def test_an_untouched_move_dialog_lets_a_screen_switch_go(tmp_path: Path) -> None:
    """Nothing typed (the 节约费用 field's own 0 is not typed input): F2 goes at once."""
    from qi_station.screens.dashboard import DashboardScreen
    from qi_station.screens.dialogs import MoveDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(_rid(db, "QI0001-202603-0002"))
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, MoveDialog)
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_toasts_leave_the_title_bar_and_the_key_bar_visible_and_stay_on_their_screen(
    tmp_path: Path,
) -> None:
    """At 80x24 a toast lies under the title bar (the breadcrumb) and above the key bar, never on them;
    F-keys to another screen drop the toasts of the screen left, an error stays."""
    from textual.widgets._toast import Toast

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        app.notify("已保存筛选条件：本月逾期的检验检测需求（共 12 条），可在筛选列表里再次选用", timeout=60)
        app.notify("数据库只读", severity="error", timeout=60)
        await settle(pilot)
        bar = app.screen.query_one("#titlebar").region
        footer = app.screen.query_one("StationFooter").region
        toasts: list[Any] = list(app.screen.query(Toast))
        assert len(toasts) == 2
        for toast in toasts:
            r = toast.region
            assert r.height > 0 and not r.overlaps(bar) and not r.overlaps(footer), (r, bar, footer)
        await pilot.press("f2")
        await settle(pilot)
        assert [n.severity for n in app._notifications] == ["error"]
