"""Library search on two copies of one database, interleaved query by query (issue 13 goal 1).

    python benchmarks/bench_search_ab.py --old benchmarks/out/ab-before.db --new benchmarks/out/core-….db [--hogs]
        [--city 370100]

``--old`` is the database as it was (e.g. a copy taken before ``qi-station`` migrated it to 0014, FTS5
segments unmerged), ``--new`` the same rows as this program leaves them. Each query of
``bench_core.QUERIES`` runs on a kept connection to each (as the TUI's ``SharedReader``), old and new
alternating, so load on the shared machine hits both alike. Wall and thread CPU time per class; with
``--city`` every search also carries the city filter (the CLI's ``--city``). ``--old-rev REV``: the
old side also runs ``services/search.py`` as it was at git revision REV (a code A/B; ``--old`` may then
be the same file as ``--new``). Prints Markdown; no asserts on time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_core import QUERIES, pct  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", type=Path, required=True)
    ap.add_argument("--new", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--city", default=None)
    ap.add_argument("--old-rev", default=None, help="git revision of services/search.py for the old side")
    ap.add_argument("--hogs", action="store_true", help="two CPU-burning processes running")
    args = ap.parse_args()
    from qi_station.db.engine import connect
    from qi_station.services.search import search

    searches = {"old": search, "new": search}
    if args.old_rev:
        import types

        src = subprocess.run(
            ["git", "show", f"{args.old_rev}:qi_station/services/search.py"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
            encoding="utf-8",
        ).stdout
        old = types.ModuleType("qi_station.services._search_old")
        exec(compile(src, f"search.py@{args.old_rev}", "exec"), old.__dict__)  # noqa: S102
        searches["old"] = old.search
    conns = {"old": connect(args.old, readonly=True), "new": connect(args.new, readonly=True)}
    for which, c in conns.items():  # warm: the first query of a connection reads the schema
        searches[which](c, "experts", "王", limit=50)
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 if args.hogs else 0)
    ]
    res: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    try:
        for _ in range(args.rounds):
            for cls, per_kind in QUERIES.items():
                for kind, qs in per_kind.items():
                    for q in qs:
                        for which, conn in conns.items():
                            w, c = res.setdefault(cls, {}).setdefault(which, ([], []))
                            t0, c0 = time.perf_counter(), time.thread_time()
                            searches[which](conn, kind, q, limit=50, city=args.city)
                            c.append((time.thread_time() - c0) * 1000)
                            w.append((time.perf_counter() - t0) * 1000)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    for c in conns.values():
        c.close()
    load = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    print(
        f"Kept connection, limit 50, {args.rounds} rounds × 16 queries per class"
        f"{', city ' + args.city if args.city else ''}"
        f"{', two CPU hogs' if args.hogs else ''}"
        f"{f'; old = services/search.py at {args.old_rev}' if args.old_rev else ''}; load average at the end {load}.\n"
    )
    print("| Class | new: p95 wall (p50) / p95 CPU | old: p95 wall (p50) / p95 CPU |")
    print("|---|---|---|")
    for cls, per in res.items():
        cells = []
        for which in ("new", "old"):
            w, c = per[which]
            cells.append(f"{pct(w, 95):.1f} ms ({statistics.median(w):.1f}) / {pct(c, 95):.1f} ms")
        print(f"| {cls} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
