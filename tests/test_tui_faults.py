"""Bad input and faults in the TUI: a huge paste, emoji, control characters, a locked, read-only or
full database.  Each gives a clear message, keeps the typed form, and writes nothing."""

from __future__ import annotations

import sqlite3
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


async def _open_form(pilot: Any) -> Any:
    from qi_station.screens.request_form import RequestFormScreen

    await settle(pilot)
    await pilot.press("f4")
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, RequestFormScreen)
    name, code = ENTERPRISES[0]
    form.query_one("#enterprise").value = name
    form.query_one("#uscc").value = code
    form.query_one("#el-metrology").checked = True
    return form


def _count(db: Path) -> tuple[int, int, int]:
    return (
        rows(db, "SELECT count(*) FROM request")[0][0],
        rows(db, "SELECT count(*) FROM request_event")[0][0],
        rows(db, "SELECT count(*) FROM outbox")[0][0],
    )


async def test_huge_paste_is_refused_and_kept(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    before = _count(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _open_form(pilot)
        title = form.query_one("#title")
        title.focus()
        big = "测" * 10_000
        title.insert_text_at_cursor(big)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert title.value == big
        assert "100" in str(form.query_one("#err-title").render()), str(
            form.query_one("#form-error").render()
        )
    assert _count(db) == before


async def test_control_characters_are_refused(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    before = _count(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _open_form(pilot)
        form.query_one("#title").value = "校准\x07申请"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert "控制字符" in str(form.query_one("#err-title").render())
        assert form.query_one("#title").value == "校准\x07申请"
    assert _count(db) == before


async def test_emoji_is_ordinary_text(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _open_form(pilot)
        form.query_one("#title").value = "急 🔥 校准"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "RequestDetailScreen"
    assert rows(db, "SELECT count(*) FROM request WHERE title = '急 🔥 校准'")[0][0] == 1


async def test_locked_database_keeps_the_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qi_station.db import engine

    monkeypatch.setattr(engine, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(
        engine,
        "SQLITE_PRAGMAS",
        tuple(
            "PRAGMA busy_timeout=200" if p.startswith("PRAGMA busy_timeout") else p
            for p in engine.SQLITE_PRAGMAS
        ),
    )
    db = fixture_db(tmp_path)
    before = _count(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _open_form(pilot)
        form.query_one("#title").value = "锁库测试"
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            await pilot.press("ctrl+s")
            await settle(pilot)
            await pilot.pause(0.5)
            await settle(pilot)
            assert app.screen is form
            msg = str(form.query_one("#form-error").render())
            assert "占用" in msg and "未保存" in msg
            assert form.query_one("#title").value == "锁库测试"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        await pilot.press("ctrl+s")  # the lock is gone: the same form saves
        await settle(pilot)
        assert type(app.screen).__name__ == "RequestDetailScreen"
    assert _count(db)[0] == before[0] + 1


@pytest.mark.parametrize(
    ("detail", "expect"),
    [
        ("database is read-only, nothing was saved: attempt to write a readonly database", "只读"),
        ("disk is full, nothing was saved: database or disk is full", "磁盘已满"),
    ],
)
async def test_read_only_or_full_disk_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, detail: str, expect: str
) -> None:
    # root ignores file modes and a full disk is hard to stage: fault injection at the core's boundary
    from qi_station.core.errors import DatabaseError
    from qi_station.services import ledger

    def boom(*_a: Any, **_k: Any) -> None:
        raise DatabaseError(detail)

    monkeypatch.setattr(ledger, "create_request", boom)
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _open_form(pilot)
        form.query_one("#title").value = "保存失败"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert expect in str(form.query_one("#form-error").render())
        assert form.query_one("#title").value == "保存失败"
        assert not form.saving  # a second Ctrl+S is possible


async def test_broken_database_file_shows_message(tmp_path: Path) -> None:
    db = tmp_path / "broken.db"
    db.write_bytes(b"this is not a database" * 100)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.db_error and ("数据库" in app.db_error)


async def test_app_opens_a_database_that_does_not_exist_yet(tmp_path: Path) -> None:
    """`qi-station` with a --db path that does not exist (nor its folder): the first frame comes, the app
    creates and migrates the database in its worker, then offers the demo data."""
    from qi_station.app import StationApp
    from qi_station.db.engine import SCHEMA_HEAD, current_revision
    from qi_station.screens.dialogs import ConfirmDialog

    db = tmp_path / "new-folder" / "station.db"
    app = StationApp(db, lang="zh", config={})
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.ready and app.db_error is None
        assert isinstance(app.screen, ConfirmDialog)  # empty: the demo data is offered
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        assert "没有符合条件的需求" in str(app.screen.query_one("#page-info").render())
    assert current_revision(db) == SCHEMA_HEAD


async def test_app_migrates_an_older_schema_in_its_worker(tmp_path: Path) -> None:
    from qi_station.db.engine import SCHEMA_HEAD, current_revision, run_migrations, sqlite_url

    db = tmp_path / "old.db"
    run_migrations(sqlite_url(db), "0002")
    assert current_revision(db) == "0002"
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.ready and app.db_error is None
        await pilot.press("f5")
        await settle(pilot)
        lib = app.screen
        assert type(lib).__name__ == "LibrariesScreen" and lib.has_class("loaded")  # the search ran
        assert str(lib.query_one("#lib-count").render()) == "0 条"  # on the migrated (empty) tables
    assert current_revision(db) == SCHEMA_HEAD
