"""``benchmarks/rush_replay.py`` (``bench_rush.py --mode replay``): one process replays stations' real
signed push and pull calls. What it sends must be what the station's own client sends: the hub takes
every batch (signature, rules, hashes), holds every request once, and a second round pushes only the
new changes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from test_sync_util import enroll_station, hub_requests, request_input

from qi_station.services import ledger

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_replay_pushes_and_pulls_like_the_client(tmp_path: Path) -> None:
    import httpx
    import rush_replay as R
    from fastapi.testclient import TestClient

    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub

    hub = Hub(f"sqlite:///{tmp_path / 'hub.db'}")
    hub.init(demo=False)
    hub.upsert_library([("expert", {"id": f"x{i}", "name": f"专家{i}"}) for i in range(30)])
    app = create_app(hub.url)
    tc = TestClient(app)
    plans: list[Any] = []
    try:
        for code in ("ZB01", "ZB02"):
            db = tmp_path / f"{code}.db"
            init_station(open_db(db), code=code)
            enroll_station(db, hub, tc, code)
            for i in range(7):
                ledger.create_request(db, request_input(i, i % 2))
            plans.append(R.plan(db, batch_size=10))  # several batches, each cut as next_batch cuts
        assert all(len(p.batches) > 1 for p in plans)
        R.replay("http://testserver", plans, 7, transport=httpx.ASGITransport(app=app))
        assert [p.error for p in plans] == [None, None]
        assert all(p.pulled_rows >= 30 for p in plans)  # the library, in pages of 7
        held = hub_requests(hub)
        assert len(held) == 14 and len({r["number"] for r in held.values()}) == 14
        for p in plans:  # the next round: the ack taken, only the new change goes
            R.acked(p)
            ledger.create_request(p.db, request_input(99, 0))
        again = [R.plan(p.db, since=p.since) for p in plans]
        assert all(0 < q.changes < 10 for q in again)
        R.replay("http://testserver", again, transport=httpx.ASGITransport(app=app))
        assert [q.error for q in again] == [None, None]
        assert len(hub_requests(hub)) == 16
    finally:
        tc.close()
        hub.dispose()
