"""Sync and Reports screens: status from the core, actions through the sync client / reports module."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db
from test_tui_journeys import make_app, settle

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)


async def test_sync_without_a_hub_says_so(tmp_path: Path) -> None:
    from qi_station.screens.sync import SyncScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        scr = app.screen
        assert isinstance(scr, SyncScreen)
        assert "待上传变更: 25 条" in str(scr.query_one("#sync-status").render())
        await pilot.press("ctrl+r")  # not enrolled: a message, no crash
        await settle(pilot)
        assert str(scr.query_one("#sync-progress").render()).strip() != ""
        await pilot.press("ctrl+i")  # import needs a path
        await settle(pilot)
        assert scr.focused is scr.query_one("#bundle")


async def test_export_bundle_before_enrolment_is_explained(tmp_path: Path) -> None:
    from textual.widgets import Input

    out = tmp_path / "station.qib"
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        app.screen.query_one("#bundle", Input).value = str(out)
        await pilot.press("ctrl+e")
        await settle(pilot)
        await pilot.pause(0.2)
        await settle(pilot)
        msg = str(app.screen.query_one("#sync-progress").render())
    assert not out.exists()
    assert "尚未注册" in msg and "意外" not in msg


async def test_reports_month_and_export(tmp_path: Path) -> None:
    from textual.widgets import Input

    from qi_station.screens.reports import ReportsScreen

    out = tmp_path / "report.csv"
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        scr = app.screen
        assert isinstance(scr, ReportsScreen)
        assert scr.month == "2026-03"
        assert "受理需求 3 件" in str(scr.query_one("#summary").render())
        await pilot.press("[")
        await settle(pilot)
        assert scr.month == "2026-02"
        assert "办结 1 件" in str(scr.query_one("#summary").render())
        scr.query_one("#out", Input).value = str(out)
        await pilot.press("ctrl+e")
        await settle(pilot)
        await pilot.pause(0.3)
        await settle(pilot)
    assert out.exists()
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel-friendly UTF-8 BOM


async def test_libraries_rank_the_station_city_first_on_one_connection(tmp_path: Path) -> None:
    """The station (烟台, region 370600) sees Yantai experts first; by name alone 单立新 (青岛) would lead.
    Every search-as-you-type reuses the app's one long-lived read connection."""
    from qi_station.screens.libraries import LibrariesScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        lib = app.screen
        assert isinstance(lib, LibrariesScreen)
        assert lib.own_city == "370600"
        assert [r["city_code"] for r in lib.rows[:2]] == ["370600", "370600"]
        assert {r["name"] for r in lib.rows[:2]} == {"王建国", "张伟"}
        conn = app.reader._conn
        assert conn is not None
        await pilot.press(*"wjg")
        await pilot.pause(0.1)
        await settle(pilot)
        assert [r["name"] for r in lib.rows] == ["王建国"]
        assert app.reader._conn is conn
