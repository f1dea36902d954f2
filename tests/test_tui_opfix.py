"""An outside operator's findings at 80x24 (Chinese UI): F7's export box across a month change and
after the 覆盖？ question, toasts over the request detail's status line, the ledger's exact number
behind a status filter, the search boxes' Ctrl+F / Ctrl+T / Ctrl+A, F9's pending count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, settle
from tui_pilot import press_to, until

pytestmark = pytest.mark.usefixtures("tui_env")


def _text(scr: Any, wid: str) -> str:
    return str(scr.query_one(wid).render())


async def _f7(pilot: Any, app: Any) -> Any:
    from qi_station.screens.reports import ReportsScreen

    await settle(pilot)
    scr = await press_to(pilot, "f7", ReportsScreen)
    await until(pilot, lambda: scr.has_class("loaded") and scr._span is not None)
    return scr


async def _export(pilot: Any, scr: Any, what: str) -> None:
    scr.query_one("#out").value = what
    scr.query_one("#out").focus()
    await pilot.press("ctrl+e")
    await until(pilot, lambda: "已导出" in _text(scr, "#export-status"))


async def test_f7_a_typed_name_stays_across_a_month_but_the_question_names_the_month(tmp_path: Path) -> None:
    """February exported to 2月.csv; ``]`` to March: the 已导出 line goes, the typed name stays, and
    Ctrl+E asks "把 2026年3月 写入 …2月.csv（已存在）" before writing March over it."""
    from qi_station.screens.dialogs import ConfirmDialog

    out = tmp_path / "x" / "2月.csv"
    out.parent.mkdir()
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _f7(pilot, app)
        await pilot.press("[")
        await until(pilot, lambda: scr.month == "2026-02")
        await _export(pilot, scr, str(out))
        scr.query_one("#reports-body").focus()
        await pilot.press("]")
        await until(pilot, lambda: scr.month == "2026-03")
        assert "已导出" not in _text(scr, "#export-status") and not scr.query_one("#export-status").display
        assert scr.query_one("#out").value == str(out)
        await pilot.press("ctrl+e")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        asked = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "2026年3月" in asked and "2月.csv" in asked, asked


async def test_f7_the_apps_own_name_follows_the_month(tmp_path: Path) -> None:
    """A name of the app's pattern (qi-report-QI0001-2026-02.csv) becomes March's on ``]``."""
    folder = tmp_path / "y"
    folder.mkdir()
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _f7(pilot, app)
        await pilot.press("[")
        await until(pilot, lambda: scr.month == "2026-02")
        await _export(pilot, scr, str(folder / "qi-report-QI0001-2026-02.csv"))
        scr.query_one("#reports-body").focus()
        await pilot.press("]")
        await until(pilot, lambda: scr.month == "2026-03")
        assert scr.query_one("#out").value == str(folder / "qi-report-QI0001-2026-03.csv")
        assert not scr.query_one("#export-status").display


async def test_f7_after_esc_from_the_question_typing_goes_into_the_export_box(tmp_path: Path) -> None:
    """Esc on 覆盖？: back in 导出到 with the focus (a Tab and back, typing lands in the box)."""
    from textual.widgets import Input

    from qi_station.screens.dialogs import ConfirmDialog
    from qi_station.screens.reports import ReportsScreen

    out = tmp_path / "r.csv"
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _f7(pilot, app)
        await _export(pilot, scr, str(out))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ReportsScreen))
        await until(pilot, lambda: isinstance(app.focused, Input))
        box = scr.query_one("#out", Input)
        assert app.focused is box
        await pilot.press("tab")
        await settle(pilot)
        if app.focused is not box:
            await pilot.press("shift+tab")
            await settle(pilot)
        await pilot.press("end", "z")
        await settle(pilot)
        assert app.focused is box and box.value == str(out) + "z"


async def test_toasts_on_the_detail_keep_off_its_status_line_and_replace_their_kind(tmp_path: Path) -> None:
    """Two move results and a long warning on the request detail: the newer information toast replaces
    the older (no stack), and no toast lies over the 编号/状态 line."""
    from test_tui_journeys import rows
    from tui_pilot import notes, toasts

    from qi_station.screens.request_detail import RequestDetailScreen

    db = fixture_db(tmp_path)
    rid = rows(db, "SELECT id FROM request WHERE status = 'resolved'")[0][0]
    app = make_app(db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await until(
            pilot, lambda: isinstance(app.screen, RequestDetailScreen) and app.screen.has_class("loaded")
        )
        app.notify("已将 QI0001-202603-0001 改为 受理")
        app.notify("已将 QI0001-202603-0001 改为 办理中")
        app.notify(
            "该需求已转办给此对象：济南市计量检定测试院（计量），可在需求详情里查看转办记录",
            severity="warning",
        )
        await until(pilot, lambda: len(toasts(app)) == 2 and all(t.region.height for t in toasts(app)))
        assert [n for n in notes(app) if "改为" in n] == ["已将 QI0001-202603-0001 改为 办理中"]
        line = app.screen.query_one("#fields").region
        assert "状态:" in str(app.screen.query_one("#fields").render()).split("\n")[0]
        for t in toasts(app):
            assert t.region.bottom <= line.y or t.region.y > line.y, (t.region, line)


async def test_a_whole_request_number_finds_its_request_past_the_ledgers_filters(tmp_path: Path) -> None:
    """状态 = 已办结 set (the dashboard's ``u``), Ctrl+F, a whole number of a request in another status,
    Enter: the request opens (it said 没有符合条件的需求); the page line says the filters were not applied."""
    from test_tui_journeys import rows

    from qi_station.screens.ledger import LedgerScreen
    from qi_station.screens.request_detail import RequestDetailScreen

    db = fixture_db(tmp_path)
    rid, number = rows(db, "SELECT id, number FROM request WHERE status <> 'closed' AND deleted = 0")[0]
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        scr = await press_to(pilot, "f3", LedgerScreen)
        scr.apply_filters({"status": "closed", "element": "", "month": "", "overdue": False, "text": ""})
        await until(pilot, lambda: scr.has_class("loaded") and scr._query.get("status") == "closed")
        await pilot.press("ctrl+f")
        await pilot.press(*number)
        info = ""

        def seen() -> bool:
            nonlocal info
            info = _text(scr, "#page-info")
            return "未套用筛选" in info

        await until(pilot, seen)
        assert "第 1/1 条" in info and "没有符合条件" not in info, info
        await pilot.press("ctrl+f", "enter")
        await until(pilot, lambda: isinstance(app.screen, RequestDetailScreen))
        assert isinstance(app.screen, RequestDetailScreen) and app.screen.request_id == rid


@pytest.mark.parametrize("key", ["f3", "f5"])
async def test_ctrl_f_selects_the_search_text_so_typing_replaces_it(tmp_path: Path, key: str) -> None:
    """Ctrl+F into the ledger's or the library's search box with an old search in it: typing replaces
    the old text (it was appended); in the library Ctrl+T (the next library) leaves it selected too, and
    Ctrl+A selects all of it (it moved to the start)."""
    from textual.widgets import Input

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        box = app.screen.query_one("#f-text" if key == "f3" else "#q", Input)
        await pilot.press("ctrl+f", *"abc")
        await settle(pilot)
        app.screen.query_one("#ledger-table" if key == "f3" else "ResultList").focus()
        await settle(pilot)
        await pilot.press("ctrl+f", *"xy")
        await settle(pilot)
        assert box.value == "xy"
        await pilot.press("ctrl+f", *"uv")  # Ctrl+F again, the box already focused: replaced again
        await settle(pilot)
        assert box.value == "uv"
        if key == "f5":
            await pilot.press("ctrl+t", "z")
            await settle(pilot)
            assert box.value == "z" and app.focused is box
            await pilot.press("home", "ctrl+a", "w")
            await settle(pilot)
            assert box.value == "w"


async def test_f9_saved_says_how_the_profile_reaches_the_hub(tmp_path: Path) -> None:
    """F9 saved: the message no longer promises a change the dashboard's 待上传变更 does not count."""
    from tui_pilot import notes

    from qi_station.screens.profile import ProfileScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen))
        await until(pilot, lambda: app.screen.query_one("#region").value != "")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("站点信息已保存" in n for n in notes(app)))
        said = next(n for n in notes(app) if "站点信息已保存" in n)
        assert "不计入待上传变更" in said, said


