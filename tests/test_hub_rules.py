"""The hub applies the station's own rules to every pushed row (issue 12 item 1), guards its front door
(body limits, token before body, access log) and answers a busy database with 503 + Retry-After (item 6).
On SQLite and on PostgreSQL (the ``env`` fixture of test_sync_hub)."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures shared with the hub tests
from test_sync_util import hub_requests, request_input, signed_call, signed_push, station_requests

from qi_station.db import secrets
from qi_station.db.engine import SCHEMA_HEAD
from qi_station.services import ledger
from qi_station.sync.proto import PROTOCOL
from qi_station.sync.station import apply as S
from qi_station.sync.station import bundles as B

HDR = {"X-Sync-Protocol": str(PROTOCOL), "X-Sync-Schema": SCHEMA_HEAD}


def auth(db: Path) -> dict[str, str]:
    return {**HDR, "Authorization": f"Bearer {secrets.load(db)['api_token']}"}


def outbox_batch(db: Path) -> list[dict[str, Any]]:
    conn = S.open_conn(db)
    try:
        return S.next_batch(conn)
    finally:
        conn.close()


def push(tc: Any, db: Path, batch: list[dict[str, Any]]) -> Any:
    kw = signed_push(db, {"batch": batch})
    return tc.post("/sync/v1/push", headers={**auth(db), **kw["headers"]}, content=kw["content"])


def tamper(batch: list[dict[str, Any]], table: str, **changes: Any) -> tuple[list[dict[str, Any]], int]:
    out = json.loads(json.dumps(batch))
    for ch in out:
        if ch["table"] == table:
            ch["row"].update(changes)
            return out, ch["oseq"]
    raise AssertionError(f"no {table} row in the batch")


BIG = "长" * 10_000
CASES = [
    ("request", {"status": "pwned"}, "status", "choice"),
    ("request", {"elements": '["bogus"]'}, "elements", "element"),
    ("request", {"elements": "not json"}, "elements", "element"),
    ("request", {"elements": '["计量"]'}, "elements", "element"),  # a name, not the stored code
    ("request", {"elements": "[]"}, "elements", "required"),
    ("request", {"title": BIG}, "title", "max_length"),
    ("request", {"title": "bell\x07"}, "title", "control_char"),
    ("request", {"title": "一行\u2028两行"}, "title", "control_char"),  # a line break in one-line text
    ("request", {"contact_name": "张\u2029三"}, "contact_name", "control_char"),
    ("request", {"cost_saved_cents": -10_000}, "cost_saved_cents", "non_negative"),
    ("request", {"satisfaction": 9}, "satisfaction", "range_1_5"),
    ("request", {"channel": "pigeon"}, "channel", "choice"),
    ("request", {"urgency": "yesterday"}, "urgency", "choice"),
    ("request", {"status": None}, "status", "choice"),  # not a code: the core's rule decides
    ("request", {"h_rev": -1}, "h_rev", "range"),
    ("request", {"h_rev": 2**31 - 2}, "h_rev", "range"),  # one above it would not fit the column
    ("request", {"number": "QD02-202601-0001"}, "number", "own_number"),
    ("request", {"received_at": "1970-01-01 00:00:00.000000"}, "received_at", "range"),
    ("request", {"promised_date": "9999-12-31"}, "promised_date", "range"),
    ("request", {"received_at": "9999-12-31T23:00:00-10:00"}, "received_at", "type"),
    ("request", {"created_at": "0001-01-01T00:00:00+05:00"}, "created_at", "type"),
    ("request", {"evil_column": 1}, "evil_column", "unknown_column"),
    # stamped ahead of the hub's clock by more than core.clock.CLOCK_GAP: a PC clock that runs ahead
    ("request", {"updated_at": "2099-01-01 00:00:00.000000"}, "updated_at", "clock_ahead"),
    ("request_event", {"at": "2099-01-01 00:00:00.000000"}, "at", "clock_ahead"),
    ("enterprise", {"uscc": "91370100MA3C000000"}, "uscc", "uscc_checksum"),
    ("enterprise", {"name": BIG}, "name", "max_length"),
    ("enterprise", {"scale": "巨型"}, "scale", "choice"),
    (
        "enterprise",
        {"former_names": '[{"name": "bell\\u0007", "until": "2026-01-01"}]'},
        "former_names",
        "control_char",
    ),
    ("enterprise", {"former_names": '{"name": "x"}'}, "former_names", "json_array"),
    # the one phone rule (services.phones.normalize_phone) and the text rule on the display
    ("enterprise", {"phone_e164": '=HYPERLINK("http://x")\x1b[31m'}, "phone_e164", "phone"),
    ("enterprise", {"phone_e164": "053188886666"}, "phone_e164", "phone_form"),  # not its E.164 form
    ("enterprise", {"phone_display": "0531 8888 6666\x07"}, "phone_display", "control_char"),
    ("enterprise", {"phone_display": "\x1b[31m0531"}, "phone_display", "control_char"),
    ("enterprise", {"county_code": "371202"}, "county_code", "historic"),  # 莱城区: now 370116
    ("enterprise", {"city_code": "371200"}, "city_code", "location_city"),  # 莱芜 is no current city
    ("enterprise", {"county_code": "370602"}, "city_code", "location_city"),  # 芝罘区 is not in 济南
    ("request_event", {"to_status": "pwned"}, "to_status", "choice"),
    ("request_event", {"from_status": "pwned"}, "from_status", "choice"),
    ("request_event", {"actor": "x" * 51}, "actor", "max_length"),
    ("request_event", {"data": "[1, 2]"}, "data", "json_object"),
    ("request_event", {"hash": "h" * 5000}, "hash", "max_length"),
]


@pytest.mark.parametrize(("table", "changes", "field", "rule"), CASES, ids=[f"{c[0]}.{c[2]}" for c in CASES])
def test_a_bad_row_refuses_the_whole_batch(
    env: Any,  # noqa: F811
    table: str,
    changes: dict[str, Any],
    field: str,
    rule: str,
) -> None:
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    batch, oseq = tamper(outbox_batch(a), table, **changes)
    resp = push(tc, a, batch)
    assert resp.status_code == 422, resp.text
    d = resp.json()
    assert (d["oseq"], d["table"], d["field"], d["rule"]) == (oseq, table, field, rule), d
    for v in changes.values():  # the reply names the field and the rule, never the value
        if isinstance(v, str) and len(v) > 3:
            assert v not in resp.text
    assert hub_requests(hub) == {}  # nothing of the batch was written
    # the station is not stuck: its real outbox goes through
    assert sync(a, tc)["pending"] == 0
    assert hub_requests(hub)[r["id"]]["number"] == r["number"]


@pytest.mark.parametrize("forged", [{"h_rev": 7}, {"hub_note": "forged"}, {"hub_priority": "high"}])
def test_hub_fields_on_a_new_request_are_never_taken(env: Any, forged: dict[str, Any]) -> None:  # noqa: F811
    """A station's new request that carries hub fields (its echo of a hub that lost them, or a forgery):
    the request is taken, the hub fields are not; the hub's h_rev goes past the echo (so the station
    takes the hub's own fields back on its next pull), and the hub records what it did not take."""
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    batch, _oseq = tamper(outbox_batch(a), "request", **forged)
    resp = push(tc, a, batch)
    assert resp.status_code == 200, resp.text
    got = hub_requests(hub)[r["id"]]
    assert (got["hub_note"], got["hub_priority"], got["hub_expert_id"]) == (None, None, None)
    assert got["h_rev"] == forged.get("h_rev", 0) + 1


