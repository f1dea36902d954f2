"""The province monthly report on a PostgreSQL hub (``qi-station hub report monthly``'s code path,
``reports.figures.monthly_report(url, month, hub=True)``), beside a baseline measured in the same run.

    python benchmarks/bench_hub_report.py --url postgresql+psycopg://postgres@127.0.0.1:5432/qi_bench_10m
        [--month YYYY-MM ...] [--repeat 1] [--check] [--steps]

The database is one ``benchmarks/build_hub_pg.py`` built (or any hub). Months: the first with requests,
the busiest and the last (or ``--month``). For each: the report's wall / CPU seconds (median of
``--repeat`` runs after a first one; with the default ``--repeat 1`` the first run itself), and the baseline, psycopg alone: ``SELECT count(*)`` of the
month's events and of the requests received in the month (two index range scans; the floor for
anything that reads the month). ``--check`` also computes the report by the exact path (every event:
``exact=True``) and requires the same figures (slow on a large hub: hours at 10M; use it at 1M).
``--steps`` prints the seconds of each step of the report (its ``progress`` callback). ``--pg-cpu``
also gives the CPU seconds of the report's PostgreSQL backends (every connection of this process, by
its ``application_name``: a child process samples ``/proc/PID/stat`` of each every 10 ms; the server must
run on this machine). No asserts on time; exit status 1 when ``--check`` finds a difference.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QI_STATION_OPERATOR", "bench")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def pick_months(url: str) -> dict[str, str]:
    """first, busiest and last month of receipt (Asia/Shanghai), from the rollup-free request table."""
    import psycopg

    sql = (
        "SELECT to_char(received_at AT TIME ZONE 'UTC' AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS m, "
        "COUNT(*) FROM request GROUP BY m ORDER BY m"
    )
    with psycopg.connect(libpq(url)) as c:
        rows = c.execute(sql).fetchall()
    busiest = max(rows, key=lambda r: r[1])[0]
    return {"first": rows[0][0], "busiest": busiest, "last": rows[-1][0]}


APP = f"bench_hub_report_{os.getpid()}"  # the report's connections' application_name (PGAPPNAME)


def sample_backends(url: str, app: str) -> None:
    """The ``--pg-cpu`` child: until its stdin closes, the CPU ticks last seen of every backend of
    ``application_name`` ``app``; prints their sum in seconds."""
    import threading

    import psycopg

    seen: dict[int, int] = {}
    pids: set[int] = set()
    done = threading.Event()

    def wait_stdin() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_stdin, daemon=True).start()
    with psycopg.connect(libpq(url), autocommit=True) as c:
        asked = 0.0
        while not done.is_set():
            if time.monotonic() - asked > 0.05:
                sql = "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
                pids |= {r[0] for r in c.execute(sql, (app,))}
                asked = time.monotonic()
            for pid in list(pids):
                try:
                    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
                        stat = f.read().rsplit(")", 1)[1].split()
                    seen[pid] = int(stat[11]) + int(stat[12])  # utime + stime
                except OSError:
                    pids.discard(pid)
            time.sleep(0.01)
    print(sum(seen.values()) / os.sysconf("SC_CLK_TCK"), flush=True)


class Backends:
    """``--pg-cpu``: the CPU seconds of this process's PostgreSQL backends between start and stop."""

    def __init__(self, url: str, on: bool) -> None:
        self.url, self.on, self.seconds = url, on, float("nan")
        self.child: Any = None

    def __enter__(self) -> Backends:
        import subprocess

        if self.on:
            args = [sys.executable, __file__, "--url", self.url, "--sample-backends", APP]
            self.child = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            time.sleep(0.3)  # connected and sampling
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.child is not None:
            out, _ = self.child.communicate("")
            self.seconds = float(out.strip() or "nan")


