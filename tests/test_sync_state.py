"""Convergence: a hypothesis state machine with the hub and 3 stations.

Random station edits (through the ledger), hub library edits and assignments, pushes whose request or
reply is lost or duplicated, paged pulls that crash before commit, USB bundles delivered, delivered
twice, lost, tampered and reordered. Invariants hold at every step; after healing everything converges
with nothing lost and nothing duplicated. QI_SYNC_EXAMPLES raises the example count (default 200).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from test_sync_util import (
    checkpoint,
    enroll_station,
    hub_requests,
    library,
    request_input,
    rows,
    station_requests,
)

from qi_station.core import domain
from qi_station.core.chain import verify_chain
from qi_station.core.errors import ValidationError
from qi_station.db import secrets
from qi_station.db.write import EVENT_COLUMNS
from qi_station.services import ledger
from qi_station.sync.proto import LIBRARY_TABLES, SyncError
from qi_station.sync.station import apply as S
from qi_station.sync.station import bundles as B

CODES = ("ZB01", "QD02", "YT03")
EXAMPLES = int(os.environ.get("QI_SYNC_EXAMPLES", "200"))
_TEMPLATE: dict[str, Any] = {}


def template() -> dict[str, Any]:
    """A migrated hub with a small library and 3 enrolled stations, built once and copied per example."""
    if _TEMPLATE:
        return _TEMPLATE
    from fastapi.testclient import TestClient

    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub

    d = Path(tempfile.mkdtemp(prefix="qi_sync_tpl_"))
    hub = Hub(f"sqlite:///{d / 'hub.db'}")
    hub.init(demo=False)
    hub.upsert_library(
        [("expert", {"id": f"x{i}", "name": f"专家{i}"}) for i in range(3)]
        + [("institution", {"id": "i0", "name": "计量院"})]
    )
    tc = TestClient(create_app(hub.url))
    for code in CODES:
        enroll_station(d / f"{code}.db", hub, tc, code)
        ledger.create_request(d / f"{code}.db", request_input(0, 0))  # warms pypinyin, gives each one request
    tc.close()
    dispose_all()
    hub.dispose()
    for f in ("hub.db", *(f"{c}.db" for c in CODES)):
        checkpoint(d / f)
    # the stations' secrets files live under the config dir of the test that made the template: keep them
    _TEMPLATE.update(dir=d, secrets={c: secrets.load(d / f"{c}.db") for c in CODES})
    return _TEMPLATE


def wire(obj: Any) -> Any:
    return json.loads(json.dumps(obj, ensure_ascii=False))


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        from qi_station.sync.hub.store import Hub

        tpl = template()
        self.dir = Path(tempfile.mkdtemp(prefix="qi_sync_ex_"))
        for f in ("hub.db", *(f"{c}.db" for c in CODES)):
            shutil.copyfile(tpl["dir"] / f, self.dir / f)
        for c in CODES:  # the same stations: their secrets files (kept by database path) come along
            secrets.save(self.dir / f"{c}.db", **tpl["secrets"][c])
        self.hub = Hub(f"sqlite:///{self.dir / 'hub.db'}")
        self.db = {c: self.dir / f"{c}.db" for c in CODES}
        self.conn = {c: S.open_conn(self.db[c]) for c in CODES}
        self.created: dict[str, set[str]] = {
            c: {r[0] for r in rows(self.db[c], "SELECT id FROM request")} for c in CODES
        }
        self.assigned: dict[str, str | None] = {}
        self.cursor = {c: 0 for c in CODES}
        self.ups: list[tuple[str, Path]] = []
        self.downs: list[tuple[str, Path]] = []
        self.n = 0

    # -- helpers -------------------------------------------------------------------------------
    def station_dict(self, code: str) -> dict[str, Any]:
        return self.hub.station_by_token(S.api_token(self.conn[code]))

    def hub_push(self, code: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
        return wire(self.hub.push(self.station_dict(code), wire(batch)))

    def fname(self, kind: str) -> Path:
        self.n += 1
        return self.dir / f"{kind}{self.n}.zip"

    def tamper(self, f: Path) -> Path:
        with zipfile.ZipFile(f) as z:
            parts = {n: z.read(n) for n in z.namelist()}
        body = bytearray(parts["changes.jsonl"] or b"{}")
        body[len(body) // 2] ^= 0x01
        parts["changes.jsonl"] = bytes(body)
        out = self.fname("tampered")
        with zipfile.ZipFile(out, "w") as z:
            for n, d in parts.items():
                z.writestr(n, d)
        return out

    def hub_state(self) -> Any:
        return (hub_requests(self.hub), {t: library(self.hub, t) for t in LIBRARY_TABLES})

    # -- station edits -------------------------------------------------------------------------
    @rule(s=st.sampled_from(CODES), ent=st.integers(0, 3))
    def create(self, s: str, ent: int) -> None:
        self.n += 1
        r = ledger.create_request(self.db[s], request_input(self.n, ent))
        self.created[s].add(r["id"])

    @rule(s=st.sampled_from(CODES), data=st.data())
    def move(self, s: str, data: Any) -> None:
        reqs = rows(self.db[s], "SELECT id, status FROM request ORDER BY id")
        rid, status = data.draw(st.sampled_from(reqs))
        nxt = sorted(domain.TRANSITIONS[status])
        if not nxt:
            return
        to = data.draw(st.sampled_from(nxt))
        kw: dict[str, Any] = {}
        if to == "resolved":
            kw = {"result": "已解决", "problems_solved": 1, "cost_saved": "1.5"}
        if to == "closed":
            kw = {"satisfaction": 5}
        if to == "cancelled":
            kw = {"note": "企业撤回"}  # a cancellation says why (validate.check_cancel_reason)
        ledger.move_request(self.db[s], rid, to, **kw)

    # -- hub edits -----------------------------------------------------------------------------
    @rule(
        i=st.integers(0, 5), name=st.sampled_from(["张三", "李四", "单县王五", "曾工"]), delete=st.booleans()
    )
    def hub_library(self, i: int, name: str, delete: bool) -> None:
        if delete:
            self.hub.delete_library("expert", [f"x{i}"])
        else:
            self.hub.upsert_library([("expert", {"id": f"x{i}", "name": f"{name}{i}"})])

    @rule(data=st.data(), expert=st.sampled_from(["x0", "x1", "x2", ""]), move=st.booleans())
    def hub_assign(self, data: Any, expert: str, move: bool) -> None:
        reqs = sorted(hub_requests(self.hub).values(), key=lambda r: r["id"])
        if not reqs:
            return
        r = data.draw(st.sampled_from(reqs))
        status = None
        if move and domain.TRANSITIONS[r["status"]]:
            status = data.draw(
                st.sampled_from(sorted(domain.TRANSITIONS[r["status"]] - {"resolved", "closed"}) or ["x"])
            )
            status = None if status == "x" else status
        if expert and expert not in hub_library_ids(self.hub):
            with pytest.raises(ValidationError) as e:  # an expert no longer in the library is refused
                self.hub.assign(r["id"], expert_id=expert, status=status)
            assert e.value.rule == "unknown_expert"
            return
        self.hub.assign(r["id"], expert_id=expert, status=status)
        self.assigned[r["id"]] = expert or None

    # -- HTTP-like exchanges (the same apply functions; faults in the transport) ----------------
    @rule(
        s=st.sampled_from(CODES),
        size=st.integers(1, 12),
        fault=st.sampled_from(["none", "drop_request", "drop_response", "duplicate"]),
    )
    def push(self, s: str, size: int, fault: str) -> None:
        conn = self.conn[s]
        S.fix_oseq(conn)
        batch = S.next_batch(conn, size)
        if not batch or fault == "drop_request":
            return
        reply = self.hub_push(s, batch)
        if fault == "duplicate":
            reply = self.hub_push(s, batch)
        if fault != "drop_response":
            S.ack(conn, reply["acked_oseq"])

    @rule()
    def hub_purge(self) -> None:  # every tombstone is past the horizon: stations behind it get 410
        self.hub.purge_tombstones(days=0)

    def fetch_page(self, s: str, size: int) -> dict[str, Any] | None:
        """One pull page, as run_sync does: a 410 starts a snapshot resync (mark, then pages from 0)."""
        conn = self.conn[s]
        resync = S.resyncing(conn)
        cur = S.kv_int(conn, "resync_cursor" if resync else "pull_cursor")
        try:
            return wire(self.hub.pull(self.station_dict(s), cur, size, resync=resync))  # type: ignore[no-any-return]
        except SyncError as e:
            assert e.code == "resync_required" and not resync
            S.start_resync(conn)
            return None

    @rule(s=st.sampled_from(CODES), size=st.integers(1, 7), crash=st.booleans())
    def pull(self, s: str, size: int, crash: bool) -> None:
        conn = self.conn[s]
        page = self.fetch_page(s, size)
        if page is None:
            return
        if crash:  # the process dies after applying, before COMMIT
            conn.execute("BEGIN IMMEDIATE")
            S.apply_tables(conn, page["tables"])
            S.kv_set(conn, "pull_cursor", page["next"])
            conn.execute("ROLLBACK")
        else:
            S.apply_page(conn, page, acked=page["acked_oseq"])

    # -- bundles -------------------------------------------------------------------------------
    @rule(s=st.sampled_from(CODES))
    def export_up(self, s: str) -> None:
        f = self.fname("up")
        B.export_bundle(self.db[s], f)
        self.ups.append((s, f))

    @rule(data=st.data(), mode=st.sampled_from(["deliver", "twice", "lose", "tamper", "keep"]))
    @precondition(lambda self: bool(self.ups))
    def carry_up(self, data: Any, mode: str) -> None:
        i = data.draw(st.integers(0, len(self.ups) - 1))  # any order: reordering
        _s, f = self.ups[i]
        if mode == "tamper":
            before = self.hub_state()
            with pytest.raises(SyncError):
                self.hub.import_bundle(self.tamper(f))
            assert self.hub_state() == before
            return
        if mode != "keep":
            self.ups.pop(i)
        if mode in ("deliver", "twice", "keep"):
            self.hub.import_bundle(f)
        if mode == "twice":
            assert self.hub.import_bundle(f)["status"] == "already_imported"

    @rule(s=st.sampled_from(CODES))
    def export_down(self, s: str) -> None:
        f = self.fname("down")
        self.hub.export_bundle(s, f)
        self.downs.append((s, f))

    @rule(data=st.data(), mode=st.sampled_from(["deliver", "twice", "lose", "tamper"]))
    @precondition(lambda self: bool(self.downs))
    def carry_down(self, data: Any, mode: str) -> None:
        i = data.draw(st.integers(0, len(self.downs) - 1))
        s, f = self.downs[i]
        if mode == "tamper":
            before = (
                station_requests(self.db[s]),
                library(self.db[s]),
                S.kv_int(self.conn[s], "pull_cursor"),
            )
            with pytest.raises(SyncError):
                B.import_bundle(self.db[s], self.tamper(f))
            assert (
                station_requests(self.db[s]),
                library(self.db[s]),
                S.kv_int(self.conn[s], "pull_cursor"),
            ) == before
            return
        self.downs.pop(i)
        if mode in ("deliver", "twice"):
            B.import_bundle(self.db[s], f)
        if mode == "twice":
            assert B.import_bundle(self.db[s], f)["status"] == "stale"

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def acks_and_cursors(self) -> None:
        hubst = {x["code"]: x for x in self.hub.stations()}
        head = int(self.hub.read_changes("-", 0, 1)["head"])
        for c in CODES:
            conn = self.conn[c]
            assert S.kv_int(conn, "acked_oseq") <= hubst[c]["acked_oseq"]
            cur = S.kv_int(conn, "pull_cursor")
            assert self.cursor[c] <= cur <= head  # monotonic, never ahead of the hub
            self.cursor[c] = cur
            # read-your-writes: everything this station created is still here, once
            assert {r[0] for r in rows(self.db[c], "SELECT id FROM request")} == self.created[c]

    @invariant()
    def hub_has_no_strangers(self) -> None:
        hr = hub_requests(self.hub)
        everything = set().union(*self.created.values())
        assert set(hr) <= everything
        for rid, r in hr.items():
            assert rid in self.created[r["station_code"]]

    def teardown(self) -> None:
        try:
            self.heal_and_check()
        finally:
            for c in self.conn.values():
                c.close()
            from qi_station.db.session import dispose_all

            dispose_all()
            self.hub.dispose()
            shutil.rmtree(self.dir, ignore_errors=True)

    def heal_and_check(self) -> None:
        for _ in range(2):
            for c in CODES:
                conn = self.conn[c]
                S.fix_oseq(conn)
                while batch := S.next_batch(conn, 50):
                    S.ack(conn, self.hub_push(c, batch)["acked_oseq"])
                while True:
                    page = self.fetch_page(c, 50)
                    if page is None:
                        continue
                    S.apply_page(conn, page, acked=page["acked_oseq"])
                    if not page["more"]:
                        break
                assert not S.resyncing(conn)
        hr = hub_requests(self.hub)
        hub_lib = {t: library(self.hub, t) for t in LIBRARY_TABLES}
        for c in CODES:
            assert S.pending(self.conn[c]) == 0
            loc = station_requests(self.db[c])
            mine = {k: v for k, v in hr.items() if v["station_code"] == c}
            assert set(mine) == set(loc) == self.created[c]  # nothing lost, nothing duplicated
            for rid, r in loc.items():
                h = {k: v for k, v in mine[rid].items() if k != "seq"}
                lr = {k: v for k, v in r.items() if k != "seq"}
                h["deleted"] = int(bool(h["deleted"]))
                assert lr == h, rid
                if rid in self.assigned:
                    assert r["hub_expert_id"] == self.assigned[rid]
            ev_local = {r[0]: r[1] for r in rows(self.db[c], "SELECT id, hash FROM request_event")}
            import sqlalchemy as sa

            with self.hub.engine.connect() as hc:
                ev_hub = {
                    r[0]: r[1]
                    for r in hc.execute(
                        sa.text(
                            "SELECT e.id, e.hash FROM request_event e JOIN request r ON r.id = e.request_id "
                            "WHERE r.station_code = :c"
                        ),
                        {"c": c},
                    )
                }
            assert ev_local == ev_hub
            check_chains(self.db[c], self.hub, loc)
            for t in LIBRARY_TABLES:
                assert library(self.db[c], t) == hub_lib[t]


def check_chains(db: Path, hub: Any, loc: dict[str, dict[str, Any]]) -> None:
    """Every request's hash chain verifies on both sides and is the same chain; every hub change the
    station adopted is in it as a ``hub`` event (the last one carries the final h_rev)."""
    import sqlalchemy as sa

    cols = EVENT_COLUMNS
    by_req: dict[str, list[dict[str, Any]]] = {}
    for r in rows(db, f"SELECT {', '.join(cols)} FROM request_event ORDER BY request_id, n"):
        by_req.setdefault(r[1], []).append(dict(zip(cols, r, strict=True)))
    with hub.engine.connect() as hc:
        hub_chain: dict[str, list[str]] = {}
        for r in hc.execute(
            sa.text(
                "SELECT e.request_id, e.hash, e.n, e.at, e.actor, e.kind, e.from_status, "
                "e.to_status, e.note, e.data, e.prev_hash FROM request_event e "
                "WHERE e.request_id IN (SELECT id FROM request) ORDER BY e.request_id, e.n"
            )
        ):
            hub_chain.setdefault(r[0], []).append(r[1])
            if r[0] in loc:
                assert r[2] == len(hub_chain[r[0]])
    for rid, req in loc.items():
        evs = by_req.get(rid, [])
        assert verify_chain(evs) == (True, None), rid
        assert hub_chain.get(rid) == [e["hash"] for e in evs], rid
        hub_evs = [e for e in evs if e["kind"] == "hub"]
        if req["h_rev"]:
            assert hub_evs, rid
            assert json.loads(hub_evs[-1]["data"])["h_rev"] == req["h_rev"], rid
        else:
            assert not hub_evs
        if hub_evs and json.loads(hub_evs[-1]["data"]).get("adopted"):
            assert hub_evs[-1]["to_status"] == json.loads(hub_evs[-1]["data"])["hub_status"]


SyncMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=14,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
TestSyncConvergence = SyncMachine.TestCase


def test_library_row_recreated_after_its_tombstone_was_purged_reaches_the_station() -> None:
    """Found by the state machine: a station holds a tombstone (rev 2); the hub purges it and re-creates
    the row (rev 1 again, a newer seq). The station must take the newer hub write."""
    state = SyncMachine()
    try:
        state.export_up(s="ZB01")
        state.hub_library(delete=True, i=1, name="张三")
        state.pull(crash=False, s="ZB01", size=4)
        state.hub_purge()
        state.hub_library(delete=False, i=1, name="张三")
    finally:
        state.teardown()  # heals and checks every station's library equals the hub's


def hub_library_ids(hub: Any) -> set[str]:
    """The experts in the hub's library (not deleted)."""
    with hub.engine.connect() as c:
        return {r[0] for r in c.execute(sa.text("SELECT id FROM expert WHERE NOT deleted"))}
