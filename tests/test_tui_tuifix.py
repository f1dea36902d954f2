"""TUI leftovers: a Choice filled while a layout is pending, keys typed before the enterprise suggestions
show, a burst of moves in the request detail, toasts over wide text, the page-hint line under a dialog,
the month box, the enterprise page's 更多, the F7 overwrite question."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tui_pilot import until

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("tui_env")]


async def test_a_choice_set_while_a_layout_is_pending_fits_its_label() -> None:
    """站点信息 (F9) under load: the worker's answer set 园区工作站 while the Choice's first layout was still
    pending, and it kept the width of 综合服务中心 (the snapshot's row showed a stray wide block)."""
    from rich.cells import cell_len
    from textual.app import App
    from textual.containers import Horizontal

    from qi_station.screens.widgets import Choice

    class One(App[None]):
        def compose(self) -> Any:
            with Horizontal():
                yield Choice([("long", "Comprehensive service center"), ("short", "Park")], id="c")

    app = One()
    async with app.run_test(size=(80, 5)) as pilot:
        choice = app.query_one("#c", Choice)
        await until(pilot, lambda: choice.region.width == cell_len("< Comprehensive service center >") + 2)
        choice._layout_required = True  # a layout of it still pending, as under load (private: the race)
        choice.value = "short"
        want = cell_len("< Park >") + 2
        await until(pilot, lambda: choice.region.width == want)
        assert choice.region.width == want
