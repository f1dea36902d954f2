"""Outside attacker's findings on sync: two demo stations (ids of their own; a way out for one
loaded with the shared ids), generated data beside real work, a copied station database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sync_heal import demo_ids, demo_station
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import enroll_station, hub_requests, rows

from qi_station.services import ledger
from qi_station.services.ledger import RequestInput
from qi_station.sync.proto import SyncError

_ = (env, hub_url)


def _real_request_on_a_demo_enterprise(db: Path) -> dict[str, Any]:
    dreq, _dent = demo_ids(db)
    uscc, name = rows(
        db,
        "SELECT uscc, name FROM enterprise WHERE id = (SELECT enterprise_id FROM request WHERE id = ?)",
        (sorted(dreq)[0],),
    )[0]
    return ledger.create_request(
        db, RequestInput(enterprise=name, uscc=uscc, elements="standards", title="真实")
    )


def test_two_demo_stations_both_sync_real_work_on_the_same_demo_enterprise(env: Any, tmp_path: Path) -> None:  # noqa: F811
    hub, tc, _dbs = env
    made = {}
    for code in ("DA01", "DB02"):
        db = tmp_path / f"{code}.db"
        demo_station(db, code)
        enroll_station(db, hub, tc, code)
        made[code] = _real_request_on_a_demo_enterprise(db)
        res = sync(db, tc)
        assert res["ok"] and res["pending"] == 0, res
    hr = hub_requests(hub)
    assert {made["DA01"]["id"], made["DB02"]["id"]} <= set(hr)
    assert hr[made["DA01"]["id"]]["enterprise_id"] != hr[made["DB02"]["id"]]["enterprise_id"]


def _as_an_older_release_loaded_it(db: Path) -> None:
    """Older releases loaded the demo enterprises under data/demo's fixed ids."""
    from qi_station.db import write
    from qi_station.services.demo import read_demo
    from qi_station.sync.station import apply as S

    fixed = {e["uscc"]: e["id"] for e in read_demo()["enterprises"]}
    conn = S.open_conn(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        marked = write.demo_rows(conn)
        new_ids = []
        for eid, uscc in conn.execute("SELECT id, uscc FROM enterprise").fetchall():
            if uscc in fixed:
                write.rekey_enterprise(conn, eid, fixed[uscc], 0)
                new_ids.append(fixed[uscc])
        write.set_demo_rows(conn, {"request": marked["request"], "enterprise": new_ids})
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_a_station_stuck_on_a_shared_demo_id_is_told_the_way_out_and_takes_it(
    env: Any, tmp_path: Path
) -> None:  # noqa: F811
    from qi_station.devtools.demo import rekey_demo

    hub, tc, _dbs = env
    dbs = {}
    made = {}
    for code in ("DA01", "DB02"):
        db = dbs[code] = tmp_path / f"{code}.db"
        demo_station(db, code)
        _as_an_older_release_loaded_it(db)
        enroll_station(db, hub, tc, code)
        made[code] = _real_request_on_a_demo_enterprise(db)
    assert sync(dbs["DA01"], tc)["pending"] == 0
    with pytest.raises(SyncError) as ei:
        sync(dbs["DB02"], tc)
    assert ei.value.code == "forbidden" and "qi-station demo rekey" in ei.value.message
    number = made["DB02"]["number"]
    got = rekey_demo(dbs["DB02"])
    assert got["rekeyed"] >= 1
    assert sync(dbs["DB02"], tc)["pending"] == 0
    hr = hub_requests(hub)
    assert hr[made["DB02"]["id"]]["number"] == number  # the number given out stays
    # the first station's enterprise, taken by the hub under the fixed id, keeps it
    assert rekey_demo(dbs["DA01"])["kept"] == 1
    assert sync(dbs["DA01"], tc)["pending"] == 0


def test_a_real_request_on_a_generated_enterprise_syncs(env: Any, tmp_path: Path) -> None:  # noqa: F811
    """It blocked sync for good ([own_enterprise]: the generated enterprise never reached the hub).
    Now real work makes the enterprise real (a new id of its own, queued ahead of the request); two
    stations generated with one seed (the same enterprise ids) both sync."""
    from qi_station.db.engine import open_db
    from qi_station.devtools.generate.run import generate
    from qi_station.services.station import init_station

    hub, tc, _dbs = env
    made = {}
    for code in ("GN01", "GN02"):
        db = tmp_path / f"{code}.db"
        init_station(open_db(db), code=code)
        generate(db, requests=60, library=10, seed=3)
        enroll_station(db, hub, tc, code)
        eid, uscc, name = rows(db, "SELECT id, uscc, name FROM enterprise ORDER BY id LIMIT 1")[0]
        n_gen = rows(db, "SELECT count(*) FROM request WHERE enterprise_id = ?", (eid,))[0][0]
        made[code] = ledger.create_request(
            db, RequestInput(enterprise=name, uscc=uscc, elements="standards", title="真实")
        )
        new = made[code]["enterprise_id"]
        assert new != eid  # an id of this station's own; the generated requests follow it locally
        assert rows(db, "SELECT count(*) FROM request WHERE enterprise_id = ?", (new,))[0][0] == n_gen + 1
        res = sync(db, tc)
        assert res["ok"] and res["pending"] == 0, res
    hr = hub_requests(hub)
    assert {r["id"] for r in made.values()} <= set(hr)
    ent_n = rows(tmp_path / "GN01.db", "SELECT count(*) FROM generated_enterprise")[0][0]
    assert ent_n == 49  # the one used left the list; the rest stay local test data


def test_a_copied_station_database_pushing_under_the_same_identity_is_refused_and_recorded(
    env: Any, tmp_path: Path
) -> None:  # noqa: F811
    """A copy of a station database plus its secrets (a stolen token): both copies log requests. The
    first to push is taken; the second is refused [device_conflict] with a sync_conflict at the hub,
    and none of its request numbers change (it used to heal by renumbering)."""
    import sqlalchemy as sa
    from test_sync_heal import sqlite_copy
    from test_sync_util import request_input

    from qi_station.db import secrets
    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.tables import core_table

    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1))
    assert sync(a, tc)["pending"] == 0
    dispose_all()
    b = tmp_path / "elsewhere" / "ZB01.db"
    b.parent.mkdir()
    sqlite_copy(a, b)
    secrets.save(b, **secrets.load(a))  # the token goes with it
    ra = ledger.create_request(a, request_input(2))
    rb = ledger.create_request(b, request_input(3))
    assert ra["number"] == rb["number"]  # both copies gave out the same next number
    assert sync(a, tc)["pending"] == 0
    before = station_numbers = {r[0]: r[1] for r in rows(b, "SELECT id, number FROM request")}
    with pytest.raises(SyncError) as ei:
        sync(b, tc)
    assert ei.value.code == "device_conflict"
    assert {r[0]: r[1] for r in rows(b, "SELECT id, number FROM request")} == before == station_numbers
    assert rb["id"] not in hub_requests(hub)
    t = core_table("sync_conflict")
    with hub.engine.connect() as c:
        kinds = [r[0] for r in c.execute(sa.select(t.c.kind))]
    assert "device_conflict" in kinds
    # the first copy goes on syncing as before
    ledger.create_request(a, request_input(4))
    assert sync(a, tc)["pending"] == 0


