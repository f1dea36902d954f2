"""Hub + station sync over HTTP (FastAPI TestClient) and bundles, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
from test_sync_util import (
    enroll_station,
    hub_requests,
    library,
    pg_available,
    pg_create,
    pg_drop,
    request_input,
    rows,
    signed_call,
    signed_push,
    station_requests,
)

from qi_station.db import secrets
from qi_station.db.engine import SCHEMA_HEAD
from qi_station.services import ledger
from qi_station.sync.proto import PROTOCOL, SyncError
from qi_station.sync.station import bundles as B
from qi_station.sync.station import client as C
from qi_station.sync.station import wire

PG = pg_available()


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_url(request: Any, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    if not PG:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    url = pg_create()
    try:
        yield url
    finally:
        from qi_station.sync.hub.store import Hub

        Hub(url).dispose()
        pg_drop(url)


@pytest.fixture
def env(hub_url: str, tmp_path: Path) -> Any:
    from fastapi.testclient import TestClient

    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub

    hub = Hub(hub_url)
    hub.init(demo=False)
    hub.upsert_library(
        [
            ("expert", {"id": "e-1", "name": "张三", "employer": "山东大学"}),
            ("institution", {"id": "i-1", "name": "济南市计量检定测试院", "cma_expiry": "2027-01-01"}),
            ("equipment", {"id": "q-1", "name": "三坐标测量机", "shared": True, "fee": 300}),
            ("project", {"id": "p-1", "name": "标准化试点", "year": 2025}),
        ]
    )
    tc = TestClient(create_app(hub_url))
    dbs = {}
    for code in ("ZB01", "QD02"):
        db = tmp_path / f"{code}.db"
        enroll_station(db, hub, tc, code)
        dbs[code] = db
    yield hub, tc, dbs
    tc.close()
    dispose_all()
    hub.dispose()


def sync(db: Path, tc: Any, **kw: Any) -> dict[str, Any]:
    return C.run_sync(db, http=tc, sleep=lambda s: None, **kw)


def test_end_to_end_http(env: Any) -> None:
    hub, tc, dbs = env
    a, b = dbs["ZB01"], dbs["QD02"]
    r1 = ledger.create_request(a, request_input(1, 1))
    ledger.move_request(a, r1["id"], "accepted")
    r2 = ledger.create_request(b, request_input(2, 1))  # same enterprise (USCC) at another station
    res = sync(a, tc)
    assert res["pending"] == 0 and res["pushed"] >= 4
    sync(b, tc)
    # library arrived, with pinyin computed at the hub
    assert rows(a, "SELECT name, name_py, name_initials FROM expert") == [("张三", "zhangsan", "zs")]
    assert rows(b, "SELECT COUNT(*) FROM institution")[0][0] == 1
    hreq = hub_requests(hub)
    assert set(hreq) == {r1["id"], r2["id"]}
    assert hreq[r1["id"]]["status"] == "accepted"
    assert rows(a, "SELECT COUNT(*) FROM outbox")[0][0] == 0
    # hub decisions flow down (the only outbox rows a pull writes are the hub events, pushed at once)
    hub.assign(r1["id"], expert_id="e-1", note="省局指派", priority="high", status="in_progress")
    hub.upsert_library([("expert", {"id": "e-2", "name": "曾单"})])
    hub.delete_library("project", ["p-1"])
    sync(a, tc, page_size=1)
    loc = station_requests(a)[r1["id"]]
    assert (loc["hub_expert_id"], loc["hub_note"], loc["hub_priority"], loc["status"], loc["h_rev"]) == (
        "e-1",
        "省局指派",
        "high",
        "in_progress",
        1,
    )
    assert rows(a, "SELECT COUNT(*) FROM outbox")[0][0] == 0
    assert rows(a, "SELECT deleted FROM project WHERE id='p-1'") == [(1,)]
    assert library(a) == library(hub)
    # station moves on from the hub status; events reach the hub once
    ledger.move_request(a, r1["id"], "waiting")
    sync(a, tc)
    sync(a, tc)
    h = hub_requests(hub)[r1["id"]]
    assert (h["status"], h["hub_expert_id"], h["s_rev"]) == ("waiting", "e-1", loc["s_rev"] + 1)
    with hub.engine.connect() as c:
        import sqlalchemy as sa

        n = c.execute(
            sa.text("SELECT COUNT(*) FROM request_event WHERE request_id=:r"), {"r": r1["id"]}
        ).scalar()
    assert (
        n == rows(a, "SELECT COUNT(*) FROM request_event WHERE request_id=?", (r1["id"],))[0][0] == 4
    )  # created, accepted, hub, waiting
    # b never sees a's request
    assert r1["id"] not in station_requests(b)
    st = C.sync_status(a)
    assert st["pending"] == 0 and st["last_success"] and st["hub"] == "http://testserver"


def test_push_duplicate_lost_reply_and_gap(env: Any) -> None:
    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    from qi_station.sync.station import apply as S

    conn = S.open_conn(a)
    batch = S.next_batch(conn)
    st = hub.station_by_token(S.api_token(conn))
    first = hub.push(st, batch)
    st = hub.station_by_token(S.api_token(conn))
    again = hub.push(st, batch)  # the reply of the first was "lost": resend is skipped by oseq
    assert first["acked_oseq"] == again["acked_oseq"] == batch[-1]["oseq"]
    assert {r["status"] for r in again["results"]} == {"duplicate"}
    assert len(hub_requests(hub)) == 1
    ledger.create_request(a, request_input(2, 2))
    ledger.create_request(a, request_input(3, 3))
    more = S.next_batch(conn)
    with pytest.raises(SyncError) as ei:
        hub.push(st, more[len(batch) + 1 :])
    assert ei.value.status == 409 and ei.value.data["expected"] == batch[-1]["oseq"] + 1
    assert len(hub_requests(hub)) == 1  # nothing changed
    conn.close()
    sync(a, tc)
    assert len(hub_requests(hub)) == 3


def test_auth_refusals(env: Any) -> None:
    hub, tc, dbs = env
    a, b = dbs["ZB01"], dbs["QD02"]
    r = ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    hdr = {"X-Sync-Protocol": str(PROTOCOL), "X-Sync-Schema": SCHEMA_HEAD}
    assert tc.get("/sync/v1/pull", headers=hdr).status_code == 401
    assert tc.get("/sync/v1/pull", headers={**hdr, "Authorization": "Bearer nope"}).status_code == 401
    tok_b = secrets.load(b)["api_token"]
    auth_b = {**hdr, "Authorization": f"Bearer {tok_b}"}

    def push_b(payload: Any) -> Any:  # signed with B's own key: the refusals below are the ownership rules
        kw = signed_push(b, payload)
        return tc.post("/sync/v1/push", headers={**auth_b, **kw["headers"]}, content=kw["content"])

    row = station_requests(a)[r["id"]]
    row["s_rev"] += 5
    row["title"] = "hijack"
    row.pop("seq")
    # B writing A's request (even claiming A's station code)
    resp = push_b({"batch": [{"oseq": 1, "table": "request", "row": row}]})
    assert resp.status_code == 403 and resp.json()["error"] == "forbidden", resp.text
    row2 = dict(row, station_code="QD02")
    resp = push_b({"batch": [{"oseq": 1, "table": "request", "row": row2}]})
    assert resp.status_code == 403
    # an event on A's request
    ev = {
        "id": "x-ev",
        "request_id": r["id"],
        "n": 99,
        "at": "2026-01-01 00:00:00.000000",
        "actor": "b",
        "kind": "note",
        "data": "{}",
        "prev_hash": "0",
        "hash": "1",
    }
    assert push_b({"batch": [{"oseq": 1, "table": "request_event", "row": ev}]}).status_code == 403
    # a library row
    lib = {"id": "e-1", "name": "伪造", "rev": 99, "updated_at": "2026-01-01 00:00:00.000000"}
    resp = push_b({"batch": [{"oseq": 1, "table": "expert", "row": lib}]})
    assert resp.status_code == 403 and "library" in resp.json()["message"]
    assert hub_requests(hub)[r["id"]]["title"] != "hijack"
    assert library(hub)["e-1"][0] == "张三"
    # revoked
    hub.revoke_station("QD02")
    assert tc.get("/sync/v1/pull", headers=auth_b).status_code == 401
    with pytest.raises(SyncError) as ei:
        sync(b, tc)
    assert ei.value.status == 401
    # one-time enrollment token
    tok = hub.add_station("WF03", "潍坊")["token"]
    from qi_station.sync import keys
    from qi_station.sync.proto import enroll_key_message

    priv, pub = keys.generate()
    body = {"token": tok, "pubkey": pub}
    # outside attacker: a key the caller does not hold (another station's) is not enrolled
    resp = tc.post("/sync/v1/enroll", headers=hdr, json=body)
    assert (resp.status_code, resp.json()["error"]) == (403, "bad_key_proof"), resp.text
    a_pub = secrets.load(a)["station_pubkey"]
    resp = tc.post("/sync/v1/enroll", headers=hdr, json={"token": tok, "pubkey": a_pub})
    assert (resp.status_code, resp.json()["error"]) == (403, "bad_key_proof"), resp.text
    # ... and one key is one station's, even for whoever holds it (ZB01's own key for WF03)
    a_priv = secrets.load(a)["station_privkey"]
    shared = {
        "token": tok,
        "pubkey": a_pub,
        "key_proof": keys.sign(a_priv, enroll_key_message("WF03", a_pub)),
    }
    resp = tc.post("/sync/v1/enroll", headers=hdr, json=shared)
    assert (resp.status_code, resp.json()["error"]) == (409, "key_in_use"), resp.text
    body["key_proof"] = keys.sign(priv, enroll_key_message("WF03", pub))
    assert tc.post("/sync/v1/enroll", headers=hdr, json=body).status_code == 200
    assert tc.post("/sync/v1/enroll", headers=hdr, json=body).status_code == 403
    assert (
        tc.post("/sync/v1/enroll", headers=hdr, json={"token": tok + "x", "pubkey": pub}).status_code == 403
    )


def test_a_token_alone_writes_nothing(env: Any) -> None:
    """Outside attacker: with a station's bearer token but not its key, a push (no head, a replayed head,
    any body) is refused before the hub reads it, and nothing is written; the station's own signed push
    goes through."""
    import json

    from qi_station.sync import keys
    from qi_station.sync.proto import call_message
    from qi_station.sync.station import apply as S

    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    conn = S.open_conn(a)
    batch = S.next_batch(conn)
    conn.close()
    hdr = {"X-Sync-Protocol": str(PROTOCOL), "X-Sync-Schema": SCHEMA_HEAD}
    auth_a = {**hdr, "Authorization": f"Bearer {secrets.load(a)['api_token']}"}
    resp = tc.post("/sync/v1/push", headers=auth_a, json={"batch": batch})
    assert (resp.status_code, resp.json()["error"]) == (403, "unsigned_push"), resp.text
    raw = json.dumps({"batch": batch}).encode("utf-8")
    good = signed_push(a, raw)["headers"]
    when, nonce = int(good["X-Station-Time"]), good["X-Sync-Nonce"]
    msg = call_message("ZB01", "POST", "/sync/v1/push", "", when, nonce, raw)
    other = keys.sign(keys.generate()[0], msg)
    resp = tc.post("/sync/v1/push", headers={**auth_a, **good, "X-Station-Signature": other}, content=raw)
    assert (resp.status_code, resp.json()["error"]) == (403, "bad_push_signature"), resp.text
    kw = signed_push(a, {"batch": batch})
    changed = kw["content"].replace("标准咨询".encode(), "伪造记录".encode())
    assert changed != kw["content"]
    resp = tc.post("/sync/v1/push", headers={**auth_a, **kw["headers"]}, content=changed)
    assert (resp.status_code, resp.json()["error"]) == (403, "bad_push_signature"), resp.text
    assert hub_requests(hub) == {}
    resp = tc.post("/sync/v1/push", headers={**auth_a, **kw["headers"]}, content=kw["content"])
    assert resp.status_code == 200, resp.text
    assert [r["title"] for r in hub_requests(hub).values()] == ["标准咨询1"]


def test_a_token_alone_cannot_move_the_cursor_past_the_head(env: Any) -> None:
    """Outside attacker: `GET /pull?since=99999999` with the token alone set the station's cursor there,
    so every later down bundle for it was empty and refused [gap]. The cursor stops at the hub's head."""
    import sqlalchemy as sa

    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    hdr = {"X-Sync-Protocol": str(PROTOCOL), "X-Sync-Schema": SCHEMA_HEAD}
    auth_a = {**hdr, "Authorization": f"Bearer {secrets.load(a)['api_token']}"}
    call = signed_call(a, "GET", "/sync/v1/pull", {"since": 99_999_999, "limit": 1})
    resp = tc.get(call["url"], headers={**auth_a, **call["headers"]})
    assert resp.status_code == 200, resp.text
    with hub.engine.connect() as c:
        cur = c.execute(sa.text("SELECT station_cursor FROM hub_station WHERE code = 'ZB01'")).scalar()
    assert cur is not None and 0 < int(cur) <= int(resp.json()["head"]) < 99_999_999


