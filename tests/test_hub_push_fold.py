"""The hub refuses, at push time, a request row that contradicts its own events (leftover of the last
stop's testers: only ``hub verify`` noticed later). HTTP push and up bundle alike; nothing of the
refused batch is written, and the station's real outbox goes through afterwards."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_hub_rules import outbox_batch, push, tamper
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures shared with the hub tests
from test_sync_util import hub_requests, request_input

from qi_station.services import ledger
from qi_station.sync.station import bundles as B


def _closed_rated_1(a: Path, tc: Any) -> dict[str, Any]:
    r = ledger.create_request(a, request_input(1, 1))
    ledger.move_request(a, r["id"], "accepted")
    ledger.move_request(a, r["id"], "in_progress")
    ledger.move_request(
        a, r["id"], "resolved", result="已解决", problems_solved=1, cost_saved="0", charged=False
    )
    sync(a, tc)
    ledger.move_request(a, r["id"], "closed", satisfaction=1, note="不满意")
    return r


def _hub_events(hub: Any, rid: str) -> int:
    import sqlalchemy as sa

    from qi_station.sync.hub.tables import core_table

    te = core_table("request_event")
    with hub.engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).where(te.c.request_id == rid)).scalar() or 0)


def test_a_rating_no_event_sets_is_refused_and_nothing_written(env: Any) -> None:  # noqa: F811
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = _closed_rated_1(a, tc)
    held = _hub_events(hub, r["id"])
    batch, oseq = tamper(outbox_batch(a), "request", satisfaction=5)
    resp = push(tc, a, batch)
    assert resp.status_code == 422, resp.text
    d = resp.json()
    assert (d["oseq"], d["table"], d["field"], d["rule"]) == (oseq, "request", "satisfaction", "ledger_fold")
    assert "satisfaction" in d["message"] and "ledger_fold" in d["message"]
    got = hub_requests(hub)[r["id"]]
    assert (got["status"], got["satisfaction"]) == ("resolved", None)  # nothing of the batch
    assert _hub_events(hub, r["id"]) == held  # the close event of the batch was not written either
    assert sync(a, tc)["pending"] == 0  # the real outbox goes through
    got = hub_requests(hub)[r["id"]]
    assert (got["status"], got["satisfaction"]) == ("closed", 1)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "resolved"}, "status"),  # a jump the lifecycle allows but no event explains
        ({"s_rev": 99}, "s_rev"),  # a change counted that no event made
        ({"result": "编的结果"}, "result"),
    ],
)
def test_a_row_its_events_do_not_explain_is_refused(
    env: Any,  # noqa: F811
    changes: dict[str, Any],
    field: str,
) -> None:
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    ledger.move_request(a, r["id"], "accepted")
    batch, oseq = tamper(outbox_batch(a), "request", **changes)
    resp = push(tc, a, batch)
    assert resp.status_code == 422, resp.text
    assert (resp.json()["field"], resp.json()["rule"], resp.json()["oseq"]) == (field, "ledger_fold", oseq)
    assert hub_requests(hub)[r["id"]]["status"] == "new"
    assert sync(a, tc)["pending"] == 0
    assert hub_requests(hub)[r["id"]]["status"] == "accepted"


def test_a_row_pushed_without_its_event_is_refused(env: Any) -> None:  # noqa: F811
    """A request row whose change travels with no event at all (a status jump, a rating) is refused."""
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = _closed_rated_1(a, tc)
    batch = [ch for ch in outbox_batch(a) if ch["table"] == "request"]  # the row, not its close event
    batch = [{**ch, "oseq": ch["oseq"] - 1} for ch in batch]  # where the event was: no gap
    resp = push(tc, a, batch)
    assert resp.status_code == 422, resp.text
    assert (resp.json()["field"], resp.json()["rule"]) == ("s_rev", "ledger_fold")
    assert hub_requests(hub)[r["id"]]["status"] == "resolved"


def test_a_bundled_row_that_contradicts_its_events_is_refused(env: Any, tmp_path: Path) -> None:  # noqa: F811
    from qi_station.sync.proto import SyncError

    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = _closed_rated_1(a, tc)
    conn = sqlite3.connect(a)
    good = conn.execute(
        "SELECT oseq, row_json FROM outbox WHERE table_name = 'request' ORDER BY oseq DESC"
    ).fetchone()
    bad = json.loads(good[1])
    bad["satisfaction"] = 5
    conn.execute("UPDATE outbox SET row_json = ? WHERE oseq = ?", (json.dumps(bad), good[0]))
    conn.commit()
    up = tmp_path / "up.zip"
    B.export_bundle(a, up)  # signed by the station itself: only the hub's rules stand in the way
    with pytest.raises(SyncError) as ei:
        hub.import_bundle(up)
    assert ei.value.status == 422
    assert (ei.value.data["oseq"], ei.value.data["field"], ei.value.data["rule"]) == (
        good[0],
        "satisfaction",
        "ledger_fold",
    )
    assert hub_requests(hub)[r["id"]]["satisfaction"] is None
    conn.execute("UPDATE outbox SET row_json = ? WHERE oseq = ?", (good[1], good[0]))
    conn.commit()
    conn.close()
    B.export_bundle(a, up, force=True)
    assert hub.import_bundle(up)["status"] == "imported"
    assert hub_requests(hub)[r["id"]]["satisfaction"] == 1


def test_a_time_ahead_of_the_hub_clock_beyond_the_gap_is_refused(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row stamped more than ``core.clock.CLOCK_GAP`` ahead of the hub's clock (the station's PC clock
    runs ahead) is refused, naming the field and the rule; within the gap it is taken."""
    from qi_station.core.clock import CLOCK_GAP

    hub, tc, dbs = env
    a = dbs["ZB01"]
    monkeypatch.setenv("QI_STATION_NOW", "2026-03-10T10:00:00+08:00")
    ledger.create_request(a, request_input(1, 1))
    monkeypatch.setenv("QI_STATION_NOW", "2026-03-08T09:00:00+08:00")  # the hub, 2 days 1 h behind
    resp = push(tc, a, outbox_batch(a))
    assert resp.status_code == 422, resp.text
    d = resp.json()
    assert d["rule"] == "clock_ahead" and d["field"] in ("at", "created_at", "updated_at", "received_at"), d
    assert f"{CLOCK_GAP.days} day ahead of the hub's clock" in d["message"]
    assert hub_requests(hub) == {}
    monkeypatch.setenv("QI_STATION_NOW", "2026-03-09T11:00:00+08:00")  # 23 h behind: within the gap
    assert sync(a, tc)["pending"] == 0
    assert len(hub_requests(hub)) == 1
