"""The kill -9 campaign (no tests here): used by tests/test_sync_kill.py at a small count and by
benchmarks/campaign_kill.py at 100+ iterations.

A real uvicorn hub (SQLite), an online station (ZB01) and an offline one (QD02). Each iteration SIGKILLs one
of four kinds of work after observed progress (never a guessed sleep, which on a busy machine kills the
process before it has done anything):
- ``push``: `qi-station sync` with new requests pending; progress = ZB01 requests arrived at the hub;
- ``pull``: `qi-station sync` with new library rows at the hub and nothing to push; progress = rows pulled;
- ``hub-import``: `qi-station hub import-bundle` of QD02's up bundle; progress = the hub's write lock
  seen held by the importer a random number of times (the import is one transaction);
- ``station-import``: `qi-station sync import-bundle` of the hub's down bundle at QD02; progress = the
  station's write lock seen held.
After each kill the databases pass their integrity check and their invariants (the station's ack never ahead
of the hub's; every hub library row at or below the station's cursor is at the station; a bundle import all
or nothing). At the end every job is retried once and the result is counted: requests lost, duplicated,
and anything corrupt."""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_sync_util import hub_requests, library, request_input, rows, station_requests

KINDS = ("push", "pull", "hub-import", "station-import")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "qi_station", *args]


