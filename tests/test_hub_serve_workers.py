"""``hub serve --workers N`` keeps its workers through a busy morning: uvicorn's liveness ping (5 s by
default) killed workers that were busy or starved on a loaded machine, mid-push (issue 13 goal 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def test_workers_get_a_long_liveness_ping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from qi_station.sync.hub import server
    from qi_station.sync.hub.store import Hub

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = Hub(url)
    hub.init(demo=False)
    hub.dispose()
    got: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: got.update(kw, app=app))
    monkeypatch.setenv("QI_HUB_DATABASE_URL", url)  # serve sets it: restored after the test
    server.serve(url, port=8799, workers=2)
    assert got["workers"] == 2
    assert got["app"] == "qi_station.sync.hub.server:app_from_env"
    assert got["timeout_worker_healthcheck"] == server.WORKER_HEALTHCHECK_S >= 60
    got.clear()
    server.serve(url, port=8799, workers=1)  # one worker: no supervisor, no ping
    assert "timeout_worker_healthcheck" not in got
