"""The hub's push through its FastAPI app in process (``TestClient``: routing, the Guard's signature and
nonce, JSON parse, pydantic, the signed reply) beside ``Hub.push`` called directly on the same batches
(the baseline, same run): what the HTTP path adds per change, in CPU seconds of this process and of
PostgreSQL's backends.

    python benchmarks/bench_push_http.py [--backend sqlite|pg] [--stations 2] [--requests 300]

The TestClient's own client side (httpx building the request) is inside the HTTP figure; the station's
JSON encoding and signing are done before the clock starts.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QI_STATION_OPERATOR", "bench")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    import bench_push as B
    from fastapi.testclient import TestClient
    from test_sync_util import enroll_station, pg_drop, signed_push

    from qi_station.db import secrets
    from qi_station.db.engine import SCHEMA_HEAD, open_db
    from qi_station.devtools.generate.run import generate
    from qi_station.services.station import init_station
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.proto import PROTOCOL
    from qi_station.sync.station import apply as S
    from qi_station.sync.station.heal import resend_all

    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=("sqlite", "pg"), default="sqlite")
    ap.add_argument("--stations", type=int, default=2)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--batch", type=int, default=500, help="changes per push (next_batch's count cap)")
    ap.add_argument("--profile", action="store_true", help="cProfile (CPU time) of the HTTP pass, top 30")
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="qi_bench_push_http_"))
    hub = B.new_hub(args.backend, d, "http.db")
    tc = TestClient(create_app(hub.url))
    work: list[tuple[str, dict[str, str], list[Any], Path]] = []
    for i in range(args.stations):
        code = f"HT{i:03d}"
        db = d / f"{code}.db"
        init_station(open_db(db), code=code)
        generate(db, requests=args.requests, library=0, seed=i + 1)
        enroll_station(db, hub, tc, code)
        conn = S.open_conn(db)
        batches = []
        try:
            resend_all(conn, 0)
            while b := S.next_batch(conn, args.batch):
                batches.append(b)
                S.ack(conn, b[-1]["oseq"])
        finally:
            conn.close()
        auth = {
            "X-Sync-Protocol": str(PROTOCOL),
            "X-Sync-Schema": SCHEMA_HEAD,
            "Authorization": f"Bearer {secrets.load(db)['api_token']}",
        }
        work.append((code, auth, batches, db))
    calls = [(auth, signed_push(db, {"batch": b}), len(b)) for _c, auth, bs, db in work for b in bs]
    n = sum(x[2] for x in calls)
    import cProfile
    import pstats

    prof = cProfile.Profile(time.process_time) if args.profile else None
    s0, c0, w0 = B.server_cpu(hub), time.process_time(), time.perf_counter()
    if prof:
        prof.enable()
    for auth, kw, _n in calls:
        r = tc.post("/sync/v1/push", headers={**auth, **kw["headers"]}, content=kw["content"])
        assert r.status_code == 200, r.text[:300]
    if prof:
        prof.disable()
    cpu, wall, srv = time.process_time() - c0, time.perf_counter() - w0, B.server_cpu(hub) - s0
    hub2 = B.new_hub(args.backend, d, "direct.db")
    w2, cpu2, n2 = B.push_pass(hub2, {c: [copy.deepcopy(b) for b in bs] for c, _a, bs, _d in work})
    srv2 = B.SERVER.get(hub2.url, 0.0)
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    print(
        f"load average {os.getloadavg()[0]:.1f}; {n:,} changes in {len(calls)} pushes (batch cap {args.batch})\n"
    )
    print("| backend | pass | wall s | CPU s (this process) | µs/change | CPU s (PostgreSQL) |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.backend} | Hub.push direct (baseline) | {w2:.2f} | {cpu2:.2f} | {1e6 * cpu2 / n2:.0f} | {srv2:.2f} |"
    )
    print(
        f"| {args.backend} | HTTP push in process | {wall:.2f} | {cpu:.2f} | {1e6 * cpu / n:.0f} | {srv:.2f} |"
    )
    tc.close()
    for h in (hub, hub2):
        h.dispose()
        if args.backend == "pg":
            pg_drop(h.url)


if __name__ == "__main__":
    main()
