"""The province's morning rush: many stations make their first sync at once against one hub.

    python benchmarks/bench_rush.py [--stations 50] [--requests 1100] [--library 20000]
                                    [--backend sqlite|pg] [--workers 2] [--burn 0] [--steady 20]

Each station is a real station database (the generator's requests, ~10 outbox rows per request once
queued) enrolled at a real ``qi-station hub serve`` on loopback; then every station runs
``qi-station sync`` in its own process, all started together. Reported: the wall time of the rush,
per-station p50 / p95, how many failed (a sync that gave up), the pushed changes per second the hub
applied, and the check that nothing was lost or duplicated (every station's requests at the hub, once,
under their numbers). Beside it, the baseline measured in the same run: one station's first sync alone.
``--burn N`` starts N CPU-bound processes beside the rush (an office PC is never quiet).
``--steady N``: after the rush, every station makes about N changes (new requests of its own
enterprises) and all sync again at once: a steady morning round, per-station p50 / p95.
Where the CPU went (Linux): the stations' processes (their start-up, outbox, the library pull into
SQLite, the ledger check after sync) and the hub server's processes, in CPU seconds; on this one box
they share the cores, so a rush that is mostly station CPU measures the box, not the hub.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QI_STATION_OPERATOR", "bench")

from bench_push import new_hub, server_cpu  # noqa: E402
from bench_sync import fill_hub, free_port  # noqa: E402


def burn() -> None:  # pragma: no cover - a CPU hog for the loaded runs
    while True:
        pass


def _generate_into(kept: str, code: str, requests: int, seed: int) -> None:
    """(In a pool process) a station database with generated requests, written to ``kept``."""
    from qi_station.db.engine import open_db
    from qi_station.devtools.generate.run import generate
    from qi_station.services.station import init_station

    part = Path(kept).with_suffix(".part.db")
    for f in (part, Path(f"{part}-wal"), Path(f"{part}-shm")):
        f.unlink(missing_ok=True)
    init_station(open_db(part), code=code)
    generate(part, requests=requests, library=0, seed=seed)
    c = sqlite3.connect(part)
    try:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file is the whole database
    finally:
        c.close()
    part.replace(kept)


def station_file(cache: Path, code: str, requests: int, seed: int) -> Path:
    from qi_station.db.engine import SCHEMA_HEAD

    return cache / f"{code}-r{requests}-s{seed}-{SCHEMA_HEAD}.db"


def fill_cache(cache: Path, codes: list[str], requests: int) -> None:
    """Generate the stations the cache lacks, two processes at a time. Never in this process: a
    database file this process had open and then copied (``shutil.copyfile`` opens and closes it)
    loses this process's POSIX locks on it, and a station process writing it then corrupts it."""
    from concurrent.futures import ProcessPoolExecutor

    cache.mkdir(parents=True, exist_ok=True)
    todo = [(str(station_file(cache, c, requests, i + 1)), c, requests, i + 1) for i, c in enumerate(codes)]
    todo = [t for t in todo if not Path(t[0]).exists()]
    if todo:
        with ProcessPoolExecutor(2) as ex:
            list(ex.map(_generate_into, *zip(*todo, strict=True)))


def generated(d: Path, code: str, requests: int, seed: int, cache: Path | None) -> Path:
    """A station database with ``requests`` generated requests (not enrolled): a copy of the one in
    ``cache`` (made there by :func:`fill_cache` when missing; a throwaway cache when None)."""
    import shutil

    cache = cache or d / "generated"
    kept = station_file(cache, code, requests, seed)
    if not kept.exists():
        from concurrent.futures import ProcessPoolExecutor

        cache.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor(1) as ex:  # not in this process: see fill_cache
            ex.submit(_generate_into, str(kept), code, requests, seed).result()
    db = d / f"{code}.db"
    shutil.copyfile(kept, db)
    return db


def make_station(
    hub: object, d: Path, code: str, requests: int, seed: int, url: str, cache: Path | None = None
) -> Path:
    """A station database with ``requests`` generated requests, enrolled, its whole ledger queued."""
    return enroll_station(hub, generated(d, code, requests, seed, cache), code, url)


