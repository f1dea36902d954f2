"""The library search index (FTS5, ``db/searchindex.py``) returns exactly what the scan returns.

The scan is kept in ``services/search.py`` as the path taken while the index is not current; here it
is the reference: every query is run both ways (the index forced off by patching
``searchindex.is_current``) over random names and random queries — 1 and 2 characters, longer,
initials, pinyin, mixed, no match, and FTS5 syntax (quotes, ``*``, ``AND``/``OR``/``NEAR``, brackets).
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qi_station.db import searchindex, write
from qi_station.services import search as S

CHARS = "济南宁青岛检验测计量标准质技术服务中心研究院所市县区王曾单李华明国建强芳山东省临沂德州"
ASCII = 'abcjnqdwzxy0123-_ ()"*:^'
CITIES = ["370100", "370800", "370200", "371300", None]
ELEMENTS = ["metrology", "testing", "standards", "quality"]
HOSTILE = ['"', '""', "*", "a*", "AND", "OR", "NOT", "NEAR", "NEAR(a b)", "n : 济", "{n}:济", "(", ")",
           "^济", "济*", '济"南', "j AND n", "-", "--", "q:jn", "b : \"j\" *", "Σ", "ΣΑ"]  # fmt: skip
COLS = ["id", "name", "city_code", "elements", "specialty", "employer", "title", "active_requests"]
ICOLS = ["id", "name", "city_code", "elements", "short_name", "uscc", "cma_no", "cma_expiry", "scope"]


def _name(rng: random.Random) -> str:
    n = rng.choice([1, 2, 3, 4, 6, 9])
    s = "".join(rng.choice(CHARS) + (rng.choice("aB1-") if rng.random() < 0.1 else "") for _ in range(n))
    if rng.random() < 0.2:
        s += rng.choice(["CNAS", "Lab", "a-1", "(济南)", '"质"'])
    return s


def _rows(rng: random.Random, n: int, kind: str) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        r: dict[str, Any] = {
            "id": f"{kind[:2]}{i:04d}",
            "name": _name(rng),
            "city_code": rng.choice(CITIES),
            "elements": rng.sample(ELEMENTS, rng.randint(0, 2)),
            "rev": 1,
            "seq": 0,
            "deleted": rng.random() < 0.1,
            "updated_at": "2026-01-01 00:00:00.000000",
        }
        if kind == "expert":
            r.update(
                specialty=_name(rng),
                employer=_name(rng),
                title=rng.choice(["高级工程师", "Eng", None]),
                active_requests=0,
            )
        else:
            r.update(
                short_name=_name(rng)[:4],
                uscc=rng.choice(["91370100MA3C", "12370000ABC", None]),
                cma_no=rng.choice(["241553238085", None]),
                cma_expiry=rng.choice(["2030-01-01", "2020-01-01", None]),
                scope=_name(rng) + "、" + _name(rng),
            )
        out.append(r)
    return out


COMMON = ["name_py", "name_initials", "haystack", "haystack_py", "rev", "seq", "deleted", "updated_at"]


@pytest.fixture(scope="module")
def libdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from qi_station.db.engine import connect, open_db

    db = open_db(tmp_path_factory.mktemp("fts") / "lib.db")
    rng = random.Random(13)
    conn = connect(db)
    conn.execute("BEGIN IMMEDIATE")
    write.upsert_library_rows(conn, "expert", _rows(rng, 300, "expert"), COLS + COMMON)
    write.upsert_library_rows(conn, "institution", _rows(rng, 300, "institution"), ICOLS + COMMON)
    conn.execute("COMMIT")
    assert searchindex.is_current(conn, "expert") and searchindex.is_current(conn, "institution")
    conn.close()
    yield db


def _queries(db: Path, rng: random.Random, n: int) -> list[str]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT name, name_py, name_initials, haystack FROM expert UNION ALL "
        "SELECT name, name_py, name_initials, haystack FROM institution"
    ).fetchall()
    conn.close()
    qs = list(HOSTILE) + [
        "蓝鲸号",
        "zzzzq",
        "jinan",
        "jn",
        "jl",
        "jiliang",
        "jining",
        "jns",
        "zhiliang",
        "jinan jiliang",
        "jn jl",
        "j",
        "v",
        "济",
        "济南",
        "cnas",
        "CNAS",
        "Lab",
        "a-1",
    ]
    qs += [a + b for a, b in zip(CHARS, CHARS[1:], strict=False)]  # pairs, found apart in the names too
    for _ in range(n):
        text = rng.choice(rows)[rng.randrange(4)] or "x"
        if rng.random() < 0.15:
            text = "".join(rng.choice(CHARS + ASCII) for _ in range(6))
        k = rng.choice([1, 1, 2, 2, 3, 4, 6])
        i = rng.randrange(max(1, len(text) - k + 1))
        q = text[i : i + k].strip()
        if q:
            qs.append(q)
    return qs


def _both(conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, *a: Any, **kw: Any) -> tuple[list, list]:
    with monkeypatch.context() as m:
        fts = S.search(conn, *a, **kw)
        m.setattr(searchindex, "is_current", lambda c, t: False)
        scan = S.search(conn, *a, **kw)
    return [r["id"] for r in fts], [r["id"] for r in scan]


def test_index_equals_scan(libdb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qi_station.db.engine import connect

    rng = random.Random(7)
    conn = connect(libdb, readonly=True)
    used = []
    real = S._fts_tier
    monkeypatch.setattr(S, "_fts_tier", lambda *a, **k: used.append(1) or real(*a, **k))
    n = 0
    for q in _queries(libdb, rng, 250):
        for kind in ("experts", "institutions"):
            kw: dict[str, Any] = {
                "own_city": rng.choice([None, "370100", "370800"]),
                "limit": rng.choice([50, 5, None]),
                "offset": rng.choice([0, 0, 3]),
            }
            if rng.random() < 0.3:
                key, value = rng.choice([("city", "370100"), ("element", "metrology"), ("valid_only", True)])
                kw[key] = value
            fts, scan = _both(conn, monkeypatch, kind, q, **kw)
            assert fts == scan, (kind, q, kw)
            n += bool(scan)
    conn.close()
    assert n > 200 and len(used) > 300  # the queries matched things, and the index answered them


@pytest.mark.parametrize("q", HOSTILE)
def test_fts_syntax_is_never_reached(libdb: Path, q: str) -> None:
    rank0, whole, _exact, filters = S._fts_terms(q, "metrology", "370100") or ("", "", False, "")
    conn = sqlite3.connect(libdb)
    for expr in (rank0, whole, filters):
        if expr:  # a valid FTS5 expression whatever the user typed
            conn.execute("SELECT count(*) FROM expert_fts WHERE expert_fts MATCH ?", (expr,)).fetchone()
    conn.close()
    S.search(libdb, "experts", q, own_city="370100")


def test_every_write_keeps_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes through db/write flush at once; a plain sqlite3 writer leaves rows pending (the search
    then scans, the same results) until the next flush."""
    from qi_station.db.engine import connect, open_db

    db = open_db(tmp_path / "w.db")
    conn = connect(db)
    rows = [
        {
            "id": "x1",
            "name": "曾国强",
            "city_code": "370100",
            "elements": ["metrology"],
            "specialty": "压力计量",
            "active_requests": 0,
        }
    ]
    base = {"rev": 1, "seq": 0, "deleted": False, "updated_at": "2026-01-01 00:00:00.000000"}
    write.upsert_library_rows(conn, "expert", [{**r, **base} for r in rows], COLS + COMMON)
    assert searchindex.is_current(conn, "expert")
    assert [r["id"] for r in S.search(conn, "experts", "国")] == ["x1"]
    from qi_station.db.searchtext import prepare

    fresh = prepare("expert", {**rows[0], "name": "李华"})
    write.update_row(
        conn, "expert", "x1", {k: fresh[k] for k in ("name", "name_py", "name_initials", "haystack")}
    )
    assert searchindex.is_current(conn, "expert")
    assert S.search(conn, "experts", "国") == [] and [r["id"] for r in S.search(conn, "experts", "华")] == [
        "x1"
    ]
    assert [r["id"] for r in S.search(conn, "experts", "ua")] == ["x1"]  # lihua: pairs
    # a plain writer: pending, the search scans and still finds it; a flush brings the index back
    conn.execute("UPDATE expert SET name = '王芳', haystack = '王芳 压力计量 济南市' WHERE id = 'x1'")
    assert not searchindex.is_current(conn, "expert")
    assert [r["id"] for r in S.search(conn, "experts", "芳")] == ["x1"]
    write.flush_search(conn)
    assert searchindex.is_current(conn, "expert")
    assert [r["id"] for r in S.search(conn, "experts", "芳")] == ["x1"] and S.search(
        conn, "experts", "华"
    ) == []
    conn.execute("DELETE FROM expert WHERE id = 'x1'")
    write.flush_search(conn)
    assert S.search(conn, "experts", "芳") == []
    # nothing stale is left in the index
    assert (
        conn.execute("SELECT count(*) FROM expert_fts WHERE expert_fts MATCH ?", ('"h芳"',)).fetchone()[0]
        == 0
    )
    conn.close()