def test_the_station_rules_hold_on_updates(env: Any) -> None:  # noqa: F811
    hub, tc, dbs = env
    a, b = dbs["ZB01"], dbs["QD02"]
    r = ledger.create_request(a, request_input(1, 1))
    ledger.move_request(a, r["id"], "cancelled", note="企业撤回")
    sync(a, tc)
    rb = ledger.create_request(b, request_input(2, 2))
    sync(b, tc)
    row = station_requests(a)[r["id"]]
    row.pop("seq")
    base = {"oseq": S.open_conn(a).execute("SELECT MAX(oseq) FROM outbox").fetchone()[0] or 0}
    acked = hub.station_by_token(secrets.load(a)["api_token"])["acked_oseq"]
    nxt = max(acked, base["oseq"]) + 1

    def one(**ch: Any) -> Any:
        return push(
            tc, a, [{"oseq": nxt, "table": "request", "row": {**row, "s_rev": row["s_rev"] + 1, **ch}}]
        )

    # a cancelled request cannot come back to life
    resp = one(status="in_progress")
    assert resp.status_code == 422 and resp.json()["rule"] == "lifecycle", resp.text
    # another station's enterprise
    ent_b = hub_requests(hub)[rb["id"]]["enterprise_id"]
    resp = one(enterprise_id=ent_b)
    assert resp.status_code == 422 and resp.json()["rule"] == "own_enterprise", resp.text
    assert hub_requests(hub)[r["id"]]["status"] == "cancelled"
    # a change no event of the request made is refused (its s_rev counts its changing events)
    resp = one(title="改过的标题")  # fixed by its created event (core.chain.CREATED_FIELDS)
    assert resp.status_code == 422 and resp.json()["rule"] == "ledger_created", resp.text
    resp = one(result="编的结果")
    assert resp.status_code == 422 and resp.json()["rule"] == "ledger_fold", resp.text
    # hub fields on an update are ignored (the hub keeps its own), not taken: a real change (its event,
    # then its row) that carries them
    r2 = ledger.create_request(a, request_input(3, 1))
    sync(a, tc)
    ledger.move_request(a, r2["id"], "accepted")
    batch, _oseq = tamper(outbox_batch(a), "request", hub_note="forged", h_rev=0)
    resp = push(tc, a, batch)
    assert resp.status_code == 200, resp.text
    h = hub_requests(hub)[r2["id"]]
    assert (h["hub_note"], h["status"]) == (None, "accepted")


