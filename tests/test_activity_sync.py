"""Activities, rectify records and charges travel to the hub like the ledger (issue 10, item 4): the hub
applies the same core rules (``core.activity``, ``core.rectify``) and its report counts them. On SQLite and
PostgreSQL (the ``env`` fixture of test_sync_hub)."""

from __future__ import annotations

from typing import Any

import pytest
from test_hub_rules import outbox_batch, push, tamper
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures shared with the hub tests
from test_sync_util import hub_requests, request_input

from qi_station.core.errors import ValidationError
from qi_station.services import ledger
from qi_station.services.activity import add_activity, list_activities

NOW = "2026-01-20T10:00:00+08:00"
ACT = {"kind": "training", "date": "2026-01-12", "enterprises": 12, "people": 30, "title": "计量培训"}


def _rated(db: Any, i: int, rating: int) -> dict[str, Any]:
    r = ledger.create_request(db, request_input(i, i))
    for st, kw in (
        ("accepted", {}),
        ("in_progress", {}),
        ("resolved", {"result": "已办结", "problems_solved": 1, "charged": True, "fee": "350.50"}),
        ("closed", {"satisfaction": rating}),
    ):
        ledger.move_request(db, r["id"], st, **kw)
    return r


def _hub_rows(hub: Any, sql: str) -> list[tuple[Any, ...]]:
    import sqlalchemy as sa

    with hub.engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(sql))]


