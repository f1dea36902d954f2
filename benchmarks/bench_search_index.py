"""What keeping the library search index costs on write (issue 13), beside the same writes without it.

    python benchmarks/bench_search_index.py --rows 200000 --source benchmarks/out/core-….db

Library rows are read from ``--source`` (a generated database) and written into two fresh databases
by ``db.write.upsert_library_rows`` (search text by ``searchtext.prepare``, as the demo loader, the
generator and the hub library import do): one with the index (migration 0012: triggers + flush), one
without (the index DDL skipped: the write path before issue 13). Measured: one bulk load of every
row, and single-row writes (one row, one transaction, COMMIT). Prints Markdown; no asserts on time.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TABLES = ("expert", "institution", "equipment", "project")


def fresh_db(path: Path, index: bool) -> Path:
    from qi_station.db import searchindex
    from qi_station.db.engine import open_db

    real = searchindex.ddl
    if not index:
        searchindex.ddl = lambda: []  # type: ignore[assignment]
    try:
        return open_db(path)
    finally:
        searchindex.ddl = real  # type: ignore[assignment]


def read_rows(source: Path, n: int) -> dict[str, list[dict[str, Any]]]:
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    out: dict[str, list[dict[str, Any]]] = {}
    per = {"expert": 0.4, "institution": 0.2, "equipment": 0.3, "project": 0.1}
    for t in TABLES:
        out[t] = [dict(r) for r in conn.execute(f"SELECT * FROM {t} LIMIT ?", (int(n * per[t]),))]
    conn.close()
    return out


def load(db: Path, rows: dict[str, list[dict[str, Any]]]) -> tuple[float, float]:
    from qi_station.db import write
    from qi_station.db.engine import connect

    conn = connect(db)
    t, c = time.perf_counter(), time.process_time()
    conn.execute("BEGIN IMMEDIATE")
    for table, rs in rows.items():
        for i in range(0, len(rs), 5000):
            write.upsert_library_rows(conn, table, rs[i : i + 5000], list(rs[0]), keep_pinyin=True)
    conn.execute("COMMIT")
    out = (time.perf_counter() - t, time.process_time() - c)
    conn.close()
    return out


def singles(db: Path, rows: list[dict[str, Any]]) -> list[float]:
    from qi_station.db import write
    from qi_station.db.engine import connect

    conn = connect(db)
    times = []
    for r in rows:
        r = {**r, "name": r["name"] + "甲", "name_py": "", "name_initials": ""}
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        write.upsert_library_rows(conn, "expert", [r], list(r))
        conn.execute("COMMIT")
        times.append((time.perf_counter() - t) * 1000)
    conn.close()
    return times


def sync_apply(db: Path, rows: dict[str, list[dict[str, Any]]], page: int) -> tuple[float, ...]:
    """The station's pull: every row through ``sync.station.apply.apply_page`` in pages of ``page`` rows
    (one transaction each, as ``qi-station sync`` applies a hub page), then ``finish_search`` (what
    ``run_sync`` and a down bundle's import call after the pull: the deferred index build, its own
    transaction). Returns (wall, CPU) of the pages, then (wall, CPU) of the build, seconds."""
    from qi_station.sync.station.apply import apply_page, finish_search, open_conn

    pages: list[dict[str, Any]] = []
    seq = 0
    for table, rs in rows.items():
        cols = list(rs[0])
        for i in range(0, len(rs), page):
            chunk = rs[i : i + page]
            body = []
            for r in chunk:
                seq += 1
                body.append([seq if c == "seq" else r[c] for c in cols])
            pages.append(
                {
                    "since": seq - len(chunk),
                    "next": seq,
                    "more": True,
                    "tables": {table: {"cols": cols, "rows": body}},
                }
            )
    pages[-1]["more"] = False  # as the hub's pull pages: the last one ends the pull
    conn = open_conn(db)
    t, c = time.perf_counter(), time.process_time()
    for pg in pages:
        apply_page(conn, pg)
    t1, c1 = time.perf_counter(), time.process_time()
    finish_search(conn)
    t2, c2 = time.perf_counter(), time.process_time()
    conn.close()
    return (t1 - t, c1 - c, t2 - t1, c2 - c1)


def _cell(b: list[float], a: list[float]) -> str:
    ratio = f" ×{statistics.median(b) / statistics.median(a):.2f}" if a else ""
    return f"{statistics.median(b):.2f} s ({', '.join(f'{x:.2f}' for x in b)}){ratio}"


def main_sync(args: argparse.Namespace) -> None:
    """``--sync``: the pull of ``--rows`` library rows without the index, with it kept row by row (the
    triggers + flush of every page, ``DEFER_SEARCH_ROWS`` out of reach: before issue 13's deferral) and
    with it deferred (the pull marks the tables stale; ``finish_search`` builds them once after the
    pull, timed apart), rounds interleaved."""
    from qi_station.db import searchindex
    from qi_station.sync.station import apply

    rows = read_rows(args.source, args.rows)
    per = {"expert": 0.4, "institution": 0.2, "equipment": 0.3, "project": 0.1}
    for t, rs in rows.items():  # a small source: its rows again under new ids, up to --rows
        want, have = int(args.rows * per[t]), len(rs)
        rs += [{**rs[i % have], "id": f"{rs[i % have]['id']}-{i // have}"} for i in range(have, want)]
    n = sum(len(v) for v in rows.values())
    # "merged as it goes": the deferred build before ``searchindex.REBUILD_MERGE_ONCE`` (FTS5's automerge
    # left on while the build inserts), the same run's baseline for that change
    modes = ("none", "per row", "merged as it goes", "deferred")
    if args.skip_per_row:
        modes = tuple(m for m in modes if m != "per row")
    got: dict[str, list[tuple[float, ...]]] = {m: [] for m in modes}
    real = apply.DEFER_SEARCH_ROWS
    with tempfile.TemporaryDirectory() as d:
        for rnd in range(args.rounds):
            for mode in modes if rnd % 2 == 0 else modes[::-1]:
                db = fresh_db(Path(d) / f"sync-{rnd}.db", mode != "none")
                apply.DEFER_SEARCH_ROWS = 10**12 if mode == "per row" else real
                searchindex.REBUILD_MERGE_ONCE = mode != "merged as it goes"
                try:
                    got[mode].append(sync_apply(db, rows, args.page))
                finally:
                    apply.DEFER_SEARCH_ROWS = real
                    searchindex.REBUILD_MERGE_ONCE = True
                db.unlink()
    load_avg = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    print(f"Load average (1/5/15 min) at the end: {load_avg}; SQLite {sqlite3.sqlite_version}.\n")
    print(
        f"| sync of {n:,} library rows, pages of {args.page}, median of {args.rounds} interleaved rounds "
        "| without the index | index kept row by row | index deferred: the pages (`apply_page`) "
        "| + the build after the pull (`finish_search`) | pages + build "
        "| before `REBUILD_MERGE_ONCE`: the build | pages + build |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for i, what in ((1, "CPU"), (0, "wall")):
        a = [g[i] for g in got["none"]]
        old = got["merged as it goes"]
        cells = [
            _cell(a, []),
            _cell([g[i] for g in got["per row"]], a) if "per row" in got else "not run",
            _cell([g[i] for g in got["deferred"]], a),
            _cell([g[i + 2] for g in got["deferred"]], a),
            _cell([g[i] + g[i + 2] for g in got["deferred"]], a),
            _cell([g[i + 2] for g in old], a),
            _cell([g[i] + g[i + 2] for g in old], a),
        ]
        print(f"| {what} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--singles", type=int, default=200)
    ap.add_argument("--source", type=Path, required=True, help="a generated database to copy rows from")
    ap.add_argument("--sync", action="store_true", help="time the sync pull's apply instead")
    ap.add_argument("--page", type=int, default=5000, help="--sync: rows per page (the hub's PULL_PAGE)")
    ap.add_argument("--rounds", type=int, default=4, help="--sync: interleaved rounds")
    ap.add_argument("--skip-per-row", action="store_true", help="--sync: leave out the row-by-row upkeep")
    args = ap.parse_args()
    if args.sync:
        main_sync(args)
        return
    rows = read_rows(args.source, args.rows)
    n = sum(len(v) for v in rows.values())
    res: dict[bool, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        for index in (False, True):
            db = fresh_db(Path(d) / f"lib-{index}.db", index)
            wall, cpu = load(db, rows)
            one = singles(db, rows["expert"][: args.singles])
            res[index] = (
                wall,
                cpu,
                statistics.median(one),
                sorted(one)[int(0.95 * (len(one) - 1))],
                db.stat().st_size,
            )
    load_avg = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    print(f"Load average (1/5/15 min) at the end: {load_avg}; SQLite {sqlite3.sqlite_version}.\n")
    print("| Write | without the index (before) | with the index | ratio |")
    print("|---|---|---|---|")
    (w0, c0, m0, p0, s0), (w1, c1, m1, p1, s1) = res[False], res[True]
    print(
        f"| bulk load of {n:,} library rows, `upsert_library_rows` (wall / CPU) | {w0:.1f} s / {c0:.1f} s "
        f"| {w1:.1f} s / {c1:.1f} s | ×{w1 / w0:.2f} wall, ×{c1 / c0:.2f} CPU |"
    )
    print(
        f"| one expert row written and committed (n={args.singles}) | p50 {m0:.2f} ms, p95 {p0:.2f} ms "
        f"| p50 {m1:.2f} ms, p95 {p1:.2f} ms | ×{m1 / m0:.2f} (p50) |"
    )
    print(f"| database size after the load | {s0 / 2**20:.0f} MiB | {s1 / 2**20:.0f} MiB | ×{s1 / s0:.2f} |")


if __name__ == "__main__":
    main()
