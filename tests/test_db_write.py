"""db/write.py: the one write module, on a sqlite3 or a SQLAlchemy connection alike."""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from qi_station.core.chain import EVENT_FIELDS, GENESIS, canonical, event_hash, verify_chain
from qi_station.core.errors import QIError
from qi_station.db import write
from qi_station.db.engine import connect
from qi_station.db.searchtext import haystack

USCC = "91350100M000100Y43"
T0 = "2026-03-02 01:00:00.000000"


def _seed(conn: Any) -> None:
    """One enterprise and one request, written through db.write."""
    write.insert_row(
        conn,
        "enterprise",
        {
            "id": "e1",
            "name": "福州测试企业",
            "uscc": USCC,
            "region_code": "350100",
            "name_py": "",
            "name_initials": "",
            "haystack": "",
            "elements": "[]",
            "s_rev": 1,
            "seq": 0,
            "deleted": 0,
            "created_at": T0,
            "updated_at": T0,
        },
    )
    write.insert_row(
        conn,
        "request",
        {
            "id": "r1",
            "number": "QI0001-202603-0001",
            "station_code": "QI0001",
            "enterprise_id": "e1",
            "elements": '["metrology"]',
            "title": "检定",
            "channel": "walk_in",
            "urgency": "normal",
            "received_at": T0,
            "promised_date": "2026-03-12",
            "status": "new",
            "s_rev": 1,
            "h_rev": 0,
            "seq": 0,
            "deleted": 0,
            "created_at": T0,
            "updated_at": T0,
        },
    )


@contextmanager
def sqlite_tx(path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("COMMIT")
    finally:
        conn.close()


@contextmanager
def sqlalchemy_tx(path: Path) -> Iterator[Any]:
    from qi_station.db.session import engine_for

    with engine_for(path).begin() as conn:
        yield conn


EVENTS = [
    dict(at=T0, actor="王晓燕", kind="created", to_status="new", data={"title": "检定"}),
    dict(
        at="2026-03-02 02:00:00.000000",
        actor="王晓燕",
        kind="status",
        from_status="new",
        to_status="accepted",
        note='引号"和\\反斜杠\n换行',
        data={"z": [1, "é", None], "a": True},
    ),
    dict(at="2026-03-02 03:00:00.000000", actor="hub", kind="hub", data='{"h_rev":1}'),
]


def _chain_via(tx: Any, path: Path) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    with tx(path) as conn:
        _seed(conn)
        for ev in EVENTS:
            write.append_event(conn, "r1", "QI0001", **ev)
    c = sqlite3.connect(path)
    c.row_factory = sqlite3.Row
    evs = [dict(r) for r in c.execute("SELECT * FROM request_event ORDER BY n")]
    out = [tuple(r) for r in c.execute("SELECT table_name, row_id, op, row_json FROM outbox ORDER BY oseq")]
    c.close()
    return evs, out


def test_same_event_same_hash_on_sqlite3_and_sqlalchemy(db: Path, tmp_path: Path) -> None:
    from qi_station.db.engine import open_db

    other = open_db(tmp_path / "other.db")
    a_evs, a_out = _chain_via(sqlite_tx, db)
    b_evs, b_out = _chain_via(sqlalchemy_tx, other)
    strip = ("id",)
    assert [{k: v for k, v in e.items() if k not in strip} for e in a_evs] == [
        {k: v for k, v in e.items() if k not in strip} for e in b_evs
    ]
    assert [e["n"] for e in a_evs] == [1, 2, 3]
    assert a_evs[0]["prev_hash"] == GENESIS and a_evs[1]["prev_hash"] == a_evs[0]["hash"]
    assert verify_chain(a_evs) == (True, None) and verify_chain(b_evs) == (True, None)
    # the outbox carries each event row whole, in the same canonical form on both connections
    assert [o[:3] for o in a_out] == [("request_event", e["id"], "insert") for e in a_evs]
    for o, e in zip(a_out, a_evs, strict=True):
        assert json.loads(o[3]) == e and o[3] == canonical(e)
    assert [json.loads(o[3])["hash"] for o in b_out] == [e["hash"] for e in a_evs]


def test_event_hash_is_sha256_of_canonical_fields() -> None:
    rng = random.Random(5)
    pool: list[Any] = [None, "", "张三", 'q"\\', "\n\u2028", "2026-01-01 00:00:00.000000", 0, 7, 12345]
    for _ in range(300):
        fields = {k: rng.choice(pool) for k in EVENT_FIELDS}
        if rng.random() < 0.3:
            fields["data"] = {"b": [rng.choice(pool)], "a": {"x": rng.choice(pool)}}
        prev = hashlib.sha256(str(rng.random()).encode()).hexdigest()
        want = hashlib.sha256(
            (prev + json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))).encode()
        ).hexdigest()
        assert event_hash(prev, fields) == want
    with pytest.raises(ValueError):
        event_hash(GENESIS, {**fields, "extra": 1})


def test_keep_order_never_dates_an_event_before_the_last(db: Path) -> None:
    with sqlite_tx(db) as conn:
        _seed(conn)
        write.append_event(conn, "r1", "QI0001", at="2026-03-05 00:00:00.000000", actor="a", kind="note")
        ev = write.append_event(
            conn, "r1", "QI0001", at="2026-03-01 00:00:00.000000", actor="hub", kind="hub", keep_order=True
        )
    assert ev["at"] == "2026-03-05 00:00:00.000000" and ev["n"] == 2


