"""TUI benchmark: first frame, interactive dashboard, peak RSS, keystroke-to-results in library search.

    python benchmarks/bench_tui.py                 # build (or reuse) the 1M/200k DB, measure, print Markdown
    python benchmarks/bench_tui.py --update-docs   # also rewrite the "## TUI" section of docs/benchmarks.md

Every start-up figure is a whole process (spawn to mark), measured beside a hello-world Textual app
in the same run, alternating, median of N runs.  The app runs headless (Textual renders every frame
to a null output), through the real console entry point (``qi-station --db ...``: ``qi_station.entry``,
whose TUI fast path skips Typer), with a subclass that
only records marks:

- first frame: the first screen is composed and painted (``call_after_refresh`` after mount);
- interactive dashboard: the dashboard's figures (thread worker over the 1M-request DB) are painted;
- peak RSS: ``ru_maxrss`` of the child process (``os.wait4``).

Keystroke-to-results: in one process (``App.run_test``), a key is pressed in the library search box
and the clock stops when the result table for that text is painted (debounce included). Beside it, in
the same run (before and after), a hello-world baseline: a bare Textual app with an Input and a DataTable
that puts 50 rows in the table on each key (no database, no worker), timed the same way.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
DOCS = ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(ROOT))

HELLO = r"""
import os, sys, time
from textual.app import App
from textual.widgets import Static
MARK = sys.argv[1]
class Hello(App):
    def compose(self):
        yield Static("Hello, world")
    def _display(self, screen, renderable):
        super()._display(screen, renderable)
        if renderable is not None and not getattr(self, "_marked", False):
            self._marked = True
            with open(MARK, "a", encoding="utf-8") as f:
                f.write(f"first_frame {time.time()} {time.process_time()}\n")
            self.exit()
Hello().run(headless=True)
"""

# The marks are taken where a frame is written (App._display): no timers or polling that could
# delay a paint. "dashboard" is the first frame written after the figures arrived. The marking subclass
# is put in when ``qi_station.app`` is first imported (an import hook), so the entry point imports its
# modules in its own order (it starts the figures' read before Textual is imported).
STATION = r"""
import importlib.util, os, sys, time
MARK = sys.argv[1]
def mark(name):
    with open(MARK, "a", encoding="utf-8") as f:
        f.write(f"{name} {time.time()} {time.process_time()}\n")
def patch(qa):
    class Timed(qa.StationApp):
        _first = False
        _done = False
        def _display(self, screen, renderable):
            super()._display(screen, renderable)
            if renderable is None or self._done:
                return
            if not self._first:
                self._first = True
                mark("first_frame")
            if self.screen.has_class("loaded"):
                self._done = True
                mark("dashboard")
                self.exit()
        def run(self, *a, **k):
            return super().run(headless=True)
    qa.StationApp = Timed
class Hook:
    def find_spec(self, name, path=None, target=None):
        if name != "qi_station.app":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module
        def exec_module(module):
            load(module)
            patch(module)
        spec.loader.exec_module = exec_module
        return spec
