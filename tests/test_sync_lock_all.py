"""Sync, restore and bundles against each other (an attacker's and an operator's findings): one sync
lock (``services.locks.hold_sync``) for a sync, a bundle import or export and a restore; refusals with
one exit code (1) and, with ``--json``, as a JSON object instead of plain text; the clock-ahead refusal
as its own code; the acknowledged count of a sync; validation messages that do not repeat their field.

The holder of the lock is another process (or a sync in another thread), seen holding it before the
refused command runs: never a guessed sleep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_sync_util import enroll_station, request_input

from qi_station.services import ledger

#: holds ``argv[1]``'s sync lock (``<db>.sync-lock``, as a running sync does), writes ``argv[2]`` once
#: it does, and keeps it until stdin closes
HOLDER = """
import sys
from pathlib import Path
from qi_station.services.locks import exclusive
with exclusive(Path(sys.argv[1] + ".sync-lock"), AssertionError) as held:
    assert held
    Path(sys.argv[2]).write_text("held", encoding="utf-8")
    sys.stdin.read()
"""


@contextmanager
def lock_held_elsewhere(db: Path) -> Iterator[None]:
    """``db``'s sync lock held by another process for the block (seen held: its file written)."""
    ready = db.with_name(db.name + ".holder-ready")
    p = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), str(ready)], stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        while not ready.exists():  # observed: the holder says it holds the lock
            if p.poll() is not None:
                raise AssertionError(f"the lock holder ended: {p.stderr.read() if p.stderr else ''!r}")
            threading.Event().wait(0.01)
        yield
    finally:
        assert p.stdin is not None
        p.stdin.close()
        p.wait()
        if p.stderr is not None:
            p.stderr.close()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qi_station", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=dict(os.environ),
    )


@pytest.fixture
def station(tmp_path: Path) -> tuple[Path, Path]:
    """A station database with one request and a backup of it."""
    from qi_station.db.engine import open_db
    from qi_station.db.session import dispose_all
    from qi_station.services.backup import backup_db

    db = open_db(tmp_path / "s.db")
    ledger.create_request(db, request_input(1, 1))
    bk = backup_db(db, tmp_path / "b.db")
    dispose_all()
    return db, bk


def test_restore_is_refused_while_a_sync_holds_the_lock_and_says_so_as_json(
    station: tuple[Path, Path],
) -> None:
    db, bk = station
    with lock_held_elsewhere(db):
        plain = cli("--db", str(db), "restore", str(bk))
        as_json = cli("--db", str(db), "restore", str(bk), "--json")
        sync = cli("--db", str(db), "sync")  # what a second sync gets: the same code and exit code
    assert (plain.returncode, as_json.returncode, sync.returncode) == (1, 1, 1), plain.stderr
    assert "[sync_running]" in plain.stderr and "本站另一同步正在进行" in plain.stderr, plain.stderr
    assert "[sync_running]" in sync.stderr
    got = json.loads(as_json.stdout)  # instead of the plain text, not beside it
    assert (got["error"], got["exit_code"]) == ("sync_running", 1) and "restore" in got["message"]
    assert as_json.stderr == ""
    assert not list(db.parent.glob("s.db.before-restore*"))  # nothing was done
    ok = cli("--db", str(db), "restore", str(bk))  # once the sync has finished
    assert ok.returncode == 0 and "已从" in ok.stdout and "restored from" not in ok.stdout, ok.stdout


def test_restore_refuses_when_the_sync_lock_cannot_be_made(station: tuple[Path, Path]) -> None:
    db, bk = station
    Path(str(db) + ".sync-lock").mkdir()  # the lock's name taken by a folder: it cannot be opened
    r = cli("--db", str(db), "restore", str(bk))
    assert r.returncode == 1 and "[sync_lock]" in r.stderr and "无法创建同步锁" in r.stderr, r.stderr
    assert not list(db.parent.glob("s.db.before-restore*"))


def test_bundle_import_and_export_are_refused_while_a_sync_runs(station: tuple[Path, Path]) -> None:
    db, _ = station
    bundle = db.with_name("down.zip")
    bundle.write_bytes(b"not read: the lock comes first")
    with lock_held_elsewhere(db):
        imp = cli("--db", str(db), "sync", "import-bundle", str(bundle))
        exp = cli("--db", str(db), "sync", "export-bundle", "--out", str(db.parent / "usb") + "/", "--json")
    assert imp.returncode == 1 and "[sync_running]" in imp.stderr and "bundle import" in imp.stderr
    assert exp.returncode == 1 and json.loads(exp.stdout)["error"] == "sync_running" and exp.stderr == ""
    assert not (db.parent / "usb").exists()
    # the lock gone: the same commands run (and are refused for what they are, not for the lock)
    assert "[sync_running]" not in cli("--db", str(db), "sync", "import-bundle", str(bundle)).stderr


