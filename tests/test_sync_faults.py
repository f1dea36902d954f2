"""Transport faults (connection refused, timeouts, a drop AFTER the hub committed, 502s, truncated
bodies) and several uvicorn workers on one hub database (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from test_sync_util import (
    hub_requests,
    library,
    pg_available,
    pg_create,
    pg_drop,
    request_input,
    station_requests,
)

from qi_station.services import ledger
from qi_station.sync.station import client as C


class Flaky(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, rng: random.Random, rate: float) -> None:
        self.inner, self.rng, self.rate = inner, rng, rate
        self.faults = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        roll = self.rng.random()
        if roll < self.rate / 4:
            self.faults += 1
            raise httpx.ConnectError("refused", request=request)
        resp = self.inner.handle_request(request)
        resp.read()
        if roll < self.rate / 2:
            self.faults += 1
            raise httpx.ReadTimeout("reply lost after the hub committed", request=request)
        if roll < self.rate * 3 / 4:
            self.faults += 1
            return httpx.Response(502, content=b"bad gateway", request=request)
        if roll < self.rate:
            self.faults += 1
            return httpx.Response(
                resp.status_code,
                headers={"content-type": "application/json"},
                content=resp.content[: len(resp.content) // 2],
                request=request,
            )
        return resp


def test_transport_faults_converge(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub

    hub = Hub(f"sqlite:///{tmp_path / 'hub.db'}")
    hub.init(demo=False)
    hub.upsert_library([("expert", {"id": f"x{i}", "name": f"专家{i}"}) for i in range(300)])
    tc = TestClient(create_app(hub.url))
    db = tmp_path / "st.db"
    C.enroll(db, hub.add_station("ZB01", "z")["token"], "http://testserver", http=tc)
    flaky = Flaky(tc._transport, random.Random(3), 0.3)
    http = httpx.Client(transport=flaky, base_url="http://testserver")
    made = set()
    for round_ in range(12):
        for i in range(7):
            made.add(ledger.create_request(db, request_input(round_ * 10 + i, i))["id"])
        if round_ % 3 == 0:
            hub.upsert_library([("expert", {"id": f"x{round_}", "name": f"改名{round_}"})])
        C.run_sync(db, http=http, retries=50, sleep=lambda s: None, page_size=40, batch_size=5)
    assert flaky.faults > 10
    assert set(hub_requests(hub)) == set(station_requests(db)) == made
    assert library(db) == library(hub)
    tc.close()
    dispose_all()
    hub.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_several_workers(backend: str, tmp_path: Path) -> None:
    from kill_util import free_port

    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.store import Hub

    if backend == "postgresql":
        if not pg_available():
            pytest.skip("PostgreSQL not reachable")
        url = pg_create()
    else:
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    srv = None
    hub = None
    try:  # the database goes even when the setup fails
        hub = Hub(url)
        hub.init(demo=False)
        hub.upsert_library([("expert", {"id": f"x{i}", "name": f"专家{i}"}) for i in range(50)])
        tokens = {c: hub.add_station(c, c)["token"] for c in ("A1", "B2", "C3")}
        port = free_port()
        srv = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qi_station",
                "hub",
                "serve",
                "--database-url",
                url,
                "--port",
                str(port),
                "--workers",
                "3",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import time

        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=0.5, trust_env=False)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        dbs = {c: tmp_path / f"{c}.db" for c in tokens}
        for c, t in tokens.items():
            C.enroll(dbs[c], t, base)
        errors: list[BaseException] = []

        def station(c: str) -> None:
            try:
                for i in range(6):
                    for j in range(4):
                        ledger.create_request(dbs[c], request_input(i * 10 + j, j))
                    C.run_sync(dbs[c], retries=20, sleep=lambda s: time.sleep(0.05), batch_size=3)
                C.run_sync(dbs[c], retries=20)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        def librarian() -> None:
            try:
                for k in range(10):
                    hub.upsert_library([("expert", {"id": f"x{k}", "name": f"新{k}"})])
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        ths = [threading.Thread(target=station, args=(c,)) for c in tokens] + [
            threading.Thread(target=librarian)
        ]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        assert not errors, errors
        for c in tokens:
            C.run_sync(dbs[c], retries=5)
            assert set(station_requests(dbs[c])) == set(hub_requests(hub, c))
            assert len(station_requests(dbs[c])) == 24
            assert library(dbs[c]) == library(hub)
    finally:
        if srv is not None:
            srv.send_signal(signal.SIGTERM)
            try:
                srv.wait(15)
            except subprocess.TimeoutExpired:
                srv.kill()
        dispose_all()
        if hub is not None:
            hub.dispose()
        if backend == "postgresql":
            pg_drop(url)
