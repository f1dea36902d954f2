"""What an outside operator found at 80x24 (Chinese, demo data), round op5. Pilot tests at 80x24."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db, uscc
from test_tui_journeys import make_app, rows, settle

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("tui_env")]


async def until(pilot: Any, ready: Any, what: str) -> None:
    """Wait for observed progress (a worker's answer landing), never a fixed time."""
    for _ in range(500):
        await settle(pilot, rounds=1)
        if ready():
            return
    raise AssertionError(f"never happened: {what}")


async def open_form(pilot: Any) -> Any:
    from qi_station.screens.request_form import RequestFormScreen

    await settle(pilot)
    await pilot.press("f4")
    await settle(pilot)
    assert isinstance(pilot.app.screen, RequestFormScreen)
    return pilot.app.screen


def six_yantai(tmp_path: Path) -> Path:
    """The fixture plus five more 烟台 enterprises: six suggestions for 烟台, as in the demo data."""
    from qi_station.db.session import dispose_all
    from qi_station.services.ledger import RequestInput, create_request

    db = fixture_db(tmp_path)
    for i in range(5):
        create_request(
            db, RequestInput(f"烟台第{i}机械有限公司", uscc(f"91370600MA3D0000{i}"), ["testing"], "检测")
        )
    dispose_all()
    return db


async def suggestions(pilot: Any, form: Any, typed: str) -> Any:
    await pilot.press(*typed)
    ol = form.query_one("#ent-list")
    await until(pilot, lambda: not ol.has_class("hidden") and ol.option_count, "suggestions shown")
    return ol


async def test_down_enter_picks_a_suggestion_when_the_list_makes_the_form_scroll(tmp_path: Path) -> None:
    """Six matches at 80x24: Down went to the scrolling form (the name left the screen) and Enter
    picked nothing. Down now goes into the list, Down moves in it, Enter fills the name and USCC."""
    app = make_app(six_yantai(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        ol = await suggestions(pilot, form, "烟台")
        assert ol.option_count == 6
        scroller = form.query_one("#form")
        assert scroller.max_scroll_y > 0  # the case that failed: the form can scroll
        await pilot.press("down")
        await settle(pilot)
        assert app.focused is ol
        assert scroller.scroll_y == 0  # the name box stays on the screen
        await pilot.press("down")
        await settle(pilot)
        assert ol.highlighted == 1
        picked = form._enterprises[1]
        await pilot.press("enter")
        await settle(pilot)
        assert form.query_one("#enterprise").value == picked["name"]
        assert form.query_one("#uscc").value == picked["uscc"]
        assert app.focused is form.query_one("#el-standards")


async def test_typing_after_a_pick_goes_on_at_the_end_of_the_name(tmp_path: Path) -> None:
    """After 济南华 Down Enter, Shift+Tab twice and typing landed mid-name (济南华Q泰...)."""
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await suggestions(pilot, form, "济南华")
        await pilot.press("down", "enter")
        await settle(pilot)
        name = form.query_one("#enterprise")
        assert name.value == "济南华泰食品股份有限公司"
        await pilot.press("shift+tab", "shift+tab")
        await settle(pilot)
        assert app.focused is name
        await pilot.press("Q")
        await settle(pilot)
        assert name.value == "济南华泰食品股份有限公司Q"


async def test_export_asks_before_overwriting_and_cancel_is_the_default(tmp_path: Path) -> None:
    """F7 Ctrl+E twice said "文件已存在，用 --force 覆盖" (the TUI has no --force). It asks now: Enter
    (取消 first) keeps the file; 覆盖 writes it again through the writer's own --force path."""
    from textual.widgets import Input

    from qi_station.screens.dialogs import ConfirmDialog
    from qi_station.screens.reports import ReportsScreen

    out = tmp_path / "report.csv"
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        scr = app.screen
        assert isinstance(scr, ReportsScreen)
        scr.query_one("#out", Input).value = str(out)
        status = scr.query_one("#export-status")
        await pilot.press("ctrl+e")
        await until(pilot, out.exists, "the first export")
        out.write_bytes(
            b"\xef\xbb\xbf" + out.read_bytes()[3:].replace(b"\n", b"\r\n", 1)
        )  # marked, still ours
        before = out.read_bytes()
        await pilot.press("ctrl+e")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        dialog = app.screen
        assert "覆盖" in str(dialog.query_one(".dialog-title").render())
        assert app.focused is dialog.query_one("#no")  # 取消 is the default
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is scr
        assert out.read_bytes() == before
        assert "未导出" in str(status.render())
        await pilot.press("ctrl+e")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question again")
        await pilot.press("left", "enter")  # 覆盖
        await until(pilot, lambda: "已导出" in str(status.render()), "the overwrite")
        assert out.read_bytes() != before


async def test_tab_from_the_kind_reaches_the_referral_note(tmp_path: Path) -> None:
    """r, Right (机构库), Tab, typing, Ctrl+S: the first Tab landed on the suggestions, which swallowed
    the typing, and the referral was saved with no note. The list is moved by the arrows from any
    field, so Tab goes from the kind straight to the note."""
    from textual.widgets import Input

    from qi_station.db.session import dispose_all
    from qi_station.screens.dialogs import ReferDialog
    from qi_station.services.ledger import move_request

    db = fixture_db(tmp_path)
    rid = rows(db, "SELECT id FROM request WHERE number = 'QI0001-202603-0001'")[0][0]  # metrology
    move_request(db, rid, "in_progress", at="2026-03-03T09:00:00", actor="小刘")  # 处理中
    dispose_all()
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        detail = app.screen
        await pilot.press("r")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ReferDialog)
        await pilot.press("right")
        await until(pilot, lambda: not dialog._loading and dialog.items, "the institutions")
        assert dialog.items[0]["kind"] == "institution"
        await pilot.press("tab", *"请尽快联系")
        await settle(pilot)
        assert app.focused is dialog.query_one("#note")
        assert dialog.query_one("#note", Input).value == "请尽快联系"
        dialog.query_one("#reason", Input).value = "企业指定"  # in case the institution needs a reason
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is detail, "the referral saved")
    assert rows(db, "SELECT kind, note FROM referral WHERE request_id = ?", rid) == [
        ("institution", "请尽快联系")
    ]


async def test_the_activities_page_opens_with_its_first_field_focused(tmp_path: Path) -> None:
    """F2 t opened the page with the scrolling body focused: typing went nowhere and after Tab every
    key landed one field late. The first field (类型) is focused: Tab, then typing, reaches 日期."""
    from qi_station.screens.activity import ActivityScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        scr = app.screen
        assert isinstance(scr, ActivityScreen)
        assert app.focused is scr.query_one("#kind")
        await pilot.press("tab", "ctrl+u", *"2026-03-05")
        await settle(pilot)
        assert app.focused is scr.query_one("#date")
        assert scr.query_one("#date").value == "2026-03-05"


async def test_the_library_refuses_at_once_to_refer_a_cancelled_request(tmp_path: Path) -> None:
    """A cancelled request open, F5, Ctrl+T, Ctrl+R: the dialog opened and refused only on save. The
    referral's own rule (domain.check_refer) refuses at once, with the reason, and no dialog opens."""
    from qi_station.db.session import dispose_all
    from qi_station.screens.libraries import LibrariesScreen
    from qi_station.screens.result_list import ResultList
    from qi_station.services.ledger import move_request

    db = fixture_db(tmp_path)
    rid = rows(db, "SELECT id FROM request WHERE number = 'QI0001-202603-0001'")[0][0]
    move_request(db, rid, "cancelled", note="企业撤回", at="2026-03-03T09:00:00", actor="小刘")
    dispose_all()
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        lib = app.screen
        assert isinstance(lib, LibrariesScreen)
        await pilot.press("ctrl+t")  # 机构库
        await settle(pilot)
        assert lib.rows
        lib.query_one(ResultList).focus()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: any("不能转办" in str(n.message) for n in app._notifications), "refusal")
        assert app.screen is lib  # no dialog
        assert any("已取消" in str(n.message) for n in app._notifications)
    assert rows(db, "SELECT COUNT(*) FROM referral WHERE request_id = ?", rid) == [(0,)]


