"""Libraries and dashboard (issue 9, items 6 and 8): qualification marks with both dates labelled, the
"资质将到期" card opens the list, Ctrl+R asks for confirmation and a note (and a reason for an
unqualified institution), and the same target twice is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import ENTERPRISES, FROZEN_NOW, NO_CONFIG, fixture_db
from test_tui_journeys import make_app, rows, settle

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)


async def _institutions(pilot: Any) -> Any:
    from qi_station.screens.libraries import LibrariesScreen
    from qi_station.screens.widgets import Choice

    await pilot.press("f5")
    await settle(pilot)
    lib = pilot.app.screen
    assert isinstance(lib, LibrariesScreen)
    lib.query_one("#kind", Choice).select("institutions")
    await settle(pilot)
    return lib


def _detail(lib: Any) -> str:
    from textual.widgets import Static

    return str(lib.query_one("#lib-detail-text", Static).render())


async def test_institution_list_and_detail_mark_expired_and_expiring(tmp_path: Path) -> None:
    from qi_station.screens.result_list import ResultList

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        lib = await _institutions(pilot)
        table = lib.query_one(ResultList)
        info = {r["id"]: str(table.get_row_at(i)[2]) for i, r in enumerate(lib.rows)}
        assert info["in-2"] == "CMA已过期"  # CMA 2025-12-31, today 2026-03-20
        assert info["in-1"] == "CMA将到期"  # CMA 2026-05-01: within 90 days
        idx = next(i for i, r in enumerate(lib.rows) if r["id"] == "in-1")
        lib.show_detail(idx)
        text = _detail(lib)
        assert "CMA 有效期 2026-05-01 将到期" in text and "CNAS 有效期 2027-01-01" in text


async def test_dashboard_card_opens_the_expiring_list(tmp_path: Path) -> None:
    from textual.widgets import Static

    from qi_station.screens.libraries import LibrariesScreen
    from qi_station.screens.widgets import Chip

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        card = str(app.screen.query_one("#card-expiring_certs", Static).render())
        assert "1" in card and "过期 1" in card  # in-1 expiring, in-2 expired
        await pilot.press("e")
        await settle(pilot)
        lib = app.screen
        assert isinstance(lib, LibrariesScreen)
        assert lib.kind == "institutions" and lib.query_one("#f-expiring", Chip).checked
        assert {r["id"] for r in lib.rows} == {"in-1", "in-2"}


def _testing_request(db: Path) -> dict[str, Any]:
    from qi_station.services.ledger import RequestInput, create_request

    name, code = ENTERPRISES[2]
    return create_request(db, RequestInput(name, code, ["testing"], "拉伸检测", operator="小刘"))


async def test_ctrl_r_confirms_asks_a_reason_and_refuses_a_second_time(tmp_path: Path) -> None:
    from textual.widgets import Input, Static

    from qi_station.screens.refer_confirm import ReferConfirmDialog
    from qi_station.screens.result_list import ResultList

    db = fixture_db(tmp_path)
    req = _testing_request(db)
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.current_request, app.current_request_label = req["id"], f"{req['number']} 拉伸检测"
        lib = await _institutions(pilot)
        table = lib.query_one(ResultList)
        table.focus()
        table.move_cursor(row=next(i for i, r in enumerate(lib.rows) if r["id"] == "in-2"))
        await pilot.press("ctrl+r")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ReferConfirmDialog)  # asks first: nothing referred yet
        assert rows(db, "SELECT COUNT(*) FROM referral WHERE request_id = ?", req["id"]) == [(0,)]
        assert "已过期" in str(dialog.query_one("#refer-warning", Static).render())
        dialog.query_one("#note", Input).value = "请尽快联系"
        await pilot.click("#ok")
        await settle(pilot)
        assert app.screen is dialog  # refused without a reason, and says why
        assert "理由" in str(dialog.query_one("#error", Static).render())
        assert rows(db, "SELECT COUNT(*) FROM referral WHERE request_id = ?", req["id"]) == [(0,)]
        dialog.query_one("#reason", Input).value = "企业指定该机构"
        await pilot.click("#ok")
        await settle(pilot)
        assert app.screen is lib
        got = rows(db, "SELECT note FROM referral WHERE request_id = ?", req["id"])
        assert got == [("请尽快联系",)]
        (data,) = rows(
            db, "SELECT data FROM request_event WHERE request_id = ? AND kind = 'referral'", req["id"]
        )
        assert json.loads(data[0])["reason"] == "企业指定该机构"
        table.move_cursor(row=next(i for i, r in enumerate(lib.rows) if r["id"] == "in-2"))
        await pilot.press("ctrl+r")  # the same target again: refused with a message, no dialog
        await settle(pilot)
        assert app.screen is lib
        assert any("已转办" in str(n.message) for n in app._notifications)
        assert rows(db, "SELECT COUNT(*) FROM referral WHERE request_id = ?", req["id"]) == [(1,)]


async def test_refer_dialog_ranks_qualified_first_and_asks_a_reason(tmp_path: Path) -> None:
    from textual.widgets import Input, OptionList

    from qi_station.screens.dialogs import ReferDialog
    from qi_station.screens.widgets import Choice

    db = fixture_db(tmp_path)
    req = _testing_request(db)
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        dialog = ReferDialog(req["id"], req["number"])
        app.push_screen(dialog)
        await settle(pilot)
        dialog.query_one("#kind", Choice).select("institution")
        await settle(pilot)
        # in-1 (CMA expiring: still valid) before in-2 (CMA expired), whatever their scores
        assert [it["id"] for it in dialog.items] == ["in-1", "in-2"]
        assert not dialog.query_one("#reason-row").display
        ol = dialog.query_one("#suggestions", OptionList)
        assert "CMA已过期" in str(ol.get_option_at_index(1).prompt)  # what was checked (qualify.basis)
        ol.focus()
        ol.highlighted = 1
        await settle(pilot)
        assert dialog.query_one("#reason-row").display
        await pilot.click("#ok")
        await settle(pilot)
        assert app.screen is dialog
        assert rows(db, "SELECT COUNT(*) FROM referral WHERE request_id = ?", req["id"]) == [(0,)]
        dialog.query_one("#reason", Input).value = "唯一能做该项目的机构"
        await pilot.click("#ok")
        await settle(pilot)
        assert app.screen is not dialog
        assert rows(db, "SELECT item_id FROM referral WHERE request_id = ?", req["id"]) == [("in-2",)]


@pytest.mark.asyncio
async def test_the_card_opens_the_whole_list_whatever_was_searched_before(tmp_path: Path) -> None:
    """An earlier search and filters in the library are not left on the card's list (operator trial)."""
    from textual.widgets import Input

    from qi_station.screens.libraries import LibrariesScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        await pilot.press(*"zzzz")  # a search that finds nothing
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        lib = app.screen
        assert isinstance(lib, LibrariesScreen) and lib.query_one("#q", Input).value == ""
        assert {r["id"] for r in lib.rows} == {"in-1", "in-2"}
