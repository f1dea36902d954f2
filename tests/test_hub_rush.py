"""The hub's fast push and pull paths (issue 13) give what the slower ones gave: the same bundles pushed
through today's ``apply_push`` and through the frozen one from before (``hub_push_reference.py``) leave
the same hub, on SQLite and on PostgreSQL; a replay changes nothing; a rewritten event is refused; the
pull page PostgreSQL builds as JSON is the page the Python path builds."""

from __future__ import annotations

import copy
import json
import random
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hub_push_reference import ReferenceHub, old_check_row, old_coerce_row
from test_sync_util import pg_available, pg_create, pg_drop, request_input

from qi_station.sync.proto import SyncError

PG = pg_available()
CORE = ("enterprise", "request", "request_event", "referral", "activity")


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: Any, tmp_path: Path) -> Any:
    """Two empty hub databases of one backend: today's push and the reference."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
        return
    if not PG:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    made = [pg_create(), pg_create()]
    try:
        yield tuple(made)
    finally:
        from qi_station.sync.hub.store import Hub

        for u in made:
            Hub(u).dispose()
            pg_drop(u)


def station_outbox(tmp_path: Path, code: str) -> tuple[Path, list[dict[str, Any]]]:
    """A station with generated requests queued as for a first sync, then ledger work on top (new
    requests moved along: later changes of rows earlier in the outbox). Its whole outbox, in order."""
    from qi_station.db.engine import open_db
    from qi_station.devtools.generate.run import generate
    from qi_station.services import ledger
    from qi_station.services.station import init_station
    from qi_station.sync.station import apply as S
    from qi_station.sync.station.heal import resend_all

    db = tmp_path / f"{code}.db"
    init_station(open_db(db), code=code)
    generate(db, requests=40, library=0, seed=7)
    conn = S.open_conn(db)
    try:
        resend_all(conn, 0)
        conn.execute("DELETE FROM kv WHERE k IN ('resync', 'resync_cursor')")
        conn.commit()
    finally:
        conn.close()
    for i in range(12):
        r = ledger.create_request(db, request_input(i, i % 3))
        if i % 2:
            ledger.move_request(db, r["id"], "accepted")
        if i % 4 == 1:
            ledger.move_request(db, r["id"], "in_progress")
    return db, outbox(db)


def outbox(db: Path) -> list[dict[str, Any]]:
    from qi_station.sync.station import apply as S

    conn = S.open_conn(db)
    try:
        return [
            {"oseq": o, "table": t, "op": op, "row": json.loads(r), "hlc": h}
            for o, t, op, r, h in conn.execute(
                "SELECT oseq, table_name, op, row_json, hlc FROM outbox ORDER BY oseq"
            )
        ]
    finally:
        conn.close()


def dump(hub: Any) -> dict[str, Any]:
    """Every synced table of the hub (seq included), its conflicts and its stations' acks."""
    import sqlalchemy as sa

    from qi_station.sync.hub.tables import core_table, norm_value

    out: dict[str, Any] = {}
    with hub.engine.connect() as c:
        for t in CORE:
            tt = core_table(t)
            out[t] = [
                {k: norm_value(v) for k, v in r.items()}
                for r in c.execute(sa.select(tt).order_by(tt.c.id)).mappings()
            ]
        out["conflicts"] = sorted(
            c.execute(sa.text("SELECT table_name, row_id, kind, detail FROM sync_conflict")).all()
        )
        out["stations"] = sorted(c.execute(sa.text("SELECT code, acked_oseq FROM hub_station")).all())
    return out


