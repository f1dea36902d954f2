"""What the outside testers found after the issue 9, 10 and 12 merges, each fixed where the rule lives:
another station's rows are never written at a station; a spreadsheet import keeps the rename rule;
``--operator`` signs activities and imports; an indicator formula can never crash a report or write
NaN; ``hub verify`` is not alarmed by a revoke; a replayed older down bundle is stale, not "the hub is
behind"."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_import import ROW1, USCC_A, counts, gbk_csv
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import hub_requests, request_input, rows, station_requests

from qi_station.core.errors import ValidationError
from qi_station.services import ledger
from qi_station.sync.proto import SyncError
from qi_station.sync.station import bundles as B
from qi_station.sync.station import client as C

_ = (env, hub_url)


def test_a_restore_that_brings_another_stations_rows_writes_nothing(env: Any) -> None:  # noqa: F811
    from qi_station.db import secrets

    hub, tc, dbs = env
    a, b = dbs["ZB01"], dbs["QD02"]
    ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    ledger.create_request(b, request_input(2, 2))
    sync(b, tc)
    before = station_requests(b)
    secrets.save(b, api_token=secrets.load(a)["api_token"])  # A's token copied onto B's PC
    c = sqlite3.connect(b)
    c.execute(
        "INSERT OR REPLACE INTO kv (k, v) VALUES ('restore_pending', '1')"
    )  # B rebuilds from "its" rows
    c.commit()
    c.close()
    with pytest.raises(SyncError) as e:
        sync(b, tc)
    # A's token with B's key: the signed restore call is refused at the hub's door (it used to be
    # answered and refused at B as wrong_station); either way nothing of A's reaches B
    assert e.value.code == "bad_call_signature"
    assert station_requests(b) == before  # nothing of A's was written at B
    assert {r[0] for r in rows(b, "SELECT DISTINCT station_code FROM request")} == {"QD02"}


def test_import_keeps_the_rename_rule(db: Path, tmp_path: Path) -> None:
    from qi_station.services.importer import ImportRefused, import_ledger
    from qi_station.services.ledger import RequestInput, create_request

    create_request(db, RequestInput(enterprise="甲公司", uscc=USCC_A, elements="计量", title="先登记"))
    before = counts(db)
    f = gbk_csv(tmp_path / "台账.csv", ROW1)  # USCC_A as 济南测试机械有限公司: another name
    with pytest.raises(ImportRefused) as e:
        import_ledger(db, f, dry_run=True)
    assert [(r["row"], r["field"], r["rule"]) for r in e.value.summary["refused"]] == [
        (2, "enterprise", "renamed")
    ]
    two = gbk_csv(
        tmp_path / "两名.csv", ROW1, ROW1.replace("1,济南测试机械有限公司", "2,济南另一个名称有限公司")
    )
    with pytest.raises(ImportRefused) as e:
        import_ledger(db, two)
    assert {r["rule"] for r in e.value.summary["refused"]} == {"renamed"}
    assert counts(db) == before  # nothing written


def test_operator_signs_activities_and_imports(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qi_station.services.activity import add_activity
    from qi_station.services.importer import import_ledger
    from qi_station.services.staff import add_staff

    monkeypatch.delenv("QI_STATION_OPERATOR", raising=False)
    add_staff(db, "王站长", "站长")
    add_staff(db, "李娜", "质量管家")
    act = {"kind": "visit", "date": "2026-11-20", "enterprises": 2, "people": 5, "title": "走访"}
    with pytest.raises(ValidationError) as e:
        add_activity(db, act)  # two staff and nobody named: say who
    assert e.value.field == "operator" and e.value.rule == "choose"
    assert add_activity(db, act, actor="李娜")["actor"] == "李娜"
    f = gbk_csv(tmp_path / "台账.csv", ROW1)
    with pytest.raises(ValidationError):  # the dry run says what the real run says
        import_ledger(db, f, dry_run=True)
    assert import_ledger(db, f, operator="王站长")["imported"] == 1


def test_an_indicator_formula_never_crashes_a_report_or_writes_nan() -> None:
    from qi_station.reports.indicators import evaluate, parse_formula

    with pytest.raises(ValidationError) as e:
        parse_formula("9" * 400 + " * received")
    assert e.value.rule == "formula"
    with pytest.raises(ValidationError):
        parse_formula("1e999 - 1e999")
    huge = "*".join(["1e12"] * 30)
    assert evaluate(parse_formula(f"{huge} - {huge}"), {}) is None  # inf - inf: no value, not NaN
    assert json.dumps({"v": evaluate(parse_formula(f"{huge} / 3"), {})}) == '{"v": null}'


def test_hub_verify_after_a_revoke(env: Any) -> None:  # noqa: F811
    hub, tc, dbs = env
    a = dbs["ZB01"]
    ledger.create_request(a, request_input(1, 1))
    sync(a, tc)
    assert hub.verify()["ok"]
    hub.revoke_station("ZB01")
    got = hub.verify()
    assert got["ok"], got  # the retired key is not a broken ledger
    assert {h["station"]: h.get("signature") for h in got["heads"]}["ZB01"] == "key retired (revoked)"


def test_a_replayed_older_down_bundle_is_stale(env: Any, tmp_path: Path) -> None:  # noqa: F811
    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station

    hub, _tc, _dbs = env
    db, d = tmp_path / "RP01.db", tmp_path / "usb"
    d.mkdir()
    init_station(open_db(db), code="RP01")
    C.enroll(db, hub.add_station("RP01", "重放站")["token"])
    old = hub.export_bundle("RP01", d / "old.zip")
    B.import_bundle(db, old["file"])
    ledger.create_request(db, request_input(1))
    hub.import_bundle(B.export_bundle(db, d)["file"])
    new = hub.export_bundle("RP01", d / "new.zip")
    assert B.import_bundle(db, new["file"])["pending"] == 0
    again = B.import_bundle(db, old["file"])  # the older bundle, replayed
    assert again["status"] == "stale" and "resent" not in again
    assert rows(db, "SELECT COUNT(*) FROM outbox")[0][0] == 0  # nothing queued again
    assert set(hub_requests(hub)) == set(station_requests(db))


def test_the_fee_of_a_resolution_is_shown(db: Path) -> None:
    import subprocess
    import sys

    from qi_station.services.ledger import RequestInput, create_request, move_request

    r = create_request(db, RequestInput(enterprise="甲公司", uscc=USCC_A, elements="计量", title="校准"))
    for st in ("accepted", "in_progress"):
        move_request(db, r["id"], st)
    move_request(db, r["id"], "resolved", result="已校准", problems_solved=1, charged=True, fee="800")
    p = subprocess.run(
        [sys.executable, "-m", "qi_station", "--db", str(db), "request", "show", r["number"]],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert "收费金额（元）: 800.00" in p.stdout
