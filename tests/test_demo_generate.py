"""Demo data (data/demo + qi_station.devtools.demo) and the synthetic generator (qi_station.devtools.generate)."""

from __future__ import annotations

import importlib.util
import sqlite3
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest

from qi_station.core import domain, places
from qi_station.core.chain import verify_chain
from qi_station.core.ids import uuid7
from qi_station.core.validate import uscc_warnings, validate_uscc
from qi_station.db.engine import connect, open_db
from qi_station.devtools.demo import load_demo
from qi_station.devtools.generate import run as g
from qi_station.devtools.generate.fields import fmt_ms
from qi_station.devtools.generate.vocab import IMPORT_NOTE
from qi_station.services import ledger
from qi_station.services.demo import read_demo

TODAY = date(2026, 6, 30)
GEN_NOW = datetime(2026, 6, 30, 8, 0)  # naive UTC = 16:00 Asia/Shanghai
REPO = Path(__file__).resolve().parent.parent


def _rows(conn: sqlite3.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sql, args)]


def _bad_chains(conn: sqlite3.Connection) -> list[str]:
    events = _rows(conn, "SELECT * FROM request_event ORDER BY request_id, n")
    bad = []
    for rid, evs in groupby(events, key=lambda e: e["request_id"]):
        ok, _ = verify_chain(list(evs))
        if not ok:
            bad.append(rid)
    return bad


