"""Benchmark: the monthly report of two source trees, interleaved (A/B in one run on a shared machine).

    python benchmarks/ab_report.py --base /path/to/main/checkout --new /path/to/branch --db DB [--hub] MONTH...

``--hub``: the province report (``monthly_report(db, month, hub=True)``; ``--db`` a hub's URL or path).

Each (month, tree) runs in its own subprocess (PYTHONPATH=tree), alternating base and new for ``--rounds``
rounds of ``--runs`` timed reports after a warm-up; prints median wall and CPU (process) seconds as
Markdown with the load average. No asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
from qi_station.reports.figures import monthly_report
db, m, n, hub = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
monthly_report(db, m, hub=hub)
w, c = [], []
for _ in range(n):
    t, p = time.perf_counter(), time.process_time()
    monthly_report(db, m, hub=hub)
    w.append(time.perf_counter() - t)
    c.append(time.process_time() - p)
print(json.dumps([w, c]))
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--hub", action="store_true", help="the province report (hub=True)")
    ap.add_argument("months", nargs="+")
    a = ap.parse_args()
    res: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for _ in range(a.rounds):
        for m in a.months:
            for name, path in (("base", a.base), ("new", a.new)):
                env = {**os.environ, "PYTHONPATH": os.path.abspath(path)}
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, a.db, m, str(a.runs), "1" if a.hub else "0"],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                w, c = json.loads(out)
                r = res.setdefault((m, name), ([], []))
                r[0].extend(w)
                r[1].extend(c)
    l1, l5, l15 = os.getloadavg()
    print(f"load average {l1:.1f} {l5:.1f} {l15:.1f}")
    print("| month | base wall / CPU s | new wall / CPU s |")
    print("|---|---|---|")
    for m in a.months:
        cells = [
            f"{statistics.median(res[(m, n)][0]):.2f} / {statistics.median(res[(m, n)][1]):.2f}"
            for n in ("base", "new")
        ]
        print(f"| {m} | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
