"""TUI leftovers: a Choice filled while a layout is pending, keys typed before the enterprise suggestions
show, a burst of moves in the request detail, toasts over wide text, the page-hint line under a dialog,
the month box, the enterprise page's 更多, the F7 overwrite question."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tui_pilot import until

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("tui_env")]


async def test_a_choice_set_while_a_layout_is_pending_fits_its_label() -> None:
    """站点信息 (F9) under load: the worker's answer set 园区工作站 while the Choice's first layout was still
    pending, and it kept the width of 综合服务中心 (the snapshot's row showed a stray wide block)."""
    from rich.cells import cell_len
    from textual.app import App
    from textual.containers import Horizontal

    from qi_station.screens.widgets import Choice

    class One(App[None]):
        def compose(self) -> Any:
            with Horizontal():
                yield Choice([("long", "Comprehensive service center"), ("short", "Park")], id="c")

    app = One()
    async with app.run_test(size=(80, 5)) as pilot:
        choice = app.query_one("#c", Choice)
        await until(pilot, lambda: choice.region.width == cell_len("< Comprehensive service center >") + 2)
        choice._layout_required = True  # a layout of it still pending, as under load (private: the race)
        choice.value = "short"
        want = cell_len("< Park >") + 2
        await until(pilot, lambda: choice.region.width == want)
        assert choice.region.width == want


async def test_a_name_then_down_enter_before_the_suggestions_show_picks_the_first(tmp_path: Path) -> None:
    """烟台 ↓ Enter in one burst, before the suggestions for 烟台 are shown: ↓ waits for them and Enter
    picks the first (both keys were dropped: ↓ found no list, Enter did nothing)."""
    from test_tui_journeys import make_app
    from test_tui_op5 import open_form, six_yantai
    from tui_pilot import burst

    app = make_app(six_yantai(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        burst(app, *"烟台", "down", "enter")
        name, uscc = form.query_one("#enterprise"), form.query_one("#uscc")
        await until(pilot, lambda: bool(uscc.value))
        first = form._enterprises[0]
        assert (name.value, uscc.value) == (first["name"], first["uscc"])


async def test_accept_then_start_in_one_burst_makes_both_moves(tmp_path: Path) -> None:
    """In the detail of a new request, ``a Ctrl+S s Ctrl+S`` in one burst: 受理 then 办理 (the ``s`` came
    while 受理 was being written and was lost, and the second Ctrl+S with it)."""
    from test_tui_helpers import fixture_db
    from test_tui_journeys import make_app, rows
    from tui_pilot import burst, open_detail

    db = fixture_db(tmp_path)
    number = "QI0001-202601-0001"
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_detail(pilot, db, number)
        burst(app, "a", "ctrl+s", "s", "ctrl+s")
        await until(
            pilot,
            lambda: app.screen is detail and detail.req and detail.req["status"] == "in_progress",
        )
        assert rows(db, "SELECT status FROM request WHERE number = ?", number) == [("in_progress",)]


def _text(app: Any) -> str:
    """What the terminal shows (80 columns), as text."""
    import io

    from rich.console import Console

    console = Console(width=80, record=True, file=io.StringIO(), legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))  # no public text of a frame: tests only
    return console.export_text()


async def test_the_page_keys_line_is_hidden_under_a_dialog(tmp_path: Path) -> None:
    """走访培训活动 says ``[ ] 切换月份`` on its last line; under a dialog those keys are the dialog's, so
    the line is hidden while it is open and back after it."""
    from test_tui_helpers import fixture_db
    from test_tui_journeys import make_app, settle

    from qi_station.screens.activity import ActivityScreen
    from qi_station.screens.profile import ProfileScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ActivityScreen) and "切换月份" in _text(app))
        assert "切换月份" in _text(app)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen) and "切换月份" not in _text(app))
        assert "切换月份" not in _text(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ActivityScreen) and "切换月份" in _text(app))
        assert "切换月份" in _text(app)