async def test_f7_esc_from_the_question_asked_from_the_page_leaves_the_month_keys_on_the_page(
    tmp_path: Path,
) -> None:
    """Ctrl+E on the page, 覆盖？, Esc: the focus is back on the page, so ``[`` is the month key (the
    name in 导出到 stays); asked with Enter in 导出到, Esc leaves nothing selected there: ``[``
    adds to the name, never replaces it."""
    from textual.widgets import Input

    from qi_station.screens.dialogs import ConfirmDialog
    from qi_station.screens.reports import ReportsScreen

    out = tmp_path / "r.csv"
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _f7(pilot, app)
        await _export(pilot, scr, str(out))
        month = scr.month
        scr.query_one("#reports-body").focus()
        await pilot.press("ctrl+e")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ReportsScreen))
        await until(pilot, lambda: "未导出" in _text(scr, "#export-status"))
        await settle(pilot)
        assert not isinstance(app.focused, Input)
        await pilot.press("[")
        await until(pilot, lambda: scr.month != month)
        box = scr.query_one("#out", Input)
        assert box.value == str(out)
        # asked from 导出到 (Enter): back there, the name not selected
        box.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ReportsScreen) and app.focused is box)
        await settle(pilot)
        await pilot.press("[")
        await settle(pilot)
        assert box.value == str(out) + "["


async def test_f7_a_name_of_punctuation_only_is_refused_naming_the_field(tmp_path: Path) -> None:
    """导出到 reading ``[``: Ctrl+E writes no ``[.csv``, the answer names 导出到 and the rule."""
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _f7(pilot, app)
        scr.query_one("#out").value = str(tmp_path / "[")
        scr.query_one("#out").focus()
        await pilot.press("ctrl+e")
        await until(pilot, lambda: "导出到" in _text(scr, "#export-status"))
        assert "文件名" in _text(scr, "#export-status")
        assert not list(tmp_path.glob("[[]*"))
