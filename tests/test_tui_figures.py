"""The TUI side of issue 10 item 4: the activity form (saved through the core, a refused input shown
beside its field and nothing written), the rectify action of a low-rated request, the fee on resolve."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db
from test_tui_snapshots import _app, _rid, _settle


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_activity_form(tmp_path: Path) -> None:
    from textual.widgets import Input, Static

    from qi_station.screens.activity import ActivityScreen

    db = fixture_db(tmp_path)
    app = _app(db, "zh")
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(pilot)
        await pilot.press("t")
        await _settle(pilot)
        assert isinstance(app.screen, ActivityScreen)
        scr = app.screen
        scr.query_one("#people", Input).value = "-3"
        scr.query_one("#title", Input).value = "计量培训"
        await pilot.press("ctrl+s")
        await _settle(pilot)
        err = str(scr.query_one("#activity-error", Static).render())
        assert err.startswith("覆盖人数") and "不能为负数" in err
        assert _rows(db, "SELECT COUNT(*) FROM activity") == [(0,)]
        scr.query_one("#people", Input).value = "30"
        scr.query_one("#enterprises", Input).value = "12"
        await pilot.press("ctrl+s")
        await _settle(pilot)
        assert _rows(db, "SELECT kind, date, enterprises, people, title FROM activity") == [
            ("visit", "2026-03-20", 12, 30, "计量培训")
        ]
        assert "计量培训" in str(scr.query_one("#activities", Static).render())
        assert _rows(db, "SELECT COUNT(*) FROM outbox WHERE table_name = 'activity'") == [(1,)]


async def test_rectify_from_the_detail(tmp_path: Path) -> None:
    from textual.widgets import Input

    from qi_station.screens.rectify import RectifyDialog
    from qi_station.services.ledger import move_request

    db = fixture_db(tmp_path)
    rid = _rid(db, "QI0001-202602-0001")
    move_request(db, rid, "closed", at="2026-02-16T10:00:00", satisfaction=1, actor="小刘")
    app = _app(db, "zh")
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(pilot)
        app.open_request(rid)
        await _settle(pilot)
        await pilot.press("z")
        await _settle(pilot)
        assert isinstance(app.screen, RectifyDialog)
        await pilot.press("ctrl+s")  # no action: refused, the dialog stays
        await _settle(pilot)
        assert isinstance(app.screen, RectifyDialog)
        app.screen.query_one("#action", Input).value = "复检并回访"
        app.screen.query_one("#by", Input).value = "张三"
        await pilot.press("ctrl+s")
        await _settle(pilot)
        assert not isinstance(app.screen, RectifyDialog)
    got = _rows(
        db, f"SELECT kind, note, data FROM request_event WHERE request_id = '{rid}' AND kind = 'rectify'"
    )
    assert got == [("rectify", "复检并回访", '{"action":"复检并回访","by":"张三"}')]


async def test_fee_on_resolve(tmp_path: Path) -> None:
    from textual.widgets import Input

    from qi_station.screens.dialogs import MoveDialog

    db = fixture_db(tmp_path)
    rid = _rid(db, "QI0001-202603-0002")  # in progress
    app = _app(db, "zh")
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(pilot)
        app.open_request(rid)
        await _settle(pilot)
        await pilot.press("d")
        await _settle(pilot)
        assert isinstance(app.screen, MoveDialog)
        app.screen.query_one("#result", Input).value = "已出具标准文本"
        app.screen.query_one("#fee", Input).value = "800"
        app.screen.query_one("#problems_solved", Input).value = "1"  # required, never pre-filled (issue 9)
        await pilot.press("ctrl+s")
        await _settle(pilot)
        assert not isinstance(app.screen, MoveDialog)
    (data,) = _rows(
        db, f"SELECT data FROM request_event WHERE request_id = '{rid}' AND to_status = 'resolved'"
    )[0]
    assert '"charged":true' in data and '"fee":"800.00"' in data


def test_the_reports_screen_lists_a_few_open_rectifications() -> None:
    """A ledger with thousands of unrectified low ratings (the generator's) shows ten and the totals,
    not thousands of lines; overdue ones are flagged."""
    from qi_station.i18n import set_lang
    from qi_station.screens.reports import RECTIFY_SHOWN, rectify_parts

    set_lang("zh")
    open_ = [
        {
            "number": f"QI0001-202601-{i:04d}",
            "station_code": "QI0001",
            "enterprise_name": "甲",
            "satisfaction": 1,
            "rated_on": "2026-01-02",
            "due": "2026-01-23",
            "overdue": i < 3,
        }
        for i in range(2500)
    ]
    lines = rectify_parts({"rectification": {"open": open_, "overdue_count": 3}}, "zh")
    assert len(lines) == RECTIFY_SHOWN + 1
    assert lines[0].endswith("超期") and not lines[5].endswith("超期")
    assert lines[-1] == "共 2500 条待整改（其中超期 3 条），完整列表见导出的月报"
    assert rectify_parts({"rectification": {"open": []}}, "zh") == ["没有待整改的评价"]


def test_the_report_breakdowns_and_rectifications_fit_80_columns() -> None:
    """F7 at 80 columns: a breakdown item never splits from its count (``1 非常不满意⏎  0``), each open
    rectification is one line (the enterprise's name shortened)."""
    from rich.cells import cell_len

    from qi_station.screens.reports import breakdown_parts, flow_breakdowns, rectify_parts

    report: dict[str, Any] = {
        "satisfaction_levels": {"5": 120, "4": 33, "3": 7, "2": 2, "1": 0},
        "by_county": {"370602": 40, "370611": 31, "370612": 12, "370613": 9, "370614": 4, "unknown": 3},
        "rectification": {
            "open": [
                {
                    "number": f"QI0001-202612-00{i:02}",
                    "station_code": "QI0001",
                    "enterprise_name": "烟台经济技术开发区鲁星精密机械制造有限责任公司",
                    "satisfaction": 2,
                    "rated_on": "2026-11-20",
                    "due": "2026-12-09",
                    "overdue": i % 2 == 0,
                }
                for i in range(3)
            ],
            "overdue_count": 1,
        },
    }
    width = 74
    text = flow_breakdowns(breakdown_parts(report, "zh"), width)
    lines = text.split("\n")
    assert all(cell_len(line) <= width for line in lines), text
    assert "1 非常不满意 0" in text and "满意度等级: 5 非常满意 120" in text
    rect = rectify_parts(report, "zh", width)
    assert len(rect) == 3 and all(cell_len(line) <= width for line in rect), rect
    assert all(line.endswith(("2026-12-09", "超期")) for line in rect) and ".." in rect[0]
