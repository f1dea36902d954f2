"""An outside operator's findings at 80x24 (Chinese UI), round opfix2: F5's line above the footer
follows the footer's rule, the request detail's toasts keep one place under the status line and off an
open dialog's border, F6's 上次同步 after a bundle import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, rows, settle
from tui_pilot import IN_PROGRESS, footer_text, open_detail, press_to, until

pytestmark = pytest.mark.usefixtures("tui_env")


def _text(scr: Any, wid: str) -> str:
    return str(scr.query_one(wid).render())


async def test_f5_line_offers_ctrl_r_only_when_the_footer_does(tmp_path: Path) -> None:
    """A followed-up (已回访) request open, then F5: the line above the footer names it without
    "Ctrl+R 转办至选中项" (the footer has no Ctrl+R) and says why; an open request: offered."""
    from qi_station.screens.libraries import LibrariesScreen

    db = fixture_db(tmp_path)
    number, status = rows(
        db, "SELECT number, status FROM request WHERE status IN ('closed', 'resolved') ORDER BY status"
    )[0]
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db, number)
        await until(pilot, lambda: app.current_request_status == status)
        page = await press_to(pilot, "f5", LibrariesScreen)
        await until(pilot, lambda: page.has_class("loaded") or bool(page.rows))
        assert footer_text(app, "refer") is None
        line = _text(page, "#status-line")
        assert number in line and "Ctrl+R" not in line and "不能转办" in line, line
        await pilot.press("escape")
        await settle(pilot)
        await open_detail(pilot, db, IN_PROGRESS)
        await until(pilot, lambda: app.current_request_status == "in_progress")
        await press_to(pilot, "f5", LibrariesScreen)
        await until(pilot, lambda: footer_text(app, "refer") is not None)
        assert "Ctrl+R 转办至选中项" in _text(page, "#status-line")


async def test_detail_toasts_keep_one_place_under_the_status_line(tmp_path: Path) -> None:
    """Moves in quick succession on the request detail: each result replaces the last at the same
    place, the line right under 编号/状态, 企业名称 and 信用代码/登记地 (it came a line lower each time,
    over 需求事项, 需求描述, 承诺日期: Textual left a replaced toast's holder in the rack)."""
    from tui_pilot import toasts

    db = fixture_db(tmp_path)
    number = rows(db, "SELECT number FROM request WHERE status = 'new'")[0][0]
    app = make_app(db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        scr = await open_detail(pilot, db, number)
        key = scr.query_one("#fields").region.y + scr.key_rows - 1  # under 信用代码/登记地 (form4)
        for move in ("a", "s"):  # 受理, 开始办理: each through its dialog (Ctrl+S)
            await pilot.press(move)
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert [t.region.y for t in toasts(app)] == [key + 1]
        for i in range(4):
            app.notify(f"已将 {number} 改为 {i}")
            await pilot.pause()
        await settle(pilot)
        assert [t.region.y for t in toasts(app)] == [key + 1]


async def test_a_toast_never_draws_over_an_open_dialogs_border(tmp_path: Path) -> None:
    """The 办结 dialog open on the detail (its top border right under 状态 at 80x24) and a toast: the
    toast lies off the dialog's frame (over the page below it), not on its top line."""
    from tui_pilot import toasts

    from qi_station.screens.dialogs import MoveDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_detail(pilot, db, IN_PROGRESS)
        dialog = await press_to(pilot, "d", MoveDialog)
        app.notify("已将 QI0001-202603-0001 改为 办理中")
        await until(pilot, lambda: bool(toasts(app)) and all(t.region.height for t in toasts(app)))
        await settle(pilot)
        frame = next(w for w in dialog.children if w.region.height > 3).region
        for toast in toasts(app):
            assert not toast.region.overlaps(frame), (toast.region, frame)
