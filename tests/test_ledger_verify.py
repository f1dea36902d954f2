"""The ledger check (``ledger verify`` / ``hub verify``) and the hub's guard of acknowledged history,
tried the way a dishonest user with the station PC would: edits behind the ledger's back, with the
append-only triggers dropped and the hashes recomputed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_sync_util import enroll_station, request_input

from qi_station.core.chain import GENESIS, event_fields, event_hash
from qi_station.services import ledger
from qi_station.services.verify import verify_ledger
from qi_station.sync.proto import SyncError
from qi_station.sync.station import client as C
from qi_station.sync.station import heads as H


def _life(db: Path) -> dict[str, Any]:
    """A request taken through its whole life (reopened once), with a note at the end."""
    r = ledger.create_request(db, request_input(1, 1))
    ledger.move_request(db, r["id"], "accepted")
    ledger.move_request(db, r["id"], "in_progress")
    ledger.move_request(db, r["id"], "resolved", result="已解决", problems_solved=2, cost_saved="12.5")
    ledger.move_request(db, r["id"], "in_progress", note="问题复现")
    ledger.move_request(db, r["id"], "resolved", result="再次解决", problems_solved=3, cost_saved="3.25")
    ledger.move_request(db, r["id"], "closed", satisfaction=5, note="企业满意")
    ledger.add_note(db, r["id"], "回访记录已归档")
    return r


def _tamper(db: Path, *sql: tuple[str, tuple[Any, ...]]) -> None:
    """Run SQL behind the ledger's back, the append-only triggers dropped first."""
    c = sqlite3.connect(db)
    try:
        c.execute("DROP TRIGGER IF EXISTS request_event_no_update")
        c.execute("DROP TRIGGER IF EXISTS request_event_no_delete")
        for q, p in sql:
            c.execute(q, p)
        c.commit()
    finally:
        c.close()


def _rehash(db: Path, request_id: str) -> None:
    """Recompute a request's whole chain after an edit (what a careful forger does)."""
    c = sqlite3.connect(db)
    c.row_factory = sqlite3.Row
    try:
        prev = GENESIS
        for e in c.execute(
            "SELECT * FROM request_event WHERE request_id = ? ORDER BY n", (request_id,)
        ).fetchall():
            h = event_hash(prev, event_fields(dict(e)))
            c.execute("UPDATE request_event SET prev_hash = ?, hash = ? WHERE id = ?", (prev, h, e["id"]))
            prev = h
        c.commit()
    finally:
        c.close()


def _reseal(db: Path, key: str = "event_head") -> None:
    """The forger also recomputes the station's running head (and, with key=acked_head, the acked one)."""
    from qi_station.db import write

    c = sqlite3.connect(db)
    try:
        with c:
            n, head = write.seal_event_head(c)
            if key != "event_head":
                write.set_event_head(c, n, head, key=key)
    finally:
        c.close()


def _problems(res: dict[str, Any]) -> str:
    return json.dumps(res, ensure_ascii=False)


def test_an_honest_ledger_is_intact(db: Path) -> None:
    _life(db)
    ledger.create_request(db, request_input(2, 2))
    res = verify_ledger(db)
    assert res["ok"], _problems(res)
    assert res["requests"] == 2 and res["events"] == 9


def test_a_generated_ledger_is_intact(tmp_path: Path) -> None:
    from qi_station.db.engine import open_db
    from qi_station.devtools.generate.run import generate

    db = open_db(tmp_path / "gen.db")
    generate(db, requests=400, library=60, seed=3)
    res = verify_ledger(db)
    assert res["ok"], _problems(res)
    assert res["requests"] == 400