def test_a_token_alone_reads_nothing(env: Any) -> None:
    """Outside attacker: with a station's bearer token but not its key, GET /pull and GET /restore are
    refused before the hub does any work (unsigned, signed by another key, a signature over another
    query, a replayed signed call, a call signed at a time outside the window); the station's own
    freshly signed GETs are answered."""
    import time

    from qi_station.sync import keys
    from qi_station.sync.proto import CALL_WINDOW_MS, call_message

    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    hdr = {"X-Sync-Protocol": str(PROTOCOL), "X-Sync-Schema": SCHEMA_HEAD}
    auth_a = {**hdr, "Authorization": f"Bearer {secrets.load(a)['api_token']}"}
    for path, params in (("/sync/v1/pull", {"since": 0}), ("/sync/v1/restore", {"table": "request"})):
        resp = tc.get(path, params=params, headers=auth_a)
        assert (resp.status_code, resp.json()["error"]) == (403, "unsigned_call"), resp.text
        call = signed_call(a, "GET", path, params)
        h = call["headers"]
        forged = keys.sign(
            keys.generate()[0],
            call_message(
                "ZB01",
                "GET",
                path,
                call["url"].partition("?")[2],
                int(h["X-Station-Time"]),
                h["X-Sync-Nonce"],
                b"",
            ),
        )
        resp = tc.get(call["url"], headers={**auth_a, **h, "X-Station-Signature": forged})
        assert (resp.status_code, resp.json()["error"]) == (403, "bad_call_signature"), resp.text
        resp = tc.get(call["url"] + "&limit=1", headers={**auth_a, **h})  # the query is signed too
        assert (resp.status_code, resp.json()["error"]) == (403, "bad_call_signature"), resp.text
        resp = tc.get(call["url"], headers={**auth_a, **h})
        assert resp.status_code == 200, resp.text
        if path.endswith("restore"):
            assert [r[0] for r in resp.json()["rows"]] != []
        resp = tc.get(call["url"], headers={**auth_a, **h})  # the same signed call again
        assert (resp.status_code, resp.json()["error"]) == (403, "replayed_call"), resp.text
    # a signed call whose time is outside the window: refused, with the hub's clock to sign again with
    conn = C.S.open_conn(a)
    try:
        sign = C.H.call_signer(conn)
    finally:
        conn.close()
    when = time.time_ns() // 1_000_000 - CALL_WINDOW_MS - 60_000
    nonce = "n" * 24
    resp = tc.get(
        "/sync/v1/pull",
        headers={
            **auth_a,
            "X-Station-Time": str(when),
            "X-Sync-Nonce": nonce,
            "X-Station-Signature": sign("GET", "/sync/v1/pull", "", when, nonce, b""),
        },
    )
    assert (resp.status_code, resp.json()["error"]) == (403, "stale_call"), resp.text
    assert resp.json()["hub_now_ms"] > when + CALL_WINDOW_MS
    # the station's client with its clock an hour off: refused once, signs again with the hub's time
    conn = C.S.open_conn(a)
    try:
        cl = C.hub_client(conn, http=tc)
    finally:
        conn.close()
    cl.clock_offset_ms = -3_600_000
    page = cl.pull(0)
    assert page["more"] in (True, False) and abs(cl.clock_offset_ms) < CALL_WINDOW_MS
    assert cl.restore("request", "")["rows"]


