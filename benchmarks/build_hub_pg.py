"""Build a province hub database on PostgreSQL: N requests (default 10,000,000) over ~150 stations and
~10 years, the rows the synthetic generator makes (``qi-station generate``), loaded by COPY.

    nice python benchmarks/build_hub_pg.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/qi_bench_10m]
        [--requests 10000000] [--stations 150] [--years 10] [--library 2000] [--seed 1] [--replace]

How: the database is created (``--replace`` drops it first; an existing database is refused otherwise)
and migrated by the hub (``Hub.migrate``, Alembic). The library and every station's enterprises are made
by the generator's row makers (``gen_library``, ``gen_enterprises``) into a scratch SQLite file, then
copied. Each station's requests, hash-chained events and referrals come from the generator's plan and
chunk makers (``plan_requests`` + ``synth_parallel``: two child processes build rows while this one
COPYs them), ``months = years * 12``, full histories for the last 12 months and the older requests
back-filled with one ``created`` event (as ``generate`` does). For the load the rollup's triggers,
the secondary indexes and the foreign keys of the bulk tables are lifted; afterwards the indexes and
foreign keys are created again (as the migrations defined them), the tables ANALYZEd, the month rollup
and the first requests (``request_first``) rebuilt once (``rollup.rebuild_sql``,
``first_rebuild_sql``), their triggers put back, and the tables VACUUM ANALYZEd.

Prints rows, seconds and rows/s per phase. Benchmark data only (a throwaway database): never a hub
anyone syncs with.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("QI_STATION_OPERATOR", "bench")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BULK = ("enterprise", "request", "request_event", "referral")
LIBRARY = ("expert", "institution", "equipment", "project")
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/qi_bench_10m"


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def create_db(url: str, replace: bool) -> None:
    import psycopg

    base, name = libpq(url).rsplit("/", 1)
    if name in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to build into database {name!r}: give your own (e.g. qi_bench_10m)")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not replace:
            raise SystemExit(f"database {name} exists: --replace drops and builds it again")
        if exists:
            c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')


def stations(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """n stations over Shandong's counties (weighted by city, as the generator weights cities)."""
    from qi_station.core import domain, places
    from qi_station.devtools.generate.places import CITY_WEIGHTS

    cities = [c for c in CITY_WEIGHTS for _ in range(CITY_WEIGHTS[c])]
    out = []
    for i in range(n):
        city = rng.choice(cities)
        region = rng.choice([code for code, _ in places.COUNTIES.get(city, ())] or [city])
        out.append(
            {
                "code": f"S{i + 1:03d}",
                "name": f"{places.CITIES[city]}质量工作站{i + 1}",
                "region_code": region,
                "station_type": rng.choice(domain.STATION_TYPES),
                "service_mode": rng.choice(domain.SERVICE_MODES),
            }
        )
    return out


def drop_for_load(pg: Any) -> list[str]:
    """Lift the rollup's triggers and the bulk tables' indexes and constraints (foreign keys, then
    unique and primary keys); return the SQL that puts them back (indexes and keys first, foreign keys
    last), as the migrations defined them."""
    from qi_station.db import rollup

    # every rollup's triggers (revision 0024's low ratings too: its insert trigger reads the new request
    # by key, and without the primary key each inserted row was a scan of the whole table)
    for sql in (
        rollup.drop_sql("postgresql")
        + rollup.first_drop_sql("postgresql")
        + rollup.low_drop_sql("postgresql")
    ):
        pg.execute(sql)
    keys: list[str] = []
    fks: list[str] = []
    for name, table, kind, definition in pg.execute(
        "SELECT conname, conrelid::regclass::text, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE (contype IN ('f', 'u', 'p') AND conrelid::regclass::text = ANY(%s)) "
        "OR (contype = 'f' AND confrelid::regclass::text = ANY(%s)) ORDER BY contype = 'f' DESC",
        (list(BULK), list(BULK)),
    ).fetchall():
        pg.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        (fks if kind == "f" else keys).append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    idx = []
    for name, definition in pg.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s)",
        (list(BULK),),
    ).fetchall():
        pg.execute(f'DROP INDEX "{name}"')
        idx.append(definition)
    return keys + idx + fks


