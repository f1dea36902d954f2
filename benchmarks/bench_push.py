"""The hub's push apply, in process: changes per second applied by ``Hub.push`` (every rule, the chain
checks, the seq stamp, the ack), beside a raw baseline in the same run (one ``executemany`` per table
of the same rows into the same tables of a fresh hub, one transaction per batch).

    python benchmarks/bench_push.py [--stations 4] [--requests 300] [--backend sqlite|pg|both]
                                    [--batch 500] [--profile]

Each station is a real station database (the generator's requests, its whole ledger queued as for a
first sync, the way ``bench_rush.py`` makes them); its outbox is cut into the station's own push
batches (``sync.station.apply.next_batch``). A third pass pushes the same batches the way the hub did
before the month rollup was kept once per batch (its per-row triggers left on). Prints Markdown: wall seconds and changes/s, the CPU
seconds of this process and, on PostgreSQL, of its server backends (read from /proc: the server on
this machine), and the bytes the hub database grew by per change. On a loaded machine compare the
CPU columns, not the wall. ``--profile``: the top of a cProfile of the push pass (the per-batch one; its figures carry the
profiler's cost).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QI_STATION_OPERATOR", "bench")


def station_batches(d: Path, code: str, requests: int, seed: int, batch: int) -> list[list[dict[str, Any]]]:
    """A generated station's first-sync outbox, as the push batches the station would send."""
    from qi_station.db.engine import open_db
    from qi_station.devtools.generate.run import generate
    from qi_station.services.station import init_station
    from qi_station.sync.station import apply as S
    from qi_station.sync.station.heal import resend_all

    db = d / f"{code}.db"
    init_station(open_db(db), code=code)
    generate(db, requests=requests, library=0, seed=seed)
    conn = S.open_conn(db)
    out = []
    try:
        resend_all(conn, 0)
        while True:
            b = S.next_batch(conn, batch)
            if not b:
                break
            out.append(b)
            S.ack(conn, b[-1]["oseq"])
    finally:
        conn.close()
    return out


def new_hub(backend: str, d: Path, name: str) -> Any:
    from qi_station.sync.hub.store import Hub

    if backend == "pg":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from test_sync_util import pg_create

        url = pg_create()
    else:
        url = f"sqlite:///{d / name}"
    hub = Hub(url)
    hub.init(demo=False)
    return hub


SERVER: dict[str, float] = {}  # PostgreSQL backends' CPU seconds in the last pass, by hub URL


def server_cpu(hub: Any) -> float:
    """CPU seconds of the PostgreSQL backends serving this database (same machine, Linux), else 0."""
    import sqlalchemy as sa

    if hub.is_sqlite:
        return 0.0
    with hub.engine.connect() as c:
        pids = [
            r[0]
            for r in c.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
        ]
    total = 0.0
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
    return total


def push_pass(
    hub: Any, stations: dict[str, list[list[dict[str, Any]]]], prof: Any = None
) -> tuple[float, float, int]:
    """Every station's batches through ``Hub.push``, station after station. (wall, cpu, changes)"""
    import copy

    work = []  # copies made before the clock starts: push may change the rows it is given
    for code, batches in stations.items():
        hub.add_station(code, f"{code}站")
        st = {"code": code}
        work.extend((st, copy.deepcopy(b)) for b in batches)
    n = 0
    s0 = server_cpu(hub)
    w0, c0 = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.enable()
    for st, b in work:
        hub.push(st, b)
        n += len(b)
    if prof is not None:
        prof.disable()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    SERVER[hub.url] = server_cpu(hub) - s0
    return wall, cpu, n


def per_row_pass(hub: Any, stations: dict[str, list[list[dict[str, Any]]]]) -> tuple[float, float, int]:
    """The push as it was before issue 13 goal 6: the month rollup kept by its per-row triggers (every
    event recomputes its request's contribution) instead of once per batch (``rollup.held``)."""
    from contextlib import contextmanager

    from qi_station.db import rollup

    @contextmanager
    def per_row(_conn: Any, _ids: Any) -> Any:
        yield

    held, rollup.held = rollup.held, per_row  # type: ignore[assignment]
    try:
        return push_pass(hub, stations)
    finally:
        rollup.held = held  # type: ignore[method-assign]