def test_worker_processes_find_what_one_process_finds(tmp_path: Path) -> None:
    from qi_station.db.engine import open_db
    from qi_station.devtools.generate.run import generate

    db = open_db(tmp_path / "gen.db")
    generate(db, requests=300, library=60, seed=5)
    c = sqlite3.connect(db)
    try:
        with c:
            c.execute("UPDATE request SET cost_saved_cents = 99999900 WHERE rowid IN (7, 250)")
            bad = {r[0] for r in c.execute("SELECT number FROM request WHERE rowid IN (7, 250)")}
    finally:
        c.close()
    one, two = verify_ledger(db, workers=1), verify_ledger(db, workers=2)
    assert {p["number"] for p in one["problems"]} == bad
    assert {**one, "mark": None} == {**two, "mark": None}  # the watermarks differ in their time only
    assert one["mark"] == {**two["mark"], "full_at": one["mark"]["full_at"]}


def test_an_edited_outcome_field_is_caught(db: Path) -> None:
    r = _life(db)
    _tamper(db, ("UPDATE request SET cost_saved_cents = 99999900 WHERE id = ?", (r["id"],)))
    res = verify_ledger(db)
    assert not res["ok"]
    [p] = res["problems"]
    assert p["number"] == r["number"] and "cost_saved_cents" in p["problems"][0]


def test_a_deleted_last_event_is_caught(db: Path) -> None:
    r = _life(db)
    # the last event is a note: it changes no field, only the running head shows it is gone
    _tamper(db, ("DELETE FROM request_event WHERE request_id = ? AND n = 8", (r["id"],)))
    res = verify_ledger(db)
    assert not res["ok"] and "running head" in res["ledger"][0]
    # the last change too (the close): its row no longer matches and s_rev counts one event too many
    _tamper(db, ("DELETE FROM request_event WHERE request_id = ? AND n = 7", (r["id"],)))
    _reseal(db)
    res = verify_ledger(db)
    [p] = res["problems"]
    assert p["number"] == r["number"] and any("s_rev" in x for x in p["problems"])
    assert any(x.startswith("status") for x in p["problems"])


def test_a_rehashed_edit_is_caught(db: Path) -> None:
    r = _life(db)
    # the close's note is the follow-up note: an edit shows in the row (the fold) even when re-hashed
    _tamper(db, ("UPDATE request_event SET note = '企业不满意' WHERE request_id = ? AND n = 7", (r["id"],)))
    _rehash(db, r["id"])
    assert "followup_note" in verify_ledger(db)["problems"][0]["problems"][0]
    _tamper(db, ("UPDATE request_event SET note = '企业满意' WHERE request_id = ? AND n = 7", (r["id"],)))
    _rehash(db, r["id"])
    assert verify_ledger(db)["ok"]
    # a free-standing note changes no field
    _tamper(db, ("UPDATE request_event SET note = '删改' WHERE request_id = ? AND n = 8", (r["id"],)))
    res = verify_ledger(db)
    assert not res["ok"] and "hash chain broken at event 8" in res["problems"][0]["problems"][0]
    _rehash(db, r["id"])  # the chain is whole again ...
    res = verify_ledger(db)
    assert not res["ok"] and not res["problems"]  # ... but the running head is not
    assert "running head" in res["ledger"][0]
    # an outcome edited in event and row alike, chain re-hashed: the row matches, the head does not
    _tamper(
        db,
        ("UPDATE request_event SET data = '{\"satisfaction\":1}' WHERE request_id = ? AND n = 7", (r["id"],)),
        ("UPDATE request SET satisfaction = 1 WHERE id = ?", (r["id"],)),
    )
    _rehash(db, r["id"])
    assert not verify_ledger(db)["ok"]


