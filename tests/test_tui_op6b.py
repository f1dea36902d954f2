"""Outside operator, round 6 (op6b), at 80x24 in Chinese: what the app shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, rows, settle
from tui_pilot import notes, until

pytestmark = pytest.mark.usefixtures("tui_env")


async def test_a_restore_under_the_running_app_is_said_and_the_screen_reloads(tmp_path: Path) -> None:
    from test_sync_util import request_input

    from qi_station.services import ledger
    from qi_station.services.backup import backup_db, in_use, restore_db

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready)
        assert in_use(db) is True  # `restore` can warn
        bk = backup_db(db, tmp_path / "b.db")
        ledger.create_request(db, request_input(1))
        before = rows(db, "SELECT COUNT(*) FROM request")[0][0]
        assert app.check_restored() is False  # nothing restored: nothing said
        restore_db(bk, db)
        assert rows(db, "SELECT COUNT(*) FROM request")[0][0] == before - 1
        assert app.check_restored() is True
        await settle(pilot)
        assert any("数据库已从备份恢复" in n for n in notes(app))
        assert app.check_restored() is False  # said once
