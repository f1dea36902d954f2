"""The current month's report follows the month (issue 13 goal 2): the requests overdue as of today
are read by their promised date (``ix_request_promised``, revision 0031), not by walking every event
before the month's end. The figures themselves are held to the events by
``test_report_rollup.py::test_current_month_overdue_from_the_rollup_*``."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from test_sync_util import pg_available, pg_create, pg_drop

from qi_station.db.engine import open_db, run_migrations, sqlite_url
from qi_station.reports import queries
from qi_station.reports.queries import collect, report_connection

PG = pg_available()


def _statements(db: Path, month: str, now: str) -> list[tuple[str, dict[str, Any]]]:
    """Every statement (and its parameters as bound) a report of ``month`` runs, the clock at ``now``."""
    seen: list[tuple[str, dict[str, Any]]] = []
    real = queries.Q._execute

    def spy(self: Any, sql: str, params: dict[str, Any]) -> Any:
        used = set(queries._PARAM.findall(sql))
        seen.append((sql, {k: self._sqlite_value(v) for k, v in params.items() if k in used}))
        return real(self, sql, params)

    with (
        mock.patch.dict(os.environ, {"QI_STATION_NOW": now}),
        mock.patch.object(queries.Q, "_execute", spy),
        report_connection(db) as conn,
    ):
        collect(conn, month)
    return seen


@pytest.mark.parametrize("now", ["2026-11-30T12:00:00+08:00", "2026-11-05T12:00:00+08:00"])
def test_current_month_overdue_read_by_promised_date(tmp_path: Path, now: str) -> None:
    """Late in the month (the requests promised from today on, taken off) and early (those promised
    before today, added): the statement finds them by ix_request_promised and their events by request,
    never by a range of ix_request_event_at from the start of the history."""
    db = open_db(tmp_path / "q.db")
    overdue = [(s, p) for s, p in _statements(db, "2026-11", now) if "promised_date >= :lo" in s]
    assert len(overdue) == 1
    sql, params = overdue[0]
    with sqlite3.connect(db) as c:
        plan = " | ".join(r[-1] for r in c.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "ix_request_promised" in plan, plan
    assert "ix_request_event_at" not in plan, plan
    assert "ix_request_event_request_id" in plan, plan


def test_migration_0031_adds_the_promised_index(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from qi_station.db.engine import MIGRATIONS_DIR

    db = tmp_path / "old.db"
    run_migrations(sqlite_url(db), "0030")

    def indexes() -> set[str]:
        with sqlite3.connect(db) as c:
            return {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'request'")}

    assert "ix_request_promised" not in indexes()
    open_db(db)
    assert "ix_request_promised" in indexes()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sqlite_url(db))
    command.downgrade(cfg, "0030")
    assert "ix_request_promised" not in indexes()


@pytest.mark.skipif(not PG, reason="PostgreSQL at 127.0.0.1:5432 is not reachable")
def test_migration_0031_on_postgresql() -> None:
    import psycopg

    from qi_station.sync.hub.store import Hub

    url = pg_create()
    try:
        hub = Hub(url)
        hub.migrate()
        hub.dispose()
        with psycopg.connect(url) as c:
            got = c.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'request' AND indexname = 'ix_request_promised'"
            ).fetchall()
        assert len(got) == 1 and "(promised_date)" in got[0][0]
    finally:
        pg_drop(url)
