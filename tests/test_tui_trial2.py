"""The second operator trial (tmux, 80x24, Chinese): the stumbles it found, each reproduced with a pilot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db
from test_tui_journeys import make_app, settle
from test_tui_stumbles import _open, _until

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


async def test_down_from_the_search_box_lands_on_the_first_row(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "ledger", db)
        await pilot.press("ctrl+f", *"yantai")
        await _until(pilot, lambda: app.screen.total == 2)
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
        assert _shown(app, "电话: 电话号码无效") and _shown(app, "未保存")


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
