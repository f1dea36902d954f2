"""The nonces of signed station calls (``registry.use_nonce``): pruned at most once a minute per
process (not on every call), a replay refused across handles and restarts, and on a SQLite hub kept
beside the database so that a signed read never waits on a push's write lock."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from qi_station.sync.hub import registry
from qi_station.sync.proto import CALL_WINDOW_MS, SyncError


@pytest.fixture
def hub(tmp_path: Path) -> Any:
    from qi_station.sync.hub.store import Hub

    h = Hub(f"sqlite:///{tmp_path / 'hub.db'}")
    h.init(demo=False)
    yield h
    h.dispose()


def _now() -> int:
    return time.time_ns() // 1_000_000


def _nonces(hub: Any) -> set[str]:
    with sqlite3.connect(registry.nonce_path(hub.sqlite_path)) as c:
        return {r[0] for r in c.execute("SELECT nonce FROM call_nonce")}


def test_a_nonce_inside_the_window_is_refused_again_across_handles(hub: Any) -> None:
    from qi_station.sync.hub.store import Hub

    n = "a" * 24
    hub.use_nonce("ZB01", n, _now())
    with pytest.raises(SyncError) as e:
        hub.use_nonce("ZB01", n, _now())
    assert e.value.code == "replayed_call"
    hub.use_nonce("QD02", n, _now())  # another station's nonce space
    registry._SIDE_READY.clear()  # a restart: nothing remembered by this process
    registry._NONCE_PRUNED.clear()
    other = Hub(hub.url)
    with pytest.raises(SyncError) as e:
        other.use_nonce("ZB01", n, _now())
    assert e.value.code == "replayed_call"


def test_expired_nonces_are_pruned_at_most_once_a_minute(hub: Any, monkeypatch: Any) -> None:
    clock = [1000.0]
    monkeypatch.setattr(registry, "_monotonic", lambda: clock[0])
    registry._NONCE_PRUNED.clear()
    hub.use_nonce("ZB01", "first-call-nonce-0001", _now())  # the first call of the process prunes
    old = _now() - 2 * CALL_WINDOW_MS - 1000
    with sqlite3.connect(registry.nonce_path(hub.sqlite_path)) as c:
        c.execute("INSERT INTO call_nonce VALUES ('ZB01', 'expired-nonce-00001', ?)", (old,))
    clock[0] += 30  # half a minute later: no prune on this call
    hub.use_nonce("ZB01", "second-call-nonce-01", _now())
    assert "expired-nonce-00001" in _nonces(hub)
    clock[0] += 31  # a minute since the last prune: this call prunes
    hub.use_nonce("ZB01", "third-call-nonce-001", _now())
    got = _nonces(hub)
    assert "expired-nonce-00001" not in got
    assert {"first-call-nonce-0001", "second-call-nonce-01", "third-call-nonce-001"} <= got


def test_a_signed_read_nonce_does_not_wait_on_a_held_hub_write_lock(hub: Any) -> None:
    """A push holding the hub database's write lock: the nonce of a signed pull is kept all the same
    (no 503), and a replay of it is still refused."""
    held = sqlite3.connect(hub.sqlite_path, timeout=0)
    held.execute("BEGIN IMMEDIATE")
    try:
        n = "read-under-lock-0001"
        hub.use_nonce("ZB01", n, _now())
        with pytest.raises(SyncError) as e:
            hub.use_nonce("ZB01", n, _now())
        assert e.value.code == "replayed_call"
    finally:
        held.rollback()
        held.close()


def test_prune_oseq_keeps_the_last_digests_below_each_ack(hub: Any) -> None:
    """``hub prune-oseq --keep N``: the change digests more than N below a station's ack go; the
    last N, and everything of a station with fewer, stay; N below the least is refused, nothing deleted."""
    import sqlalchemy as sa
    from typer.testing import CliRunner

    from qi_station.cli.commands import app
    from qi_station.sync.hub.tables import hub_tables

    for code in ("ZB01", "QD02"):
        hub.add_station(code, f"{code}站")
    hs, ho = hub_tables()["hub_station"], hub_tables()["hub_oseq"]
    with hub.engine.connect() as c:
        ids = {r[0]: r[1] for r in c.execute(sa.select(hs.c.code, hs.c.id))}
    with hub.write() as c:
        for code, n in (("ZB01", 3000), ("QD02", 500)):
            c.execute(
                ho.insert(),
                [{"station_id": ids[code], "oseq": k, "digest": f"d{k}"} for k in range(1, n + 1)],
            )
            c.execute(sa.update(hs).where(hs.c.id == ids[code]).values(acked_oseq=n))

    def held() -> dict[str, list[int]]:
        with hub.engine.connect() as c:
            out: dict[str, list[int]] = {}
            for sid, k in c.execute(sa.select(ho.c.station_id, ho.c.oseq).order_by(ho.c.oseq)):
                out.setdefault(sid, []).append(int(k))
            return out

    with pytest.raises(SyncError) as e:
        hub.prune_oseq(999)
    assert (e.value.code, e.value.data["field"]) == ("bad_keep", "keep")
    assert len(held()[ids["ZB01"]]) == 3000
    res = CliRunner().invoke(
        app, ["hub", "prune-oseq", "--keep", "1000", "--database-url", hub.url, "--json"]
    )
    assert res.exit_code == 0, res.output
    assert '"deleted": 2000' in res.output
    got = held()
    assert got[ids["ZB01"]] == list(range(2001, 3001))
    assert got[ids["QD02"]] == list(range(1, 501))


def test_the_nonce_file_removed_while_the_hub_runs_is_made_again(hub: Any) -> None:
    hub.use_nonce("ZB01", "before-removal-00001", _now())
    path = registry.nonce_path(hub.sqlite_path)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
    hub.use_nonce("ZB01", "after-removal-000001", _now())
    assert "after-removal-000001" in _nonces(hub)


def test_the_nonce_file_is_named_from_the_real_path_so_a_symlink_cannot_replay(
    hub: Any, tmp_path: Path
) -> None:
    """Outside attacker: ``link.db -> hub.db`` got its own empty ``link.db.nonces``, so a captured
    signed call replayed through the other spelling. The nonce file is named from the resolved path."""
    from qi_station.sync.hub.store import Hub

    n = "captured-call-nonce-0001"
    hub.use_nonce("ZB01", n, _now())
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "hub.db")
    (tmp_path / "sub").mkdir()
    for spelling in (link, tmp_path / "sub" / ".." / "hub.db"):
        other = Hub(f"sqlite:///{spelling}")
        assert registry.nonce_path(other.sqlite_path) == tmp_path.resolve() / "hub.db.nonces"
        with pytest.raises(SyncError) as e:
            other.use_nonce("ZB01", n, _now())
        assert e.value.code == "replayed_call"
    assert not (tmp_path / "link.db.nonces").exists()


def test_a_damaged_nonce_file_is_a_clear_503_and_fails_closed(
    hub: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Outside attacker: ``echo garbage > hub.db.nonces`` gave 500 with a traceback on every signed
    call. Now: 503 ``nonce_file_damaged`` naming the file and what to do, logged at the hub; still no
    call gets through (fail closed)."""
    import logging

    hub.use_nonce("ZB01", "before-damage-000001", _now())
    path = registry.nonce_path(hub.sqlite_path)
    for p in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
    path.write_text("garbage\n" * 200, encoding="utf-8")
    for fresh in (False, True):  # this process knew the file; a restarted one did not
        if fresh:
            registry._SIDE_READY.clear()
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="qi_station.sync.hub.registry"):
            with pytest.raises(SyncError) as e:
                hub.use_nonce("ZB01", f"after-damage-00000{int(fresh)}", _now())
        assert (e.value.status, e.value.code) == (503, "nonce_file_damaged")
        assert str(path) in e.value.message and "delete" in e.value.message
        assert any(str(path) in r.getMessage() for r in caplog.records)