def test_migration_builds_the_index(tmp_path: Path) -> None:
    """An existing database (rows written before 0012) gets its index in the migration."""
    from qi_station.db.engine import connect, open_db, run_migrations, sqlite_url

    db = tmp_path / "old.db"
    run_migrations(sqlite_url(db), "0011")
    conn = sqlite3.connect(db)
    r = write.upsert_library_rows(
        conn,
        "expert",
        [
            {
                "id": "x1",
                "name": "单雄信",
                "city_code": "370800",
                "elements": ["testing"],
                "rev": 1,
                "seq": 0,
                "active_requests": 0,
                "deleted": False,
                "updated_at": "2026-01-01 00:00:00.000000",
            }
        ],  # fmt: skip
        COLS + COMMON,
    )
    conn.commit()
    conn.close()
    assert r and open_db(db) == db
    conn = connect(db)
    assert searchindex.is_current(conn, "expert")
    assert (
        conn.execute("SELECT count(*) FROM expert_fts WHERE expert_fts MATCH ?", ('"n雄"',)).fetchone()[0]
        == 1
    )
    conn.close()


def test_optimize_keeps_the_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows written in several transactions leave several FTS5 segments; ``optimize`` (migration 0014,
    the generator) merges them: every search answers the same before and after, and as the scan."""
    from qi_station.db.engine import connect, open_db

    db = open_db(tmp_path / "seg.db")
    rng = random.Random(21)
    conn = connect(db)
    # no merging while writing (FTS5 "automerge" merges as it goes, sooner the more tokens a row holds)
    conn.execute("INSERT INTO expert_fts (expert_fts, rank) VALUES ('automerge', 0)")
    for _ in range(6):  # one segment per flush
        conn.execute("BEGIN IMMEDIATE")
        write.upsert_library_rows(conn, "expert", _rows(rng, 60, "expert"), COLS + COMMON)
        conn.execute("COMMIT")
    qs = _queries(db, rng, 120)
    kws: list[dict[str, Any]] = [{}, {"city": "370100"}, {"own_city": "370800", "limit": 5}]
    before = {(q, i): _both(conn, monkeypatch, "experts", q, **kw) for q in qs for i, kw in enumerate(kws)}
    segs = conn.execute("SELECT count(DISTINCT segid) FROM expert_fts_idx").fetchone()[0]
    conn.execute("BEGIN IMMEDIATE")
    searchindex.optimize(conn)
    conn.execute("COMMIT")
    assert segs > 1 and conn.execute("SELECT count(DISTINCT segid) FROM expert_fts_idx").fetchone()[0] == 1
    for (q, i), (fts, scan) in before.items():
        assert fts == scan, (q, kws[i])
        assert _both(conn, monkeypatch, "experts", q, **kws[i]) == (fts, scan), (q, kws[i])
    assert sum(bool(s) for s, _ in before.values()) > 100
    conn.close()


def test_city_filter_keeps_the_index_tiers_in_table_order(libdb: Path) -> None:
    """With a city filter the exact and prefix tiers read the name index, not the city index (fast), and
    sort what they find back into the city index's order, table order (rowid), as before."""
    conn = sqlite3.connect(libdb)
    rows = conn.execute("SELECT rowid, id, name, city_code, deleted FROM expert ORDER BY rowid").fetchall()
    conn.close()
    checked = 0
    for q in sorted({n[:k] for _, _, n, _, _ in rows for k in (1, 2) if n[:k] and not n[:k].isascii()}):
        for city in ("370100", "370800"):
            live = [r for r in rows if r[3] == city and not r[4]]
            exact = [r[1] for r in live if r[2] == q]
            prefix = [r[1] for r in live if r[2].startswith(q) and r[2] != q]
            want = (exact + prefix)[:50]
            got = [r["id"] for r in S.search(libdb, "experts", q, city=city, limit=50)]
            assert got[: len(want)] == want, (q, city)
            checked += bool(prefix)
    assert checked > 20


