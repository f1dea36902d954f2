"""Report writers with and without ``core.validate.neutralise`` (stored control characters as U+FFFD).

Baseline in the same run: the writers with the neutralising step made the identity. 13 000 detail
rows (the test fixture's rows repeated), best of 5, csv / xlsx / md.

    python benchmarks/bench_neutralise.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_report_xlsx import load_fixture  # noqa: E402

from qi_station.core import validate  # noqa: E402
from qi_station.reports import writers  # noqa: E402

ROWS = 13_000


def report() -> dict[str, Any]:
    rep = load_fixture()
    d = rep["details"]
    rep["details"] = [dict(x, number=f"{x['number']}-{i}") for i in range(ROWS // len(d) + 1) for x in d][
        :ROWS
    ]
    return rep


def best(rep: dict[str, Any], fmt: str) -> float:
    out = 9e9
    for _ in range(5):
        with tempfile.TemporaryDirectory() as t:
            t0 = time.perf_counter()
            writers.write_report(rep, fmt, Path(t) / f"r.{fmt}")
            out = min(out, time.perf_counter() - t0)
    return out


def main() -> None:
    rep = report()
    real = (writers._shown, writers._SafeWriter.writerow, writers.neutralise)

    def plain_row(self: Any, row: Any) -> None:
        self.w.writerow(["'" + v if writers.formula_like(v) else v for v in row])

    for fmt in ("csv", "xlsx", "md"):
        new = best(rep, fmt)
        writers._shown = lambda v: v  # type: ignore[assignment]
        writers._SafeWriter.writerow = plain_row  # type: ignore[method-assign]
        writers.neutralise = lambda s, multiline=True: s  # type: ignore[assignment]
        base = best(rep, fmt)
        writers._shown, writers._SafeWriter.writerow, writers.neutralise = real  # type: ignore[method-assign]
        print(f"{fmt}: {ROWS} rows, best of 5: neutralise {new * 1000:.0f} ms, baseline {base * 1000:.0f} ms")
    # what the CLI's stdout pays (cli.kit.NeutralStdout): a 9 000-row `request list --json` as one text
    line = '{"number": "JN-GX01-202611-0001", "title": "压力表校准服务需求", "status": "accepted"}'
    text = ",\n".join([line] * 9000)
    t = min(_timed(validate.neutralise, text) for _ in range(5))
    print(f"stdout: {len(text) / 1e6:.2f} M chars of lines, best of 5: neutralise {t * 1000:.1f} ms")
    assert validate.neutralise("a\x07") == "a\ufffd"


def _timed(fn: Any, arg: Any) -> float:
    t0 = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