def push_all(hub: Any, code: str, changes: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """Push in batches cut the way the station cuts them (``apply.next_batch``: after the last request,
    enterprise or activity row, so an event travels with its request)."""
    replies = []
    i = 0
    while i < len(changes):
        b = changes[i : i + size]
        if len(b) == size:
            cut = max(k for k, c in enumerate(b) if c["table"] in ("request", "enterprise", "activity"))
            b = b[: cut + 1]
        replies.append(hub.push({"code": code}, copy.deepcopy(b)))
        i += len(b)
    return replies


def two_hubs(urls: tuple[str, str]) -> tuple[Any, Any]:
    from qi_station.sync.hub.store import Hub

    new, ref = Hub(urls[0]), ReferenceHub(urls[1])
    for h in (new, ref):
        h.init(demo=False)
        h.add_station("RA01", "甲站")
    return new, ref


def test_batched_push_leaves_the_hub_the_reference_left(urls: Any, tmp_path: Path) -> None:
    new, ref = two_hubs(urls)
    db, changes = station_outbox(tmp_path, "RA01")
    assert len(changes) > 250 and {c["table"] for c in changes} >= {"enterprise", "request", "request_event"}
    got = push_all(new, "RA01", changes, 37)  # odd batch sizes: a row and its later changes split apart
    want = push_all(ref, "RA01", changes, 37)
    assert got == want
    assert dump(new) == dump(ref)
    assert len(dump(new)["request"]) == 52
    # a second round of work on the same rows: updates of rows the hub holds
    from qi_station.services import ledger

    for r in list(dump(new)["request"])[:52]:
        if r["status"] == "accepted" and r["number"].startswith("RA01"):
            ledger.move_request(db, r["id"], "in_progress")
    more = [c for c in outbox(db) if c["oseq"] > changes[-1]["oseq"]]
    assert more
    assert push_all(new, "RA01", more, 500) == push_all(ref, "RA01", more, 500)
    assert dump(new) == dump(ref)


def test_replay_is_idempotent_and_a_rewrite_is_refused(urls: Any, tmp_path: Path) -> None:
    new, _ref = two_hubs(urls)
    _db, changes = station_outbox(tmp_path, "RA01")
    push_all(new, "RA01", changes, 500)
    before = dump(new)
    again = push_all(new, "RA01", changes, 500)  # the station lost our replies and sends it all again
    assert all(r["applied"] == 0 for r in again)
    assert {x["status"] for r in again for x in r["results"]} == {"duplicate"}
    assert dump(new) == before
    last = changes[-1]["oseq"]
    ev = copy.deepcopy(next(c for c in changes if c["table"] == "request_event"))
    ev["oseq"] = last + 1
    ev["row"]["note"] = "改写"  # the same event, rewritten: its hash no longer verifies
    with pytest.raises(SyncError) as e:
        new.push({"code": "RA01"}, [ev])
    assert e.value.code == "bad_event"
    same = copy.deepcopy(next(c for c in changes if c["table"] == "request_event"))
    same["oseq"] = last + 1  # the same event again under a new number: held once, not twice
    with pytest.raises(SyncError) as e:
        new.push({"code": "RA01"}, [same, copy.deepcopy(same)])
    assert e.value.code == "bad_batch"
    assert new.push({"code": "RA01"}, [same])["results"] == [{"oseq": last + 1, "status": "duplicate"}]
    after = dump(new)
    assert after["request_event"] == before["request_event"]
    assert dump(new)["stations"] == [("RA01", last + 1)]


def test_a_refused_batch_writes_nothing_on_the_fast_path(urls: Any, tmp_path: Path) -> None:
    new, ref = two_hubs(urls)
    _db, changes = station_outbox(tmp_path, "RA01")
    end = max(k for k, c in enumerate(changes[:300]) if c["table"] == "request")
    bad = copy.deepcopy(changes[: end + 1])
    req = next(c for c in bad[150:] if c["table"] == "request")
    req["row"]["title"] = "坏\x07标题"  # a control character: the core's clean_text rule
    for h in (new, ref):
        with pytest.raises(SyncError) as e:
            h.push({"code": "RA01"}, copy.deepcopy(bad))
        assert (e.value.code, e.value.data.get("field"), e.value.data.get("rule")) == (
            "rule",
            "title",
            "control_char",
        )
    assert dump(new) == dump(ref)
    assert dump(new)["request"] == [] and dump(new)["stations"] == [("RA01", 0)]


def _values(rng: random.Random) -> list[Any]:
    long = "长" * 2500
    return [
        None,
        "",
        "abc",
        "a\x00b",
        "2026-03-20 09:30:00.000000",
        "2026-03-20T09:30:00+08:00",
        "1899-01-01 00:00:00",
        "2026-03-20",
        "3-20",
        "是",
        " true ",
        "12",
        "-5",
        "99999999999",
        0,
        1,
        2,
        -(2**31),
        2**31,
        True,
        False,
        1.0,
        1.5,
        long,
        "正常文字",
        "带\x07控制",
        [1],
        {"a": 1},
        rng.randint(-10, 10),
    ]


def _outcome(f: Any) -> Any:
    try:
        return ("ok", f())
    except SyncError as e:
        return ("refused", e.status, e.code, e.message, e.data)


def test_coerce_and_row_rules_answer_as_before() -> None:
    """Every column of every synced table, with ordinary and odd values: today's coerce_row and
    check_row give the value or the refusal the reference gave."""
    from qi_station.sync.hub import rules
    from qi_station.sync.hub.tables import coerce_row, core_table

    rng = random.Random(13)
    vals = _values(rng)
    for t in CORE:
        cols = [c.key for c in core_table(t).columns]
        for _ in range(400):
            row: dict[str, Any] = {"id": "x-1"}
            for col in rng.sample(cols, k=min(len(cols), rng.randint(1, 8))):
                row[col] = rng.choice(vals)
            if rng.random() < 0.1:
                row["not_a_column"] = 1
            a = _outcome(lambda r=row, t=t: coerce_row(t, r, strict=True))
            b = _outcome(lambda r=row, t=t: old_coerce_row(t, r, strict=True))
            assert a == b, (t, row)
            if a[0] == "ok":
                coerced = a[1]
                x = _outcome(lambda r=coerced, t=t: rules.check_row(5, t, dict(r), "RA01"))
                y = _outcome(lambda r=coerced, t=t: old_check_row(5, t, dict(r), "RA01"))
                x2 = _outcome(lambda r=coerced, t=t: rules.check_row(5, t, dict(r), "RA01"))  # memo warm
                assert x == y == x2, (t, coerced)
    assert isinstance(
        coerce_row("request", {"id": "r", "received_at": "2026-01-02 03:04:05"})["received_at"], datetime
    )
    assert isinstance(
        coerce_row("request", {"id": "r", "promised_date": "2026-01-02"})["promised_date"], date
    )


def test_pull_page_json_is_the_python_page(urls: Any, tmp_path: Path) -> None:
    """The page PostgreSQL (or SQLite) writes as JSON is the page built row by row in Python."""
    new, _ref = two_hubs(urls)
    new.upsert_library(
        [
            ("expert", {"id": "e-1", "name": "张三", "employer": "山东大学"}),
            ("institution", {"id": "i-1", "name": "计量院", "cma_expiry": "2027-01-01"}),
            ("equipment", {"id": "q-1", "name": "三坐标", "shared": True, "fee": 300}),
            (
                "project",
                {"id": "p-1", "name": '试点"引号"\\', "description": '多行\n说明\t"引号"', "year": 2025},
            ),
        ]
    )
    _db, changes = station_outbox(tmp_path, "RA01")
    push_all(new, "RA01", changes, 500)
    new.assign(dump(new)["request"][0]["id"], expert_id="e-1", note="省局指派", priority="high")
    st = {"id": None, "code": "RA01", "acked_oseq": changes[-1]["oseq"]}
    import sqlalchemy as sa

    with new.engine.connect() as c:
        st["id"] = c.execute(sa.text("SELECT id FROM hub_station WHERE code = 'RA01'")).scalar()
    for since, limit in ((0, 5000), (0, 7), (3, 20)):
        fast = json.loads(new.pull_json(st, since, limit))
        slow = json.loads(json.dumps(new.pull(st, since, limit), ensure_ascii=False, default=str))
        assert fast["tables"] == slow["tables"] and fast["next"] == slow["next"]
        assert fast["more"] == slow["more"]
    assert fast["tables"]  # something was compared


def rollup_rows(hub: Any) -> list[tuple[Any, ...]]:
    """The hub's month rollup, all-zero rows left out (they say nothing)."""
    import sqlalchemy as sa

    from qi_station.db import rollup

    cols = ", ".join((*rollup.KEY, *rollup.VALUES))
    with hub.engine.connect() as c:
        rows = c.execute(sa.text(f"SELECT {cols} FROM {rollup.TABLE} ORDER BY {', '.join(rollup.KEY)}"))
        return [tuple(r) for r in rows if any(r[len(rollup.KEY) :])]


def test_batched_push_keeps_the_rollup_a_rebuild_computes(urls: Any, tmp_path: Path) -> None:
    """The push keeps the month rollup once per batch (``rollup.held``): after batches of odd sizes, and
    a second round of moves through resolution and closing (later changes of rows the hub holds), the
    rollup is the one the per-row triggers keep (the reference hub) and the one ``hub report rebuild``
    computes; the hold is gone once each push commits, so a plain write is counted again."""
    import sqlalchemy as sa

    from qi_station.reports.ledger import rebuild_rollup
    from qi_station.services import ledger

    new, ref = two_hubs(urls)
    db, changes = station_outbox(tmp_path, "RA01")
    push_all(new, "RA01", changes, 37)
    push_all(ref, "RA01", changes, 37)
    assert rollup_rows(new) == rollup_rows(ref) and rollup_rows(new)
    moved = 0
    for r in dump(new)["request"]:
        if r["status"] in ("accepted", "in_progress"):
            if r["status"] == "accepted":
                ledger.move_request(db, r["id"], "in_progress")
            ledger.move_request(
                db, r["id"], "resolved", result="已解决", problems_solved=2, cost_saved="1.25"
            )
            if moved % 2:
                ledger.move_request(db, r["id"], "closed", satisfaction=4)
            moved += 1
    assert moved >= 3
    more = [c for c in outbox(db) if c["oseq"] > changes[-1]["oseq"]]
    push_all(new, "RA01", more, 11)
    push_all(ref, "RA01", more, 11)
    kept = rollup_rows(new)
    assert kept == rollup_rows(ref)
    with new.engine.connect() as c:
        if new.is_sqlite:
            assert c.execute(sa.text("SELECT COUNT(*) FROM report_month_hold")).scalar() == 0
        else:
            assert c.execute(sa.text("SELECT current_setting('qi.bulk', true)")).scalar() in (None, "")
    url = new.url
    new.dispose()
    assert rebuild_rollup(url)["changed"] == 0
    # the triggers are live again: a request written around the push is counted
    rid = dump(ref)["request"][0]["id"]
    with new.engine.begin() as c:
        c.execute(sa.text("UPDATE request SET deleted = true WHERE id = :i"), {"i": rid})
    assert rollup_rows(new) != kept
    assert rebuild_rollup(url)["changed"] == 0