def test_number_squatting_is_refused_and_the_real_station_syncs(env: Any) -> None:  # noqa: F811
    hub, tc, dbs = env
    a, b = dbs["ZB01"], dbs["QD02"]
    rb = ledger.create_request(b, request_input(2, 2))  # B's number, not yet at the hub
    ledger.create_request(a, request_input(1, 1))
    batch, _ = tamper(outbox_batch(a), "request", number=rb["number"])
    assert push(tc, a, batch).status_code == 422
    assert sync(b, tc)["pending"] == 0  # B is not locked out of its own number
    assert hub_requests(hub)[rb["id"]]["number"] == rb["number"]
    assert sync(a, tc)["pending"] == 0


def test_a_request_number_used_again_is_refused_by_its_rule(env: Any) -> None:  # noqa: F811
    """A new request under a number the hub holds for another request (a station put back from an
    older copy numbers again), or two new requests of one batch with one number: refused with the
    field and the rule (``unique_number``), not the database's raw ``UNIQUE constraint failed``."""
    from qi_station.core.ids import uuid7

    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    row = station_requests(a)[r["id"]]
    row.pop("seq")
    acked = hub.station_by_token(secrets.load(a)["api_token"])["acked_oseq"]
    again = {**row, "id": uuid7(), "s_rev": 1, "h_rev": 0}
    resp = push(tc, a, [{"oseq": acked + 1, "table": "request", "row": again}])
    assert resp.status_code == 422, resp.text
    d = resp.json()
    assert (d["oseq"], d["table"], d["field"], d["rule"]) == (acked + 1, "request", "number", "unique_number")
    assert "UNIQUE" not in resp.text and "duplicate key" not in resp.text
    assert again["id"] not in hub_requests(hub)
    # two new requests of one batch under one number (not yet at the hub)
    fresh = {**again, "number": row["number"][:-4] + "9999"}
    twin = {**fresh, "id": uuid7()}
    resp = push(
        tc,
        a,
        [
            {"oseq": acked + 1, "table": "request", "row": fresh},
            {"oseq": acked + 2, "table": "request", "row": twin},
        ],
    )
    assert (resp.status_code, resp.json()["rule"], resp.json()["oseq"]) == (422, "unique_number", acked + 2)
    assert fresh["id"] not in hub_requests(hub)  # nothing of the batch was written
    # a request first queued under a held number and renumbered in the same batch (the heal's
    # renumbering with an older outbox row still pending): what the hub would hold is judged, accepted
    moved = {**again, "s_rev": 2, "number": row["number"][:-4] + "9998"}
    resp = push(
        tc,
        a,
        [
            {"oseq": acked + 1, "table": "request", "row": again},
            {"oseq": acked + 2, "table": "request", "row": moved},
        ],
    )
    assert resp.status_code == 200, resp.text
    got = hub_requests(hub)
    assert (got[again["id"]]["number"], got[r["id"]]["number"]) == (moved["number"], row["number"])


