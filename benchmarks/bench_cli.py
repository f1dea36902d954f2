"""CLI start-up and one headless call (issue 13, goal 5), beside bare Python doing the same work.

    python benchmarks/bench_cli.py [--db PATH] [--requests 200000] [--library 2000] [--seed 1]
                                   [--month YYYY-MM] [--repeat 7]

Generates the database with ``qi-station --db X generate …`` when it does not exist (200 000 requests:
~1 min on a quiet 2-core machine; ``--requests 1000000`` for the 1M figure). Each round runs, one after
the other, as whole processes: ``python -c pass`` (the interpreter), ``qi-station --version``,
``qi-station --db X request list --month M --json > /dev/null`` and ``python -c`` doing the same SELECT
with stdlib ``sqlite3`` + ``json.dumps`` (the baseline of bench_core.py's CLI row: ``r.*`` and the
enterprise name, one month, newest first); bytecode cached as in an install (the children run without
``PYTHONDONTWRITEBYTECODE``). Wall time (perf_counter around the child) and the child's
CPU time (user + system, from ``os.wait4``) are kept; the medians are printed as Markdown with the load
average. Budget: the CLI ≤ 1.5 × the baseline. No assertion on time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BUDGET = 1.5


# as installed: bytecode is cached (PYTHONDONTWRITEBYTECODE would recompile the package every call)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str], path: str | None = None) -> tuple[float, float]:
    """(wall s, child CPU s) of one process, stdout to /dev/null (``path``: PYTHONPATH first)."""
    env = {**ENV, "PYTHONPATH": path} if path else ENV
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=devnull, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        raise SystemExit(f"{cmd[:4]}… exited {p.returncode}")
    return wall, ru.ru_utime + ru.ru_stime


def busiest_month(db: Path) -> str:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT substr(received_at, 1, 7), COUNT(*) FROM request GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    full = rows[1:-1] or rows  # the first and last months of generated data are partial
    return max(full, key=lambda r: r[1])[0]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="default: /tmp/qi-bench-cli/gen-<requests>.db")
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--library", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--month", default=None, help="default: the month with the most requests")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument(
        "--before",
        default=None,
        help="a directory holding another qi_station package (e.g. `git archive <commit> qi_station | "
        "tar -x -C DIR`): adds a row for the same call run by that package",
    )
    a = ap.parse_args()

    exe = shutil.which("qi-station") or str(Path(sys.executable).with_name("qi-station"))
    db = Path(a.db or f"/tmp/qi-bench-cli/gen-{a.requests}.db")
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        subprocess.run(
            [exe, "--db", str(db), "generate", "--requests", str(a.requests), "--library", str(a.library)]
            + ["--seed", str(a.seed)],
            check=True,
        )
        print(f"<!-- generated {db} in {time.perf_counter() - t:.0f} s -->")
    month = a.month or busiest_month(db)

    from qi_station.core.clock import to_db
    from qi_station.core.months import month_bounds_utc

    start, end = month_bounds_utc(month)
    sql = (
        "SELECT r.*, e.name AS enterprise_name FROM request r JOIN enterprise e ON e.id = r.enterprise_id "
        "WHERE r.received_at >= ? AND r.received_at < ? ORDER BY r.received_at DESC"
    )
    raw_py = (
        f"import sqlite3, json; c = sqlite3.connect({str(db)!r}); c.row_factory = sqlite3.Row; "
        f"print(json.dumps([dict(r) for r in c.execute({sql!r}, ({to_db(start)!r}, {to_db(end)!r}))], "
        "ensure_ascii=False))"
    )
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n = con.execute(
        "SELECT COUNT(*) FROM request WHERE received_at >= ? AND received_at < ? AND deleted = 0",
        (to_db(start), to_db(end)),
    ).fetchone()[0]
    total = con.execute("SELECT COUNT(*) FROM request").fetchone()[0]
    con.close()
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "qi-station --version": [exe, "--version"],
        "cli": [exe, "--db", str(db), "request", "list", "--month", month, "--json"],
        "raw": [sys.executable, "-c", raw_py],
    }
    if a.before:  # that package, not the editable install of this one
        before = (
            "import sys; sys.meta_path[:] = [f for f in sys.meta_path if not "
            "type(f).__module__.startswith('__editable__')]; "
            f"sys.path.insert(0, {a.before!r}); sys.argv[0] = 'qi-station'; "
            "from qi_station.entry import main; main()"
        )
        cases["before"] = [sys.executable, "-c", before, *cases["cli"][1:]]
    paths: dict[str, str] = {}
    for k, cmd in cases.items():  # warm the page cache and the .pyc files
        run(cmd, paths.get(k))
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
    for _ in range(a.repeat):
        for k, cmd in cases.items():
            got[k].append(run(cmd, paths.get(k)))
    wall = {k: statistics.median(w for w, _ in v) * 1000 for k, v in got.items()}
    cpu = {k: statistics.median(c for _, c in v) * 1000 for k, v in got.items()}
    load = os.getloadavg()

    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU, Python {platform.python_version()}, ", end=""
    )
    print(f"SQLite {sqlite3.sqlite_version}; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.")
    print(f"Database: {total:,} requests (`{db.name}`); month {month}: {n:,} requests listed.")
    print(f"Medians of {a.repeat} rounds (each round runs every row once, in turn).\n")
    print("| process | wall | CPU (user+sys) |")
    print("|---|---:|---:|")
    labels = {
        "cli": f"`qi-station --db X request list --month {month} --json > /dev/null`",
        "raw": "baseline: `python -c` same SELECT + `json.dumps`",
        "before": f"the same call, the qi_station package in `{a.before}`",
    }
    for k in cases:
        print(f"| {labels.get(k, f'`{k}`')} | {wall[k]:.0f} ms | {cpu[k]:.0f} ms |")
    rw, rc = wall["cli"] / wall["raw"], cpu["cli"] / cpu["raw"]
    verdict = "met" if max(rw, rc) <= BUDGET else "not met"
    print(f"\nCLI / baseline: {rw:.2f}x wall, {rc:.2f}x CPU (goal ≤ {BUDGET}x: {verdict}).")
    if a.before:
        print(
            f"Before / baseline: {wall['before'] / wall['raw']:.2f}x wall, {cpu['before'] / cpu['raw']:.2f}x CPU."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
