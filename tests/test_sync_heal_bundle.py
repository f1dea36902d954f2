"""Issue 12 item 2, by USB: a station with no network that is behind the hub (restored from an older
backup, or an old copy put back by hand) heals from a hub-made restore bundle, and a bundle-only
station whose hub was restored from an older copy queues its ledger again and fills the gap. Every
request reaches the hub under its own number; no ledger number names two requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sync_heal import numbers, sqlite_copy
from test_sync_hub import env, hub_url  # noqa: F401 - fixtures
from test_sync_util import hub_requests, request_input, rows, station_requests

from qi_station.services import ledger
from qi_station.sync.proto import SyncError
from qi_station.sync.station import bundles as B
from qi_station.sync.station import client as C

_ = (env, hub_url)


def offline_station(hub: Any, db: Path, code: str) -> None:
    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station

    init_station(open_db(db), code=code)
    C.enroll(db, hub.add_station(code, f"{code}站")["token"])  # no hub address: bundles only


def round_trip(hub: Any, db: Path, code: str, d: Path) -> dict[str, Any]:
    """Up bundle to the hub, then the hub's down bundle back to the station."""
    up = B.export_bundle(db, d, force=True)
    got = hub.import_bundle(up["file"])
    assert got["status"] == "imported"
    down = hub.export_bundle(code, d, force=True)
    return B.import_bundle(db, down["file"])


@pytest.mark.parametrize("how", ["restore", "copy"])
def test_offline_station_restored_from_an_old_backup_heals_by_bundle(
    env: Any,  # noqa: F811
    tmp_path: Path,
    how: str,
) -> None:
    from qi_station.db.session import dispose_all
    from qi_station.services.backup import backup_db, restore_db

    hub, _tc, _dbs = env
    db, d = tmp_path / "BK01.db", tmp_path / "usb"
    d.mkdir()
    offline_station(hub, db, "BK01")
    e1 = ledger.create_request(db, request_input(1))
    assert round_trip(hub, db, "BK01", d)["pending"] == 0
    old = tmp_path / "b.db"
    backup_db(db, old)
    e2 = ledger.create_request(db, request_input(2))
    e3 = ledger.create_request(db, request_input(3))
    ledger.move_request(db, e1["id"], "accepted")
    assert round_trip(hub, db, "BK01", d)["pending"] == 0
    dispose_all()
    if how == "copy":
        # an old copy put back by hand says nothing: its new work under oseqs the hub holds with other
        # content is what a second copy of the station would send: the hub refuses the whole bundle
        # [device_conflict], nothing written; `qi-station restore` is the way back (as online)
        sqlite_copy(old, db)
        ledger.create_request(db, request_input(4))
        up = B.export_bundle(db, d, force=True)
        before = hub_requests(hub)
        with pytest.raises(SyncError) as ei:
            hub.import_bundle(up["file"])
        assert ei.value.code == "device_conflict" and "qi-station restore" in ei.value.message
        assert hub_requests(hub) == before  # nothing of it written
        dispose_all()
    restore_db(old, db)
    e4 = ledger.create_request(db, request_input(4))
    assert e4["number"] in (e2["number"], e3["number"])  # the backup's counters reuse a number
    # the station knows it was restored: it says what to do before writing a bundle
    with pytest.raises(SyncError, match="--restore") as ei:
        B.export_bundle(db, d, force=True)
    assert ei.value.code == "station_behind"
    rb = hub.export_restore_bundle("BK01", d, force=True)
    assert rb["kind"] == "restore" and rb["counts"]["request"] == 3
    healed = B.import_bundle(db, rb["file"])
    assert healed["status"] == "healed"
    assert [(r["from"], r["to"]) for r in healed["renumbered"]] == [
        (e4["number"], station_requests(db)[e4["id"]]["number"])
    ]
    assert round_trip(hub, db, "BK01", d)["pending"] == 0
    hr, mine = hub_requests(hub), station_requests(db)
    for r in (e1, e2, e3, e4):
        assert hr[r["id"]]["number"] == mine[r["id"]]["number"]
    assert mine[e2["id"]]["number"] == e2["number"] and mine[e3["id"]]["number"] == e3["number"]
    assert mine[e4["id"]]["number"] not in (e2["number"], e3["number"])
    assert len(set(numbers(mine).values())) == len(mine)
    assert mine[e1["id"]]["status"] == "accepted"  # its own later change came back from the hub
    from qi_station.services.verify import verify_ledger

    got = verify_ledger(db)
    assert got["ok"], got
    # a second import of the same restore bundle changes nothing; new work continues the numbering
    assert sum(B.import_bundle(db, rb["file"])["recovered"].values()) == 0
    e5 = ledger.create_request(db, request_input(5))
    assert e5["number"] not in set(numbers(mine).values())
    assert round_trip(hub, db, "BK01", d)["pending"] == 0
    assert hub_requests(hub)[e5["id"]]["number"] == e5["number"]


@pytest.mark.parametrize("hub_url", ["sqlite"], indirect=True)  # the old copy via SQLite's backup API
def test_bundle_station_whose_hub_was_restored_fills_the_gap(
    env: Any,  # noqa: F811
    tmp_path: Path,
    hub_url: str,  # noqa: F811
) -> None:
    hub, _tc, _dbs = env
    hub_db = Path(hub_url.removeprefix("sqlite:///"))
    db, d = tmp_path / "BK02.db", tmp_path / "usb"
    d.mkdir()
    offline_station(hub, db, "BK02")
    made = [ledger.create_request(db, request_input(i)) for i in range(2)]
    round_trip(hub, db, "BK02", d)
    copy = tmp_path / "hub-old.db"
    sqlite_copy(hub_db, copy)
    made += [ledger.create_request(db, request_input(i)) for i in range(2, 5)]
    ledger.move_request(db, made[0]["id"], "accepted")
    assert round_trip(hub, db, "BK02", d)["pending"] == 0
    sqlite_copy(copy, hub_db)  # the hub is put back to the old copy, and keeps working
    hub.upsert_library([("expert", {"id": "e-new", "name": "新专家"})])
    made.append(ledger.create_request(db, request_input(9)))
    up = B.export_bundle(db, d, force=True)
    with pytest.raises(SyncError, match="export-bundle --station BK02 --resend") as ei:
        hub.import_bundle(up["file"])  # a gap: the hub lacks what it had acknowledged
    assert ei.value.code == "gap"
    plain = B.import_bundle(db, hub.export_bundle("BK02", d, force=True)["file"])
    assert plain["status"] != "hub_behind"  # a plain bundle's older ack is no proof (it may be in flight)
    got = B.import_bundle(db, hub.export_bundle("BK02", d, force=True, resend=True)["file"])
    assert got["status"] == "hub_behind" and got["resent"] > 0
    assert round_trip(hub, db, "BK02", d)["pending"] == 0
    hr, mine = hub_requests(hub), station_requests(db)
    assert set(hr) == {r["id"] for r in made} == set(mine)
    for r in made:
        assert (hr[r["id"]]["number"], hr[r["id"]]["status"]) == (
            mine[r["id"]]["number"],
            mine[r["id"]]["status"],
        )
    assert "e-new" in {r[0] for r in rows(db, "SELECT id FROM expert")}  # the library caught up too
    # and then ordinary bundles again
    ledger.move_request(db, made[-1]["id"], "accepted")
    assert round_trip(hub, db, "BK02", d)["status"] == "imported"
    assert hub_requests(hub)[made[-1]["id"]]["status"] == "accepted"
