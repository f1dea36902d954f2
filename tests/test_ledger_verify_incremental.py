"""The ledger check after a sync starts from the last intact check's watermark (kv ``verify_mark``):
it checks the chains of the requests with newer events, the running head over the newer events and the
counters, and falls back to the full check when the watermark is missing, unfit or its full check is
older than ``FULL_CHECK_DAYS``. ``ledger verify`` stays full (docs/sync.md, post-sync check)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ledger_verify import _life, _rehash, _reseal, _tamper
from test_sync_util import request_input

from qi_station.db import kvkeys
from qi_station.services import ledger
from qi_station.services.verify import FULL_CHECK_DAYS, record_result, verify_conn, verify_ledger
from qi_station.sync.station import heads as H


def _after_sync(db: Path, *, record: bool = True) -> dict[str, Any]:
    """What ``check_ledger`` runs after a sync (the incremental check), its result kept."""
    c = sqlite3.connect(db)
    try:
        res = verify_conn(c, incremental=True)
        if record:
            record_result(c, res)
        return res
    finally:
        c.close()


def _kv(db: Path, k: str) -> str | None:
    c = sqlite3.connect(db)
    try:
        r = c.execute("SELECT v FROM kv WHERE k = ?", (k,)).fetchone()
        return None if r is None else str(r[0])
    finally:
        c.close()


def test_no_watermark_means_a_full_check_then_incremental(db: Path) -> None:
    _life(db)
    res = _after_sync(db)
    assert res["ok"] and res["full"] and res["requests"] == 1
    assert _kv(db, kvkeys.VERIFY_MARK) is not None
    ledger.create_request(db, request_input(2, 2))
    res = _after_sync(db)
    assert res["ok"] and not res["full"] and res["requests"] == 1 and res["events"] == 9
    last = json.loads(_kv(db, kvkeys.VERIFY_LAST) or "{}")
    assert last["full"] is False and last["full_at"]  # the dashboard can say when the full check ran
    # nothing new: nothing to check but the head and the counters
    res = _after_sync(db)
    assert res["ok"] and not res["full"] and res["requests"] == 0


def test_a_tampered_new_event_is_caught(db: Path) -> None:
    verify_ledger(db)
    r = _life(db)
    _tamper(db, ("UPDATE request_event SET note = '删改' WHERE request_id = ? AND n = 8", (r["id"],)))
    res = _after_sync(db)
    assert not res["ok"] and not res["full"]
    assert "hash chain broken at event 8" in res["problems"][0]["problems"][0]
    assert _kv(db, kvkeys.VERIFY_MARK) is None  # not intact: the next check is a full one
    assert _after_sync(db)["full"]


def test_a_broken_link_in_a_touched_chain_is_caught(db: Path) -> None:
    r = _life(db)
    assert verify_ledger(db)["ok"]
    # an old event edited and re-hashed, then the request gains an event: its whole chain is checked
    _tamper(db, ("UPDATE request_event SET note = '删改' WHERE request_id = ? AND n = 2", (r["id"],)))
    ledger.add_note(db, r["id"], "新的备注")
    res = _after_sync(db)
    assert not res["ok"] and not res["full"]
    assert "hash chain broken at event 2" in res["problems"][0]["problems"][0]
    # the forger re-hashes the chain: the running head still differs from the watermark's fold
    _rehash(db, r["id"])
    res = _after_sync(db)
    assert not res["ok"] and res["full"] and "running head" in res["ledger"][0]


def test_a_counter_behind_is_caught(db: Path) -> None:
    r = _life(db)
    assert verify_ledger(db)["ok"]
    ledger.create_request(db, request_input(2, 2))
    prefix = r["number"][:-5]
    _tamper(db, ("UPDATE kv SET v = '1' WHERE k = ?", (f"ledger_seq:{prefix}",)))
    res = _after_sync(db)
    assert not res["ok"] and not res["full"] and prefix in res["ledger"][0]


def test_a_row_changed_without_an_event_is_caught_when_touched(db: Path) -> None:
    r = _life(db)
    assert verify_ledger(db)["ok"]
    _tamper(db, ("UPDATE request SET cost_saved_cents = 99999900 WHERE id = ?", (r["id"],)))
    c = sqlite3.connect(db)
    try:
        res = verify_conn(c, incremental=True, touched=[r["id"]])
    finally:
        c.close()
    assert not res["ok"] and not res["full"] and "cost_saved_cents" in res["problems"][0]["problems"][0]


def test_an_old_edit_waits_for_the_full_check(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The trade-off: an edit of an untouched old row between syncs (outside the app, triggers dropped)
    is not seen by the incremental check; ``ledger verify`` and the periodic full check see it."""
    monkeypatch.setenv("QI_STATION_NOW", "2026-11-30T12:00:00Z")
    r = _life(db)
    assert _after_sync(db)["full"]
    _tamper(db, ("UPDATE request SET cost_saved_cents = 99999900 WHERE id = ?", (r["id"],)))
    res = _after_sync(db)
    assert res["ok"] and not res["full"]
    assert not verify_ledger(db, record=False)["ok"]  # the explicit command is always full
    monkeypatch.setenv("QI_STATION_NOW", f"2026-12-{1 + FULL_CHECK_DAYS:02d}T13:00:00Z")  # stale
    res = _after_sync(db)
    assert not res["ok"] and res["full"]


