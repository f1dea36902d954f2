"""A cloned station (a copy of the station database with its key, a cloned disk) that first pulls and
then creates a request numbers it as the original already did: the hub refuses it ``unique_number``.
That refusal is recorded as a ``sync_conflict`` of the station (as ``history_differs`` is, ``hub
stations`` CONFLICTS) and its message says a second copy of the station may exist; nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import hub_requests, request_input, rows

from qi_station.services import ledger
from qi_station.sync.proto import SyncError


def test_a_clone_reusing_a_number_is_recorded_as_a_conflict(
    env: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from test_sync_heal import sqlite_copy

    from qi_station.db import secrets
    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.push import kept_as_conflict
    from qi_station.sync.station import apply as S

    hub, tc, dbs = env
    a = dbs["ZB01"]
    monkeypatch.setattr(S, "device_id", lambda conn: "same-device-id-0001")  # a cloned disk image
    ledger.create_request(a, request_input(1))
    assert sync(a, tc)["pending"] == 0
    dispose_all()
    b = tmp_path / "clone" / "ZB01.db"
    b.parent.mkdir()
    sqlite_copy(a, b)
    secrets.save(b, **secrets.load(a))
    r2 = ledger.create_request(a, request_input(2))
    assert sync(a, tc)["pending"] == 0
    assert sync(b, tc)["pending"] == 0  # the clone had nothing to push: it caught up from the hub
    r3 = ledger.create_request(b, request_input(3))
    hub_before = hub_requests(hub)
    before = {r[0]: r[1] for r in rows(b, "SELECT id, number FROM request")}
    with pytest.raises(SyncError) as ei:
        sync(b, tc)
    e = ei.value
    assert kept_as_conflict(e) == "unique_number", (e.code, e.message)
    if r3["number"] == r2["number"]:  # the original's number, reused
        assert e.data.get("field") == "number"
    assert "second copy" in e.message and "administrator" in e.message and "Nothing was written" in e.message
    assert hub_requests(hub) == hub_before
    assert {r[0]: r[1] for r in rows(b, "SELECT id, number FROM request")} == before
    (st,) = [s for s in hub.stations() if s["code"] == "ZB01"]
    assert st["conflicts"] == 1 and st["last_conflict"]["kind"] == "unique_number"
