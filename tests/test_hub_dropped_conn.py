"""PostgreSQL hub: its pool has no pre-ping (a round trip at every checkout). A pooled connection the
server dropped (a restart, an administrator's ``pg_terminate_backend``) must not fail a station's call:
the token check (``read_once``) runs once more on a fresh connection, and the calls after it get fresh
connections too (the pool is invalidated)."""

from __future__ import annotations

import pytest
from test_sync_util import pg_available, pg_create, pg_drop

PG = pg_available()


@pytest.mark.skipif(not PG, reason="PostgreSQL not reachable")
def test_a_dropped_pooled_connection_is_retried_not_failed() -> None:
    import sqlalchemy as sa

    from qi_station.sync.hub.store import Hub
    from qi_station.sync.proto import SyncError

    url = pg_create()
    hub = Hub(url)
    try:
        hub.init(demo=False)
        assert hub.engine.pool._pre_ping is False  # type: ignore[attr-defined]
        hub.add_station("ZD01", "断线站")
        with hub.engine.connect() as c:  # make the hub's pool hold connections, then drop them all
            c.execute(sa.text("SELECT 1"))
        with hub.engine.connect() as c:
            c.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            mine = c.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        with hub.engine.connect() as c:  # and the one that dropped the others
            c.execute(sa.text("SELECT 1"))
        import psycopg

        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (mine,))
        # the pooled connection is dead now: an unknown token still answers 401 (not a 503 or a traceback)
        with pytest.raises(SyncError) as e:
            hub.station_by_token("no-such-token")
        assert e.value.status == 401 and e.value.code == "bad_token"
        with pytest.raises(SyncError) as e:
            hub.station_by_token("no-such-token")
        assert e.value.code == "bad_token"
    finally:
        hub.dispose()
        pg_drop(url)