def test_an_unfit_watermark_means_a_full_check(db: Path) -> None:
    r = _life(db)
    assert verify_ledger(db)["ok"]
    # the event the watermark ends at is rewritten (and everything resealed): the watermark is unfit
    _tamper(db, ("UPDATE request_event SET note = '删改' WHERE request_id = ? AND n = 8", (r["id"],)))
    _rehash(db, r["id"])
    _reseal(db)
    res = _after_sync(db)
    assert res["full"] and res["ok"]  # a consistent forgery of a note: only the hub's acked head shows it
    # garbage in the watermark: full
    _tamper(db, ("UPDATE kv SET v = '{\"rowid\": 1}' WHERE k = ?", (kvkeys.VERIFY_MARK,)))
    assert _after_sync(db)["full"]


def test_check_ledger_after_a_sync_is_incremental(db: Path) -> None:
    _life(db)
    c = sqlite3.connect(db)
    try:
        assert H.check_ledger(c) == (True, [])
        ledger.create_request(db, request_input(2, 2))
        assert H.check_ledger(c) == (True, [])
        assert json.loads(_kv(db, kvkeys.VERIFY_LAST) or "{}")["full"] is False
        assert H.check_ledger(c, full=True) == (True, [])
        assert json.loads(_kv(db, kvkeys.VERIFY_LAST) or "{}")["full"] is True
    finally:
        c.close()


_TAMPER = st.sampled_from(["none", "new_event_note", "new_row_field", "counter", "head", "delete_new"])


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    before=st.integers(1, 3),
    after=st.integers(0, 3),
    moves=st.lists(st.integers(0, 5), max_size=4),
    tamper=_TAMPER,
)
def test_incremental_equals_full_on_random_ledgers(
    tmp_path_factory: pytest.TempPathFactory, before: int, after: int, moves: list[int], tamper: str
) -> None:
    from qi_station.db.engine import open_db

    db = open_db(tmp_path_factory.mktemp("inc") / "s.db")
    ids = [ledger.create_request(db, request_input(i, i))["id"] for i in range(before)]
    assert verify_ledger(db)["ok"]
    ids += [ledger.create_request(db, request_input(10 + i, i))["id"] for i in range(after)]
    for m in moves:
        ledger.add_note(db, ids[m % len(ids)], f"备注{m}")
    c = sqlite3.connect(db)
    try:
        top = c.execute("SELECT max(rowid) FROM request_event").fetchone()[0]
        mark = json.loads(c.execute("SELECT v FROM kv WHERE k = ?", (kvkeys.VERIFY_MARK,)).fetchone()[0])
        newer = [
            r[0] for r in c.execute("SELECT request_id FROM request_event WHERE rowid > ?", (mark["rowid"],))
        ]
    finally:
        c.close()
    if newer and tamper == "new_event_note":
        _tamper(db, ("UPDATE request_event SET note = 'x' WHERE rowid = ?", (top,)))
    elif newer and tamper == "new_row_field":
        _tamper(db, ("UPDATE request SET problems_solved = 77 WHERE id = ?", (newer[-1],)))
    elif newer and tamper == "delete_new":
        _tamper(db, ("DELETE FROM request_event WHERE rowid = ?", (top,)))
    elif tamper == "counter":
        _tamper(db, ("UPDATE kv SET v = '0' WHERE k LIKE 'ledger_seq:%'", ()))
    elif tamper == "head":
        _tamper(db, ("UPDATE kv SET v = '1:' || substr(v, 3) WHERE k = 'event_head'", ()))
    inc = _after_sync(db, record=False)
    full = verify_ledger(db, record=False)
    assert inc["ok"] == full["ok"], (tamper, inc, full)
    assert {p["id"] for p in inc["problems"]} == {p["id"] for p in full["problems"]}
    assert inc["ledger"] == full["ledger"]
