"""Benchmark: the monthly report (read from the month rollup) beside the exact path (every event) and a
raw-SQL (stdlib sqlite3) computation of the same figures, for several months; optionally the province
report on a PostgreSQL hub loaded by COPY.

    python benchmarks/bench_reports.py [--db PATH] [--requests 1000000] [--library 1000] [--seed 1]
                                       [--month YYYY-MM ...] [--repeat 3] [--pg URL_OF_AN_EMPTY_DB] [--pg-exact]

Generates the database with ``qi_station.devtools.generate.run.generate`` when it does not exist (1 M
requests: ~10 min on a loaded 2-core machine; use --requests 200000 for a quick run) and migrates it.
Months: the first with requests, the busiest by requests and by events, the last full one and the
current one (or ``--month``). For each, the script
checks rollup == exact (the whole report) and report == raw (every raw figure), then prints wall and
CPU (process) seconds, medians of ``--repeat`` runs, as Markdown, with the load average. No asserts on
time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

OPEN = ("accepted", "in_progress", "new", "on_hold", "referred", "waiting")
OPEN_SQL = ", ".join(f"'{s}'" for s in OPEN)


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def raw_report(db: Path, month: str) -> dict[str, Any]:
    """The same figures with stdlib sqlite3 and hand-written SQL (no SQLAlchemy, no report module)."""
    from qi_station.core.months import first_day, last_months, month_bounds_utc, next_month

    months = last_months(month, 12)
    b = [ts(month_bounds_utc(m)[0]) for m in months] + [ts(month_bounds_utc(month)[1])]
    start, end = b[11], b[12]
    # overdue: promised before the day after the month, or today in the month not ended yet (docs/reports.md)
    from qi_station.core.clock import today_local

    dend = min(first_day(next_month(month)), max(today_local(), first_day(month))).isoformat()
    dprev = first_day(month).isoformat()

    def bucket(col: str, before: bool = False) -> str:
        s = "CASE " + (f"WHEN {col} < '{b[0]}' THEN -1 " if before else "")
        s += " ".join(f"WHEN {col} < '{b[i + 1]}' THEN {i}" for i in range(11))
        return s + " ELSE 11 END"

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.execute("BEGIN")
    # the station database holds one station's requests: no station filter (as in the report)
    zero = [0] * 12
    ser: dict[str, list[int]] = {
        k: list(zero)
        for k in (
            "received",
            "accepted",
            "resolved",
            "closed",
            "cancelled",
            "ps",
            "cents",
            "rated",
            "satisfied",
            "delta",
        )
    }
    for bk, n in con.execute(
        f"SELECT {bucket('received_at')}, COUNT(*) FROM request WHERE received_at >= ? AND received_at < ? "
        "AND deleted = 0 GROUP BY 1",
        (b[0], end),
    ):
        ser["received"][bk] = n
    for bk, st, n, rated, sat in con.execute(
        f"SELECT {bucket('e.at')}, e.to_status, COUNT(DISTINCT e.request_id), "
        "SUM(e.to_status = 'closed' AND r.satisfaction IS NOT NULL), SUM(e.to_status = 'closed' AND r.satisfaction >= 3) "
        "FROM request_event e JOIN request r ON r.id = e.request_id WHERE e.at >= ? AND e.at < ? AND e.kind = 'status' "
        "AND e.to_status IN ('accepted','resolved','closed','cancelled') AND r.deleted = 0 "
        "GROUP BY 1, 2",
        (b[0], end),
    ):
        ser[st][bk] = n
        if st == "closed":
            ser["rated"][bk], ser["satisfied"][bk] = rated, sat
    for bk, ps, cents in con.execute(
        f"SELECT {bucket('e.at')}, SUM(CAST(json_extract(e.data, '$.problems_solved') AS INTEGER)), "
        "SUM(CAST(ROUND(CAST(json_extract(e.data, '$.cost_saved') AS REAL) * 100) AS INTEGER)) "
        "FROM request_event e JOIN request r ON r.id = e.request_id WHERE e.at >= ? AND e.at < ? AND e.kind = 'status' "
        "AND e.to_status = 'resolved' AND r.deleted = 0 AND NOT EXISTS (SELECT 1 FROM "
        "request_event e2 WHERE e2.request_id = e.request_id AND e2.kind = 'status' AND e2.to_status = 'resolved' "
        f"AND e2.n > e.n AND e2.at >= e.at AND e2.at < ? AND {bucket('e2.at')} = {bucket('e.at')}) GROUP BY 1",
        (b[0], end, end),
    ):
        ser["ps"][bk], ser["cents"][bk] = ps or 0, cents or 0
    delta = f"(COALESCE(e.to_status IN ({OPEN_SQL}), 0) - COALESCE(e.from_status IN ({OPEN_SQL}), 0))"
    before = od = od_prev = 0
    for bk, d, o, op in con.execute(
        f"SELECT {bucket('e.at', True)}, SUM({delta}), SUM(CASE WHEN r.promised_date < ? THEN {delta} ELSE 0 END), "
        f"SUM(CASE WHEN e.at < ? AND r.promised_date < ? THEN {delta} ELSE 0 END) "
        "FROM request_event e JOIN request r ON r.id = e.request_id WHERE e.at < ? AND e.kind IN "
        f"('created','status','referral') AND {delta} <> 0 AND r.deleted = 0 GROUP BY 1",
        (dend, start, dprev, end),
    ):
        if bk < 0:
            before += d or 0
        else:
            ser["delta"][bk] += d or 0
        od += o or 0
        od_prev += op or 0
    acc_h: dict[str, float] = {}
    res: dict[str, tuple[str, str]] = {}
    for rid, st, at, rec, acc in con.execute(
        "SELECT e.request_id, e.to_status, e.at, r.received_at, r.accepted_at FROM request_event e JOIN request r "
        "ON r.id = e.request_id WHERE e.at >= ? AND e.at < ? AND e.kind = 'status' AND e.to_status IN "
        "('accepted','resolved') AND r.deleted = 0",
        (start, end),
    ):
        if st == "accepted":
            if acc and start <= acc < end:
                acc_h[rid] = (
                    datetime.fromisoformat(acc) - datetime.fromisoformat(rec)
                ).total_seconds() / 3600
        elif rid not in res or at > res[rid][0]:
            res[rid] = (at, rec)
    days = [
        (datetime.fromisoformat(a) - datetime.fromisoformat(r)).total_seconds() / 86400
        for a, r in res.values()
    ]
    refs: Counter[tuple[str, str, str]] = Counter()
    for kind, iid, name, n in con.execute(
        "SELECT f.kind, f.item_id, f.item_name, COUNT(*) FROM referral f JOIN request r ON r.id = f.request_id "
        "WHERE f.created_at >= ? AND f.created_at < ? AND r.deleted = 0 GROUP BY 1, 2, 3",
        (start, end),
    ):
        refs[(kind, iid, name)] = n
    con.row_factory = sqlite3.Row
    details = []
    ents: set[str] = set()
    by_el: Counter[str] = Counter()
    by_ch: Counter[str] = Counter()
    by_city: Counter[str] = Counter()
    for row in con.execute(
        "SELECT r.*, ent.name AS enterprise_name, ent.uscc AS enterprise_uscc, ent.city_code AS enterprise_city, "
        "(SELECT COUNT(*) FROM request_event x WHERE x.request_id = r.id AND x.at >= ?1 AND x.at < ?2) AS events_in_month "
        "FROM request r LEFT JOIN enterprise ent ON ent.id = r.enterprise_id WHERE r.deleted = 0 "
        "AND ((r.received_at >= ?1 AND r.received_at < ?2) OR r.id IN (SELECT request_id FROM request_event "
        "WHERE at >= ?1 AND at < ?2)) ORDER BY r.received_at, r.number",
        (start, end),
    ):
        d = dict(row)
        if start <= d["received_at"] < end:
            ents.add(d["enterprise_id"])
            for el in dict.fromkeys(json.loads(d["elements"] or "[]")):
                by_el[el] += 1
            by_ch[d["channel"] or "unknown"] += 1
            by_city[d["enterprise_city"] or "unknown"] += 1
        details.append(d)
    con.row_factory = None
    first = dict(
        con.execute(
            "SELECT enterprise_id, MIN(received_at) FROM request WHERE deleted = 0 AND enterprise_id IN "
            "(SELECT enterprise_id FROM request WHERE received_at >= ?1 AND received_at < ?2 AND deleted = 0) "
            "GROUP BY enterprise_id",
            (start, end),
        ).fetchall()
    )
    con.execute("SELECT MAX(updated_at) FROM request").fetchone()
    con.rollback()
    con.close()
    open_end = [before + sum(ser["delta"][: i + 1]) for i in range(12)]
    counts = Counter[str]()
    tops: dict[str, list[tuple[str, str, int]]] = {}
    for (kind, iid, name), n in refs.items():
        counts[kind] += n
        tops.setdefault(kind, []).append((iid, name, n))
    ytd_idx = [i for i, mm in enumerate(months) if mm[:4] == month[:4]]
    return {
        "received": ser["received"][11],
        "accepted": ser["accepted"][11],
        "resolved": ser["resolved"][11],
        "closed": ser["closed"][11],
        "cancelled": ser["cancelled"][11],
        "open_at_end": open_end[11],
        "overdue_at_end": od,
        "enterprises_served": len(ents),
        "new_enterprises": sum(1 for e in ents if first[e] >= start),
        "by_element": dict(by_el),
        "by_channel": dict(by_ch),
        "by_city": dict(by_city),
        "problems_solved": ser["ps"][11],
        "cost_saved_wan": round(ser["cents"][11] / 100, 2),
        "satisfaction": {"rated": ser["rated"][11], "satisfied": ser["satisfied"][11]},
        "referrals": {k: counts[k] for k in counts},
        "top": {
            k: [x[:2] for x in sorted(v, key=lambda t: (-t[2], t[1], t[0]))[:10]] for k, v in tops.items()
        },
        "median_hours_to_accept": round(statistics.median(acc_h.values()), 2) if acc_h else None,
        "median_days_to_resolve": round(statistics.median(days), 2) if days else None,
        "ytd_received": sum(ser["received"][i] for i in ytd_idx),
        "series_received": ser["received"],
        "series_open": open_end,
        "prev_overdue": od_prev,
        "details": len(details),
    }


def report_core(rep: dict[str, Any]) -> dict[str, Any]:
    """The report's figures in the raw side's shape, for the cross-check."""
    return {
        **{
            k: rep[k]
            for k in (
                "received",
                "accepted",
                "resolved",
                "closed",
                "cancelled",
                "open_at_end",
                "overdue_at_end",
                "enterprises_served",
                "new_enterprises",
                "by_element",
                "by_channel",
                "by_city",
                "problems_solved",
                "cost_saved_wan",
                "median_hours_to_accept",
                "median_days_to_resolve",
            )
        },
        "satisfaction": {
            "rated": rep["satisfaction"]["rated"],
            "satisfied": rep["satisfaction"]["satisfied"],
        },
        "referrals": {k: v for k, v in rep["referrals"]["counts"].items() if v},
        "top": {k: [(x["id"], x["name"]) for x in v] for k, v in rep["referrals"]["top"].items() if v},
        "ytd_received": rep["year_to_date"]["received"],
        "series_received": [s["received"] for s in rep["series"]],
        "series_open": [s["open_at_end"] for s in rep["series"]],
        "prev_overdue": rep["change"]["overdue_at_end"]["previous"],
        "details": len(rep["details"]),
    }


def pick_months(db: Path) -> dict[str, str]:
    """The first month with requests, the busiest by requests received and by events (they differ: the
    generator writes status events only for the last 12 months, so its recent months hold the most
    events, details and open rectifications), the last full month and the current one (its overdue
    requests are those promised before today: another path, ``reports/ledger.py``)."""
    from qi_station.core.months import current_month, last_full_month, month_bounds_utc, shift_month

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    first_at = con.execute("SELECT MIN(received_at) FROM request").fetchone()[0]
    busiest = con.execute(
        "SELECT strftime('%Y-%m', substr(received_at, 1, 19), '+8 hours') m, COUNT(*) FROM request "
        "GROUP BY m ORDER BY 2 DESC, 1 LIMIT 1"
    ).fetchone()[0]
    busiest_events = con.execute(
        "SELECT strftime('%Y-%m', substr(at, 1, 19), '+8 hours') m, COUNT(*) FROM request_event "
        "GROUP BY m ORDER BY 2 DESC, 1 LIMIT 1"
    ).fetchone()[0]
    con.close()
    first = str(first_at)[:7]
    if month_bounds_utc(first)[1] <= datetime.fromisoformat(str(first_at)):
        first = shift_month(first, 1)
    return {
        "first": first,
        "busiest (requests)": busiest,
        "busiest (events)": busiest_events,
        "last": last_full_month(),
        "current": current_month(),
    }


def timed(fn: Any, repeat: int) -> tuple[float, float]:
    """Median wall and CPU (process) seconds of ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def pg_load(db: Path, url: str) -> dict[str, Any]:
    """Copy the station database's ledger into an empty hub database at ``url`` with COPY (the fastest bulk
    path; the rollup's triggers lifted for the load), then rebuild the rollup once and VACUUM ANALYZE."""
    import psycopg

    from qi_station.db import rollup
    from qi_station.sync.hub.store import Hub

    hub = Hub(url)
    hub.migrate()
    hub.dispose()
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    out: dict[str, Any] = {}
    t = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as pg:
        for sql in rollup.drop_sql("postgresql") + rollup.low_drop_sql("postgresql"):
            pg.execute(sql)
        for table in ("enterprise", "request", "request_event", "referral"):
            cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
            with pg.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                for row in src.execute(f"SELECT {', '.join(cols)} FROM {table}"):
                    cp.write_row(row)
        out["copy_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        for sql in (
            rollup.rebuild_sql("postgresql")
            + rollup.low_rebuild_sql()
            + rollup.trigger_sql("postgresql")
            + rollup.low_trigger_sql("postgresql")
        ):
            pg.execute(sql)
        out["rollup_s"] = round(time.perf_counter() - t, 1)
    # VACUUM as autovacuum would on a live hub: a table loaded by COPY has no visibility map yet, so its
    # index-only scans (first request of an enterprise, the open rectifications) would read the heap
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as pg:
        for table in ("enterprise", "request", "request_event", "referral", rollup.TABLE, rollup.LOW_TABLE):
            pg.execute(f"VACUUM ANALYZE {table}")
    src.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="/tmp/qi-bench-reports/gen1m.db")
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--library", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--month",
        action="append",
        help="months to measure (default: first, busiest by requests and by events, last, current)",
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--pg",
        default=None,
        help="an EMPTY PostgreSQL database URL: load the ledger there "
        "(COPY) and measure the province report (hub report monthly)",
    )
    ap.add_argument("--pg-exact", action="store_true", help="also time the event-history path at the hub")
    a = ap.parse_args()

    from qi_station.reports.figures import monthly_report

    db = Path(a.db)
    if not db.exists():
        from qi_station.devtools.generate.run import generate

        db.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        info = generate(db, requests=a.requests, library=a.library, seed=a.seed)
        print(f"generated {db} in {time.perf_counter() - t:.1f} s: {json.dumps(info, default=str)[:300]}")
    from qi_station.db.engine import open_db

    open_db(db)  # migrated (revision 0013 builds the rollup of an older database)
    con = sqlite3.connect(db)
    n_req = con.execute("SELECT COUNT(*) FROM request").fetchone()[0]
    n_ev = con.execute("SELECT COUNT(*) FROM request_event").fetchone()[0]
    con.close()
    months = {m: m for m in a.month} if a.month else pick_months(db)
    load = os.getloadavg()
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()} "
        f"sqlite {sqlite3.sqlite_version}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n"
    )
    print(f"station database: {n_req:,} requests, {n_ev:,} events\n")
    print(
        "| month | details | report (rollup) wall / CPU s | report exact (events) wall / CPU s "
        "| raw sqlite3 (history pass) wall / CPU s | rollup / raw |"
    )
    print("|---|---|---|---|---|---|")
    status = 0
    for label, month in months.items():
        rep = monthly_report(db, month)  # warm-up and the cross-checks
        exact = monthly_report(db, month, exact=True)
        rep.pop("generated_at"), exact.pop("generated_at")
        if rep != exact:
            print(f"MISMATCH rollup != exact in {month}: {[k for k in rep if rep[k] != exact.get(k)]}")
            status = 1
        raw = raw_report(db, month)
        core = report_core(rep)
        bad = [k for k in raw if raw[k] != core.get(k)]
        if bad:
            print(f"MISMATCH report != raw in {month}: {bad}")
            status = 1
        r = timed(lambda m=month: monthly_report(db, m), a.repeat)
        x = timed(lambda m=month: monthly_report(db, m, exact=True), a.repeat)
        b = timed(lambda m=month: raw_report(db, m), a.repeat)
        print(
            f"| {label} {month} | {len(rep['details']):,} | {r[0]:.2f} / {r[1]:.2f} | {x[0]:.2f} / {x[1]:.2f} "
            f"| {b[0]:.2f} / {b[1]:.2f} | {r[1] / b[1]:.2f} |"
        )
    if a.pg:
        info = pg_load(db, a.pg)
        print(
            f"\nPostgreSQL hub: the same {n_req:,} requests, {n_ev:,} events loaded by COPY in "
            f"{info['copy_s']} s, rollup built in {info['rollup_s']} s\n"
        )
        from sqlalchemy import create_engine, text

        eng = create_engine(a.pg)

        def scan() -> None:
            with eng.connect() as c:
                c.execute(text("SELECT COUNT(*), MAX(at) FROM request_event")).all()

        print(
            "| month | province report (rollup) wall / CPU s | exact (events) wall s "
            "| baseline: one pass over request_event wall s |"
        )
        print("|---|---|---|---|")
        for label, month in months.items():
            monthly_report(a.pg, month, hub=True)
            r = timed(lambda m=month: monthly_report(a.pg, m, hub=True), a.repeat)
            x = (
                timed(lambda m=month: monthly_report(a.pg, m, hub=True, exact=True), 1)
                if a.pg_exact
                else None
            )
            b = timed(scan, a.repeat)
            xs = f"{x[0]:.2f}" if x else "not run"
            print(f"| {label} {month} | {r[0]:.2f} / {r[1]:.2f} | {xs} | {b[0]:.2f} |")
        eng.dispose()
    return status


if __name__ == "__main__":
    sys.exit(main())
