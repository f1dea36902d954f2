"""A station restored from a backup made while changes were waiting (not yet acknowledged), that the
hub has acknowledged since, heals from the hub's restore bundle: the backup's waiting changes are the
hub's already (the same station, the same oseq), so they are not queued again; only work done after
the restore waits (it used to leave ``pending`` at every change the backup held, the whole ledger for
a backup made before the first bundle, and the next bundle or sync sent them all again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_sync_heal_bundle import offline_station, round_trip
from test_sync_hub import env, hub_url  # noqa: F401 - fixtures
from test_sync_util import hub_requests, request_input, station_requests

from qi_station.services import ledger
from qi_station.sync.station import bundles as B

_ = (env, hub_url)


def test_a_backup_with_waiting_changes_the_hub_acknowledged_since_heals_with_nothing_resent(
    env: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from qi_station.db.session import dispose_all
    from qi_station.services.backup import backup_db, restore_db

    hub, _tc, _dbs = env
    db, d = tmp_path / "BK03.db", tmp_path / "usb"
    d.mkdir()
    offline_station(hub, db, "BK03")
    made = [ledger.create_request(db, request_input(i)) for i in range(1, 6)]
    old = tmp_path / "b.db"
    backup_db(db, old)  # five requests waiting: never sent yet
    assert round_trip(hub, db, "BK03", d)["pending"] == 0  # the hub has them all now
    dispose_all()
    restore_db(old, db)
    late = ledger.create_request(db, request_input(9))  # work done after the restore
    rb = hub.export_restore_bundle("BK03", d, force=True)
    healed = B.import_bundle(db, rb["file"])
    assert healed["status"] == "healed"
    from qi_station.sync.station import apply as S

    conn = S.open_conn(db)
    try:
        waiting = {r[0] for r in conn.execute("SELECT row_id FROM outbox WHERE table_name = 'request'")}
    finally:
        conn.close()
    assert waiting == {late["id"]}, (healed["pending"], waiting)
    assert round_trip(hub, db, "BK03", d)["pending"] == 0
    hr, mine = hub_requests(hub), station_requests(db)
    assert {r["id"] for r in [*made, late]} <= set(hr)
    assert all(hr[k]["number"] == mine[k]["number"] for k in mine)


def test_online_a_restored_backup_with_waiting_changes_sends_only_the_new_work(
    env: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from test_sync_hub import sync

    from qi_station.db.session import dispose_all
    from qi_station.services.backup import backup_db, restore_db

    hub, tc, dbs = env
    db = dbs["ZB01"]
    made = [ledger.create_request(db, request_input(i)) for i in range(1, 6)]
    old = tmp_path / "b.db"
    backup_db(db, old)  # five requests waiting
    assert sync(db, tc)["pending"] == 0
    dispose_all()
    restore_db(old, db)
    late = ledger.create_request(db, request_input(9))
    res = sync(db, tc)
    assert res["healed"] and res["pending"] == 0
    # the request made after the restore (its event and its enterprise), not the backup's five again
    assert res["pushed"] == res["acked"] <= 3, res
    hr = hub_requests(hub)
    assert {r["id"] for r in [*made, late]} <= set(hr)
