"""Outside attacker (atkfix 4): a station whose clock runs a year ahead. A report's 数据截至 is never after
the report was made, and a sync says when this PC's clock and the hub's are more than a day apart."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import request_input

from qi_station.core.clock import CLOCK_GAP, clock_gap, env_now, not_after
from qi_station.reports.figures import monthly_report
from qi_station.services import ledger


def test_the_clock_rules() -> None:
    now = datetime(2026, 10, 5, 2, 0)
    assert not_after(now + timedelta(days=365), now) == now
    assert not_after(now - timedelta(hours=1), now) == now - timedelta(hours=1)
    assert not_after(None, now) is None
    assert clock_gap(now + CLOCK_GAP, now, "this PC", "the hub") is None
    ahead = clock_gap(now + timedelta(days=365), now, "this PC", "the hub")
    assert ahead is not None and "365.0 days ahead of the hub's" in ahead and "快" in ahead
    behind = clock_gap(now - timedelta(days=2), now, "this PC", "the hub")
    assert behind is not None and "2.0 days behind the hub's" in behind and "慢" in behind


def test_data_as_of_is_never_after_the_report(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", "2027-10-05T10:00:00+08:00")  # the PC's clock a year ahead
    ledger.create_request(db, request_input(1, 1))
    monkeypatch.setenv("QI_STATION_NOW", "2026-10-05T10:00:00+08:00")  # set right again
    rep = monthly_report(db, "2026-10")
    assert rep["data_as_of"] is not None and rep["data_as_of"] <= rep["generated_at"]
    assert rep["data_as_of"] == rep["generated_at"]


def test_sync_warns_when_the_hub_clock_is_a_day_apart(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qi_station.sync.hub import pull as hub_pull

    monkeypatch.setenv("QI_STATION_NOW", "2026-10-05T10:00:00+08:00")
    _hub, tc, dbs = env
    a = dbs["ZB01"]
    res = sync(a, tc)
    assert "clock_warning" not in res
    hub_now = env_now() - timedelta(days=365)  # the hub's clock: this PC runs a year ahead of it
    monkeypatch.setattr(hub_pull, "env_now", lambda: hub_now)
    res = sync(a, tc)
    assert "365.0 days ahead of the hub's" in res["clock_warning"]
    monkeypatch.setattr(hub_pull, "env_now", env_now)
    assert "clock_warning" not in sync(a, tc)  # cleared once the clocks agree