def start_hub(url: str, port: int) -> subprocess.Popen[bytes]:
    import httpx

    p = subprocess.Popen(
        cli("hub", "serve", "--database-url", url, "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(400):
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=0.5, trust_env=False)
            return p
        except httpx.HTTPError:
            if p.poll() is not None:
                raise RuntimeError(p.stderr.read().decode() if p.stderr else "hub died") from None
            time.sleep(0.05)
    raise RuntimeError("hub did not start")


def integrity_ok(db: Path) -> bool:
    c = sqlite3.connect(db)
    try:
        return bool(c.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        c.close()


def kill_after(cmd: list[str], env: dict[str, str], progressed: Callable[[], bool]) -> bool:
    """Run ``cmd``; SIGKILL it as soon as ``progressed()`` (polled) is true. True when it was killed (it
    may finish first)."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300  # a bound only so that a stuck process cannot hang the campaign
    killed = False
    while p.poll() is None:
        if progressed():
            p.send_signal(signal.SIGKILL)
            killed = True
            break
        if time.monotonic() > deadline:
            p.kill()
            raise RuntimeError(f"no progress: {cmd}")
        time.sleep(0.01)
    p.wait()
    return killed and p.returncode == -signal.SIGKILL


def write_locked(db: Path) -> bool:
    """True while another process holds the database's write lock (an open write transaction)."""
    c = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        c.execute("BEGIN IMMEDIATE")
        c.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as e:
        if "locked" in str(e) or "busy" in str(e):
            return True
        raise
    finally:
        c.close()


def locked_times(db: Path, need: int) -> Callable[[], bool]:
    seen = [0]

    def progressed() -> bool:
        seen[0] += write_locked(db)
        return seen[0] >= need

    return progressed


def kv_int(db: Path, key: str) -> int:
    return int(rows(db, "SELECT COALESCE((SELECT v FROM kv WHERE k = ?), 0)", (key,))[0][0])


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, env=env, capture_output=True, timeout=600)


def campaign(
    work: Path, iterations: int, seed: int = 7, log: Callable[[str], None] = lambda _s: None
) -> dict[str, Any]:
    """Run ``iterations`` kills (the four kinds in turn) under ``work``; return the counts:
    kills delivered per kind, lost, duplicated, corrupt, and ``problems`` (what was wrong, for a report)."""
    import sqlalchemy as sa

    from qi_station.db.session import dispose_all
    from qi_station.services import ledger
    from qi_station.sync.hub.store import Hub
    from qi_station.sync.station import bundles as B
    from qi_station.sync.station import client as C

    rng = random.Random(seed)
    problems: list[str] = []
    kills = dict.fromkeys(KINDS, 0)
    hub_db = work / "hub.db"
    url = f"sqlite:///{hub_db}"
    hub = Hub(url)
    hub.init(demo=False)
    lib_n = [0]

    def more_library(n: int) -> None:
        hub.upsert_library([("expert", {"id": f"x{lib_n[0] + i}", "name": f"专家{i}"}) for i in range(n)])
        lib_n[0] += n

    more_library(3000)
    tok = hub.add_station("ZB01", "淄博")["token"]
    tok2 = hub.add_station("QD02", "青岛")["token"]
    port = free_port()
    server = start_hub(url, port)
    db, off = work / "st.db", work / "off.db"
    up, down = work / "up.zip", work / "down.zip"
    env = dict(os.environ, QI_SYNC_PAGE="250", QI_SYNC_PUSH_BATCH="10", QI_STATION_DB=str(db))
    created: set[str] = set()
    off_created: set[str] = set()
    n_req = [0]

    def new_requests(station: Path, k: int, into: set[str]) -> None:
        for _ in range(k):
            n_req[0] += 1
            into.add(ledger.create_request(station, request_input(n_req[0], n_req[0] % 7))["id"])

    def check(what: str) -> None:
        for p in (db, off, hub_db):
            if not integrity_ok(p):
                problems.append(f"{what}: {p.name} failed its integrity check")
        st_ack = kv_int(db, "acked_oseq")
        hub_ack = {s["code"]: s["acked_oseq"] for s in hub.stations()}["ZB01"]
        if st_ack > hub_ack:
            problems.append(f"{what}: station ack {st_ack} ahead of the hub's {hub_ack}")
        cur = kv_int(db, "pull_cursor")
        have = {r[0] for r in rows(db, "SELECT id FROM expert")}
        with hub.engine.connect() as c:
            below = {r[0] for r in c.execute(sa.text("SELECT id FROM expert WHERE seq <= :c"), {"c": cur})}
        if not below <= have:
            problems.append(f"{what}: {len(below - have)} library rows at or below the cursor missing")
        if not set(hub_requests(hub, "ZB01")) <= created:
            problems.append(f"{what}: the hub holds ZB01 requests the station never made")

    try:
        C.enroll(db, tok, f"http://127.0.0.1:{port}")
        C.enroll(off, tok2)  # offline station: bundles only
        run(cli("--db", str(db), "sync", "--json"), env)  # the first pull, so kinds start apart
        for it in range(iterations):
            kind = KINDS[it % len(KINDS)]
            if kind == "push":
                new_requests(db, 60, created)
                target = len(hub_requests(hub, "ZB01")) + rng.randint(1, 60)
                killed = kill_after(
                    cli("--db", str(db), "sync", "--json", "--retries", "0"),
                    env,
                    lambda t=target: len(hub_requests(hub, "ZB01")) >= t,
                )
            elif kind == "pull":
                more_library(1500)
                target = len(library(db)) + rng.randint(1, 1500)
                killed = kill_after(
                    cli("--db", str(db), "sync", "--json", "--retries", "0"),
                    env,
                    lambda t=target: len(library(db)) >= t,
                )
            elif kind == "hub-import":
                new_requests(off, 40, off_created)
                B.export_bundle(off, up, force=True)
                before = set(hub_requests(hub, "QD02"))
                killed = kill_after(
                    cli("hub", "import-bundle", str(up), "--database-url", url),
                    env,
                    locked_times(hub_db, rng.randint(1, 8)),
                )
                got = set(hub_requests(hub, "QD02"))
                if got not in (before, off_created):
                    problems.append(f"{it} hub-import: not all or nothing ({len(got)} of {len(off_created)})")
            else:
                more_library(1500)
                hub.export_bundle("QD02", down, force=True)
                before_n, after_n = len(library(off)), len(library(hub))
                killed = kill_after(
                    cli("--db", str(off), "sync", "import-bundle", str(down)),
                    env,
                    locked_times(off, rng.randint(1, 8)),
                )
                n = len(library(off))
                if n not in (before_n, after_n):
                    problems.append(f"{it} station-import: not all or nothing ({n}: {before_n} or {after_n})")
            kills[kind] += killed
            check(f"{it} {kind}")
            log(f"{it:4} {kind:14} {'killed' if killed else 'finished'}  problems {len(problems)}")
        # retries finish every job
        for cmd in (
            cli("--db", str(db), "sync", "--json"),
            cli("hub", "import-bundle", str(up), "--database-url", url) if up.exists() else None,
        ):
            if cmd is not None and (r := run(cmd, env)).returncode != 0:
                problems.append(f"retry {cmd[3:5]} failed: {r.stderr.decode(errors='replace')[-300:]}")
        if down.exists():
            hub.export_bundle("QD02", down, force=True)
            r = run(cli("--db", str(off), "sync", "import-bundle", str(down)), env)
            if r.returncode != 0:
                problems.append(f"retry station import failed: {r.stderr.decode(errors='replace')[-300:]}")
        check("final")
        loc, hr = station_requests(db), hub_requests(hub, "ZB01")
        hub_off = set(hub_requests(hub, "QD02"))
        lost = len(created - set(hr)) + len(off_created - hub_off)
        lost += len(set(library(hub)) - set(library(db)))
        if down.exists():
            lost += len(set(library(hub)) - set(library(off)))
        with hub.engine.connect() as c:
            n_ev = int(c.execute(sa.text("SELECT COUNT(*) FROM request_event")).scalar() or 0)
            dup_numbers = int(
                c.execute(
                    sa.text("SELECT COUNT(*) - COUNT(DISTINCT number) FROM request WHERE number IS NOT NULL")
                ).scalar()
                or 0
            )
        local_ev = (
            rows(db, "SELECT COUNT(*) FROM request_event")[0][0]
            + rows(off, "SELECT COUNT(*) FROM request_event")[0][0]
        )
        duplicated = max(0, n_ev - int(local_ev)) + dup_numbers + len(set(hr) - created)
        corrupt = sum(1 for rid, row in loc.items() if rid in hr and hr[rid]["s_rev"] != row["s_rev"])
        corrupt += rows(db, "SELECT COUNT(*) FROM outbox")[0][0] != 0
        corrupt += sum(1 for p in problems if "integrity" in p or "all or nothing" in p or "ahead" in p)
        return {
            "iterations": iterations,
            "kills": kills,
            "lost": lost,
            "duplicated": duplicated,
            "corrupt": int(corrupt),
            "problems": problems,
            "requests": len(created) + len(off_created),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        dispose_all()
        hub.dispose()
