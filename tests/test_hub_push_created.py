"""The hub refuses a pushed request row whose columns its ``created`` event fixed (received_at, title,
elements, channel, urgency, promised date) say something else, a number whose month is not the receipt
month, and an event that does not start from its chain's status; ``hub verify`` reports such a row.
An outside attacker's findings: the pending outbox row edited, then synced, was taken and counted."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from test_hub_rules import outbox_batch, push, tamper
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures shared with the hub tests
from test_sync_util import hub_requests, request_input

from qi_station.services import ledger
from qi_station.services.verify import verify_ledger
from qi_station.sync.proto import SyncError
from qi_station.sync.station import apply as S

NOW = "2026-03-10T10:00:00+08:00"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"received_at": "2026-01-05 02:00:00"}, "received_at"),  # moved to another month
        ({"elements": '["metrology"]'}, "elements"),
        ({"channel": "event"}, "channel"),
        ({"urgency": "urgent"}, "urgency"),
        ({"title": "改过的标题"}, "title"),
        ({"promised_date": "2026-04-30"}, "promised_date"),
        ({"number": "ZB01-202602-0001"}, "number"),  # a number of another month than its receipt
    ],
)
def test_a_created_column_no_event_recorded_is_refused(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    changes: dict[str, Any],
    field: str,
) -> None:
    monkeypatch.setenv("QI_STATION_NOW", NOW)
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    ledger.move_request(a, r["id"], "accepted")
    batch, oseq = tamper(outbox_batch(a), "request", **changes)
    resp = push(tc, a, batch)
    assert resp.status_code == 422, resp.text
    d = resp.json()
    rule = "number_month" if field == "number" else "ledger_created"
    assert (d["oseq"], d["table"], d["field"], d["rule"]) == (oseq, "request", field, rule)
    assert field in d["message"] and rule in d["message"]
    assert hub_requests(hub) == {}  # the refused batch wrote nothing
    assert sync(a, tc)["pending"] == 0  # the real outbox goes through
    got = hub_requests(hub)[r["id"]]
    assert (got["number"], got["status"]) == (r["number"], "accepted")


def test_a_created_column_changed_on_a_later_push_is_refused(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The row the hub already holds, pushed again with a later change and a created column edited."""
    monkeypatch.setenv("QI_STATION_NOW", NOW)
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    ledger.move_request(a, r["id"], "accepted")
    batch, _oseq = tamper(outbox_batch(a), "request", received_at="2026-03-01 02:00:00")
    resp = push(tc, a, batch)
    assert resp.status_code == 422, resp.text
    assert (resp.json()["field"], resp.json()["rule"]) == ("received_at", "ledger_created")
    assert hub_requests(hub)[r["id"]]["status"] == "new"


