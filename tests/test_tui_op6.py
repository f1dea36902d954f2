"""What an outside operator found at 80x24 (Chinese, demo data), round op6. Pilot tests at 80x24."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, rows, settle
from test_tui_op5 import open_form, six_yantai, suggestions, until
from tui_pilot import IN_PROGRESS, burst, open_detail, press_to, req_id

from qi_station.screens.ledger import LedgerScreen

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
        ledger = await press_to(pilot, "f3", LedgerScreen)
        ledger.query_one("#ledger-table").focus()
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


def _closed_rated_2(db: Path) -> str:
    from qi_station.db.session import dispose_all
    from qi_station.services.ledger import move_request

    number = _resolved(db)
    move_request(db, req_id(db, number), "closed", at="2026-03-19T10:00:00+08:00", satisfaction=2)
    dispose_all()
    return number


async def test_the_correction_window_shows_every_bad_field_and_reads_a_label(tmp_path: Path) -> None:
    """更正 满意度 to ``-l9`` with no 原因: both errors at once (it was 原因, then 满意度 on the next save);
    ``满意`` (the label form 原值 shows) is read as 4 and saved."""
    from qi_station.screens.correct_dialog import CorrectDialog

    db = fixture_db(tmp_path)
    number = _closed_rated_2(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db, number)
        dialog = await press_to(pilot, "c", CorrectDialog)
        dialog.query_one("#field").value = "satisfaction"
        dialog.query_one("#value").value = "-l9"
        await pilot.press("ctrl+s")
        error = dialog.query_one("#error")
        await until(pilot, lambda: "原因" in str(error.render()), "errors shown")
        shown = str(error.render())
        assert "满意度为1-5" in shown and "更正须填写原因" in shown, shown
        dialog.query_one("#value").value = "满意"
        dialog.query_one("#reason").value = "回访记录有误"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is not dialog, "saved")
        assert rows(db, "SELECT satisfaction FROM request WHERE number = ?", number) == [(4,)]


async def test_the_first_esc_closes_the_suggestions(tmp_path: Path) -> None:
    """In F4 with the suggestion list open, Esc closes the list (the name stays, focus in it); only the
    next Esc asks about leaving the form."""
    from qi_station.screens.form_dialogs import ChoicesDialog

    app = make_app(six_yantai(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        ol = await suggestions(pilot, form, "烟台")
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is form and ol.has_class("hidden")
        assert app.focused is form.query_one("#enterprise") and form.query_one("#enterprise").value == "烟台"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ChoicesDialog)


async def test_saving_a_filter_without_a_name_says_the_name_is_required(tmp_path: Path) -> None:
    from qi_station.screens.dialogs import InputDialog

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press_to(pilot, "f3", LedgerScreen)
        dialog = await press_to(pilot, "ctrl+s", InputDialog)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is dialog  # stays open, says why
        assert "筛选名称不能为空" in str(dialog.query_one("#error").render())


@pytest.mark.parametrize("typed", ["2026年3月", "202603", "2026/03"])
async def test_the_ledger_month_box_reads_the_usual_month_forms(tmp_path: Path, typed: str) -> None:
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        ledger = await press_to(pilot, "f3", LedgerScreen)
        ledger.query_one("#f-month").focus()
        await pilot.press(*"2026-03", "enter")
        await settle(pilot)
        march = ledger.total
        assert 0 < march < 5
        ledger.query_one("#f-month").value = ""
        ledger.query_one("#f-month").focus()
        await pilot.press(*typed, "enter")
        await settle(pilot)
        assert ledger.total == march
        assert "月份" not in str(ledger.query_one("#page-info").render())


async def test_export_over_a_file_asks_at_once_and_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F7 Ctrl+E to an existing report: the 覆盖 / 取消 question comes before the report is computed (it
    came 5-8 s later, after an inline "已存在，覆盖吗？"), and the page's status line does not ask too."""
    from textual.widgets import Input

    import qi_station.reports.figures as figures
    from qi_station.screens.dialogs import ConfirmDialog
    from qi_station.screens.reports import ReportsScreen

    computed: list[str] = []
    real = figures.monthly_report

    def counted(*a: Any, **kw: Any) -> Any:
        computed.append(a[1])
        return real(*a, **kw)

    monkeypatch.setattr(figures, "monthly_report", counted)
    out = tmp_path / "report.csv"
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        scr = await press_to(pilot, "f7", ReportsScreen)
        scr.query_one("#out", Input).value = str(out)
        await pilot.press("ctrl+e")
        await until(pilot, out.exists, "the first export")
        await settle(pilot)
        before = len(computed)
        await pilot.press("ctrl+e")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        assert len(computed) == before  # asked before computing
        assert "覆盖" not in str(scr.query_one("#export-status").render())


