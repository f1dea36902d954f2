"""Issue 12 items 2 and 4: restores that heal (a station restored from an old backup, a hub restored
from an old copy) and demo data beside real work (never pushed, removable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import hub_requests, request_input, rows, station_requests

from qi_station.core.chain import verify_chain
from qi_station.db.write import EVENT_COLUMNS
from qi_station.services import ledger
from qi_station.sync.proto import SyncError
from qi_station.sync.station import apply as S
from qi_station.sync.station import bundles as B
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


def real_work(db: Path, dreq: set[str] | None = None) -> list[dict[str, Any]]:
    """Real requests: one on a demo enterprise (same USCC), one on a new enterprise; a move of a demo
    request and a referral on a real one."""
    from qi_station.services.ledger import RequestInput

    dreq = demo_ids(db)[0] if dreq is None else dreq
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


def as_the_older_loader_left_it(db: Path) -> None:
    """The demo as a release before demo rows were listed left it: no ``kv demo_rows``, and the demo
    enterprises under the fixed ids of ``data/demo`` (stations got ids of their own later)."""
    from qi_station.db import write
    from qi_station.services.demo import read_demo

    shipped = {r["uscc"]: r["id"] for r in read_demo()["enterprises"]}
    c = S.open_conn(db)
    try:
        with S.tx(c):
            for eid, uscc in c.execute("SELECT id, uscc FROM enterprise").fetchall():
                write.rekey_enterprise(c, eid, shipped[uscc], 0)
            c.execute("UPDATE enterprise SET s_rev = 1")
            c.execute("DELETE FROM kv WHERE k = 'demo_rows'")
    finally:
        c.close()


def test_station_that_loaded_the_demo_before_demo_rows_were_listed_syncs(env: Any, tmp_path: Path) -> None:  # noqa: F811
    """An older qi-station loaded the demo without listing its rows: every sync then failed (changes of
    demo requests, real requests on demo enterprises the hub never had). The first sync finds them."""
    from test_sync_util import enroll_station

    hub, tc, _dbs = env
    db = tmp_path / "DM03.db"
    demo_station(db, "DM03")
    dreq, _ = demo_ids(db)
    as_the_older_loader_left_it(db)
    dent = {r[0] for r in rows(db, "SELECT id FROM enterprise")}
    enroll_station(db, hub, tc, "DM03")
    made = real_work(
        db, dreq
    )  # unmarked: the demo move and the real request's demo enterprise are queued wrong
    res = sync(db, tc)
    assert res["ok"] and res["pending"] == 0
    own = {rid for rid, r in hub_requests(hub).items() if r["station_code"] == "DM03"}
    assert own == {r["id"] for r in made}  # real work reached the hub, no demo request did
    dreq2, dent2 = demo_ids(db)
    assert dreq2 == dreq  # the demo requests, and only they, are listed
    assert dent2 < dent and len(dent2) == len(dent) - 1  # the demo enterprise real work uses is real now
    ledger.move_request(db, made[0]["id"], "accepted")
    assert sync(db, tc)["pending"] == 0  # and the next sync is an ordinary one


@pytest.mark.parametrize(
    "load_at, work_at",
    [
        # the demo loaded at 12:00:00 sharp and real work logged within the same instant (the stamp is to
        # the minute): real work was taken for demo, never pushed (CI: `own == set()`)
        ("2026-11-30T12:00:00Z", "2026-11-30T12:00:00Z"),
        # the PC's clock was a day fast when the demo was loaded, set right before the real work
        ("2026-12-01T12:00:00Z", "2026-11-30T12:00:00Z"),
    ],
    ids=["same-minute", "clock-set-back"],
)
def test_legacy_demo_heal_never_takes_real_work_for_demo_whatever_the_clock(
    env: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    load_at: str,
    work_at: str,
) -> None:
    """The demo's rows are found by what the older loader wrote (the shipped enterprise ids, requests
    never queued for the hub), not by comparing times with the load stamp."""
    from test_sync_util import enroll_station

    hub, tc, _dbs = env
    db = tmp_path / "DM04.db"
    monkeypatch.setenv("QI_STATION_NOW", load_at)
    demo_station(db, "DM04")
    dreq, _ = demo_ids(db)
    as_the_older_loader_left_it(db)
    monkeypatch.setenv("QI_STATION_NOW", work_at)
    enroll_station(db, hub, tc, "DM04")
    made = real_work(db, dreq)
    res = sync(db, tc)
    assert res["ok"] and res["pending"] == 0
    own = {rid for rid, r in hub_requests(hub).items() if r["station_code"] == "DM04"}
    assert own == {r["id"] for r in made}
    assert demo_ids(db)[0] == dreq


def test_demo_station_syncs_by_bundle_and_demo_remove_keeps_real_work(env: Any, tmp_path: Path) -> None:  # noqa: F811
    """demo remove before the first bundle (once the head went to the hub, removal is refused:
    tests/test_demo_remove_ledger.py); then the station syncs by bundle."""
    from qi_station.devtools.demo import remove_demo

    hub, tc, _dbs = env
    db = tmp_path / "DM02.db"
    demo_station(db, "DM02")
    tok = hub.add_station("DM02", "演示站")["token"]
    C.enroll(db, tok)  # offline enrollment: bundles only
    made = real_work(db)
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
        cols = EVENT_COLUMNS
        assert verify_chain([dict(zip(cols, e, strict=True)) for e in evs]) == (True, None)
    assert rows(db, "SELECT count(*) FROM enterprise")[0][0] == 2  # the two real requests' enterprises
    assert rows(db, "SELECT k, v FROM kv WHERE k LIKE 'ledger_seq:%' ORDER BY k") == counters
    assert demo_ids(db) == (set(), set())
    import sqlite3

    with pytest.raises(sqlite3.IntegrityError, match="append-only"):  # the triggers are back
        c = sqlite3.connect(db)
        try:
            c.execute("DELETE FROM request_event")
        finally:
            c.close()
    up = tmp_path / "up.zip"
    B.export_bundle(db, up)
    assert hub.import_bundle(up)["status"] == "imported"
    own = {rid for rid, r in hub_requests(hub).items() if r["station_code"] == "DM02"}
    assert own == {r["id"] for r in made}
    down = tmp_path / "down.zip"
    hub.export_bundle("DM02", down)
    assert B.import_bundle(db, down)["pending"] == 0
    # a new request continues the numbering (no number reused), and syncs
    nxt = ledger.create_request(db, request_input(9, ent=7))
    assert nxt["number"] not in {r["number"] for r in made}
    B.export_bundle(db, up, force=True)  # replaces the earlier bundle of the same name
    assert hub.import_bundle(up)["status"] == "imported"
    assert nxt["id"] in hub_requests(hub)
    from qi_station.services.verify import verify_ledger

    assert verify_ledger(db)["ok"]


# ---- restores that heal ------------------------------------------------------------------------
def sqlite_copy(src: Path, dst: Path) -> None:
    """A consistent copy through SQLite's backup API (safe while others hold the file open)."""
    import sqlite3

    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