sys.meta_path.insert(0, Hook())
sys.argv = ["qi-station", "--db", sys.argv[2]]
from qi_station.entry import main
main()
"""

DIRECT = STATION.replace(
    'sys.argv = ["qi-station", "--db", sys.argv[2]]\nfrom qi_station.entry import main\nmain()',
    "import qi_station.app as qa\nqa.run(sys.argv[2])",
)

# the app alone with the dashboard's figures read from its mount instead of from before Textual's import
# (``EarlyFigures(start=False)``): the other side of the first frame / dashboard trade-off
LATE = STATION.replace(
    'sys.argv = ["qi-station", "--db", sys.argv[2]]\nfrom qi_station.entry import main\nmain()',
    "from pathlib import Path\nfrom qi_station.services.dashboard import EarlyFigures\nimport qi_station.app as qa\n"
    "qa.run(sys.argv[2], None, EarlyFigures(Path(sys.argv[2]), start=False))",
)


def spawn(code: str, *args: str, cwd: Path | None = None) -> tuple[dict[str, float], float, float]:
    """Run one child; return (marks relative to spawn, wall seconds, peak RSS MiB). A mark ``name`` is
    seconds from spawn; ``name_cpu`` the child's CPU seconds (all its threads) at that mark. ``cwd``: the
    child imports the ``qi_station`` package of that tree (``-c`` puts the working directory first)."""
    fd, mark_path = tempfile.mkstemp(suffix=".marks")
    os.close(fd)
    env = {**os.environ, "QI_STATION_CONFIG": "/nonexistent/qi-bench/config.toml", "TERM": "xterm-256color"}
    # one terminal size, as a terminal gives the app and its driver alike: headless, Rich's console said
    # 80x25 and Textual's driver 80x24, a resize (a whole re-layout) no terminal start has
    env.update(COLUMNS="80", LINES="24")
    t0 = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, mark_path, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _pid, status, ru = os.wait4(proc.pid, 0)
    wall = time.time() - t0
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if status != 0:
        raise SystemExit(f"child failed ({status}): {err[-2000:]}")
    marks: dict[str, float] = {}
    with open(mark_path, encoding="utf-8") as f:
        for line in f:
            name, ts, cpu = line.split()
            marks[name] = float(ts) - t0
            marks[name + "_cpu"] = float(cpu)
    os.unlink(mark_path)
    return marks, wall, ru.ru_maxrss / 1024


def ensure_db(requests: int, library: int) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"tui-{requests}-{library}-s1.db"
    if path.exists():
        from qi_station.db.engine import current_revision

        if current_revision(path):
            return path
    from qi_station.devtools.generate.run import generate

    print(f"generating {path.name} ...", file=sys.stderr)
    t = time.perf_counter()
    generate(path, requests=requests, library=library, seed=1, now=datetime(2026, 3, 20, 2, 0))
    print(f"generated in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return path


def startup(db: Path, runs: int, baseline: Path | None = None) -> dict[str, Any]:
    """``baseline``: another checkout (its ``qi_station`` imported instead of this tree's), whose console
    entry point is started beside this tree's in the same run (``cli_baseline``: before / after)."""
    hello: dict[str, list[float]] = {}
    hello_rss: list[float] = []
    kinds: list[tuple[str, str, Path | None]] = [("cli", STATION, ROOT), ("direct", DIRECT, ROOT)]
    kinds.append(("late_figures", LATE, ROOT))
    if baseline is not None:
        kinds.insert(0, ("cli_baseline", STATION, baseline))
    res: dict[str, dict[str, list[float]]] = {name: {} for name, _code, _cwd in kinds}
    spawn(HELLO)  # warm the page cache for all of them
    for _name, code, cwd in kinds:
        spawn(code, str(db), cwd=cwd)
    for _ in range(runs):
        m, _w, rss = spawn(HELLO)
        for k in ("first_frame", "first_frame_cpu"):
            hello.setdefault(k, []).append(m[k])
        hello_rss.append(rss)
        for name, code, cwd in kinds:
            m, _w, rss = spawn(code, str(db), cwd=cwd)
            r = res[name]
            for k in ("first_frame", "dashboard", "first_frame_cpu", "dashboard_cpu"):
                r.setdefault(k, []).append(m[k])
            r.setdefault("rss", []).append(rss)
    med = statistics.median
    out: dict[str, Any] = {
        "runs": runs,
        "hello_first_frame": med(hello["first_frame"]),
        "hello_first_frame_cpu": med(hello["first_frame_cpu"]),
        "hello_rss": max(hello_rss),
        "hello_all": hello["first_frame"],
    }
    for name, r in res.items():
        out[name] = {k: med(v) for k, v in r.items() if k != "rss"}
        out[name]["rss"] = max(r["rss"])
        out[name]["first_frame_all"] = r["first_frame"]
        out[name]["dashboard_all"] = r["dashboard"]
    return out


def compile_bytecode(*trees: Path) -> None:
    """Write the package's ``.pyc`` files first, as an installed package has them (``pip install``
    compiles; with ``PYTHONDONTWRITEBYTECODE`` set and no ``.pyc`` every start would compile every
    module of the project from source, and the figures would measure the compiler)."""
    import compileall

    for root in (ROOT, *trees):
        compileall.compile_dir(str(root / "qi_station"), quiet=1)


# typed one key at a time; Chinese is committed by an IME as whole words (inserted, like a paste)
KEYSTROKES: list[tuple[str, str]] = [
    ("experts", "w"),
    ("experts", "wj"),
    ("experts", "wjg"),
    ("experts", "z"),
    ("experts", "zh"),
    ("experts", "zha"),
    ("experts", "zhang"),
    ("institutions", "j"),
    ("institutions", "jl"),
    ("institutions", "jn"),
    ("equipment", "c"),
    ("equipment", "cl"),
    ("projects", "x"),
    ("projects", "xm"),
    ("enterprises", "s"),
    ("enterprises", "sd"),
    ("experts", "王"),
    ("institutions", "计量"),
    ("institutions", "检测"),
    ("equipment", "光谱"),
    ("enterprises", "烟台"),
    ("experts", "qx"),
    ("experts", "xyz"),
    ("institutions", "zzzq"),
]


LOAD: list[float] = [0.0, 0.0, 0.0]  # load average when the run started
ROUNDS = 3  # the keystroke list is typed this many times (the machine's load varies)


SIZE = (120, 40)  # the terminal the keystrokes are typed in (--size)


async def keystrokes(db: Path) -> dict[str, Any]:
    from textual import events
    from textual.widgets import Input

    from qi_station.app import StationApp
    from qi_station.screens.libraries import LibrariesScreen
    from qi_station.screens.widgets import Choice

    app = StationApp(db, lang="zh", config={}, offer_demo=False)
    lat: list[float] = []
    cpu: list[float] = []  # the process's CPU (UI thread + the search worker) from key to paint
    by_kind: dict[str, list[float]] = {}
    async with app.run_test(size=SIZE) as pilot:
        while not app.ready:
            await pilot.pause(0.01)
        await pilot.press("f5")
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        lib = app.screen
        assert isinstance(lib, LibrariesScreen)
        inp = lib.query_one("#q", Input)
        painted = asyncio.Event()
        shown = lib._painted

        def marked() -> None:  # the callback after the frame with the new rows: wakes the loop below
            shown()
            lib.painted_cpu = time.process_time()  # type: ignore[attr-defined]
            painted.set()

        lib._painted = marked  # type: ignore[method-assign]
        for kind, text in KEYSTROKES * ROUNDS:
            if lib.kind != kind:
                lib.query_one("#kind", Choice).select(kind)
                await pilot.pause(0.05)
                await app.workers.wait_for_complete()
                await pilot.pause(0.05)
            prev = inp.value
            if text.startswith(prev) and len(text) == len(prev) + 1 and text.isascii():
                key_text = text[-1]
            else:
                inp.value = ""
                await pilot.pause(0.05)
                await app.workers.wait_for_complete()
                await pilot.pause(0.05)
                key_text = text if not text.isascii() else text
                for ch in text[:-1] if text.isascii() else []:
                    inp.insert_text_at_cursor(ch)
                    await pilot.pause(0.05)
                    await app.workers.wait_for_complete()
                    await pilot.pause(0.05)
                key_text = text[-1] if text.isascii() else text
            n0 = lib.searches
            painted.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            if key_text.isascii():
                app.post_message(events.Key(key_text, key_text))  # as the terminal driver posts it
            else:
                inp.insert_text_at_cursor(key_text)  # an IME commits a whole word
            while lib.searches == n0 or lib.query_one("#q", Input).value != text:
                await painted.wait()  # no polling: a polling loop's own wake-ups cost this thread CPU
                painted.clear()
            dt = (lib.painted_at - t0) * 1000
            lat.append(dt)
            cpu.append((lib.painted_cpu - c0) * 1000)  # type: ignore[attr-defined]
            by_kind.setdefault(kind, []).append(dt)
            await pilot.pause(0.02)
    lat.sort()
    return {
        "n": len(lat),
        "median": statistics.median(lat),
        "p90": lat[int(len(lat) * 0.9) - 1],
        "max": lat[-1],
        "cpu_median": statistics.median(cpu),
        "by_kind": {k: statistics.median(v) for k, v in by_kind.items()},
    }


async def hello_keystrokes(db: Path) -> dict[str, Any]:
    """The baseline: a hello-world Textual app with the library screen's two widgets (an Input and a
    3-column DataTable) whose Input.Changed handler puts 50 rows in the table at once (no database, no
    worker: rows read beforehand from the same DB, a different set per key). The same keys (the ASCII
    ones of the list), posted and timed the same way, to the frame with the new rows."""
    from rich.text import Text
    from textual import events
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Input

    from qi_station.services.search import search

    sets = [
        [(r["name"], r.get("city_name") or "", r.get("title") or r.get("uscc") or "") for r in rows]
        for rows in (
            search(db, kind, q, limit=50)
            for kind, q in (("experts", "z"), ("institutions", "j"), ("experts", "w"))
        )
    ]

    class HelloSearch(App[None]):
        searches = 0
        painted_at = 0.0
        painted_cpu = 0.0

        def compose(self) -> ComposeResult:
            yield Input(id="q", compact=True)
            yield DataTable(id="t", cursor_type="row", zebra_stripes=True)

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            for key, width in (("name", 40), ("city", 4), ("info", 30)):
                table.add_column(key, width=width, key=key)
            self.query_one(Input).focus()

        def on_input_changed(self, event: Input.Changed) -> None:
            table = self.query_one(DataTable)
            table.clear()
            for i, row in enumerate(sets[len(event.value) % len(sets)]):
                table.add_row(*(Text(c, no_wrap=True, end="") for c in row), key=str(i))
            self._pending = True

        _pending = False

        def _display(self, screen: Any, renderable: Any) -> None:
            super()._display(screen, renderable)
            if renderable is not None and self._pending:  # the first frame written with the new rows
                self._pending = False
                self.painted_at, self.painted_cpu = time.perf_counter(), time.process_time()
                self.searches += 1
                painted.set()

    painted = asyncio.Event()
    app = HelloSearch()
    lat: list[float] = []
    cpu: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        inp = app.query_one(Input)
        await pilot.pause(0.1)
        for _kind, text in [k for k in KEYSTROKES if k[1].isascii()] * ROUNDS:
            if inp.value != text[:-1]:
                n0 = app.searches
                inp.value = text[:-1]
                inp.cursor_position = len(inp.value)  # the next key lands at the end, as typed
                while app.searches == n0:
                    await painted.wait()
                    painted.clear()
                await pilot.pause(0.05)
            n0 = app.searches
            painted.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            app.post_message(events.Key(text[-1], text[-1]))
            while app.searches == n0 or inp.value != text:
                await painted.wait()
                painted.clear()
            lat.append((app.painted_at - t0) * 1000)
            cpu.append((app.painted_cpu - c0) * 1000)
            await pilot.pause(0.02)
    lat.sort()
    return {
        "n": len(lat),
        "median": statistics.median(lat),
        "p90": lat[int(len(lat) * 0.9) - 1],
        "max": lat[-1],
        "cpu_median": statistics.median(cpu),
    }


async def ledger(db: Path) -> dict[str, Any]:
    """The virtual ledger over the whole DB: F3 to the first rows, PgDn (a new SQL page every few
    presses), End (OFFSET to the last page), Home. Clock stops when the rows under the view are in."""
    from textual import events

    from qi_station.app import StationApp
    from qi_station.screens.ledger import LedgerScreen
    from qi_station.screens.ledger_table import LedgerTable

    app = StationApp(db, lang="zh", config={}, offer_demo=False)
    out: dict[str, Any] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.ready:
            await pilot.pause(0.01)
        await app.workers.wait_for_complete()

        async def timed(key: str) -> float:
            await pilot.pause(0.02)
            before = (
                app.screen.query_one(LedgerTable).cursor if isinstance(app.screen, LedgerScreen) else None
            )
            t0 = time.perf_counter()
            app.post_message(events.Key(key, None))  # as the terminal driver posts it
            await asyncio.sleep(0)
            scr = app.screen
            while not (isinstance(scr, LedgerScreen) and scr.has_class("loaded")):
                await asyncio.sleep(0.0005)
                scr = app.screen
            table = scr.query_one(LedgerTable)
            while before is not None and table.cursor == before:  # the key has not landed yet
                if time.perf_counter() - t0 > 10:
                    raise SystemExit(f"ledger: {key} did not move the cursor from {before}")
                await asyncio.sleep(0.0005)
            while True:
                top = int(table.scroll_offset.y)
                if all(
                    table.row_at(i) is not None for i in range(top, min(table.total, top + table.size.height))
                ):
                    break
                await asyncio.sleep(0.0005)
            return (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        out["open"] = await timed("f3")
        while app.screen._counting:  # type: ignore[attr-defined]
            await asyncio.sleep(0.0005)
        out["counted"] = (time.perf_counter() - t0) * 1000
        out["total"] = app.screen.query_one(LedgerTable).total
        pages = [await timed("pagedown") for _ in range(30)]
        out["pagedown_median"] = statistics.median(pages)
        out["pagedown_max"] = max(pages)
        out["end"] = await timed("end")
        out["home"] = await timed("home")
        table = app.screen.query_one(LedgerTable)
        table.focus()
        out["pages_in_memory"] = len(table.pages)
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            m = re.search(r"model name\s*:\s*(.+)", f.read())
            if m:
                cpu = m.group(1).strip()
    except OSError:
        pass
    import textual

    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, Textual {textual.__version__}"
    )


def markdown(db: Path, s: dict[str, Any], k: dict[str, Any], size: str, led: dict[str, Any]) -> str:
    hello = s["hello_first_frame"]

    def ok(cond: bool) -> str:
        return "met" if cond else "NOT met"

    hello_cpu = s["hello_first_frame_cpu"]
    rows = []
    for name, label in (
        ("cli", "`qi-station --db ...` (console entry point, TUI fast path)"),
        ("direct", "`qi_station.app.run(db)` (the app alone)"),
    ):
        r = s[name]
        ff, dash = r["first_frame"] / hello, r["dashboard"] / hello
        ffc, dashc = r["first_frame_cpu"] / hello_cpu, r["dashboard_cpu"] / hello_cpu
        rows += [
            f"| first frame, {label} | {hello:.3f} s | {r['first_frame']:.3f} s | {ff:.2f}x | <= 1.3x: {ok(ff <= 1.3)} |",
            f"| dashboard with its figures, {label} | {hello:.3f} s | {r['dashboard']:.3f} s | {dash:.2f}x | "
            f"<= 1.5x: {ok(dash <= 1.5)} |",
            f"| CPU time (all threads) to the first frame / to the dashboard, {label} | {hello_cpu:.3f} s | "
            f"{r['first_frame_cpu']:.3f} s / {r['dashboard_cpu']:.3f} s | {ffc:.2f}x / {dashc:.2f}x | |",
            f"| peak RSS, {label} | {s['hello_rss']:.0f} MiB | {r['rss']:.0f} MiB | | <= 60 MiB: {ok(r['rss'] <= 60)} |",
        ]
    lines = [
        "## TUI",
        "",
        f"Machine: {machine()}; load average (1 min) {LOAD[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        "(other jobs were running). "
        f"Database: `{db.name}` ({size}), generated by `qi_station.devtools.generate` (1 000 000 requests, 200 000 "
        "library rows, seed 1). Produced by `python benchmarks/bench_tui.py --update-docs`: whole processes "
        "spawned and timed to the frame written (headless Textual), median of the runs, the hello-world app "
        "measured in the same run, alternating.",
        "",
        "| figure | hello-world | qi-station | ratio | goal |",
        "|---|---|---|---|---|",
        *rows,
        f"| library search, keystroke to results painted ({k['n']} keystrokes, leading-edge debounce) | | "
        f"median {k['median']:.0f} ms, p90 {k['p90']:.0f} ms, max {k['max']:.0f} ms | | <= 50 ms: "
        f"{ok(k['median'] <= 50)} |",
        f"| ledger (virtual table over {led['total']:,} requests): F3 to the first rows / to the COUNT | | "
        f"{led['open']:.0f} ms / {led['counted']:.0f} ms | | |",
        f"| ledger: PgDn, rows under the view in (30 presses) | | median {led['pagedown_median']:.0f} ms, "
        f"max {led['pagedown_max']:.0f} ms | | |",
        f"| ledger: End (the last page) / Home | | {led['end']:.0f} ms / {led['home']:.0f} ms | | |",
        "",
        f"Run-to-run spread: other jobs shared this 2-core machine (see the load average above), so figures "
        f"move by some tens of percent between runs. The table is one run ({s['runs']} start-ups of each kind "
        f"alternated with the hello-world app, medians; the keystroke list typed {ROUNDS} times). The CPU row "
        "is the child's CPU time (all its threads) at the mark: less sensitive to the machine's load than the "
        "wall clock, but it counts the dashboard's worker, which on an idle second core runs beside the UI "
        "thread. The package's `.pyc` files are written before the runs (`compileall`), as an installed "
        "package has them: with `PYTHONDONTWRITEBYTECODE` set and none written, every start compiled the "
        "project's modules from source (compiling `qi_station/app.py` alone took about 30 ms on the loaded machine).",
        "",
        "Median keystroke-to-results by library: "
        + ", ".join(f"{kind} {ms:.0f} ms" for kind, ms in k["by_kind"].items())
        + ".",
        "",
        "The `qi-station --db ...` rows go through the installed console entry point (`qi_station.entry`):",
        "for the no-command / `tui` case it parses `--db` and `--lang` by hand and calls `qi_station.app.run`",
        "without importing Typer or Click, and leaves the migration check to the app's worker. The",
        "`qi_station.app.run` rows are the app alone, for comparison.",
        "",
        "Ledger: a `ScrollView` that renders only the visible lines (`render_line`); 100-row SQL pages",
        "(`LIMIT/OFFSET` on the sort index) are fetched in thread workers as the view and the cursor reach",
        "them, at most 40 pages kept (LRU); "
        f"{led['pages_in_memory']} pages were in memory at the end of this run. The `COUNT` starts once the",
        "first page is painted (until it is in, the cursor stays within that page): it scans the whole table",
        "(`deleted = 0` is not in an index), about 0.4 s of CPU at a million requests, and while it ran beside",
        "the first page (since the workers post messages instead of waiting in `call_from_thread`) F3 took",
        "267-443 ms instead of 111 ms. SQLite steps over every",
        "skipped row of an `OFFSET`, so for the time sorts a page in the back half is read from the other",
        "end with the reversed sort (End is as quick as Home). The slow case left is a jump to the middle",
        "(dragging the scrollbar to row 500,000): `list_requests(offset=500000)` took about 1.5 s here,",
        "0.4 s for an id-only subquery; that would need a change in `qi_station/services/queries.py`.",
        "",
        "Keystroke-to-results: the search runs in an exclusive thread worker on one long-lived read",
        "connection (a fresh connection per keystroke starts with a cold page cache); a key after a pause",
        "searches at once, a burst of keys (paste, key repeat) is coalesced 20 ms after the last one; the",
        "long-lived objects are frozen out of the garbage collector after start-up (`gc.freeze()`), which",
        "removed an 80 ms full collection that used to land on some keystrokes.",
        "",
        "How start-up stays small: the first screen is the dashboard alone (5 figure cards, 12 month bars, two",
        "lines); only its module is imported at start (each other screen, the dialogs and the form on first",
        "use; `tests/test_import_hygiene.py` checks it), no config parser without a config file, no time zones",
        "before the first frame. SQLModel, SQLAlchemy, Alembic, pypinyin and phonenumbers are imported only",
        "when something is written (and Alembic only when a migration is due). Textual re-parses every CSS",
        "source it holds (every widget's `DEFAULT_CSS`, the app's and the screens' files) three times when a",
        "screen is first shown; the app's stylesheet (`screens/css.py`) parses each source once per set of",
        "CSS variables. Textual's footer rebuilds all its keys after each change of the bindings (five while",
        "the first screen starts); `screens/footer.py` rebuilds once per refresh. The database check and the",
        "dashboard's figures run in thread workers over stdlib `sqlite3`; the figures' worker starts at",
        "mount and reads as soon as the database is open, beside the first frame (SQLite leaves the GIL);",
        "the ledger check (`services.verify.dashboard_check`) starts after the figures are painted.",
        "",
        "Where the dashboard's time goes at a million requests (CPU in one thread, 2026-11-30, loaded",
        "machine): the 12 month bars about 45 ms (each `received` count looks up every row for `NOT",
        "deleted`; the same counts on the `received_at` index alone take 9 ms), the institutions'",
        "certificate scan 25 ms, the open counts by status 20 ms, overdue 11 ms. An index on",
        "`request (received_at, deleted)` and on the certificate expiry dates would make them index-only",
        "(a migration: not made here).",
        "",
    ]
    return "\n".join(lines)


def update_docs(section: str) -> None:
    text = DOCS.read_text(encoding="utf-8")
    pat = re.compile(r"^## TUI\n.*?(?=^## |\Z)", re.S | re.M)
    if pat.search(text):
        text = pat.sub(section + "\n", text, count=1)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    with open(DOCS, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--library", type=int, default=200_000)
    ap.add_argument(
        "--db", type=Path, help="an existing station database (else one is generated under benchmarks/out)"
    )
    ap.add_argument("--runs", type=int, default=7, help="start-ups of each kind, alternated (median)")
    ap.add_argument("--rounds", type=int, default=ROUNDS, help="times the keystroke list is typed")
    ap.add_argument("--only-startup", action="store_true", help="skip the keystroke and ledger figures")
    ap.add_argument(
        "--baseline-tree",
        type=Path,
        help="with --only-startup: a checkout of another commit whose console entry point is started "
        "alternating with this tree's (cli_baseline in the JSON)",
    )
    ap.add_argument("--update-docs", action="store_true")
    ap.add_argument(
        "--only-keystrokes", action="store_true", help="only keystroke-to-results in library search (JSON)"
    )
    ap.add_argument("--size", default="120x40", help="with --only-keystrokes: the terminal, WxH")
    ap.add_argument("--hogs", action="store_true", help="with --only-keystrokes: two CPU-burning processes")
    args = ap.parse_args()
    LOAD[:] = os.getloadavg()
    compile_bytecode(*([args.baseline_tree] if args.baseline_tree else []))
    db = args.db if args.db is not None else ensure_db(args.requests, args.library)
    size = f"{db.stat().st_size / 2**20:.0f} MiB"
    if args.only_keystrokes:
        globals()["ROUNDS"] = args.rounds
        w, h = args.size.lower().split("x")
        globals()["SIZE"] = (int(w), int(h))
        hogs = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 if args.hogs else 0)
        ]
        c0 = time.process_time()
        try:
            hello = asyncio.run(hello_keystrokes(db))
            k = asyncio.run(keystrokes(db))
            hello2 = asyncio.run(hello_keystrokes(db))
        finally:
            for h in hogs:
                h.kill()
                h.wait()
        k["hello_world"] = [hello, hello2]  # before and after the station's keys
        k["size"] = list(SIZE)
        k["process_cpu_s"] = round(time.process_time() - c0, 2)
        k["hogs"] = len(hogs)
        k["load_end"] = [round(x, 1) for x in os.getloadavg()]
        print(json.dumps(k, indent=1))
        return
    s = startup(db, args.runs, args.baseline_tree if args.only_startup else None)
    if args.only_startup:
        print(json.dumps({"startup": s}, indent=2), file=sys.stderr)
        return
    globals()["ROUNDS"] = args.rounds
    k = asyncio.run(keystrokes(db))
    led = asyncio.run(ledger(db))
    print(json.dumps({"startup": s, "keystrokes": k, "ledger": led}, indent=2), file=sys.stderr)
    md = markdown(db, s, k, size, led)
    print(md)
    if args.update_docs:
        update_docs(md)


if __name__ == "__main__":
    main()