def test_a_replayed_push_changes_nothing(env: Any) -> None:
    """Outside attacker: a signed push replayed (the same bytes, signature, time and nonce) rewrote the
    station's clock_skew, last_seen and profile at the hub. A replay is refused before the hub reads
    it and changes nothing; the next fresh push records the skew again."""
    import sqlalchemy as sa

    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    hdr = {"X-Sync-Protocol": str(PROTOCOL), "X-Sync-Schema": SCHEMA_HEAD}
    auth_a = {**hdr, "Authorization": f"Bearer {secrets.load(a)['api_token']}"}

    def station_row() -> dict[str, Any]:
        with hub.engine.connect() as c:
            r = c.execute(
                sa.text(
                    "SELECT clock_skew_ms, last_seen, acked_oseq, park FROM hub_station WHERE code = 'ZB01'"
                )
            ).mappings()
            return dict(r.first() or {})

    import time

    off = time.time_ns() // 1_000_000 - 3_600_000  # this push says the station's clock is an hour slow
    kw = signed_push(a, {"batch": [], "station_now_ms": off, "profile": {"park": "旧园区"}})
    resp = tc.post("/sync/v1/push", headers={**auth_a, **kw["headers"]}, content=kw["content"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["clock_skew_ms"] < -3_500_000
    kw2 = signed_push(a, {"batch": [], "station_now_ms": time.time_ns() // 1_000_000})
    assert (
        tc.post("/sync/v1/push", headers={**auth_a, **kw2["headers"]}, content=kw2["content"]).status_code
        == 200
    )
    hub.engine.dispose()
    before = station_row()
    assert abs(before["clock_skew_ms"]) < 60_000
    resp = tc.post("/sync/v1/push", headers={**auth_a, **kw["headers"]}, content=kw["content"])
    assert (resp.status_code, resp.json()["error"]) == (403, "replayed_call"), resp.text
    assert station_row() == before  # the replay changed nothing: not the skew, not the profile


def test_versions(env: Any) -> None:
    hub, tc, dbs = env
    tok = secrets.load(dbs["ZB01"])["api_token"]

    def get(**hdr: str) -> Any:  # a GET /pull signed with the station's key
        call = signed_call(dbs["ZB01"], "GET", "/sync/v1/pull")
        return tc.get(call["url"], headers={"Authorization": f"Bearer {tok}", **call["headers"], **hdr})

    ok = get(**{"X-Sync-Protocol": str(PROTOCOL), "X-Sync-Schema": SCHEMA_HEAD})
    assert ok.status_code == 200
    nm1 = get(**{"X-Sync-Protocol": str(PROTOCOL - 1), "X-Sync-Schema": f"{int(SCHEMA_HEAD) - 1:04d}"})
    assert nm1.status_code == 200
    old = get(**{"X-Sync-Protocol": str(PROTOCOL - 2), "X-Sync-Schema": SCHEMA_HEAD})
    assert old.status_code == 426 and old.json()["error"] == "upgrade_required"
    from qi_station.sync.proto import MIN_SCHEMA

    # a station of the previous release (several revisions behind) still syncs
    last_release = get(**{"X-Sync-Protocol": str(PROTOCOL), "X-Sync-Schema": MIN_SCHEMA})
    assert last_release.status_code == 200
    older = get(**{"X-Sync-Protocol": str(PROTOCOL), "X-Sync-Schema": f"{int(MIN_SCHEMA) - 1:04d}"})
    assert older.status_code == 426 and older.json()["min_schema"] == MIN_SCHEMA
    assert get().status_code == 426
    assert tc.get("/openapi.json").status_code == 200


def test_bundles_online_roundtrip_and_refusals(env: Any, tmp_path: Path) -> None:
    hub, tc, dbs = env
    a = dbs["ZB01"]
    sync(a, tc)
    r = ledger.create_request(a, request_input(1, 1))
    up = tmp_path / "up.zip"
    B.export_bundle(a, up)
    # tampering: bit flip inside changes.jsonl (re-zipped), truncation, wrong key, wrong target
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(up) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    flipped = dict(
        parts, **{"changes.jsonl": parts["changes.jsonl"].replace(b"\xe6\xa0\x87", b"\xe6\xa0\x88", 1)}
    )
    with zipfile.ZipFile(bad, "w") as z:
        for n, d in flipped.items():
            z.writestr(n, d)
    before = hub_requests(hub)
    for f, code in ((bad, "tampered"),):
        with pytest.raises(SyncError) as ei:
            hub.import_bundle(f)
        assert ei.value.code == code
    trunc = tmp_path / "trunc.zip"
    trunc.write_bytes(up.read_bytes()[: len(up.read_bytes()) // 2])
    with pytest.raises(SyncError) as ei:
        hub.import_bundle(trunc)
    assert ei.value.code == "bad_bundle"
    # a manifest edited (target) without re-signing
    m = json.loads(parts["manifest.json"])
    m["source_id"] = "QD02"
    forged = tmp_path / "forged.zip"
    from qi_station.sync.proto import canonical

    with zipfile.ZipFile(forged, "w") as z:
        z.writestr("manifest.json", canonical(m))
        z.writestr("changes.jsonl", parts["changes.jsonl"])
        z.writestr("manifest.sig", parts["manifest.sig"])
        z.writestr("manifest.key", parts["manifest.key"])
    with pytest.raises(SyncError) as ei:
        hub.import_bundle(forged)
    assert ei.value.code == "bad_signature"
    assert hub_requests(hub) == before
    # the real one imports once; a replay is a no-op
    assert hub.import_bundle(up)["status"] == "imported"
    assert hub.import_bundle(up)["status"] == "already_imported"
    assert r["id"] in hub_requests(hub)
    # down bundle: wrong target refused, right one applies the ack, stale replay harmless
    hub.upsert_library([("expert", {"id": "e-9", "name": "李四"})])
    down_b = tmp_path / "down_b.zip"
    hub.export_bundle("QD02", down_b)
    with pytest.raises(SyncError) as ei:
        B.import_bundle(a, down_b)
    assert ei.value.code == "wrong_target"
    down = tmp_path / "down.zip"
    hub.export_bundle("ZB01", down)
    res = B.import_bundle(a, down)
    assert res["status"] == "imported" and res["pending"] == 0
    assert "e-9" in library(a)
    assert B.import_bundle(a, down)["status"] == "stale"
    # an up bundle handed to a station, a down bundle handed to the hub
    with pytest.raises(SyncError):
        B.import_bundle(a, up)
    with pytest.raises(SyncError):
        hub.import_bundle(down)


def test_down_bundle_gap_and_order(env: Any, tmp_path: Path) -> None:
    hub, tc, dbs = env
    a = dbs["ZB01"]
    # the hub thinks the station is at 0; bundle 1 covers everything so far
    b1 = tmp_path / "b1.zip"
    hub.export_bundle("ZB01", b1)
    # station reports its cursor through an up bundle only after importing b1; simulate a hub that moved on
    hub.upsert_library([("expert", {"id": "e-5", "name": "王五"})])
    import sqlalchemy as sa

    from qi_station.sync.hub.tables import hub_tables

    hs = hub_tables()["hub_station"]
    with hub.engine.begin() as c:
        c.execute(sa.update(hs).where(hs.c.code == "ZB01").values(station_cursor=10_000))
    b2 = tmp_path / "b2.zip"
    hub.export_bundle("ZB01", b2)
    with pytest.raises(SyncError) as ei:
        B.import_bundle(a, b2)  # starts after the station's cursor
    assert ei.value.code == "gap"
    assert B.import_bundle(a, b1)["status"] == "imported"


def test_offline_enrollment(hub_url: str, tmp_path: Path) -> None:
    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.store import Hub

    hub = Hub(hub_url)
    hub.init(demo=False)
    hub.upsert_library([("expert", {"id": "e-1", "name": "张三"})])
    tok = hub.add_station("LY09", "临沂")["token"]
    db = tmp_path / "off.db"
    assert C.enroll(db, tok)["mode"] == "offline-pending"
    r = ledger.create_request(db, request_input(1, 1))
    up = tmp_path / "up.zip"
    B.export_bundle(db, up)
    # a forged enrollment (another key, the right station code) is refused
    other = tmp_path / "other.db"
    C.enroll(other, tok.rsplit(".", 1)[0] + ".wrongsecret")
    ledger.create_request(other, request_input(2, 2))
    # (the station code is the same; the proof is not)
    forged = tmp_path / "forged.zip"
    B.export_bundle(other, forged)
    with pytest.raises(SyncError) as ei:
        hub.import_bundle(forged)
    assert ei.value.code == "bad_enroll_token"
    res = hub.import_bundle(up)
    assert res["status"] == "imported" and r["id"] in hub_requests(hub)
    # the forged one stays refused now that the station is enrolled with another key
    with pytest.raises(SyncError):
        hub.import_bundle(forged)
    down = tmp_path / "down.zip"
    hub.export_bundle("LY09", down)
    assert B.import_bundle(db, down)["pending"] == 0
    assert "e-1" in library(db)
    assert rows(db, "SELECT v FROM kv WHERE k='hub_pubkey'")[0][0] == hub.info()["hub_pubkey"]
    # later bundles keep working (signed by the station key the hub now holds)
    ledger.move_request(db, r["id"], "accepted")
    up2 = tmp_path / "up2.zip"
    B.export_bundle(db, up2)
    assert hub.import_bundle(up2)["applied"] >= 2
    assert hub_requests(hub)[r["id"]]["status"] == "accepted"
    dispose_all()
    hub.dispose()


def test_import_library_files(hub_url: str, tmp_path: Path) -> None:
    from qi_station.sync.hub.store import Hub

    hub = Hub(hub_url)
    hub.init(demo=False)
    f = tmp_path / "lib.json"
    f.write_text(
        json.dumps(
            {
                "expert": [{"id": "a", "name": "单县专家"}, {"id": "b", "name": "曾工"}],
                "institution": [{"id": "i", "name": "青岛检测", "cma_expiry": "2027-03-01"}],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    assert hub.import_library(f) == {"added": 3, "updated": 0, "deleted": 0, "unchanged": 0}
    f.write_text(
        json.dumps({"expert": [{"id": "a", "name": "单县专家2"}]}, ensure_ascii=False), encoding="utf-8"
    )
    assert hub.import_library(f) == {"added": 0, "updated": 1, "deleted": 1, "unchanged": 0}
    lib = library(hub)
    assert lib["a"][1] == 2 and lib["b"][2] is True and library(hub, "institution")["i"][2] is False
    csvf = tmp_path / "equipment.csv"
    csvf.write_text("id,name,shared,fee\nq1,光谱仪,是,100\n", encoding="utf-8-sig")
    assert hub.import_library(csvf)["added"] == 1
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "project"
    ws.append(["id", "name", "year"])
    ws.append(["p1", "品牌建设", 2025])
    x = tmp_path / "lib.xlsx"
    wb.save(x)
    assert hub.import_library(x)["added"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nx\n", encoding="utf-8")
    with pytest.raises(SyncError):
        hub.import_library(bad)
    # the attacker trial: a control character in a library row reached stations, whose next push the hub
    # then refused (and their xlsx report crashed): refused at import, nothing written
    ctl = tmp_path / "ctl.json"
    ctl.write_text(json.dumps({"expert": [{"id": "c", "name": "控制\x0b字符专家"}]}), encoding="utf-8")
    with pytest.raises(SyncError, match="control character U\\+000B"):
        hub.import_library(ctl, partial=True)
    assert "c" not in library(hub)
    hub.dispose()


def test_init_loads_the_demo_library_through_read_demo(hub_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``hub init`` with no library file loads services.demo.read_demo's rows, search text by
    db.searchtext.prepare; without the demo data (read_demo refuses) the hub starts empty."""
    import sqlalchemy as sa

    from qi_station.core.errors import QIError
    from qi_station.db.searchtext import prepare
    from qi_station.services import demo
    from qi_station.sync.hub.store import Hub

    real = demo.read_demo()
    calls: list[int] = []

    def spy(data_dir: Path | None = None) -> dict[str, list[dict[str, Any]]]:
        calls.append(1)
        return {
            **{k: [] for k in real},
            "experts": real["experts"][:2],
            "equipment": real["equipment"][:1],
        }

    monkeypatch.setattr(demo, "read_demo", spy)
    hub = Hub(hub_url)
    out = hub.init()
    assert calls == [1]
    assert out["library"] == {"added": 3, "updated": 0, "deleted": 0, "unchanged": 0}
    assert set(library(hub)) == {e["id"] for e in real["experts"][:2]}
    assert set(library(hub, "equipment")) == {real["equipment"][0]["id"]}
    e = real["experts"][0]
    with hub.engine.connect() as c:
        got = c.execute(
            sa.text("SELECT name_py, name_initials, haystack FROM expert WHERE id = :i"), {"i": e["id"]}
        ).one()
    want = prepare("expert", e)
    assert tuple(got) == (want["name_py"], want["name_initials"], want["haystack"])
    assert out["calendar"] == [2025, 2026]  # the shipped holiday calendar, distributed from now on
    assert hub.init() == {k: v for k, v in out.items() if k not in ("library", "calendar")}  # loaded once
    assert calls == [1]
    hub.dispose()

    def missing(data_dir: Path | None = None) -> dict[str, list[dict[str, Any]]]:
        raise QIError("demo data not found")

    monkeypatch.setattr(demo, "read_demo", missing)
    empty = Hub(hub_url)
    with empty.write() as c:
        for t in ("expert", "equipment"):
            c.execute(sa.text(f"DELETE FROM {t}"))
    assert "library" not in empty.init() and empty.library_count() == 0
    empty.dispose()


def test_refused_hub_move_keeps_its_conflict_record(env: Any) -> None:
    """An illegal hub status move changes nothing, and the conflict that explains it survives."""
    import sqlalchemy as sa

    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    before = hub_requests(hub)[r["id"]]
    with pytest.raises(SyncError) as ei:
        hub.assign(r["id"], expert_id="e-1", status="closed")  # new -> closed is not a move
    assert ei.value.code == "illegal_move"
    assert hub_requests(hub)[r["id"]] == before  # the expert was not assigned either
    with hub.engine.connect() as c:
        got = c.execute(sa.text("SELECT table_name, row_id, kind, detail, resolved FROM sync_conflict")).all()
    assert len(got) == 1
    table, row_id, kind, detail, resolved = got[0]
    assert (table, row_id, kind, bool(resolved)) == ("request", r["id"], "hub_move_refused", False)
    assert json.loads(detail) == {"from": "new", "to": "closed"}


def test_clock_skew_changes_nothing(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    hub, tc, dbs = env
    import time as _time
    from datetime import timedelta

    from qi_station.core import clock as timeutil
    from qi_station.core import ids
    from qi_station.sync.proto import SyncError

    outcomes = []
    for code, years in (("ZB01", -10), ("QD02", -10)):
        db = dbs[code]
        shift = timedelta(days=365 * years)
        real_now = timeutil.now_utc
        # (a context, not monkeypatch.undo(): that would also undo conftest's isolated config dir)
        with monkeypatch.context() as mp:
            mp.setattr(ledger, "env_now", lambda s=shift, f=real_now: f() + s)
            # the station's hybrid logical clock (core.ids) reads time.time_ns: skew it too
            mp.setattr(ids.time, "time_ns", lambda s=shift: int((_time.time() + s.total_seconds()) * 1e9))
            r = ledger.create_request(db, request_input(1, 1))
            ledger.move_request(db, r["id"], "accepted")
            res = sync(db, tc)
        hub.assign(r["id"], expert_id="e-1")
        sync(db, tc)
        h = hub_requests(hub)[r["id"]]
        outcomes.append(
            (
                res["pushed"],
                h["status"],
                h["s_rev"],
                h["h_rev"],
                station_requests(db)[r["id"]]["hub_expert_id"],
            )
        )
    assert outcomes[0] == outcomes[1] == (5, "accepted", 2, 1, "e-1")
    skews = {s["code"]: s["clock_skew_ms"] for s in hub.stations()}
    assert skews["ZB01"] is not None
    # a clock AHEAD of the hub's by more than core.clock.CLOCK_GAP stamps rows the hub refuses
    # (clock_ahead, naming the field); nothing of the batch is written
    with monkeypatch.context() as mp:
        shift = timedelta(days=3650)
        mp.setattr(ledger, "env_now", lambda s=shift, f=timeutil.now_utc: f() + s)
        mp.setattr(ids.time, "time_ns", lambda s=shift: int((_time.time() + s.total_seconds()) * 1e9))
        # ... and this PC's clock, as the push tells the hub, runs ahead of the hub's still (the patched
        # time_ns above is the hub's too, in this process): refused, not taken and flagged (rules.clock_ok)
        mp.setattr(wire, "station_now_ms", lambda s=shift: int((_time.time() + 2 * s.total_seconds()) * 1000))
        r = ledger.create_request(dbs["ZB01"], request_input(2, 1))
        with pytest.raises(SyncError) as ei:
            sync(dbs["ZB01"], tc)
    assert ei.value.data.get("rule") == "clock_ahead", ei.value.data
    assert r["id"] not in hub_requests(hub)


@pytest.mark.skipif(not PG, reason="PostgreSQL not reachable")
def test_pg_seq_follows_commit_order(tmp_path: Path) -> None:
    """Concurrent hub writers on PostgreSQL; a reader pulling by cursor meanwhile never skips a row."""
    from qi_station.sync.hub.store import Hub

    url = pg_create()
    try:
        hub = Hub(url)
        hub.init(demo=False)
        st = {"code": "NONE", "id": "x", "acked_oseq": 0}
        stop = threading.Event()
        seen: dict[str, int] = {}
        errors: list[BaseException] = []

        def writer(k: int) -> None:
            try:
                for i in range(25):
                    hub.upsert_library(
                        [
                            ("expert", {"id": f"w{k}-{i}", "name": f"专家{k}-{i}"}),
                            ("institution", {"id": f"i{k}-{i}", "name": f"机构{k}-{i}"}),
                        ]
                    )
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        def reader() -> None:
            cur = 0
            while True:
                done = stop.is_set()
                page = hub.read_changes(st["code"], cur, 7)
                for t, block in page["tables"].items():
                    for r in block["rows"]:
                        seen[f"{t}:{r[0]}"] = r[block["cols"].index("seq")]
                cur = page["next"]
                if done and not page["more"]:
                    return

        ws = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        rd = threading.Thread(target=reader)
        rd.start()
        for w in ws:
            w.start()
        for w in ws:
            w.join()
        stop.set()
        rd.join()
        assert not errors
        assert len(seen) == 4 * 25 * 2 + 2  # and the two calendar years hub init distributes
        assert len(set(seen.values())) == len(seen)
        hub.dispose()
    finally:
        pg_drop(url)
