"""Round-9 fixes at 80x24 (Chinese UI): F7's months without data, the request form's known credit code,
the 办结 outcome in the detail's history, the backup's next step after a restore, the enterprise page's
request count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, settle
from tui_pilot import notes, press_to, until

pytestmark = pytest.mark.usefixtures("tui_env")


def _text(scr: Any, wid: str) -> str:
    return str(scr.query_one(wid).render())


async def test_f7_a_month_without_data_shows_no_other_months_figures(tmp_path: Path) -> None:
    """2027-01 (after this month): 尚未到来 in the summary, and the blocks below no longer hold the
    figures of the month shown before (按服务要素 counts, 满意度 levels)."""
    from qi_station.screens.reports import ReportsScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        scr = await press_to(pilot, "f7", ReportsScreen)
        await until(pilot, lambda: "标准" in _text(scr, "#by-element"))
        assert "标准" in _text(scr, "#by-element")
        scr.month = "2027-01"
        scr.refresh_data()
        await until(pilot, lambda: "尚未到来" in _text(scr, "#summary"))
        assert "尚未到来" in _text(scr, "#summary")
        for wid in ("#by-element", "#breakdowns", "#rectify"):
            assert "2027-01 无数据" in _text(scr, wid), wid
        await pilot.resize_terminal(90, 24)  # a new layout flows nothing back in
        await settle(pilot)
        assert "标准" not in _text(scr, "#by-element")


async def test_f7_brackets_stop_at_the_months_with_data_and_scroll_to_the_top(tmp_path: Path) -> None:
    """``]`` at this month stays (and says so); ``[`` stops at the first month with data (and says so);
    after each the page is back at its top (the month's title visible)."""
    from qi_station.core.months import current_month
    from qi_station.screens.reports import ReportsScreen

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        scr = await press_to(pilot, "f7", ReportsScreen)
        await until(pilot, lambda: scr._span is not None)
        first, last = scr._span
        assert last == current_month()
        body = scr.query_one("#reports-body")
        body.scroll_end(animate=False)
        await until(pilot, lambda: body.scroll_y > 0)
        await pilot.press("]")
        await until(pilot, lambda: any("本月" in n for n in notes(app)))
        assert scr.month == last
        assert any(last in n and "本月" in n for n in notes(app))
        assert body.scroll_y == 0
        for _ in range(24):
            await pilot.press("[")
            await settle(pilot)
            if any("最早" in n for n in notes(app)):
                break
        assert scr.month == first
        assert any(first in n and "最早有数据" in n for n in notes(app))
        assert "早于" not in _text(scr, "#summary")  # never a refused month shown
        body.scroll_end(animate=False)
        await until(pilot, lambda: body.scroll_y > 0)
        await pilot.press("]")
        await until(pilot, lambda: body.scroll_y == 0)
        assert body.scroll_y == 0


async def test_f7_export_of_a_month_without_data_says_so_before_asking_to_overwrite(tmp_path: Path) -> None:
    from textual.widgets import Input

    from qi_station.screens.dialogs import ConfirmDialog
    from qi_station.screens.reports import ReportsScreen

    out = tmp_path / "report.csv"
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        scr = await press_to(pilot, "f7", ReportsScreen)
        scr.query_one("#out", Input).value = str(out)
        await pilot.press("ctrl+e")  # this month's report: the file 2027-01 would overwrite
        await until(pilot, lambda: "已导出" in _text(scr, "#export-status"))
        assert out.exists()
        scr.month = "2027-01"
        await pilot.press("ctrl+e")
        await until(
            pilot,
            lambda: isinstance(app.screen, ConfirmDialog) or "尚未到来" in _text(scr, "#export-status"),
        )
        assert not isinstance(app.screen, ConfirmDialog)
        assert "尚未到来" in _text(scr, "#export-status")


async def test_a_typed_known_uscc_fills_the_empty_contact_and_phone(tmp_path: Path) -> None:
    """The credit code of an enterprise on file typed (not picked from the list): 联系人 and 电话 filled
    as a pick fills them, a typed contact kept."""
    import sqlite3

    from test_tui_helpers import ENTERPRISES

    db = fixture_db(tmp_path)
    name, code = ENTERPRISES[0]
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE enterprise SET contact_name = '孙丽', phone_display = '0535-6212345' WHERE uscc = ?",
            (code,),
        )
    conn.close()
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        form = app.screen
        form.query_one("#uscc").focus()
        await pilot.press(*code)
        await until(pilot, lambda: form.query_one("#contact").value)
        assert form.query_one("#contact").value == "孙丽"
        assert form.query_one("#phone").value == "0535-6212345"


async def test_the_enterprise_being_picked_is_never_a_similar_name(tmp_path: Path) -> None:
    """济南华泰 ↓ Enter: while its suggestion is offered and once picked, no "名称相近的企业已登记" about
    that same enterprise."""
    from test_tui_helpers import ENTERPRISES

    db = fixture_db(tmp_path)
    full, code = ENTERPRISES[1]
    app = make_app(db)
    seen: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        form = app.screen
        hint = form.query_one("#ent-hint")
        real = hint.update

        def spy(text: Any = "", *a: Any, **kw: Any) -> Any:
            seen.append(str(text))
            return real(text, *a, **kw)

        hint.update = spy
        form.query_one("#enterprise").focus()
        await pilot.press(*"济南华泰")
        await until(pilot, lambda: not form.query_one("#ent-list").has_class("hidden") and form._similar)
        assert form._similar and full in [r["name"] for r in form._similar]  # the core finds it similar
        await pilot.press("down", "enter")
        await until(pilot, lambda: form.query_one("#uscc").value == code and form._known)
        await settle(pilot)
        assert form.query_one("#enterprise").value == full
    assert not [s for s in seen if "名称相近" in s], seen


async def test_the_history_shows_what_the_resolution_recorded(tmp_path: Path) -> None:
    """The 办结 line of the history holds its 办理结果 and 解决问题数 (as ``request show`` prints them)."""
    from test_tui_journeys import rows

    from qi_station.screens.request_detail import RequestDetailScreen

    db = fixture_db(tmp_path)
    rid = rows(db, "SELECT id FROM request WHERE status = 'resolved'")[0][0]
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await until(
            pilot, lambda: isinstance(app.screen, RequestDetailScreen) and app.screen.has_class("loaded")
        )
        timeline = _text(app.screen, "#timeline")
        assert "办理结果:" in timeline and "解决问题数:" in timeline, timeline


def _mark_restored(db: Path, mode: str = "online") -> None:
    """The kv rows ``restore`` leaves on an enrolled station (the core's mark; heal.restored_next_step)."""
    import sqlite3

    from qi_station.db import kvkeys

    conn = sqlite3.connect(db)
    with conn:
        for k, v in (
            (kvkeys.STATION_RESTORED, "1"),
            (kvkeys.ENROLL_MODE, mode),
            (kvkeys.STATION_CODE, "QI0001"),
            (kvkeys.RESTORE_MARK, "2026-03-20 10:00 x"),
        ):
            conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (k, v))
    conn.close()


