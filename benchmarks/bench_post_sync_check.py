"""The ledger check after a sync: incremental (from kv ``verify_mark``) against main's full check.

Part 1 (``--requests 1000 20000``): a station of N generated requests enrolled at an in-process SQLite
hub (TestClient), synced once; then ``--rounds`` steady syncs of ~20 new changes each, alternating
main's post-sync check (its ``services/verify.py`` loaded from ``--main``, patched into
``heads.check_ledger``) and this branch's. Per sync: the station thread's CPU (``thread_time``; the hub
runs in the TestClient's own thread), the process CPU, wall, and the check's own CPU.

Part 2 (``--db COPY``): a copy of a large station (the 1M-request bench database): the full check
(worker processes; CPU of this process and of its children), then ~20 new requests and the incremental
check. Writes to the copy (kv and 20 requests): never point it at a shared original.

    python benchmarks/bench_post_sync_check.py --requests 1000 20000 --rounds 6
    python benchmarks/bench_post_sync_check.py --requests --db /tmp/me/gen-1m.db
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QI_STATION_OPERATOR", "bench")
os.environ.setdefault("QI_STATION_NOW", "2026-11-30T12:00:00Z")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _main_check(main: Path) -> Any:
    """main's ``heads.check_ledger``, over main's ``services/verify.py``."""
    spec = importlib.util.spec_from_file_location("main_verify", main / "qi_station/services/verify.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    def check_ledger(conn: Any, **_: Any) -> tuple[bool, list[str]]:
        res = mod.verify_conn(conn)
        ok = bool(mod.record_result(conn, res)["ok"])
        return ok, [] if ok else mod.report_lines(res)[:-1]

    return check_ledger


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def steady(n: int, rounds: int, main: Path) -> None:
    from bench_push import new_hub
    from bench_rush import add_changes
    from fastapi.testclient import TestClient
    from test_sync_util import enroll_station

    from qi_station.db.engine import open_db
    from qi_station.devtools.generate.run import generate
    from qi_station.services.station import init_station
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.station import client as C
    from qi_station.sync.station import heads as H

    d = Path(tempfile.mkdtemp(prefix="qi_bench_psc_"))
    hub = new_hub("sqlite", d, "hub.db")
    tc = TestClient(create_app(hub.url))
    db = d / "SD001.db"
    init_station(open_db(db), code="SD001")
    generate(db, requests=n, library=0, seed=1)
    enroll_station(db, hub, tc, "SD001")
    C.run_sync(db, http=tc, sleep=lambda s: None)
    arms = {"main": _main_check(main), "branch": H.check_ledger}
    got: dict[str, dict[str, list[float]]] = {
        a: {"thread": [], "proc": [], "wall": [], "check": []} for a in arms
    }
    for r in range(rounds):
        for arm in ("main", "branch") if r % 2 == 0 else ("branch", "main"):
            add_changes(db, 20)
            fn = arms[arm]
            spent: list[float] = []

            def timed(conn: Any, _fn: Any = fn, _spent: list[float] = spent, **kw: Any) -> Any:
                t = time.thread_time()
                out = _fn(conn, **kw)
                _spent.append(time.thread_time() - t)
                return out

            H.check_ledger = timed  # type: ignore[assignment]
            try:
                t0, p0, w0 = time.thread_time(), time.process_time(), time.perf_counter()
                res = C.run_sync(db, http=tc, sleep=lambda s: None)
                t1, p1, w1 = time.thread_time(), time.process_time(), time.perf_counter()
            finally:
                H.check_ledger = arms["branch"]  # type: ignore[assignment]
            assert res["ok"] and res["pushed"] >= 20, res
            got[arm]["thread"].append(t1 - t0)
            got[arm]["proc"].append(p1 - p0)
            got[arm]["wall"].append(w1 - w0)
            got[arm]["check"].append(sum(spent))
    tc.close()
    hub.dispose()
    for arm, m in got.items():
        med = {k: statistics.median(v) * 1000 for k, v in m.items()}
        print(
            f"{n:>6} requests  {arm:<6}  station CPU {med['thread']:7.1f} ms  process CPU {med['proc']:7.1f} ms  "
            f"wall {med['wall']:7.1f} ms  check CPU {med['check']:7.1f} ms  (median of {len(m['thread'])})"
        )


def big(db: Path, inc_only: bool = False) -> None:
    from bench_rush import add_changes

    from qi_station.services.verify import record_result, verify_conn

    c = sqlite3.connect(db)
    try:
        if not inc_only:
            c.execute("DELETE FROM kv WHERE k = 'verify_mark'")
            c.commit()
        runs: list[tuple[str, dict[str, Any]]] = [("incremental, nothing new", {"incremental": True})]
        if not inc_only:
            runs.insert(0, ("full (main's and `ledger verify`)", {}))
        for label, kw in runs:
            t, p, ch, w = time.thread_time(), time.process_time(), _children_cpu(), time.perf_counter()
            res = verify_conn(c, **kw)
            w, p, ch = time.perf_counter() - w, time.process_time() - p, _children_cpu() - ch
            record_result(c, res)
            print(
                f"1M {label:<36} ok={res['ok']} full={res['full']} requests={res['requests']:>8}: wall {w:7.3f} s  "
                f"CPU {p:7.3f} s (+ children {ch:6.3f} s)"
            )
        add_changes(db, 20)
        t, p, w = time.thread_time(), time.process_time(), time.perf_counter()
        res = verify_conn(c, incremental=True)
        w, p = time.perf_counter() - w, time.process_time() - p
        print(
            f"1M {'incremental, ~20 new changes':<36} ok={res['ok']} full={res['full']} requests={res['requests']:>8}: "
            f"wall {w:7.3f} s  CPU {p:7.3f} s"
        )
        del t
    finally:
        c.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, nargs="*", default=[1000, 20000])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--main", type=Path, default=Path("/work/main"))
    ap.add_argument("--db", type=Path)
    ap.add_argument("--inc-only", action="store_true", help="keep --db's watermark: no full check first")
    args = ap.parse_args()
    for n in args.requests:
        steady(n, args.rounds, args.main)
    if args.db:
        big(args.db, args.inc_only)


if __name__ == "__main__":
    main()
