"""Hub library import benchmark: N library rows through ``Hub.upsert_library`` (the path of
``hub import-library``), on PostgreSQL and on SQLite, beside a raw psycopg COPY baseline.

    python benchmarks/bench_hub_import.py [--rows 12000] [--pg postgresql://postgres@127.0.0.1:5432/test]

Measures: the first import (every row new), a re-import with 10% of the rows changed, and, for
PostgreSQL, COPY of the same rows into a bare table (the floor). Goal: 12,000 rows in <= 2 s on
PostgreSQL (issue 12).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("QI_STATION_OPERATOR", "bench")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TABLES = ("expert", "institution", "equipment", "project")


def library_rows(n: int, changed: int = 0) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    per = n // len(TABLES)
    for t in TABLES:
        for i in range(per):
            r: dict[str, Any] = {
                "id": f"{t}-{i:07d}",
                "name": f"{t}名称{i}号济南青岛",
                "city_code": "370100",
                "elements": ["metrology", "testing"],
            }
            if t == "expert":
                r.update(employer="山东大学", specialty="计量校准", phone="0531-88888888")
            elif t == "institution":
                r.update(short_name="计量院", scope="长度 温度 压力", cma_expiry="2027-06-30")
            elif t == "equipment":
                r.update(model="X-100", fee=300, fee_unit="hour", shared=True)
            else:
                r.update(year=2025, lead="张三", description="标准化试点项目")
            if i < changed // len(TABLES):
                r["city_code"] = "370200"
            out.append((t, r))
    return out


def time_import(url: str, n: int) -> tuple[float, float]:
    from qi_station.sync.hub.store import Hub

    hub = Hub(url)
    hub.init(demo=False)
    rows = library_rows(n)
    t0 = time.perf_counter()
    stats = hub.upsert_library(rows)
    first = time.perf_counter() - t0
    assert stats["added"] == n // len(TABLES) * len(TABLES), stats
    rows = library_rows(n, changed=n // 10)
    t0 = time.perf_counter()
    stats = hub.upsert_library(rows)
    again = time.perf_counter() - t0
    assert stats["updated"] == n // 10 // len(TABLES) * len(TABLES), stats
    hub.dispose()
    return first, again


def copy_baseline(admin: str, db: str, n: int) -> float:
    import psycopg

    base = admin.rsplit("/", 1)[0]
    rows = library_rows(n)
    with psycopg.connect(f"{base}/{db}", autocommit=False) as c:
        c.execute(
            "CREATE TABLE bench_copy (id text primary key, name text, city_code text, elements text, "
            "extra text)"
        )
        t0 = time.perf_counter()
        with c.cursor().copy("COPY bench_copy (id, name, city_code, elements, extra) FROM STDIN") as cp:
            for _t, r in rows:
                cp.write_row((r["id"], r["name"], r["city_code"], '["metrology","testing"]', "x"))
        c.commit()
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=12_000)
    ap.add_argument("--pg", default=os.environ.get("QI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--no-sqlite", action="store_true")
    a = ap.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {a.rows} library rows")
    try:
        import psycopg

        name = f"qi_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(a.pg, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"{a.pg.rsplit('/', 1)[0]}/{name}"
            first, again = time_import(url, a.rows)
            base = copy_baseline(a.pg, name, a.rows)
            print(
                f"postgresql  first import {first:6.2f} s   re-import (10% changed) {again:6.2f} s   goal 2.00 s"
            )
            print(f"postgresql  raw COPY baseline {base:6.2f} s")
        finally:
            from qi_station.sync.hub.base import _ENGINES

            for eng in list(_ENGINES.values()):
                eng[0].dispose()
            _ENGINES.clear()
            with psycopg.connect(a.pg, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as e:  # noqa: BLE001 - report and go on to SQLite
        print(f"postgresql  skipped: {e}")
    if not a.no_sqlite:
        with tempfile.TemporaryDirectory() as d:
            first, again = time_import(f"sqlite:///{Path(d) / 'hub.db'}", a.rows)
            print(f"sqlite      first import {first:6.2f} s   re-import (10% changed) {again:6.2f} s")


if __name__ == "__main__":
    main()