async def test_after_a_restore_the_backup_dialog_and_the_toast_say_what_to_do_next(tmp_path: Path) -> None:
    """Restored under the running app: the toast and 备份数据库 carry the core's next step (sync first)."""
    from tui_pilot import backup_dialog

    from qi_station.sync.station.heal import restored_next_step

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        _mark_restored(db)
        step = restored_next_step(db, "zh")
        assert step and "qi-station sync" in step
        app.check_restored()
        await until(pilot, lambda: any(step in n for n in notes(app)))
        assert any("已从备份恢复" in n and step in n for n in notes(app))
        dialog = await backup_dialog(pilot, str(tmp_path) + "/")
        assert step in _text(dialog, "#restored-next")


async def test_the_enterprise_page_says_how_many_requests_of_how_many_are_shown(tmp_path: Path) -> None:
    """A page more than one page of requests: "已显示 50 / 共 51 条" (the count from the core), never the
    loaded count as the total; once ] loaded them all, no 加载更多 in the header or the footer."""
    from test_tui_helpers import ENTERPRISES
    from test_tui_journeys import rows
    from tui_pilot import footer_text

    from qi_station.screens.enterprise import PAGE, EnterpriseScreen
    from qi_station.services.ledger import RequestInput, create_request

    db = fixture_db(tmp_path)
    name, code = ENTERPRISES[0]
    have = rows(
        db,
        "SELECT count(*) FROM request r JOIN enterprise e ON e.id = r.enterprise_id WHERE e.uscc = ?",
        code,
    )
    for i in range(PAGE + 1 - have[0][0]):
        create_request(
            db, RequestInput(name, code, ["testing"], f"检测{i}", received_at="2026-03-19T09:00:00")
        )
    total = PAGE + 1
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(EnterpriseScreen(code))
        await until(pilot, lambda: isinstance(app.screen, EnterpriseScreen) and app.screen.ent is not None)
        scr = app.screen
        title = _text(scr, "#ent-requests-title")
        assert f"已显示 {PAGE} / 共 {total} 条" in title and "加载更多" in title, title
        await pilot.press("]")
        await until(pilot, lambda: len(scr.requests) == total)
        await settle(pilot)
        title = _text(scr, "#ent-requests-title")
        assert f"需求 {total} 条" in title and "加载更多" not in title and "已显示" not in title, title
        assert footer_text(app, "more") is None