def test_a_station_database_moved_to_another_folder_goes_on_syncing(env: Any, tmp_path: Path) -> None:  # noqa: F811
    from test_sync_heal import sqlite_copy
    from test_sync_util import request_input

    from qi_station.db import secrets
    from qi_station.db.session import dispose_all

    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1))
    assert sync(a, tc)["pending"] == 0
    dispose_all()
    b = tmp_path / "newpc" / "ZB01.db"
    b.parent.mkdir()
    sqlite_copy(a, b)
    secrets.save(b, **secrets.load(a))
    a.unlink()
    r = ledger.create_request(b, request_input(2))
    assert sync(b, tc)["pending"] == 0
    assert hub_requests(hub)[r["id"]]["number"] == r["number"]


def test_a_copied_database_claiming_the_same_device_id_is_still_refused(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: F811
    """The device id is the station's own word (kv): a copy that reports the original's id dodged
    [device_conflict] and healed by renumbering. The hub remembers what it applied under each oseq: the
    copy re-sends an oseq the hub holds with other content, refused [device_conflict] and recorded,
    nothing written, no number changed. The same oseq with the same content (a lost reply) stays a
    duplicate; a station that says it was restored from a backup is told [station_behind] and heals."""
    import sqlalchemy as sa
    from test_sync_heal import sqlite_copy
    from test_sync_util import request_input, signed_push

    from qi_station.db import secrets
    from qi_station.db.engine import SCHEMA_HEAD
    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.tables import core_table
    from qi_station.sync.proto import PROTOCOL
    from qi_station.sync.station import apply as S

    hub, tc, dbs = env
    a = dbs["ZB01"]
    monkeypatch.setattr(S, "device_id", lambda conn: "same-device-id-0001")  # the copy claims it too
    ledger.create_request(a, request_input(1))
    assert sync(a, tc)["pending"] == 0
    dispose_all()
    b = tmp_path / "elsewhere" / "ZB01.db"
    b.parent.mkdir()
    sqlite_copy(a, b)
    secrets.save(b, **secrets.load(a))
    ra = ledger.create_request(a, request_input(2))
    ledger.create_request(b, request_input(3))
    conn = S.open_conn(a)
    try:
        a_batch = S.next_batch(conn)
    finally:
        conn.close()
    assert sync(a, tc)["pending"] == 0
    auth = {
        "X-Sync-Protocol": str(PROTOCOL),
        "X-Sync-Schema": SCHEMA_HEAD,
        "Authorization": f"Bearer {secrets.load(a)['api_token']}",
    }
    # a lost reply: the same changes under the same oseqs again are duplicates, nothing changes
    kw = signed_push(a, {"batch": a_batch})
    resp = tc.post("/sync/v1/push", headers={**auth, **kw["headers"]}, content=kw["content"])
    assert resp.status_code == 200, resp.text
    assert {r["status"] for r in resp.json()["results"]} == {"duplicate"}
    conn = S.open_conn(b)
    try:
        b_batch = S.next_batch(conn)
    finally:
        conn.close()
    assert {c["oseq"] for c in b_batch} & {c["oseq"] for c in a_batch}  # the same oseqs, other content
    hub_before = hub_requests(hub)
    assert ra["id"] in hub_before
    before = {r[0]: r[1] for r in rows(b, "SELECT id, number FROM request")}
    with pytest.raises(SyncError) as ei:
        sync(b, tc)
    assert ei.value.code == "device_conflict" and "one station identity" in ei.value.message
    assert {r[0]: r[1] for r in rows(b, "SELECT id, number FROM request")} == before
    assert hub_requests(hub) == hub_before
    with hub.engine.connect() as c:
        kinds = [r[0] for r in c.execute(sa.select(core_table("sync_conflict").c.kind))]
    assert "device_conflict" in kinds
    # the station says it was restored from a backup: behind, it heals (no conflict)
    kw = signed_push(b, {"batch": b_batch, "restored": True})
    resp = tc.post("/sync/v1/push", headers={**auth, **kw["headers"]}, content=kw["content"])
    assert (resp.status_code, resp.json()["error"]) == (409, "station_behind"), resp.text


def test_up_bundles_carry_the_device_and_a_copy_by_usb_is_refused_and_recorded(
    env: Any, tmp_path: Path
) -> None:  # noqa: F811
    """Up bundles name their install (``device`` in the signed manifest) and go through the same checks
    as a push: the hub keeps the install of the last bundle; a copy of the station database that sends
    changes under oseqs the hub holds is refused [device_conflict] and recorded, nothing written."""
    import sqlalchemy as sa
    from test_sync_heal import sqlite_copy
    from test_sync_util import request_input

    from qi_station.db import secrets
    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.tables import core_table
    from qi_station.sync.station import apply as S
    from qi_station.sync.station import bundles as B

    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1))
    assert sync(a, tc)["pending"] == 0
    dispose_all()
    b = tmp_path / "elsewhere" / "ZB01.db"
    b.parent.mkdir()
    sqlite_copy(a, b)
    secrets.save(b, **secrets.load(a))
    ledger.create_request(a, request_input(2))
    rb = ledger.create_request(b, request_input(3))
    hub.import_bundle(B.export_bundle(a, tmp_path / "a.zip")["file"])
    conn = S.open_conn(a)
    try:
        dev_a = S.device_id(conn)
    finally:
        conn.close()
    with hub.engine.connect() as c:
        got = c.execute(sa.text("SELECT device_id FROM hub_station WHERE code = 'ZB01'")).scalar()
    assert got == dev_a
    before = hub_requests(hub)
    with pytest.raises(SyncError) as ei:
        hub.import_bundle(B.export_bundle(b, tmp_path / "b.zip")["file"])
    assert ei.value.code == "device_conflict"
    assert hub_requests(hub) == before and rb["id"] not in before
    with hub.engine.connect() as c:
        kinds = [r[0] for r in c.execute(sa.select(core_table("sync_conflict").c.kind))]
    assert "device_conflict" in kinds


