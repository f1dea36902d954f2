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