def _page(rows: list[dict[str, Any]], since: int, more: bool) -> dict[str, Any]:
    cols = COLS + COMMON
    prepared = write.prepare_library_rows("expert", rows)
    for i, r in enumerate(prepared, start=since + 1):
        r["seq"] = i
    body = [list(v) for v in write.library_values(prepared, cols)]
    return {
        "since": since,
        "next": since + len(rows),
        "more": more,
        "tables": {"expert": {"cols": cols, "rows": body}},
    }


def _name_tokens_exact(conn: sqlite3.Connection) -> None:
    """Every ``n`` token of the index names exactly the rows whose name holds that character (nothing
    left over from a replaced name, nothing missing)."""
    rows = conn.execute("SELECT rowid, name FROM expert").fetchall()
    for ch in CHARS:
        want = sorted(r for r, n in rows if ch in n)
        got = [
            r for (r,) in conn.execute("SELECT rowid FROM expert_fts WHERE expert_fts MATCH ?", (f'"n{ch}"',))
        ]
        assert got == want, ch


def test_large_pull_builds_the_index_once_after_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large sync pull lifts the search triggers and marks the table stale (the search scans
    meanwhile, same results); its pages commit without the index, and ``finish_search`` (what a sync
    and a down bundle's import call after the pull) builds it once in a transaction of its own: a
    failure (a kill) inside the build leaves the mark and the triggers, and the next call makes the
    index current."""
    from qi_station.sync.station import apply as A

    monkeypatch.setattr(A, "DEFER_SEARCH_ROWS", 50)
    conn = A.open_conn(tmp_path / "pull.db")
    rng = random.Random(31)
    rows = _rows(rng, 360, "expert")
    A.apply_page(conn, _page(rows[:150], 0, True))
    assert searchindex.stale(conn) == ["expert"] and not searchindex.is_current(conn, "expert")
    A.apply_page(conn, _page(rows[150:300], 150, True))
    trig = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'expert_search_%'"
    assert conn.execute(trig).fetchone()[0] == 3  # put back after each page
    # a local write while stale: recorded by the trigger, dropped by the flush (the rebuild takes it)
    conn.execute("BEGIN IMMEDIATE")
    write.upsert_library_rows(conn, "expert", [{**rows[0], "name": "临沂王"}], COLS + COMMON)
    conn.execute("COMMIT")
    assert conn.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 1  # the mark only
    qs = _queries(conn.execute("PRAGMA database_list").fetchone()[2], rng, 60)
    for q in qs:  # stale: the search scans
        fts, scan = _both(conn, monkeypatch, "experts", q)
        assert fts == scan, q
    # the last page: new names for 100 rows, 60 new rows; it commits with the table still stale
    last = [{**r, "name": _name(rng), "rev": 2} for r in rows[:100]] + rows[300:]
    A.apply_page(conn, _page(last, 300, False))
    assert searchindex.stale(conn) == ["expert"] and A.kv_int(conn, "pull_cursor") == 460
    with monkeypatch.context() as m:  # the build dies at its very end: rolled back whole
        real = searchindex.optimize

        def boom(c: Any, tables: Any = searchindex.TABLES) -> None:
            real(c, tables)
            raise RuntimeError("killed")

        m.setattr(searchindex, "optimize", boom)
        with pytest.raises(RuntimeError):
            A.finish_search(conn)
    assert searchindex.stale(conn) == ["expert"] and conn.execute(trig).fetchone()[0] == 3
    assert not conn.in_transaction
    assert A.finish_search(conn) == 360
    assert searchindex.stale(conn) == [] and searchindex.is_current(conn, "expert")
    assert A.finish_search(conn) == 0  # nothing stale: nothing done
    assert conn.execute("SELECT count(*) FROM expert").fetchone()[0] == 360
    _name_tokens_exact(conn)
    used = []
    real_tier = S._fts_tier
    monkeypatch.setattr(S, "_fts_tier", lambda *a, **k: used.append(1) or real_tier(*a, **k))
    for q in qs:
        for kw in ({}, {"own_city": "370100", "limit": 5}, {"city": "370800"}):
            fts, scan = _both(conn, monkeypatch, "experts", q, **kw)
            assert fts == scan, (q, kw)
    assert used
    # a small page afterwards is indexed row by row again (no mark)
    A.apply_page(conn, _page([{**rows[5], "name": "德州曾", "rev": 3}], 460, False))
    assert conn.execute("SELECT name FROM expert WHERE id = ?", (rows[5]["id"],)).fetchone()[0] == "德州曾"
    assert searchindex.stale(conn) == [] and searchindex.is_current(conn, "expert")
    _name_tokens_exact(conn)
    conn.close()


def test_ascii_queries_of_three_or_more_read_triples() -> None:
    """Three characters or more: ``t`` / ``u`` triples covering it (short doclists), ANDed (the index
    keeps no positions, migration 0023); one or two: a prefix query on the triples they start (no
    pairs in the index since migration 0026)."""
    # no positions, so no overlap is needed: every third triple and the last cover each character
    assert searchindex.phrase("b", "jianguo") == '("tjia" AND "tngu" AND "tguo")'
    assert searchindex.phrase("q", "abcd") == '("uabc" AND "ubcd")'
    assert searchindex.phrase("q", "zqh") == '("uzqh")'
    # cut where the tokenizer cuts (one token per quoted string), in documents the same
    assert searchindex.phrase("q", "a-1") == '("ua" AND "1")'
    assert searchindex.phrase("h", "济南济") == '("h济" AND "h南")'
    assert searchindex.phrase("b", "jn") == '"tjn" *' and searchindex.phrase("b", "j") == '"tj" *'
    assert searchindex.phrase("q", "a-") == '"ua" *' and searchindex.phrase("q", "--") is None
    (d,) = searchindex.doc("王建国", "", "wjg", "wangjianguo", "cnas l-1", "370100", "[]")
    assert "tngu" in d.split() and "unas" in d.split() and "ul~1" in d.split()


def test_migration_0020_builds_the_triples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index built before 0020 (no triples) is built again whole: long pinyin queries find the rows
    through the index, and a later delete leaves nothing behind (a contentless index deletes with the
    document it was given)."""
    from qi_station.db.engine import connect, open_db, run_migrations, sqlite_url

    db = tmp_path / "old.db"
    run_migrations(sqlite_url(db), "0018")
    conn = sqlite3.connect(db)
    base = {
        "rev": 1,
        "seq": 0,
        "deleted": False,
        "active_requests": 0,
        "updated_at": "2026-01-01 00:00:00.000000",
    }
    rows = [{"id": "x1", "name": "单雄信", "city_code": "370800", "elements": ["testing"], "specialty": "压力计量"},
            {"id": "x2", "name": "王建国", "city_code": "370100", "elements": [], "employer": "济南计量院"}]  # fmt: skip
    write.upsert_library_rows(conn, "expert", [{**r, **base} for r in rows], COLS + COMMON)
    # the index as 0018 wrote it: the same documents without the triples
    conn.execute("INSERT INTO expert_fts (expert_fts) VALUES ('delete-all')")
    for rid, *cols in conn.execute(
        f"SELECT rowid, {', '.join(searchindex.DOC_COLUMNS)} FROM expert"
    ).fetchall():
        (d,) = searchindex.doc(*cols)
        old = " ".join(t for t in d.split() if t[0] not in "tu")
        conn.execute("INSERT INTO expert_fts (rowid, d) VALUES (?, ?)", (rid, old))
    conn.commit()
    assert conn.execute("SELECT count(*) FROM expert_fts WHERE expert_fts MATCH 'tjia'").fetchone()[0] == 0
    conn.close()
    assert open_db(db) == db
    conn = connect(db)
    assert searchindex.is_current(conn, "expert")
    for q, want in (("jianguo", ["x2"]), ("xiongxin", ["x1"]), ("sxx", ["x1"]), ("ylj", ["x1"])):
        fts, scan = _both(conn, monkeypatch, "experts", q)
        assert fts == scan == want, q
    conn.execute("DELETE FROM expert WHERE id = 'x2'")
    write.flush_search(conn)
    for tok in ("tjia", "tji", "n建", "c370100"):
        assert (
            conn.execute(
                "SELECT count(*) FROM expert_fts WHERE expert_fts MATCH ?", (f'"{tok}"',)
            ).fetchone()[0]
            == 0
        )
    assert (
        conn.execute("SELECT count(*) FROM expert_fts WHERE expert_fts MATCH '\"txio\"'").fetchone()[0] == 1
    )
    conn.close()


@given(st.text(alphabet="abz09 -~济Σ", max_size=12) | st.none(), st.text(alphabet="abz09 -~济", max_size=4))
def test_padded_triples_hold_every_query_of_the_text(text: str | None, q: str) -> None:
    """A document's pinyin tokens (migration 0026: one padded triple per character, no pairs) hold
    what each query of a substring of the text asks (:func:`searchindex.phrase`): its triples, or
    for one or two characters a token its prefix starts."""
    toks = searchindex._padded_triples("t", text)
    assert len(toks.split(" ")) == len(str(text or "")) or not text
    held = set(searchindex._DROP.split(toks)) - {""}
    if not q or q not in str(text or "").lower():
        return
    expr = searchindex.phrase("b", q)
    if expr is None:
        assert not any(c.isascii() and c.isalnum() for c in q)
    elif expr.endswith(" *"):
        prefix = expr[1:-3]
        assert any(t.startswith(prefix) for t in held), (text, q, expr)
    else:
        wanted = [t.strip('"') for t in expr.strip("()").split(" AND ")]
        assert set(wanted) <= held, (text, q, expr)


_FIELD = st.text(alphabet="ab jz09-~济南Σ", max_size=8) | st.none() | st.integers(0, 3)
_ROW = st.tuples(*(st.sampled_from(["济南", "ab", "", None]) | _FIELD for _ in searchindex.DOC_COLUMNS))


@given(st.lists(_ROW, max_size=8))
def test_documents_equal_doc_row_by_row(rows: list[tuple[Any, ...]]) -> None:
    """A build's :class:`searchindex.Documents` (each part once per distinct text) gives every row the
    document :func:`searchindex.doc` gives it, repeated texts and ``None`` included; a fresh one too."""
    make = searchindex.Documents()
    twice = rows + rows[::-1]
    assert [make(*r) for r in twice] == [searchindex.doc(*r) for r in twice]
    assert [searchindex.Documents()(*r) for r in rows] == [searchindex.doc(*r) for r in rows]


def test_migration_0023_drops_the_positions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 0022 index (positions kept, phrase queries) is made again with ``detail=none`` and built whole:
    current, the same results as the scan; a downgrade gives the tables their positions back, stale."""
    import importlib

    from qi_station.db.engine import MIGRATIONS_DIR, connect, open_db, run_migrations, sqlite_url

    m23 = importlib.import_module("qi_station.db.migrations.versions.0023_search_detail_none")
    db = tmp_path / "old.db"
    run_migrations(sqlite_url(db), "0022")
    conn = sqlite3.connect(db)
    m23._recreate(conn, m23._FULL)  # the tables as 0012 to 0022 made them
    base = {"rev": 1, "seq": 0, "deleted": False, "active_requests": 0, "updated_at": "2026-01-01 00:00:00"}
    rows = [{"id": "x1", "name": "单雄信", "city_code": "370800", "elements": ["testing"], "specialty": "压力计量"},
            {"id": "x2", "name": "王建国", "city_code": "370100", "elements": [], "employer": "济南计量院"}]  # fmt: skip
    write.upsert_library_rows(conn, "expert", [{**r, **base} for r in rows], COLS + COMMON)
    conn.commit()
    fts_sql = "SELECT sql FROM sqlite_master WHERE name = 'expert_fts'"
    assert "detail" not in conn.execute(fts_sql).fetchone()[0]
    conn.close()
    assert open_db(db) == db
    conn = connect(db)
    assert "detail=none" in conn.execute(fts_sql).fetchone()[0]
    assert searchindex.is_current(conn, "expert")
    for q, want in (
        ("jianguo", ["x2"]),
        ("sxx", ["x1"]),
        ("济南", ["x2"]),
        ("建单", []),
        ("j", ["x2", "x1"]),
    ):
        fts, scan = _both(conn, monkeypatch, "experts", q)
        assert fts == scan == want, q
    conn.close()
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sqlite_url(db))
    command.downgrade(cfg, "0022")
    conn = connect(db)
    assert "detail" not in conn.execute(fts_sql).fetchone()[0]
    assert searchindex.stale(conn) == list(searchindex.TABLES)
    conn.close()


def test_build_in_one_statement_is_the_row_by_row_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``rebuild`` indexes a table in one ``INSERT … SELECT`` (its documents made by a function lent to
    the connection for the build): the same index (every term and row) as inserting the documents row
    by row, which it falls back to while a statement of the connection runs (SQLite then refuses to
    replace the function of the earlier build). After a build the function holds nothing."""
    from qi_station.db.engine import connect, open_db

    db = open_db(tmp_path / "one.db")
    conn = connect(db)
    conn.execute("BEGIN IMMEDIATE")
    write.upsert_library_rows(conn, "expert", _rows(random.Random(5), 200, "expert"), COLS + COMMON)
    conn.execute("COMMIT")
    called: list[str] = []
    real = searchindex._insert_select
    monkeypatch.setattr(searchindex, "_insert_select", lambda raw, t, m: called.append(t) or real(raw, t, m))

    def build() -> list[tuple[Any, ...]]:
        conn.execute("BEGIN IMMEDIATE")
        assert searchindex.rebuild(conn, ("expert",)) == 200
        conn.execute("COMMIT")
        return conn.execute("SELECT term, doc FROM temp.vocab ORDER BY term, doc").fetchall()

    conn.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, expert_fts, 'instance')")

    in_sql = build()
    assert called == ["expert"]
    with pytest.raises(sqlite3.OperationalError, match="user-defined function raised exception"):
        conn.execute(f"SELECT {searchindex._DOC_FN}(1, 2, 3, 4, 5, 6, 7)")
    running = conn.execute("SELECT rowid FROM expert")  # a statement left running on the connection
    running.fetchone()
    try:
        by_rows = build()
    finally:
        running.close()
    assert called == ["expert"]  # the row path
    assert in_sql == by_rows and len(in_sql) > 5000
    assert S.search(conn, "experts", "王")  # the index answers
    conn.close()


