"""An outside operator's findings at 80x24 (Chinese UI): a half-typed move asks before a screen switch
drops it (the note's mechanism, shared), toasts never hide the title bar or the key bar and do not
follow the operator to the next screen, a closed request offers only what the lifecycle allows, a
backup can be made from the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, rows, settle
from tui_pilot import ask_to_leave, backup_dialog, open_detail, press_to, req_id, toasts

pytestmark = pytest.mark.usefixtures("tui_env")


@pytest.mark.parametrize("answer", ["edit", "discard"])
async def test_a_screen_switch_asks_before_throwing_a_half_typed_move_away(
    tmp_path: Path, answer: str
) -> None:
    """d (办结) on an in-progress request, a result typed, F2: asks 放弃 / 继续编辑 as the note dialog does;
    继续编辑 keeps the dialog and its text, 放弃 goes to the dashboard and writes nothing."""
    from qi_station.screens.dashboard import DashboardScreen
    from qi_station.screens.dialogs import MoveDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db)
        move = await press_to(pilot, "d", MoveDialog)
        await pilot.press(*"已出具标准文本")
        await ask_to_leave(pilot, "f2", "流转尚未保存")
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
        await open_detail(pilot, db)
        await press_to(pilot, "d", MoveDialog)
        await press_to(pilot, "f2", DashboardScreen)


async def test_toasts_leave_the_title_bar_and_the_key_bar_visible_and_stay_on_their_screen(
    tmp_path: Path,
) -> None:
    """At 80x24 a toast lies under the title bar (the breadcrumb) and above the key bar, never on them;
    F-keys to another screen drop the toasts of the screen left, an error stays."""
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
        shown = toasts(app)
        assert len(shown) == 2
        for toast in shown:
            r = toast.region
            assert r.height > 0 and not r.overlaps(bar) and not r.overlaps(footer), (r, bar, footer)
        await pilot.press("f2")
        await settle(pilot)
        assert [n.severity for n in app._notifications] == ["error"]


async def test_a_backup_from_the_app_writes_a_checked_copy_and_says_where(tmp_path: Path) -> None:
    """备份数据库 is in the command palette; its dialog writes the backup in a worker with the CLI's
    service (a folder: qi-backup-<station>-<time>.db in it) and the toast names the file (its name: the
    full path is in the dialog opened again, ``test_tui_review``)."""
    import os

    from qi_station.screens.backup import BackupDialog
    from qi_station.services.backup import check_backup

    db = fixture_db(tmp_path)
    folder = tmp_path / "u盘"
    folder.mkdir()
    app = make_app(db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "备份数据库" in commands
        commands["备份数据库"].callback()
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, BackupDialog)
        box = dialog.query_one("#out")
        box.value = str(folder) + os.sep
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, BackupDialog)
        written = list(folder.glob("qi-backup-QI0001-*.db"))
        assert len(written) == 1
        check_backup(written[0], db)  # a backup `restore` accepts
        assert any(written[0].name in n.message for n in app._notifications)


async def test_a_backup_refused_keeps_the_dialog_open_and_says_why(tmp_path: Path) -> None:
    """A missing folder is refused by the service's rule (never created), named in the dialog."""
    import os

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await backup_dialog(pilot, str(tmp_path / "没有这个文件夹") + os.sep)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is dialog
        assert str(dialog.query_one("#error").render()).strip()
        assert not (tmp_path / "没有这个文件夹").exists()


def _offered(app: Any) -> tuple[list[str], set[str]]:
    """The detail's action buttons (ids) and the actions its footer shows enabled."""
    screen = app.screen
    shown = {ab.binding.action for ab in app.active_bindings.values() if ab.binding.show and ab.enabled}
    return [b[0] for b in screen._buttons], shown


@pytest.mark.parametrize("satisfaction", [1, 4])
async def test_a_closed_request_offers_only_what_its_lifecycle_allows(
    tmp_path: Path, satisfaction: int
) -> None:
    """A closed (回访 done) request: no move, no 转办; 整改 only for a low rating (the core's rule)."""
    from qi_station.services.ledger import move_request

    db = fixture_db(tmp_path)
    rid = rows(db, "SELECT id FROM request WHERE status = 'resolved'")[0][0]
    move_request(db, rid, "closed", satisfaction=satisfaction, actor="小刘")
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        buttons, shown = _offered(app)
        assert not any(a.startswith("move") for a in shown) and "refer" not in shown
        assert "refer" not in buttons
        assert ("rectify" in buttons) == (satisfaction == 1) == ("rectify" in shown)
        assert "状态不能再变更" in str(app.screen.query_one("#actions").render())
        await pilot.press("r")  # 转办's key does nothing on a closed request
        await settle(pilot)
        from qi_station.screens.request_detail import RequestDetailScreen

        assert isinstance(app.screen, RequestDetailScreen)


async def test_the_detail_asks_the_core_which_actions_a_status_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """转办 and 整改 are offered by the core's rules (``domain.can_refer``, ``rectify.can_rectify``), never
    a copy of them: a rule changed there changes what the detail offers."""
    from qi_station.core import domain, rectify

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(req_id(db, "QI0001-202603-0002"))  # in progress
        await settle(pilot)
        buttons, shown = _offered(app)
        assert "refer" in buttons and "refer" in shown and "rectify" not in buttons
        monkeypatch.setattr(domain, "can_refer", lambda status: False)
        monkeypatch.setattr(rectify, "can_rectify", lambda status, satisfaction: True)
        app.screen.refresh_data()
        await settle(pilot)
        buttons, shown = _offered(app)
        assert "refer" not in buttons and "refer" not in shown
        assert "rectify" in buttons and "rectify" in shown


async def test_keys_typed_right_after_tab_land_in_the_next_field(tmp_path: Path) -> None:
    """办结: ``abc`` Tab ``12`` Shift+Tab ``d`` as one burst (a scanner, tmux send-keys): the result is abcd,
    the problems solved 12 -- the keys after a Tab wait until the focus has moved, in their order."""
    from textual import events

    from qi_station.screens.dialogs import MoveDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db)
        dialog = await press_to(pilot, "d", MoveDialog)
        for key in [*"abc", "tab", *"12", "shift+tab", "end", "d"]:
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await settle(pilot)
        assert dialog.query_one("#result").value == "abcd"
        assert dialog.query_one("#problems_solved").value == "12"
