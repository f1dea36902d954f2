"""Pilot tests of the operator journeys (issue 3). Each test gets its own copy of the fixture DB."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


@pytest.fixture
def station_db(tmp_path: Path) -> Path:
    return fixture_db(tmp_path)


def make_app(db: Path, lang: str = "zh", config: dict[str, Any] | None = None) -> Any:
    from qi_station.app import StationApp

    return StationApp(db, lang=lang, config=config or {}, offer_demo=False)


async def settle(pilot: Any, rounds: int = 3) -> None:
    """Let thread workers finish and their results land (workers may start more workers)."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


async def test_log_a_request_start_to_finish(station_db: Path) -> None:
    from qi_station.screens.request_detail import RequestDetailScreen
    from qi_station.screens.request_form import RequestFormScreen
    from qi_station.screens.widgets import Chip

    app = make_app(station_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert isinstance(app.screen, RequestFormScreen)
        await pilot.press(*"ytl")  # pinyin initials of 烟台鲁星...
        await pilot.pause(0.3)
        await settle(pilot)
        assert not app.screen.query_one("#ent-list").has_class("hidden")
        await pilot.press("down", "enter")  # the manual: ↓ into the suggestions (Tab goes on to the USCC)
        await settle(pilot)
        form = app.screen
        assert form.query_one("#enterprise").value == "烟台鲁星精密机械有限公司"
        assert form.query_one("#uscc").value.startswith("91370600")
        assert "烟台" in str(form.query_one("#uscc-region").render())
        form.query_one("#el-metrology", Chip).focus()
        await pilot.press("space")
        form.query_one("#title").focus()
        await pilot.press(*"cmm")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, RequestDetailScreen)
    got = rows(station_db, "SELECT title, status, elements, channel FROM request WHERE title = 'cmm'")
    assert got == [("cmm", "new", '["metrology"]', "walk_in")]


async def test_invalid_uscc_shows_message_and_saves_nothing(station_db: Path) -> None:
    from qi_station.screens.request_form import RequestFormScreen

    before = rows(station_db, "SELECT count(*) FROM request")[0][0]
    ents = rows(station_db, "SELECT count(*) FROM enterprise")[0][0]
    app = make_app(station_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, RequestFormScreen)
        form.query_one("#enterprise").value = "新企业有限公司"
        form.query_one("#uscc").focus()
        await pilot.press(*"91370600MA3C000010")  # wrong check character
        await pilot.pause()
        err = str(form.query_one("#err-uscc").render())
        assert "校验码" in err
        form.query_one("#el-testing").checked = True
        form.query_one("#title").value = "检测"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form  # still on the form, input kept
        assert form.query_one("#uscc").value == "91370600MA3C000010"
        assert form.query_one("#title").value == "检测"
        assert "校验码" in str(form.query_one("#err-uscc").render())
        assert not form.query_one("#err-uscc").has_class("hidden")
    assert rows(station_db, "SELECT count(*) FROM request")[0][0] == before
    assert rows(station_db, "SELECT count(*) FROM enterprise")[0][0] == ents


async def test_uscc_of_an_unknown_category_warns_and_saves(station_db: Path) -> None:
    """A valid USCC whose department/category pair GB 32100 does not know: the form says what to check
    and saves all the same (codes issued under older tables exist)."""
    from qi_station.core.validate import uscc_check_char
    from qi_station.screens.request_detail import RequestDetailScreen
    from qi_station.screens.request_form import RequestFormScreen

    code = "94370600MA3C00001"
    code += uscc_check_char(code)
    app = make_app(station_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, RequestFormScreen)
        form.query_one("#enterprise").value = "某协会"
        form.query_one("#uscc").focus()
        await pilot.press(*code)
        await pilot.pause()
        label = form.query_one("#uscc-region")
        assert "94" in str(label.render()) and label.has_class("warning")
        form.query_one("#el-testing").checked = True
        form.query_one("#title").value = "检测"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, RequestDetailScreen)
    assert rows(station_db, "SELECT count(*) FROM enterprise WHERE uscc = ?", code)[0][0] == 1


def _request_id(db: Path, number: str) -> str:
    return rows(db, "SELECT id FROM request WHERE number = ?", number)[0][0]


