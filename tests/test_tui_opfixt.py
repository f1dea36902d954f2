"""An outside operator's findings at 80x24 (Chinese UI, tmux), round opfixt: typed text in the 转办
dialog reaches its note, a toast stays with the page it is about, a restore leaves the sync page fresh,
F7's export field is in view, the footer offers only what the core allows, columns share 80 cells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, rows, settle
from tui_pilot import IN_PROGRESS, burst, footer_text, notes, open_detail, press_to, req_id, until

pytestmark = pytest.mark.usefixtures("tui_env")


def _screen_text(app: Any) -> str:
    return "\n".join(
        "".join(seg.text for seg in strip)
        for strip in app.screen._compositor.render_strips()  # type: ignore[attr-defined]
    )


async def test_text_typed_on_opening_the_refer_dialog_is_its_note(tmp_path: Path) -> None:
    """``r`` then 联系专家上门 at once: the text lands in 备注 (not on the kind field, where it was
    dropped), Ctrl+S refers with it; the title bar over the dialog names where the operator is."""
    from qi_station.screens.dialogs import ReferDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db)
        dialog = await press_to(pilot, "r", ReferDialog)
        burst(app, *"联系专家上门")
        note = dialog.query_one("#note")
        await until(pilot, lambda: note.value == "联系专家上门")
        assert note.value == "联系专家上门"
        assert dialog.focused is note
        assert (
            _screen_text(app).splitlines()[0].strip().startswith("质量基础设施一站式服务工作站  >  需求详情")
        )
        await until(pilot, lambda: dialog._highlighted_item() is not None)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, ReferDialog))
    got = rows(db, "SELECT note FROM referral WHERE request_id = ?", req_id(db, IN_PROGRESS))
    assert got == [("联系专家上门",)]


async def test_a_space_on_the_kind_field_still_steps_it(tmp_path: Path) -> None:
    """Only text moves to the note: Space on 资源库 steps to the next kind as before."""
    from qi_station.screens.dialogs import ReferDialog

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db)
        dialog = await press_to(pilot, "r", ReferDialog)
        await pilot.press("space")
        await settle(pilot)
        assert dialog.query_one("#kind").value == "institution"
        assert dialog.query_one("#note").value == ""


async def test_a_toast_about_one_request_goes_when_back_on_another(tmp_path: Path) -> None:
    """0001 open, then 0002's page (as the form opens it after 保存), 转办 there: its toast shows there;
    Esc back on 0001: 已转办至 … is gone (the operator guide: a page's toasts go with it)."""
    from qi_station.screens.dialogs import ReferDialog
    from qi_station.screens.request_detail import RequestDetailScreen

    db = fixture_db(tmp_path)
    first = rows(db, "SELECT number FROM request WHERE number != ? ORDER BY number", IN_PROGRESS)[0][0]
    app = make_app(db)
    app.NOTIFICATION_TIMEOUT = 120  # no toast times out while the test runs: only the page drops it
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        one = await open_detail(pilot, db, first)
        app.notify("已登记 QI0001-202603-0002")  # the form's toast, shown before it opens the new page
        two = await open_detail(pilot, db, IN_PROGRESS)
        assert two is not one
        assert "已登记 QI0001-202603-0002" in notes(app)  # a page opened by a save keeps its toast
        dialog = await press_to(pilot, "r", ReferDialog)
        await until(pilot, lambda: dialog._highlighted_item() is not None)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any(n.startswith("已转办至") for n in notes(app)))
        assert app.screen is two and any(n.startswith("已转办至") for n in notes(app))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is one)
        await settle(pilot)
        assert isinstance(app.screen, RequestDetailScreen) and app.screen is one
        assert notes(app) == []


async def test_an_error_toast_stays_when_back_on_a_page(tmp_path: Path) -> None:
    """Errors stay on a return as on a screen switch (``drop_stale_toasts``)."""
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        one = await open_detail(pilot, db)
        await open_detail(pilot, db, rows(db, "SELECT number FROM request ORDER BY number")[0][0])
        app.notify("数据库无法打开", severity="error")
        app.notify("已添加备注")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is one)
        await settle(pilot)
        assert app.screen is one
        assert notes(app) == ["数据库无法打开"]


