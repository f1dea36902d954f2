"""Synthetic station data at any scale: ``qi-station generate --requests N --library N [--seed S]``.

Deterministic: the same seed (and the same ``now`` anchor, which defaults to the current minute)
on the same starting database gives the same rows, ids included — ids are UUIDv7-shaped, their
48-bit time field taken from the row's own synthetic time and their random bits from the seeded RNG.

Fast: rows are composed from parts whose pinyin is computed once per part (pypinyin is called a
few hundred times, not once per row), timestamps are formatted from integers, event hashes come from
``core.chain.event_hash_of`` (the one hash), and everything goes in through ``db.write``'s
``executemany`` in chunks inside ONE transaction with secondary indexes dropped and
recreated, the month rollup's and the search index's triggers lifted and each built once at the end
(a crash leaves the database as it was); the library rows' search text (``searchtext.prepare``,
pypinyin) and their search-index documents are computed by two child processes while this one
inserts. ``PRAGMA synchronous=OFF`` is used for that
transaction only.

Generated (and demo) rows are NOT written to the outbox: they are local test data, not station
changes to be pushed to the hub.

The package: :mod:`.places` and :mod:`.vocab` (what names are made of), :mod:`.fields` (fast
field helpers), :mod:`.library` (library and enterprise rows), :mod:`.requests` and :mod:`.synth`
(request rows with their event chains; shared with :mod:`qi_station.devtools.demo`), and this
module, the ``qi-station generate`` entry point.
"""

from __future__ import annotations

import json
import math
import os
import random
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from qi_station.core.ids import uuid7 as uuid7_from
from qi_station.db import searchindex, write
from qi_station.devtools.generate import MAX_LIBRARY, MAX_REQUESTS
from qi_station.devtools.generate.fields import DAY_MS, PinyinCache, Progress, fmt_ms, new_id, to_ms
from qi_station.devtools.generate.library import gen_enterprises, gen_library
from qi_station.devtools.generate.requests import REQUEST_COLUMNS, RequestBatch, plan_requests
from qi_station.devtools.generate.synth import synth_parallel, synth_requests


def self_station(
    conn: sqlite3.Connection, rng: random.Random | None = None, now_ms: int | None = None
) -> str:
    """This station's code; inserts the default station row (as ``services.station.ensure_station`` would) if none."""
    row = conn.execute("SELECT code FROM station WHERE is_self = 1").fetchone()
    if row:
        return str(row[0])
    from qi_station.services.station import DEFAULT_STATION_CODE, DEFAULT_STATION_NAME

    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    sid = new_id(rng, now_ms) if rng else uuid7_from(now_ms, random.getrandbits(74))
    conn.execute(
        "INSERT INTO station (id, code, name, type, service_mode, region_code, is_self, created_at) "
        "VALUES (?, ?, ?, '园区工作站', '区域集约', '370100', 1, ?)",
        (sid, DEFAULT_STATION_CODE, DEFAULT_STATION_NAME, fmt_ms(now_ms)),
    )
    conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES ('station_code', ?)", (DEFAULT_STATION_CODE,))
    return DEFAULT_STATION_CODE


def anchor_ms(now: datetime | None) -> int:
    """The generation anchor: ``now`` or the current minute (overridable by QI_STATION_NOW)."""
    if now is None:
        from qi_station.core.clock import env_now

        now = env_now().replace(second=0, microsecond=0)
    return to_ms(now)


_BULK_TABLES = (
    "expert",
    "institution",
    "equipment",
    "project",
    "enterprise",
    "request",
    "request_event",
    "referral",
)


def _drop_secondary_indexes(conn: sqlite3.Connection) -> list[str]:
    """Drop the explicit indexes of the bulk tables; return their CREATE statements."""
    marks = ",".join("?" * len(_BULK_TABLES))
    rows = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks}) "
        "AND sql NOT LIKE '%UNIQUE%'",
        _BULK_TABLES,
    ).fetchall()
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


