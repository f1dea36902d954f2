"""The hub's change counter (``hub_counter``) is taken by every write at its very end and held until
commit, so pushes pass it one at a time: a push takes it only after its other writes, the digests of
the changes it applied (``hub_oseq``) included."""

from __future__ import annotations

from pathlib import Path

from test_sync_util import enroll_station, request_input

from qi_station.services import ledger


def test_push_takes_the_counter_after_its_digests(tmp_path: Path) -> None:
    import sqlalchemy as sa
    from fastapi.testclient import TestClient

    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub
    from qi_station.sync.station import apply as S

    hub = Hub(f"sqlite:///{tmp_path / 'hub.db'}")
    hub.init(demo=False)
    tc = TestClient(create_app(hub.url))
    db = tmp_path / "ZB01.db"
    init_station(open_db(db), code="ZB01")
    enroll_station(db, hub, tc, "ZB01")
    for i in range(3):
        ledger.create_request(db, request_input(i, i))
    conn = S.open_conn(db)
    seen: list[str] = []

    def log(_c: object, _cur: object, statement: str, *_a: object) -> None:
        seen.append(" ".join(statement.split()).lower())

    try:
        batch = S.next_batch(conn)
        st = hub.station_by_token(S.api_token(conn))
        sa.event.listen(hub.engine, "before_cursor_execute", log)
        try:
            out = hub.push(st, batch)
        finally:
            sa.event.remove(hub.engine, "before_cursor_execute", log)
        assert out["acked_oseq"] == batch[-1]["oseq"]
        digests = max(i for i, s in enumerate(seen) if s.startswith("insert into hub_oseq"))
        counter = min(i for i, s in enumerate(seen) if "hub_counter" in s and s.startswith("update"))
        assert digests < counter, seen[digests - 1 : counter + 2]
    finally:
        conn.close()
        tc.close()
        hub.dispose()
