"""Run any benchmark with two CPU-bound processes beside it (an operator's office PC is never quiet).

    python benchmarks/with_hogs.py python benchmarks/bench_xlsx.py --db X --month 2024-05
    python benchmarks/with_hogs.py --hogs 3 -- python benchmarks/bench_cli.py --db X

Starts the hogs (``python -c "while True: pass"``), waits until each has burnt CPU (observed, not a
fixed sleep), runs the command, stops the hogs, and prints the load average before and after so the
figures can say what they were measured beside. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (Linux); 1.0 where /proc is absent."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 1.0
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hogs", type=int, default=2, help="CPU-bound processes to run beside (default 2)")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the benchmark command line")
    args = ap.parse_args()
    cmd = [c for c in args.command if c != "--"] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("command: give the benchmark command to run")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(_cpu_seconds(h.pid) >= 0.2 for h in hogs):
            time.sleep(0.05)  # until every hog is observed burning CPU
        print(f"# {args.hogs} CPU hogs running; load average before: {os.getloadavg()}", flush=True)
        rc = subprocess.call(cmd)
        print(f"# load average after: {os.getloadavg()}", flush=True)
        return rc
    finally:
        for h in hogs:
            h.kill()
            h.wait()


if __name__ == "__main__":
    raise SystemExit(main())