# ---- the front door: body limits, token before body, access log ------------------------------------
def _asgi(
    app: Any, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, dict[str, str], int]:
    """Call the ASGI app directly; returns (status, reply headers, body chunks the app read)."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read >= len(chunks):
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, read


def test_body_limits_and_token_before_the_body(env: Any, caplog: Any) -> None:  # noqa: F811
    from qi_station.sync.hub.guard import MAX_PUSH_BODY, MAX_SMALL_BODY

    hub, tc, dbs = env
    app = tc.app
    a = dbs["ZB01"]
    caplog.set_level(logging.INFO, logger="qi_station.hub.access")
    huge = {"content-length": str(300 * 1024 * 1024), "content-type": "application/json"}
    # no token, a huge body: refused, not one chunk read
    status, _h, read = _asgi(app, "/sync/v1/push", {**HDR, **huge}, [b"x" * 1024] * 4)
    assert status in (401, 413) and read == 0
    # no token, a streamed body (no Content-Length): 401 before a byte is read
    status, _h, read = _asgi(app, "/sync/v1/push", HDR, [b"x" * 1024 * 1024] * 4)
    assert (status, read) == (401, 0)
    # a token, a declared size over the limit: 413 unread
    status, _h, read = _asgi(app, "/sync/v1/push", {**auth(a), **huge}, [b"x" * 1024] * 4)
    assert (status, read) == (413, 0)
    # no Content-Length (streamed): counted, refused once it passes the limit
    chunk = b"x" * (1024 * 1024)
    n = MAX_PUSH_BODY // len(chunk) + 3
    status, _h, read = _asgi(app, "/sync/v1/push", auth(a), [chunk] * (n + 20))
    assert status == 413 and read <= n
    # enrollment carries its token in the body: a small limit
    status, _h, read = _asgi(
        app, "/sync/v1/enroll", {**HDR, "content-length": str(MAX_SMALL_BODY + 1)}, [b"{}"]
    )
    assert (status, read) == (413, 0)
    resp = tc.post("/sync/v1/enroll", headers=HDR, content=b"{" + b" " * (MAX_SMALL_BODY + 10) + b"}")
    assert resp.status_code == 413
    # every call leaves one JSON line: refused ones too; never a token
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "qi_station.hub.access"]
    assert [x["status"] for x in lines[-6:]][1:] == [401, 413, 413, 413, 413]
    assert {"time", "station", "endpoint", "status", "ms", "bytes_in"} <= set(lines[-4])
    assert lines[-4]["station"] == "ZB01" and lines[-4]["endpoint"] == "/sync/v1/push"
    token = secrets.load(a)["api_token"]
    assert all(token not in r.getMessage() for r in caplog.records)


def test_access_log_counts_a_push(env: Any, caplog: Any) -> None:  # noqa: F811
    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    caplog.set_level(logging.INFO, logger="qi_station.hub.access")
    sync(a, tc)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "qi_station.hub.access"]
    pushes = [x for x in lines if x["endpoint"] == "/sync/v1/push"]
    assert pushes and pushes[0]["status"] == 200 and pushes[0]["changes"] == pushes[0]["applied"] >= 3
    assert all(x["station"] == "ZB01" for x in lines)
    assert "标准咨询" not in caplog.text  # never a row


# ---- a busy hub ------------------------------------------------------------------------------------
def test_sqlite_reads_do_not_take_the_write_lock_and_a_busy_writer_answers_503(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import sqlalchemy as sa
    from fastapi.testclient import TestClient
    from test_sync_util import enroll_station

    import qi_station.db.engine as E
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub

    monkeypatch.setattr(E, "BUSY_TIMEOUT_MS", 200)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = Hub(url)
    hub.init(demo=False)
    tc = TestClient(create_app(url))
    a = tmp_path / "ZB01.db"
    enroll_station(a, hub, tc, "ZB01")
    ledger.create_request(a, request_input(1, 1))
    hub.dispose()  # new connections get the short busy timeout
    locker = sqlite3.connect(tmp_path / "hub.db", isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    try:
        with hub.engine.connect() as c:  # a plain read goes on
            assert c.execute(sa.text("SELECT count(*) FROM hub_station")).scalar() == 1
        # a signed pull keeps its nonce first (a replay is refused), in the hub's nonce file: it does
        # not wait on the write lock a push holds (registry.use_nonce), so it answers
        call = signed_call(a, "GET", "/sync/v1/pull")
        pull = tc.get(call["url"], headers={**auth(a), **call["headers"]})
        assert pull.status_code == 200, pull.text
        again = tc.get(call["url"], headers={**auth(a), **call["headers"]})
        assert (again.status_code, again.json()["error"]) == (403, "replayed_call"), again.text
        resp = push(tc, a, outbox_batch(a))
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "1", resp.text
        assert resp.json()["error"] == "busy"
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert push(tc, a, outbox_batch(a)).status_code == 200
    call = signed_call(a, "GET", "/sync/v1/pull")
    assert tc.get(call["url"], headers={**auth(a), **call["headers"]}).status_code == 200
    tc.close()
    hub.dispose()


def test_the_station_waits_the_advised_retry_after(env: Any) -> None:  # noqa: F811
    import httpx

    from qi_station.sync.station import client as C

    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))

    class Busy:
        """The hub, busy for its first two calls (Retry-After 7, then an absurd 3600: capped)."""

        def __init__(self) -> None:
            self.n = 0

        def request(self, method: str, path: str, **kw: Any) -> Any:
            self.n += 1
            if self.n <= 2:
                after = "7" if self.n == 1 else "3600"
                return httpx.Response(503, headers={"Retry-After": after}, json={"error": "busy"})
            return tc.request(method, path, **kw)

        def close(self) -> None:
            pass

    waits: list[float] = []
    res = C.run_sync(a, http=Busy(), sleep=waits.append)
    assert res["pending"] == 0
    assert waits == [7.0, 30.0]


def test_a_busy_hub_does_not_use_up_the_retries(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """A morning rush: the hub answers "busy, retry after 2 s" more times than the station retries
    network trouble. The sync keeps coming back (it finishes, nothing lost) until its busy budget
    (QI_SYNC_BUSY_MAX) is spent; a hub that never says when to come back still gets ``retries``."""
    import httpx

    from qi_station.sync.proto import SyncError
    from qi_station.sync.station import client as C

    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))

    class Busy:
        def __init__(self, n: int, after: str | None) -> None:
            self.n, self.left, self.after = 0, n, after

        def request(self, method: str, path: str, **kw: Any) -> Any:
            if self.left > 0:
                self.left -= 1
                headers = {"Retry-After": self.after} if self.after else {}
                return httpx.Response(503, headers=headers, json={"error": "busy"})
            return tc.request(method, path, **kw)

        def close(self) -> None:
            pass

    waits: list[float] = []
    res = C.run_sync(a, http=Busy(12, "2"), retries=5, sleep=waits.append)
    assert res["pending"] == 0 and res["retries"] == 0 and res["busy_waited_s"] == 24.0
    assert waits == [2.0] * 12 and r["id"] in hub_requests(hub)
    ledger.move_request(a, r["id"], "accepted")
    monkeypatch.setenv("QI_SYNC_BUSY_MAX", "5")  # the budget: two waits, then the retries, then give up
    waits.clear()
    with pytest.raises(SyncError, match="gave up after 5 retries"):
        C.run_sync(a, http=Busy(100, "2"), retries=5, sleep=waits.append)
    assert waits == [2.0] * 7  # 2 busy waits within the budget, then 5 counted retries
    waits.clear()
    with pytest.raises(SyncError, match="gave up after 3 retries"):  # no Retry-After: backoff, counted
        C.run_sync(a, http=Busy(100, None), retries=3, sleep=waits.append)
    assert len(waits) == 3
    assert C.run_sync(a, http=tc, sleep=waits.append)["pending"] == 0  # nothing was lost meanwhile


def test_hub_report_survives_a_damaged_stored_row(env: Any, tmp_path: Path) -> None:  # noqa: F811
    import sqlalchemy as sa

    from qi_station.core.months import month_of
    from qi_station.reports.figures import monthly_report
    from qi_station.reports.writers import render_json, render_markdown, write_report

    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    with hub.engine.begin() as c:  # stored before the hub checked rows (or by hand): not JSON
        c.execute(sa.text("UPDATE request SET elements = 'not json' WHERE id = :i"), {"i": r["id"]})
    from qi_station.core.clock import from_db, local_date

    rec = from_db(hub_requests(hub)[r["id"]]["received_at"])
    assert rec is not None
    rep = monthly_report(hub.url, month_of(local_date(rec)), hub=True)
    assert rep["details"] and rep["details"][0]["elements"] == []  # skipped, not a crash
    render_json(rep)
    render_markdown(rep)
    for fmt in ("csv", "xlsx"):
        write_report(rep, fmt, tmp_path / f"r.{fmt}")


def test_a_bundled_bad_row_is_refused_like_a_pushed_one(env: Any, tmp_path: Path) -> None:  # noqa: F811
    from qi_station.sync.proto import SyncError

    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    conn = sqlite3.connect(a)
    good = conn.execute("SELECT oseq, row_json FROM outbox WHERE table_name = 'request'").fetchone()
    bad = json.loads(good[1])
    bad["status"] = "hacked"
    conn.execute("UPDATE outbox SET row_json = ? WHERE oseq = ?", (json.dumps(bad), good[0]))
    conn.commit()
    up = tmp_path / "up.zip"
    B.export_bundle(a, up)  # signed by the station itself: only the hub's rules stand in the way
    with pytest.raises(SyncError) as ei:
        hub.import_bundle(up)
    assert ei.value.status == 422
    assert (ei.value.data["oseq"], ei.value.data["field"], ei.value.data["rule"]) == (
        good[0],
        "status",
        "choice",
    )
    assert hub_requests(hub) == {}
    conn.execute("UPDATE outbox SET row_json = ? WHERE oseq = ?", (good[1], good[0]))
    conn.commit()
    conn.close()
    B.export_bundle(a, up, force=True)  # replaces the refused bundle
    assert hub.import_bundle(up)["status"] == "imported"
    assert hub_requests(hub)[r["id"]]["status"] == "new"


def test_a_rename_travels_to_the_hub(env: Any) -> None:  # noqa: F811
    """A rename confirmed at the station (issue 9 item 7) reaches the hub: the new name and the old
    one in ``former_names``, checked by the hub's rules."""
    import sqlalchemy as sa

    from qi_station.sync.hub.tables import core_table

    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    renamed = request_input(2, 1)
    renamed.enterprise, renamed.renamed = "测试企业改名后", True
    ledger.create_request(a, renamed)
    assert sync(a, tc)["pending"] == 0
    t = core_table("enterprise")
    with hub.engine.connect() as c:
        got = c.execute(sa.select(t.c.name, t.c.former_names).where(t.c.station_code == "ZB01")).one()
    assert got[0] == "测试企业改名后"
    assert [n["name"] for n in json.loads(got[1])] == ["测试企业1"]


