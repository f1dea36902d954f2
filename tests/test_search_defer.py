"""The search index deferred on a large pull (issue 13 goal 1): the pull marks the table stale and
lifts its triggers, ``finish_search`` builds it once after the pull. Proved here against the two
other paths: the index kept row by row (the triggers + flush of every page) and the scan.

- the deferred build holds exactly the index the row-by-row upkeep holds (every term of every row,
  read back through ``fts5vocab``), and both answer every query as the scan does (hypothesis, random
  rows, pages, renames, deletions, queries);
- a stale index is never read for answers: wiped under a stale mark, the search still answers as the
  scan, and the index's tier is never called;
- a pull SIGKILLed after a committed page, or inside the build, leaves a consistent database whose
  stale mark survives: the search scans, and the next ``finish_search`` makes the index current.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_search_index import _both, _name, _name_tokens_exact, _page, _queries, _rows

from qi_station.db import searchindex
from qi_station.services import search as S
from qi_station.sync.station import apply as A


def _index_terms(conn: sqlite3.Connection, table: str = "expert") -> list[tuple[Any, ...]]:
    """Every (row id, term, position) the table's index holds, rows named by their id (a rowid the
    table lacks stays as a number, so a leftover fails the comparison)."""
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.v_{table} USING fts5vocab(main, {table}_fts, instance)"
    )
    ids = dict(conn.execute(f"SELECT rowid, id FROM {table}").fetchall())
    return sorted(
        (str(ids.get(d, d)), term, off)
        for term, d, _col, off in conn.execute(f"SELECT term, doc, col, offset FROM temp.v_{table}")
    )


def _pages(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """A pull of ``n`` new rows in 1–3 pages, then a page renaming and deleting some of them."""
    rows = _rows(rng, n, "expert")
    cuts = sorted(rng.sample(range(20, n), rng.randint(0, 2)))  # a first page of 20+: deferred
    pages, since = [], 0
    for a, b in zip([0, *cuts], [*cuts, n], strict=True):
        pages.append(_page(rows[a:b], since, True))
        since += b - a
    later = [
        {**r, "name": _name(rng), "deleted": rng.random() < 0.3, "rev": 2}
        for r in rng.sample(rows, rng.randint(1, n // 2))
    ]
    pages.append(_page(later, since, False))
    return pages


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("defer") / "template.db"
    A.open_conn(db).close()
    return db


def _pull(template: Path, db: Path, pages: list[dict[str, Any]], defer: int) -> sqlite3.Connection:
    shutil.copy(template, db)
    real = A.DEFER_SEARCH_ROWS
    A.DEFER_SEARCH_ROWS = defer
    try:
        conn = A.open_conn(db)
        for pg in pages:
            A.apply_page(conn, pg)
        assert searchindex.stale(conn) == (["expert"] if defer < 10**12 else [])
        A.finish_search(conn)
    finally:
        A.DEFER_SEARCH_ROWS = real
    return conn


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False), n=st.integers(30, 260))
def test_deferred_build_equals_row_by_row_and_the_scan(
    template: Path, tmp_path: Path, rng: random.Random, n: int
) -> None:
    pages = _pages(rng, n)
    per_row = _pull(template, tmp_path / "per-row.db", pages, 10**12)
    deferred = _pull(template, tmp_path / "deferred.db", pages, 20)
    try:
        assert searchindex.stale(per_row) == [] == searchindex.stale(deferred)
        assert searchindex.is_current(deferred, "expert") and searchindex.is_current(per_row, "expert")
        assert (
            per_row.execute("SELECT * FROM expert ORDER BY id").fetchall()
            == deferred.execute("SELECT * FROM expert ORDER BY id").fetchall()
        )
        terms = _index_terms(deferred)
        assert terms and terms == _index_terms(per_row)
        mp = pytest.MonkeyPatch()
        try:
            for q in _queries(tmp_path / "deferred.db", rng, 40):
                for kw in ({}, {"own_city": "370100", "limit": 5}, {"city": "370800"}):
                    a_fts, a_scan = _both(deferred, mp, "experts", q, **kw)
                    b_fts, b_scan = _both(per_row, mp, "experts", q, **kw)
                    assert a_fts == a_scan == b_fts == b_scan, (q, kw)
        finally:
            mp.undo()
    finally:
        per_row.close()
        deferred.close()


def test_a_stale_index_is_never_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a stale mark the index may hold anything (here: nothing at all); the search answers from
    the scan, and the index's tier is not called."""
    monkeypatch.setattr(A, "DEFER_SEARCH_ROWS", 20)
    conn = A.open_conn(tmp_path / "s.db")
    rows = _rows(random.Random(5), 200, "expert")
    A.apply_page(conn, _page(rows, 0, False))
    assert searchindex.stale(conn) == ["expert"]
    conn.execute("INSERT INTO expert_fts (expert_fts) VALUES ('delete-all')")  # a wrong index
    used: list[int] = []
    real = S._fts_tier
    monkeypatch.setattr(S, "_fts_tier", lambda *a, **k: used.append(1) or real(*a, **k))
    want = 0
    for q in _queries(tmp_path / "s.db", random.Random(6), 80):
        fts, scan = _both(conn, monkeypatch, "experts", q)
        assert fts == scan, q
        want += bool(scan)
    assert want > 40 and used == []
    assert A.finish_search(conn) == 200
    _name_tokens_exact(conn)
    for q in _queries(tmp_path / "s.db", random.Random(7), 40):
        fts, scan = _both(conn, monkeypatch, "experts", q)
        assert fts == scan, q
    assert used  # current again: the index answers
    conn.close()