async def test_after_a_restore_the_sync_page_starts_afresh(tmp_path: Path) -> None:
    """F6 with a bundle path typed, then ``restore`` under the app: the path and the last answer go, the
    empty path field has focus; text typed after Tab (focus out of the field) still lands in it."""
    from qi_station.screens.sync import SyncScreen
    from qi_station.services.backup import backup_db, restore_db

    db = fixture_db(tmp_path)
    app = make_app(db)
    app.NOTIFICATION_TIMEOUT = 120  # no toast times out while the test runs: only the page drops it
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(pilot, lambda: app.ready)
        page = await press_to(pilot, "f6", SyncScreen)
        await until(pilot, lambda: page.has_class("loaded"))
        bundle = page.query_one("#bundle")
        bundle.value = "/media/usb/old-bundle.zip"
        page.query_one("#sync-progress").update("已导入 3 条")
        restore_db(backup_db(db, tmp_path / "b.db"), db)
        assert app.check_restored() is True
        await until(pilot, lambda: bundle.value == "")
        assert bundle.value == "" and page.focused is bundle
        assert str(page.query_one("#sync-progress").render()).strip() == ""
        await pilot.press("tab")
        await settle(pilot)
        assert page.focused is not bundle
        burst(app, *"/media/usb/new.zip")
        await until(pilot, lambda: bundle.value == "/media/usb/new.zip")
        assert bundle.value == "/media/usb/new.zip" and page.focused is bundle


async def test_a_restore_seen_on_another_page_clears_the_sync_page_when_shown(tmp_path: Path) -> None:
    from qi_station.screens.sync import SyncScreen
    from qi_station.services.backup import backup_db, restore_db

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready)
        page = await press_to(pilot, "f6", SyncScreen)
        page.query_one("#bundle").value = "/media/usb/old-bundle.zip"
        await pilot.press("f3")
        await settle(pilot)
        restore_db(backup_db(db, tmp_path / "b.db"), db)
        assert app.check_restored() is True
        assert await press_to(pilot, "f6", SyncScreen) is page
        await until(pilot, lambda: page.query_one("#bundle").value == "")
        assert page.query_one("#bundle").value == "" and page.focused is page.query_one("#bundle")


