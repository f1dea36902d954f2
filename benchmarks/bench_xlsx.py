"""The monthly report's xlsx (issue 13, goal 3) beside an openpyxl minimal write of the same rows.

    python benchmarks/bench_xlsx.py [--db PATH] [--requests 200000] [--library 2000] [--seed 1]
                                    [--month YYYY-MM] [--rows 13129] [--repeat 5]

Computes one station report (``monthly_report``) from the database (generated as in bench_cli.py when
missing), then sets its 明细 rows to exactly ``--rows`` (the month's rows repeated or cut; 13 129 is
the busiest month of the 1M-request database). Each round, alternately:

* ours: ``writers.write_report(report, "xlsx", …)`` — every sheet, the chart, formats, the display
  values of every detail row (``detail_values``), the atomic write;
* baseline: openpyxl write-only, one sheet, ``append`` of the same display rows (computed before the
  clock starts), ``save`` — the least openpyxl can do for the same cells;
* XlsxWriter (when installed): the same rows with ``write_row``, ``constant_memory`` — the other writer
  considered.

CPU (``time.process_time``) and wall medians, printed as Markdown with the load average. Goal: ours
≤ 1.5 s. No assertion on time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn: Any) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main() -> int:
    from bench_cli import add_db_options, busiest_month, ensure_db

    ap = argparse.ArgumentParser()
    add_db_options(ap)
    ap.add_argument("--rows", type=int, default=13_129)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    db = ensure_db(a, shutil.which("qi-station") or str(Path(sys.executable).with_name("qi-station")))
    month = a.month or busiest_month(db)

    from openpyxl import Workbook

    from qi_station.reports.figures import monthly_report
    from qi_station.reports.writers import detail_header, detail_values, write_report

    report = monthly_report(db, month)
    det = report["details"]
    report["details"] = (det * (a.rows // max(1, len(det)) + 1))[: a.rows]
    rows = [detail_header(report, "zh"), *detail_values(report, "zh")]
    ncols = len(rows[0])

    try:
        import xlsxwriter
    except ImportError:
        xlsxwriter = None

    tmp = Path(tempfile.mkdtemp(prefix="qi-bench-xlsx-"))

    def ours() -> None:
        write_report(report, "xlsx", tmp / "ours.xlsx", force=True)

    def base() -> None:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("明细")
        for r in rows:
            ws.append(r)
        wb.save(tmp / "base.xlsx")

    def xw() -> None:
        wb = xlsxwriter.Workbook(str(tmp / "xw.xlsx"), {"constant_memory": True})
        ws = wb.add_worksheet("明细")
        for i, r in enumerate(rows):
            ws.write_row(i, 0, r)
        wb.close()

    cases = {"ours": ours, "base": base, **({"xw": xw} if xlsxwriter else {})}
    for fn in cases.values():
        fn()  # warm-up (imports)
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
    for _ in range(a.repeat):
        for k, fn in cases.items():
            got[k].append(timed(fn))
    wall = {k: statistics.median(w for w, _ in v) for k, v in got.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in got.items()}
    size = {k: (tmp / f"{k}.xlsx").stat().st_size / 1e6 for k in cases}
    load = os.getloadavg()

    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU, Python {platform.python_version()}; ", end=""
    )
    print(f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.")
    print(
        f"Report: {db.name}, month {month}; 明细 {a.rows:,} rows × {ncols} columns. Medians of {a.repeat}.\n"
    )
    print("| writer | wall | CPU | file |")
    print("|---|---:|---:|---:|")
    labels = {
        "ours": '`write_report(…, "xlsx")`: every sheet, chart, formats, display values, atomic',
        "base": "baseline: openpyxl write-only, 明细 rows only (values precomputed)",
        "xw": "XlsxWriter `constant_memory`, 明细 rows only (values precomputed)",
    }
    for k in cases:
        print(f"| {labels[k]} | {wall[k]:.2f} s | {cpu[k]:.2f} s | {size[k]:.1f} MB |")
    print(
        f"\nOurs / baseline: {cpu['ours'] / cpu['base']:.2f}x CPU, {wall['ours'] / wall['base']:.2f}x wall. "
        f"Goal ≤ 1.5 s: {'met' if wall['ours'] <= 1.5 else 'not met'} by wall ({wall['ours']:.2f} s), "
        f"{'met' if cpu['ours'] <= 1.5 else 'not met'} by CPU ({cpu['ours']:.2f} s; on a loaded machine "
        "the CPU figure is the one to read)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