def test_migration_0026_builds_the_padded_triples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 0025 index (pairs and triples) is built again whole with one padded triple per character:
    no pair token left, current, one- and two-letter queries (now prefix queries on the triples) and
    longer ones the same as the scan; a downgrade leaves every table stale (0025's queries read pairs)."""
    from alembic import command
    from alembic.config import Config

    from qi_station.db.engine import MIGRATIONS_DIR, connect, open_db, run_migrations, sqlite_url

    db = tmp_path / "old.db"
    run_migrations(sqlite_url(db), "0025")
    conn = sqlite3.connect(db)
    base = {"rev": 1, "seq": 0, "deleted": False, "active_requests": 0, "updated_at": "2026-01-01 00:00:00"}
    rows = [{"id": "x1", "name": "单雄信", "city_code": "370800", "elements": ["testing"], "specialty": "压力计量"},
            {"id": "x2", "name": "王建国", "city_code": "370100", "elements": [], "employer": "济南计量院"}]  # fmt: skip
    write.upsert_library_rows(conn, "expert", [{**r, **base} for r in rows], COLS + COMMON)
    write.flush_search(conn)
    # the index as 0025 wrote it: a pair (``b`` / ``q``) beside each triple
    conn.execute("INSERT INTO expert_fts (expert_fts) VALUES ('delete-all')")
    for rid, *cols in conn.execute(
        f"SELECT rowid, {', '.join(searchindex.DOC_COLUMNS)} FROM expert"
    ).fetchall():
        (d,) = searchindex.doc(*cols)
        pairs = " ".join(("b" if t[0] == "t" else "q") + t[1:3] for t in d.split() if t[0] in "tu")
        conn.execute("INSERT INTO expert_fts (rowid, d) VALUES (?, ?)", (rid, f"{d} {pairs}"))
    conn.commit()
    assert conn.execute("SELECT count(*) FROM expert_fts WHERE expert_fts MATCH '\"bji\"'").fetchone()[0] == 1
    conn.close()
    assert open_db(db) == db
    conn = connect(db)
    assert searchindex.is_current(conn, "expert")
    assert conn.execute("SELECT count(*) FROM expert_fts WHERE expert_fts MATCH '\"bji\"'").fetchone()[0] == 0
    for q, want in (
        ("j", ["x2", "x1"]),
        ("wj", ["x2"]),
        ("sx", ["x1"]),
        ("jianguo", ["x2"]),
        ("济南", ["x2"]),
    ):
        fts, scan = _both(conn, monkeypatch, "experts", q)
        assert fts == scan == want, q
    conn.close()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sqlite_url(db))
    command.downgrade(cfg, "0025")
    conn = connect(db)
    assert searchindex.stale(conn) == list(searchindex.TABLES)
    conn.close()