async def test_lifecycle_only_legal_moves(station_db: Path) -> None:
    """new -> accepted -> in progress through the move dialogs; only legal moves are offered; a referral
    with nothing to refer to is refused with a message."""
    from qi_station.screens.dialogs import MoveDialog, ReferDialog
    from qi_station.screens.request_detail import RequestDetailScreen

    rid = _request_id(station_db, "QI0001-202603-0003")  # new, 商标注册指导 (ip)
    app = make_app(station_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, RequestDetailScreen)
        footer_actions = {b.binding.id for b in app.screen.active_bindings.values() if b.enabled}
        assert "detail.accept" in footer_actions and "detail.resolve" not in footer_actions
        await pilot.press("d")  # resolve is illegal from new: nothing happens
        await settle(pilot)
        assert app.screen is detail

        for key, status in (("a", "accepted"), ("s", "in_progress")):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, MoveDialog)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen is detail
            assert rows(station_db, "SELECT status FROM request WHERE id = ?", rid)[0][0] == status

        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ReferDialog)
        dialog = app.screen
        assert dialog.items == []  # the request is about IP; no expert in the fixture covers it
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is dialog
        assert "请先选择" in str(dialog.query_one("#error").render())
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is detail

    # the fixture has no IP expert: the dialog must say so rather than refer blindly
    assert rows(station_db, "SELECT count(*) FROM referral WHERE request_id = ?", rid)[0][0] == 0


async def test_refer_resolve_close_with_suggestion(station_db: Path) -> None:
    from qi_station.screens.dialogs import MoveDialog, ReferDialog

    rid = _request_id(station_db, "QI0001-202603-0002")  # in progress, standards + certification
    app = make_app(station_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        detail = app.screen
        await pilot.press("r")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ReferDialog)
        assert [i["name"] for i in dialog.items][:2] == ["李秀兰", "单立新"]  # ranked: element + same city
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is detail
        assert rows(station_db, "SELECT status FROM request WHERE id = ?", rid)[0][0] == "referred"
        assert rows(station_db, "SELECT item_name FROM referral WHERE request_id = ?", rid) == [("李秀兰",)]

        await pilot.press("d")
        await settle(pilot)
        move = app.screen
        assert isinstance(move, MoveDialog)
        await pilot.press("ctrl+s")  # no result yet: refused, dialog stays
        await settle(pilot)
        assert app.screen is move
        assert "办结须填写办理结果" in str(move.query_one("#error").render())
        move.query_one("#result").value = "已制定企业标准"
        move.query_one("#problems_solved").value = "3"
        move.query_one("#cost_saved").value = "2.5"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is detail
        assert "v" in {b.binding.key for b in detail.active_bindings.values() if b.enabled}

        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, MoveDialog)
        app.screen.query_one("#satisfaction").select(4)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is detail
        text = str(detail.query_one("#timeline").render())
        assert "已办结" in text and "已回访" in text
        assert "状态不能再变更" in str(detail.query_one("#actions").render())
        assert [b.id for b in detail.query("#action-bar Button")] == ["act-note", "act-correct"]
    got = rows(
        station_db,
        "SELECT status, result, problems_solved, cost_saved_cents, satisfaction FROM request WHERE id = ?",
        rid,
    )
    assert got == [("closed", "已制定企业标准", 3, 250, 4)]


