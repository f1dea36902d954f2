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