def test_hub_verify_reports_a_created_column_edited_at_the_hub(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sqlalchemy as sa

    from qi_station.sync.hub.tables import core_table

    monkeypatch.setenv("QI_STATION_NOW", NOW)
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    assert hub.verify()["ok"]
    tr = core_table("request")
    with hub.engine.begin() as c:
        c.execute(sa.update(tr).where(tr.c.id == r["id"]).values(channel="event"))
    got = hub.verify()
    assert not got["ok"]
    assert any("channel" in p for x in got["problems"] for p in x["problems"]), got


def test_ledger_verify_reports_a_created_column_edited_on_the_station(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QI_STATION_NOW", NOW)
    _hub, _tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    assert verify_ledger(a)["ok"]
    conn = sqlite3.connect(a)
    conn.execute("UPDATE request SET received_at = '2026-01-05 02:00:00' WHERE id = ?", (r["id"],))
    conn.commit()
    conn.close()
    got = verify_ledger(a)
    assert not got["ok"]
    text = " ".join(p for x in got["problems"] for p in x["problems"])
    assert "received_at" in text and "number" in text, got


def test_an_event_that_does_not_start_from_the_chains_status_is_refused(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second new -> accepted after new -> accepted (written through the station's own ledger
    functions, so hashes, head and signature are all right): the hub refuses it, nothing written."""
    from qi_station.db import write

    monkeypatch.setenv("QI_STATION_NOW", NOW)
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    ledger.move_request(a, r["id"], "accepted")
    sync(a, tc)
    conn = S.open_conn(a)
    try:
        with S.tx(conn):
            loc = write.fetch_dict(conn, "SELECT * FROM request WHERE id = :i", {"i": r["id"]})
            assert loc is not None
            write.update_request(
                conn,
                loc,
                {"s_rev": int(loc["s_rev"]) + 1},
                "ZB01",
                event=dict(
                    at="2026-03-10 02:30:00",
                    actor="x",
                    kind="status",
                    from_status="new",
                    to_status="accepted",
                ),
            )
    finally:
        conn.close()
    with pytest.raises(SyncError) as ei:
        sync(a, tc)
    assert (ei.value.status, ei.value.data.get("field"), ei.value.data.get("rule")) == (
        422,
        "from_status",
        "lifecycle_step",
    )
    assert "event 3" in ei.value.message
    assert hub_requests(hub)[r["id"]]["s_rev"] == 2  # nothing of the batch


def test_a_request_recorded_with_the_clock_ahead_is_taken_as_stamped_and_flagged_once_the_clock_is_right(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request recorded while this PC's clock ran ahead: refused while the clock still runs ahead (the
    station is told to set it); once it is set right, the hub takes it as stamped (never re-dated) and
    flags it (sync_conflict clock_ahead), and the sync says so; what was queued after it goes too."""
    import json
    import time

    import sqlalchemy as sa
    from test_sync_util import station_requests

    from qi_station.sync.station import wire

    hub, tc, dbs = env
    a = dbs["ZB01"]
    monkeypatch.setenv("QI_STATION_NOW", "2027-06-15T10:00:00+08:00")  # this PC's clock ahead
    r = ledger.create_request(a, request_input(1, 1))
    ahead_ms = time.time_ns() // 1_000_000 + 200 * 86_400_000
    monkeypatch.setenv("QI_STATION_NOW", "2026-12-01T10:00:00+08:00")  # the hub's clock
    with monkeypatch.context() as mp:  # this PC's clock, as it tells the hub, still runs ahead
        mp.setattr(wire, "station_now_ms", lambda: ahead_ms)
        with pytest.raises(SyncError) as ei:
            sync(a, tc)
    e = ei.value
    assert (e.status, e.data.get("rule")) == (422, "clock_ahead")
    assert r["number"] in e.message and "2027-06-15" in e.message
    assert "stays on this PC" in e.message and "Set this PC's date and time right" in e.message
    assert hub_requests(hub) == {}
    assert r["id"] in station_requests(a)  # kept here, unsent
    # the clock set right: the same rows, never re-dated, are taken and flagged; the next request too
    r2 = ledger.create_request(a, request_input(2, 1))
    res = sync(a, tc)
    assert res["pending"] == 0
    held = hub_requests(hub)
    assert set(held) == {r["id"], r2["id"]}
    assert str(held[r["id"]]["received_at"]).startswith("2027-06-15")  # as stamped
    assert r["number"] in res["clock_ahead_taken"] and "flagged" in res["clock_ahead_taken"]
    assert r2["number"] not in res["clock_ahead_taken"]
    with hub.engine.connect() as c:
        flags = c.execute(
            sa.text("SELECT table_name, row_id, detail FROM sync_conflict WHERE kind = 'clock_ahead'")
        ).all()
    assert {(t, rid) for t, rid, _d in flags} >= {("request", r["id"])}
    assert all(json.loads(d)["station"] == "ZB01" for _t, _rid, d in flags)
    assert r2["id"] not in {rid for _t, rid, _d in flags}
    assert "clock_ahead_taken" not in sync(a, tc)  # said once
