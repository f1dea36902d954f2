"""The hub's per-change push apply on PostgreSQL, A/B between two source trees in one run: CPU per
change (this process and the PostgreSQL backends) and changes/s, for one station's first push and for
many stations pushing at once (``Hub.push`` in process: no HTTP, no JSON body, no pull).

    python benchmarks/bench_push_apply.py make --stations 50 --requests 1870 --out /tmp/x.pkl
    python benchmarks/bench_push_apply.py ab --data /tmp/x.pkl --trees /work/main,. --at-once 1,10,50 \
        [--rounds 2] [--procs 2] [--profile]

``make``: generated station databases (``bench_push.station_batches``: the generator's requests, the
whole ledger queued as for a first sync, cut into the station's own push batches of ``PUSH_BATCH``),
pickled. ``ab``: for each round, each "at once" count and each tree (alternated), a child process
with ``PYTHONPATH`` set to the tree makes a fresh throwaway PostgreSQL hub (``qi_sync_*``, or
``$QI_TEST_PG_PREFIX``), registers the stations, then pushes: ``--procs`` processes (the hub serve's
workers), each with one thread per station it holds, every station its batches in order. Reported
per run: wall, changes/s, CPU seconds of the pushing processes and of the PostgreSQL backends serving
the database (sampled from /proc while they live), CPU µs per change; then the check that nothing was
lost or held twice (requests, events and digests at the hub against what was pushed).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
os.environ.setdefault("QI_STATION_OPERATOR", "bench")


def make(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE))
    from bench_push import station_batches

    from qi_station.sync.proto import PUSH_BATCH

    d = Path(tempfile.mkdtemp(prefix="qi_bench_apply_"))
    out: dict[str, list[list[dict[str, Any]]]] = {}
    for i in range(args.stations):
        code = f"PA{i:03d}"
        out[code] = station_batches(d, code, args.requests, i + 1, args.batch or PUSH_BATCH)
        print(code, sum(len(b) for b in out[code]), "changes", flush=True)
    with open(args.out, "wb") as fh:
        pickle.dump(out, fh)


def _cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return -1.0


class ServerCpu:
    """The CPU of the PostgreSQL backends of one database, sampled while they live (a backend that
    ends between two samples loses at most one interval)."""

    def __init__(self, admin_url: str, db: str) -> None:
        self.admin, self.db = admin_url, db
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def pids(self) -> list[int]:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as c:
            return [
                r[0] for r in c.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.db,))
            ]

    def sample(self) -> None:
        for pid in self.pids():
            v = _cpu(pid)
            if v < 0:
                continue
            self.start.setdefault(pid, v)
            self.last[pid] = v

    def run(self) -> None:
        while not self.stop.wait(0.25):
            self.sample()

    def begin(self) -> None:
        self.sample()
        self.t.start()

    def end(self) -> float:
        self.sample()
        self.stop.set()
        self.t.join()
        return sum(self.last[p] - self.start[p] for p in self.last)


def _worker(
    url: str, work: list[tuple[str, list[list[dict[str, Any]]]]], go: Any, q: Any, prof: bool
) -> None:
    """(A child) push each station's batches, one thread per station, after ``go``."""
    from qi_station.sync.hub.store import Hub

    hub = Hub(url)
    with hub.engine.connect():  # the engine and its pool made before the clock
        pass
    from qi_station.sync.proto import SyncError

    errors: list[str] = []
    busy = [0]

    def one(code: str, batches: list[list[dict[str, Any]]]) -> None:
        try:
            for b in batches:
                while True:
                    try:
                        hub.push({"code": code}, b)
                        break
                    except SyncError as e:  # a busy hub (every pooled connection in use): the
                        if e.code != "busy":  # client waits and sends the batch again
                            raise
                        busy[0] += 1
                        time.sleep(0.2)
        except Exception as e:  # noqa: BLE001 - counted, reported
            errors.append(f"{code}: {type(e).__name__}: {e}"[:300])

    profiler = None
    if prof:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
    go.wait()
    c0 = time.process_time()
    if profiler is not None:
        profiler.enable()
    if len(work) == 1:  # in this thread (the profiler sees only its own thread)
        one(*work[0])
    else:
        ts = [threading.Thread(target=one, args=w) for w in work]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    if profiler is not None:
        profiler.disable()
        if os.environ.get("BENCH_PROFILE_OUT"):
            profiler.dump_stats(os.environ["BENCH_PROFILE_OUT"])
        import io
        import pstats

        s = io.StringIO()
        pstats.Stats(profiler, stream=s).sort_stats("tottime").print_stats(35)
        pstats.Stats(profiler, stream=s).sort_stats("cumtime").print_stats(35)
        sys.stderr.write(s.getvalue())
    q.put((time.process_time() - c0, errors, busy[0]))


