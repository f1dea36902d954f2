"""Library search A/B: two checkouts of qi-station, each on its own copy of a database, interleaved.

    python benchmarks/bench_search_ab_roots.py A_ROOT A_DB B_ROOT B_DB [--rounds 10]

Unlike ``bench_search_ab.py --old-rev`` (which swaps ``services/search.py`` only) the whole package
differs between the sides, so a change of the index (``db/searchindex.py`` and a migration) is
measured too.
e.g. ``A_ROOT=/work/main`` on a database at its schema head and this checkout on a copy migrated to
this one's (an index change needs both). Each side runs in its own process (``PYTHONPATH=ROOT``) on a
kept connection, as the TUI calls ``search``; the parent sends the queries of ``bench_core.QUERIES``
to A and B one after the other (the order swapped every round), so both see the same load. Every
query's result ids must be equal on both sides. Prints p95 wall and p95 CPU (``time.thread_time``)
per class, and the load average. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import Any

from bench_core import MISS_QUERIES, QUERIES, pct

WORKER = """
import json, sys, time
from qi_station.db.engine import connect
from qi_station.services.search import search
conn = connect(sys.argv[1])
print(json.dumps(__import__("qi_station").__file__), flush=True)
for line in sys.stdin:
    kind, q = json.loads(line)
    c0, t0 = time.thread_time(), time.perf_counter()
    rows = search(conn, kind, q, limit=50)
    w, c = (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000
    print(json.dumps([w, c, [r["id"] for r in rows]]), flush=True)
"""


def start(root: str, db: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=root)
    p = subprocess.Popen(  # cwd: "-c" puts it first on sys.path
        [sys.executable, "-c", WORKER, os.path.abspath(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=root,
    )
    assert p.stdout is not None
    print(f"{p.stdout.readline().strip()} on {db}", file=sys.stderr)
    return p


def ask(p: subprocess.Popen[str], kind: str, q: str) -> list[Any]:
    assert p.stdin is not None and p.stdout is not None
    p.stdin.write(json.dumps([kind, q]) + "\n")
    p.stdin.flush()
    out: list[Any] = json.loads(p.stdout.readline())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a_root")
    ap.add_argument("a_db")
    ap.add_argument("b_root")
    ap.add_argument("b_db")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument(
        "--allow-diff",
        action="store_true",
        help="report queries whose results differ (a change meant to find more) instead of stopping",
    )
    args = ap.parse_args()
    a, b = start(args.a_root, args.a_db), start(args.b_root, args.b_db)
    classes = dict(QUERIES)
    classes["no match (3 chars)"] = {k: [v] for k, v in MISS_QUERIES.items()}
    for per in classes.values():  # warm-up, and the same rows on both sides
        for kind, qs in per.items():
            for q in qs:
                ra, rb = ask(a, kind, q), ask(b, kind, q)
                if ra[2] != rb[2]:
                    if not args.allow_diff:
                        raise SystemExit(f"results differ: {kind} {q!r}")
                    kept = [x for x in rb[2] if x in set(ra[2])]
                    print(
                        f"results differ: {kind} {q!r}: A {len(ra[2])} rows, B {len(rb[2])}, "
                        f"{len(set(ra[2]) - set(rb[2]))} of A's not in B, A's in B in A's order: "
                        f"{kept == [x for x in ra[2] if x in set(rb[2])]}",
                        file=sys.stderr,
                    )
    load0 = os.getloadavg()
    print("| Class | n | A p95 wall / CPU ms (p50 wall) | B p95 wall / CPU ms (p50 wall) |")
    print("|---|---|---|---|")
    for cls, per in classes.items():
        t: dict[str, list[float]] = {"aw": [], "ac": [], "bw": [], "bc": []}
        for i in range(args.rounds):
            order = (("a", a), ("b", b)) if i % 2 == 0 else (("b", b), ("a", a))
            for kind, qs in per.items():
                for q in qs:
                    for tag, p in order:
                        w, c, _ = ask(p, kind, q)
                        t[tag + "w"].append(w)
                        t[tag + "c"].append(c)
        cells = [
            f"{pct(t[s + 'w'], 95):.1f} / {pct(t[s + 'c'], 95):.1f} (p50 {statistics.median(t[s + 'w']):.1f})"
            for s in "ab"
        ]
        print(f"| {cls} | {len(t['aw'])} | {cells[0]} | {cells[1]} |", flush=True)
    for p in (a, b):
        assert p.stdin is not None
        p.stdin.close()
        p.wait()
    print(
        "load average (1/5/15 min) before {:.1f} / {:.1f} / {:.1f}, after {:.1f} / {:.1f} / {:.1f}".format(
            *load0, *os.getloadavg()
        )
    )


if __name__ == "__main__":
    main()
