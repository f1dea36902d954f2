"""A wrong 收费金额 is corrected by a ``correct`` event of field ``fee`` (not only by reopen + resolve,
which counts as 重新办理): the money rule of the resolution (``core.validate.parse_cost``), the same
event as other corrections (hash-chained, verified, synced), and every figure reads the fee through
``core.chain.request_fee`` (detail, CLI, report 明细 and the charged figure)."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_core_cli import run
from test_report_fee import RESOLVE, _to_resolved, month_db  # noqa: F401 - fixture
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures shared with the hub tests
from test_sync_util import request_input

from qi_station.core import validate as v
from qi_station.core.chain import request_fee
from qi_station.core.errors import ValidationError
from qi_station.services import ledger, queries
from qi_station.services.corrections import correct_request
from qi_station.services.verify import verify_ledger


def _events(db: Path) -> int:
    c = sqlite3.connect(db)
    try:
        return int(c.execute("SELECT count(*) FROM request_event").fetchone()[0])
    finally:
        c.close()


def test_core_rule_of_a_fee_correction() -> None:
    assert v.parse_correction("fee", "12.5", "resolved") == "12.50"
    assert v.parse_correction("fee", "１，２００．５", "closed") == "1200.50"  # as typed with an IME
    assert v.parse_correction("fee", "0", "closed") == "0.00"  # the service was free after all
    for value, status, field, rule in (
        ("1.001", "closed", "value", "decimals"),
        ("-1", "closed", "value", "non_negative"),
        ("abc", "closed", "value", "number"),
        ("", "closed", "value", "required"),
        ("10", "in_progress", "field", "correctable_now"),
    ):
        with pytest.raises(ValidationError) as e:
            v.parse_correction("fee", value, status)
        assert (e.value.field, e.value.rule) == (field, rule), value
    v.check_correct_event("closed", "closed", "多收", {"field": "fee", "old": "800.00", "new": "700.00"})
    with pytest.raises(ValidationError):
        v.check_correct_event("closed", "closed", "多收", {"field": "fee", "old": "800.00", "new": "700"})

    def ev(kind: str, to: str | None, data: Any, fs: str | None = None) -> dict[str, Any]:
        return {"kind": kind, "from_status": fs, "to_status": to, "data": data}

    paid = ev("status", "resolved", {"charged": True, "fee": "800"}, "in_progress")
    fix = ev("correct", "resolved", {"field": "fee", "old": "800.00", "new": "700.00"})
    assert request_fee([paid, fix]) == Decimal("700.00")
    assert request_fee([paid, ev("correct", "resolved", json.dumps({"field": "fee", "new": "0.00"}))]) == 0
    # a reopen clears it, and the next resolution records its own
    again = ev("status", "resolved", {"charged": False}, "in_progress")
    assert request_fee([paid, fix, ev("status", "in_progress", {}, "resolved")]) is None
    assert request_fee([paid, fix, ev("status", "in_progress", {}, "resolved"), again]) == 0


def test_a_fee_is_corrected_by_a_correct_event(month_db: Any) -> None:  # noqa: F811
    db, rs = month_db
    b = rs["B"]
    got = correct_request(db, b["number"], "fee", "300", "多收了检测费 / overcharged")
    assert (got["field"], got["old"], got["new"]) == ("fee", "350.50", "300.00")
    d = queries.get_request(db, b["id"])
    assert d["fee_yuan"] == "300.00" and d["status"] == "resolved"
    fix = d["events"][-1]
    assert (fix["kind"], fix["from_status"], fix["to_status"]) == ("correct", "resolved", "resolved")
    assert fix["data"] == {"field": "fee", "old": "350.50", "new": "300.00"}
    resolution = next(e for e in d["events"] if e["to_status"] == "resolved" and e["kind"] == "status")
    assert resolution["corrected_by"] == fix["n"]  # the resolution stays, marked as corrected
    assert d["ledger_ok"] and verify_ledger(db)["ok"]
    # it travels to the hub like any correction: the event and the row (its s_rev bumped)
    c = sqlite3.connect(db)
    rows = c.execute("SELECT table_name, row_json FROM outbox ORDER BY oseq DESC LIMIT 2").fetchall()
    c.close()
    assert [t for t, _ in rows] == ["request", "request_event"]
    assert json.loads(rows[0][1])["s_rev"] == d["s_rev"] == fix["n"]
    # a free service found charged, and back: 0 is "not charged"
    assert correct_request(db, rs["C"]["id"], "fee", "50", "漏记收费")["old"] == "0.00"
    assert queries.get_request(db, rs["C"]["id"])["fee_yuan"] == "50.00"


def test_a_refused_fee_correction_writes_nothing(month_db: Any) -> None:  # noqa: F811
    db, rs = month_db
    before = _events(db)
    for key, value, reason, field, rule in (
        ("B", "3.505", "x", "value", "decimals"),
        ("B", "350.5", "x", "value", "unchanged"),
        ("B", "300", " ", "reason", "required"),
        ("F", "300", "x", "field", "correctable_now"),  # never resolved: no fee to correct
        ("D", "300", "x", "field", "correctable_now"),  # reopened
    ):
        with pytest.raises(ValidationError) as e:
            correct_request(db, rs[key]["id"], "fee", value, reason)
        assert (e.value.field, e.value.rule) == (field, rule), (key, value)
    assert _events(db) == before


def test_the_report_follows_a_fee_correction(month_db: Any) -> None:  # noqa: F811
    """明细 and the charged figure: B 350.50 -> 300, C free -> 50 (charged: one more, 0.50 less),
    A (resolved in December, closed in January: not a January resolution) 800 -> 700 in 明细 only."""
    from qi_station.reports.figures import monthly_report

    db, rs = month_db
    before = monthly_report(db, "2026-01")
    correct_request(db, rs["B"]["id"], "fee", "300", "多收")
    correct_request(db, rs["C"]["id"], "fee", "50", "漏记")
    correct_request(db, rs["A"]["id"], "fee", "700", "多收")
    correct_request(db, rs["A"]["id"], "result", "已办结（复核）", "补记")  # another field: fee kept
    after = monthly_report(db, "2026-01")
    fees = {d["number"]: d["fee_yuan"] for d in after["details"]}
    assert fees[rs["B"]["number"]] == 300.0 and fees[rs["C"]["number"]] == 50.0
    assert fees[rs["A"]["number"]] == 700.0 and fees[rs["E"]["number"]] == 120.25
    assert after["charged"]["count"] == before["charged"]["count"] + 1
    assert round(after["charged"]["fee_yuan"] - before["charged"]["fee_yuan"], 2) == -0.5


def test_ledger_verify_checks_the_old_fee(month_db: Any) -> None:  # noqa: F811
    """A fee correction that misstates the fee it corrected (old 1.00 where the resolution charged
    350.50) is reported."""
    from test_corrections import forge_correction

    db, rs = month_db
    forge_correction(db, rs["B"]["id"], "resolved", {"field": "fee", "new": "300.00", "old": "1.00"})
    res = verify_ledger(db)
    assert not res["ok"] and "correct_old" in res["problems"][0]["problems"][0]


def test_cli_request_correct_fee(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    run(db, "init", "--station-code", "JN-GX01", "--station-name", "济南高新区工作站", "--region", "370100")
    out = run(
        db, "request", "add", "--enterprise", "济南示例机械有限公司", "--uscc", "91350100M000100Y43",
        "--elements", "计量", "--title", "校准", "--json",
    )  # fmt: skip
    num = json.loads(out.stdout)["number"]
    run(db, "request", "move", num, "accepted")
    run(db, "request", "move", num, "in_progress")
    run(db, "request", "move", num, "resolved", "--result", "完成", "--problems-solved", "1", "--fee", "800")
    p = run(db, "request", "correct", num, "--field", "fee", "--value", "8OO", "--reason", "多收", ok=False)
    assert p.returncode == 2 and "value" in p.stderr and "number" in p.stderr
    p = run(db, "request", "correct", num, "--field", "fee", "--value", "700", "--reason", "多收")
    assert "800.00 -> 700.00" in p.stdout
    assert json.loads(run(db, "request", "show", num, "--json").stdout)["fee_yuan"] == 700.0
    assert "台账完整" in run(db, "ledger", "verify").stdout


def test_the_hub_takes_a_fee_correction(env: Any) -> None:  # noqa: F811
    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    _to_resolved(a, r, charged=True, fee="800")
    correct_request(a, r["id"], "fee", "700", "多收")
    assert sync(a, tc)["pending"] == 0
    assert hub.verify()["ok"]
    assert RESOLVE  # the resolution's fields (shared with test_report_fee)
