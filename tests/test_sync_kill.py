"""kill -9: `qi-station sync` and `qi-station hub import-bundle` are SIGKILLed mid-work, again and again,
against a real uvicorn hub; after each kill the databases are sound, and after a final retry nothing is lost
or duplicated.

Each kill waits for observed progress (never a guessed sleep, which on a busy machine kills the process
before it has done anything): for sync, a random number of rows committed (library rows pulled into the
station plus requests pushed to the hub, counted through connections of our own); for the bundle import,
which is one transaction, the hub's write lock seen held by the importer a random number of times."""

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

import pytest
from test_sync_util import hub_requests, library, request_input, rows, station_requests

from qi_station.services import ledger
from qi_station.sync.station import client as C

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "qi_station", *args]


def start_hub(url: str, port: int) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(
        cli("hub", "serve", "--database-url", url, "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    import httpx

    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=0.5, trust_env=False)
            return p
        except httpx.HTTPError:
            if p.poll() is not None:
                raise RuntimeError(p.stderr.read().decode() if p.stderr else "hub died") from None
            time.sleep(0.05)
    raise RuntimeError("hub did not start")


def integrity(db: Path) -> None:
    c = sqlite3.connect(db)
    try:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        c.close()


def kill_after(cmd: list[str], env: dict[str, str], progressed: Callable[[], bool]) -> int | None:
    """Run ``cmd``; SIGKILL it as soon as ``progressed()`` (polled) is true. It may finish first."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300  # a bound only so that a stuck process cannot hang the suite
    while p.poll() is None:
        if progressed():
            p.send_signal(signal.SIGKILL)
            break
        assert time.monotonic() < deadline, f"no progress: {cmd}"
        time.sleep(0.01)
    p.wait()
    return p.returncode


def sync_work_done(db: Path, hub_db: Path) -> int:
    """Rows committed by a sync so far: library rows pulled into the station + ZB01 requests at the hub."""
    pulled = rows(db, "SELECT count(*) FROM expert")[0][0]
    pushed = rows(hub_db, "SELECT count(*) FROM request WHERE station_code = 'ZB01'")[0][0]
    return int(pulled) + int(pushed)


def hub_write_locked(hub_db: Path) -> bool:
    """True while another process holds the hub database's write lock (an open write transaction)."""
    c = sqlite3.connect(hub_db, timeout=0, isolation_level=None)
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


def test_sigkill_sync_and_bundle_import(tmp_path: Path) -> None:
    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.store import Hub

    rng = random.Random(int(os.environ.get("QI_KILL_SEED", "7")))
    hub_db = tmp_path / "hub.db"
    url = f"sqlite:///{hub_db}"
    hub = Hub(url)
    hub.init(demo=False)
    hub.upsert_library([("expert", {"id": f"x{i}", "name": f"专家{i}"}) for i in range(6000)])
    tok = hub.add_station("ZB01", "淄博")["token"]
    tok2 = hub.add_station("QD02", "青岛")["token"]
    port = free_port()
    server = start_hub(url, port)
    try:
        db = tmp_path / "st.db"
        C.enroll(db, tok, f"http://127.0.0.1:{port}")
        off = tmp_path / "off.db"
        C.enroll(off, tok2)  # offline station: bundles only
        created: set[str] = set()
        for i in range(300):
            created.add(ledger.create_request(db, request_input(i, i % 7))["id"])
        off_created = {ledger.create_request(off, request_input(i, i % 5))["id"] for i in range(150)}
        env = dict(os.environ, QI_SYNC_PAGE="500", QI_SYNC_PUSH_BATCH="20", QI_STATION_DB=str(db))
        for round_ in range(8):
            target = sync_work_done(db, hub_db) + rng.randint(1, 2000)
            kill_after(
                cli("--db", str(db), "sync", "--json", "--retries", "0"),
                env,
                lambda t=target: sync_work_done(db, hub_db) >= t,
            )
            integrity(db)
            # station ack never ahead of the hub's; every hub library row <= cursor is here
            st_ack = int(rows(db, "SELECT COALESCE((SELECT v FROM kv WHERE k='acked_oseq'), 0)")[0][0])
            hub_ack = {s["code"]: s["acked_oseq"] for s in hub.stations()}["ZB01"]
            assert st_ack <= hub_ack
            cur = int(rows(db, "SELECT COALESCE((SELECT v FROM kv WHERE k='pull_cursor'), 0)")[0][0])
            seqs = dict(rows(db, "SELECT id, seq FROM expert"))
            import sqlalchemy as sa

            with hub.engine.connect() as c:
                below = {
                    r[0] for r in c.execute(sa.text("SELECT id FROM expert WHERE seq <= :c"), {"c": cur})
                }
            assert below <= set(seqs)
            assert set(hub_requests(hub)) <= created
            created.add(ledger.create_request(db, request_input(1000 + round_, 1))["id"])
        # bundle import killed mid-transaction (the hub keeps serving on the same database)
        up = tmp_path / "up.zip"
        C.export_bundle(off, up)
        for _ in range(6):
            seen = [0]
            need = rng.randint(1, 8)

            def locked_long_enough(seen: list[int] = seen, need: int = need) -> bool:
                seen[0] += hub_write_locked(hub_db)
                return seen[0] >= need

            kill_after(cli("hub", "import-bundle", str(up), "--database-url", url), env, locked_long_enough)
            integrity(hub_db)
            got = set(hub_requests(hub, "QD02"))
            assert got in (set(), off_created)  # one transaction: all or nothing
        # retries finish the job
        r = subprocess.run(cli("--db", str(db), "sync", "--json"), env=env, capture_output=True, timeout=300)
        assert r.returncode == 0, r.stderr.decode()
        r = subprocess.run(
            cli("hub", "import-bundle", str(up), "--database-url", url),
            env=env,
            capture_output=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr.decode()
        r = subprocess.run(
            cli("hub", "import-bundle", str(up), "--database-url", url),
            env=env,
            capture_output=True,
            timeout=300,
        )
        assert r.returncode == 0 and b"already_imported" in r.stdout
        # convergence: nothing lost, nothing duplicated
        loc = station_requests(db)
        hr = hub_requests(hub, "ZB01")
        assert set(loc) == set(hr) == created
        for rid, row in loc.items():
            assert row["s_rev"] == hr[rid]["s_rev"] and row["status"] == hr[rid]["status"]
        assert rows(db, "SELECT COUNT(*) FROM outbox")[0][0] == 0
        assert library(db) == library(hub)
        assert set(hub_requests(hub, "QD02")) == off_created
        import sqlalchemy as sa

        with hub.engine.connect() as c:
            n_ev = c.execute(sa.text("SELECT COUNT(*) FROM request_event")).scalar()
        assert n_ev == len(created) + len(off_created)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        dispose_all()
        hub.dispose()
