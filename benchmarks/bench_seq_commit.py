"""Concurrent hub writes on PostgreSQL: how many small write transactions (one library row updated and
stamped with its seq, committed with ``synchronous_commit`` on) pass per second with T threads at once.
With the change counter held until commit they commit one WAL flush at a time; with the sequence and
the in-flight horizon (revision 0027) their flushes can be shared. Works on any tree with
``Hub.write`` and ``Hub.stamp`` (A/B: run with ``PYTHONPATH`` set to the other tree).

    QI_TEST_PG_PREFIX=hub2_ python benchmarks/bench_seq_commit.py --writes 300 --threads 1 16
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    import sqlalchemy as sa
    from test_sync_util import pg_create, pg_drop

    from qi_station.sync.hub.store import Hub

    ap = argparse.ArgumentParser()
    ap.add_argument("--writes", type=int, default=300)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 16])
    args = ap.parse_args()
    url = pg_create()
    hub = Hub(url)
    try:
        hub.init(demo=False)
        hub.upsert_library([("expert", {"id": f"x-{i}", "name": f"专家{i}"}) for i in range(64)])
        for n in args.threads:
            todo = list(range(args.writes))
            lock = threading.Lock()

            def work(k: int, todo: list[int] = todo, lock: threading.Lock = lock) -> None:
                while True:
                    with lock:
                        if not todo:
                            return
                        i = todo.pop()
                    rid = f"x-{k}"
                    with hub.write() as c:
                        c.execute(
                            sa.text("UPDATE expert SET name = :n WHERE id = :i"), {"n": f"改{i}", "i": rid}
                        )
                        hub.stamp(c, [("expert", rid)])

            ts = [threading.Thread(target=work, args=(k,)) for k in range(n)]
            t0 = time.perf_counter()
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            wall = time.perf_counter() - t0
            print(
                f"{n:3d} threads: {args.writes} writes in {wall:.2f} s, {args.writes / wall:.0f}/s, {wall / args.writes * 1000:.1f} ms each"
            )
    finally:
        hub.dispose()
        pg_drop(url)


if __name__ == "__main__":
    main()