def run(args: argparse.Namespace) -> None:
    """(A child, PYTHONPATH at one tree) one hub, ``--at-once`` stations pushing; prints one JSON line."""
    import multiprocessing as mp

    import sqlalchemy as sa

    sys.path.insert(0, str(HERE.parent / "tests"))
    from test_sync_util import PG_ADMIN, pg_create, pg_drop

    import qi_station
    from qi_station.sync.hub.store import Hub

    with open(args.data, "rb") as fh:
        data: dict[str, Any] = pickle.load(fh)
    codes = sorted(data)[: args.at_once]
    url = pg_create()
    try:
        hub = Hub(url)
        hub.init(demo=False)
        for code in codes:
            hub.add_station(code, f"{code}站")
        hub.dispose()
        ctx = mp.get_context("fork")
        go, q = ctx.Event(), ctx.Queue()
        procs = min(args.procs, len(codes))
        parts = [[(c, data[c]) for c in codes[i::procs]] for i in range(procs)]
        ps = [ctx.Process(target=_worker, args=(url, p, go, q, args.profile)) for p in parts]
        for p in ps:
            p.start()
        time.sleep(1.0)  # the children's engines connect (not timed)
        srv = ServerCpu(PG_ADMIN, url.rsplit("/", 1)[1])
        srv.begin()
        w0 = time.perf_counter()
        go.set()
        got = [q.get() for _ in ps]
        wall = time.perf_counter() - w0
        server = srv.end()
        for p in ps:
            p.join()
        cpu = sum(g[0] for g in got)
        errors = [e for g in got for e in g[1]]
        busy = sum(g[2] for g in got)
        n = sum(len(b) for c in codes for b in data[c])
        want_req = sum(1 for c in codes for b in data[c] for ch in b if ch["table"] == "request")
        hub = Hub(url)
        with hub.engine.connect() as c:
            held = dict(
                c.execute(
                    sa.text(
                        "SELECT 'req', count(DISTINCT id) FROM request UNION ALL "
                        "SELECT 'num', count(DISTINCT number) FROM request UNION ALL "
                        "SELECT 'reqrows', count(*) FROM request UNION ALL "
                        "SELECT 'ev', count(*) FROM request_event UNION ALL "
                        "SELECT 'oseq', count(*) FROM hub_oseq UNION ALL "
                        "SELECT 'rm', count(*) FROM report_month UNION ALL "
                        "SELECT 'low', count(*) FROM report_low_rating UNION ALL "
                        "SELECT 'first', count(*) FROM request_first"
                    )
                ).all()
            )
            tables = {
                r[0]: list(r[1:])
                for r in c.execute(
                    sa.text(
                        "SELECT relname, seq_scan, seq_tup_read, idx_scan, autovacuum_count, "
                        "autoanalyze_count FROM pg_stat_user_tables WHERE relname IN "
                        "('request', 'request_event', 'enterprise', 'hub_oseq', 'report_month')"
                    )
                )
            }
        hub.dispose()
        want_ids = {ch["row"]["id"] for c in codes for b in data[c] for ch in b if ch["table"] == "request"}
        want_ev = {
            ch["row"]["id"] for c in codes for b in data[c] for ch in b if ch["table"] == "request_event"
        }
        print(
            json.dumps(
                {
                    "tree": str(Path(qi_station.__file__).resolve().parents[1]),
                    "at_once": len(codes),
                    "changes": n,
                    "wall": wall,
                    "cpu": cpu,
                    "server": server,
                    "errors": errors[:3],
                    "n_errors": len(errors),
                    "busy_retries": busy,
                    "held": held,
                    "tables": tables,
                    "want": {"req": len(want_ids), "ev": len(want_ev), "oseq": n, "req_changes": want_req},
                }
            ),
            flush=True,
        )
    finally:
        pg_drop(url)


def ab(args: argparse.Namespace) -> None:
    trees = [str(Path(t).resolve()) for t in args.trees.split(",")]
    rows = []
    print(f"load average before: {os.getloadavg()}", flush=True)
    for rnd in range(args.rounds):
        for k in [int(x) for x in args.at_once.split(",")]:
            order = trees if rnd % 2 == 0 else trees[::-1]
            for tree in order:
                env = {**os.environ, "PYTHONPATH": tree}
                cmd = [sys.executable, __file__, "run", "--data", args.data, "--at-once", str(k)]
                cmd += ["--procs", str(args.procs)] + (["--profile"] if args.profile else [])
                la = os.getloadavg()[0]
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
                if args.profile:
                    sys.stderr.write(f"==== {tree} at once {k}\n{out.stderr}")
                line = [x for x in out.stdout.splitlines() if x.startswith("{")]
                if not line:
                    print(f"FAILED {tree} {k}: {out.stderr[-2000:]}", flush=True)
                    continue
                r = json.loads(line[-1])
                r["load"] = la
                r["round"] = rnd
                rows.append(r)
                n = r["changes"]
                ok = (
                    r["held"]["req"] == r["want"]["req"] == r["held"]["reqrows"] == r["held"]["num"]
                    and r["held"]["ev"] == r["want"]["ev"]
                    and r["held"]["oseq"] == n
                )
                print(
                    f"| {Path(tree).name} | {k} | {n:,} | {r['wall']:.2f} | {n / r['wall']:,.0f} | "
                    f"{r['cpu']:.2f} | {r['server']:.2f} | {1e6 * r['cpu'] / n:.0f} | "
                    f"{1e6 * r['server'] / n:.0f} | {1e6 * (r['cpu'] + r['server']) / n:.0f} | "
                    f"{r['n_errors']} ({r['busy_retries']} busy) | {'ok' if ok else 'MISMATCH ' + json.dumps(r['held'])} | {la:.1f} |",
                    flush=True,
                )
                if r["errors"]:
                    print("   errors:", r["errors"], flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--stations", type=int, default=1)
    m.add_argument("--requests", type=int, default=1870)
    m.add_argument("--batch", type=int, default=0)
    m.add_argument("--out", required=True)
    r = sub.add_parser("run")
    r.add_argument("--data", required=True)
    r.add_argument("--at-once", type=int, default=1)
    r.add_argument("--procs", type=int, default=2)
    r.add_argument("--profile", action="store_true")
    a = sub.add_parser("ab")
    a.add_argument("--data", required=True)
    a.add_argument("--trees", required=True)
    a.add_argument("--at-once", default="1")
    a.add_argument("--rounds", type=int, default=1)
    a.add_argument("--procs", type=int, default=2)
    a.add_argument("--profile", action="store_true")
    a.add_argument("--json", default="")
    args = ap.parse_args()
    {"make": make, "run": run, "ab": ab}[args.cmd](args)


if __name__ == "__main__":
    main()
