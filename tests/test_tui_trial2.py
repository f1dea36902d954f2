"""The second operator trial (tmux, 80x24, Chinese): the stumbles it found, each reproduced with a pilot
(the resolve dialog's every-error test is in test_tui_ops)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, settle
from test_tui_stumbles import _env, _open  # noqa: F401 - _env: the frozen clock, no config
from tui_pilot import req_id, until


async def test_down_from_the_search_box_lands_on_the_first_row(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "ledger", db)
        await pilot.press("ctrl+f", *"yantai")
        await until(pilot, lambda: app.screen.total == 2)
        await pilot.press("down")
        await settle(pilot)
        table = app.screen.query_one("#ledger-table")
        assert table.has_focus and table.cursor == 0
        first = table.row_at(0)["id"]
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.request_id == first


def _shown(app: Any, text: str) -> bool:
    """Is ``text`` on the screen (what the operator sees, not what is scrolled away)?"""
    from test_tui_stumbles import _lines

    return any(text in line for line in _lines(app))


async def _form(pilot: Any) -> Any:
    await settle(pilot)
    await pilot.press("f4")
    await settle(pilot)
    return pilot.app.screen


async def test_form_errors_are_in_view_at_80x24(tmp_path: Path) -> None:
    """Every error at once: the summary is on the screen, and a bad field low in the form is scrolled into
    view with its message (the operator need not scroll to find out why nothing was saved)."""
    from test_tui_helpers import ENTERPRISES

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _form(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert _shown(app, "4 处错误") and _shown(app, "企业名称: 必填")
        form.query_one("#enterprise").value = ENTERPRISES[1][0]
        form.query_one("#uscc").value = ENTERPRISES[1][1]
        form.query_one("#el-standards").checked = True
        form.query_one("#title").value = "校准"
        form.query_one("#form").scroll_home(animate=False)
        form.query_one("#enterprise").focus()
        form.query_one("#phone").value = "12"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.focused is form.query_one("#phone")
        assert _shown(app, "电话: 联系电话「12」无效（无此号码）") and _shown(app, "未保存")


async def test_an_edit_clears_its_fields_message_and_the_summary_follows(tmp_path: Path) -> None:
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _form(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        err = form.query_one("#err-elements")
        assert not err.has_class("hidden")
        await pilot.press(*"济南华泰")
        await settle(pilot)
        assert form.query_one("#err-enterprise").has_class("hidden") or "必填" not in str(
            form.query_one("#err-enterprise").render()
        )
        assert "3 处错误" in str(form.query_one("#form-error").render())
        form.query_one("#el-metrology").focus()
        await pilot.press("space")  # an element ticked: its message goes
        await settle(pilot)
        assert err.has_class("hidden")
        assert "2 处错误" in str(form.query_one("#form-error").render())


@pytest.mark.parametrize(
    ("received", "promised"), [("2026-03-20 10:00", "2026-04-03"), ("2026-03-18 09:00", "2026-04-01")]
)
async def test_a_restored_draft_shows_its_promised_date(tmp_path: Path, received: str, promised: str) -> None:
    """A draft keeps no computed promised date (the save counts it): the form shows the one it will count,
    also when the draft's time of receipt is the one the new form already shows."""
    from qi_station.services.drafts import save_draft

    db = fixture_db(tmp_path)
    data = {"enterprise": "济南华泰", "title": "draft", "received_at": received, "promised": ""}
    save_draft(db, "0190aaaa-0000-7000-8000-000000000001", data, "测试员")
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _form(pilot)
        await pilot.click("#ans-restore")
        await settle(pilot)
        form = app.screen
        assert form.query_one("#title").value == "draft"
        assert form.query_one("#promised").value == promised


async def test_the_profile_region_is_replaced_by_what_is_typed(tmp_path: Path) -> None:
    from textual.widgets import Input

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f9")
        await settle(pilot)
        region = app.screen.query_one("#region", Input)
        assert region.has_focus and region.value  # the stored code
        await pilot.press(*"370102")
        assert region.value == "370102"


async def test_a_notification_does_not_cover_the_request_timeline(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        app.open_request(req_id(db, "QI0001-202603-0002"))
        await settle(pilot)
        await pilot.press("n", *"abc", "ctrl+s")
        await settle(pilot)
        detail = app.screen
        detail.query_one("#detail").scroll_end(animate=False)
        await until(pilot, lambda: bool(detail.query("Toast")))
        toasts = [t.region for t in detail.query("Toast")]
        assert toasts and all(r.height == 1 for r in toasts), toasts
        bar = detail.query_one("#titlebar").region
        status = detail.query_one("#fields").region
        for r in toasts:
            # near the top (never on the breadcrumb: the 80x24 operator of stop 20, nor on the 编号/状态
            # line under it: the operator of stop 24, nor on 企业名称 and 信用代码/登记地: form4), far
            # from the timeline at the foot
            key = status.y + detail.key_rows
            assert r.y > bar.y and key <= r.y <= key + 3, (r, bar, status, detail.key_rows)
            assert not r.overlaps(detail.query_one("#timeline").region)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_status_and_its_overdue_mark_fit_the_ledger_column_at_80(lang: str) -> None:
    """Reached from the dashboard's 已逾期 card: 待企业反馈 !12 was cut to 待企业反馈 !."""
    from rich.cells import cell_len

    from qi_station.core import domain
    from qi_station.i18n import get_lang, set_lang, status_short
    from qi_station.screens.ledger import LedgerScreen

    old = get_lang()
    set_lang(lang)
    try:
        width = LedgerScreen._widths(80)["status"]
        for s in domain.STATUSES:
            assert cell_len(f"{status_short(s)} !123") <= width, (s, width)
    finally:
        set_lang(old)


async def test_a_bad_month_is_told_in_chinese_with_an_example(tmp_path: Path) -> None:
    from rich.cells import cell_len

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "ledger", db)
        app.screen.query_one("#f-month").focus()
        await pilot.press(*"2026-13", "enter")
        await settle(pilot)
        info = str(app.screen.query_one("#page-info").render())
        assert "「2026-13」不是月份" in info and "2026-03" in info and "YYYY" not in info, info
        assert cell_len(info) <= app.screen.query_one("#page-info").content_region.width, info  # never cut


async def test_the_palette_has_no_emoji_and_no_theme_command(tmp_path: Path) -> None:
    from test_tui_stumbles import _lines
    from textual.command import CommandPalette

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles and not any("配色" in x or "主题" in x or "theme" in x.lower() for x in titles)
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        text = "\n".join(_lines(app))
        assert "🔎" not in text and all(ord(ch) < 0x1F000 for ch in text)


async def test_tabbing_into_a_filled_field_does_not_select_its_text(tmp_path: Path) -> None:
    """The third operator trial: Tab into a filled field selected all of it, and one stray key wiped it
    (a whole filled form was lost that way). The cursor goes to the end; a key adds to the text."""
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _form(pilot)
        title = form.query_one("#title")
        title.value = "压力表校准"
        form.query_one("#enterprise").focus()
        await settle(pilot)
        title.focus()
        await settle(pilot)
        await pilot.press("Q")
        await settle(pilot)
        assert title.value == "压力表校准Q"
