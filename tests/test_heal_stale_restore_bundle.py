"""A USB station restored from a backup refuses a restore bundle older than what the hub acknowledged
before the restore (the replaced database's ack, kept by ``restore`` as ``kvkeys.RESTORED_KNOWN_ACK``):
healing from it reported "healed" and reused oseqs the hub held with other content (``device_conflict``),
and even a current restore bundle could not mend it afterwards. Refused before anything is written, the
restore mark stays; the current restore bundle then heals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sync_heal_bundle import offline_station, round_trip
from test_sync_hub import env, hub_url  # noqa: F401 - fixtures
from test_sync_util import hub_requests, request_input, station_requests

from qi_station.db import kvkeys
from qi_station.services import ledger
from qi_station.sync.proto import SyncError
from qi_station.sync.station import apply as S
from qi_station.sync.station import bundles as B

_ = (env, hub_url)


def _kv(db: Path) -> dict[str, str]:
    conn = S.open_conn(db)
    try:
        return {str(k): str(v) for k, v in conn.execute("SELECT k, v FROM kv").fetchall()}
    finally:
        conn.close()


def test_an_older_restore_bundle_is_refused_as_stale_and_the_current_one_heals(
    env: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from qi_station.db.session import dispose_all
    from qi_station.services.backup import backup_db, restore_db

    hub, _tc, _dbs = env
    db, d, old_d = tmp_path / "WF01.db", tmp_path / "usb", tmp_path / "old"
    d.mkdir()
    old_d.mkdir()
    offline_station(hub, db, "WF01")
    u1 = ledger.create_request(db, request_input(1))
    assert round_trip(hub, db, "WF01", d)["pending"] == 0
    bak = tmp_path / "b7.db"
    backup_db(db, bak)
    stale = hub.export_restore_bundle("WF01", old_d)
    u2 = ledger.create_request(db, request_input(2))
    assert round_trip(hub, db, "WF01", d)["pending"] == 0
    known = int(_kv(db)[kvkeys.ACKED_OSEQ])
    assert stale["acked_oseq"] < known
    dispose_all()
    restore_db(bak, db)
    assert int(_kv(db)[kvkeys.RESTORED_KNOWN_ACK]) == known
    u3 = ledger.create_request(db, request_input(3))
    before = station_requests(db)
    with pytest.raises(SyncError) as e:
        B.import_bundle(db, stale["file"])
    assert e.value.code == "stale_restore"
    assert "current restore bundle" in str(e.value) and "当前的恢复数据包" in str(e.value)
    kv = _kv(db)
    assert kv.get(kvkeys.STATION_RESTORED) == "1"  # still marked: export-bundle keeps refusing
    assert station_requests(db) == before  # nothing written
    with pytest.raises(SyncError) as e2:
        B.export_bundle(db, d, force=True)
    assert e2.value.code == "station_behind"
    current = hub.export_restore_bundle("WF01", d, force=True)
    assert B.import_bundle(db, current["file"])["status"] == "healed"
    assert kvkeys.RESTORED_KNOWN_ACK not in _kv(db)
    assert round_trip(hub, db, "WF01", d)["pending"] == 0
    hr, mine = hub_requests(hub), station_requests(db)
    assert {r["id"] for r in (u1, u2, u3)} <= set(hr)
    assert all(hr[k]["number"] == mine[k]["number"] for k in mine)


class _OldHub:
    """The hub's ``restore`` endpoint answering with an ack below what the station knew (a hub put back
    from an older copy): nothing of its own, ack ``acked``."""

    def __init__(self, acked: int) -> None:
        self.acked = acked

    def restore(self, table: str, after: str, limit: int) -> dict[str, Any]:
        return {"cols": [], "rows": [], "more": False, "last": after, "acked_oseq": self.acked}


def test_online_a_stale_restore_answer_heals_nothing_and_keeps_the_mark(
    env: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from test_sync_hub import sync

    from qi_station.db.session import dispose_all
    from qi_station.services.backup import backup_db, restore_db
    from qi_station.sync.station import heal

    _hub, tc, dbs = env
    db = dbs["ZB01"]
    ledger.create_request(db, request_input(1))
    old = tmp_path / "b.db"
    backup_db(db, old)
    ledger.create_request(db, request_input(2))
    assert sync(db, tc)["pending"] == 0
    known = int(_kv(db)[kvkeys.ACKED_OSEQ])
    dispose_all()
    restore_db(old, db)
    conn = S.open_conn(db)
    try:
        with pytest.raises(SyncError) as e:
            heal.heal_station_behind(conn, _OldHub(known - 1))
    finally:
        conn.close()
    assert e.value.code == "stale_restore"
    assert _kv(db).get(kvkeys.STATION_RESTORED) == "1"
    res = sync(db, tc)  # the hub's own answer is current: the heal goes through
    assert res["healed"] and res["pending"] == 0
