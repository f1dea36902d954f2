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
        await pilot.press("ctrl+o")  # import needs a path
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
        assert "登记需求数 3" in str(scr.query_one("#summary").render())  # the export's label
        await pilot.press("[")
        await settle(pilot)
        assert scr.month == "2026-02"
        assert "办结数 1" in str(scr.query_one("#summary").render())
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


def _reopened_ledger(tmp_path: Path) -> Path:
    """R1 received 2026-01-05, resolved 01-20, reopened 02-03; R2 received in January, then tombstoned."""
    import sqlite3

    from test_reports import ENT_A, _mv, _req

    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station

    db = tmp_path / "reopened.db"
    open_db(db)
    init_station(db, code="QI0001", name="测试工作站", region_code="370100")
    r1 = _req(db, ENT_A, "计量", "2026-01-05T10:00:00+08:00")
    _mv(db, r1, "accepted", "2026-01-05T12:00:00+08:00")
    _mv(db, r1, "in_progress", "2026-01-06T09:00:00+08:00")
    _mv(
        db, r1, "resolved", "2026-01-20T10:00:00+08:00", result="已办结", problems_solved=2, cost_saved="1.50"
    )
    _mv(db, r1, "in_progress", "2026-02-03T09:00:00+08:00")  # reopened
    r2 = _req(db, ENT_A, "标准", "2026-01-08T10:00:00+08:00")
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE request SET deleted = 1 WHERE number = ?", (r2,))
    conn.close()
    return db


async def test_reports_screen_and_dashboard_show_the_exported_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolved in January, reopened in February: the screen says January resolved 1, as the file does
    (it used to say 0), with the file's labels; the dashboard's month bars are the report's ``received``."""
    from qi_station.reports.figures import monthly_report
    from qi_station.screens.reports import ReportsScreen, element_parts, summary_parts
    from qi_station.services.dashboard import compute

    monkeypatch.setenv("QI_STATION_NOW", "2026-02-10T10:00:00+08:00")
    db = _reopened_ledger(tmp_path)
    jan, feb = monthly_report(db, "2026-01"), monthly_report(db, "2026-02")
    assert (jan["received"], jan["resolved"], jan["problems_solved"], feb["resolved"]) == (1, 1, 2, 0)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        scr = app.screen
        assert isinstance(scr, ReportsScreen)
        assert scr.month == "2026-02"
        assert scr._summary == summary_parts(feb, "zh")
        await pilot.press("[")
        await settle(pilot)
        assert scr.month == "2026-01"
        assert scr._summary == summary_parts(jan, "zh")
        assert scr._by_element == element_parts(jan)
        text = str(scr.query_one("#summary").render())
        for part in ("登记需求数 1", "办结数 1", "解决问题数 2", "节约成本（万元） 1.50"):
            assert part in text
    figs = compute(db)
    assert figs.months == [s["month"] for s in feb["series"]]
    assert figs.month_counts == [s["received"] for s in feb["series"]]  # the tombstoned request left out
    assert figs.month_counts[-2:] == [1, 0]


async def test_dashboard_shows_the_ledger_check(tmp_path: Path) -> None:
    """A quiet ✓ on an intact ledger; a loud ✗ once a row is edited behind the ledger's back."""
    import sqlite3

    db = fixture_db(tmp_path)
    for tampered in (False, True):
        if tampered:
            c = sqlite3.connect(db)
            with c:
                c.execute("UPDATE request SET cost_saved_cents = 99999900")
            c.close()
        app = make_app(db)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            text = str(app.screen.query_one("#ledger-line").render())
            assert ("✗" in text) is tampered and ("✓" in text) is not tampered


async def test_dashboard_on_a_large_ledger_shows_the_last_recorded_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the size the dashboard checks itself: "not checked yet", then the last recorded check."""
    import sqlite3

    from qi_station.services import verify

    db = fixture_db(tmp_path)
    monkeypatch.setattr(verify, "DASHBOARD_CHECK_EVENTS", 0)
    for recorded in (False, True):
        if recorded:
            assert verify.verify_ledger(db)["ok"]  # what ledger verify, sync and restore leave behind
        app = make_app(db)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            text = str(app.screen.query_one("#ledger-line").render())
            assert ("ledger verify" in text) is not recorded
            assert ("✓" in text) is recorded
    # a post-sync (incremental) check since: the line says when the last full check ran
    from qi_station.sync.station import heads

    c = sqlite3.connect(db)
    try:
        assert heads.check_ledger(c) == (True, [])
    finally:
        c.close()
    assert verify.last_result(db)["full"] is False  # type: ignore[index]
    app = make_app(db)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        text = str(app.screen.query_one("#ledger-line").render())
        assert "✓" in text and "完整校验以来" in text


async def test_profile_screen_sets_the_station_profile(tmp_path: Path) -> None:
    """F9 (or the palette) opens the profile; a historic region is refused beside its field and nothing is
    written; a good one is saved (and is what the next sync sends)."""
    import sqlite3

    from textual.widgets import Input, Static

    from qi_station.screens.profile import ProfileScreen
    from qi_station.screens.widgets import Choice

    db = fixture_db(tmp_path)
    before = (
        sqlite3.connect(db).execute("SELECT region_code, park, type, service_mode FROM station").fetchone()
    )
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f9")
        await settle(pilot)
        scr = app.screen
        assert isinstance(scr, ProfileScreen)
        assert scr.query_one("#region", Input).value == before[0]
        scr.query_one("#region", Input).value = "371202"
        await settle(pilot)
        assert "370116" in str(scr.query_one("#place", Static).render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ProfileScreen)
        assert "所在区县" in str(scr.query_one("#error", Static).render())
        assert (
            sqlite3.connect(db)
            .execute("SELECT region_code, park, type, service_mode FROM station")
            .fetchone()
            == before
        )
        scr.query_one("#region", Input).value = "370116"
        scr.query_one("#park", Input).value = "莱芜高新区"
        scr.query_one("#service_mode", Choice).select("政府引导")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, ProfileScreen)
    got = sqlite3.connect(db).execute("SELECT region_code, park, type, service_mode FROM station").fetchone()
    assert got == ("370116", "莱芜高新区", before[2], "政府引导")