async def test_the_command_palette_names_keys_as_people_read_them(tmp_path: Path) -> None:
    """Ctrl+P on F7 listed "上月 (left_square_bracket)" and "导出 (ctrl+e)"; F1's help uses the same
    one home (bindings.key_text)."""
    from qi_station.screens.help import HelpScreen
    from qi_station.screens.reports import ReportsScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        assert isinstance(app.screen, ReportsScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "上月 ([)" in titles and "下月 (])" in titles, titles
        assert any(x.endswith(" (Ctrl+E)") for x in titles), titles
        assert not any("square_bracket" in x or "ctrl+" in x or "(^" in x for x in titles), titles
        keys = [k for k, _desc, _id in HelpScreen(app.screen).rows()]
        assert "[" in keys and "Ctrl+E" in keys, keys


async def test_a_full_width_uscc_is_shown_half_width_on_leaving_the_box(tmp_path: Path) -> None:
    """９１３７…ＭＡ… was accepted but the box showed only its tail and kept the full-width form: on
    leaving the box it is the core's normal form (validate.normalize_uscc), all of it visible."""
    from qi_station.core.validate import normalize_uscc

    full = "９１３７０２１２ＭＡ３ＸＹ１２３４６"
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await pilot.press("tab", *full)
        await settle(pilot)
        box = form.query_one("#uscc")
        assert box.value == full
        await pilot.press("tab")
        await settle(pilot)
        assert box.value == normalize_uscc(full) == "91370212MA3XY12346"
        assert "91370212MA3XY12346" in box.render_line(0).text  # the whole code in view


async def test_the_channel_list_stays_over_the_form_and_does_not_wrap(tmp_path: Path) -> None:
    """渠道's list stood alone on a blank screen and Up from its top went to the bottom: the form stays
    in view behind it, and Up at the top / Down at the bottom stay where they are."""
    from textual.widgets import OptionList

    from qi_station.screens.widgets import ChoiceMenu

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#channel").focus()
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        menu = app.screen
        assert isinstance(menu, ChoiceMenu)
        assert menu.styles.background.a < 1  # see-through: the form is drawn behind it
        assert "企业名称" in app.export_screenshot() and "信用代码" in app.export_screenshot()
        ol = menu.query_one(OptionList)
        ol.highlighted = 0
        await pilot.press("up")
        await settle(pilot)
        assert ol.highlighted == 0
        ol.highlighted = ol.option_count - 1
        await pilot.press("down")
        await settle(pilot)
        assert ol.highlighted == ol.option_count - 1
        await pilot.press("up")
        await settle(pilot)
        assert ol.highlighted == ol.option_count - 2