def test_ledger_numbers_never_repeat(db: Path) -> None:
    got: list[str] = []
    for i in range(6):  # alternate the two kinds of connection
        tx = sqlite_tx if i % 2 else sqlalchemy_tx
        with tx(db) as conn:
            got.append(write.next_ledger_no(conn, "QI0001", "202603"))
    assert got == [f"QI0001-202603-{i:04d}" for i in range(1, 7)]
    # a counter is never lowered, and numbers already in the ledger are respected
    with sqlite_tx(db) as conn:
        write.set_ledger_counters(conn, {"QI0001-202603": 2})
        _seed(conn)
        conn.execute("UPDATE request SET number = 'QI0001-202604-0042'")
        conn.execute("DELETE FROM kv WHERE k LIKE 'ledger_seq:%'")
        assert write.ledger_counters(conn, "QI0001") == {"QI0001-202604": 42}
        write.set_ledger_counters(conn, write.ledger_counters(conn, "QI0001"))
        assert write.next_ledger_no(conn, "QI0001", "202604") == "QI0001-202604-0043"


def test_ledger_numbers_unique_under_concurrent_writers(db: Path) -> None:
    got: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(40):
            conn = connect(db)
            try:
                conn.execute("BEGIN IMMEDIATE")
                n = write.next_ledger_no(conn, "QI0001", "202603")
                conn.execute("COMMIT")
            finally:
                conn.close()
            with lock:
                got.append(n)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [f"QI0001-202603-{i:04d}" for i in range(1, 121)]


def test_upsert_enterprise_identity_search_text_and_outbox(db: Path) -> None:
    data = {
        "name": "济南测试机械有限公司",
        "uscc": USCC,
        "region_code": "370100",
        "city_code": "370100",
        "industry": "机械",
        "scale": None,
        "contact_name": None,
        "phone_e164": None,
        "phone_display": None,
    }
    with sqlalchemy_tx(db) as conn:
        a = write.upsert_enterprise(conn, data, "QI0001")
    with sqlite_tx(db) as conn:
        same = write.upsert_enterprise(conn, data, "QI0001")  # nothing new: no write
        b = write.upsert_enterprise(conn, {**data, "contact_name": "李四"}, "QI0001")
    assert a["id"] == same["id"] == b["id"] and b["s_rev"] == 2 and b["contact_name"] == "李四"
    assert a["name_py"] == "jinanceshijixieyouxiangongsi" and a["name_initials"].startswith("jncs")
    assert (
        a["haystack"] == haystack("enterprise", data) == "济南测试机械有限公司 91350100m000100y43 机械 济南市"
    )
    c = sqlite3.connect(db)
    rows = c.execute("SELECT table_name, row_id, row_json FROM outbox ORDER BY oseq").fetchall()
    assert [(t, i) for t, i, _ in rows] == [("enterprise", a["id"])] * 2
    assert json.loads(rows[1][2])["contact_name"] == "李四"
    assert c.execute("SELECT count(*) FROM enterprise").fetchone()[0] == 1


def test_library_rows_get_the_one_search_text_and_rev_guard(db: Path) -> None:
    cols = ("id", "name", "name_py", "name_initials", "haystack", "haystack_py", "city_code", "elements")
    cols += ("rev", "seq", "deleted", "updated_at", "specialty", "employer", "title", "active_requests")
    row = {
        "id": "x1",
        "name": "单丽",
        "city_code": "371700",
        "elements": ["metrology"],
        "rev": 2,
        "seq": 0,
        "deleted": 0,
        "updated_at": T0,
        "specialty": "长度计量",
        "employer": None,
        "title": "高级工程师",
        "active_requests": 0,
    }
    with sqlite_tx(db) as conn:
        write.upsert_library_rows(conn, "expert", [row], cols, guard="excluded.rev > expert.rev")
    with sqlalchemy_tx(db) as conn:  # an older rev does not overwrite
        write.upsert_library_rows(
            conn, "expert", [{**row, "rev": 1, "name": "旧名"}], cols, guard="excluded.rev > expert.rev"
        )
    c = sqlite3.connect(db)
    got = c.execute(
        "SELECT name, name_py, name_initials, haystack, haystack_py, elements FROM expert"
    ).fetchall()
    assert got == [
        (
            "单丽",
            "shanli",
            "sl",
            "单丽 长度计量 高级工程师 菏泽市",
            "danli dl changdujiliang cdjl",
            '["metrology"]',
        )
    ]


def test_refused_input_writes_nothing(db: Path) -> None:
    from qi_station.services import ledger

    def counts() -> dict[str, int]:
        c = sqlite3.connect(db)
        try:
            return {
                t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("request", "request_event", "outbox", "enterprise", "referral", "kv")
            }
        finally:
            c.close()

    before = counts()
    with pytest.raises(QIError):
        ledger.create_request(
            db, ledger.RequestInput(enterprise="企业", uscc="91350100M000100Y44", elements="计量", title="t")
        )
    assert counts() == before
    r = ledger.create_request(
        db, ledger.RequestInput(enterprise="企业", uscc=USCC, elements="计量", title="t", operator="王")
    )
    before = counts()
    for bad in (
        dict(to_status="closed"),  # illegal move
        dict(to_status="resolved"),  # not accepted yet, and no result
        dict(to_status="accepted", at="2000-01-01T00:00:00"),  # before the request was received
        dict(to_status="accepted", result="x"),  # outcome only on resolve
    ):
        with pytest.raises(QIError):
            ledger.move_request(db, r["number"], **bad)  # type: ignore[arg-type]
        assert counts() == before, bad
    with pytest.raises(QIError):
        ledger.refer_request(db, r["number"], "expert", "no-such-expert")
    assert counts() == before
