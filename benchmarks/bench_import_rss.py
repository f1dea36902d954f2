"""Peak memory (max RSS) of ``qi-station request import`` on a large generated ledger, this tree beside a
baseline tree (``git archive BASE``) in the same run.

    python benchmarks/bench_import_rss.py --rows 100000 --base main [--full]

Each figure is one child process (``resource.getrusage(RUSAGE_CHILDREN)`` after it ends: its peak RSS).
``--full`` imports for real (the write path too); the default is ``--dry-run`` (the check alone).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb(src: Path, db: Path, xlsx: Path, full: bool) -> tuple[float, float]:
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "QI_STATION_NOW": "2026-10-05T10:00:00+08:00",
        "QI_STATION_OPERATOR": "测试员",
    }
    code = f"from qi_station.db.engine import open_db; open_db({str(db)!r})"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    args = [sys.executable, "-m", "qi_station", "--db", str(db), "request", "import", str(xlsx)]
    if not full:
        args.append("--dry-run")
    t0 = time.perf_counter()
    # a fresh interpreter per figure: RUSAGE_CHILDREN's maximum is over every child that has ended,
    # so each figure is measured in a child of its own
    runner = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
        "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", runner, *args], env=env, check=True, capture_output=True)
    return int(out.stdout.decode().split()[-1]) / 1024, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--base", default="main")
    ap.add_argument("--full", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        xlsx = t / "big.xlsx"
        from qi_station.devtools.generate.ledger_sheet import ledger_rows, write_xlsx

        write_xlsx(xlsx, ledger_rows(a.rows))
        base = t / "base"
        base.mkdir()
        arch = subprocess.run(["git", "-C", str(ROOT), "archive", a.base], check=True, capture_output=True)
        (t / "base.tar").write_bytes(arch.stdout)
        with tarfile.open(t / "base.tar") as tf:
            tf.extractall(base, filter="data")
        print(f"load average: {os.getloadavg()}")
        for label, src in (("baseline " + a.base, base), ("this tree", ROOT)):
            rss, secs = peak_rss_mb(src, t / f"{label.split()[0]}.db", xlsx, a.full)
            print(
                f"{label:>16}: {a.rows} rows {'import' if a.full else 'dry run'}: max RSS {rss:.0f} MB, {secs:.0f} s"
            )


if __name__ == "__main__":
    main()
