"""Review items at 80x24 (Chinese UI): a toast never covers more than two lines of the page (a written
file's full path stands in the page's own line or the dialog, the toast names the file); 整改 on a
request that has one already is offered as 再次整改 and shows the existing one; leaving a page asks by
the pages' own registry of unsaved input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, settle
from tui_pilot import notes, press_to, toasts, until

pytestmark = pytest.mark.usefixtures("tui_env")

#: a deep folder with a Chinese name: the full path of a file in it is three toast lines and more
DEEP = ("山东省质量基础设施", "烟台市园区工作站", "二〇二六年三月", "月度汇总报表导出")


def _deep(tmp_path: Path) -> Path:
    folder = tmp_path.joinpath(*DEEP)
    folder.mkdir(parents=True)
    return folder


def _assert_short_toasts(app: Any) -> None:
    drawn = toasts(app)
    assert drawn, notes(app)
    for toast in drawn:
        assert 0 < toast.region.height <= 2, (toast.region, notes(app))


async def test_a_report_written_says_its_file_in_a_short_toast_and_its_path_on_the_page(
    tmp_path: Path,
) -> None:
    """Ctrl+E on 报表 into a deep folder: the toast (at most two lines) names the file; the page's export
    line shows the full path."""
    from textual.widgets import Input

    folder = _deep(tmp_path)
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        app.screen.query_one("#out", Input).value = str(folder / "三月汇总.xlsx")
        await pilot.press("ctrl+e")
        await until(pilot, lambda: bool(toasts(app)))
        written = folder / "三月汇总.xlsx"
        assert written.exists()
        status = str(app.screen.query_one("#export-status").render())
        assert str(written.resolve()) in status.replace("\n", "")
        assert any("三月汇总.xlsx" in n for n in notes(app))
        assert not any(str(folder) in n for n in notes(app))
        _assert_short_toasts(app)


async def test_a_bundle_export_says_its_file_in_a_short_toast_and_its_path_on_the_page(
    tmp_path: Path,
) -> None:
    """The bundle job's answer: the progress line keeps the whole sentence, the toast the file name; any
    other long answer (a heal) is cut to two lines in the toast, whole on the page."""
    from qi_station.i18n import t
    from qi_station.screens.sync import JobDone

    folder = _deep(tmp_path)
    full = t("sync.exported", n=12, path=str(folder / "QI0001-20260301.qib"))
    short = t("sync.exported", n=12, path="QI0001-20260301.qib")
    healed = t("sync.healed", n=1234, renumbered=56) + " " + str(folder)
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        for message, toast in ((full, short), (healed, None)):
            app.screen.post_message(JobDone(message, False, toast))
            await until(pilot, lambda m=message: str(app.screen.query_one("#sync-progress").render()) == m)
            assert str(app.screen.query_one("#sync-progress").render()) == message
            _assert_short_toasts(app)
            if toast is not None:
                assert notes(app)[-1] == short
        # the newer toast replaced the older one (same severity): one at a time, never a stack
        assert len(notes(app)) == 1
        assert notes(app)[0].endswith("…") and len(notes(app)[0]) < len(healed)


async def test_a_backup_names_its_file_in_a_short_toast_and_the_dialog_keeps_the_path(
    tmp_path: Path,
) -> None:
    """备份数据库 into a deep folder: the toast (at most two lines) names the file and its size; the dialog
    opened again shows the last backup's full path."""
    from qi_station.i18n import human_size
    from qi_station.screens.backup import BackupDialog

    folder = _deep(tmp_path)
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        app.action_backup()
        await settle(pilot)
        assert not app.screen.query("#last-backup")
        app.screen.query_one("#out").value = str(folder) + os.sep
        await pilot.press("enter")
        await until(pilot, lambda: bool(toasts(app)))
        (written,) = folder.glob("qi-backup-QI0001-*.db")
        size = human_size(written.stat().st_size)
        assert any(written.name in n for n in notes(app))
        # the folder whole or cut keeps the first line; the size beside the file when it fits, else in
        # the dialog opened again (opfixt: the folder never reads as a relative ../ path)
        assert any(size in n for n in notes(app)) or size in (app.last_backup or "")
        # the folder too (op6b: to confirm the USB stick), cut from the left: never the whole deep path
        assert not any(str(folder) in n for n in notes(app))
        assert any(n.split("\n")[0].endswith(folder.name) for n in notes(app))
        _assert_short_toasts(app)
        app.action_backup()
        await settle(pilot)
        assert isinstance(app.screen, BackupDialog)
        assert str(written) in str(app.screen.query_one("#last-backup").render()).replace("\n", "")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_brief_fits_two_toast_lines_and_keeps_short_texts(lang: str) -> None:
    from qi_station.screens.base import brief, toast_lines

    long = ("已导出 " if lang == "zh" else "Exported ") + "/".join(DEEP) * 3
    assert toast_lines(long) > 2
    cut = brief(long)
    assert toast_lines(cut) <= 2 and cut.endswith("…") and long.startswith(cut[:-1].rstrip())
    assert brief("已导出 三月汇总.xlsx") == "已导出 三月汇总.xlsx"