def timed(fn: Any, repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--month", action="append", help="months to measure (default: first, busiest, last)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--check", action="store_true", help="also compare with the exact path (slow)")
    ap.add_argument("--steps", action="store_true", help="print the seconds of each report step")
    ap.add_argument("--pg-cpu", action="store_true", help="also the CPU seconds of the PostgreSQL backends")
    ap.add_argument("--sample-backends", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.sample_backends:
        sample_backends(a.url, a.sample_backends)
        return 0
    os.environ["PGAPPNAME"] = APP

    import psycopg

    from qi_station.core.months import month_bounds_utc
    from qi_station.reports.figures import monthly_report

    with psycopg.connect(libpq(a.url)) as c:
        n_req, n_ev = c.execute(
            "SELECT (SELECT COUNT(*) FROM request), (SELECT COUNT(*) FROM request_event)"
        ).fetchone() or (0, 0)
        n_st = (c.execute("SELECT COUNT(*) FROM hub_station").fetchone() or (0,))[0]
        pgv = (c.execute("SHOW server_version").fetchone() or ("?",))[0]
    months = {m: m for m in a.month} if a.month else pick_months(a.url)
    load = os.getloadavg()
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, python {platform.python_version()}, "
        f"PostgreSQL {pgv}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n"
        f"hub: {n_req:,} requests, {n_ev:,} events, {n_st} stations\n"
    )
    print(
        "| month | details rows | province report wall / CPU s | baseline: count the month's events "
        "+ receipts (psycopg) wall s | report / baseline |"
    )
    print("|---|---|---|---|---|")
    status = 0
    for label, month in months.items():
        start, end = month_bounds_utc(month)
        steps: list[tuple[str, float]] = []

        def step(name: str, steps: list[tuple[str, float]] = steps) -> None:
            steps.append((name, time.perf_counter()))

        t0, c0 = time.perf_counter(), time.process_time()
        rep = monthly_report(a.url, month, hub=True, progress=step if a.steps else None)  # the first run
        done = time.perf_counter()
        first = (done - t0, time.process_time() - c0)
        if a.check:
            exact = monthly_report(a.url, month, hub=True, exact=True)
            rep.pop("generated_at"), exact.pop("generated_at")
            if rep != exact:
                print(f"MISMATCH rollup != exact in {month}: {[k for k in rep if rep[k] != exact.get(k)]}")
                status = 1
            else:
                print(f"{month}: the report equals the exact path's (every event)")
        if a.steps and steps:
            ends = [t for _, t in steps[1:]] + [done]
            print(
                "  steps (s; stations includes the figures and the report's dict): "
                + ", ".join(f"{n} {e - t:.2f}" for (n, t), e in zip(steps, ends, strict=True))
            )

        def base(s: Any = start, e: Any = end) -> None:
            with psycopg.connect(libpq(a.url)) as c:
                c.execute(
                    "SELECT (SELECT COUNT(*) FROM request_event WHERE at >= %s AND at < %s), "
                    "(SELECT COUNT(*) FROM request WHERE received_at >= %s AND received_at < %s)",
                    (s, e, s, e),
                ).fetchone()

        # --repeat 1 (default): the first run is the figure (a 10 M hub's report takes tens of seconds;
        # the whole bench stays within a few minutes); more: the median of that many runs after it
        with Backends(a.url, a.pg_cpu) as pg:
            r = (
                first
                if a.repeat <= 1
                else timed(lambda m=month: monthly_report(a.url, m, hub=True), a.repeat)
            )
        if a.pg_cpu:
            runs = 0 if a.repeat <= 1 else a.repeat
            each = pg.seconds / runs if runs else float("nan")
            print(f"  PostgreSQL backends' CPU: {each:.2f} s a report ({runs} timed runs; --repeat 1: none)")
        b = timed(base, max(3, a.repeat))
        print(
            f"| {label} {month} | {len(rep['details']):,} | {r[0]:.2f} / {r[1]:.2f} | {b[0]:.3f} "
            f"| {r[0] / b[0]:.0f}× |",
            flush=True,
        )
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
