"""Issue 12 items 2 and 4: restores that heal (a station restored from an old backup, a hub restored
from an old copy) and demo data beside real work (never pushed, removable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import hub_requests, request_input, rows, station_requests

from qi_station.core.chain import verify_chain
from qi_station.services import ledger
from qi_station.sync.station import apply as S
from qi_station.sync.station import client as C

_ = (env, hub_url)


# ---- demo and real work side by side ----------------------------------------------------------
def demo_station(db: Path, code: str) -> dict[str, Any]:
    from qi_station.db.engine import open_db
    from qi_station.devtools.demo import load_demo
    from qi_station.services.station import init_station

    init_station(open_db(db), code=code)
    return load_demo(db, requests=40)


def demo_ids(db: Path) -> tuple[set[str], set[str]]:
    from qi_station.db import write

    conn = S.open_conn(db)
    try:
        got = write.demo_rows(conn)
    finally:
        conn.close()
    return set(got["request"]), set(got["enterprise"])


def real_work(db: Path) -> list[dict[str, Any]]:
    """Real requests: one on a demo enterprise (same USCC), one on a new enterprise; a move of a demo
    request and a referral on a real one."""
    from qi_station.services.ledger import RequestInput

    dreq, _dent = demo_ids(db)
    uscc = rows(
        db,
        "SELECT uscc, name FROM enterprise WHERE id = (SELECT enterprise_id FROM request WHERE id = ?)",
        (sorted(dreq)[0],),
    )[0]
    a = ledger.create_request(
        db, RequestInput(enterprise=uscc[1], uscc=uscc[0], elements="standards", title="真实工作一")
    )
    b = ledger.create_request(db, request_input(7, ent=7, title="真实工作"))
    new_demo = [r[0] for r in rows(db, "SELECT id FROM request WHERE status = 'new'") if r[0] in dreq]
    ledger.move_request(db, new_demo[0], "accepted")  # a change to demo data: stays local
    ledger.move_request(db, b["id"], "accepted")
    return [a, b]


def test_demo_station_enrolls_and_syncs_real_work_online(env: Any, tmp_path: Path) -> None:  # noqa: F811
    from test_sync_util import enroll_station

    hub, tc, _dbs = env
    db = tmp_path / "DM01.db"
    demo_station(db, "DM01")
    dreq, dent = demo_ids(db)
    assert len(dreq) == 40 and dent
    enroll_station(db, hub, tc, "DM01")
    made = real_work(db)
    res = sync(db, tc)
    assert res["ok"] and res["pending"] == 0
    hr = hub_requests(hub)
    own = {rid for rid, r in hr.items() if r["station_code"] == "DM01"}
    assert own == {r["id"] for r in made}  # real work reached the hub; no demo request did
    # the demo enterprise the real request used became real (pushed); the others stayed local
    _dreq2, dent2 = demo_ids(db)
    assert len(dent2) == len(dent) - 1
    # province figures: the hub knows nothing of the demo
    assert not own & dreq
    # more work, another sync: still fine
    ledger.move_request(db, made[0]["id"], "accepted")
    assert sync(db, tc)["pending"] == 0
    assert hub_requests(hub)[made[0]["id"]]["status"] == "accepted"


def test_demo_station_syncs_by_bundle_and_demo_remove_keeps_real_work(env: Any, tmp_path: Path) -> None:  # noqa: F811
    from qi_station.devtools.demo import remove_demo

    hub, tc, _dbs = env
    db = tmp_path / "DM02.db"
    demo_station(db, "DM02")
    tok = hub.add_station("DM02", "演示站")["token"]
    C.enroll(db, tok)  # offline enrollment: bundles only
    made = real_work(db)
    up = tmp_path / "up.zip"
    C.export_bundle(db, up)
    assert hub.import_bundle(up)["status"] == "imported"
    own = {rid for rid, r in hub_requests(hub).items() if r["station_code"] == "DM02"}
    assert own == {r["id"] for r in made}
    down = tmp_path / "down.zip"
    hub.export_bundle("DM02", down)
    assert C.import_bundle(db, down)["pending"] == 0
    # demo remove: every demo row goes, real work stays (with its chain and its enterprise)
    before = {r["id"]: station_requests(db)[r["id"]] for r in made}
    counters = rows(db, "SELECT k, v FROM kv WHERE k LIKE 'ledger_seq:%' ORDER BY k")
    got = remove_demo(db)
    assert got["request"] == 40 and got["request_event"] > 40 and got["expert"] > 0
    assert set(station_requests(db)) == {r["id"] for r in made}
    assert {rid: station_requests(db)[rid] for rid in before} == before
    for r in made:
        evs = rows(
            db,
            "SELECT id, request_id, n, at, actor, kind, from_status, to_status, note, data, "
            "prev_hash, hash FROM request_event WHERE request_id = ? ORDER BY n",
            (r["id"],),
        )
        cols = (
            "id",
            "request_id",
            "n",
            "at",
            "actor",
            "kind",
            "from_status",
            "to_status",
            "note",
            "data",
            "prev_hash",
            "hash",
        )
        assert verify_chain([dict(zip(cols, e, strict=True)) for e in evs]) == (True, None)
    assert rows(db, "SELECT count(*) FROM enterprise")[0][0] == 2  # the two real requests' enterprises
    assert rows(db, "SELECT k, v FROM kv WHERE k LIKE 'ledger_seq:%' ORDER BY k") == counters
    assert demo_ids(db) == (set(), set())
    with pytest.raises(Exception):  # the append-only triggers are back
        import sqlite3

        c = sqlite3.connect(db)
        try:
            c.execute("DELETE FROM request_event")
        finally:
            c.close()
    # a new request continues the numbering (no number reused), and syncs
    nxt = ledger.create_request(db, request_input(9, ent=7))
    assert nxt["number"] not in {r["number"] for r in made}
    C.export_bundle(db, up)
    assert hub.import_bundle(up)["status"] == "imported"
    assert nxt["id"] in hub_requests(hub)
