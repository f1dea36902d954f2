"""An outside attacker's findings: ``hub stations`` showed 0 conflicts while ``sync_conflict`` held the
station's unresolved ``clock_ahead`` and ``station_overrides_hub_status`` rows (it counted only the rows
about the station row itself); a station reported the real clock (time.time) as its now while it stamped
rows with its own (``env_now``), so a station whose clock ran ahead was never refused ``clock_ahead``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures shared with the hub tests
from test_sync_util import hub_requests, request_input
from typer.testing import CliRunner

from qi_station.services import ledger
from qi_station.sync.proto import SyncError


def _stations(hub: Any) -> dict[str, dict[str, Any]]:
    return {s["code"]: s for s in hub.stations()}


def test_hub_stations_counts_every_open_conflict_of_the_station_with_its_kinds(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qi_station.cli.commands import app

    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    ledger.move_request(a, r["id"], "accepted")
    sync(a, tc)
    hub.assign(r["id"], status="cancelled", note="省级取消")  # the province cancels it
    ledger.move_request(a, r["id"], "in_progress")  # offline, before the station sees it
    sync(a, tc)  # the station's move overrides it: station_overrides_hub_status
    # this PC's clock ran ahead while it recorded a request, then was set right: taken and flagged
    monkeypatch.setenv("QI_STATION_NOW", "2027-06-15T10:00:00+08:00")
    ahead = ledger.create_request(a, request_input(2, 1))
    monkeypatch.delenv("QI_STATION_NOW")
    res = sync(a, tc)
    assert ahead["number"] in res["clock_ahead_taken"]
    assert ahead["id"] in hub_requests(hub)
    st = _stations(hub)
    kinds = st["ZB01"]["conflict_kinds"]
    assert kinds.get("station_overrides_hub_status") == 1, kinds
    assert kinds.get("clock_ahead", 0) >= 1, kinds
    assert st["ZB01"]["conflicts"] == sum(kinds.values())
    assert st["ZB01"]["last_conflict"]["kind"] == "clock_ahead"
    assert (st["QD02"]["conflicts"], st["QD02"]["conflict_kinds"]) == (0, {})  # another station's: none
    url = hub.url
    out = CliRunner().invoke(app, ["--lang", "en", "hub", "stations", "--database-url", url])
    assert out.exit_code == 0, out.output
    line = next(x for x in out.output.splitlines() if x.startswith("ZB01"))
    assert f"CONFLICTS {st['ZB01']['conflicts']} (last clock_ahead" in line, line
    out = CliRunner().invoke(app, ["hub", "stations", "--database-url", url])  # zh, the default
    line = next(x for x in out.output.splitlines() if x.startswith("ZB01"))
    assert f"同步冲突 {st['ZB01']['conflicts']} 条（最近 clock_ahead" in line, line
    js = json.loads(CliRunner().invoke(app, ["hub", "stations", "--json", "--database-url", url]).output)
    assert next(s for s in js if s["code"] == "ZB01")["conflict_kinds"] == kinds
    # the admin lists them: hub conflicts (--station, --json)
    listed = CliRunner().invoke(
        app, ["hub", "conflicts", "--station", "zb01", "--json", "--database-url", url]
    )
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert len(rows) == st["ZB01"]["conflicts"] and {x["station"] for x in rows} == {"ZB01"}
    assert {x["kind"] for x in rows} == set(kinds)
    over = next(x for x in rows if x["kind"] == "station_overrides_hub_status")
    assert (over["row_id"], over["detail"]["hub_status"]) == (r["id"], "cancelled")
    text = CliRunner().invoke(app, ["hub", "conflicts", "--database-url", url])
    assert text.exit_code == 0 and "clock_ahead" in text.output and "ZB01" in text.output, text.output
    assert (
        json.loads(
            CliRunner()
            .invoke(app, ["hub", "conflicts", "--station", "QD02", "--json", "--database-url", url])
            .output
        )
        == []
    )


AHEAD = "2027-06-15T10:00:00+08:00"  # this PC's clock, half a year ahead of the hub's


def _hub_clock_is_the_real_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub runs in this process: its own clock (what it checks rows and the station's claimed now
    against) reads the real one while QI_STATION_NOW stands for the station PC's clock."""
    import time

    from qi_station.core import clock
    from qi_station.sync.hub import base, rules

    monkeypatch.setattr(base, "env_now_ms", lambda: time.time_ns() // 1_000_000)
    monkeypatch.setattr(rules, "env_now", clock.now_utc)


def test_the_station_reports_the_clock_it_stamps_with(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from qi_station.core.clock import env_now_ms
    from qi_station.sync.station import wire

    monkeypatch.setenv("QI_STATION_NOW", AHEAD)
    want = int(datetime.fromisoformat(AHEAD).astimezone(UTC).timestamp() * 1000)
    assert env_now_ms() == want
    assert wire.station_now_ms() == want


def test_a_station_whose_clock_runs_ahead_is_refused_then_taken_and_flagged_once_set_right(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub, tc, dbs = env
    a = dbs["ZB01"]
    _hub_clock_is_the_real_one(monkeypatch)
    monkeypatch.setenv("QI_STATION_NOW", AHEAD)
    r = ledger.create_request(a, request_input(1, 1))
    with pytest.raises(SyncError) as ei:  # it says the clock it stamped with: still ahead, refused
        sync(a, tc)
    assert (ei.value.status, ei.value.data.get("rule")) == (422, "clock_ahead")
    assert ei.value.code == "clock_ahead"  # the CLI's [code] and --json error: never a bare [rule]
    assert "Set this PC's date and time right" in ei.value.message
    assert hub_requests(hub) == {}
    skew = _stations(hub)["ZB01"]["clock_skew_ms"]
    assert skew is not None and skew > 100 * 86_400_000, skew  # the claimed clock, as hub stations says
    assert _stations(hub)["ZB01"]["conflicts"] == 0  # nothing taken, nothing flagged
    monkeypatch.delenv("QI_STATION_NOW")  # the clock set right
    res = sync(a, tc)
    assert r["number"] in res["clock_ahead_taken"]
    assert r["id"] in hub_requests(hub)
    st = _stations(hub)["ZB01"]
    assert st["conflict_kinds"].get("clock_ahead", 0) >= 1 and abs(st["clock_skew_ms"]) < 86_400_000


def test_an_up_bundle_written_while_the_clock_runs_ahead_is_refused(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    from qi_station.sync.station import bundles as B

    hub, tc, dbs = env
    a = dbs["ZB01"]
    sync(a, tc)
    _hub_clock_is_the_real_one(monkeypatch)
    monkeypatch.setenv("QI_STATION_NOW", AHEAD)
    ledger.create_request(a, request_input(1, 1))
    up = tmp_path / "up.zip"
    B.export_bundle(a, up)
    monkeypatch.delenv("QI_STATION_NOW")
    with pytest.raises(SyncError) as ei:
        hub.import_bundle(up)
    assert ei.value.data.get("rule") == "clock_ahead", ei.value.data
    assert ei.value.code == "clock_ahead"  # `hub import-bundle` says [clock_ahead], as a push does
    assert hub_requests(hub) == {}