# ---- 整改 after a rectification: 再次整改, the existing one shown ------------------------------------------
def test_the_core_says_when_a_rectification_is_a_further_one() -> None:
    """``core.rectify.rectify_again``: only where a rectification may be made and one exists."""
    from qi_station.core.rectify import RECTIFY_KIND, rectify_again, rectify_records

    one = [{"kind": "status"}, {"kind": RECTIFY_KIND, "data": {"action": "复检"}}]
    assert rectify_records(one) == one[1:]
    assert rectify_again("closed", 1, one)
    assert not rectify_again("closed", 1, one[:1])
    assert not rectify_again("closed", 4, one) and not rectify_again("resolved", 1, one)


async def test_a_second_rectification_is_offered_as_rectify_again_and_shows_the_first(tmp_path: Path) -> None:
    """A closed request rated 非常不满意 with one rectification: the key bar and the button say 再次整改, the
    detail shows the existing one (when, by whom, what); z opens 再次整改 and the second is recorded,
    the first kept (the ledger is append-only)."""
    from test_tui_journeys import rows
    from tui_pilot import footer_text

    from qi_station.screens.rectify import RectifyDialog
    from qi_station.services.ledger import move_request, rectify_request

    db = fixture_db(tmp_path)
    rid = rows(db, "SELECT id FROM request WHERE status = 'resolved'")[0][0]
    move_request(db, rid, "closed", satisfaction=1, actor="小刘")
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        assert footer_text(app, "rectify") == "整改"
        assert dict(app.screen._buttons)["rectify"] == "整改 z"
        assert "待整改" in str(app.screen.query_one("#fields").render())
        app.pop_screen()
        rectify_request(db, rid, "上门复检并更换检测设备", by="王工")
        app.open_request(rid)
        await settle(pilot)
        assert footer_text(app, "rectify") == "再次整改"
        assert dict(app.screen._buttons)["rectify"] == "再次整改 z"
        fields = str(app.screen.query_one("#fields").render())
        assert "已整改" in fields and "王工: 上门复检并更换检测设备" in fields
        dialog = await press_to(pilot, "z", RectifyDialog)
        assert "再次整改" in str(dialog.query_one(".dialog-title").render())
        await pilot.press(*"回访后补充培训")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, RectifyDialog))
        fields = str(app.screen.query_one("#fields").render())
        assert "已整改 2 次" in fields and "回访后补充培训" in fields
    kept = rows(
        db, "SELECT note FROM request_event WHERE request_id = ? AND kind = 'rectify' ORDER BY n", rid
    )
    assert kept == [("上门复检并更换检测设备",), ("回访后补充培训",)]


# ---- LeaveAsks keeps its own registry; Textual's private stacks and toast list are not read ------------
async def test_leave_asks_keeps_the_pages_that_may_hold_input_from_mount_to_unmount(tmp_path: Path) -> None:
    """The 走访培训活动 page stays registered after F2 (its mode's stack keeps it: Ctrl+Q asks it from the
    dashboard), a dialog only while it is open; nothing else is in the registry."""
    from qi_station.screens.activity import ActivityScreen
    from qi_station.screens.backup import BackupDialog
    from qi_station.screens.dialogs import LeaveAsks

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert LeaveAsks.open_pages(app) == []
        app.switch_mode("activities")
        await settle(pilot)
        activity = app.screen
        assert isinstance(activity, ActivityScreen)
        await pilot.press("f2")
        await settle(pilot)
        assert LeaveAsks.open_pages(app) == [activity]
        app.action_backup()
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, BackupDialog)
        assert LeaveAsks.open_pages(app) == [activity, dialog]
        await pilot.press("escape")
        await settle(pilot)
        assert LeaveAsks.open_pages(app) == [activity]


async def test_a_screen_switch_keeps_an_error_toast_by_public_calls_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F-keys drop the toasts of the screen left, an error stays: by ``clear_notifications`` and ``notify``,
    not Textual's private ``_unnotify`` (a toast timing out would call it: 60 s here)."""
    from textual.app import App

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        app.notify("已保存筛选条件", timeout=60)
        app.notify("数据库只读", severity="error", timeout=60)
        await settle(pilot)
        calls: list[str] = []
        monkeypatch.setattr(App, "_unnotify", lambda *a, **k: calls.append("_unnotify"))
        await pilot.press("f3")
        await settle(pilot)
        assert calls == []
        assert notes(app) == ["数据库只读"]
