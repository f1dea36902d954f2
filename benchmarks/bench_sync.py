"""Sync benchmark on loopback: a real uvicorn hub (SQLite) and a station database.

    python benchmarks/bench_sync.py [--rows 200000] [--bundle-rows 100000]

Measures: initial pull of N library rows over HTTP, 1k incremental changes, hub bundle export and
station bundle import of M rows; beside a raw sqlite3 baseline (copy the same rows between two files
with executemany). Goals: 4 s, 0.2 s, 1.5 s, 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QI_STATION_OPERATOR", "bench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill_hub(path: Path, n: int) -> None:
    """n library rows spread over the four tables, with hub seqs 1..n (straight SQL: this is setup)."""
    from qi_station.core.clock import now_utc, to_db

    now = to_db(now_utc())
    c = sqlite3.connect(path)
    c.execute("BEGIN")
    per = n // 4
    seq = 0
    for t, extra_cols, extra in (
        (
            "expert",
            ("employer", "specialty", "phone", "active_requests"),
            ("山东大学", "计量校准", "0531-88888888", 0),
        ),
        ("institution", ("short_name", "scope", "cma_expiry"), ("计量院", "长度 温度 压力", "2027-06-30")),
        ("equipment", ("model", "fee", "fee_unit", "shared"), ("X-100", 300, "hour", 1)),
        ("project", ("year", "lead", "description"), (2025, "张三", "标准化试点项目")),
    ):
        rows = []
        for i in range(per):
            seq += 1
            name = f"{t}名称{i}号济南青岛"
            rows.append(
                (
                    f"{t}-{i:07d}",
                    name,
                    "mingcheng",
                    "mc",
                    name.lower(),
                    "370100",
                    '["standards"]',
                    1,
                    seq,
                    0,
                    now,
                    *extra,
                )
            )
        cols = (
            "id",
            "name",
            "name_py",
            "name_initials",
            "haystack",
            "city_code",
            "elements",
            "rev",
            "seq",
            "deleted",
            "updated_at",
            *extra_cols,
        )
        c.executemany(f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
    c.execute("UPDATE hub_counter SET value = ? WHERE name = 'seq'", (seq,))
    c.execute("COMMIT")
    c.close()


def baseline(src: Path, dst: Path) -> float:
    """Raw sqlite3: read every library row from one file and upsert into another (the floor)."""
    a = sqlite3.connect(src)
    b = sqlite3.connect(dst)
    t0 = time.perf_counter()
    b.execute("BEGIN")
    for t in ("expert", "institution", "equipment", "project"):
        cur = a.execute(f"SELECT * FROM {t}")
        cols = [d[0] for d in cur.description]
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id")
        b.executemany(
            f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT(id) DO UPDATE SET {sets} WHERE excluded.rev > {t}.rev",
            cur.fetchall(),
        )
    b.execute("COMMIT")
    dt = time.perf_counter() - t0
    a.close()
    b.close()
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--bundle-rows", type=int, default=100_000)
    ap.add_argument(
        "--up-requests",
        type=int,
        default=1500,
        help="requests (each created and moved once) in the station's up bundle for the hub import",
    )
    args = ap.parse_args()

    import httpx

    from qi_station.db.engine import open_db
    from qi_station.sync.hub.store import Hub
    from qi_station.sync.station import bundles as B
    from qi_station.sync.station import client as C

    d = Path(tempfile.mkdtemp(prefix="qi_bench_sync_"))
    results: list[tuple[str, float, str]] = []

    # ---- HTTP: initial pull and 1k incremental ------------------------------------------------
    hub = Hub(f"sqlite:///{d / 'hub.db'}")
    hub.init(demo=False)
    fill_hub(d / "hub.db", args.rows)
    tok = hub.add_station("BENCH", "bench")["token"]
    port = free_port()
    srv = subprocess.Popen(
        [sys.executable, "-m", "qi_station", "hub", "serve", "--database-url", hub.url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=0.5, trust_env=False)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        st = d / "station.db"
        open_db(st)
        C.enroll(st, tok, f"http://127.0.0.1:{port}")
        t0 = time.perf_counter()
        r = C.run_sync(st)
        t_init = time.perf_counter() - t0
        assert r["pulled"] >= args.rows, r
        results.append((f"initial pull, {args.rows:,} library rows (HTTP, page 5000)", t_init, "≤ 4 s"))

        # 1k changes at the hub (straight SQL with fresh seqs; setup, not measured)
        c = sqlite3.connect(d / "hub.db")
        c.execute("BEGIN IMMEDIATE")
        head = c.execute("SELECT value FROM hub_counter WHERE name='seq'").fetchone()[0]
        c.executemany(
            "UPDATE expert SET name = name || '改', rev = rev + 1, seq = ? WHERE id = ?",
            [(head + i + 1, f"expert-{i:07d}") for i in range(1000)],
        )
        c.execute("UPDATE hub_counter SET value = ? WHERE name='seq'", (head + 1000,))
        c.execute("COMMIT")
        c.close()
        t0 = time.perf_counter()
        r = C.run_sync(st)
        t_inc = time.perf_counter() - t0
        assert r["pulled"] == 1000, r
        results.append(("incremental pull, 1,000 changed rows (HTTP)", t_inc, "≤ 0.2 s"))
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(10)

    # ---- raw sqlite3 baseline ---------------------------------------------------------------------
    base = d / "base.db"
    open_db(base)
    results.append(
        (
            f"baseline: raw sqlite3 copy of {args.rows:,} rows (no HTTP, no JSON)",
            baseline(d / "hub.db", base),
            "-",
        )
    )

    # ---- bundles ------------------------------------------------------------------------------------
    hub2 = Hub(f"sqlite:///{d / 'hub2.db'}")
    hub2.init(demo=False)
    fill_hub(d / "hub2.db", args.bundle_rows)
    tok2 = hub2.add_station("USB", "usb")["token"]
    st2 = d / "station2.db"
    open_db(st2)
    C.enroll(st2, tok2)  # offline
    out = d / "down.zip"
    t0 = time.perf_counter()
    hub2.export_bundle("USB", out)
    t_exp = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = B.import_bundle(st2, out)
    t_imp = time.perf_counter() - t0
    assert r["applied"] >= args.bundle_rows, r
    mb = out.stat().st_size / 1e6
    results.append((f"bundle export (hub), {args.bundle_rows:,} rows → {mb:.1f} MB zip", t_exp, "≤ 1.5 s"))
    results.append((f"bundle import (station), {args.bundle_rows:,} rows", t_imp, "≤ 1.5 s"))

    # ---- hub import of a station's up bundle (bulk apply) -----------------------------------------
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_sync_util import request_input

    from qi_station.services import ledger

    st3 = d / "station3.db"
    open_db(st3)
    C.enroll(st3, hub2.add_station("UP", "up")["token"])
    for i in range(args.up_requests):  # setup through the ledger (not measured)
        r = ledger.create_request(st3, request_input(i, ent=i % 50))
        ledger.move_request(st3, r["id"], "accepted")
    up = d / "up.zip"
    B.export_bundle(st3, up)
    # the hub learns the station key from its first bundle (offline enrollment); time the import
    t0 = time.perf_counter()
    r = hub2.import_bundle(up)
    t_up = time.perf_counter() - t0
    assert r["status"] == "imported", r
    results.append((f"up-bundle import (hub), {r['applied']:,} station changes", t_up, "-"))

    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    except OSError:
        pass
    print(
        f"machine: {platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    print("| measurement | seconds | goal |")
    print("|---|---:|---|")
    for name, secs, goal in results:
        print(f"| {name} | {secs:.3f} | {goal} |")


if __name__ == "__main__":
    main()
