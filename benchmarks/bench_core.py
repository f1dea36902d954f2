"""Core benchmark: request save, library search, monthly request list on a 1M-request database.

    python benchmarks/bench_core.py                  # build (or reuse) the DB, measure, print Markdown
    python benchmarks/bench_core.py --rebuild        # regenerate the DB (and time `generate`)
    python benchmarks/bench_core.py --update-docs    # also rewrite the "## Core" section of docs/benchmarks.md

The database is generated once by ``qi_station.devtools.generate`` (1 000 000 requests, 200 000 library
rows, seed 1) and cached under ``benchmarks/out/`` (git-ignored); the generation time is kept in a
JSON file beside it. Every figure is printed beside a raw-``sqlite3`` baseline measured in the same
run on the same file. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
DOCS = ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(ROOT))

# Queries per class and library: every one of them matches something in the generated data.
QUERIES: dict[str, dict[str, list[str]]] = {
    "1-char Chinese": {
        "experts": ["王", "曾", "单", "华"],
        "institutions": ["检", "济", "宁", "计"],
        "equipment": ["仪", "谱", "箱", "机"],
        "projects": ["质", "济", "品", "宁"],
    },
    "2-char Chinese": {
        "experts": ["王明", "曾华", "建国", "晓燕"],
        "institutions": ["济南", "济宁", "检测", "认证"],
        "equipment": ["光谱", "色谱", "试验", "测量"],
        "projects": ["济南", "提升", "标准", "品牌"],
    },
    "4-char Chinese": {
        "experts": ["压力计量", "食品检测", "标准化管", "高级工程"],
        "institutions": ["检验检测", "计量校准", "济南华正", "质量检验"],
        "equipment": ["扫描电子", "试验机", "三坐标测", "激光跟踪"],
        "projects": ["质量提升", "标准化试", "品牌培育", "济宁纺织"],
    },
    "initials": {
        "experts": ["wm", "zqh", "sx", "ljg"],
        "institutions": ["jn", "jnhz", "jyjc", "qd"],
        "equipment": ["sm", "gpy", "wnclsyj", "sz"],
        "projects": ["jn", "zltsxm", "bzh", "jnfz"],
    },
}
QUERIES["full pinyin"] = {
    "experts": ["wang", "zhang", "jianguo", "xiaoyan"],
    "institutions": ["jinan", "jiliang", "jiance", "qingdao"],
    "equipment": ["guangpu", "shiyanji", "sepu", "celiang"],
    "projects": ["jinan", "zhiliang", "biaozhun", "pinpai"],
}
MISS_QUERIES = {"experts": "蓝鲸号", "institutions": "蓝鲸号", "equipment": "蓝鲸号", "projects": "蓝鲸号"}


def pct(values: list[float], p: float) -> float:
    vs = sorted(values)
    k = max(0, min(len(vs) - 1, round(p / 100 * (len(vs) - 1))))
    return vs[k]


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu = platform.processor() or "unknown"
    ram = "unknown"
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            kb = int(f.readline().split()[1])
            ram = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        load = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    except OSError:
        load = "n/a"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version(),
        "load": load,
        "sqlite": sqlite3.sqlite_version,
        "os": f"{platform.system()} {platform.release()}",
    }


def build_db(requests: int, library: int, seed: int, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    from qi_station.devtools.generate.run import generate

    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / f"core-{requests}-{library}-s{seed}.db"
    meta_path = db.with_suffix(".json")
    if db.exists() and meta_path.exists() and not rebuild:
        with open(meta_path, encoding="utf-8") as f:
            return db, json.load(f)
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), meta_path):
        p.unlink(missing_ok=True)
    print(f"generating {db.name} …", file=sys.stderr)
    import resource

    def cpu() -> float:
        a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

    load0 = os.getloadavg()[0]
    t, c = time.perf_counter(), cpu()
    res = generate(db, requests=requests, library=library, seed=seed)
    res["wall_s"] = round(time.perf_counter() - t, 2)
    res["cpu_s"] = round(cpu() - c, 1)
    res["load_before"] = round(load0, 1)
    res["built_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    res["db_bytes"] = db.stat().st_size
    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump(res, f, ensure_ascii=False, indent=1)
    return db, res


def bench_save(db: Path, n: int) -> dict[str, Any]:
    from qi_station.services import ledger

    conn = sqlite3.connect(db)
    ents = conn.execute("SELECT name, uscc FROM enterprise ORDER BY random() LIMIT ?", (n + 5,)).fetchall()
    conn.close()
    times = []
    for i, (name, uscc) in enumerate(ents):
        inp = ledger.RequestInput(
            enterprise=name,
            uscc=uscc,
            elements="计量,检验检测",
            title=f"基准测试需求 {i}",
            channel="phone",
            operator="bench",
        )
        ms = timed(lambda inp=inp: ledger.create_request(db, inp))
        if i >= 5:  # warm-up: imports, engine, first statements
            times.append(ms)
    # baseline: one raw INSERT of a request row + COMMIT, synchronous=FULL (WAL), same file
    from qi_station.db.engine import connect
    from qi_station.devtools.generate.fields import new_id
    from qi_station.devtools.generate.requests import REQUEST_COLUMNS

    conn = connect(db)
    ent_id = conn.execute("SELECT id FROM enterprise LIMIT 1").fetchone()[0]
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    rng = random.Random(0)
    base = []
    sql = (
        f"INSERT INTO request ({', '.join(REQUEST_COLUMNS)}) VALUES ({', '.join('?' * len(REQUEST_COLUMNS))})"
    )
    ids = []
    for i in range(n):
        rid = new_id(rng, int(time.time() * 1000))
        ids.append(rid)
        row = {c: None for c in REQUEST_COLUMNS}
        row.update(
            id=rid,
            number=f"BENCH-200001-{i:04d}",
            station_code="BENCH",
            enterprise_id=ent_id,
            elements='["metrology"]',
            title="baseline",
            channel="phone",
            urgency="normal",
            received_at="2000-01-01 00:00:00.000000",
            promised_date="2000-01-16",
            status="new",
            s_rev=1,
            h_rev=0,
            seq=0,
            deleted=0,
            created_at="2000-01-01 00:00:00.000000",
            updated_at="2000-01-01 00:00:00.000000",
        )
        vals = tuple(row[c] for c in REQUEST_COLUMNS)

        def one(vals: tuple[Any, ...] = vals) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql, vals)
            conn.execute("COMMIT")

        base.append(timed(one))
    conn.executemany("DELETE FROM request WHERE id = ?", [(i,) for i in ids])
    conn.close()
    return {
        "n": len(times),
        "p50": statistics.median(times),
        "p95": pct(times, 95),
        "max": max(times),
        "base_p50": statistics.median(base),
        "base_p95": pct(base, 95),
    }


def _scan_search(db: Path, kind: str, q: str, **kw: Any) -> list[dict[str, Any]]:
    """The same search with the index switched off: the substring tier scans (the path before issue
    13, kept in services/search.py as the fallback)."""
    from qi_station.db import searchindex
    from qi_station.services.search import search

    real = searchindex.is_current
    searchindex.is_current = lambda conn, table: False  # type: ignore[assignment]
    try:
        return search(db, kind, q, **kw)
    finally:
        searchindex.is_current = real  # type: ignore[assignment]


def bench_search(db: Path, rounds: int) -> dict[str, Any]:
    from qi_station.services.search import search

    kinds_table = {
        "experts": "expert",
        "institutions": "institution",
        "equipment": "equipment",
        "projects": "project",
    }
    out: dict[str, Any] = {}
    per_query: dict[tuple[str, str], list[float]] = {}
    from qi_station.db.engine import connect

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    kept_conn = connect(db)  # as the TUI calls it: one connection kept (services.workspace.SharedReader)
    for cls, per_kind in QUERIES.items():
        kept: list[float] = []
        kept_cpu: list[float] = []
        ours: list[float] = []
        base: list[float] = []
        scan: list[float] = []
        cpu: list[float] = []
        hits: list[int] = []
        col = {"initials": "name_initials", "full pinyin": "name_py"}.get(cls, "name")
        for _ in range(rounds):
            for kind, qs in per_kind.items():
                for q in qs:
                    c0 = time.thread_time()
                    kept.append(timed(lambda kind=kind, q=q: search(kept_conn, kind, q, limit=50)))
                    kept_cpu.append((time.thread_time() - c0) * 1000)
                    res: list[Any] = []
                    c0 = time.thread_time()
                    ours.append(
                        timed(lambda kind=kind, q=q, res=res: res.extend(search(db, kind, q, limit=50)))
                    )
                    cpu.append((time.thread_time() - c0) * 1000)
                    scan.append(timed(lambda kind=kind, q=q: _scan_search(db, kind, q, limit=50)))
                    per_query.setdefault((kind, q), []).append(kept[-1])
                    hits.append(len(res))
                    sql = f"SELECT id, name FROM {kinds_table[kind]} WHERE instr({col}, ?) > 0 LIMIT 50"
                    base.append(timed(lambda sql=sql, q=q: conn.execute(sql, (q,)).fetchall()))
        out[cls] = {
            "kept_p50": statistics.median(kept),
            "kept_p95": pct(kept, 95),
            "kept_cpu_p95": pct(kept_cpu, 95),
            "p50": statistics.median(ours),
            "p95": pct(ours, 95),
            "cpu_p95": pct(cpu, 95),
            "scan_p50": statistics.median(scan),
            "scan_p95": pct(scan, 95),
            "base_p50": statistics.median(base),
            "base_p95": pct(base, 95),
            "min_hits": min(hits),
            "n": len(ours),
        }
    # worst case: nothing matches, every tier scans the table
    ours, base, scan, cpu, kept, kept_cpu = [], [], [], [], [], []
    for _ in range(max(1, rounds // 2)):
        for kind, q in MISS_QUERIES.items():
            c0 = time.thread_time()
            kept.append(timed(lambda kind=kind, q=q: search(kept_conn, kind, q, limit=50)))
            kept_cpu.append((time.thread_time() - c0) * 1000)
            c0 = time.thread_time()
            ours.append(timed(lambda kind=kind, q=q: search(db, kind, q, limit=50)))
            cpu.append((time.thread_time() - c0) * 1000)
            scan.append(timed(lambda kind=kind, q=q: _scan_search(db, kind, q, limit=50)))
            sql = f"SELECT id, name FROM {kinds_table[kind]} WHERE instr(haystack, ?) > 0 LIMIT 50"
            base.append(timed(lambda sql=sql, q=q: conn.execute(sql, (q,)).fetchall()))
    out["no match (3 chars)"] = {
        "kept_p50": statistics.median(kept),
        "kept_p95": pct(kept, 95),
        "kept_cpu_p95": pct(kept_cpu, 95),
        "p50": statistics.median(ours),
        "p95": pct(ours, 95),
        "cpu_p95": pct(cpu, 95),
        "scan_p50": statistics.median(scan),
        "scan_p95": pct(scan, 95),
        "base_p50": statistics.median(base),
        "base_p95": pct(base, 95),
        "min_hits": 0,
        "n": len(ours),
    }
    conn.close()
    kept_conn.close()
    slow = sorted(((statistics.median(v), k) for k, v in per_query.items()), reverse=True)[:6]
    out["_slowest"] = [f"{kind} {q!r} {ms:.1f} ms" for ms, (kind, q) in slow]
    return out


def busiest_month(db: Path) -> tuple[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    row = conn.execute(
        "SELECT substr(number, length(number) - 10, 6) AS m, count(*) FROM request "
        "WHERE number NOT LIKE 'BENCH-%' GROUP BY m ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    conn.close()
    return f"{row[0][:4]}-{row[0][4:]}", row[1]


def bench_list(db: Path, month: str, rounds: int) -> dict[str, Any]:
    from qi_station.core.clock import to_db
    from qi_station.core.months import month_bounds_utc
    from qi_station.services.queries import list_requests

    rows: list[Any] = []
    ours = [
        timed(lambda: rows.__setitem__(slice(None), list_requests(db, month=month))) for _ in range(rounds)
    ]
    start, end = month_bounds_utc(month)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    sql = (
        "SELECT r.*, e.name AS enterprise_name FROM request r JOIN enterprise e ON e.id = r.enterprise_id "
        "WHERE r.received_at >= ? AND r.received_at < ? ORDER BY r.received_at DESC"
    )
    base = [timed(lambda: conn.execute(sql, (to_db(start), to_db(end))).fetchall()) for _ in range(rounds)]
    conn.close()
    exe = shutil.which("qi-station") or str(Path(sys.executable).with_name("qi-station"))
    cli = []
    for _ in range(max(3, rounds // 2)):
        t = time.perf_counter()
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            subprocess.run(
                [exe, "--db", str(db), "request", "list", "--month", month, "--json"],
                check=True,
                stdout=devnull,
            )
        cli.append((time.perf_counter() - t) * 1000)
    raw_py = (
        f"import sqlite3, json; c = sqlite3.connect({str(db)!r}); c.row_factory = sqlite3.Row; "
        f"print(json.dumps([dict(r) for r in c.execute({sql!r}, ({to_db(start)!r}, {to_db(end)!r}))], "
        "ensure_ascii=False))"
    )
    cli_base = []
    for _ in range(max(3, rounds // 2)):
        t = time.perf_counter()
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            subprocess.run([sys.executable, "-c", raw_py], check=True, stdout=devnull)
        cli_base.append((time.perf_counter() - t) * 1000)
    return {
        "rows": len(rows),
        "p50": statistics.median(ours),
        "base_p50": statistics.median(base),
        "cli_p50": statistics.median(cli),
        "cli_base_p50": statistics.median(cli_base),
    }


def report(
    args: argparse.Namespace,
    meta: dict[str, Any],
    save: dict[str, Any] | None,
    srch: dict[str, Any],
    lst: dict[str, Any] | None,
    month: str,
    mach: dict[str, str],
) -> str:
    lines = [
        f"Machine: {mach['nproc']} CPU ({mach['cpu']}), {mach['ram']} RAM, {mach['os']}, Python {mach['python']}, "
        f"SQLite {mach['sqlite']}; load average (1/5/15 min) at the end of the run {mach['load']}. Measured {datetime.now(UTC).strftime('%Y-%m-%d')} by `python benchmarks/bench_core.py`.",
        "",
        f"Database: `qi-station generate --requests {args.requests} --library {args.library} --seed {args.seed}` → "
        f"{meta['requests']:,} requests, {meta['events']:,} events, {meta['referrals']:,} referrals, "
        f"{meta['enterprises']:,} enterprises, {meta['experts']:,} experts, {meta['institutions']:,} institutions, "
        f"{meta['equipment']:,} equipment, {meta['projects']:,} projects; "
        f"{meta.get('db_bytes', 0) / 2**30:.2f} GiB. **Generated in {meta['seconds']:.1f} s** wall, "
        f"{meta.get('cpu_s', '?')} s CPU over all its processes, load average {meta.get('load_before', '?')} when it started "
        f"(library {meta.get('library_s')} s, enterprises {meta.get('enterprises_s')} s, "
        f"requests+events {meta.get('requests_s')} s, index rebuild {meta.get('indexes_s')} s, "
        f"month rollup {meta.get('rollup_s')} s, search index {meta.get('search_s')} s; goal < 60 s).",
        "",
        "| Measure | qi-station | raw sqlite3 baseline (same run) | Goal |",
        "|---|---|---|---|",
    ]
    if save is not None:
        lines.append(
            f"| Request save, `ledger.create_request` (n={save['n']}) | p95 {save['p95']:.1f} ms (p50 {save['p50']:.1f}) "
            f"| p95 {save['base_p95']:.1f} ms (p50 {save['base_p50']:.1f}): one INSERT + COMMIT, WAL, synchronous=FULL "
            f"| p95 ≤ 10 ms |"
        )
    for cls, r in srch.items():
        if cls.startswith("_"):
            continue
        base_what = (
            "`instr(name_initials, ?)`"
            if cls == "initials"
            else "`instr(name_py, ?)`"
            if cls == "full pinyin"
            else ("`instr(haystack, ?)`" if cls.startswith("no match") else "`instr(name, ?)`")
        )
        goal = "p95 ≤ 5 ms" if not cls.startswith("no match") else "(worst case, no goal)"
        lines.append(
            f"| Library search, {cls}, `search(conn, kind, q, limit=50)` on a kept connection (as the TUI), "
            f"then `search(db_path, …)` (a connection per call, as the CLI) (n={r['n']}, 4 libraries) "
            f"| kept: p95 {r['kept_p95']:.1f} ms (p50 {r['kept_p50']:.1f}; CPU p95 {r['kept_cpu_p95']:.1f}); "
            f"per call: p95 {r['p95']:.1f} ms (p50 {r['p50']:.1f}; CPU p95 {r['cpu_p95']:.1f}); "
            f"index off (the scan): p95 {r['scan_p95']:.1f} (p50 {r['scan_p50']:.1f}) "
            f"| p95 {r['base_p95']:.1f} ms (p50 {r['base_p50']:.1f}): {base_what} LIMIT 50 | {goal} |"
        )
    if save is None or lst is None:
        met = [
            f"search {cls} p95 ≤ 5 ms kept {'met' if r['kept_p95'] <= 5 else 'NOT met'}, "
            f"per call {'met' if r['p95'] <= 5 else 'NOT met'}"
            for cls, r in srch.items()
            if not cls.startswith(("_", "no match"))
        ]
        lines += ["", "Goals: " + "; ".join(met) + "."]
        lines += [
            "",
            "Slowest search queries (median, kept connection): " + "; ".join(srch["_slowest"]) + ".",
        ]
        return "\n".join(lines)
    lines += [
        f'| `queries.list_requests(db, month="{month}")` ({lst["rows"]:,} rows, busiest month) '
        f"| {lst['p50']:.0f} ms (median) | {lst['base_p50']:.0f} ms: month-range SELECT + JOIN, fetchall | — |",
        f"| CLI `qi-station --db X request list --month {month} --json > /dev/null` | {lst['cli_p50']:.0f} ms (median, "
        f"whole process) | {lst['cli_base_p50']:.0f} ms: `python -c` doing the same SELECT + json.dumps | — |",
        "",
        "Goals: "
        + "; ".join(
            [f"request save p95 ≤ 10 ms {'met' if save['p95'] <= 10 else 'NOT met'}"]
            + [
                f"search {cls} p95 ≤ 5 ms {'met' if r['p95'] <= 5 else 'NOT met'}"
                for cls, r in srch.items()
                if not cls.startswith(("_", "no match"))
            ]
            + [f"generate < 60 s {'met' if meta['seconds'] < 60 else 'NOT met'} ({meta['seconds']:.1f} s)"]
        )
        + ".",
        "",
        "Slowest search queries (median, kept connection): " + "; ".join(srch["_slowest"]) + ".",
        "",
        "Notes: search times include opening a connection per call (as the CLI does). Request saves go into "
        "the cached benchmark database (they stay there; the baseline rows are deleted). The generated "
        "database keeps a full event history for the last 12 months and one back-filled `created` event for "
        "older requests (see `qi_station/devtools/generate/`).",
    ]
    return "\n".join(lines)


def update_docs(section: str) -> None:
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n\n## Core\n\n_pending_\n"
    m = re.search(r"^## Core[^\n]*\n", text, flags=re.M)
    if not m:
        text = text.rstrip("\n") + "\n\n## Core (station database, search, ledger)\n\n" + section + "\n"
    else:
        nxt = re.search(r"^## ", text[m.end() :], flags=re.M)
        end = m.end() + nxt.start() if nxt else len(text)
        text = text[: m.end()] + "\n" + section + "\n\n" + text[end:]
    with open(DOCS, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--library", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rebuild", action="store_true", help="regenerate the cached database")
    ap.add_argument("--saves", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--only-search", action="store_true", help="measure library search only")
    ap.add_argument("--hogs", action="store_true", help="search with two CPU-burning processes running")
    ap.add_argument(
        "--update-docs", action="store_true", help='rewrite the "## Core" section of docs/benchmarks.md'
    )
    args = ap.parse_args()
    db, meta = build_db(args.requests, args.library, args.seed, args.rebuild)
    print(
        f"database {db} ({meta.get('db_bytes', 0) / 2**30:.2f} GiB), generated in {meta['seconds']} s",
        file=sys.stderr,
    )
    month, _ = busiest_month(db)
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 if args.hogs else 0)
    ]
    try:
        srch = bench_search(db, args.rounds)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    if hogs:
        srch["_slowest"].append(
            f"measured with two CPU hogs running (`python -c 'while True: pass'` × {len(hogs)})"
        )
    lst = None if args.only_search else bench_list(db, month, args.rounds)
    save = None if args.only_search else bench_save(db, args.saves)
    section = report(args, meta, save, srch, lst, month, machine())
    print(section)
    if args.update_docs and not (args.only_search or args.hogs):
        update_docs(section)
        print(f"updated {DOCS}", file=sys.stderr)


if __name__ == "__main__":
    main()