async def test_find_expert_by_initials_and_refer(station_db: Path) -> None:
    from qi_station.screens.libraries import LibrariesScreen

    rid = _request_id(station_db, "QI0001-202603-0001")  # accepted, metrology
    app = make_app(station_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        lib = app.screen
        assert isinstance(lib, LibrariesScreen)
        assert "QI0001-202603-0001" in str(lib.query_one("#status-line").render())
        await pilot.press(*"wjg")
        await pilot.pause(0.1)
        await settle(pilot)
        assert [r["name"] for r in lib.rows] == ["王建国"]
        assert "烟台市计量所" in str(lib.query_one("#lib-detail-text").render())
        await pilot.press("ctrl+r")  # asks first (issue 9): a confirmation with a note
        await settle(pilot)
        assert rows(station_db, "SELECT COUNT(*) FROM referral WHERE request_id = ?", rid) == [(0,)]
        await pilot.press(*"tel")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is lib
    assert rows(station_db, "SELECT note FROM referral WHERE request_id = ?", rid) == [("tel",)]
    assert rows(station_db, "SELECT kind, item_name FROM referral WHERE request_id = ?", rid) == [
        ("expert", "王建国")
    ]
    # accepted stays accepted (referred is reachable only from in progress); the referral is on the ledger
    assert rows(
        station_db, "SELECT kind FROM request_event WHERE request_id = ? ORDER BY n DESC LIMIT 1", rid
    ) == [("referral",)]


async def test_ledger_filters_sort_and_saved_filter(
    station_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qi_station.screens.ledger import LedgerScreen
    from qi_station.screens.ledger_table import LedgerTable

    cfg = tmp_path / "config.toml"
    monkeypatch.setenv("QI_STATION_CONFIG", str(cfg))
    app = make_app(station_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        led = app.screen
        assert isinstance(led, LedgerScreen)
        table = led.query_one(LedgerTable)
        assert table.row_count == 5 and led.total == 5

        led.query_one("#f-status").select("new")
        await settle(pilot)
        assert led.total == 2
        led.query_one("#f-element").select("ip")
        await settle(pilot)
        assert led.total == 1
        led.action_clear_filters()
        await settle(pilot)
        assert led.total == 5

        led.query_one("#f-overdue").action_flip()
        await settle(pilot)
        assert led.total == 4  # every open request in the fixture is past its promised date

        led.action_clear_filters()
        led.query_one("#f-month").focus()
        await pilot.press(*"2026-02")
        await pilot.pause(0.4)
        await settle(pilot)
        assert led.total == 1

        led.query_one("#f-month").value = ""
        led.query_one("#f-text").focus()
        await pilot.press(*"华泰")
        await pilot.pause(0.4)
        await settle(pilot)
        assert led.total == 2

        await pilot.press("ctrl+s")  # save this filter
        await settle(pilot)
        await pilot.press(*"huatai", "enter")
        await settle(pilot)
        assert "huatai" in cfg.read_text(encoding="utf-8")

        led.action_clear_filters()
        await settle(pilot)
        assert led.total == 5
        led.query_one("#f-saved").select("huatai")
        await settle(pilot)
        assert led.total == 2
        assert "huatai" in str(led.query_one("#f-saved").render())

        led.action_sort()  # received ascending
        await settle(pilot)
        first = table.row_at(0)
        assert first is not None and first["id"] == _request_id(station_db, "QI0001-202603-0002")
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "RequestDetailScreen"


async def test_detail_buttons_offer_only_legal_moves_and_work_with_the_mouse(station_db: Path) -> None:
    from qi_station.screens.dialogs import MoveDialog
    from qi_station.screens.request_detail import RequestDetailScreen

    rid = _request_id(station_db, "QI0001-202603-0003")  # new
    app = make_app(station_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, RequestDetailScreen)
        ids = [b.id for b in detail.query("#action-bar Button")]
        assert ids == ["act-accepted", "act-on_hold", "act-cancelled", "act-refer", "act-note"]
        assert all(b.region.width > 4 for b in detail.query("#action-bar Button"))  # laid out, on screen
        assert await pilot.click("#act-accepted")
        await settle(pilot)
        assert isinstance(app.screen, MoveDialog) and app.screen.to_status == "accepted"
        await pilot.click("#ok")
        await settle(pilot)
        assert app.screen is detail
        assert rows(station_db, "SELECT status FROM request WHERE id = ?", rid)[0][0] == "accepted"
        ids = [b.id for b in detail.query("#action-bar Button")]
        assert "act-accepted" not in ids and "act-in_progress" in ids


async def test_free_standing_note_joins_the_timeline(station_db: Path) -> None:
    from qi_station.screens.dialogs import NoteDialog

    rid = _request_id(station_db, "QI0001-202603-0001")  # accepted
    app = make_app(station_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        detail = app.screen
        await pilot.press("n")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, NoteDialog)
        await pilot.press("ctrl+s")  # empty note: refused, dialog stays
        await settle(pilot)
        assert app.screen is dialog and str(dialog.query_one("#error").render()).strip()
        await pilot.press(*"企业来电询问进度")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is detail
        assert "企业来电询问进度" in str(detail.query_one("#timeline").render())
        assert "备注" in str(detail.query_one("#timeline").render())
        assert await pilot.click("#act-note")  # the mouse way in
        await settle(pilot)
        assert isinstance(app.screen, NoteDialog)
    assert rows(station_db, "SELECT status FROM request WHERE id = ?", rid) == [("accepted",)]
    assert rows(
        station_db,
        "SELECT kind, note, from_status, to_status FROM request_event WHERE request_id = ? "
        "ORDER BY n DESC LIMIT 1",
        rid,
    ) == [("note", "企业来电询问进度", "accepted", "accepted")]


async def test_ledger_scrolls_continuously_fetching_only_the_pages_it_shows(
    station_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 2-row pages over the 5 requests the ledger is a virtual table: it COUNTs, fetches the page under
    the view, and fetches more only as the cursor reaches them; never the whole list, never LIMIT-less.
    Filters and sort re-query from the top; Enter opens the request under the cursor."""
    from qi_station.screens import ledger_table
    from qi_station.screens.ledger import LedgerScreen
    from qi_station.screens.ledger_table import LedgerTable
    from qi_station.services import queries

    monkeypatch.setattr(ledger_table, "PAGE_SIZE", 2)
    calls: list[tuple[Any, int]] = []
    sorts: list[tuple[str, Any, int]] = []
    real = queries.list_requests

    def spy(db: Any, **kw: Any) -> list[dict[str, Any]]:
        calls.append((kw.get("limit"), kw.get("offset", 0)))
        sorts.append((kw.get("sort", ""), kw.get("limit"), kw.get("offset", 0)))
        return real(db, **kw)

    monkeypatch.setattr(queries, "list_requests", spy)
    app = make_app(station_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        led = app.screen
        assert isinstance(led, LedgerScreen)
        table = led.query_one(LedgerTable)
        assert table.total == 5
        assert all(limit is not None and limit <= 2 for limit, _ in calls)  # every fetch is one page
        # the view is 24 lines high: it asks for the pages it shows, never a LIMIT-less list
        assert table.row_at(4) is not None and table.loaded_rows == 5
        numbers = [table.row_at(i)["number"] for i in range(5)]  # type: ignore[index]
        assert numbers[0] == "QI0001-202603-0003"  # newest first
        # the back half is read from the other end (a small OFFSET), and put back in order
        assert ("received_asc", 1, 0) in sorts and numbers[4] == "QI0001-202601-0001"
        assert "1/5" in str(led.query_one("#page-info").render())
        table.focus()
        await pilot.press("end")
        await settle(pilot)
        assert table.cursor == 4 and "5/5" in str(led.query_one("#page-info").render())
        await pilot.press("up", "up")
        await settle(pilot)
        assert table.cursor == 2
        line = table.render_line(2 - int(table.scroll_offset.y))
        assert numbers[2] in line.text

        led.query_one("#f-status").select("new")  # a filter: new COUNT, back to the top
        await settle(pilot)
        assert table.total == 2 and table.cursor == 0
        assert [table.row_at(i)["status"] for i in range(2)] == ["new", "new"]  # type: ignore[index]
        led.action_clear_filters()
        await settle(pilot)
        led.action_sort()  # received ascending
        await settle(pilot)
        assert table.row_at(0)["number"] == "QI0001-202601-0001"  # type: ignore[index]
        table.focus()
        await pilot.press("down", "enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "RequestDetailScreen"
        assert app.screen.request_id == _request_id(station_db, "QI0001-202602-0001")
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is led and table.cursor == 1  # back in the same place
        # the mouse: a click moves the cursor, a click on the cursor row opens it
        assert await pilot.click(LedgerTable, offset=(2, 3))
        await settle(pilot)
        assert table.cursor == 3 and app.screen is led
        assert await pilot.click(LedgerTable, offset=(2, 3))
        await settle(pilot)
        assert type(app.screen).__name__ == "RequestDetailScreen"
        assert app.screen.request_id == table.row_at(3)["id"]  # type: ignore[index]
    assert calls and all(limit is not None and limit <= 2 for limit, _ in calls)


async def test_ledger_table_fetches_pages_lazily_over_a_large_total() -> None:
    """The table alone, over a pretend million rows: it asks for the pages under the view and the
    cursor only, keeps at most CACHE_PAGES of them, and renders rows as they arrive."""
    from textual.app import App, ComposeResult

    from qi_station.screens.ledger_table import CACHE_PAGES, PAGE_SIZE, LedgerTable

    asked: list[int] = []

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield LedgerTable(id="t")

        def on_ledger_table_need_pages(self, event: LedgerTable.NeedPages) -> None:
            for p in event.pages:
                asked.append(p)
                event.table.set_page(
                    event.generation,
                    p,
                    [
                        {
                            "id": f"r{i}",
                            "number": f"N{i:07d}",
                            "status": "new",
                            "promised_date": "2026-03-01",
                            "enterprise_name": "企业",
                            "title": f"需求{i}",
                        }
                        for i in range(p * PAGE_SIZE, (p + 1) * PAGE_SIZE)
                    ],
                )

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(LedgerTable)
        table.columns = [("number", 10), ("title", 20)]
        table.reset(1_000_000)
        table.focus()
        await pilot.pause()
        assert asked == [0]
        await pilot.press("end")
        await pilot.pause()
        await pilot.pause()
        assert asked == [0, 9_999] and table.cursor == 999_999
        assert "N0999999" in table.render_line(table.size.height - 1).text
        for _ in range(60):
            await pilot.press("pagedown") if table.cursor < 999_999 else await pilot.press("home")
        await pilot.pause()
        assert len(table.pages) <= CACHE_PAGES and table.loaded_rows <= CACHE_PAGES * PAGE_SIZE
        assert len(asked) < 100


async def test_library_names_are_shown_as_written_and_a_repeat_keeps_the_table(station_db: Path) -> None:
    """A library name is text, never Rich markup: ``x[/]`` (a markup error) and ``a[b]c`` (a style tag)
    are shown as written. The same results again (one more letter that changes nothing) keep the
    table's rows as they are, and the cursor goes back to the first row, whose detail is shown."""
    from qi_station.db import write
    from qi_station.db.engine import connect
    from qi_station.screens.libraries import LibrariesScreen
    from qi_station.screens.result_list import ResultList

    conn = connect(station_db)
    conn.execute("BEGIN IMMEDIATE")
    base = {"rev": 1, "seq": 0, "deleted": False, "updated_at": "2026-01-01 00:00:00.000000"}
    names = ["蓝鲸号x[/]", "蓝鲸号a[b]c"]
    write.upsert_library_rows(
        conn,
        "expert",
        [
            {
                "id": f"mk{i}",
                "name": n,
                "city_code": "370600",
                "elements": ["metrology"],
                "active_requests": 0,
                **base,
            }
            for i, n in enumerate(names)
        ],
        [
            "id",
            "name",
            "city_code",
            "elements",
            "active_requests",
            "name_py",
            "name_initials",
            "haystack",
            "haystack_py",
            *base,
        ],
    )
    conn.execute("COMMIT")
    conn.close()
    app = make_app(station_db)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        lib = app.screen
        assert isinstance(lib, LibrariesScreen)
        await pilot.press(*"蓝鲸")
        await pilot.pause(0.1)
        await settle(pilot)
        table = lib.query_one(ResultList)
        shown = sorted(str(table.get_cell_at((i, 0))) for i in range(table.row_count))
        assert shown == sorted(names)
        rendered = "\n".join(str(line.text) for line in table.render_lines(table.region.reset_offset))
        assert all(n in rendered for n in names), rendered
        table.move_cursor(row=1)
        await settle(pilot)
        first = table.get_row_at(0)
        await pilot.press("号")  # the same two rows
        await pilot.pause(0.1)
        await settle(pilot)
        assert lib.query_one("#q").value == "蓝鲸号" and table.get_row_at(0)[0] is first[0]  # not rebuilt
        assert table.cursor_row == 0 and lib.rows[0]["name"] in str(
            lib.query_one("#lib-detail-text").render()
        )