@contextmanager
def _library_pool(parallel: bool) -> Iterator[Any]:
    """Two child processes computing library rows' search text (None: not parallel)."""
    if not parallel:
        yield None
        return
    import multiprocessing as mp

    ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    pool = ctx.Pool(2)
    try:
        yield pool
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def check_sizes(requests: int, library: int) -> None:
    """``--requests`` / ``--library`` within 0..MAX, and not both 0 (nothing to generate) ``[range]``;
    every bad one at once (``core.validate.Checks``)."""
    from qi_station.core.errors import ValidationError
    from qi_station.core.validate import Checks

    def within(field: str, n: int, top: int) -> None:
        if not 0 <= n <= top:
            raise ValidationError(field, "range", f"{n}: must be from 0 to {top:,} / 须在 0 到 {top} 之间")

    c = Checks()
    c.run(within, "--requests", requests, MAX_REQUESTS)
    c.run(within, "--library", library, MAX_LIBRARY)
    if not c.errors and requests == 0 and library == 0:
        c.errors.append(
            ValidationError(
                "--requests",
                "range",
                "nothing to generate: --requests and --library are both 0 / 无可生成的数据",
            )
        )
    c.done()


def _check_same_run(done: str, seed: int, requests: int, library: int) -> None:
    """The seed was already generated at this anchor: the same run again is a no-op (skipped); other
    sizes would make the same ids again, so they are refused with the way out (another seed)."""
    from qi_station.core.errors import ValidationError

    try:
        got = json.loads(done)
    except ValueError:
        return  # recorded by an older release: skipped as before
    if not isinstance(got, dict) or (got.get("requests"), got.get("library")) == (requests, library):
        return
    raise ValidationError(
        "--seed",
        "generated",
        f"seed {seed} was already generated at this anchor with --requests {got.get('requests')} --library "
        f"{got.get('library')}; the same seed would make the same ids again: use another --seed / 该种子已生成过，请换一个 --seed",
    )


