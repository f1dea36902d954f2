"""Request list --text on the 1M-request station (read-only): A/B the former-name condition against main.

Usage: python benchmarks/bench_former_names.py LABEL QUERY... (run with PYTHONPATH=/work/main for main).
"""

import sqlite3
import sys
import time

from qi_station.services.queries import list_requests


def main() -> None:
    c = sqlite3.connect("file:/tmp/bench/gen-1m.db?mode=ro", uri=True)
    c.row_factory = sqlite3.Row
    for q in sys.argv[2:]:
        best, n = 9e9, 0
        for _ in range(2):
            t = time.perf_counter()
            n = len(list_requests(c, text=q, limit=50))
            best = min(best, time.perf_counter() - t)
        print(sys.argv[1], q, n, f"{best:.3f}s")


if __name__ == "__main__":
    main()
