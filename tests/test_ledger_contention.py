"""Valid input is never refused for timing (issue 12 item 3): several processes writing notes, moves and
referrals on the same requests at once all succeed, and every request's hash chain verifies."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

from qi_station.core.chain import verify_chain
from qi_station.services import ledger, queries

USCC = "91350100M000100Y43"
ROUNDS = 12


def _writer(db: str, me: int, numbers: list[str], out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Process ``me`` owns the status of request ``me`` (so its own moves are always legal) and notes on
    every request; the last process also refers its own request while it is waiting (status kept)."""
    import os

    os.environ.pop("QI_STATION_NOW", None)
    refused: list[str] = []
    for i in range(ROUNDS):
        for n in numbers:
            try:
                ledger.add_note(Path(db), n, f"note {me}-{i}", actor=f"w{me}")
            except Exception as e:  # noqa: BLE001 - reported to the parent
                refused.append(f"note {n}: {e!r}")
        if me < len(numbers):
            to = "waiting" if i % 2 == 0 else "in_progress"
            try:
                ledger.move_request(Path(db), numbers[me], to, actor=f"w{me}")
                if to == "waiting" and i % 4 == 0:
                    # a new expert each time: the same target twice is refused (issue 9)
                    ledger.refer_request(Path(db), numbers[me], "expert", f"EXP-{i // 4}", actor=f"w{me}")
            except Exception as e:  # noqa: BLE001
                refused.append(f"move {numbers[me]}: {e!r}")
    out.put(refused)


def test_concurrent_writers_on_the_same_requests_are_never_refused(db: Path) -> None:
    numbers = []
    for k in range(2):
        r = ledger.create_request(
            db,
            ledger.RequestInput(
                enterprise="济南示例机械有限公司", uscc=USCC, elements="metrology", title=f"t{k}"
            ),
        )
        ledger.move_request(db, r["number"], "accepted")
        ledger.move_request(db, r["number"], "in_progress")
        numbers.append(r["number"])
    c = sqlite3.connect(db)
    for k in range(ROUNDS // 4):
        c.execute(
            "INSERT INTO expert (id, name, name_py, name_initials, haystack, city_code, elements, rev, seq, "
            "deleted, updated_at, active_requests) VALUES (?, '张工', 'zhanggong', 'zg', '张工', '370100', "
            "'[\"metrology\"]', 1, 0, 0, '2026-01-01 00:00:00.000000', 0)",
            (f"EXP-{k}",),
        )
    c.commit()
    c.close()

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(db), me, numbers, q)) for me in range(3)]
    for p in procs:
        p.start()
    refused = [x for _ in procs for x in q.get(timeout=300)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert refused == []

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        for n in numbers:
            full = queries.get_request(conn, n)
            assert full["ledger_ok"], n
            events = [
                dict(e)
                for e in conn.execute(
                    "SELECT * FROM request_event WHERE request_id = ? ORDER BY n", (full["id"],)
                )
            ]
            assert verify_chain(events) == (True, None)
            assert len(events) == 3 + 3 * ROUNDS + ROUNDS + ROUNDS // 4
            ats = [e["at"] for e in events]
            assert ats == sorted(ats)  # the ledger stays in time order
    finally:
        conn.close()
