"""Outside testers, round N item 1: a restore meets an enterprise registered again (new id, same
USCC). The station reconciles by USCC (an enterprise is its USCC) and sync keeps working."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import hub_requests, request_input, rows, station_requests

from qi_station.services import ledger

_ = (env, hub_url)


@pytest.mark.parametrize("hub_url", ["sqlite"], indirect=True)
def test_restore_then_same_uscc_new_enterprise_syncs(env: Any, tmp_path: Path, hub_url: str) -> None:  # noqa: F811
    from qi_station.db.session import dispose_all
    from qi_station.services.backup import backup_db, restore_db
    from qi_station.services.verify import verify_ledger

    hub, tc, dbs = env
    db = dbs["ZB01"]
    e0 = ledger.create_request(db, request_input(0, ent=0))
    sync(db, tc)
    old = tmp_path / "b.db"
    backup_db(db, old)  # the backup knows nothing of enterprise 5
    e1 = ledger.create_request(db, request_input(1, ent=5))
    sync(db, tc)  # the hub has enterprise 5 under its first id
    dispose_all()
    restore_db(old, db)
    e2 = ledger.create_request(db, request_input(2, ent=5))  # registered again: new id, same USCC
    res = sync(db, tc)
    assert res["ok"] and res["pending"] == 0, res
    mine = station_requests(db)
    assert {e0["id"], e1["id"], e2["id"]} <= set(mine)
    ents = rows(db, "SELECT id, uscc FROM enterprise")
    assert len({u for _i, u in ents}) == len(ents)  # one row per USCC
    assert mine[e1["id"]]["enterprise_id"] == mine[e2["id"]]["enterprise_id"]
    assert verify_ledger(db)["ok"]
    hr = hub_requests(hub)
    assert e2["id"] in hr
    # and the next sync is an ordinary one
    ledger.move_request(db, e2["id"], "accepted")
    assert sync(db, tc)["pending"] == 0
