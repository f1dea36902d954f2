"""Outside operator, round 6 (op6b), at 80x24 in Chinese: what the app shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, rows, settle
from tui_pilot import notes, press_to, until

pytestmark = pytest.mark.usefixtures("tui_env")


async def test_a_restore_under_the_running_app_is_said_and_the_screen_reloads(tmp_path: Path) -> None:
    from test_sync_util import request_input

    from qi_station.services import ledger
    from qi_station.services.backup import backup_db, in_use, restore_db

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready)
        assert in_use(db) is True  # `restore` can warn
        bk = backup_db(db, tmp_path / "b.db")
        ledger.create_request(db, request_input(1))
        before = rows(db, "SELECT COUNT(*) FROM request")[0][0]
        assert app.check_restored() is False  # nothing restored: nothing said
        restore_db(bk, db)
        assert rows(db, "SELECT COUNT(*) FROM request")[0][0] == before - 1
        assert app.check_restored() is True
        await settle(pilot)
        assert any("数据库已从备份恢复" in n for n in notes(app))
        assert app.check_restored() is False  # said once


async def test_the_periodic_restore_check_reads_in_a_worker_and_says_it_once(tmp_path: Path) -> None:
    """The poll (every RESTORE_POLL s) reads the restore mark in a thread worker, not on the UI thread;
    another mark is said as :meth:`check_restored` says it, once."""
    from qi_station.services.backup import backup_db, restore_db

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready)
        bk = backup_db(db, tmp_path / "b.db")
        restore_db(bk, db)
        app._poll_restored()
        await until(pilot, lambda: any("数据库已从备份恢复" in n for n in notes(app)))
        assert sum("数据库已从备份恢复" in n for n in notes(app)) == 1
        app._poll_restored()  # the same mark again: nothing more said
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert sum("数据库已从备份恢复" in n for n in notes(app)) == 1


async def test_ctrl_r_on_a_usb_station_says_it_syncs_by_bundle_and_ctrl_l_clears_it(tmp_path: Path) -> None:
    """F6 on a station enrolled by USB: Ctrl+R says it syncs by bundle (never 尚未注册 under 已注册), Ctrl+L
    clears that answer; the log's numbers are labelled (not "+0/-722", read as 722 rows deleted)."""
    import sqlite3

    db = fixture_db(tmp_path)
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(
            "INSERT OR REPLACE INTO kv(k, v) VALUES (?, ?)",
            [("enroll_mode", "offline"), ("station_code", "QI0001"), ("hub_fp", "abc")],
        )
        conn.execute(
            "INSERT INTO sync_log(started_at, finished_at, mode, pushed, pulled, ok) "
            "VALUES ('2026-03-20 01:00:00.000000', '2026-03-20 01:00:01.000000', 'bundle-in', 0, 722, 1)"
        )
    conn.close()
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await until(pilot, lambda: app.screen.has_class("loaded"))
        log = str(app.screen.query_one("#sync-log").render())
        assert "导入数据包" in log and "收到 722 条" in log and "-722" not in log
        await pilot.press("ctrl+r")
        progress = app.screen.query_one("#sync-progress")
        await until(pilot, lambda: "U盘" in str(progress.render()))
        text = str(progress.render())
        assert "本站通过U盘数据包同步" in text and "尚未注册" not in text
        assert any("本站通过U盘数据包同步" in n for n in notes(app))
        assert not any("尚未注册" in n for n in notes(app))
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert str(progress.render()).strip() == ""


AMBIGUOUS_EDGES = "▔▁▕▏"  # Textual's hkey/vkey/tall border glyphs: drawn double width by CJK terminals


def _screen_text(app: object) -> str:
    return "\n".join(
        "".join(seg.text for seg in strip)
        for strip in app.screen._compositor.render_strips()  # type: ignore[attr-defined]
    )


async def test_the_command_palette_draws_no_ambiguous_edge_glyphs(tmp_path: Path) -> None:
    from textual.command import CommandPalette

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready)
        await press_to(pilot, "ctrl+p", CommandPalette)
        await pilot.press(*"bei")
        await settle(pilot)
        text = _screen_text(app)
        assert ">" in text
        assert not [c for c in AMBIGUOUS_EDGES if c in text], text


async def test_the_backup_toast_names_the_folder_in_two_lines(tmp_path: Path) -> None:
    """备份已写入: the folder too (cut from the left, so its end -- the USB stick's folder -- shows), then
    the file and its size; never more than two lines at 80x24."""
    import os

    from qi_station.screens.backup import BackupDialog
    from qi_station.screens.base import toast_lines

    db = fixture_db(tmp_path)
    folder = tmp_path / ("很深的文件夹" * 4) / "U盘备份"
    folder.mkdir(parents=True)
    app = make_app(db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(pilot, lambda: app.ready)
        app.action_backup()
        await until(pilot, lambda: isinstance(app.screen, BackupDialog))
        app.screen.query_one("#out").value = str(folder) + os.sep
        await pilot.press("enter")
        await until(pilot, lambda: any("备份已写入" in n for n in notes(app)))
        toast = next(n for n in notes(app) if "备份已写入" in n)
        written = next(folder.glob("qi-backup-QI0001-*.db"))
        first, second = toast.split("\n")
        # too long with the size: the folder keeps the first line, cut from the left with "..." (never
        # "../", read as a relative path); the size beside the file where it fits
        assert first.startswith("备份已写入 ...") and first.endswith("U盘备份")
        assert second.startswith(written.name)
        assert toast_lines(toast) <= 2


async def test_two_lines_pasted_into_a_one_line_field_are_joined_not_cut(tmp_path: Path) -> None:
    from textual import events

    from qi_station.screens.request_form import RequestFormScreen

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready)
        box = (await press_to(pilot, "f4", RequestFormScreen)).query_one("#title")
        box.focus()
        await settle(pilot)
        box.post_message(events.Paste("产品标准制定咨询\r\n  及检测机构推荐\n\n"))
        await until(pilot, lambda: box.value != "")
        assert box.value == "产品标准制定咨询 及检测机构推荐"


def test_one_line_joins_every_kind_of_line_break() -> None:
    from qi_station.core.validate import clean_text, one_line

    assert one_line("甲\r\n乙\r丙\u2028丁\u2029戊\n") == "甲 乙 丙 丁 戊"
    assert one_line("  一行  ") == "  一行  "  # no break: as it is
    assert clean_text(one_line("甲\n乙"), "title") == "甲 乙"  # passes the one-line text rule
