"""Outside attacker (atkfix 1): an older USB "up" bundle imported at the hub after a newer one (or after
an online sync) was refused ``history_differs`` and recorded as a second copy of the station, once per
late import. Its signed head is over fewer events: it is now compared with the station's history AT
THAT LENGTH (the heads the hub keeps: those it acknowledged and the ``earlier`` ones every signed head
lists), so an older bundle is all duplicates, and a shorter history that differs is still refused and
recorded. SQLite and PostgreSQL hubs (``test_sync_hub.env``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import request_input

from qi_station.core.chain import head_message
from qi_station.services import ledger
from qi_station.sync import keys
from qi_station.sync.proto import SyncError
from qi_station.sync.station import apply as S
from qi_station.sync.station import bundles as B

pytestmark = pytest.mark.usefixtures("_now")


@pytest.fixture
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", "2026-10-05T10:00:00")


def _conflicts(hub: Any, code: str = "ZB01") -> int:
    (st,) = [s for s in hub.stations() if s["code"] == code]
    return int(st["conflicts"])


def _head_n(hub: Any) -> int:
    (h,) = [h for h in hub.verify()["heads"] if h["station"] == "ZB01"]
    return int(h["n"])


def _forged(db: Path, n: int, head: str, **extra: Any) -> dict[str, Any]:
    """A head over ``n`` events signed with the station's own key (a copy of it could sign it)."""
    c = sqlite3.connect(db)
    try:
        priv, _pub = S.signing_key(c)
    finally:
        c.close()
    return {"n": n, "head": head, "sig": keys.sign(priv, head_message("ZB01", n, head)), **extra}


def test_older_bundles_imported_after_a_newer_one_are_all_duplicates(env: Any, tmp_path: Path) -> None:  # noqa: F811
    hub, _tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    b1, b2, b3 = (tmp_path / f"b{i}.zip" for i in (1, 2, 3))
    B.export_bundle(a, b1)
    ledger.create_request(a, request_input(2, 1))
    B.export_bundle(a, b2)
    ledger.create_request(a, request_input(3, 1))
    B.export_bundle(a, b3)
    assert hub.import_bundle(b3)["applied"] > 0
    before = hub.verify()["heads"]
    for late in (b1, b2):  # each older bundle: imported, nothing applied, no conflict
        out = hub.import_bundle(late)
        assert out["status"] == "imported" and out["applied"] == 0
    assert _conflicts(hub) == 0
    assert hub.verify()["heads"] == before  # the newer head stays
    assert hub.verify()["ok"]


def test_an_older_bundle_after_an_online_sync_is_all_duplicates(env: Any, tmp_path: Path) -> None:  # noqa: F811
    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    old = tmp_path / "old.zip"
    B.export_bundle(a, old)
    ledger.create_request(a, request_input(2, 1))
    assert sync(a, tc)["pending"] == 0
    assert hub.import_bundle(old)["applied"] == 0
    assert _conflicts(hub) == 0


def test_a_shorter_history_that_differs_is_refused_and_recorded(env: Any, tmp_path: Path) -> None:  # noqa: F811
    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    B.export_bundle(a, tmp_path / "old.zip")  # the hub learns the head over 1 event from the next push
    ledger.create_request(a, request_input(2, 1))
    ledger.create_request(a, request_input(3, 1))
    assert sync(a, tc)["pending"] == 0
    assert _head_n(hub) == 3
    other = "ab" * 32
    with pytest.raises(SyncError) as e:  # another head over its first event
        hub.push({"code": "ZB01"}, [], head=_forged(a, 1, other))
    assert e.value.code == "history_differs" and "holds head" in e.value.message
    assert "first 1 events" in e.value.message and "second copy" in e.value.message
    assert _conflicts(hub) == 1
    with pytest.raises(SyncError) as e:  # a head over 2 events the station never sent: cannot be a prefix
        hub.push({"code": "ZB01"}, [], head=_forged(a, 2, other))
    assert e.value.code == "history_differs" and "holds no head" in e.value.message
    assert _conflicts(hub) == 2
    with pytest.raises(SyncError) as e:  # a newer head listing an earlier one that differs
        hub.push({"code": "ZB01"}, [], head=_forged(a, 4, "cd" * 32, earlier=[{"n": 1, "head": other}]))
    assert e.value.code == "history_differs" and "first 1 events" in e.value.message
    assert _conflicts(hub) == 3
    assert _head_n(hub) == 3  # nothing was kept


def test_an_earlier_head_over_no_events_must_be_genesis(env: Any, tmp_path: Path) -> None:  # noqa: F811
    """atk7: ``earlier`` listed ``{n: 0, head: abab…}`` and the hub kept it; the head of no events can only
    be GENESIS (``core.chain``), so such a list is refused ``bad_head`` and nothing is kept."""
    from qi_station.core.chain import GENESIS

    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    assert sync(a, tc)["pending"] == 0
    n = _head_n(hub)
    with pytest.raises(SyncError) as e:
        hub.push(
            {"code": "ZB01"}, [], head=_forged(a, n + 1, "cd" * 32, earlier=[{"n": 0, "head": "ab" * 32}])
        )
    assert e.value.code == "bad_head" and "GENESIS" in e.value.message
    assert _head_n(hub) == n
    with pytest.raises(SyncError) as e:  # GENESIS over 0 events is no conflict (the head over n still checks)
        hub.push({"code": "ZB01"}, [], head=_forged(a, n, "cd" * 32, earlier=[{"n": 0, "head": GENESIS}]))
    assert e.value.code == "history_differs"