def test_a_copy_that_catches_up_from_the_hub_is_on_the_admins_list(env: Any, tmp_path: Path) -> None:  # noqa: F811
    """Outside attacker: a copy of the station database WITH its key that marks itself restored catches
    up from the hub (its own clashing number is renumbered, on the copy) and then continues exactly at
    the hub's ack, which is what a station moved to a new PC does: the hub cannot tell them apart, so it
    takes it, and the real station becomes the fork ([device_conflict]). Nothing the hub holds was
    renumbered, and every install switch is recorded: ``hub stations`` shows the station's conflicts
    (``device_moved``, then ``device_conflict``), so the administrator sees a takeover (it showed none)."""
    from test_sync_heal import sqlite_copy
    from test_sync_util import request_input

    from qi_station.db import kvkeys, secrets
    from qi_station.db.session import dispose_all
    from qi_station.sync.station import apply as S

    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1))
    assert sync(a, tc)["pending"] == 0
    assert [s["conflicts"] for s in hub.stations() if s["code"] == "ZB01"] == [0]
    dispose_all()
    b = tmp_path / "elsewhere" / "ZB01.db"
    b.parent.mkdir()
    sqlite_copy(a, b)
    secrets.save(b, **secrets.load(a))
    ra = ledger.create_request(a, request_input(2))
    assert sync(a, tc)["pending"] == 0
    rb = ledger.create_request(b, request_input(3))
    assert ra["number"] == rb["number"]
    conn = S.open_conn(b)
    try:
        with S.tx(conn):
            S.kv_set(conn, kvkeys.STATION_RESTORED, "1")  # what `qi-station restore` leaves
    finally:
        conn.close()
    assert sync(b, tc)["pending"] == 0
    held = hub_requests(hub)
    assert held[ra["id"]]["number"] == ra["number"]  # the real station's number kept at the hub
    assert held[rb["id"]]["number"] != ra["number"]
    (st,) = [s for s in hub.stations() if s["code"] == "ZB01"]
    assert st["conflicts"] == 1 and st["last_conflict"]["kind"] == "device_moved"
    ledger.create_request(a, request_input(4))
    with pytest.raises(SyncError) as ei:
        sync(a, tc)
    assert ei.value.code == "device_conflict"
    (st,) = [s for s in hub.stations() if s["code"] == "ZB01"]
    assert st["conflicts"] == 2 and st["last_conflict"]["kind"] == "device_conflict"