def test_a_counter_behind_the_numbers_is_caught(db: Path) -> None:
    r = _life(db)
    prefix = r["number"][:-5]
    _tamper(db, ("UPDATE kv SET v = '0' WHERE k = ?", (f"ledger_seq:{prefix}",)))
    res = verify_ledger(db)
    assert not res["ok"] and prefix in res["ledger"][0]


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qi_station", "--db", str(db), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def test_ledger_verify_cli(db: Path) -> None:
    r = _life(db)
    p = _cli(db, "ledger", "verify")
    assert p.returncode == 0 and "台账完整" in p.stdout and "intact" not in p.stdout, p.stdout
    _tamper(db, ("UPDATE request SET cost_saved_cents = 99999900 WHERE id = ?", (r["id"],)))
    p = _cli(db, "ledger", "verify")
    assert p.returncode == 1 and r["number"] in p.stdout and "cost_saved_cents" in p.stdout
    # Chinese by default (the CLI's language), English when asked: never both halves on one line
    assert "字段 cost_saved_cents 为 99999900，台账记录为 325" in p.stdout, p.stdout
    assert "its events say" not in p.stdout and "台账异常" in p.stdout, p.stdout
    en = _cli(db, "--lang", "en", "ledger", "verify").stdout
    assert "cost_saved_cents is 99999900 but its events say 325" in en and "台账" not in en, en
    p = _cli(db, "ledger", "verify", "--json")
    out = json.loads(p.stdout)
    assert p.returncode == 1 and out["ok"] is False and out["problems"][0]["number"] == r["number"]
    # the result is kept for the dashboard
    from qi_station.services.verify import last_result

    got = last_result(db)
    assert got is not None and got["ok"] is False and got["problems"] == 1


def test_restore_checks_the_ledger(db: Path, tmp_path: Path) -> None:
    from qi_station.services.backup import backup_db, restore_db

    r = _life(db)
    _tamper(db, ("UPDATE request SET cost_saved_cents = 99999900 WHERE id = ?", (r["id"],)))
    backup_db(db, tmp_path / "b.db")
    _kept, check = restore_db(tmp_path / "b.db", db)
    assert check["ok"] is False and check["problems"][0]["number"] == r["number"]


# ---- the hub ------------------------------------------------------------------------------------
@pytest.fixture
def env(tmp_path: Path) -> Any:
    from fastapi.testclient import TestClient

    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = Hub(url)
    hub.init(demo=False)
    tc = TestClient(create_app(url))
    db = tmp_path / "ZB01.db"
    enroll_station(db, hub, tc, "ZB01")
    yield hub, tc, db
    tc.close()
    dispose_all()
    hub.dispose()


def _sync(db: Path, tc: Any) -> dict[str, Any]:
    return C.run_sync(db, http=tc, sleep=lambda s: None)


def test_sync_reports_the_check_and_the_hub_keeps_the_signed_head(env: Any) -> None:
    hub, tc, db = env
    _life(db)
    res = _sync(db, tc)
    assert res["ledger_ok"] is True
    out = hub.verify()
    assert out["ok"], _problems(out)
    [head] = out["heads"]
    assert head["station"] == "ZB01" and head["n"] == 8 and head["head"]
    assert hub.verify("QD99")["requests"] == 0


def test_hub_refuses_a_pushed_event_with_a_bad_hash(env: Any) -> None:
    hub, tc, db = env
    r = ledger.create_request(db, request_input(1, 1))
    _tamper(
        db, ('UPDATE outbox SET row_json = replace(row_json, \'"kind":"created"\', \'"kind":"forged"\')', ())
    )
    with pytest.raises(SyncError) as e:
        _sync(db, tc)
    assert e.value.status == 422 and r["number"] in e.value.message
    assert hub.verify()["requests"] == 0  # nothing was written


def test_hub_refuses_history_rewritten_after_acknowledgement(env: Any) -> None:
    hub, tc, db = env
    r = _life(db)
    _sync(db, tc)
    # rewrite an acknowledged event, re-hash the chain, seal both heads again: the station alone
    # can no longer tell (docs/sync.md) ...
    _tamper(db, ("UPDATE request_event SET note = '改写' WHERE request_id = ? AND n = 8", (r["id"],)))
    _rehash(db, r["id"])
    _reseal(db)
    _reseal(db, "acked_head")
    assert verify_ledger(db)["ok"]
    # ... but the hub holds what it acknowledged: the next change of that request does not follow it
    ledger.add_note(db, r["id"], "再次回访")
    with pytest.raises(SyncError) as e:
        _sync(db, tc)
    assert e.value.status == 409 and e.value.code == "history_differs" and r["number"] in e.value.message
    # and sending the rewritten event itself (in the pending event's place) is refused too
    from qi_station.core.chain import canonical
    from qi_station.db import write

    c = sqlite3.connect(db)
    try:
        cols = ", ".join(write.EVENT_COLUMNS)
        got = c.execute(
            f"SELECT {cols} FROM request_event WHERE request_id = ? AND n = 8", (r["id"],)
        ).fetchone()
        ev = dict(zip(write.EVENT_COLUMNS, got, strict=True))
        with c:
            c.execute(
                "UPDATE outbox SET row_id = ?, row_json = ? WHERE table_name = 'request_event'",
                (ev["id"], canonical(ev)),
            )
    finally:
        c.close()
    with pytest.raises(SyncError) as e:
        _sync(db, tc)
    assert e.value.code == "history_differs" and "event 8" in e.value.message
    assert hub.verify()["ok"]  # the hub's copy is the original


