"""Directed tests for hub-side events in the station chain, the tombstone horizon (410 + snapshot
resync) and rebuilding a lost station database from the hub (re-enrollment)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import rows, signed_call

from qi_station.core.chain import verify_chain
from qi_station.db.write import EVENT_COLUMNS
from qi_station.services import ledger
from qi_station.sync.proto import SyncError
from qi_station.sync.station import apply as S
from qi_station.sync.station import bundles as B
from qi_station.sync.station import client as C

_ = (env, hub_url)
EV_COLS = EVENT_COLUMNS


def chain(db: Path, rid: str) -> list[dict[str, Any]]:
    return [
        dict(zip(EV_COLS, r, strict=True))
        for r in rows(
            db, f"SELECT {', '.join(EV_COLS)} FROM request_event WHERE request_id = ? ORDER BY n", (rid,)
        )
    ]


def hub_chain(hub: Any, rid: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from qi_station.sync.hub.tables import wire_value

    with hub.engine.connect() as c:
        return [
            {k: wire_value(v) for k, v in zip(EV_COLS, r, strict=True)}
            for r in c.execute(
                sa.text(f"SELECT {', '.join(EV_COLS)} FROM request_event WHERE request_id = :r ORDER BY n"),
                {"r": rid},
            )
        ]


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
    assert (hub_ev["actor"], hub_ev["from_status"], hub_ev["to_status"], hub_ev["note"]) == (
        "hub",
        "accepted",
        "in_progress",
        "省局指派",
    )
    assert json.loads(hub_ev["data"]) == {
        "h_rev": 1,
        "hub_expert_id": "e-1",
        "hub_note": "省局指派",
        "hub_priority": None,
        "hub_status": "in_progress",
        "adopted": True,
    }
    assert verify_chain(evs) == (True, None)
    # the event went up with the next push: the hub holds the identical chain
    assert hub_chain(hub, r["id"]) == evs
    assert verify_chain(hub_chain(hub, r["id"])) == (True, None)
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
    ledger.move_request(
        db, r["id"], "cancelled", note="企业撤回"
    )  # offline: the station's own newer change wins
    conn = S.open_conn(db)
    page = json.loads(json.dumps(hub.pull(hub.station_by_token(S.api_token(conn)), 0, 1000)))
    S.apply_page(conn, page)
    conn.close()
    evs = chain(db, r["id"])
    assert evs[-1]["kind"] == "hub" and evs[-1]["to_status"] == "cancelled"
    assert json.loads(evs[-1]["data"])["adopted"] is False
    assert rows(db, "SELECT status, hub_priority FROM request WHERE id = ?", (r["id"],))[0] == (
        "cancelled",
        "high",
    )
    sync(db, tc)
    assert hub_chain(hub, r["id"]) == chain(db, r["id"])
    assert verify_chain(chain(db, r["id"])) == (True, None)


# ---- tombstone horizon ------------------------------------------------------------------------
def lib_ids(db: Path, t: str = "expert") -> set[str]:
    return {r[0] for r in rows(db, f"SELECT id FROM {t}")}


def test_horizon_410_then_snapshot_resync(env: Any) -> None:  # noqa: F811
    from test_sync_util import request_input

    from qi_station.sync.proto import SyncError

    hub, tc, dbs = env
    db = dbs["ZB01"]
    hub.upsert_library([("expert", {"id": f"e-{i}", "name": f"专家{i}"}) for i in range(2, 6)])
    r = ledger.create_request(db, request_input(3))
    sync(db, tc)
    assert {"e-1", "e-2", "e-3", "e-4", "e-5"} <= lib_ids(db)
    hub.assign(r["id"], expert_id="e-2")
    # the station goes offline; meanwhile the hub deletes e-3, e-4 and purges their tombstones
    hub.delete_library("expert", ["e-3", "e-4"])
    hub.upsert_library([("expert", {"id": "e-9", "name": "新专家"})])
    assert hub.purge_tombstones(days=0) == {"purged": 2, "horizon": hub.horizon()}
    assert hub.horizon() > 0
    # edits made offline stay in the outbox until pushed
    ledger.move_request(db, r["id"], "accepted")
    conn = S.open_conn(db)
    cur = S.kv_int(conn, "pull_cursor")
    assert 0 < cur < hub.horizon()
    call = signed_call(db, "GET", "/sync/v1/pull", {"since": cur})
    resp = tc.get(
        call["url"],
        headers={
            **call["headers"],
            "X-Sync-Protocol": "2",
            "X-Sync-Schema": S.kv_get(conn, "x")
            or __import__("qi_station.sync.proto", fromlist=["x"]).schema_head(),
            "Authorization": f"Bearer {S.api_token(conn)}",
        },
    )
    assert resp.status_code == 410 and resp.json()["error"] == "resync_required"
    with pytest.raises(SyncError) as ei:
        hub.pull(hub.station_by_token(S.api_token(conn)), cur, 100)
    assert ei.value.status == 410
    res = sync(db, tc, page_size=2)  # small pages: a multi-page snapshot pass
    assert res["pending"] == 0
    assert lib_ids(db) == {x["id"] for x in library_rows(hub, "expert")}
    assert "e-3" not in lib_ids(db) and "e-9" in lib_ids(db)
    assert not S.resyncing(conn) and S.kv_int(conn, "pull_cursor") >= cur
    # own requests untouched, the offline move reached the hub, the hub assignment came down
    st = rows(db, "SELECT status, hub_expert_id FROM request WHERE id = ?", (r["id"],))[0]
    assert st == ("accepted", "e-2")
    assert hub_chain(hub, r["id"]) == chain(db, r["id"])
    assert min(x[0] for x in rows(db, "SELECT seq FROM expert")) > 0
    conn.close()


def test_resync_resumes_after_a_crash_and_keeps_unacked_outbox(env: Any) -> None:  # noqa: F811
    from test_sync_util import request_input

    hub, tc, dbs = env
    db = dbs["ZB01"]
    hub.upsert_library([("expert", {"id": f"e-{i}", "name": f"专家{i}"}) for i in range(2, 8)])
    sync(db, tc)
    hub.delete_library("expert", ["e-5"])
    hub.purge_tombstones(days=0)
    r = ledger.create_request(db, request_input(4))
    conn = S.open_conn(db)
    S.start_resync(conn)  # as run_sync does on 410 (after pushing)
    st = hub.station_by_token(S.api_token(conn))
    page = json.loads(json.dumps(hub.pull(st, 0, 3, resync=True)))
    assert page["more"]
    S.apply_page(conn, page)  # first page committed, then the process dies
    assert S.resyncing(conn) and S.kv_int(conn, "resync_cursor") == page["next"]
    assert C.sync_status(db)["resyncing"] is True
    assert S.pending(conn) > 0  # the unacked outbox is kept through the resync
    res = sync(db, tc, page_size=3)
    assert not S.resyncing(conn) and res["pending"] == 0
    assert "e-5" not in lib_ids(db)
    assert lib_ids(db) == {x["id"] for x in library_rows(hub, "expert")}
    assert r["id"] in {x[0] for x in rows(db, "SELECT id FROM request")}
    conn.close()


def test_resync_down_bundle(env: Any, tmp_path: Path) -> None:  # noqa: F811
    hub, tc, dbs = env
    db = dbs["QD02"]
    hub.upsert_library([("expert", {"id": f"e-{i}", "name": f"专家{i}"}) for i in range(2, 5)])
    sync(db, tc)
    sync(db, tc)  # the hub learns the station's cursor
    assert {x["code"]: x for x in hub.stations()}["QD02"]["station_cursor"] > 0
    hub.delete_library("expert", ["e-3"])
    hub.purge_tombstones(days=0)
    out = hub.export_bundle("QD02", tmp_path / "down.zip")
    assert out["resync"] and out["from"] == 0
    res = B.import_bundle(db, tmp_path / "down.zip")
    assert res["status"] == "imported"
    assert lib_ids(db) == {x["id"] for x in library_rows(hub, "expert")}
    assert B.import_bundle(db, tmp_path / "down.zip")["status"] == "stale"


def library_rows(hub: Any, t: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    with hub.engine.connect() as c:
        return [dict(r) for r in c.execute(sa.text(f"SELECT id FROM {t}")).mappings()]


# ---- rebuild a lost station database ----------------------------------------------------------
def test_reenroll_rebuilds_a_lost_station(env: Any, tmp_path: Path) -> None:  # noqa: F811
    from test_sync_util import request_input, station_requests

    hub, tc, dbs = env
    db = dbs["ZB01"]
    made = [ledger.create_request(db, request_input(i, ent=i % 2)) for i in range(5)]
    sync(db, tc)  # the library arrives
    ledger.move_request(db, made[0]["id"], "accepted")
    ledger.refer_request(db, made[0]["id"], "expert", "e-1")
    sync(db, tc)
    hub.assign(made[1]["id"], expert_id="e-1", status="accepted")
    sync(db, tc)
    before = station_requests(db)
    chains = {r["id"]: chain(db, r["id"]) for r in made}
    old_refs = rows(db, "SELECT id, request_id, item_id FROM referral ORDER BY id")
    old_ents = rows(db, "SELECT id, uscc, name FROM enterprise ORDER BY id")
    acked = S.kv_int(S.open_conn(db), "acked_oseq")
    assert acked > 0
    # the disk dies
    from qi_station.db.session import dispose_all

    dispose_all()
    for f in tmp_path.glob("ZB01.db*"):
        f.unlink()
    with pytest.raises(SyncError) as ei:  # an enrolled station needs an explicit re-issue
        hub.add_station("ZB01", "淄博")
    assert ei.value.code == "already_enrolled"
    tok = hub.add_station("ZB01", "淄博", reissue=True)["token"]
    got = C.enroll(db, tok, "http://testserver", http=tc)
    assert got["restored"]["request"] == 5
    # every field back (``seq`` is the hub's change position: the restore brings the hub's)
    assert no_seq(station_requests(db)) == no_seq(before)
    for rid, evs in chains.items():
        assert chain(db, rid) == evs
        assert verify_chain(chain(db, rid)) == (True, None)
    assert rows(db, "SELECT id, request_id, item_id FROM referral ORDER BY id") == old_refs
    assert rows(db, "SELECT id, uscc, name FROM enterprise ORDER BY id") == old_ents
    conn = S.open_conn(db)
    assert S.kv_int(conn, "acked_oseq") == acked and S.pending(conn) == 0
    # the next request takes the next number, and its outbox rows are above the hub's ack
    nxt = ledger.create_request(db, request_input(99))
    last = max(int(r["number"].rsplit("-", 1)[1]) for r in made if r["number"][:11] == nxt["number"][:11])
    assert int(nxt["number"].rsplit("-", 1)[1]) == last + 1
    assert min(r[0] for r in rows(db, "SELECT oseq FROM outbox")) == acked + 1
    res = sync(db, tc)
    assert res["pending"] == 0 and res["pulled"] > 0
    from test_sync_util import hub_requests, library

    hr = hub_requests(hub)
    assert nxt["id"] in hr and hr[nxt["id"]]["number"] == nxt["number"]
    assert library(db) == library(hub)
    assert hub_chain(hub, nxt["id"]) == chain(db, nxt["id"])
    # the hub's copy of the old requests is unchanged (nothing re-pushed over it)
    for rid in chains:
        assert hub_chain(hub, rid) == chain(db, rid)
    ledger.move_request(db, made[2]["id"], "accepted")
    sync(db, tc)
    assert hub_requests(hub)[made[2]["id"]]["status"] == "accepted"
    conn.close()


def test_restore_interrupted_is_finished_by_sync(env: Any, tmp_path: Path) -> None:  # noqa: F811
    from test_sync_util import request_input, station_requests

    hub, tc, dbs = env
    db = dbs["QD02"]
    for i in range(3):
        ledger.create_request(db, request_input(i))
    sync(db, tc)
    before = station_requests(db)
    from qi_station.db.session import dispose_all

    dispose_all()
    for f in tmp_path.glob("QD02.db*"):
        f.unlink()
    tok = hub.add_station("QD02", "青岛", reissue=True)["token"]
    calls = {"n": 0}
    real = C.restore_all

    def broken(*a: Any, **k: Any) -> Any:
        calls["n"] += 1
        raise C.TransientError("link dropped")

    C.restore_all = broken  # type: ignore[assignment]
    try:
        got = C.enroll(db, tok, "http://testserver", http=tc)
    finally:
        C.restore_all = real  # type: ignore[assignment]
    assert calls["n"] == 1 and "restore_error" in got
    assert station_requests(db) == {}
    assert C.sync_status(db)["restore_pending"] is True
    sync(db, tc)
    assert no_seq(station_requests(db)) == no_seq(before)
    assert S.kv_get(S.open_conn(db), "restore_pending") is None


def no_seq(reqs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rid: {k: v for k, v in r.items() if k != "seq"} for rid, r in reqs.items()}


# ---- bulk bundle apply ------------------------------------------------------------------------
def test_bundle_fast_parse_matches_general_path(env: Any, tmp_path: Path) -> None:  # noqa: F811
    import zipfile

    hub, tc, dbs = env
    hub.upsert_library([("expert", {"id": f"e-{i}", "name": f"专家{i}"}) for i in range(2, 40)])
    out = hub.export_bundle("ZB01", tmp_path / "d.zip")
    with zipfile.ZipFile(out["file"]) as z:
        body = z.read("changes.jsonl")
    fast = S._runs_to_tables(body.strip())
    assert fast is not None and fast == S._lines_to_tables_slow(body.strip())
    assert S.lines_to_tables(body) == fast
    # lines that do not follow the hub's layout take the general path, with the same result
    odd = body.replace(b'{"t":"expert","row":', b'{"row":', 1)
    assert S._runs_to_tables(odd.strip()) is None
    with pytest.raises(SyncError):
        S.lines_to_tables(b'{"t":"expert","row":{"id":1}}\nnot json')


def test_bulk_apply_rebuilds_indexes_and_rolls_back(env: Any, tmp_path: Path, monkeypatch: Any) -> None:  # noqa: F811
    hub, tc, dbs = env
    db = dbs["QD02"]
    monkeypatch.setattr(S, "DEFER_INDEX_ROWS", 2)
    hub.upsert_library([("expert", {"id": f"e-{i}", "name": f"专家{i}"}) for i in range(2, 30)])
    q = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'expert' ORDER BY name"
    indexes = rows(db, q)
    assert len(indexes) >= 4
    conn = S.open_conn(db)
    st = hub.station_by_token(S.api_token(conn))
    page = json.loads(json.dumps(hub.pull(st, 0, 1000)))
    # a failure after the indexes were dropped rolls everything back, indexes included
    bad = json.loads(json.dumps(page))
    bad["tables"]["expert"]["rows"].append([None] * len(bad["tables"]["expert"]["cols"]))
    with pytest.raises(Exception):  # noqa: B017 - NOT NULL id
        S.apply_page(conn, bad)
    assert rows(db, q) == indexes and rows(db, "SELECT COUNT(*) FROM expert") == [(0,)]
    S.apply_page(conn, page)
    assert rows(db, q) == indexes
    assert rows(db, "SELECT COUNT(*) FROM expert")[0][0] == 29
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    conn.close()


def test_hub_bulk_apply_merges_changes_of_new_rows(env: Any, tmp_path: Path) -> None:  # noqa: F811
    from test_sync_util import hub_requests, request_input, station_requests

    hub, tc, dbs = env
    db = dbs["ZB01"]
    made = [ledger.create_request(db, request_input(i, ent=i % 3)) for i in range(30)]
    for r in made[:10]:  # created and moved twice inside one up bundle: one insert with the final state
        ledger.move_request(db, r["id"], "accepted")
        ledger.move_request(db, r["id"], "in_progress")
    up = B.export_bundle(db, tmp_path / "up.zip")
    res = hub.import_bundle(up["file"])
    assert res["status"] == "imported" and res["applied"] == up["changes"]
    hr, loc = hub_requests(hub), station_requests(db)
    for rid, r in loc.items():
        assert (hr[rid]["status"], hr[rid]["s_rev"]) == (r["status"], r["s_rev"])
    for r in made:
        assert hub_chain(hub, r["id"]) == chain(db, r["id"])
    seqs = [x["seq"] for x in hr.values()]
    assert len(set(seqs)) == len(seqs) and min(seqs) > 0
    assert hub.import_bundle(up["file"])["status"] == "already_imported"


def test_station_drops_tombstones_the_hub_purged(env: Any) -> None:  # noqa: F811
    from test_sync_util import library

    hub, tc, dbs = env
    db = dbs["ZB01"]
    hub.upsert_library([("expert", {"id": "e-7", "name": "专家7"})])
    sync(db, tc)
    hub.delete_library("expert", ["e-7"])
    sync(db, tc)  # the station saw the tombstone: its cursor is past it, so no 410 later
    assert rows(db, "SELECT deleted FROM expert WHERE id = 'e-7'") == [(1,)]
    hub.purge_tombstones(days=0)
    assert hub.horizon() <= S.kv_int(S.open_conn(db), "pull_cursor")
    res = sync(db, tc)
    assert rows(db, "SELECT COUNT(*) FROM expert WHERE id = 'e-7'") == [(0,)]
    assert library(db) == library(hub) and not S.resyncing(S.open_conn(db))
    assert res["ok"]
    # a young tombstone is kept by the hub (and by the station)
    hub.delete_library("expert", ["e-1"])
    assert hub.purge_tombstones(days=30)["purged"] == 0
    sync(db, tc)
    assert rows(db, "SELECT deleted FROM expert WHERE id = 'e-1'") == [(1,)]
