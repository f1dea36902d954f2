"""Bindings: ids, remapping from the config file, the command palette, F1 help, language, demo offer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db
from test_tui_journeys import make_app, settle


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)


def test_config_file_round_trip(tmp_path: Path) -> None:
    from qi_station.services import keymap

    p = tmp_path / "config.toml"
    with open(p, "w", encoding="utf-8") as f:
        f.write('lang = "en"\n[keys]\n"app.ledger" = "f9"\n"nope.unknown" = "f10"\n')
    cfg = keymap.load_config(p)
    assert keymap.config_lang(cfg) == "en"
    assert keymap.user_keymap(cfg) == {"app.ledger": "f9"}
    keymap.save_filter('逾期 "计量"', {"status": "", "element": "metrology", "overdue": True}, p)
    cfg = keymap.load_config(p)
    assert cfg["lang"] == "en" and cfg["keys"] == {"app.ledger": "f9", "nope.unknown": "f10"}
    assert keymap.saved_filters(cfg)['逾期 "计量"'] == {"status": "", "element": "metrology", "overdue": True}


def test_saving_a_filter_keeps_the_rest_of_the_config_as_written(tmp_path: Path) -> None:
    """Comments, a list, a float, quoting and key order survive a filter save: the file only gains the
    saved filter (and a second save of the same name replaces just that table)."""
    from qi_station.services import keymap

    p = tmp_path / "config.toml"
    original = (
        "# station settings\n"
        'lang = "en"   # English please\n'
        "ratio = 1.5\n"
        'tags = ["a", "b"]  # a list\n'
        "\n"
        "[keys]\n"
        "# F9 opens the ledger\n"
        '"app.ledger" = "f9"\n'
    )
    p.write_text(original, encoding="utf-8")
    keymap.save_filter("huatai", {"status": "new", "month": None, "overdue": True}, p)
    saved = '\n[filters.huatai]\nstatus = "new"\noverdue = true\n'
    assert p.read_text(encoding="utf-8") == original + saved
    cfg = keymap.load_config(p)
    assert cfg["ratio"] == 1.5 and cfg["tags"] == ["a", "b"]
    keymap.save_filter("huatai", {"status": "closed"}, p)
    assert p.read_text(encoding="utf-8") == original + '\n[filters.huatai]\nstatus = "closed"\n'


def test_saving_a_filter_refuses_a_broken_config(tmp_path: Path) -> None:
    from qi_station.services import keymap

    p = tmp_path / "config.toml"
    p.write_text("lang = [unclosed\n", encoding="utf-8")
    with pytest.raises(OSError):
        keymap.save_filter("x", {"status": "new"}, p)
    assert p.read_text(encoding="utf-8") == "lang = [unclosed\n"


def test_broken_config_is_reported_not_fatal(tmp_path: Path) -> None:
    from qi_station.services import keymap

    p = tmp_path / "config.toml"
    p.write_text("lang = [unclosed", encoding="utf-8")
    assert "_error" in keymap.load_config(p)


@pytest.mark.asyncio
async def test_remapped_key_reaches_the_screen(tmp_path: Path) -> None:
    from qi_station.screens.ledger import LedgerScreen

    app = make_app(fixture_db(tmp_path), config={"keys": {"app.ledger": "f9"}})
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f9")
        await settle(pilot)
        assert isinstance(app.screen, LedgerScreen)


@pytest.mark.asyncio
async def test_palette_lists_the_screen_and_app_bindings(tmp_path: Path) -> None:
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert any(t.startswith("排序") for t in titles)  # ledger.sort
        assert any(t.startswith("资源库") for t in titles)  # app.libraries
        await pilot.press("ctrl+p")
        await settle(pilot)
        from textual.command import CommandPalette

        assert isinstance(app.screen, CommandPalette)


@pytest.mark.asyncio
async def test_f1_lists_the_current_screen_bindings(tmp_path: Path) -> None:
    from qi_station.screens.help import HelpScreen

    app = make_app(fixture_db(tmp_path), lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        ids = [r[2] for r in app.screen.rows()]
        assert "lib.refer" in ids and "app.help" in ids and "ledger.sort" not in ids
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.asyncio
async def test_every_binding_shows_in_the_footer(tmp_path: Path) -> None:
    from qi_station.services import keymap

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(200, 24)) as pilot:
        await settle(pilot)
        for key, prefix in (
            ("f2", "dash"),
            ("f3", "ledger"),
            ("f5", "lib"),
            ("f6", "sync"),
            ("f7", "reports"),
        ):
            await pilot.press(key)
            await settle(pilot)
            shown = {b.binding.id for b in app.screen.active_bindings.values() if b.binding.show}
            want = {k.id for k in keymap.KEYS if k.id.split(".")[0] in (prefix, "app") and k.show}
            assert want <= shown, want - shown


@pytest.mark.asyncio
async def test_empty_database_offers_demo(tmp_path: Path) -> None:
    from qi_station.app import StationApp
    from qi_station.screens.dialogs import ConfirmDialog

    app = StationApp(tmp_path / "new.db", lang="zh", config={})
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert (tmp_path / "new.db").exists()  # created and migrated in the worker


def test_language_from_config_and_flag(tmp_path: Path) -> None:
    from qi_station.app import StationApp
    from qi_station.i18n import set_lang, t

    try:
        StationApp(tmp_path / "x.db", config={"lang": "en"})
        assert t("screen.ledger") == "Ledger"
        StationApp(tmp_path / "x.db", lang="zh", config={"lang": "en"})
        assert t("screen.ledger") == "服务台账"
    finally:
        set_lang("zh")


def _unused(_: Any) -> None:  # keeps the Any import honest for type checkers
    return None