def clone_sql(pg: Any, template: int, copies: int) -> list[str]:
    """INSERT ... SELECT statements that copy the template stations' rows (stations 1..template) to
    stations template+1 .. template*(copies+1): new ids (an id's UUID version digit, 7, replaced by a letter:
    a for the first copy, b for the second …), codes and ledger numbers; the same enterprises' USCCs (an enterprise served by several
    stations), times, statuses and referrals. The copies' event hashes are not recomputed (the report
    never reads them; ``hub verify`` would flag them)."""

    def cols(table: str) -> list[str]:
        return [
            r[0]
            for r in pg.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "ORDER BY ordinal_position",
                (table,),
            )
        ]

    def new_id(col: str) -> str:
        return f"overlay({col} placing chr(96 + g.j) from 15 for 1)"

    code = f"'S' || lpad((substr(t.station_code, 2)::int + {template} * g.j)::text, 3, '0')"
    subst = {
        "enterprise": {"id": new_id("t.id"), "station_code": code},
        "request": {
            "id": new_id("t.id"),
            "enterprise_id": new_id("t.enterprise_id"),
            "station_code": code,
            "number": f"({code}) || substr(t.number, 5)",
        },
        "request_event": {"id": new_id("t.id"), "request_id": new_id("t.request_id")},
        "referral": {"id": new_id("t.id"), "request_id": new_id("t.request_id")},
    }
    out = []
    for table, sub in subst.items():
        names = cols(table)
        exprs = ", ".join(sub.get(c, f"t.{c}") for c in names)
        out.append(
            f"INSERT INTO {table} ({', '.join(names)}) SELECT {exprs} FROM {table} t "
            f"CROSS JOIN generate_series(1, {copies}) g(j)"
        )
    return out


