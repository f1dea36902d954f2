"""Snapshot tests: every screen in zh and en at 80x24, on the fixed fixture database.

Deterministic: QI_STATION_NOW pins "now", stored times are fixed, the cursor does not blink, the
developer's config is ignored.  Regenerate with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db

SIZE = (80, 24)
LANGS = ("zh", "en")


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


def _app(db: Path, lang: str) -> Any:
    from qi_station.app import StationApp

    return StationApp(db, lang=lang, config={}, offer_demo=False)


async def _settle(pilot: Any) -> None:
    from textual.widgets import Input

    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    for inp in pilot.app.screen.query(Input):
        inp.cursor_blink = False
    await pilot.pause()


def _quiet(app: Any) -> bool:
    """Nothing left to happen on the screen: no worker running, no message or callback waiting in a
    widget, no layout or repaint pending (Screen's privates: a worker's answer applied in the last pause
    may still have a layout to do -- a Choice filled with a shorter label kept its old width)."""
    scr = app.screen
    pending = scr._layout_required or scr._repaint_required or scr._dirty_widgets
    running = any(not w.is_finished for w in app.workers)
    return not pending and not running and app._widgets_idle()


def _profile_filled(app: Any) -> bool:
    """The F9 dialog shows the stored profile (its worker's answer: the county code is filled)."""
    region = app.screen.query("#region")
    return bool(region) and bool(region.first().value)


async def _until_quiet(pilot: Any, filled: Any = lambda: True) -> None:
    """Wait (by observed state, no fixed time) until ``filled()`` holds and the app has been quiet at two
    polls in a row: under load a worker's answer lands after the settle's last pause."""
    calm = 0
    for _ in range(500):
        await _settle(pilot)
        calm = calm + 1 if filled() and _quiet(pilot.app) else 0
        if calm >= 2:
            return


def _rid(db: Path, number: str) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id FROM request WHERE number = ?", (number,)).fetchone()[0]
    finally:
        conn.close()


def _journey(screen: str, db: Path) -> Any:
    async def run_before(pilot: Any) -> None:
        await _settle(pilot)
        if screen == "ledger":
            await pilot.press("f3")
        elif screen == "form":
            await pilot.press("f4")
        elif screen == "form_error":
            await pilot.press("f4")
            await _settle(pilot)
            await pilot.press(*"新企业", "tab")
            await pilot.press(*"91370600MA3C000010")
            await pilot.press("ctrl+s")
        elif screen == "form_suggest":  # suggestions showing: the form scrolls, no label is cut
            await pilot.press("f4")
            await _settle(pilot)
            await pilot.press(*"公司")
            await pilot.pause(0.3)
        elif screen == "detail":
            pilot.app.open_request(_rid(db, "QI0001-202602-0001"))
        elif screen in ("close_dialog", "correct_dialog"):
            pilot.app.open_request(_rid(db, "QI0001-202602-0001"))
            await _settle(pilot)
            await pilot.press("v")  # the follow-up: no rating chosen yet
            if screen == "correct_dialog":
                await _settle(pilot)
                await pilot.press("1", "ctrl+s")
                await _settle(pilot)
                await pilot.press("c")
        elif screen == "enterprise":
            pilot.app.open_request(_rid(db, "QI0001-202602-0001"))
            await _settle(pilot)
            await pilot.press("e")
        elif screen == "detail_rectify":  # rated 不满意: the rectify action and its due date
            from qi_station.services.ledger import move_request

            rid = _rid(db, "QI0001-202602-0001")
            move_request(db, rid, "closed", at="2026-02-16T10:00:00", satisfaction=2, actor="小刘")
            pilot.app.open_request(rid)
        elif screen == "activities":
            await pilot.press("t")
        elif screen == "libraries":
            await pilot.press("f5")
            await _settle(pilot)
            await pilot.press(*"jl", "ctrl+t")  # 计量 in the institutions library
        elif screen == "sync":
            await pilot.press("f6")
        elif screen == "reports":
            await pilot.press("f7")
        elif screen == "profile":  # the dialog filled from its worker and laid out again
            await pilot.press("f9")
            await _until_quiet(pilot, lambda: _profile_filled(pilot.app))
        elif screen == "help":
            await pilot.press("f3")
            await _settle(pilot)
            await pilot.press("f1")
        await pilot.pause(0.1)
        await _settle(pilot)

    return run_before


SCREENS = (
    "dashboard",
    "ledger",
    "form",
    "form_error",
    "form_suggest",
    "detail",
    "detail_rectify",
    "enterprise",
    "libraries",
    "sync",
    "reports",
    "activities",
    "profile",
    "help",
    "close_dialog",
    "correct_dialog",
    "operator",
)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen_snapshot(screen: str, lang: str, snap_compare: Any, tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    if screen == "operator":  # several staff: the app asks who is working
        from qi_station.services.staff import add_staff

        add_staff(db, "王站长", "站长")
        add_staff(db, "李专员", "服务专员")
    assert snap_compare(_app(db, lang), terminal_size=SIZE, run_before=_journey(screen, db))


# ---- chrome hygiene: no East-Asian-ambiguous glyphs outside data -----------------------------------
FORBIDDEN = set("\u201c\u201d\u00b7\u2014\u2460\u2103\u2026")  # “ ” · — ① ℃ …
BOX = range(0x2500, 0x25A0)  # box drawing and block elements (sparkline bars): ambiguous on CJK terminals


@pytest.mark.asyncio
@pytest.mark.parametrize("lang", LANGS)
async def test_no_ambiguous_glyphs_in_chrome(lang: str, tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    app = _app(db, lang)
    async with app.run_test(size=(120, 40)) as pilot:
        for screen in (
            "dashboard",
            "ledger",
            "form",
            "detail",
            "libraries",
            "sync",
            "reports",
            "profile",
            "activities",
            "help",
        ):
            await _journey(screen, db)(pilot)
            text = _screen_text(app)
            bad = {ch for ch in text if ch in FORBIDDEN or ord(ch) in BOX}
            assert not bad, f"{screen}: {sorted(bad)}"
            while len(app.screen_stack) > 1:
                app.pop_screen()
            await pilot.press("f2")
            await _settle(pilot)


def _screen_text(app: Any) -> str:
    from rich.console import Console

    console = Console(width=120, record=True, file=open("/dev/null", "w", encoding="utf-8"))  # noqa: SIM115
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def test_catalogues_have_the_same_keys() -> None:
    from qi_station.locales.en import MESSAGES as EN
    from qi_station.locales.zh import MESSAGES as ZH

    assert set(ZH) - set(EN) == set(), "missing in en"
    assert set(EN) - set(ZH) == set(), "missing in zh"
    for key in ZH:
        assert ZH[key].count("{") == EN[key].count("{"), key
        assert not any(ch in FORBIDDEN for ch in ZH[key] + EN[key]), key


def test_every_binding_has_an_id_and_catalogue_text() -> None:
    from qi_station.locales.en import MESSAGES as EN
    from qi_station.services import keymap

    assert len({k.id for k in keymap.KEYS}) == len(keymap.KEYS)
    for k in keymap.KEYS:
        assert k.description in EN, k.id
    fkeys = {k.key for k in keymap.KEYS if k.id.startswith("app.")}
    assert {"f1", "f2", "f3", "f4", "f5", "f6", "f7"} <= fkeys
    assert not any("ctrl+enter" in k.key for k in keymap.KEYS)


def test_ambiguous_width_table() -> None:
    # the forbidden set really is ambiguous-width (guards the guard)
    assert all(unicodedata.east_asian_width(ch) == "A" for ch in FORBIDDEN)
