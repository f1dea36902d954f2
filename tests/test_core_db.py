"""Database: migrations from the first revision, pragmas, and crash safety under SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from qi_station.core import places
from qi_station.db.engine import MIGRATIONS_DIR, SCHEMA_HEAD, connect, open_db, run_migrations, sqlite_url


def test_schema_head_constant_matches_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD


def test_upgrade_from_first_revision_keeps_data(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    run_migrations(sqlite_url(db), "0001")
    c = sqlite3.connect(db)
    c.execute("INSERT INTO kv (k, v) VALUES ('marker', 'kept')")
    t = "2026-01-01 00:00:00.000000"
    # enterprises as an older version stored them (city from the USCC's first four digits, 莱芜 371200)
    for eid, uscc, region, city in (
        ("e2", "91371202MA3C000021", "371202", "371200"),
        ("e3", "91370000MA3C000031", "370000", None),
        ("e4", "91370102MA3C000041", "370102", "370100"),
    ):
        c.execute(
            "INSERT INTO enterprise (id, name, uscc, region_code, city_code, name_py, name_initials, haystack, "
            "elements, s_rev, seq, deleted, created_at, updated_at) VALUES (?, '企业', ?, ?, ?, '', '', '', '[]', "
            "1, 0, 0, ?, ?)",
            (eid, uscc, region, city, t, t),
        )
    c.execute(
        "INSERT INTO station (id, code, name, type, service_mode, region_code, is_self, created_at) "
        "VALUES ('s1', 'S', '站', '园区工作站', '区域集约', '371200', 1, ?)",
        (t,),
    )
    c.execute(
        "INSERT INTO enterprise (id, name, uscc, region_code, name_py, name_initials, haystack, elements, "
        "s_rev, seq, deleted, created_at, updated_at) VALUES ('e1', '企业', 'N2370100MA3C000011', '370100', "
        "'', '', '', '[]', 1, 0, 0, ?, ?)",
        (t, t),
    )
    c.execute(
        "INSERT INTO request (id, number, station_code, enterprise_id, elements, title, channel, urgency, "
        "received_at, promised_date, status, s_rev, h_rev, seq, deleted, created_at, updated_at) VALUES "
        "('r1', 'S-202601-0001', 'S', 'e1', '[]', '旧需求', 'walk_in', 'normal', ?, '2026-01-10', 'new', 1, 0, "
        "0, 0, ?, ?)",
        (t, t, t),
    )
    c.commit()
    assert c.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0001"
    c.close()
    open_db(db)
    c = sqlite3.connect(db)
    assert c.execute("SELECT version_num FROM alembic_version").fetchone()[0] == SCHEMA_HEAD
    assert c.execute("SELECT v FROM kv WHERE k = 'marker'").fetchone()[0] == "kept"
    # 0001: the province, 16 cities and historic 莱芜; 0008: every current county and the historic ones
    assert c.execute("SELECT count(*) FROM region WHERE level != 'county'").fetchone()[0] == 18
    assert c.execute("SELECT historic FROM region WHERE code = '371200'").fetchone()[0] == 1
    assert c.execute("SELECT count(*) FROM region WHERE level = 'county' AND NOT historic").fetchone()[
        0
    ] == len(places.COUNTY_NAMES)
    assert c.execute("SELECT historic, parent FROM region WHERE code = '371202'").fetchone() == (1, "370100")
    assert (
        c.execute("SELECT title FROM request r JOIN enterprise e ON e.id = r.enterprise_id").fetchone()[0]
        == "旧需求"
    )
    assert c.execute("PRAGMA foreign_key_check").fetchall() == []
    # 0008 back-fills each enterprise's location from its registered region (which never changes)
    got = dict(
        (r[0], r[1:]) for r in c.execute("SELECT id, region_code, county_code, city_code FROM enterprise")
    )
    assert got == {
        "e1": ("370100", None, "370100"),
        "e2": ("371202", "370116", "370100"),  # 莱城区 is 济南市莱芜区 today
        "e3": ("370000", None, None),  # province level: no place until it is located
        "e4": ("370102", "370102", "370100"),
    }
    assert c.execute("SELECT region_code FROM station").fetchone()[0] == "370100"
    c.close()


def test_pragmas(db: Path) -> None:
    c = connect(db)
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert c.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert c.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_engine_pragmas(db: Path) -> None:
    from sqlalchemy import text

    from qi_station.db.session import engine_for

    with engine_for(db).connect() as conn:
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_no_engine_at_import_time() -> None:
    code = (
        "import qi_station.db.engine, qi_station.db.session, qi_station.services.ledger, qi_station.cli.commands, sys; "
        "import qi_station.db.session as s; assert not s._ENGINES; "
        "assert 'sqlalchemy' not in sys.modules, 'SQLAlchemy loaded at import time'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


WRITER = r"""
import os, sys
from pathlib import Path
from qi_station.services import ledger
db = Path(sys.argv[1])
i = 0
while True:
    i += 1
    r = ledger.create_request(db, ledger.RequestInput(enterprise="企业", uscc="N2370100MA3C000011",
        elements="metrology,testing", title=f"需求{i}"))
    ledger.move_request(db, r["number"], "accepted")
