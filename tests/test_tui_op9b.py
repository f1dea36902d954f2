"""An outside operator at 80x24 (op9b): toasts never over a field, a partial county code is no error yet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db
from test_tui_journeys import make_app, settle
from tui_pilot import toasts, until

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)


def _fields(app: Any) -> list[Any]:
    from textual.widgets import Input, TextArea

    from qi_station.screens.widgets import Chip, Choice

    kinds = (Input, TextArea, Choice, Chip)
    return [w for w in app.screen.query("*") if isinstance(w, kinds) and w.display and w.region.height]


def _covered(app: Any) -> list[tuple[Any, Any]]:
    return [(t.region, f.id) for t in toasts(app) for f in _fields(app) if t.region.overlaps(f.region)]


def _shown(app: Any, n: int) -> bool:
    shown = toasts(app)
    return len(shown) == n and all(t.region.height > 0 for t in shown) and not _covered(app)


@pytest.mark.parametrize("key", ["f3", "f4", "f5", "f7", "f9"])
async def test_toasts_never_cover_a_field(tmp_path: Path, key: str) -> None:
    """Two toasts (a long one wrapping) on the ledger (month box), the form (USCC), the library (search
    line, 资质有效), reports and the profile dialog: none lies over a field of the screen."""
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await until(pilot, lambda: bool(_fields(app)))
        app.notify("该需求已转办给此对象：济南市计量检定测试院（计量），可在需求详情里查看转办记录和进度")
        app.notify("数据库只读", severity="error")
        await until(pilot, lambda: _shown(app, 2))
        assert len(toasts(app)) == 2 and not _covered(app), _covered(app)
        bar = app.screen.query("#titlebar")
        for t in toasts(app):
            assert not any(t.region.overlaps(b.region) for b in bar)


async def test_information_toasts_time_out_soon_errors_stay(tmp_path: Path) -> None:
    """A 30-second restore notice was in the way for 25 s: information and warnings stay at most
    INFO_TIMEOUT; an error keeps the time asked."""
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        app.notify("数据库已从备份恢复", severity="warning", timeout=30)
        app.notify("数据库只读", severity="error", timeout=30)
        await settle(pilot)
        got = {n.severity: n.timeout for n in app._notifications}
    assert got["warning"] <= app.INFO_TIMEOUT < 30
    assert got["error"] == 30


async def test_a_partial_county_code_is_no_error_until_complete_or_left(tmp_path: Path) -> None:
    """F9: "3701" on the way to a county code shows no 不是山东现行区县; the 6th digit or leaving the
    field gives the verdict."""
    from textual.widgets import Input, Static

    from qi_station.screens.profile import ProfileScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen))
        scr = app.screen
        region = scr.query_one("#region", Input)
        await until(pilot, lambda: region.value != "" and region.has_focus)

        def place() -> str:
            return str(scr.query_one("#place", Static).render())

        region.select_all()
        await pilot.press("backspace", *"3701")
        await until(pilot, lambda: region.value == "3701")
        assert "不是" not in place(), place()
        await pilot.press(*"02")
        await until(pilot, lambda: region.value == "370102")
        assert "济南" in place() and "不是" not in place(), place()
        await pilot.press("backspace", "backspace", "tab")
        await until(pilot, lambda: not region.has_focus)
        await until(pilot, lambda: "不是" in place())
        assert "不是山东现行区县或地市代码" in place()


async def test_the_valid_only_chip_names_what_it_checks_for_the_element(tmp_path: Path) -> None:
    """F5 institutions: 资质有效 checks the CMA for 检验检测 (or no element); 计量 needs no licence
    (core/qualify), so the chip says 无须资质 rather than seeming to drop expired-CMA institutions."""
    from qi_station.screens.libraries import LibrariesScreen
    from qi_station.screens.widgets import Chip, Choice

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, LibrariesScreen))
        scr = app.screen
        scr.query_one("#kind", Choice).select("institutions")
        chip = scr.query_one("#f-valid", Chip)
        await until(pilot, lambda: chip.display)
        assert "CMA有效" in str(chip.render())
        scr.query_one("#f-element", Choice).select("metrology")
        await until(pilot, lambda: "无须资质" in str(chip.render()))
        scr.query_one("#f-element", Choice).select("testing")
        await until(pilot, lambda: "CMA有效" in str(chip.render()))
        assert "CMA有效" in str(chip.render())


async def test_a_dialog_at_80x24_has_a_frame_and_covers_its_area(tmp_path: Path) -> None:
    """The 转办 dialog at 80x24: an ASCII frame (+-|, one cell on any terminal) round its area, so the
    dimmed page's characters beside it (量, 435) no longer read as the dialog's."""
    import io
    import sqlite3

    from rich.console import Console

    from qi_station.screens.dialogs import ReferDialog

    db = fixture_db(tmp_path)
    rid = sqlite3.connect(db).execute("SELECT id FROM request WHERE number = 'QI0001-202603-0002'").fetchone()
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid[0])
        await settle(pilot)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ReferDialog))
        box = app.screen.query_one("ReferDialog > Vertical").region
        console = Console(width=80, record=True, file=io.StringIO(), legacy_windows=False)
        console.print(app.screen._compositor.render_update(full=True))  # the frame as text: tests only
        lines = console.export_text().splitlines()
    top, bottom = lines[box.y], lines[box.bottom - 1]
    assert top.strip().startswith("+--") and top.rstrip().endswith("-+"), top
    assert bottom.strip().startswith("+--"), bottom
    for line in lines[box.y + 1 : box.bottom - 1]:
        assert line[box.x] == "|" and line.rstrip().endswith("|"), line
