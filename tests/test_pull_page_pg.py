"""The PostgreSQL HTTP pull page is read in one statement (``PullJobs._read_page_pg``): it gives the
document the transaction of per-table reads gives (``read_changes(raw=True)``) for every cursor and
page size: the same cut, ``next``, ``more``, head and rows."""

from __future__ import annotations

import json

import pytest
from test_sync_util import pg_available, pg_create, pg_drop

PG = pg_available()


@pytest.mark.skipif(not PG, reason="PostgreSQL not reachable")
def test_one_statement_page_is_the_per_table_page() -> None:
    from qi_station.sync.hub.store import Hub

    url = pg_create()
    hub = Hub(url)
    try:
        hub.init(demo=False)
        hub.upsert_library([("expert", {"id": f"x-{i:04d}", "name": f"专家{i}"}) for i in range(40)])
        hub.upsert_library(
            [("institution", {"id": f"i-{i:04d}", "name": f"机构{i}"}) for i in range(15)]
            + [("expert", {"id": f"x-{i:04d}", "name": f"专家{i}改"}) for i in range(0, 40, 3)]
        )
        head = int(hub.read_changes("ZZ01", 0, None)["head"])
        assert head > 50
        for since in (0, 1, 17, head - 5, head, head + 3):
            for limit in (1, 7, 30, 1000):
                old = hub.read_changes("ZZ01", since, limit, raw=True)
                with hub.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    new = hub._read_page_pg(c, "ZZ01", since, limit, check_horizon=True)
                for k in ("since", "next", "more", "head", "horizon"):
                    assert new[k] == old[k], (since, limit, k)
                assert set(new["tables"]) == set(old["tables"]), (since, limit)
                for t, block in old["tables"].items():
                    assert new["tables"][t]["cols"] == block["cols"]
                    assert json.loads(new["tables"][t]["rows_json"]) == json.loads(block["rows_json"])
    finally:
        hub.dispose()
        pg_drop(url)