"""


def _committed_events(db: Path) -> int:
    """Events committed so far, read through a connection of our own (WAL: never blocks the writer)."""
    c = sqlite3.connect(db, timeout=30)
    try:
        return int(c.execute("SELECT count(*) FROM request_event").fetchone()[0])
    finally:
        c.close()


def _kill_after_progress(p: subprocess.Popen[bytes], db: Path, target: int, log: Path) -> None:
    """SIGKILL the writer once ``target`` events are committed: observed progress, not a guessed sleep.
    The writer keeps going while we look, so the kill lands at an arbitrary point of a later write."""
    deadline = time.monotonic() + 300  # a generous bound only so that a dead writer cannot hang the suite
    while _committed_events(db) < target:
        assert p.poll() is None, log.read_text(encoding="utf-8", errors="replace")
        assert time.monotonic() < deadline, "the writer made no progress"
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()


def test_sigkill_mid_write_leaves_consistent_db(db: Path, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    rnd = random.Random(7)
    env = {**os.environ, "QI_STATION_OPERATOR": "killer"}
    log = tmp_path / "writer.log"
    for _ in range(5):
        target = _committed_events(db) + rnd.randint(2, 8)  # each round: at least one whole request first
        with open(log, "wb") as err:
            p = subprocess.Popen([sys.executable, str(script), str(db)], stderr=err, env=env)
            _kill_after_progress(p, db, target, log)
    from qi_station.core.chain import verify_chain

    c = connect(db)
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert c.execute("PRAGMA foreign_key_check").fetchall() == []
    reqs = c.execute("SELECT id, number, status, s_rev FROM request").fetchall()
    assert len(reqs) > 3
    nums = [r["number"] for r in reqs]
    assert len(nums) == len(set(nums))
    for r in reqs:
        events = [
            dict(e)
            for e in c.execute("SELECT * FROM request_event WHERE request_id = ? ORDER BY n", (r["id"],))
        ]
        assert verify_chain(events)[0]
        assert events[-1]["to_status"] == r["status"]  # status and ledger always agree
        assert len(events) == r["s_rev"]
        # the outbox holds the request's latest state: written in the same transaction
        last = c.execute(
            "SELECT row_json FROM outbox WHERE table_name = 'request' AND row_id = ? "
            "ORDER BY oseq DESC LIMIT 1",
            (r["id"],),
        ).fetchone()
        assert last is not None and f'"status":"{r["status"]}"' in last[0]
    seq = c.execute("SELECT max(CAST(v AS INTEGER)) FROM kv WHERE k LIKE 'ledger_seq:%'").fetchone()[0]
    assert seq == len(reqs)  # the counter never runs ahead of or behind the ledger