def enroll_station(hub: object, db: Path, code: str, url: str) -> Path:
    """Enroll a generated station at the hub's server; its whole ledger queued (a first sync)."""
    from qi_station.sync.station import apply as S
    from qi_station.sync.station import client as C
    from qi_station.sync.station.heal import resend_all

    C.enroll(db, hub.add_station(code, f"{code}站")["token"], url)  # type: ignore[attr-defined]
    conn = S.open_conn(db)
    try:
        resend_all(conn, 0)  # everything the station holds is still to be pushed: a first sync
        conn.execute("DELETE FROM kv WHERE k IN ('resync', 'resync_cursor')")  # a plain first pull
        conn.commit()
    finally:
        conn.close()
    return db


def p95(xs: list[float]) -> float:
    """The 95th percentile of sorted values (nearest rank)."""
    import math

    return xs[max(0, min(len(xs) - 1, math.ceil(0.95 * len(xs)) - 1))]


def tree_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a process, its live children and the children it has reaped
    (a uvicorn worker replaced during the run keeps counting), from /proc (None elsewhere)."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                f = (d / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(d.name) == pid:
                total += (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / tick
            elif int(f[1]) == pid:
                total += (int(f[11]) + int(f[12])) / tick
        return total
    except (OSError, ValueError):
        return None


def children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def add_changes(db: Path, n: int) -> None:
    """About ``n`` outbox rows of ordinary work: new requests for the station's own enterprises."""
    from qi_station.services import ledger

    c = sqlite3.connect(db)
    ents = c.execute("SELECT name, uscc FROM enterprise ORDER BY id LIMIT 5").fetchall()
    c.close()
    before = pending(db)
    i = 0
    while pending(db) - before < n:
        name, uscc = ents[i % len(ents)]
        ledger.create_request(
            db, ledger.RequestInput(enterprise=name, uscc=uscc, elements="standards", title=f"晨间咨询{i}")
        )
        i += 1


def hub_ms(log: Path, offset: int) -> dict[str, float]:
    """Milliseconds the hub spent on each station's calls (its access log from ``offset`` on)."""

    per: dict[str, float] = {}
    for x in access_lines(log, offset):
        if x.get("station"):
            per[x["station"]] = per.get(x["station"], 0.0) + float(x.get("ms") or 0)
    return per


def access_lines(log: Path, offset: int) -> list[dict[str, Any]]:
    """The hub's access-log lines (JSON objects) from ``offset`` on; none when there is no log."""
    import json

    out: list[dict[str, Any]] = []
    if not log.exists():
        return out
    with open(log, encoding="utf-8") as f:
        f.seek(offset)
        for line in f:
            try:
                x = json.loads(line)
            except ValueError:
                continue
            if isinstance(x, dict):
                out.append(x)
    return out


def pending(db: Path) -> int:
    c = sqlite3.connect(db)
    try:
        return int(c.execute("SELECT count(*) FROM outbox").fetchone()[0])
    finally:
        c.close()


def run_syncs(
    dbs: list[Path], env: dict[str, str], cmd: tuple[str, ...] = ("sync", "--json")
) -> list[tuple[Path, float, int, str]]:
    """Start one ``qi-station sync --json`` (or ``cmd``) per station at once; wait for all.
    (db, seconds, rc, tail)"""
    procs = []
    for db in dbs:
        e = dict(env, QI_STATION_DB=str(db))
        t0 = time.perf_counter()
        p = subprocess.Popen(
            [sys.executable, "-m", "qi_station", *cmd],
            env=e,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        procs.append((db, t0, p))
    out = []
    for db, t0, p in procs:
        so, se = p.communicate()
        out.append((db, time.perf_counter() - t0, p.returncode, (se or so)[-300:]))
    return out


def hub_counts(url: str) -> tuple[int, int]:
    import sqlalchemy as sa

    from qi_station.sync.hub.store import Hub

    with Hub(url).engine.connect() as c:
        n = c.execute(sa.text("SELECT count(*) FROM request")).scalar() or 0
        dup = c.execute(
            sa.text("SELECT count(*) FROM (SELECT number FROM request GROUP BY number HAVING count(*) > 1) x")
        ).scalar()
    return int(n), int(dup or 0)


def rush() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stations", type=int, default=50)
    ap.add_argument("--requests", type=int, default=1100)
    ap.add_argument("--library", type=int, default=20000)
    ap.add_argument("--backend", choices=("sqlite", "pg"), default="sqlite")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--burn", type=int, default=0)
    ap.add_argument("--steady", type=int, default=0, help="changes per station in a second, steady round")
    ap.add_argument(
        "--mode",
        choices=("clients", "replay"),
        default="clients",
        help="clients: a `qi-station sync` process per station; replay: one driver process replays every "
        "station's signed push and pull calls at once (benchmarks/rush_replay.py)",
    )
    ap.add_argument(
        "--cache",
        default=str(Path(tempfile.gettempdir()) / "qi_bench_rush_stations"),
        help="generated station databases kept here between runs ('' for none)",
    )
    args = ap.parse_args()
    if args.mode == "replay":
        replay_rush(args)
        return

    d = Path(tempfile.mkdtemp(prefix="qi_bench_rush_"))
    hub, base, srv = start_hub(args, d)  # PostgreSQL: the tests' throwaway database
    url = hub.url
    hogs: list[subprocess.Popen[bytes]] = []
    try:
        t0 = time.perf_counter()
        fill_cache(
            Path(args.cache) if args.cache else d / "generated",
            [f"RS{i:03d}" for i in range(args.stations + 1)],
            args.requests,
        )
        dbs = [
            make_station(
                hub, d, f"RS{i:03d}", args.requests, i + 1, base, Path(args.cache) if args.cache else None
            )
            for i in range(args.stations + 1)
        ]
        setup = time.perf_counter() - t0
        outbox = sum(sqlite3.connect(db).execute("SELECT count(*) FROM outbox").fetchone()[0] for db in dbs)
        env = {k: v for k, v in os.environ.items() if k != "QI_STATION_DB"}
        for _ in range(args.burn):
            hogs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_rush; bench_rush.burn()",
                    ]
                )
            )
        alone = run_syncs(dbs[:1], env)[0]  # the baseline: one station's first sync, alone
        hub_cpu0, st_cpu0 = tree_cpu(srv.pid), children_cpu()
        t0 = time.perf_counter()
        got = run_syncs(dbs[1:], env)
        wall = time.perf_counter() - t0
        hub_cpu1, st_cpu1 = tree_cpu(srv.pid), children_cpu()
        steady: list[tuple[Path, float, int, str]] = []
        if args.steady:
            for db in dbs[1:]:
                add_changes(db, args.steady)
            steady_rows = sum(pending(db) for db in dbs[1:])
            st_cpu2 = children_cpu()
            t1 = time.perf_counter()
            idle = run_syncs(dbs[1:], env, ("sync", "status", "--json"))  # the baseline: no hub call
            idle_wall, st_cpu3 = time.perf_counter() - t1, children_cpu()
            hub_cpu2, pg_cpu2 = tree_cpu(srv.pid), server_cpu(hub)
            log_at = (d / "access.log").stat().st_size if (d / "access.log").exists() else 0
            t1 = time.perf_counter()
            steady = run_syncs(dbs[1:], env)
            steady_wall = time.perf_counter() - t1
            hub_cpu3, st_cpu4, pg_cpu3 = tree_cpu(srv.pid), children_cpu(), server_cpu(hub)
    finally:
        for h in hogs:
            h.kill()
        srv.terminate()
        srv.wait(timeout=30)
    secs = sorted(g[1] for g in got)
    failed = [g for g in got if g[2] != 0]
    n, dup = hub_counts(url)
    expect = sum(sqlite3.connect(db).execute("SELECT count(*) FROM request").fetchone()[0] for db in dbs)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    )
    print(
        f"hub {args.backend}, {args.workers} workers; {args.stations} stations x {args.requests} requests; "
        f"library {args.library}; {args.burn} CPU hogs; setup {setup:.0f} s; {outbox:,} outbox rows in all"
    )
    print(f"baseline: one station's first sync alone: {alone[1]:.1f} s (rc {alone[2]})")
    print(
        f"rush: {wall:.1f} s wall; per station p50 {statistics.median(secs):.1f} s, "
        f"p95 {p95(secs):.1f} s; failed {len(failed)}; "
        f"~{outbox / wall:,.0f} pushed changes/s"
    )
    if hub_cpu0 is not None and hub_cpu1 is not None:
        print(
            f"CPU during the rush: stations {st_cpu1 - st_cpu0:.0f} s, hub server {hub_cpu1 - hub_cpu0:.0f} s "
            f"(PostgreSQL not counted); load average {os.getloadavg()[0]:.1f}"
        )
    if steady:
        ss = sorted(g[1] for g in steady)
        failed += [g for g in steady if g[2] != 0]
        print(
            f"steady round: {steady_rows:,} changes from {len(steady)} stations at once: {steady_wall:.1f} s wall; "
            f"per station p50 {statistics.median(ss):.1f} s, p95 {p95(ss):.1f} s "
            f"(each a `qi-station sync` process: start-up, push, pull, ledger check); "
            f"failed {sum(1 for g in steady if g[2] != 0)}"
        )
        si = sorted(g[1] for g in idle)
        print(
            f"baseline, same run: {len(idle)} `qi-station sync status` processes at once (start-up, open the "
            f"station database, no hub call): {idle_wall:.1f} s wall; per station p50 {statistics.median(si):.1f} s, "
            f"p95 {p95(si):.1f} s; station CPU {st_cpu3 - st_cpu2:.0f} s"
        )
        per = hub_ms(d / "access.log", log_at)
        if per:
            hs = sorted(per.values())
            print(
                f"the hub's own time per station in the steady round (the sum of its calls' ms in the hub's "
                f"access log: queueing in the hub, push, pull; no station start-up): p50 {statistics.median(hs):.0f} ms, "
                f"p95 {p95(hs):.0f} ms, max {hs[-1]:.0f} ms over {len(hs)} stations"
            )
        if hub_cpu2 is not None and hub_cpu3 is not None:
            print(
                f"CPU during the steady round: stations {st_cpu4 - st_cpu3:.0f} s, hub server "
                f"{hub_cpu3 - hub_cpu2:.1f} s, PostgreSQL backends of the hub's database "
                f"{pg_cpu3 - pg_cpu2:.1f} s (SQLite: 0); load average {os.getloadavg()[0]:.1f}"
            )
    print(f"hub holds {n:,} requests of {expect:,} made; {dup} numbers held twice")
    for f in failed[:5]:
        print("FAILED", f[0].name, f[3].replace("\n", " ")[:300])
    if n != expect or dup or failed:
        sys.exit(1)