def test_an_old_stations_line_separators_are_stored_as_newlines(env: Any) -> None:  # noqa: F811
    """A station from before the text rule took U+2028 / U+2029 / CRLF as they came; the hub stores a
    multi-line text in the core's form (``core.validate.clean_text``: a newline), as a station stores it
    now. What the ledger's chain covers stays as sent, so ``hub verify`` still verifies."""
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    batch, _oseq = tamper(outbox_batch(a), "request", description="第一行\u2028第二行\u2029第三行\r\n完")
    resp = push(tc, a, batch)
    assert resp.status_code == 200, resp.text
    assert hub_requests(hub)[r["id"]]["description"] == "第一行\n第二行\n第三行\n完"
    assert hub.verify()["ok"]


def test_evidence_text_is_checked_but_kept_as_sent() -> None:
    """An event's note is hashed into its chain; a request's result and follow-up note are the fold of
    its events: checked by the core's rule, kept byte-exact (a newline form would break the chain)."""
    from qi_station.sync.hub import rules
    from qi_station.sync.proto import SyncError

    event = {"request_id": "r1", "n": 1, "actor": "张三", "kind": "note", "to_status": "new",
             "note": "一\u2028二", "data": "{}"}  # fmt: skip
    rules.check_row(1, "request_event", event, "ZB01")
    assert event["note"] == "一\u2028二"
    with pytest.raises(SyncError) as e:  # a one-line text with a line break is refused, naming the field
        rules.check_row(2, "request_event", {**event, "actor": "张\u2028三"}, "ZB01")
    assert (e.value.data["field"], e.value.data["rule"]) == ("actor", "control_char")