def test_a_copy_whose_first_change_after_the_ack_differs_is_recorded_as_a_conflict(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: F811
    """Outside attacker: a copied station database (same key, same device id: a cloned disk) that caught
    up from the hub and then pushes a change the hub does not hold, over a chain the hub holds otherwise,
    was refused [history_differs] ("its history was rewritten") with NO sync_conflict: ``hub stations``
    showed nothing. Now it is recorded (kind ``history_differs``) as [device_conflict] is, the message
    points at a second copy and the administrator, and nothing is written or renumbered."""
    from test_sync_heal import sqlite_copy
    from test_sync_util import request_input

    from qi_station.db import secrets
    from qi_station.db.session import dispose_all
    from qi_station.sync.station import apply as S

    hub, tc, dbs = env
    a = dbs["ZB01"]
    monkeypatch.setattr(S, "device_id", lambda conn: "same-device-id-0001")  # a cloned disk image
    r1 = ledger.create_request(a, request_input(1))
    assert sync(a, tc)["pending"] == 0
    dispose_all()
    b = tmp_path / "clone" / "ZB01.db"
    b.parent.mkdir()
    sqlite_copy(a, b)
    secrets.save(b, **secrets.load(a))
    ledger.create_request(a, request_input(2))
    assert sync(a, tc)["pending"] == 0
    assert sync(b, tc)["pending"] == 0  # the clone had nothing to push: it caught up from the hub
    ledger.add_note(b, r1["id"], "the clone's note")
    hub_before = hub_requests(hub)
    before = {r[0]: r[1] for r in rows(b, "SELECT id, number FROM request")}
    with pytest.raises(SyncError) as ei:
        sync(b, tc)
    assert ei.value.code == "history_differs", ei.value.message
    assert "second copy" in ei.value.message and "administrator" in ei.value.message
    assert "Nothing was written" in ei.value.message
    assert hub_requests(hub) == hub_before
    assert {r[0]: r[1] for r in rows(b, "SELECT id, number FROM request")} == before
    (st,) = [s for s in hub.stations() if s["code"] == "ZB01"]
    assert st["conflicts"] == 1 and st["last_conflict"]["kind"] == "history_differs"


def test_a_damaged_hub_nonce_file_answers_a_clear_503_not_a_traceback(env: Any) -> None:  # noqa: F811
    """Outside attacker: ``echo garbage > hub.db.nonces`` made every signed call a 500 with a traceback.
    Now the reply is 503 ``nonce_file_damaged`` naming the file (fail closed: nothing done)."""
    from test_sync_util import signed_push

    from qi_station.db import secrets
    from qi_station.db.engine import SCHEMA_HEAD
    from qi_station.sync.hub import registry
    from qi_station.sync.proto import PROTOCOL

    hub, tc, dbs = env
    if hub.sqlite_path is None:
        pytest.skip("the nonce file is a SQLite hub's")
    a = dbs["ZB01"]
    path = registry.nonce_path(hub.sqlite_path)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
    path.write_text("garbage\n" * 200, encoding="utf-8")
    kw = signed_push(a, {"batch": []})
    auth = {
        "X-Sync-Protocol": str(PROTOCOL),
        "X-Sync-Schema": SCHEMA_HEAD,
        "Authorization": f"Bearer {secrets.load(a)['api_token']}",
    }
    resp = tc.post("/sync/v1/push", headers={**auth, **kw["headers"]}, content=kw["content"])
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"] == "nonce_file_damaged" and str(path) in resp.json()["message"]