def test_activity_rectify_and_charge_reach_the_hub(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from qi_station.reports.figures import monthly_report

    monkeypatch.setenv("QI_STATION_NOW", NOW)
    hub, tc, dbs = env
    a = dbs["ZB01"]
    add_activity(a, ACT)
    r = _rated(a, 1, 2)
    ev = ledger.rectify_request(a, r["number"], "重新检测并回访", by="李四")
    assert ev["kind"] == "rectify" and ev["note"] == "重新检测并回访"
    assert sync(a, tc)["pending"] == 0
    assert _hub_rows(hub, "SELECT station_code, kind, enterprises, people FROM activity") == [
        ("ZB01", "training", 12, 30)
    ]
    assert _hub_rows(hub, "SELECT kind, actor FROM request_event WHERE kind = 'rectify'")[0][0] == "rectify"
    assert hub_requests(hub)[r["id"]]["satisfaction"] == 2
    rep = monthly_report(hub.url, "2026-01", hub=True)
    assert rep["activities"]["training"] == {"count": 1, "enterprises": 12, "people": 30}
    assert rep["charged"] == {"count": 1, "fee_yuan": 350.5}
    assert rep["rectification"]["rectified"] == 1 and rep["rectification"]["open_count"] == 0
    own = monthly_report(a, "2026-01")
    for k in ("activities", "charged", "rectification", "on_time", "satisfaction_levels"):
        assert own[k] == rep[k], k


@pytest.mark.parametrize(
    ("table", "changes", "field", "rule"),
    [
        ("activity", {"people": -1}, "people", "non_negative"),
        ("activity", {"kind": "party"}, "kind", "choice"),
        ("activity", {"title": ""}, "title", "required"),
        ("request_event", {"data": '{"by": "x"}'}, "data", "required"),
    ],
)
def test_the_hub_refuses_a_bad_activity_or_rectify_record(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    table: str,
    changes: dict[str, Any],
    field: str,
    rule: str,
) -> None:
    monkeypatch.setenv("QI_STATION_NOW", NOW)
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = _rated(a, 1, 1)
    assert sync(a, tc)["pending"] == 0
    if table == "activity":
        add_activity(a, ACT)
    else:
        ledger.rectify_request(a, r["id"], "整改", by="李四")
    batch = outbox_batch(a)
    if table == "request_event":
        batch = [ch for ch in batch if ch["table"] == table and ch["row"]["kind"] == "rectify"]
    bad, oseq = tamper(batch, table, **changes)
    resp = push(tc, a, bad)
    assert resp.status_code == 422, resp.text
    d = resp.json()
    assert (d["oseq"], d["table"], d["field"], d["rule"]) == (oseq, table, field, rule), d
    assert _hub_rows(hub, "SELECT COUNT(*) FROM activity")[0][0] == 0
    assert sync(a, tc)["pending"] == 0  # the real outbox goes through


def test_station_rules(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused inputs write nothing: a rectify of a request not rated low, a fee without a charge, an
    activity with a bad date or count."""
    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station

    monkeypatch.setenv("QI_STATION_NOW", NOW)
    db = tmp_path / "s.db"
    open_db(db)
    init_station(db, code="QI0001", name="站", region_code="370100")
    good = _rated(db, 1, 4)
    with pytest.raises(ValidationError) as e:
        ledger.rectify_request(db, good["id"], "整改")
    assert e.value.rule == "low_rating"
    with pytest.raises(ValidationError) as e:
        ledger.rectify_request(db, _rated(db, 2, 1)["id"], " ")
    assert (e.value.field, e.value.rule) == ("action", "required")
    r = ledger.create_request(db, request_input(3, 3))
    for st in ("accepted", "in_progress"):
        ledger.move_request(db, r["id"], st)
    for kw, rule in (
        ({"charged": False, "fee": "10"}, "not_charged"),
        ({"charged": True}, "required"),
        ({"fee": "-1"}, "non_negative"),
        ({"fee": "1.234"}, "decimals"),
    ):
        with pytest.raises(ValidationError) as e:
            ledger.move_request(db, r["id"], "resolved", result="好", problems_solved=1, **kw)
        assert (e.value.field, e.value.rule) == ("fee", rule), kw
    with pytest.raises(ValidationError) as e:
        ledger.move_request(db, r["id"], "waiting", charged=True, fee="5")
    assert (e.value.field, e.value.rule) == ("fee", "only_on_resolve")
    for bad, fld in (
        ({"date": "2026-13-01"}, "date"),
        ({"enterprises": "x"}, "enterprises"),
        ({"people": None}, "people"),
    ):
        with pytest.raises(ValidationError) as e:
            add_activity(db, {**ACT, **bad})
        assert e.value.field == fld
    assert list_activities(db) == []
    ledger.move_request(
        db, r["id"], "resolved", result="好", problems_solved=1
    )  # not charged: free, the default
    events = ledger_events(db, r["id"])
    assert events[-1]["data"] == {
        "charged": False,
        "cost_saved": "0.00",
        "fee": "0.00",
        "problems_solved": 1,
        "result": "好",
    }


def ledger_events(db: Any, key: str) -> list[dict[str, Any]]:
    from qi_station.services.queries import get_request

    return list(get_request(db, key)["events"])


def test_cli(tmp_path: Any) -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    cli_env = {
        **os.environ,
        "QI_STATION_DB": str(tmp_path / "s.db"),
        "QI_STATION_NOW": NOW,
        "QI_STATION_OPERATOR": "王五",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qi_station", *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=cli_env,
            cwd=tmp_path,
            timeout=120,
        )

    assert (
        cli("init", "--station-code", "QI0001", "--station-name", "站", "--region", "370100").returncode == 0
    )
    p = cli(
        "activity",
        "add",
        "--kind",
        "visit",
        "--date",
        "2026-01-10",
        "--enterprises",
        "5",
        "--people",
        "8",
        "--title",
        "走访园区",
    )
    assert p.returncode == 0 and "走访" in p.stdout, p.stderr
    p = cli(
        "activity",
        "add",
        "--kind",
        "visit",
        "--date",
        "2026-01-10",
        "--enterprises",
        "-5",
        "--people",
        "8",
        "--title",
        "x",
    )
    assert p.returncode == 2 and "enterprises" in p.stderr
    rows = json.loads(cli("activity", "list", "--month", "2026-01", "--json").stdout)
    assert [(r["kind"], r["enterprises"], r["people"], r["actor"]) for r in rows] == [("visit", 5, 8, "王五")]
    assert json.loads(cli("activity", "list", "--month", "2026-02", "--json").stdout) == []
    from qi_station.core.validate import uscc_check_char

    code = "91370100MA3C00001" + uscc_check_char("91370100MA3C00001")
    p = cli(
        "request",
        "add",
        "--enterprise",
        "甲公司",
        "--uscc",
        code,
        "--elements",
        "标准",
        "--title",
        "咨询",
        "--json",
    )
    assert p.returncode == 0, p.stderr
    num = json.loads(p.stdout)["number"]
    for st in ("accepted", "in_progress"):
        assert cli("request", "move", num, st).returncode == 0
    p = cli(
        "request",
        "move",
        num,
        "resolved",
        "--result",
        "已办",
        "--problems-solved",
        "1",
        "--charged",
        "--fee",
        "1200",
        "--json",
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["events"][-1]["data"]["fee"] == "1200.00"
    p = cli("request", "rectify", num, "--action", "整改")
    assert p.returncode == 2 and "satisfaction" in p.stderr  # not closed with a low rating
    assert cli("request", "move", num, "closed", "--satisfaction", "2").returncode == 0
    p = cli("request", "rectify", num, "--action", "上门复核", "--by", "张三", "--json")
    assert p.returncode == 0, p.stderr
    ev = json.loads(p.stdout)
    assert ev["kind"] == "rectify" and json.loads(ev["data"]) == {"action": "上门复核", "by": "张三"}
    rep = json.loads(cli("report", "monthly", "--month", "2026-01", "--format", "json").stdout)
    assert rep["charged"] == {"count": 1, "fee_yuan": 1200.0}
    assert rep["rectification"]["rectified"] == 1 and rep["activities"]["visit"]["people"] == 8
    assert cli("ledger", "verify").returncode == 0


def test_a_lost_station_gets_its_activities_and_rectify_records_back(
    env: Any,  # noqa: F811
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Re-enrolled on a fresh database, the station restores its own activities (the hub's restore serves
    the ``activity`` table by station) and its rectify events with the rest of its ledger."""
    from qi_station.db.session import dispose_all
    from qi_station.sync.station import client as C

    monkeypatch.setenv("QI_STATION_NOW", NOW)
    hub, tc, dbs = env
    db = dbs["QD02"]
    add_activity(db, ACT)
    r = _rated(db, 1, 2)
    ledger.rectify_request(db, r["id"], "整改", by="李四")
    assert sync(db, tc)["pending"] == 0
    dispose_all()
    for f in tmp_path.glob("QD02.db*"):
        f.unlink()
    tok = hub.add_station("QD02", "青岛", reissue=True)["token"]
    got = C.enroll(db, tok, "http://testserver", http=tc)
    assert got["restored"]["activity"] == 1, got
    assert [(a["kind"], a["people"]) for a in list_activities(db)] == [("training", 30)]
    assert [e["kind"] for e in ledger_events(db, r["id"])][-1] == "rectify"
    assert sync(db, tc)["pending"] == 0


def test_the_hub_refuses_a_rectify_record_on_a_request_not_rated_low(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A station that wrote a rectify event past its own rule (satisfaction 4): the hub applies the core's
    rule to the request as it holds it, refuses the batch and writes nothing."""
    import sqlite3

    from qi_station.db import write as w

    monkeypatch.setenv("QI_STATION_NOW", NOW)
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = _rated(a, 1, 4)
    assert sync(a, tc)["pending"] == 0
    conn = sqlite3.connect(a)
    with conn:
        ev = w.append_event(
            conn,
            r["id"],
            "ZB01",
            at="2026-01-20 02:00:00.000000",
            actor="x",
            kind="rectify",
            from_status="closed",
            to_status="closed",
            note="整改",
            data={"action": "整改", "by": "x"},
        )
    conn.close()
    batch = outbox_batch(a)
    resp = push(tc, a, batch)
    assert resp.status_code == 422, resp.text
    d = resp.json()
    assert (d["table"], d["field"], d["rule"]) == ("request_event", "kind", "low_rating"), d
    assert _hub_rows(hub, f"SELECT COUNT(*) FROM request_event WHERE id = '{ev['id']}'")[0][0] == 0


@pytest.mark.parametrize("split", [False, True], ids=["one-sync", "rectify-synced-first"])
def test_a_rating_corrected_after_its_rectification_still_syncs(
    env: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    split: bool,
) -> None:
    """An operator's day: rated 2, rectified, then the rating corrected to 3 (a typo at the follow-up).
    The station allows it; the hub judges the rectify record by the request as it stood when the record
    was written (rated 2), not after the correction, so the station's ledger reaches the hub."""
    from qi_station.services.corrections import correct_request

    monkeypatch.setenv("QI_STATION_NOW", NOW)
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = _rated(a, 1, 2)
    ledger.rectify_request(a, r["id"], "重新检测并回访", by="李四")
    if split:
        assert sync(a, tc)["pending"] == 0
    correct_request(a, r["id"], "satisfaction", "3", "回访时误选 / typo at the follow-up")
    assert sync(a, tc)["pending"] == 0
    assert hub_requests(hub)[r["id"]]["satisfaction"] == 3
    kinds = _hub_rows(hub, f"SELECT kind FROM request_event WHERE request_id = '{r['id']}' ORDER BY n")
    assert [k[0] for k in kinds][-2:] == ["rectify", "correct"]


@pytest.mark.parametrize(
    "hub_url", ["sqlite"], indirect=True
)  # the old copy is taken with SQLite's backup API
def test_a_hub_restored_from_an_old_copy_gets_the_activities_again(
    env: Any,  # noqa: F811
    tmp_path: Any,
    hub_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pathlib import Path

    from test_sync_heal import sqlite_copy

    monkeypatch.setenv("QI_STATION_NOW", NOW)
    hub, tc, dbs = env
    hub_db = Path(hub_url.removeprefix("sqlite:///"))
    db = dbs["ZB01"]
    ledger.create_request(db, request_input(1, 1))
    assert sync(db, tc)["pending"] == 0
    sqlite_copy(hub_db, tmp_path / "hub-old.db")
    add_activity(db, ACT)
    assert sync(db, tc)["pending"] == 0
    sqlite_copy(tmp_path / "hub-old.db", hub_db)  # the hub is put back to the old copy
    assert _hub_rows(hub, "SELECT COUNT(*) FROM activity")[0][0] == 0
    ledger.create_request(db, request_input(2, 2))
    res = sync(db, tc)
    assert res["pending"] == 0 and res["healed"][0]["kind"] == "hub_behind"
    assert _hub_rows(hub, "SELECT kind, people FROM activity") == [("training", 30)]