async def test_f7_shows_the_export_field_and_the_toast_says_where_the_file_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F7 at 80x24: 导出到 in view without scrolling; Ctrl+E's toast names the file where the operator
    finds it (the export folder as ``~/...``), not its name alone."""
    from qi_station.screens.base import toast_lines
    from qi_station.screens.reports import ReportsScreen

    monkeypatch.setenv("HOME", str(tmp_path))  # the export folder (XDG_DOCUMENTS_DIR) is under it
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(pilot, lambda: app.ready)
        page = await press_to(pilot, "f7", ReportsScreen)
        await until(pilot, lambda: page.has_class("loaded"))
        out = page.query_one("#out")
        assert out.region.height == 1 and out.region.bottom <= 24 - 2  # above the status line and footer
        assert "导出到" in _screen_text(app)
        await pilot.press("ctrl+e")
        await until(pilot, lambda: any(n.startswith("已导出") for n in notes(app)))
        toast = next(n for n in notes(app) if n.startswith("已导出"))
        written = next((tmp_path / "documents").rglob("*.xlsx"))
        # the folder on the first line, the file's name on the second (the whole path wrapped to three)
        assert toast.replace("\n", "") == f"已导出 ~/{written.relative_to(tmp_path).as_posix()}", toast
        assert toast_lines(toast) <= 2
        assert str(written.resolve()) in str(page.query_one("#export-status").render())


async def test_the_backup_toast_names_its_folder_from_home_never_relative_looking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qi_station.screens.backup import BackupDialog

    monkeypatch.setenv("HOME", str(tmp_path))
    folder = tmp_path / "Documents" / "qi-station"
    folder.mkdir(parents=True)
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(pilot, lambda: app.ready)
        app.action_backup()
        await until(pilot, lambda: isinstance(app.screen, BackupDialog))
        app.screen.query_one("#out").value = str(folder) + "/"
        await pilot.press("enter")
        await until(pilot, lambda: any("备份已写入" in n for n in notes(app)))
        first, second = next(n for n in notes(app) if "备份已写入" in n).split("\n")
        # the folder whole (with the size it is one cell too wide): the size beside the file, if it fits
        assert first == "备份已写入 ~/Documents/qi-station", first
        assert second.startswith("qi-backup-QI0001-")


def test_a_path_too_long_for_a_toast_is_cut_with_three_dots() -> None:
    from qi_station.screens.cells import clip_path

    shown = clip_path("/srv/很深的文件夹很深的文件夹很深的文件夹/U盘备份", 20)
    assert shown.startswith("...") and not shown.startswith("../") and shown.endswith("U盘备份")


async def test_f5_offers_refer_only_for_a_request_the_core_would_refer(tmp_path: Path) -> None:
    """A followed-up (closed) request open, then F5: no ``Ctrl+R 转办至此`` in the footer (the
    core's ``domain.check_refer`` refuses it); Ctrl+R anyway says the rule's message. An open request:
    offered."""
    from qi_station.core import domain
    from qi_station.screens.libraries import LibrariesScreen

    db = fixture_db(tmp_path)
    done = rows(db, "SELECT number, status FROM request WHERE status IN ('closed', 'resolved', 'cancelled')")
    number, status = done[0]
    assert not domain.can_refer(status)
    app = make_app(db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_detail(pilot, db, number)
        await until(pilot, lambda: app.current_request_status == status)
        page = await press_to(pilot, "f5", LibrariesScreen)
        await until(pilot, lambda: page.has_class("loaded") or bool(page.rows))
        assert footer_text(app, "refer") is None
        await pilot.press("ctrl+r")
        await until(pilot, lambda: any("不能转办" in n for n in notes(app)))
        assert any("不能转办" in n for n in notes(app))
        await pilot.press("escape")  # back to the request ... then an open one
        await settle(pilot)
        await open_detail(pilot, db, IN_PROGRESS)
        await until(pilot, lambda: app.current_request_status == "in_progress")
        await press_to(pilot, "f5", LibrariesScreen)
        await until(pilot, lambda: footer_text(app, "refer") is not None)
        assert footer_text(app, "refer") == "转办至此"


def test_at_80_columns_the_enterprise_has_the_room_the_status_does_not_need() -> None:
    """The status column fits 待反馈 !123 (11 cells, not 15); the enterprise's name gets more than the
    title; F5's info column at least as wide as the name."""
    from rich.cells import cell_len

    from qi_station.core import domain
    from qi_station.i18n import get_lang, set_lang, status_short
    from qi_station.screens.ledger import LedgerScreen
    from qi_station.screens.libraries import LibrariesScreen

    old = get_lang()
    set_lang("zh")
    try:
        w = LedgerScreen._widths(80)
        assert w["status"] == max(cell_len(f"{status_short(s)} !123") for s in domain.STATUSES) == 11
        assert w["enterprise"] >= 20 and w["enterprise"] > w["title"]
    finally:
        set_lang(old)
    name, info = LibrariesScreen._widths(80)
    assert info >= name >= 18


async def test_the_promised_date_sort_says_earliest_first_and_lists_so(tmp_path: Path) -> None:
    from qi_station.screens.ledger import LedgerScreen

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready)
        page = await press_to(pilot, "f3", LedgerScreen)
        while page.sort != "promised_asc":
            await pilot.press("ctrl+o")
        await until(pilot, lambda: "承诺日期 早到晚" in _screen_text(app))
        assert "承诺日期 早到晚" in _screen_text(app)
        table = page.query_one("LedgerTable")
        await until(
            pilot,
            lambda: (
                table.row_at(0) is not None
                and table.row_at(0)["promised_date"]
                == min(r[0] for r in rows(db, "SELECT promised_date FROM request"))
            ),
        )
        dates = [table.row_at(i)["promised_date"] for i in range(table.total) if table.row_at(i)]
        assert dates == sorted(dates) and len(dates) == table.total


async def test_the_ledger_shows_whole_numbers_of_a_long_station_code(tmp_path: Path) -> None:
    """A 7-character station code (JN-GX01, the README's own example) makes 19-character numbers: F3 at
    80 columns showed JN-GX01-202612-000 for every one of them (a fixed 18-cell column)."""
    from test_tui_helpers import ENTERPRISES

    from qi_station.db.engine import open_db
    from qi_station.db.session import dispose_all
    from qi_station.screens.ledger import LedgerScreen
    from qi_station.services.ledger import RequestInput, create_request
    from qi_station.services.station import init_station

    db = tmp_path / "station.db"
    open_db(db)
    init_station(db, code="JN-GX01", name="济南高新区园区工作站", region_code="370100")
    name, uscc = ENTERPRISES[0]
    numbers = [
        create_request(
            db,
            RequestInput(name, uscc, ["metrology"], f"压力表校准 {i}", received_at=f"2026-03-0{i}T09:30:00"),
        )["number"]
        for i in range(1, 4)
    ]
    dispose_all()
    assert all(len(n) == 19 for n in numbers)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready)
        await press_to(pilot, "f3", LedgerScreen)
        await until(pilot, lambda: all(n in _screen_text(app) for n in numbers))
        text = _screen_text(app)
        assert all(n in text for n in numbers)
        assert "编号" in text and "压力表校准" in text  # the other columns still fit at 80
