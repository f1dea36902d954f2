"""PostgreSQL hub: a write's seq comes from a sequence that no writer holds until its commit, so two
writes may commit out of seq order. A pull must then never serve the later seq while the earlier one
is still in flight (its cursor would pass it and skip it for good), and once both are committed the
cursor gets both. Two real connections hold two transactions open; no sleeps, no threads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_sync_util import pg_available, pg_create, pg_drop

PG = pg_available()


def _ids(page: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for block in page["tables"].values():
        cols = block["cols"]
        rows = json.loads(block["rows_json"]) if "rows_json" in block else block["rows"]
        for r in rows:
            out[r[cols.index("id")]] = r[cols.index("seq")]
    return out


def _pages(hub: Any, since: int) -> list[dict[str, Any]]:
    """The same cursor read every way a pull reads: the one-statement HTTP page, the per-table
    snapshot read (raw and objects), all up to the in-flight horizon."""
    with hub.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        one = hub._read_page_pg(c, "ZZ01", since, 1000, check_horizon=True)
    return [one, hub.read_changes("ZZ01", since, 1000, raw=True), hub.read_changes("ZZ01", since, 1000)]


@pytest.mark.skipif(not PG, reason="PostgreSQL not reachable")
def test_pull_never_passes_a_seq_still_in_flight() -> None:
    import sqlalchemy as sa

    from qi_station.sync.hub.store import Hub

    url = pg_create()
    hub = Hub(url)
    c1 = c2 = None
    try:
        hub.init(demo=False)
        hub.upsert_library([("expert", {"id": f"x-{i}", "name": f"专家{i}"}) for i in range(3)])
        start = _pages(hub, 0)[0]["head"]
        assert start >= 3
        c1, c2 = hub.engine.connect(), hub.engine.connect()
        t1, t2 = c1.begin(), c2.begin()
        for c in (c1, c2):  # a writer that had to wait for the other would fail here, not hang
            c.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
        c1.execute(sa.text("UPDATE expert SET name = '早' WHERE id = 'x-0'"))
        s1 = hub.stamp(c1, [("expert", "x-0")])
        c2.execute(sa.text("UPDATE expert SET name = '晚' WHERE id = 'x-1'"))
        s2 = hub.stamp(c2, [("expert", "x-1")])  # not blocked by c1's open transaction
        assert start < s1 < s2
        t2.commit()  # the later seq commits first

        for page in _pages(hub, start):  # the earlier seq is in flight: nothing past it is served
            assert page["head"] < s1, page
            assert page["next"] < s1 and page["more"] is False
            assert "x-1" not in _ids(page)
        cursor = _pages(hub, start)[0]["next"]

        t1.commit()
        for page in _pages(hub, cursor):  # both committed: the cursor gets both, in seq order
            assert page["head"] >= s2
            got = _ids(page)
            assert got["x-0"] == s1 and got["x-1"] == s2, got
            assert page["next"] >= s2
    finally:
        for c in (c1, c2):
            if c is not None:
                c.close()
        hub.dispose()
        pg_drop(url)


@pytest.mark.skipif(not PG, reason="PostgreSQL not reachable")
def test_a_rolled_back_write_leaves_a_gap_not_a_stall() -> None:
    """A write that rolls back after taking its seqs leaves a gap in seq: the horizon moves past it."""
    import sqlalchemy as sa

    from qi_station.sync.hub.store import Hub

    url = pg_create()
    hub = Hub(url)
    try:
        hub.init(demo=False)
        hub.upsert_library([("expert", {"id": "x-0", "name": "专家"})])
        with hub.engine.connect() as c:
            t = c.begin()
            c.execute(sa.text("UPDATE expert SET name = '回滚' WHERE id = 'x-0'"))
            lost = hub.stamp(c, [("expert", "x-0")])
            assert _pages(hub, 0)[0]["head"] < lost
            t.rollback()
        hub.upsert_library([("expert", {"id": "x-1", "name": "专家1"})])
        for page in _pages(hub, 0):
            got = _ids(page)
            assert got["x-1"] > lost and page["head"] >= got["x-1"]
            assert page["next"] == page["head"]
    finally:
        hub.dispose()
        pg_drop(url)
