"""The "who is working" dialog at the start comes over a dashboard that already shows its figures: a
screen under a dialog is painted with the layout it had, so a dashboard still filling came out with its
sync line cut (the operator snapshot, under load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


async def test_the_operator_dialog_waits_for_the_dashboards_figures(tmp_path: Path) -> None:
    from qi_station.app import StationApp
    from qi_station.screens.dashboard import DashboardScreen
    from qi_station.screens.operator import OperatorDialog
    from qi_station.services.staff import add_staff

    db = fixture_db(tmp_path)
    add_staff(db, "王站长", "站长")
    add_staff(db, "李专员", "服务专员")
    seen: list[bool] = []  # at each dialog's mount: was the dashboard under it filled?

    app = StationApp(db, lang="zh", config={}, offer_demo=False)

    def pushed(screen: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(screen, OperatorDialog):
            under = app.screen
            seen.append(isinstance(under, DashboardScreen) and under.has_class("loaded"))
        return real_push(screen, *args, **kwargs)

    real_push = app.push_screen
    app.push_screen = pushed  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(400):
            await pilot.pause()
            if isinstance(app.screen, OperatorDialog):
                break
        assert isinstance(app.screen, OperatorDialog)
        assert seen == [True]
