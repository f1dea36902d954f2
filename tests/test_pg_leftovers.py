"""The throwaway PostgreSQL databases the tests and benchmarks make on the shared server go when the
process that made them ends, also when it failed before its own ``pg_drop`` (issue 13 goal 6)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_sync_util import PG_ADMIN, pg_available

HERE = Path(__file__).resolve().parent


def exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        return c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@pytest.mark.skipif(not pg_available(), reason="PostgreSQL at 127.0.0.1:5432 is not reachable")
def test_a_failed_process_leaves_no_database() -> None:
    # the child makes two databases, drops one itself, opens a connection to the other and fails
    child = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
import psycopg
from test_sync_util import pg_create, pg_drop
a, b = pg_create(), pg_create()
pg_drop(a)
print(a.rsplit("/", 1)[1], b.rsplit("/", 1)[1], flush=True)
keep = psycopg.connect(b)  # still connected at exit: the drop forces it off
raise RuntimeError("the setup failed")
"""
    p = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, encoding="utf-8")
    assert p.returncode == 1, p.stderr
    assert "the setup failed" in p.stderr
    a, b = p.stdout.split()
    assert a.startswith("qi_sync_") and b.startswith("qi_sync_")
    assert not exists(a)
    assert not exists(b)  # dropped at exit, not left on the shared server
