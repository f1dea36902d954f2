"""The hub works on at most ``hub_threads()`` calls at once per process (the rest wait their turn in
anyio's limiter, not for a pooled connection), and its start-up objects are out of the cycle
collector's generations."""

from __future__ import annotations

import gc

import pytest
from anyio.to_thread import current_default_thread_limiter
from fastapi.testclient import TestClient

from qi_station.sync.hub import server


def _tokens(app: object) -> int:
    with TestClient(app) as tc:  # type: ignore[arg-type]
        return int(tc.portal.call(lambda: current_default_thread_limiter().total_tokens))


def test_threads_limited_at_start_up(tmp_path, monkeypatch):
    monkeypatch.delenv("QI_HUB_THREADS", raising=False)
    assert _tokens(server.create_app(f"sqlite:///{tmp_path / 'hub.db'}")) == server.HUB_THREADS
    assert server.HUB_THREADS < 15  # below the pool's 5 + 10 connections: no call waits for one


@pytest.mark.parametrize(("env", "want"), [("3", 3), ("0", 1), ("many", server.HUB_THREADS)])
def test_threads_from_env(tmp_path, monkeypatch, env, want):
    monkeypatch.setenv("QI_HUB_THREADS", env)
    assert _tokens(server.create_app(f"sqlite:///{tmp_path / 'hub.db'}")) == want


def test_start_up_objects_frozen(tmp_path):
    gc.unfreeze()
    app = server.create_app(f"sqlite:///{tmp_path / 'hub.db'}")
    with TestClient(app):
        assert gc.get_freeze_count() > 0
    gc.unfreeze()