def copy_rows(pg: Any, table: str, cols: tuple[str, ...] | list[str], rows: Any) -> int:
    n = 0
    with pg.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--requests", type=int, default=10_000_000)
    ap.add_argument("--stations", type=int, default=150)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--library", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--template",
        type=int,
        default=0,
        help="generate this many stations' rows (a divisor of --stations) and copy them to the others "
        "server-side (INSERT ... SELECT); 0: generate every station",
    )
    ap.add_argument("--now", default=None, help="the anchor (ISO, UTC); default: the current minute")
    ap.add_argument("--replace", action="store_true", help="drop the database first if it exists")
    a = ap.parse_args()

    import psycopg

    from qi_station.db import rollup
    from qi_station.db.engine import connect, open_db
    from qi_station.db.write import EVENT_COLUMNS, REFERRAL_COLUMNS
    from qi_station.devtools.generate.fields import DAY_MS, PinyinCache
    from qi_station.devtools.generate.library import gen_enterprises, gen_library
    from qi_station.devtools.generate.requests import REQUEST_COLUMNS, plan_requests
    from qi_station.devtools.generate.run import anchor_ms
    from qi_station.devtools.generate.synth import synth_parallel
    from qi_station.sync.hub.store import Hub

    load = os.getloadavg()
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, python {platform.python_version()}; "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; {a.requests:,} requests, "
        f"{a.stations} stations, {a.years} years",
        flush=True,
    )
    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    counts: dict[str, int] = {}

    def lap(name: str, t: float) -> None:
        timings[name] = round(time.perf_counter() - t, 1)
        print(f"  {name}: {timings[name]} s", flush=True)

    t = time.perf_counter()
    create_db(a.url, a.replace)
    hub = Hub(a.url)
    hub.migrate()
    hub.dispose()
    lap("create_migrate_s", t)

    rng = random.Random(a.seed)
    now_ms = anchor_ms(datetime.fromisoformat(a.now) if a.now else None)
    months = a.years * 12
    sts = stations(a.stations, rng)
    template = a.template or a.stations
    if a.stations % template or a.stations // template > 27:
        raise SystemExit("--template must divide --stations, into at most 27 parts")
    copies = a.stations // template - 1
    per = [a.requests // a.stations + (1 if i < a.requests % a.stations else 0) for i in range(template)]

    # the library and the enterprises: the generator's row makers into a scratch SQLite file, then COPY
    t = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="qi-hubbuild-")) / "rows.db"
    open_db(scratch)
    sconn = connect(scratch)
    sconn.execute("PRAGMA synchronous=OFF")
    pc = PinyinCache()
    sconn.execute("BEGIN")
    refs = gen_library(sconn, rng, a.library, now_ms, pc)
    ents = [
        gen_enterprises(sconn, rng, max(50, n // 20), now_ms, pc, s["code"])
        for s, n in zip(sts, per, strict=False)
    ]

    sconn.execute("COMMIT")
    lap("library_enterprises_s", t)

    pg = psycopg.connect(libpq(a.url))
    pg.execute("SET maintenance_work_mem = '1GB'")
    pg.execute("SET synchronous_commit = off")
    restore = drop_for_load(pg)
    pg.commit()
    t = time.perf_counter()
    for table in (*LIBRARY, "enterprise"):
        pcols = {
            r[0]
            for r in pg.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
            )
        }
        cols = [r[1] for r in sconn.execute(f"PRAGMA table_info({table})") if r[1] in pcols]
        counts[table] = copy_rows(pg, table, cols, sconn.execute(f"SELECT {', '.join(cols)} FROM {table}"))
    now = datetime.utcnow().replace(microsecond=0)
    with pg.cursor() as cur:
        cur.executemany(
            "INSERT INTO hub_station (id, code, name, region_code, station_type, service_mode, revoked, "
            "enroll_used, created_at, profile_at) VALUES (%s, %s, %s, %s, %s, %s, false, true, %s, %s)",
            [
                (
                    f"bench-{s['code']}",
                    s["code"],
                    s["name"],
                    s["region_code"],
                    s["station_type"],
                    s["service_mode"],
                    now,
                    now,
                )
                for s in sts
            ],
        )
    pg.commit()
    sconn.close()
    lap("copy_library_enterprises_s", t)

    # requests, events, referrals: per station, built by two child processes while this one COPYs
    t = time.perf_counter()
    n_req = n_ev = n_ref = 0
    detailed_from = now_ms - int(12 * 30.44 * DAY_MS)
    for i, (s, n, es) in enumerate(zip(sts[:template], per, ents, strict=True)):
        plan = plan_requests(
            rng,
            n,
            station_code=s["code"],
            enterprises=es,
            refs=refs,
            now_ms=now_ms,
            months=months,
            counters={},
            detailed_from_ms=detailed_from,
        )
        for b in synth_parallel(plan, workers=2):
            n_req += copy_rows(pg, "request", REQUEST_COLUMNS, b.requests)
            n_ev += copy_rows(pg, "request_event", EVENT_COLUMNS, b.events)
            n_ref += copy_rows(pg, "referral", REFERRAL_COLUMNS, b.referrals)
        pg.commit()
        el = time.perf_counter() - t
        print(
            f"  station {i + 1}/{template}: {n_req:,} requests, {n_ev:,} events in {el:.0f} s "
            f"({(n_req + n_ev + n_ref) / el:,.0f} rows/s)",
            flush=True,
        )
    lap("copy_requests_s", t)
    timings["generated_rows_per_s"] = round((n_req + n_ev + n_ref) / timings["copy_requests_s"])
    if copies:
        t = time.perf_counter()
        for sql in clone_sql(pg, template, copies):
            pg.execute(sql)
            pg.commit()
            print(f"  copied: {sql[:40]}… {time.perf_counter() - t:.0f} s", flush=True)
        lap("copy_stations_s", t)
    for table in BULK:
        counts[table] = (pg.execute(f"SELECT COUNT(*) FROM {table}").fetchone() or (0,))[0]
    timings["rows_per_s"] = round(
        sum(counts[x] for x in ("request", "request_event", "referral"))
        / (timings["copy_requests_s"] + timings.get("copy_stations_s", 0))
    )

    t = time.perf_counter()
    for sql in restore:
        pg.execute(sql)
        pg.commit()
    lap("indexes_fks_s", t)
    t = time.perf_counter()
    for table in BULK:  # statistics before the rebuild: without them its per-event look-up of a later
        pg.execute(f"ANALYZE {table}")  # resolution is planned over the time index (hours at 1M)
    pg.commit()
    lap("analyze_s", t)
    t = time.perf_counter()
    for sql in (
        rollup.rebuild_sql("postgresql")
        + rollup.first_rebuild_sql()
        + rollup.low_rebuild_sql()
        + rollup.trigger_sql("postgresql")
        + rollup.first_trigger_sql("postgresql")
        + rollup.low_trigger_sql("postgresql")
    ):
        pg.execute(sql)
    pg.commit()
    lap("rollup_s", t)
    pg.close()
    t = time.perf_counter()
    with psycopg.connect(libpq(a.url), autocommit=True) as c:
        c.execute("SET maintenance_work_mem = '1GB'")
        for table in (*BULK, *LIBRARY, "hub_station", rollup.TABLE, rollup.FIRST_TABLE, rollup.LOW_TABLE):
            c.execute(f"VACUUM ANALYZE {table}")
        size = c.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
    lap("vacuum_analyze_s", t)
    timings["total_s"] = round(time.perf_counter() - t_all, 1)
    print(f"rows: {counts}")
    print(f"timings: {timings}")
    print(
        f"database size: {size[0] if size else '?'}; load average now {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