CHILD = textwrap.dedent(
    """
    import random, sys
    from qi_station.db import searchindex
    from qi_station.sync.station import apply as A
    from test_search_index import _page, _rows
    A.DEFER_SEARCH_ROWS = 20
    conn = A.open_conn(sys.argv[1])
    rows = _rows(random.Random(11), 300, "expert")
    for i in range(3):
        A.apply_page(conn, _page(rows[i * 100 : (i + 1) * 100], i * 100, i < 2))
        print("page", i + 1, flush=True)
    real = searchindex.optimize
    def held(c, tables=searchindex.TABLES):
        real(c, tables)
        print("building", flush=True)
        sys.stdin.readline()  # held here, inside the build's transaction, until killed
    searchindex.optimize = held
    A.finish_search(conn)
    print("built", flush=True)
    """
)


@pytest.mark.parametrize("at", ["page 2", "building"])
def test_a_kill_leaves_the_stale_mark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: str) -> None:
    db = tmp_path / "k.db"
    tests = str(Path(__file__).resolve().parent)
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONPATH": tests},
    )
    assert p.stdout is not None
    seen = []
    for line in p.stdout:
        seen.append(line.strip())
        if line.strip() == at:
            p.send_signal(signal.SIGKILL)
            break
    p.wait()
    assert seen[-1] == at and p.returncode == -signal.SIGKILL, seen
    conn = A.open_conn(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    pages = int(at.split()[1]) if at.startswith("page") else 3
    assert A.kv_int(conn, "pull_cursor") == 100 * pages
    assert conn.execute("SELECT count(*) FROM expert").fetchone()[0] == 100 * pages
    assert searchindex.stale(conn) == ["expert"]  # the mark survived the kill
    trig = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'expert_search_%'"
    assert conn.execute(trig).fetchone()[0] == 3
    used: list[int] = []
    real = S._fts_tier
    monkeypatch.setattr(S, "_fts_tier", lambda *a, **k: used.append(1) or real(*a, **k))
    for q in ["济", "济南", "jn", "jinan", "王", "zzz"]:
        fts, scan = _both(conn, monkeypatch, "experts", q)
        assert fts == scan, q
    assert used == []  # stale: scanned
    assert A.finish_search(conn) == 100 * pages  # the next sync's end builds it
    assert searchindex.stale(conn) == [] and searchindex.is_current(conn, "expert")
    _name_tokens_exact(conn)
    conn.close()


def test_rebuild_with_a_pool_builds_the_same_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``rebuild(pool=…)`` (the generator's: documents computed by two processes) holds exactly the
    index the serial rebuild holds, and the row-by-row upkeep before it."""
    import multiprocessing as mp

    from test_search_index import COLS, COMMON

    from qi_station.db import write

    monkeypatch.setattr(searchindex, "REBUILD_BATCH", 100)  # 15 batches, more than the pool holds ahead
    conn = A.open_conn(tmp_path / "p.db")
    conn.execute("BEGIN IMMEDIATE")
    write.upsert_library_rows(conn, "expert", _rows(random.Random(9), 1_500, "expert"), COLS + COMMON)
    conn.execute("COMMIT")
    kept = _index_terms(conn)
    assert searchindex.rebuild(conn, ["expert"]) == 1_500
    serial = _index_terms(conn)
    with mp.get_context("spawn").Pool(2) as pool:
        assert searchindex.rebuild(conn, ["expert"], pool=pool) == 1_500
    assert _index_terms(conn) == serial == kept and len(kept) > 1_500
    conn.close()


def _segments(conn: sqlite3.Connection, table: str = "expert") -> int:
    return int(conn.execute(f"SELECT count(DISTINCT segid) FROM {table}_fts_idx").fetchone()[0])


def test_rebuild_merges_once_at_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``rebuild`` lifts FTS5's merging while it inserts (the segments pile up untouched) and merges
    them once in its ``optimize``: the same index term for term as a build merged as it goes, one
    segment, and FTS5's merge settings back to their defaults after."""
    from test_search_index import COLS, COMMON

    from qi_station.db import write

    conn = A.open_conn(tmp_path / "m.db")
    conn.execute("BEGIN IMMEDIATE")
    write.upsert_library_rows(conn, "expert", _rows(random.Random(5), 1_500, "expert"), COLS + COMMON)
    conn.execute("INSERT INTO expert_fts (expert_fts, rank) VALUES ('hashsize', 2048)")  # many flushes
    conn.execute("COMMIT")
    kept = _index_terms(conn)
    before: list[int] = []
    real = searchindex.optimize
    monkeypatch.setattr(
        searchindex, "optimize", lambda c, t=searchindex.TABLES: before.append(_segments(c)) or real(c, t)
    )
    for merge_once in (False, True):
        monkeypatch.setattr(searchindex, "REBUILD_MERGE_ONCE", merge_once)
        assert searchindex.rebuild(conn, ["expert"]) == 1_500
        assert _index_terms(conn) == kept and _segments(conn) == 1
    assert before[1] > 3 * before[0], before
    print(before)  # merged as it went; then not at all until the end
    cfg = dict(conn.execute("SELECT k, v FROM expert_fts_config WHERE k LIKE '%merge'").fetchall())
    assert cfg == {"automerge": 4, "crisismerge": 16}  # FTS5's defaults
    conn.close()