def test_a_running_sync_holds_the_lock_against_bundles_and_restore(tmp_path: Path) -> None:
    """A real sync, stopped inside its first call to the hub (seen there), is what the others meet."""
    from fastapi.testclient import TestClient

    from qi_station.db.session import dispose_all
    from qi_station.services.backup import backup_db, restore_db
    from qi_station.services.locks import SyncLockError
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub
    from qi_station.sync.proto import SyncError
    from qi_station.sync.station import bundles as B
    from qi_station.sync.station import client as C

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = Hub(url)
    hub.init(demo=False)
    tc = TestClient(create_app(url))
    inside, go_on = threading.Event(), threading.Event()

    class Held:
        """The hub's client, holding the first call until the test has looked."""

        def request(self, *a: Any, **kw: Any) -> Any:
            inside.set()
            go_on.wait()
            return tc.request(*a, **kw)

        def __getattr__(self, name: str) -> Any:
            return getattr(tc, name)

    try:
        a = tmp_path / "ZB01.db"
        enroll_station(a, hub, tc, "ZB01")
        ledger.create_request(a, request_input(1, 1))
        bk = backup_db(a, tmp_path / "a.bak")
        got: dict[str, Any] = {}
        th = threading.Thread(target=lambda: got.update(C.run_sync(a, http=Held(), sleep=lambda s: None)))
        th.start()
        try:
            inside.wait()  # the sync is talking to the hub: it holds the lock
            with pytest.raises(SyncError) as exp:
                B.export_bundle(a, tmp_path / "usb" / "up.zip")
            with pytest.raises(SyncError) as imp:
                B.import_bundle(a, tmp_path / "none.zip")
            with pytest.raises(SyncLockError) as rst:
                restore_db(bk, a)
        finally:
            go_on.set()
            th.join()
        assert {exp.value.code, imp.value.code, rst.value.code} == {"sync_running"}
        assert exp.value.exit_code == imp.value.exit_code == rst.value.exit_code == 1
        assert got["pushed"] >= 1 and got["acked"] == got["pushed"] and got["pending"] == 0  # 4.
    finally:
        tc.close()
        dispose_all()
        hub.dispose()


def test_the_clock_ahead_refusal_has_its_own_code_from_one_home() -> None:
    from qi_station.sync.proto import SyncError, refusal_code

    assert refusal_code("rule", {"rule": "clock_ahead"}) == "clock_ahead"
    assert refusal_code("rule", {"rule": "max_length"}) == "rule"  # any other rule as the hub says it
    assert refusal_code("forbidden", {"rule": "clock_ahead"}) == "forbidden"
    e = SyncError(422, "rule", "refused", rule="clock_ahead", oseq=3)
    assert (e.code, e.to_dict()["error"], e.exit_code) == ("clock_ahead", "clock_ahead", 2)


def test_a_sync_counts_what_the_hub_acknowledged_of_a_batch_it_took_in_part(db: Path) -> None:
    from qi_station.sync.proto import SyncError
    from qi_station.sync.station import apply as S
    from qi_station.sync.station.client import push_all

    for i in range(3):
        ledger.create_request(db, request_input(i, i))
    conn = S.open_conn(db)
    try:
        batch_top = max(c["oseq"] for c in S.next_batch(conn, 10_000))

        class Hub:
            def push(self, batch: list[dict[str, Any]], *a: Any, **kw: Any) -> dict[str, Any]:
                return {"acked_oseq": batch[1]["oseq"]}  # the first two only

        tally = {"acked": 0}
        with pytest.raises(SyncError) as ei:
            push_all(conn, Hub(), tally=tally)  # type: ignore[arg-type]
        assert ei.value.code == "not_acked" and batch_top > 2
        assert tally["acked"] == 2
    finally:
        conn.close()


def test_a_validation_message_does_not_repeat_its_field(db: Path) -> None:
    from qi_station.core.errors import ValidationError

    e = ValidationError("received_at", "not_future", "received_at is in the future / 时间不能晚于现在")
    assert e.message == "is in the future / 时间不能晚于现在"
    assert str(e) == "received_at: is in the future / 时间不能晚于现在"
    assert ValidationError("title", "required", "title: is required").message == "is required"
    kept = ValidationError("name", "unique", "张三 is already on the staff list")  # not its field
    assert kept.message == "张三 is already on the staff list"
    r = cli(
        "--db", str(db), "request", "add", "--enterprise", "甲公司", "--uscc", "91370100MA3C5LRL1B",
        "--elements", "标准", "--title", "t", "--received-at", "2099-01-01 10:00",
    )  # fmt: skip
    assert r.returncode == 2 and "error: received_at: is in the future" in r.stderr, r.stderr
