"""Directed tests for hub-side events in the station chain, the tombstone horizon (410 + snapshot
resync) and rebuilding a lost station database from the hub (re-enrollment)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import rows

from qi_station import ledger
from qi_station.sync import station as S

_ = (env, hub_url)
EV_COLS = ("id", "request_id", "n", "at", "actor", "kind", "from_status", "to_status", "note", "data",
           "prev_hash", "hash")


def chain(db: Path, rid: str) -> list[dict[str, Any]]:
    return [dict(zip(EV_COLS, r, strict=True)) for r in
            rows(db, f"SELECT {', '.join(EV_COLS)} FROM request_event WHERE request_id = ? ORDER BY n", (rid,))]


def hub_chain(hub: Any, rid: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from qi_station.sync.hubstore import wire_value

    with hub.engine.connect() as c:
        return [{k: wire_value(v) for k, v in zip(EV_COLS, r, strict=True)} for r in c.execute(
            sa.text(f"SELECT {', '.join(EV_COLS)} FROM request_event WHERE request_id = :r ORDER BY n"), {"r": rid})]


def test_hub_move_is_a_hub_event_in_both_chains(env: Any) -> None:  # noqa: F811
    from test_sync_util import request_input

    hub, tc, dbs = env
    db = dbs["ZB01"]
    r = ledger.create_request(db, request_input(1))
    ledger.move_request(db, r["id"], "accepted")
    sync(db, tc)
    hub.assign(r["number"], expert_id="e-1", note="省局指派", status="in_progress")
    sync(db, tc)
    st = rows(db, "SELECT status, hub_expert_id, h_rev FROM request WHERE id = ?", (r["id"],))[0]
    assert st == ("in_progress", "e-1", 1)
    evs = chain(db, r["id"])
    assert [e["kind"] for e in evs] == ["created", "status", "hub"]
    hub_ev = evs[-1]
    assert (hub_ev["actor"], hub_ev["from_status"], hub_ev["to_status"], hub_ev["note"]) == \
        ("hub", "accepted", "in_progress", "省局指派")
    assert json.loads(hub_ev["data"]) == {"h_rev": 1, "hub_expert_id": "e-1", "hub_note": "省局指派",
                                          "hub_priority": None, "hub_status": "in_progress", "adopted": True}
    assert ledger.verify_chain(evs) == (True, None)
    # the event went up with the next push: the hub holds the identical chain
    assert hub_chain(hub, r["id"]) == evs
    assert ledger.verify_chain(hub_chain(hub, r["id"])) == (True, None)
    # a station move after the hub event continues the same chain on both sides
    ledger.move_request(db, r["id"], "resolved", result="已解决", problems_solved=1, cost_saved="2")
    sync(db, tc)
    assert hub_chain(hub, r["id"]) == chain(db, r["id"])
    assert [e["n"] for e in chain(db, r["id"])] == [1, 2, 3, 4]
    # a re-pull of the same hub state appends nothing (no echo)
    sync(db, tc)
    assert len(chain(db, r["id"])) == 4
    assert S.pending(S.open_conn(db)) == 0


def test_hub_status_not_adopted_is_still_recorded(env: Any) -> None:  # noqa: F811
    from test_sync_util import request_input

    hub, tc, dbs = env
    db = dbs["ZB01"]
    r = ledger.create_request(db, request_input(2))
    sync(db, tc)
    hub.assign(r["id"], status="accepted", priority="high")
    ledger.move_request(db, r["id"], "cancelled")  # offline: the station's own newer change wins
    conn = S.open_conn(db)
    page = json.loads(json.dumps(hub.pull(hub.station_by_token(S.kv_get(conn, "api_token")), 0, 1000)))
    S.apply_page(conn, page)
    conn.close()
    evs = chain(db, r["id"])
    assert evs[-1]["kind"] == "hub" and evs[-1]["to_status"] == "cancelled"
    assert json.loads(evs[-1]["data"])["adopted"] is False
    assert rows(db, "SELECT status, hub_priority FROM request WHERE id = ?", (r["id"],))[0] == ("cancelled", "high")
    sync(db, tc)
    assert hub_chain(hub, r["id"]) == chain(db, r["id"])
    assert ledger.verify_chain(chain(db, r["id"])) == (True, None)
