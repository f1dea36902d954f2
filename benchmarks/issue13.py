"""Every issue-13 figure, quiet and then with two CPU hogs beside it, in one run.

    python benchmarks/issue13.py --db /path/to/gen-1m.db            # all of them
    python benchmarks/issue13.py --db X --only search,reports       # some
    python benchmarks/issue13.py --db X --no-hogs                   # quiet only

``--db`` is a station database made by ``qi-station generate --requests 1000000 --library 200000
--seed 1`` (it is only read; benchmarks that write copy it first). Each script prints its own
Markdown with its baseline measured in the same run; this one runs them one after another (never two
at once), quiet and then under ``with_hogs.py``, and writes everything they printed to
``benchmarks/out/issue13-<time>.md``. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def plan(db: str, month: str) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "search": [py, str(BENCH / "bench_core.py"), "--only-search"],
        "reports": [py, str(BENCH / "bench_reports.py"), "--db", db],
        "xlsx": [py, str(BENCH / "bench_xlsx.py"), "--db", db, "--month", month],
        "cli": [py, str(BENCH / "bench_cli.py"), "--db", db, "--month", month],
        "tui": [py, str(BENCH / "bench_tui.py"), "--db", db, "--only-startup", "--runs", "5"],
        "push": [
            py,
            str(BENCH / "bench_push.py"),
            "--stations",
            "2",
            "--requests",
            "200",
            "--backend",
            "both",
        ],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="the generated 1M-request station database")
    ap.add_argument("--month", default="2024-05", help="the month for xlsx and the CLI (the busiest)")
    ap.add_argument("--only", default="", help="comma-separated: search,reports,xlsx,cli,tui,push")
    ap.add_argument("--no-hogs", action="store_true", help="quiet runs only")
    args = ap.parse_args()
    if not Path(args.db).is_file():
        ap.error(f"--db: no such database file: {args.db}")
    steps = plan(args.db, args.month)
    wanted = [s for s in args.only.split(",") if s] or list(steps)
    unknown = [s for s in wanted if s not in steps]
    if unknown:
        ap.error(f"--only: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(steps)}")
    out_dir = BENCH / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / f"issue13-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.md"
    with open(log, "w", encoding="utf-8") as fh:
        for name in wanted:
            for hogs in (False,) if args.no_hogs else (False, True):
                cmd = steps[name]
                if hogs:
                    cmd = [sys.executable, str(BENCH / "with_hogs.py"), *cmd]
                head = f"\n## {name} ({'two CPU hogs' if hogs else 'quiet'}), load before {os.getloadavg()}\n"
                print(head, flush=True)
                fh.write(head)
                t = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", check=False)
                # some scripts print their figures on stderr (bench_tui's JSON): both are kept
                text = proc.stdout + (f"\n{proc.stderr}" if proc.stderr.strip() else "")
                text += f"\n_(exit {proc.returncode}, {time.perf_counter() - t:.0f} s)_\n"
                print(text, flush=True)
                fh.write(text)
                fh.flush()
    print(f"written to {log}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
