"""Pilot tests of the operator journeys (issue 3). Each test gets its own copy of the fixture DB."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


@pytest.fixture
def station_db(tmp_path: Path) -> Path:
    return fixture_db(tmp_path)


def make_app(db: Path, lang: str = "zh", config: dict[str, Any] | None = None) -> Any:
    from qi_station.app import StationApp

    return StationApp(db, lang=lang, config=config or {}, offer_demo=False)


async def settle(pilot: Any, rounds: int = 3) -> None:
    """Let thread workers finish and their results land (workers may start more workers)."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


async def test_log_a_request_start_to_finish(station_db: Path) -> None:
    from qi_station.screens.request_detail import RequestDetailScreen
    from qi_station.screens.request_form import RequestFormScreen
    from qi_station.screens.widgets import Chip

    app = make_app(station_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert isinstance(app.screen, RequestFormScreen)
        await pilot.press(*"ytl")  # pinyin initials of 烟台鲁星...
        await pilot.pause(0.3)
        await settle(pilot)
        assert not app.screen.query_one("#ent-list").has_class("hidden")
        await pilot.press("tab", "enter")
        await settle(pilot)
        form = app.screen
        assert form.query_one("#enterprise").value == "烟台鲁星精密机械有限公司"
        assert form.query_one("#uscc").value.startswith("91370600")
        assert "烟台" in str(form.query_one("#uscc-region").render())
        form.query_one("#el-metrology", Chip).focus()
        await pilot.press("space")
        form.query_one("#title").focus()
        await pilot.press(*"cmm")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, RequestDetailScreen)
    got = rows(station_db, "SELECT title, status, elements, channel FROM request WHERE title = 'cmm'")
    assert got == [("cmm", "new", '["metrology"]', "walk_in")]


async def test_invalid_uscc_shows_message_and_saves_nothing(station_db: Path) -> None:
    from qi_station.screens.request_form import RequestFormScreen

    before = rows(station_db, "SELECT count(*) FROM request")[0][0]
    ents = rows(station_db, "SELECT count(*) FROM enterprise")[0][0]
    app = make_app(station_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, RequestFormScreen)
        form.query_one("#enterprise").value = "新企业有限公司"
        form.query_one("#uscc").focus()
        await pilot.press(*"91370600MA3C000010")  # wrong check character
        await pilot.pause()
        err = str(form.query_one("#err-uscc").render())
        assert "校验码" in err
        form.query_one("#el-testing").checked = True
        form.query_one("#title").value = "检测"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form  # still on the form, input kept
        assert form.query_one("#uscc").value == "91370600MA3C000010"
        assert form.query_one("#title").value == "检测"
        assert "校验码" in str(form.query_one("#err-uscc").render())
        assert not form.query_one("#err-uscc").has_class("hidden")
    assert rows(station_db, "SELECT count(*) FROM request")[0][0] == before
    assert rows(station_db, "SELECT count(*) FROM enterprise")[0][0] == ents