def numbers(reqs: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {rid: r["number"] for rid, r in reqs.items()}


@pytest.mark.parametrize("how", ["restore", "copy"])
def test_station_restored_from_an_old_backup_heals(env: Any, tmp_path: Path, how: str) -> None:  # noqa: F811
    """``restore``: the CLI's restore marks the station; its sync heals. ``copy``: an old copy put back
    by hand is refused as a second copy until it is restored with the CLI (then it heals)."""
    from qi_station.db.session import dispose_all
    from qi_station.services.backup import backup_db, restore_db

    hub, tc, dbs = env
    db = dbs["ZB01"]
    e1 = ledger.create_request(db, request_input(1))
    sync(db, tc)
    old = tmp_path / "b.db"
    backup_db(db, old)
    e2 = ledger.create_request(db, request_input(2))
    e3 = ledger.create_request(db, request_input(3))
    ledger.move_request(db, e1["id"], "accepted")
    sync(db, tc)
    dispose_all()
    if how == "copy":
        # an old copy put back by hand says nothing: its new work under oseqs the hub holds with other
        # content is what a second copy of the station would send (whatever device id it reports):
        # refused [device_conflict], nothing written; `qi-station restore` is the way back
        sqlite_copy(old, db)
        before = hub_requests(hub)
        ledger.create_request(db, request_input(4))
        with pytest.raises(SyncError) as ei:
            sync(db, tc)
        assert ei.value.code == "device_conflict" and "qi-station restore" in ei.value.message
        assert hub_requests(hub) == before
        dispose_all()
    restore_db(old, db)  # the CLI's restore: marks the station to catch up first
    e4 = ledger.create_request(db, request_input(4))
    res = sync(db, tc)
    assert res["pending"] == 0 and res["healed"]
    hr = hub_requests(hub)
    mine = station_requests(db)
    # every request reached the hub under its own number; no number names two requests
    for r in (e1, e2, e3, e4):
        assert r["id"] in hr and r["id"] in mine
        assert hr[r["id"]]["number"] == mine[r["id"]]["number"]
    assert len(set(numbers(mine).values())) == len(mine)
    assert mine[e2["id"]]["number"] == e2["number"] and mine[e3["id"]]["number"] == e3["number"]
    assert mine[e4["id"]]["number"] not in (e2["number"], e3["number"])
    assert mine[e1["id"]]["status"] == "accepted"  # the station caught up with its own later change
    from qi_station.services.verify import verify_ledger

    got = verify_ledger(db)  # the renumbered request's s_rev counts its renumbered event
    assert got["ok"], got["problems"]
    for rid in (e1["id"], e2["id"], e3["id"], e4["id"]):
        evs = rows(db, "SELECT n FROM request_event WHERE request_id = ? ORDER BY n", (rid,))
        assert [e[0] for e in evs] == list(range(1, len(evs) + 1))
    # new work after the heal: the next number, and it reaches the hub
    e5 = ledger.create_request(db, request_input(5))
    assert e5["number"] not in set(numbers(mine).values())
    assert sync(db, tc)["pending"] == 0
    assert hub_requests(hub)[e5["id"]]["number"] == e5["number"]


@pytest.mark.parametrize(
    "hub_url", ["sqlite"], indirect=True
)  # the old copy is taken with SQLite's backup API
def test_hub_restored_from_an_old_copy_heals(env: Any, tmp_path: Path, hub_url: str) -> None:  # noqa: F811
    hub, tc, dbs = env
    hub_db = Path(hub_url.removeprefix("sqlite:///"))
    db = dbs["ZB01"]
    made = [ledger.create_request(db, request_input(i)) for i in range(2)]
    sync(db, tc)
    copy = tmp_path / "hub-old.db"
    sqlite_copy(hub_db, copy)
    made += [ledger.create_request(db, request_input(i)) for i in range(2, 5)]
    ledger.move_request(db, made[0]["id"], "accepted")
    sync(db, tc)
    sqlite_copy(copy, hub_db)  # the hub is put back to the old copy
    assert set(hub_requests(hub)) == {r["id"] for r in made[:2]}
    hub.upsert_library([("expert", {"id": "e-new", "name": "新专家"})])  # the hub keeps working
    made.append(ledger.create_request(db, request_input(9)))
    res = sync(db, tc)
    assert res["pending"] == 0 and res["healed"][0]["kind"] == "hub_behind"
    hr = hub_requests(hub)
    mine = station_requests(db)
    assert set(hr) == {r["id"] for r in made} == set(mine)
    for r in made:
        assert hr[r["id"]]["number"] == mine[r["id"]]["number"]
        assert hr[r["id"]]["status"] == mine[r["id"]]["status"]
    assert "e-new" in {r[0] for r in rows(db, "SELECT id FROM expert")}
    # and the next sync is an ordinary one
    ledger.move_request(db, made[-1]["id"], "accepted")
    res = sync(db, tc)
    assert res["pending"] == 0 and "healed" not in res


@pytest.mark.parametrize("hub_url", ["sqlite"], indirect=True)  # the old copy: SQLite's backup API
def test_hub_restored_before_a_hub_assign_heals(env: Any, tmp_path: Path, hub_url: str) -> None:  # noqa: F811
    """Attacker, round N item 1: a request the restored hub lost had a ``hub assign``: the resent row
    echoes the hub's h_rev and fields. The hub takes the request, keeps its own hub fields (none: it
    lost them), moves its h_rev past the echo so the station takes them back, and records what was lost;
    every later sync goes through, and the hub's verify covers the request."""
    import sqlalchemy as sa

    from qi_station.sync.hub.tables import core_table

    hub, tc, dbs = env
    hub_db = Path(hub_url.removeprefix("sqlite:///"))
    db = dbs["ZB01"]
    copy = tmp_path / "hub-old.db"
    sqlite_copy(hub_db, copy)
    r = ledger.create_request(db, request_input(1))
    sync(db, tc)
    hub.assign(r["id"], priority="high", note="请加急")
    sync(db, tc)
    assert station_requests(db)[r["id"]]["h_rev"] == 1
    r2 = ledger.create_request(db, request_input(2))
    sqlite_copy(copy, hub_db)  # the hub is put back to the copy from before the request
    res = sync(db, tc)
    assert res["pending"] == 0 and res["healed"][0]["kind"] == "hub_behind"
    hr, mine = hub_requests(hub), station_requests(db)
    assert {r["id"], r2["id"]} <= set(hr)
    assert hr[r["id"]]["hub_priority"] is None and hr[r["id"]]["h_rev"] == 2  # the hub's own, past the echo
    assert mine[r["id"]]["hub_priority"] is None and mine[r["id"]]["h_rev"] == 2  # the station follows
    checked = hub.verify("ZB01")
    assert checked["ok"] and checked["requests"] >= 2, checked
    sc = core_table("sync_conflict")
    with hub.engine.connect() as c:
        lost = c.execute(sa.select(sc.c.detail).where(sc.c.kind == "hub_changes_lost")).scalars().all()
    assert any("请加急" in d for d in lost)  # what the hub lost, for the administrator to assign again
    ledger.move_request(db, r["id"], "accepted")
    res = sync(db, tc)
    assert res["pending"] == 0 and "healed" not in res
    hub.assign(r["id"], priority="high")  # a new assignment reaches the station
    sync(db, tc)
    assert station_requests(db)[r["id"]]["hub_priority"] == "high"