def raw_pass(hub: Any, stations: dict[str, list[list[dict[str, Any]]]]) -> tuple[float, float, int]:
    """The baseline: the same rows (the last state of each id) inserted with one executemany per table
    and column set per batch, in one transaction per batch; no rule, no check, no seq."""
    from qi_station.sync.hub.tables import coerce_row, core_table
    from qi_station.sync.proto import TABLE_RANK

    prepared = []
    for batches in stations.values():
        seen: set[tuple[str, str]] = set()
        for b in batches:
            per: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
            last: dict[tuple[str, str], dict[str, Any]] = {}
            for ch in b:
                row = coerce_row(ch["table"], ch["row"], strict=True)
                row["seq"] = 0
                last[(ch["table"], row["id"])] = row
            for (t, rid), row in last.items():
                if (t, rid) in seen:
                    continue
                seen.add((t, rid))
                per.setdefault((t, tuple(sorted(row))), []).append(row)
            prepared.append(sorted(per.items(), key=lambda kv: TABLE_RANK[kv[0][0]]))
    n = sum(len(b) for bs in stations.values() for b in bs)
    w0, c0 = time.perf_counter(), time.process_time()
    with hub.engine.execution_options(sqlite_read=False).connect() as c:
        for groups in prepared:
            with c.begin():
                for (t, _cols), rows in groups:
                    c.execute(core_table(t).insert(), rows)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        SERVER[hub.url] = server_cpu(hub)  # the backend is still connected: its CPU is readable
    return wall, cpu, n


def db_size(hub: Any) -> int:
    """Bytes the hub database takes (PostgreSQL: the database; SQLite: the file and its WAL)."""
    import sqlalchemy as sa

    if hub.is_sqlite:
        p = Path(hub.sqlite_path)
        return sum(q.stat().st_size for q in (p, Path(f"{p}-wal")) if q.exists())
    with hub.engine.connect() as c:
        return int(c.execute(sa.text("SELECT pg_database_size(current_database())")).scalar() or 0)


def main() -> None:
    """The passes; on PostgreSQL every throwaway ``qi_sync_*`` database goes, pass or fail (a SIGTERM
    too: it exits through the ``atexit`` drop of ``test_sync_util.pg_create``)."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        passes()
    finally:
        if "test_sync_util" in sys.modules:
            for name in sys.modules["test_sync_util"].pg_drop_left():
                print(f"dropped the run's database {name}")


def passes() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stations", type=int, default=4)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--backend", choices=("sqlite", "pg", "both"), default="both")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()

    d = Path(tempfile.mkdtemp(prefix="qi_bench_push_"))
    t0 = time.perf_counter()
    stations = {
        f"BP{i:03d}": station_batches(d, f"BP{i:03d}", args.requests, i + 1, args.batch)
        for i in range(args.stations)
    }
    setup = time.perf_counter() - t0
    changes = sum(len(b) for bs in stations.values() for b in bs)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{args.stations} stations x {args.requests} requests = {changes:,} changes in batches of "
        f"{args.batch}; setup {setup:.0f} s\n"
    )
    print("| backend | pass | wall s | changes/s | CPU s (this process) | CPU s (PostgreSQL) | wall vs raw |")
    print("|---|---|---|---|---|---|---|")
    backends = ("sqlite", "pg") if args.backend == "both" else (args.backend,)
    for be in backends:
        raw_hub = new_hub(be, d, "raw.db")
        raw = raw_pass(raw_hub, stations)
        old_hub = new_hub(be, d, "old.db")
        old = per_row_pass(old_hub, stations)
        hub = new_hub(be, d, "hub.db")
        size0 = db_size(hub)
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile(time.process_time)  # CPU time: on a loaded box the wall is others' work
            got = push_pass(hub, stations, prof)
        else:
            got = push_pass(hub, stations)
        n_changes = got[2]
        for name, (w, cpu, n), h in (
            ("raw executemany (baseline)", raw, raw_hub),
            ("Hub.push, rollup per row (before)", old, old_hub),
            ("Hub.push, rollup per batch", got, hub),
        ):
            srv = f"{SERVER.get(h.url, 0.0):.2f}" if be == "pg" else "—"
            print(f"| {be} | {name} | {w:.2f} | {n / w:,.0f} | {cpu:.2f} | {srv} | {w / raw[0]:.1f}× |")
        print(
            f"| {be} | hub database after the push pass | {(db_size(hub) - size0) / n_changes:,.0f} bytes per change | | | |"
        )
        if args.profile:
            pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(45)
        for h in (raw_hub, old_hub, hub):
            h.dispose()
            if be == "pg":  # the throwaway databases go
                from test_sync_util import pg_drop

                pg_drop(h.url)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