async def test_back_on_f7_the_page_keys_work(tmp_path: Path) -> None:
    """Back on F7 after leaving it from 导出到, ``[`` changes the month (it was typed into the file name)."""
    from qi_station.screens.reports import ReportsScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        scr = await press_to(pilot, "f7", ReportsScreen)
        scr.query_one("#out").focus()
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        assert app.screen is scr
        month = scr.month
        await pilot.press("[")
        await settle(pilot)
        assert scr.query_one("#out").value == ""
        assert scr.month != month


async def test_detail_continuations_hang_under_the_value(tmp_path: Path) -> None:
    """A multi-line description continues under its value (not at the label), a wrapped log line never
    leaves ``收费金额(元):`` apart from its amount."""
    from qi_station.db.session import dispose_all
    from qi_station.services.ledger import RequestInput, create_request, move_request

    db = fixture_db(tmp_path)
    r = create_request(
        db,
        RequestInput(
            "烟台鲁星精密机械有限公司",
            rows(db, "SELECT uscc FROM enterprise WHERE name = '烟台鲁星精密机械有限公司'")[0][0],
            ["testing"],
            "检测",
            description="第一行：拉伸试验\n第二行：硬度试验",
            received_at="2026-03-19T09:00:00",
            promised="2026-03-25",
        ),
    )
    for to in ("accepted", "in_progress"):
        move_request(db, r["id"], to, at="2026-03-19T10:00:00")
    move_request(
        db,
        r["id"],
        "resolved",
        at="2026-03-19T11:00:00",
        result="出具报告",
        problems_solved=1,
        fee="1200.50",
        note="已电话告知企业负责人领取报告",
    )
    dispose_all()
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_detail(pilot, db, str(r["number"]))

        def shown(wid: str) -> list[str]:
            box = detail.query_one(wid)
            return [str(line.text).rstrip() for line in box.render_lines(box.region.reset_offset)]

        fields = shown("#fields")
        first = next(i for i, line in enumerate(fields) if "第一行" in line)
        from rich.cells import cell_len

        def at(line: str, word: str) -> int:  # the cell the word starts at
            return cell_len(line[: line.index(word)])

        assert at(fields[first + 1], "第二行") == at(fields[first], "第一行"), fields
        log = shown("#timeline")
        assert not any(line.endswith(":") for line in log), log
        assert any("收费金额（元）: 1200.50" in line for line in log), log


async def test_the_referral_window_uses_the_width_and_keeps_the_reasons(tmp_path: Path) -> None:
    """转办 at 80 columns: the window is as wide as the screen (the page no longer shows on its right)
    and each suggestion keeps its reasons whole (it was cut as "(要素 2, 资质有效, 在办.."): the name is
    shortened instead."""
    from textual.containers import Vertical

    from qi_station.screens.dialogs import ReferDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db)
        dialog = await press_to(pilot, "r", ReferDialog)
        assert dialog.query_one(Vertical).region.width == 80


async def test_a_long_suggestion_shortens_its_name_not_its_reasons() -> None:
    from rich.cells import cell_len

    from qi_station.screens.dialogs import _suggestion_line

    it = {
        "score": 87,
        "name": "山东省计量科学研究院烟台分院国家衡器产品质量检验检测中心",
        "city_name": "烟台市",
    }
    why = ["要素 2", "同城", "资质有效", "在办 3"]
    line = _suggestion_line(it, why, 72)
    assert cell_len(line) <= 72 and line.endswith("(要素 2, 同城, 资质有效, 在办 3)") and ".." in line
    short = _suggestion_line({**it, "name": "王建国"}, why, 72)
    assert short == " 87  王建国  烟台市  (要素 2, 同城, 资质有效, 在办 3)"


async def test_ctrl_s_twice_in_the_note_dialog_writes_the_note_once(tmp_path: Path) -> None:
    """op7: 备注, a note typed, then Ctrl+S Ctrl+S in one burst wrote the note twice (two hash-chained
    events that go to the hub) and the second answer closed the request's detail too. A dialog's write
    goes once; the operator stays on the detail with one note."""
    from tui_pilot import until as until_shown

    from qi_station.screens.dialogs import NoteDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_detail(pilot, db)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, NoteDialog)
        await pilot.press(*"双击保存")
        dialog = app.screen
        dialog.action_ok()  # Ctrl+S twice before the first write's answer (a slow disk, a busy PC)
        dialog.action_ok()
        burst(app, "ctrl+s")  # and once more as a key in the same burst
        await until_shown(pilot, lambda: not isinstance(app.screen, NoteDialog))
        await settle(pilot)
        rid = req_id(db, IN_PROGRESS)
        sql = "SELECT COUNT(*) FROM request_event WHERE request_id = ? AND kind = 'note' AND note = ?"
        assert rows(db, sql, rid, "双击保存")[0][0] == 1
        assert app.screen is detail, app.screen