async def test_the_month_box_shows_a_whole_chinese_month(tmp_path: Path) -> None:
    """台账's month box typed 2026年11月 showed 026年11月 (ten cells and the cursor in ten)."""
    from test_tui_helpers import fixture_db
    from test_tui_journeys import make_app, settle

    from qi_station.screens.ledger import LedgerScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, LedgerScreen))
        app.screen.query_one("#f-month").focus()
        await pilot.press(*"2026年11月")
        await until(pilot, lambda: "2026年11月" in _text(app))
        assert "2026年11月" in _text(app)


async def test_the_enterprise_page_offers_more_only_while_some_are_not_shown(tmp_path: Path) -> None:
    """An enterprise whose requests and referrals are all shown: no ``] 更多`` in the footer."""
    from test_tui_helpers import fixture_db
    from test_tui_journeys import make_app
    from tui_pilot import footer_text, open_detail

    from qi_station.screens.enterprise import EnterpriseScreen

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EnterpriseScreen) and app.screen.ent is not None)
        assert app.screen.requests and not app.screen._has_more()
        assert footer_text(app, "more") is None
        assert "更多" not in _text(app)


async def test_cancelling_the_overwrite_question_returns_to_the_export_field(tmp_path: Path) -> None:
    """F7, 导出到 an existing file, Enter: 覆盖？ -- 取消 puts the cursor back in 导出到 (it went to the
    page, and the next name typed went nowhere)."""
    from test_tui_helpers import fixture_db
    from test_tui_journeys import make_app, settle

    from qi_station.screens.dialogs import ConfirmDialog
    from qi_station.screens.reports import ReportsScreen

    existing = tmp_path / "月报.csv"
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await until(pilot, lambda: isinstance(app.screen, ReportsScreen))
        out = app.screen.query_one("#out")
        out.focus()
        out.value = str(existing)
        await pilot.press("enter")  # the report written once
        await until(pilot, lambda: existing.exists() and not app.screen.workers)
        await pilot.press("enter")  # again: 覆盖？
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert isinstance(app.screen, ConfirmDialog), str(app.screen.query_one("#export-status").render())
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ReportsScreen) and app.focused is out)
        assert app.focused is out


async def test_a_toast_over_chinese_text_keeps_every_character(tmp_path: Path) -> None:
    """A toast over the ledger's filter row (edges of its boxes under the toast): the restore notice
    read 数据库已  备份恢复, its 从 cut into two blanks by an edge underneath."""
    from test_tui_helpers import fixture_db
    from test_tui_journeys import make_app, settle
    from tui_pilot import toasts

    from qi_station.i18n import t
    from qi_station.screens.ledger import LedgerScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, LedgerScreen))
        app.notify(t("msg.db_restored", when="2026-03-20 10:00"), severity="warning", timeout=30)
        await until(pilot, lambda: bool(toasts(app)) and "数据库已从备份恢复" in _text(app))
        lines = [line for line in _text(app).splitlines() if "数据库" in line]
        assert lines and "数据库已从备份恢复" in lines[0], lines


async def test_a_toast_never_covers_the_forms_name_field(tmp_path: Path) -> None:
    """F4 with a toast showing: the toast sits above the hint line, not over 企业名称 being typed in."""
    from test_tui_helpers import fixture_db
    from test_tui_journeys import make_app
    from test_tui_op5 import open_form
    from tui_pilot import toasts

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        form = await open_form(pilot)
        app.notify("数据库已从备份恢复：界面已重新载入恢复后的数据", timeout=30)
        await until(pilot, lambda: bool(toasts(app)) and toasts(app)[0].region.height > 0)
        name = form.query_one("#enterprise").region
        hint = form.query_one("#form-error").region
        for toast in toasts(app):
            assert not toast.region.overlaps(name), (toast.region, name)
            assert not toast.region.overlaps(hint), (toast.region, hint)
