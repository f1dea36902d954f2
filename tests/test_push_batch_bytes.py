"""A push batch is cut by bytes as well as by count (``apply.next_batch``): long texts cannot make a batch
the hub's body cap (``guard.MAX_PUSH_BODY``) refuses, and the cut still ends a ledger transaction."""

from __future__ import annotations

import json
from pathlib import Path

from test_sync_util import request_input

from qi_station.services import ledger
from qi_station.services.station import init_station
from qi_station.sync.hub.guard import MAX_PUSH_BODY
from qi_station.sync.proto import PUSH_BATCH, PUSH_BYTES
from qi_station.sync.station import apply as S

BOUNDARY = ("request", "enterprise", "activity")


def _station(db: Path, n: int, text: str) -> None:
    init_station(db, code="ZB01")
    for i in range(n):
        inp = request_input(i, i % 3)
        inp.description = f"{text}{i}"
        ledger.create_request(db, inp)


def test_batch_is_cut_by_bytes_at_a_transaction_end(db: Path) -> None:
    _station(db, 8, "长" * 3000)  # ~9 KB of row JSON per request
    conn = S.open_conn(db)
    try:
        S.fix_oseq(conn)
        all_oseq = [r[0] for r in conn.execute("SELECT oseq FROM outbox ORDER BY oseq")]
        whole = S.next_batch(conn, 1000, max_bytes=10**9)
        assert [c["oseq"] for c in whole] == all_oseq  # by count alone: everything in one batch
        got: list[int] = []
        sizes = []
        while batch := S.next_batch(conn, 1000, max_bytes=20_000):
            assert batch[-1]["table"] in BOUNDARY  # a whole transaction, never half of one
            got += [c["oseq"] for c in batch]
            sizes.append(len(json.dumps(batch, ensure_ascii=False).encode("utf-8")))
            S.ack(conn, batch[-1]["oseq"])
        assert got == all_oseq  # every change once, in order
        assert len(sizes) > 2 and max(sizes) <= 20_000 + 2 * 10_000  # cut near the cap, a group whole
    finally:
        conn.close()


def test_one_transaction_above_the_cap_travels_whole(db: Path) -> None:
    _station(db, 2, "长" * 3000)
    conn = S.open_conn(db)
    try:
        S.fix_oseq(conn)
        first = S.next_batch(conn, 1000, max_bytes=10)
        assert first and first[-1]["table"] in BOUNDARY
        assert not any(c["table"] in BOUNDARY for c in first[:-1])  # exactly the first transaction
    finally:
        conn.close()


def test_the_default_caps_fit_the_hub_body_cap() -> None:
    # the longest batch by count still has to be cut well below what the hub takes
    assert PUSH_BATCH >= 2000 and PUSH_BYTES * 3 <= MAX_PUSH_BODY
