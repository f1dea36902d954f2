"""The library screen's paint of one search's results, in process (issue 13 goal 1): CPU of
``LibrariesScreen.show`` plus the frame it causes, with the results of four queries in turn (each shown by both), for
this code and for the show() before issue 13's change (clear + a str cell per column, every Static
updated with a layout), interleaved in the same run. No search: the rows are fetched once.

    python benchmarks/bench_lib_paint.py --db X [--n 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def old_show(self: Any, p: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """``LibrariesScreen.show`` as it was before (commit 9749913)."""
    from textual.widgets import DataTable, Static

    from qi_station.i18n import t
    from qi_station.screens import libraries as L

    if p != self._params():
        return
    self.rows = rows
    table = self.query_one(DataTable)
    table.clear()
    for i, r in enumerate(rows):
        city = (r.get("city_name") or "").removesuffix("市")
        table.add_row(r["name"], city, L._extra(p["kind"], r), key=str(i))
    more = "+" if len(rows) >= L.RESULTS else ""
    self.query_one("#lib-count", Static).update(t("lib.count", n=f"{len(rows)}{more}"))
    self.show_detail(0 if rows else None)
    self._detail = None  # the old pane was always updated
    self.call_after_refresh(self._painted)


async def run(db: Path, n: int) -> dict[str, list[float]]:
    from qi_station.app import StationApp
    from qi_station.screens.libraries import LibrariesScreen
    from qi_station.services.search import search

    app = StationApp(db, lang="zh", config={}, offer_demo=False)
    got: dict[str, list[float]] = {"before": [], "after": []}
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.ready:
            await pilot.pause(0.01)
        await pilot.press("f5")
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        lib = app.screen
        assert isinstance(lib, LibrariesScreen)
        results = [search(db, "experts", q, limit=50) for q in ("王", "zh", "检测", "li")]
        p = lib._params()
        new_show = LibrariesScreen.show
        for i in range(n):
            for mode in ("before", "after") if i % 2 else ("after", "before"):
                rows = results[i % len(results)]  # both modes show the same rows
                lib._cells = lib._detail = None  # never the shortcut for rows already shown
                lib._count = ""
                await pilot.pause()
                n0 = lib.searches
                c = time.process_time()
                (old_show if mode == "before" else new_show)(lib, p, rows)
                while lib.searches == n0:
                    await asyncio.sleep(0)
                got[mode].append((time.process_time() - c) * 1000)
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--n", type=int, default=60)
    args = ap.parse_args()
    got = asyncio.run(run(args.db, args.n))
    load = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    print(f"Load average at the end: {load}")
    for mode, v in got.items():
        v.sort()
        print(
            f"{mode}: CPU per results shown (show + the frame), median {statistics.median(v):.1f} ms, "
            f"p90 {v[int(len(v) * 0.9) - 1]:.1f} ms (n={len(v)})"
        )


if __name__ == "__main__":
    main()
