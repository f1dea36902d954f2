"""What an outside operator found at 80x24 (Chinese, demo data), round op6. Pilot tests at 80x24."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, rows, settle
from test_tui_op5 import open_form, six_yantai, suggestions, until
from tui_pilot import burst, open_detail, req_id

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("tui_env")]


async def test_down_down_enter_in_a_burst_picks_the_second_suggestion(tmp_path: Path) -> None:
    """↓ ↓ Enter typed in one burst over the suggestions: the second one is picked (it was nothing, item 1
    highlighted, and a later Enter picked item 1)."""
    app = make_app(six_yantai(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await suggestions(pilot, form, "烟台")
        picked = form._enterprises[1]
        burst(app, "down", "down", "enter")
        name = form.query_one("#enterprise")
        await until(pilot, lambda: name.value == picked["name"], "the second suggestion picked")
        assert form.query_one("#uscc").value == picked["uscc"]


def _resolved(db: Path) -> str:
    return str(rows(db, "SELECT number FROM request WHERE status = 'resolved'")[0][0])


async def test_v_4_in_a_burst_from_the_detail_rates_the_close(tmp_path: Path) -> None:
    """From the detail, ``v 4`` in one burst: the 回访 window opens and the 4 lands in its rating."""
    from qi_station.screens.dialogs import MoveDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db, _resolved(db))
        burst(app, "v", "4")
        await until(
            pilot,
            lambda: isinstance(app.screen, MoveDialog) and app.screen.query_one("#satisfaction").value == 4,
            "4 chosen",
        )


async def test_a_burst_from_the_ledger_opens_rates_and_saves(tmp_path: Path) -> None:
    """On the ledger, ``o v 4 Ctrl+S`` in one burst: the request opens, 回访 opens, 4 is chosen and the
    close is saved (only the request opened)."""
    from qi_station.screens.request_detail import RequestDetailScreen

    db = fixture_db(tmp_path)
    number = _resolved(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.ledger_preset = {"status": "resolved"}
        await pilot.press("f3")
        await settle(pilot)
        app.screen.query_one("#ledger-table").focus()
        await settle(pilot)
        burst(app, "enter", "v", "4", "ctrl+s")
        await until(
            pilot,
            lambda: (
                rows(db, "SELECT status, satisfaction FROM request WHERE number = ?", number)
                == [("closed", 4)]
            ),
            "closed with 4",
        )
        assert isinstance(app.screen, RequestDetailScreen)
        assert req_id(db, number)


def _footer_words(app: Any) -> list[str]:
    """The keys' words in the footer drawn on the bottom row (the current screen's own footer)."""
    from qi_station.screens.footer import StationFooter

    screen = app.screen
    widget, _ = screen.get_widget_at(2, screen.size.height - 1)
    footer = next((n for n in (widget, *widget.ancestors) if isinstance(n, StationFooter)), None)
    assert footer is not None and footer.screen is screen, widget
    return [str(k.description) for k in footer.query("FooterKey")]


async def test_a_dialog_shows_its_own_keys_in_the_footer(tmp_path: Path) -> None:
    """Under 备注 (and every dialog) the bottom row shows the dialog's keys (确定 / 取消), not the page's
    (受理, 转办 ...)."""
    from qi_station.screens.dialogs import NoteDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, NoteDialog)
        words = _footer_words(app)
        assert "确定" in words and "取消" in words, words
        assert "转办" not in words and "备注" not in words, words


async def test_ctrl_s_in_the_draft_window_keeps_the_draft(tmp_path: Path) -> None:
    """The draft window (保存草稿 / 放弃 / 继续编辑): its footer says ^s 保存草稿 and Esc 继续编辑, and
    Ctrl+S keeps the draft and leaves the form (it did nothing, the form's ^s 保存 showing)."""
    from qi_station.screens.form_dialogs import ChoicesDialog
    from qi_station.screens.request_form import RequestFormScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#title").focus()
        await settle(pilot)
        await pilot.press(*"换证咨询")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ChoicesDialog)
        words = _footer_words(app)
        assert "保存草稿" in words and "继续编辑" in words, words
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, (ChoicesDialog, RequestFormScreen)), app.screen
        from qi_station.services.drafts import latest_draft

        draft = latest_draft(app.db_path)
        assert draft is not None and "换证咨询" in str(draft), draft
