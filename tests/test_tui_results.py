"""The library screen's search as you type (``screens/result_list.py``: the results list and the search
box) and how a main screen is resumed (``screens/base.py``): once per visit, restyled once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, settle
from tui_pilot import press_to

pytestmark = pytest.mark.usefixtures("tui_env")


async def _libraries(pilot: Any) -> Any:
    """F5 from the dashboard: the libraries screen, settled."""
    from qi_station.screens.libraries import LibrariesScreen

    await settle(pilot)
    return await press_to(pilot, "f5", LibrariesScreen)


async def test_search_results_draw_only_the_lines_in_view_and_the_keys_move_the_cursor(
    tmp_path: Path,
) -> None:
    """New results are all in the list at once, but only the lines in view are drawn (the keystroke's
    paint); a newer list replaces them. Down, PgDn, End and Home move the cursor (and the detail), the
    view follows it; wide (Chinese) names are cut to their column in terminal cells."""
    from rich.cells import cell_len

    from qi_station.screens.result_list import ResultList

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        lib = await _libraries(pilot)
        table = lib.query_one("#lib-table", ResultList)

        def fake(n: int, tag: str) -> list[dict[str, Any]]:
            return [
                {"id": f"{tag}{i}", "kind": "experts", "name": f"{tag}专家{i}" * (8 if i == 1 else 1)}
                for i in range(n)
            ]

        lib.show(lib._params(), fake(40, "甲"))
        await settle(pilot)
        assert table.row_count == 40
        drawn = [i for i, line in enumerate(table._shown) if line is not None]
        assert drawn == list(range(table.size.height - 1))  # the header takes the first line
        assert [table.get_cell_at((i, 0)) for i in (0, 39)] == ["甲专家0", "甲专家39"]
        assert table.widths[0] == 20  # 80 columns: name and info share the rest evenly (opfixt)
        lines = [str(line.text) for line in table.render_lines(table.region.reset_offset)]
        assert lines[2].startswith(" 甲专家1甲专家1甲专..  ")
        assert {cell_len(line) for line in lines} == {table.size.width}
        table.focus()
        await pilot.press("down")
        await settle(pilot)
        assert table.cursor_row == 1 and "甲专家1甲专家1" in str(lib.query_one("#lib-detail-text").render())
        await pilot.press("pagedown")
        await settle(pilot)
        assert table.cursor_row == 1 + table.size.height - 2
        await pilot.press("end")
        await settle(pilot)
        assert table.cursor_row == 39 and table.scroll_offset.y == 40 + 1 - table.size.height
        assert "甲专家39" in str(lib.query_one("#lib-detail-text").render())
        await pilot.press("home")
        await settle(pilot)
        assert table.cursor_row == 0 and table.scroll_offset.y == 0
        lib.show(lib._params(), fake(40, "乙"))
        lib.show(lib._params(), fake(3, "丙"))  # before the frame: only the 丙 rows are shown
        await settle(pilot)
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == [
            "丙专家0",
            "丙专家1" * 8,
            "丙专家2",
        ]


async def test_a_search_longer_than_its_box_scrolls_to_the_cursor(tmp_path: Path) -> None:
    """The search box's growing text moves only its scroll limits (no re-layout per key): a text longer
    than the box still shows its end and the cursor, and Home shows its start again."""
    from qi_station.screens.result_list import SearchInput

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        lib = await _libraries(pilot)
        box = lib.query_one("#q", SearchInput)
        text = "abc" + "x" * 80 + "XYZ"  # the box is about 64 cells wide at 80 columns
        await pilot.press(*text)
        await settle(pilot)
        shown = "".join(str(line.text) for line in box.render_lines(box.region.reset_offset))
        assert box.value == text and box.size.width < len(text)
        assert box.virtual_size.width == len(text) + 1 and box.scroll_offset.x > 0
        assert "XYZ" in shown and not shown.startswith("abc")
        await pilot.press("home")
        await settle(pilot)
        shown = "".join(str(line.text) for line in box.render_lines(box.region.reset_offset))
        assert box.scroll_offset.x == 0 and shown.startswith("abc")


async def test_a_main_screen_is_restyled_once_per_resume(tmp_path: Path) -> None:
    """Textual resumes a mode's screen twice when it is first shown; the second resume (no suspend
    between) keeps the styles, so F5 restyles the libraries screen once, and coming back to it after
    another screen (a suspend, then a resume) restyles it again."""
    from qi_station.screens.libraries import LibrariesScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        restyled: list[Any] = []
        update_styles = app.update_styles

        def counted(node: Any, animate: bool = True) -> None:
            if isinstance(node, LibrariesScreen):
                restyled.append(node)
            update_styles(node, animate)

        app.update_styles = counted  # type: ignore[method-assign]
        lib = await _libraries(pilot)
        assert restyled == [lib]
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        assert app.screen is lib and restyled == [lib, lib]


async def test_a_screen_reloads_its_data_once_per_visit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F5 loads the libraries at mount and once more as the screen is resumed (Textual resumes a new
    mode's screen twice; the screen's handler also ran again through ``super()``: five searches); a
    return to it after F3 loads once."""
    from qi_station.screens.libraries import LibrariesScreen

    loads: list[Any] = []
    refresh_data = LibrariesScreen.refresh_data

    def counted(self: LibrariesScreen) -> None:
        loads.append(self)
        refresh_data(self)

    monkeypatch.setattr(LibrariesScreen, "refresh_data", counted)
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        lib = await _libraries(pilot)
        assert app.ready and loads == [lib, lib]
        await pilot.press("f3")
        await settle(pilot)
        loads.clear()
        await pilot.press("f5")
        await settle(pilot)
        assert app.screen is lib and loads == [lib]