def test_hub_refuses_a_head_that_goes_back(env: Any) -> None:
    hub, tc, db = env
    _life(db)
    _sync(db, tc)
    ledger.create_request(db, request_input(2, 2))
    c = sqlite3.connect(db)
    try:
        head = H.signed_head(c)
        batch = C.S.next_batch(c, 100)
        from qi_station.core.chain import head_message
        from qi_station.sync import keys

        priv, _pub = C.S.signing_key(c)
        sign = H.call_signer(c)
    finally:
        c.close()
    cl = C.HubClient("http://testserver", _token(db), http=tc, signer=sign)
    back = {"n": 3, "head": head["head"], "sig": keys.sign(priv, head_message("ZB01", 3, head["head"]))}
    with pytest.raises(SyncError) as e:
        cl.push(batch, back)
    assert e.value.code == "history_differs"
    forged = {**head, "sig": keys.sign(priv, b"something else")}
    with pytest.raises(SyncError) as e:
        cl.push(batch, forged)
    assert e.value.status == 403
    assert cl.push(batch, head)["applied"] == len(batch)


def _token(db: Path) -> str:
    c = sqlite3.connect(db)
    try:
        return str(C.S.api_token(c))
    finally:
        c.close()


def test_hub_verify_cli_catches_an_edited_hub_row(env: Any, tmp_path: Path) -> None:
    hub, tc, db = env
    r = _life(db)
    _sync(db, tc)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    p = _cli(db, "hub", "verify", "--database-url", url)
    assert p.returncode == 0, p.stdout + p.stderr
    c = sqlite3.connect(tmp_path / "hub.db")
    try:
        with c:
            c.execute("UPDATE request SET cost_saved_cents = 99999900 WHERE id = ?", (r["id"],))
    finally:
        c.close()
    p = _cli(db, "hub", "verify", "--station", "ZB01", "--json", "--database-url", url)
    out = json.loads(p.stdout)
    assert p.returncode == 1 and out["problems"][0]["number"] == r["number"]
    # the problem lines in the CLI's language: Chinese by default (the province's staff read it) ...
    p = _cli(db, "hub", "verify", "--database-url", url)
    line = f"{r['number']}: 字段 cost_saved_cents 为 99999900，台账记录为 325"
    assert p.returncode == 1 and p.stdout.splitlines()[0] == line, p.stdout
    assert not any(c in p.stdout for c in ("its events say", "checked", " / ")), p.stdout
    # ... English when asked
    en = _cli(db, "--lang", "en", "hub", "verify", "--database-url", url).stdout.splitlines()
    assert en[0] == f"{r['number']}: cost_saved_cents is 99999900 but its events say 325", en
    assert en[-1].endswith("checked: NOT INTACT"), en


def test_hub_decisions_fold_on_both_sides(env: Any) -> None:
    hub, tc, db = env
    r = ledger.create_request(db, request_input(3, 3))
    _sync(db, tc)
    hub.assign(r["id"], note="省局关注", priority="high", status="accepted")
    # the hub's row is ahead of the events it holds until the station echoes the decision
    out = hub.verify()
    assert out["ok"], _problems(out)
    res = _sync(db, tc)
    assert res["ledger_ok"] is True
    assert verify_ledger(db)["ok"]
    out = hub.verify("ZB01")
    assert out["ok"], _problems(out)
    assert out["requests"] == 1 and out["events"] == 2
