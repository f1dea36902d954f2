"""The steady round's per-call cost in process: S stations synced once, then R rounds of ~20 new
changes each, every station's sync (its push and its pull) replayed through the hub's ASGI app in this
process (``rush_replay`` over ``httpx.ASGITransport``), one station after the other. Per station sync:
the SQL statements the hub ran (a SQLAlchemy ``before_cursor_execute`` listener plus psycopg COPYs),
the CPU of this process (driver and hub) and of PostgreSQL's backends.

    python benchmarks/bench_steady.py [--stations 6] [--requests 20] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QI_STATION_OPERATOR", "bench")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    import bench_push as B
    import httpx
    import rush_replay as R
    import sqlalchemy as sa
    from bench_rush import add_changes
    from fastapi.testclient import TestClient
    from test_sync_util import enroll_station, pg_drop

    from qi_station.db.engine import open_db
    from qi_station.devtools.generate.run import generate
    from qi_station.services.station import init_station
    from qi_station.sync.hub.server import create_app

    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=("sqlite", "pg"), default="pg")
    ap.add_argument("--stations", type=int, default=6)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steady", type=int, default=20)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="qi_bench_steady_"))
    hub = B.new_hub(args.backend, d, "hub.db")
    app = create_app(hub.url)
    tc = TestClient(app)
    dbs = []
    for i in range(args.stations):
        code = f"SD{i:03d}"
        db = d / f"{code}.db"
        init_station(open_db(db), code=code)
        generate(db, requests=args.requests, library=0, seed=i + 1)
        enroll_station(db, hub, tc, code)
        dbs.append(db)
    transport = httpx.ASGITransport(app=app)
    plans = [R.plan(db) for db in dbs]
    R.replay("http://hub", plans, transport=transport)
    assert not [p.error for p in plans if p.error], [p.error for p in plans if p.error]
    stmts: collections.Counter[str] = collections.Counter()

    live = [False]  # count the hub's statements only, not this benchmark's pg_stat_activity reads

    def count(_conn, _cur, statement, _params, _ctx, _many):  # type: ignore[no-untyped-def]
        if live[0]:
            stmts[" ".join(statement.split())[:90]] += 1

    sa.event.listen(hub.engine, "before_cursor_execute", count)
    trips: collections.Counter[str] = collections.Counter()  # round trips besides the statements

    def begin(conn):  # type: ignore[no-untyped-def]
        # psycopg sends BEGIN before the first statement and COMMIT / ROLLBACK at the end: two round trips
        raw = conn.connection.driver_connection
        if live[0] and not getattr(raw, "autocommit", True):
            trips["BEGIN + COMMIT/ROLLBACK"] += 2

    sa.event.listen(hub.engine, "begin", begin)
    dialect = hub.engine.dialect
    do_ping = dialect.do_ping

    def ping(dbapi_conn):  # type: ignore[no-untyped-def]
        trips["pool pre-ping"] += live[0]
        return do_ping(dbapi_conn)

    dialect.do_ping = ping  # type: ignore[method-assign]
    import cProfile
    import pstats

    prof = cProfile.Profile(time.process_time) if args.profile else None
    if prof:  # the hub's work runs in worker threads: run it inline, where cProfile sees it

        async def inline(func, *a, **kw):  # type: ignore[no-untyped-def]
            return func(*a, **kw)

        import fastapi.dependencies.utils as fdu
        import fastapi.routing as fr
        import starlette.concurrency as sc

        for mod in (fdu, fr, sc):
            mod.run_in_threadpool = inline  # type: ignore[attr-defined]
    cpu = pg = wall = 0.0
    syncs = calls = 0
    for _r in range(args.rounds):
        for p in plans:
            R.acked(p)
            add_changes(p.db, args.steady)
        nxt = [R.plan(p.db, since=p.since) for p in plans]
        for q in nxt:
            s0, c0, w0 = B.server_cpu(hub), time.process_time(), time.perf_counter()
            if prof:
                prof.enable()
            live[0] = True
            R.replay("http://hub", [q], transport=transport)
            live[0] = False
            if prof:
                prof.disable()
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
            pg += B.server_cpu(hub) - s0
            assert q.error is None, q.error
            syncs += 1
            calls += len(q.calls)
        plans = nxt
    n = sum(stmts.values())
    print(f"load average {os.getloadavg()[0]:.1f}; {syncs} station syncs, {calls} calls")
    print(
        f"per station sync: {n / syncs:.1f} SQL statements, {1e3 * cpu / syncs:.1f} ms CPU this process "
        f"(driver + hub), {1e3 * pg / syncs:.1f} ms PostgreSQL backends, {1e3 * wall / syncs:.1f} ms wall"
    )
    extra = sum(trips.values())
    print(
        f"round trips per station sync: {(n + extra) / syncs:.1f} "
        f"({', '.join(f'{k}: {v / syncs:.1f}' for k, v in trips.items()) or 'no others'})"
    )
    for s, k in stmts.most_common(40):
        print(f"  {k / syncs:5.2f}  {s}")
    if prof:
        pstats.Stats(prof).sort_stats(os.environ.get("SORT", "cumtime")).print_stats(
            int(os.environ.get("TOP", "45"))
        )
    tc.close()
    hub.dispose()
    if args.backend == "pg":
        pg_drop(hub.url)


if __name__ == "__main__":
    main()