def generate(
    db_path: str | Path,
    *,
    requests: int,
    library: int,
    seed: int = 1,
    progress: Progress | None = None,
    now: datetime | None = None,
    detailed_months: int = 12,
    parallel: bool | None = None,
) -> dict[str, Any]:
    """Generate ``library`` library rows, ~requests/20 (≥ 50) enterprises and ``requests`` requests.

    The database is migrated first (``open_db``). Requests spread over the months before ``now``
    (12 months, more when a month would pass 9 999 ledger numbers), in every status, with referrals
    to the generated library. Requests of the last ``detailed_months`` months carry their full
    hash-chained history (created, every status move, referrals); older ones are back-filled with a
    single ``created`` event (see :func:`synth_requests`) — every chain verifies with
    ``core.chain.verify_chain``. Ledger counters (``kv ledger_seq:…``) are set so
    ``db.write.next_ledger_no`` continues. Nothing goes to the outbox.

    One transaction (a crash or an error leaves the database as it was); secondary indexes are
    dropped and rebuilt inside it; ``synchronous=OFF`` and, when no other connection has the
    database open, a rollback journal instead of WAL are used while it runs. With ``parallel``
    (default: from 100 000 requests on a machine with ≥ 2 CPUs) the request rows are built by two
    child processes while this one inserts — chunks have their own seeded RNG, so the rows are the
    same either way.
    Returns counts and timings (seconds).
    """
    from qi_station.db import rollup
    from qi_station.db.engine import connect, open_db

    check_sizes(requests, library)
    t0 = time.perf_counter()
    path = open_db(db_path)
    rng = random.Random(seed)
    now_ms = anchor_ms(now)
    pc = PinyinCache()
    conn = connect(path)
    timings: dict[str, float] = {}
    journal = "wal"
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MiB
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA threads=2")  # helper threads for the index-rebuild sorts
        conn.execute("PRAGMA foreign_keys=OFF")  # the generator writes consistent rows; checked in tests
        try:  # a rollback journal writes a bulk load once; WAL would write it twice
            journal = str(conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]).lower()
        except sqlite3.OperationalError:
            journal = "wal"
        conn.execute("BEGIN IMMEDIATE")
        try:
            key = f"generated_seed:{seed}:{now_ms}"
            done = conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
            if done:
                conn.execute("ROLLBACK")
                _check_same_run(done[0], seed, requests, library)
                return {"skipped": True, "reason": f"already generated with seed {seed} at this anchor"}
            code = self_station(conn, rng, now_ms)
            creates = _drop_secondary_indexes(conn)
            rollup.drop_triggers(conn)  # per-row upkeep of the month rollup: rebuilt once at the end
            indexed = searchindex.drop_triggers(conn)  # the search index too: built once at the end
            n_ent = max(50, requests // 20) if requests else 0
            many = (os.cpu_count() or 1) >= 2
            lib_parallel = parallel if parallel is not None else many and library + n_ent >= 50_000
            with _library_pool(lib_parallel) as pool:
                t = time.perf_counter()
                refs = gen_library(conn, rng, library, now_ms, pc, progress, pool=pool)
                timings["library_s"] = round(time.perf_counter() - t, 2)
                t = time.perf_counter()
                ents = gen_enterprises(conn, rng, n_ent, now_ms, pc, code, pool=pool) if n_ent else []
                write.mark_generated(conn, [e.id for e in ents])  # a real request on one is refused
                timings["enterprises_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            counters = write.ledger_counters(conn, code)
            months = max(12, math.ceil(requests / 9000))
            n_req = n_ev = n_ref = 0
            kw: dict[str, Any] = dict(
                station_code=code,
                enterprises=ents,
                refs=refs,
                now_ms=now_ms,
                months=months,
                counters=counters,
                detailed_from_ms=now_ms - int(detailed_months * 30.44 * DAY_MS),
            )
            if parallel is None:
                parallel = requests >= 100_000 and many
            if parallel:
                plan = plan_requests(rng, requests, **kw)
                batches: Iterable[RequestBatch] = synth_parallel(plan, workers=2)
            else:
                batches = synth_requests(rng, requests, **kw)
            for b in batches:
                write.insert_rows(conn, "request", REQUEST_COLUMNS, b.requests)
                write.insert_rows(conn, "request_event", write.EVENT_COLUMNS, b.events)
                write.advance_event_head(conn, [e[11] for e in b.events])
                if b.referrals:
                    write.insert_rows(conn, "referral", write.REFERRAL_COLUMNS, b.referrals)
                n_req += len(b.requests)
                n_ev += len(b.events)
                n_ref += len(b.referrals)
                if progress:
                    progress("requests", n_req, requests)
            write.set_ledger_counters(conn, counters)
            timings["requests_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            for i, sql in enumerate(creates):
                conn.execute(sql)
                if progress:
                    progress("indexes", i + 1, len(creates))
            timings["indexes_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            rollup.rebuild(conn)
            rollup.create_triggers(conn)
            timings["rollup_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            if indexed:  # the documents by the same two processes while this one inserts them
                with _library_pool(lib_parallel) as pool:
                    searchindex.rebuild(conn, pool=pool)
                searchindex.create_triggers(conn)
            timings["search_s"] = round(time.perf_counter() - t, 2)
            conn.execute(
                "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)",
                (key, json.dumps({"at": fmt_ms(now_ms), "requests": requests, "library": library})),
            )
            t = time.perf_counter()
            conn.execute("COMMIT")
            timings["commit_s"] = round(time.perf_counter() - t, 2)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        t = time.perf_counter()
        conn.execute("PRAGMA optimize")
        # the rollup's rebuild makes `optimize` ANALYZE the bulk tables; a migrated database has no
        # statistics, and the queries are planned (and measured) without them: keep it that way
        conn.execute("DROP TABLE IF EXISTS sqlite_stat1")
        conn.execute("PRAGMA journal_mode=WAL")
        journal = "wal"
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        timings["finish_s"] = round(time.perf_counter() - t, 2)
    finally:
        if journal != "wal":  # an error or an early return: the database goes back to WAL all the same
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.Error:
                pass
        conn.close()
    return {
        "experts": len(refs["expert"]),
        "institutions": len(refs["institution"]),
        "equipment": len(refs["equipment"]),
        "projects": len(refs["project"]),
        "enterprises": len(ents),
        "requests": n_req,
        "events": n_ev,
        "referrals": n_ref,
        "months": months,
        "seconds": round(time.perf_counter() - t0, 2),
        **timings,
    }