def start_hub(args: argparse.Namespace, d: Path) -> tuple[Any, str, subprocess.Popen[bytes]]:
    """The hub (a throwaway PostgreSQL database or a SQLite file) with the library, and its server."""
    import httpx

    hub = new_hub(args.backend, d, "hub.db")
    if args.backend == "sqlite":
        fill_hub(d / "hub.db", args.library)
    else:
        hub.upsert_library(
            [("expert", {"id": f"x-{i:07d}", "name": f"专家{i}号"}) for i in range(args.library)]
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    srv = subprocess.Popen(
        [sys.executable, "-m", "qi_station", "hub", "serve", "--database-url", hub.url, "--port", str(port)]
        + ["--workers", str(args.workers), "--access-log", str(d / "access.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):  # wait for the server to answer (observed progress, not a fixed sleep)
        try:
            httpx.get(f"{base}/openapi.json", timeout=0.5, trust_env=False)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    return hub, base, srv


def replay_rush(args: argparse.Namespace) -> None:
    """``--mode replay``: the stations' calls replayed by this one process (rush_replay.py)."""
    import resource

    import rush_replay as R

    def own_cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    d = Path(tempfile.mkdtemp(prefix="qi_bench_rush_"))
    hub, base, srv = start_hub(args, d)
    cache = Path(args.cache) if args.cache else None
    lines = _Lines()  # each line printed as it comes (a run cut short keeps what it measured)
    failed: list[R.Plan] = []
    try:
        t0 = time.perf_counter()
        codes = [f"RS{i:03d}" for i in range(args.stations + 1)]
        fill_cache(cache or d / "generated", codes, args.requests)
        made = [generated(d, c, args.requests, i + 1, cache) for i, c in enumerate(codes)]
        with ThreadPoolExecutor(4) as ex:  # enrollment waits on the hub: a few at a time
            dbs = list(ex.map(lambda x: enroll_station(hub, x[0], x[1], base), zip(made, codes, strict=True)))
        setup = time.perf_counter() - t0
        t0 = time.perf_counter()
        plans = [R.plan(db) for db in dbs]
        outbox = sum(p.changes for p in plans[1:])
        lines.append(
            f"hub {args.backend}, {args.workers} workers; {args.stations} stations x {args.requests} requests; "
            f"library {args.library}; mode replay (one driver process); setup {setup:.0f} s (station cache "
            f"{cache}); plans {time.perf_counter() - t0:.0f} s; {outbox:,} changes to push in "
            f"{sum(len(p.batches) for p in plans[1:]):,} batches"
        )
        wall = R.replay(base, plans[:1])
        lines.append(
            f"baseline: one station's first sync alone (replayed): {wall:.2f} s, {plans[0].changes:,} changes, "
            f"{plans[0].pulled_rows:,} rows pulled, error {plans[0].error}"
        )

        def pass_(name: str, ps: list[R.Plan], rows: int) -> None:
            h0, pg0, me0, l0 = tree_cpu(srv.pid), server_cpu(hub), own_cpu(), os.getloadavg()[0]
            log_at = (d / "access.log").stat().st_size if (d / "access.log").exists() else 0
            with WaitSampler(hub) as ws:
                wall = R.replay(base, ps)
            h1, pg1, me1 = tree_cpu(srv.pid), server_cpu(hub), own_cpu()
            lines.extend(phases(ps, d / "access.log", log_at, ws))
            secs = sorted(p.seconds for p in ps)
            bad = [p for p in ps if p.error]
            failed.extend(bad)
            hub_cpu = (h1 or 0) - (h0 or 0)
            pulled = sum(p.pulled_rows for p in ps)
            lines.append(
                f"{name}: {len(ps)} stations at once, {rows:,} changes pushed, {pulled:,} rows pulled: "
                f"**{wall:.1f} s wall**; per station p50 {statistics.median(secs):.2f} s, p95 {p95(secs):.2f} s, "
                f"max {secs[-1]:.2f} s; failed {len(bad)}; ~{rows / wall:,.0f} pushed changes/s; "
                f"busy waits {sum(p.busy_waited for p in ps):.0f} s, retries {sum(p.retries for p in ps)}"
            )
            from collections import Counter

            why = Counter(w.split(":")[0] + ":" + w.split(":", 2)[1][:40] for p in ps for w in p.why)
            if why:
                lines.append(f"  what the waits and retries met: {dict(why.most_common(4))}")
            lines.append(
                f"  CPU: hub server {hub_cpu:.1f} s, PostgreSQL backends {pg1 - pg0:.1f} s, driver {me1 - me0:.1f} s "
                f"({1e6 * (hub_cpu + pg1 - pg0) / max(rows, 1):.0f} µs hub+PostgreSQL per pushed change, pulls "
                f"included); load average {l0:.1f} -> {os.getloadavg()[0]:.1f}"
            )

        pass_("rush (first syncs)", plans[1:], outbox)
        if args.steady:
            for p in plans[1:]:
                R.acked(p)
                add_changes(p.db, args.steady)
            steady = []
            for p in plans[1:]:
                q = R.plan(p.db, since=p.since)
                steady.append(q)
            pass_("steady round", steady, sum(q.changes for q in steady))
    finally:
        srv.terminate()
        srv.wait(timeout=30)
    n, dup = hub_counts(hub.url)
    expect = sum(sqlite3.connect(db).execute("SELECT count(*) FROM request").fetchone()[0] for db in dbs)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    )
    print(f"hub holds {n:,} requests of {expect:,} made; {dup} numbers held twice")
    for f in failed[:5]:
        print("FAILED", f.code, f.error)
    if n != expect or dup or failed:
        sys.exit(1)


class _Lines(list[str]):
    def append(self, line: str) -> None:
        print(line, flush=True)
        super().append(line)

    def extend(self, more: Any) -> None:
        for line in more:
            self.append(line)


class WaitSampler:
    """(PostgreSQL) ``pg_stat_activity`` of the hub's database sampled every 50 ms on a side connection
    while a pass runs: how many of its backends were active, idle in a transaction, or waiting, and on
    what (``wait_event_type:wait_event``). Nothing on SQLite."""

    def __init__(self, hub: Any) -> None:
        self.hub, self.samples = hub, 0
        from collections import Counter

        self.states: Counter[str] = Counter()
        self.waits: Counter[str] = Counter()
        self.peak_active = 0
        self.peak_conns = 0

    def __enter__(self) -> WaitSampler:
        import threading

        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        if not self.hub.is_sqlite:
            self.t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.t.is_alive():
            self.t.join()

    def _run(self) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        u = make_url(self.hub.url)
        with psycopg.connect(
            host=u.host, port=u.port or 5432, user=u.username, dbname=u.database, autocommit=True
        ) as c:
            me = c.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
            while not self.stop.wait(0.05):
                rows = c.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> %s AND backend_type = 'client backend'",
                    (me,),
                ).fetchall()
                self.samples += 1
                active = 0
                for st, wt, we in rows:
                    self.states[st or "?"] += 1
                    if st == "active":
                        active += 1
                        self.waits[f"{wt}:{we}" if wt else "on CPU"] += 1
                self.peak_active = max(self.peak_active, active)
                self.peak_conns = max(self.peak_conns, len(rows))

    def report(self) -> str:
        n = max(self.samples, 1)
        st = ", ".join(f"{k} {v / n:.1f}" for k, v in self.states.most_common())
        wt = ", ".join(f"{k} {v / n:.2f}" for k, v in self.waits.most_common(6))
        return (
            f"  pg_stat_activity ({self.samples} samples, mean backends per sample): {st}; peak "
            f"{self.peak_conns} connections, {self.peak_active} active; active ones on: {wt}"
        )


def phases(ps: list[Any], log: Path, offset: int, ws: WaitSampler) -> list[str]:
    """Where a pass's time went: each call's wall at the driver (push, pull) against the hub's own ms
    for it (its access log: from the request's first byte to its reply), so the rest is the driver and
    the queue in front of the hub's event loop; and the database's activity."""

    def q(xs: list[float]) -> str:
        xs = sorted(xs)
        if not xs:
            return "-"
        return f"n {len(xs)} p50 {1000 * statistics.median(xs):.0f} p95 {1000 * p95(xs):.0f} max {1000 * xs[-1]:.0f} ms"

    out = []
    for path in ("/sync/v1/push", "/sync/v1/pull"):
        out.append(f"  driver-side {path}: {q([s for p in ps for (c, s) in p.calls if c == path])}")
    hub: dict[str, list[float]] = {}
    for x in access_lines(log, offset):
        if x.get("endpoint"):
            hub.setdefault(str(x["endpoint"]), []).append(float(x.get("ms") or 0) / 1000)
    for path, xs in sorted(hub.items()):
        out.append(f"  hub access log {path}: {q(xs)}")
    if ws.samples:
        out.append(ws.report())
    return out


def main() -> None:
    """The rush; on PostgreSQL its throwaway ``qi_sync_*`` database is dropped at the end, pass or fail
    (a SIGTERM too: it exits through ``finally``; the hub server is stopped first)."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        rush()
    finally:
        if "test_sync_util" in sys.modules:  # on the path: new_hub put tests/ there
            for name in sys.modules["test_sync_util"].pg_drop_left():
                print(f"dropped the run's database {name}")


if __name__ == "__main__":
    main()