def _dump(path: Path, tables: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    conn = connect(path, readonly=True)
    try:
        return {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1")] for t in tables}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    p = open_db(tmp_path_factory.mktemp("demo") / "station.db")
    res = load_demo(p, today=TODAY, id_seed="fixed")
    return p, res


@pytest.fixture(scope="module")
def gen_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    p = tmp_path_factory.mktemp("gen") / "station.db"
    res = g.generate(p, requests=2000, library=1000, seed=7, now=GEN_NOW)
    return p, res


# ---- demo -------------------------------------------------------------------------------------
def test_demo_counts_meet_minimums(demo_db: tuple[Path, dict[str, Any]]) -> None:
    p, res = demo_db
    assert res["skipped"] is False
    conn = connect(p)
    n = {
        t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("expert", "institution", "equipment", "project", "enterprise", "request")
    }
    assert n["expert"] >= 300 and n["institution"] >= 120 and n["equipment"] >= 200 and n["project"] >= 40
    assert n["enterprise"] >= 150 and n["request"] >= 400
    assert res["requests"] == n["request"] and res["experts"] == n["expert"]


def test_demo_requests_cover_twelve_months_and_every_status(demo_db: tuple[Path, dict[str, Any]]) -> None:
    p, _ = demo_db
    conn = connect(p)
    statuses = {r[0] for r in conn.execute("SELECT DISTINCT status FROM request")}
    assert statuses == set(domain.STATUSES)
    first, last = conn.execute("SELECT min(received_at), max(received_at) FROM request").fetchone()
    # the 12 months before TODAY's month: every demo request before 2026-06-01 00:00 Asia/Shanghai
    month_start = datetime(2026, 5, 31, 16, 0)  # (naive UTC)
    assert datetime.fromisoformat(last) < month_start
    assert datetime.fromisoformat(first) >= month_start - timedelta(days=370)
    months = {r[0] for r in conn.execute("SELECT DISTINCT substr(number, 8, 6) FROM request")}
    assert len(months) >= 12
    for r in _rows(conn, "SELECT * FROM request"):
        assert r["number"].startswith("QI0001-")
        assert (
            r["promised_date"] >= r["received_at"][:10]
            or r["promised_date"]
            >= (datetime.fromisoformat(r["received_at"]) + timedelta(hours=8)).date().isoformat()
        )
        if r["status"] in ("resolved", "closed"):
            assert r["result"] and r["resolved_at"] and r["problems_solved"] is not None
            assert r["cost_saved_cents"] is not None and r["cost_saved_cents"] >= 0
        if r["status"] == "closed":
            assert 1 <= r["satisfaction"] <= 5 and r["closed_at"] >= r["resolved_at"]
        else:
            assert r["satisfaction"] is None
        if r["status"] == "cancelled":
            assert r["cancelled_at"]
        if r["accepted_at"]:
            assert r["accepted_at"] >= r["received_at"]


def test_demo_has_overdue_and_referrals(demo_db: tuple[Path, dict[str, Any]]) -> None:
    p, res = demo_db
    conn = connect(p)
    assert res["overdue"] > 0
    refs = _rows(conn, "SELECT * FROM referral")
    assert refs
    for r in refs:
        row = conn.execute(f"SELECT name FROM {r['kind']} WHERE id = ?", (r["item_id"],)).fetchone()
        assert row is not None and row[0] == r["item_name"]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_demo_event_chains_verify_and_match_requests(demo_db: tuple[Path, dict[str, Any]]) -> None:
    p, _ = demo_db
    conn = connect(p)
    assert _bad_chains(conn) == []
    last = {
        r["request_id"]: r
        for r in _rows(
            conn,
            "SELECT e.* FROM request_event e JOIN (SELECT request_id, max(n) AS n FROM request_event "
            "GROUP BY request_id) m USING (request_id, n)",
        )
    }
    for r in _rows(conn, "SELECT id, status, s_rev, received_at FROM request"):
        ev = last[r["id"]]
        assert ev["to_status"] == r["status"]
        assert ev["n"] == r["s_rev"]
    first = _rows(
        conn,
        "SELECT e.at, r.received_at, e.kind FROM request_event e JOIN request r "
        "ON r.id = e.request_id WHERE e.n = 1",
    )
    assert all(f["kind"] == "created" and f["at"] == f["received_at"] for f in first)
    # events of one request never go back in time
    for _, evs in groupby(
        _rows(conn, "SELECT request_id, at FROM request_event ORDER BY request_id, n"),
        key=lambda e: e["request_id"],
    ):
        ats = [e["at"] for e in evs]
        assert ats == sorted(ats)


def test_demo_usccs_as_issued_including_laiwu(demo_db: tuple[Path, dict[str, Any]]) -> None:
    """Valid codes with the GB 32100 prefix of what they are (93 farmers' cooperatives, 81 a trade union,
    never N2 / Y1 for those), none the USCC check warns about; 莱芜 3712xx codes placed in 济南 today."""
    p, _ = demo_db
    conn = connect(p)
    rows = list(conn.execute("SELECT uscc, industry FROM enterprise"))
    codes = [r[0] for r in rows] + [r[0] for r in conn.execute("SELECT uscc FROM institution")]
    for c in codes:
        assert validate_uscc(c) == c
        assert uscc_warnings(c) == [], c
    assert len(set(codes)) == len(codes)
    coops = [u for u, ind in rows if ind == "农民专业合作社"]
    assert coops and all(u.startswith("93") for u in coops)
    unions = [u for u, ind in rows if ind == "工会"]
    assert unions and all(u.startswith("81") for u in unions)
    laiwu = list(conn.execute("SELECT city_code, county_code FROM enterprise WHERE region_code LIKE '3712%'"))
    assert len(laiwu) >= 2
    assert all(city == "370100" for city, _ in laiwu)
    assert {county for _, county in laiwu} <= {"370116", "370117", None}
    assert conn.execute("SELECT count(*) FROM enterprise WHERE city_code = '371200'").fetchone()[0] == 0


def test_demo_certificates_expiring_and_expired(demo_db: tuple[Path, dict[str, Any]]) -> None:
    p, _ = demo_db
    conn = connect(p)
    t, t90 = TODAY.isoformat(), (TODAY + timedelta(days=90)).isoformat()
    soon = conn.execute(
        "SELECT count(*) FROM institution WHERE (cma_expiry >= ? AND cma_expiry <= ?) "
        "OR (cnas_expiry >= ? AND cnas_expiry <= ?)",
        (t, t90, t, t90),
    ).fetchone()[0]
    expired = conn.execute(
        "SELECT count(*) FROM institution WHERE cma_expiry < ? OR cnas_expiry < ?", (t, t)
    ).fetchone()[0]
    assert soon >= 5 and expired >= 3


def test_demo_search_edge_cases_are_present(demo_db: tuple[Path, dict[str, Any]]) -> None:
    p, _ = demo_db
    conn = connect(p)

    def py(table: str, name_like: str) -> set[tuple[str, str]]:
        return {
            (r[0], r[1])
            for r in conn.execute(
                f"SELECT name_py, name_initials FROM {table} WHERE name LIKE ?", (name_like,)
            )
        }

    jn = {r[0] for r in conn.execute("SELECT name FROM institution WHERE name_initials LIKE 'jn%'")}
    assert any(n.startswith("济南") for n in jn) and any(n.startswith("济宁") for n in jn)
    assert all(a.startswith("shanxian") for a, _ in py("enterprise", "单县%")) and py("enterprise", "单县%")
    assert all(a.startswith("bixian") for a, _ in py("enterprise", "费县%")) and py("enterprise", "费县%")
    assert all(a.startswith("laoling") for a, _ in py("enterprise", "乐陵%")) and py("enterprise", "乐陵%")
    assert all("changqing" in a for a, _ in py("enterprise", "济南长清%")) and py("enterprise", "济南长清%")
    assert all(a.startswith("zeng") for a, _ in py("expert", "曾%")) and py("expert", "曾%")
    assert all(a.startswith("shan") for a, _ in py("expert", "单%")) and py("expert", "单%")
    hay = conn.execute("SELECT haystack FROM institution WHERE name = '济南泉正检验检测有限公司'").fetchone()[
        0
    ]
    assert hay == hay.lower() and "泉正检测" in hay


def test_demo_not_in_outbox_and_station_exists(demo_db: tuple[Path, dict[str, Any]]) -> None:
    p, _ = demo_db
    conn = connect(p)
    assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    assert conn.execute("SELECT code FROM station WHERE is_self = 1").fetchone()[0] == "QI0001"


def test_demo_is_idempotent(demo_db: tuple[Path, dict[str, Any]]) -> None:
    p, _ = demo_db
    before = _dump(p, ("request", "expert"))
    again = load_demo(p, today=TODAY)
    assert again["skipped"] is True
    assert _dump(p, ("request", "expert")) == before


def test_demo_is_deterministic(tmp_path: Path, demo_db: tuple[Path, dict[str, Any]]) -> None:
    p2 = open_db(tmp_path / "again.db")
    load_demo(p2, today=TODAY, id_seed="fixed")
    tables = ("request", "request_event", "referral", "expert", "institution", "enterprise")
    assert _dump(p2, tables) == _dump(demo_db[0], tables)
    # without a fixed id_seed each load draws enterprise ids of its own: two demo stations never
    # push the same enterprise id (the rest is the same)
    p4 = open_db(tmp_path / "own.db")
    load_demo(p4, today=TODAY)
    ids = {r[0] for r in sqlite3.connect(p4).execute("SELECT id FROM enterprise")}
    assert ids and not ids & {r[0] for r in sqlite3.connect(demo_db[0]).execute("SELECT id FROM enterprise")}
    assert _dump(p4, ("expert",)) == _dump(demo_db[0], ("expert",))
    p3 = open_db(tmp_path / "other.db")
    load_demo(p3, today=TODAY, seed=5)
    assert _dump(p3, ("request",)) != _dump(demo_db[0], ("request",))


def test_demo_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = open_db(tmp_path / "crash.db")

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("disk on fire")

    import qi_station.devtools.demo as demo

    monkeypatch.setattr(demo, "synth_requests", boom)
    with pytest.raises(RuntimeError):
        load_demo(p, today=TODAY)
    conn = connect(p)
    for t in ("expert", "institution", "enterprise", "request", "station", "kv"):
        assert conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0, t


def test_ledger_continues_after_demo(tmp_path: Path) -> None:
    p = open_db(tmp_path / "cont.db")
    load_demo(p, today=TODAY, requests=60)
    conn = connect(p)
    # the demo ends before TODAY's month (June): its last month's counter is continued
    last = conn.execute("SELECT max(number) FROM request WHERE number LIKE 'QI0001-202605-%'").fetchone()[0]
    ent = conn.execute("SELECT name, uscc FROM enterprise LIMIT 1").fetchone()
    out = ledger.create_request(
        p,
        ledger.RequestInput(
            enterprise=ent[0],
            uscc=ent[1],
            elements="计量",
            title="压力表检定",
            received_at="2026-05-30T10:00:00",
        ),
    )
    assert out["number"] == f"QI0001-202605-{int(last[-4:]) + 1:04d}"
    assert conn.execute("SELECT count(*) FROM enterprise WHERE uscc = ?", (ent[1],)).fetchone()[0] == 1


def test_committed_demo_json_matches_make_demo() -> None:
    spec = importlib.util.spec_from_file_location("make_demo", REPO / "data" / "make_demo.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.build() == read_demo(REPO / "data" / "demo")


# ---- generate ---------------------------------------------------------------------------------
def test_generate_small_scale(gen_db: tuple[Path, dict[str, Any]]) -> None:
    p, res = gen_db
    conn = connect(p)
    assert res["requests"] == 2000
    lib = sum(
        conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("expert", "institution", "equipment", "project")
    )
    assert lib == 1000
    assert conn.execute("SELECT count(*) FROM enterprise").fetchone()[0] == 100
    assert {r[0] for r in conn.execute("SELECT DISTINCT status FROM request")} == set(domain.STATUSES)
    assert conn.execute("SELECT count(*) FROM request_event").fetchone()[0] == res["events"] >= 2000
    assert _bad_chains(conn) == []
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for c in conn.execute("SELECT uscc FROM enterprise UNION ALL SELECT uscc FROM institution"):
        validate_uscc(c[0])
        assert uscc_warnings(c[0]) == [], c[0]
    for uscc, region, city, county in conn.execute(
        "SELECT uscc, region_code, city_code, county_code FROM enterprise WHERE industry = '农民专业合作社' "
        "OR region_code LIKE '3712%'"
    ):
        assert not uscc.startswith("N2")  # a cooperative is 93…, N2 is a village collective
        assert city != "371200" and (county, city) == places.location(None, region)


def test_generate_keeps_full_schema(gen_db: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    fresh = open_db(tmp_path / "fresh.db")

    def schema(path: Path) -> set[tuple[str, str]]:
        conn = sqlite3.connect(path)
        try:
            return {(r[0], r[1]) for r in conn.execute("SELECT type, name FROM sqlite_master")}
        finally:
            conn.close()

    assert schema(gen_db[0]) == schema(fresh)


def test_generate_is_deterministic(gen_db: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    p2 = tmp_path / "again.db"
    g.generate(p2, requests=2000, library=1000, seed=7, now=GEN_NOW)
    tables = (
        "request",
        "request_event",
        "referral",
        "expert",
        "institution",
        "equipment",
        "project",
        "enterprise",
        "station",
    )
    assert _dump(p2, tables) == _dump(gen_db[0], tables)
    p3 = tmp_path / "other.db"
    g.generate(p3, requests=50, library=40, seed=8, now=GEN_NOW)
    assert _dump(p3, ("expert",))["expert"][:5] != _dump(gen_db[0], ("expert",))["expert"][:5]


def test_generate_parallel_gives_the_same_rows(gen_db: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """Rows built in a child process (the large-scale path) equal the in-process ones."""
    p2 = tmp_path / "par.db"
    res = g.generate(p2, requests=2000, library=1000, seed=7, now=GEN_NOW, parallel=True)
    assert res["requests"] == 2000
    tables = ("request", "request_event", "referral", "kv")
    assert _dump(p2, tables) == _dump(gen_db[0], tables)


def test_generate_then_ledger_continues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the clock pinned mid-month: the generator's last month and the ledger's "now" are one month (the real
    # clock failed this on the last evening of a month in UTC, already the next month in Shanghai)
    monkeypatch.setenv("QI_STATION_NOW", "2026-06-15T10:00:00+08:00")
    p = tmp_path / "cont.db"
    g.generate(p, requests=300, library=100, seed=3)
    conn = connect(p)
    from qi_station.core.clock import env_now, local_date

    month = local_date(env_now())
    prefix = f"QI0001-{month.year}{month.month:02d}"
    last = conn.execute("SELECT max(number) FROM request WHERE number LIKE ?", (prefix + "-%",)).fetchone()[0]
    ent = conn.execute("SELECT name, uscc FROM enterprise LIMIT 1").fetchone()
    out = ledger.create_request(
        p, ledger.RequestInput(enterprise=ent[0], uscc=ent[1], elements="testing", title="出口检测")
    )
    assert out["number"] == f"{prefix}-{int(last[-4:]) + 1:04d}"
    moved = ledger.move_request(p, out["number"], "accepted")
    assert moved["status"] == "accepted"


def test_generate_old_requests_are_backfilled(tmp_path: Path) -> None:
    """Older than ``detailed_months``: one ``created`` event carrying the final status."""
    p = tmp_path / "old.db"
    g.generate(p, requests=400, library=50, seed=4, now=GEN_NOW, detailed_months=3)
    conn = connect(p)
    old = _rows(
        conn,
        "SELECT r.status, r.s_rev, e.to_status, e.note, e.data FROM request r JOIN request_event e "
        "ON e.request_id = r.id WHERE r.received_at < '2026-02-01'",
    )
    assert old and all(
        o["s_rev"] == 1 and o["to_status"] == o["status"] and o["note"] == IMPORT_NOTE for o in old
    )
    assert _bad_chains(conn) == []


def test_generate_failure_leaves_nothing_and_wal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "crash.db"

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(g, "gen_enterprises", boom)
    with pytest.raises(RuntimeError):
        g.generate(p, requests=100, library=100, seed=1, now=GEN_NOW)
    conn = connect(p)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for t in ("expert", "institution", "station", "request", "kv"):
        assert conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0, t
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")} >= {
        "ix_expert_name",
        "ix_request_received",
    }


def test_generate_same_seed_twice_is_refused(gen_db: tuple[Path, dict[str, Any]]) -> None:
    before = _dump(gen_db[0], ("request",))
    again = g.generate(gen_db[0], requests=2000, library=1000, seed=7, now=GEN_NOW)
    assert again["skipped"] is True
    assert _dump(gen_db[0], ("request",)) == before


def test_uuid7_shape_and_fmt() -> None:
    import uuid

    u = uuid.UUID(uuid7(1_700_000_000_123, (1 << 74) - 1))
    assert u.version == 7 and u.variant == uuid.RFC_4122
    assert int(u.hex[:12], 16) == 1_700_000_000_123
    from qi_station.core.clock import to_db

    ms = 1_782_000_123_456
    assert fmt_ms(ms) == to_db(datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None))


def _index_terms(conn: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.v_{table} USING fts5vocab(main, {table}_fts, instance)"
    )
    return conn.execute(f"SELECT term, doc, offset FROM temp.v_{table} ORDER BY term, doc, offset").fetchall()


@pytest.mark.parametrize("parallel", [False, True])
def test_generate_builds_the_search_index_once_and_keeps_its_triggers(tmp_path: Path, parallel: bool) -> None:
    """The generator lifts the search index's triggers for the load and builds the index at the end (the
    pool computing the search text or not): the index is current and equal to one rebuilt from the
    rows, and the triggers are back, so later writes keep it."""
    from qi_station.db import searchindex

    db = tmp_path / "g.db"
    g.generate(db, requests=300, library=400, seed=4, parallel=parallel, now=datetime(2026, 5, 1, 9, 0))
    conn = sqlite3.connect(db)
    trig = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {f"{t}_search_{k}" for t in searchindex.TABLES for k in ("ins", "upd", "del")} <= trig
    built = {t: _index_terms(conn, t) for t in searchindex.TABLES}
    assert all(searchindex.is_current(conn, t) for t in searchindex.TABLES)
    assert all(built[t] for t in searchindex.TABLES)
    with conn:
        searchindex.rebuild(conn)
    assert {t: _index_terms(conn, t) for t in searchindex.TABLES} == built
    conn.close()


def test_generate_parallel_library_gives_the_same_rows(tmp_path: Path) -> None:
    """The pool that computes the library rows' search text changes nothing: same rows, same rowids."""
    out = []
    for parallel in (False, True):
        db = tmp_path / f"g-{parallel}.db"
        g.generate(db, requests=200, library=300, seed=6, parallel=parallel, now=datetime(2026, 5, 1, 9, 0))
        conn = sqlite3.connect(db)
        out.append(
            {
                t: conn.execute(f"SELECT rowid, * FROM {t} ORDER BY rowid").fetchall()
                for t in ("expert", "institution", "equipment", "project", "enterprise", "request")
            }
        )
        conn.close()
    assert out[0] == out[1]


def test_demo_resolutions_record_the_fee_as_a_real_one_does(demo_db: tuple[Path, dict[str, Any]]) -> None:
    """Every demo resolution records 是否收费 / 收费金额 as ``request move resolved`` does for a free
    service (stations are free): not charged, 0.00; so a resolved or closed demo request shows 收费金额
    0.00 (``core.chain.request_fee``), never an empty one."""
    import json

    from qi_station.core.chain import resolution_fee
    from qi_station.services.queries import get_request

    db, _info = demo_db
    conn = connect(db)
    try:
        datas = [r[0] for r in conn.execute("SELECT data FROM request_event WHERE to_status = 'resolved'")]
        closed = conn.execute("SELECT number FROM request WHERE status = 'closed' LIMIT 1").fetchone()[0]
    finally:
        conn.close()
    assert datas and all(resolution_fee(d) == 0 for d in datas)
    assert {json.loads(d)["charged"] for d in datas} == {False}
    assert get_request(db, closed)["fee_yuan"] == "0.00"
