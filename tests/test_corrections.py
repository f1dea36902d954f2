"""Corrections in an append-only ledger (issue 9): a ``correct`` event for a mistaken outcome or
follow-up; the original event stays; the row, ``ledger verify``, the hub and the report use the
corrected value; only a 站长 may correct on a station that keeps a staff list."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_core_cli import run
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures shared with the hub tests
from test_sync_util import hub_requests, request_input

from qi_station.core import validate as v
from qi_station.core.chain import event_fields, event_hash
from qi_station.core.errors import ValidationError
from qi_station.services import ledger, queries, staff
from qi_station.services.corrections import correct_request
from qi_station.services.verify import verify_ledger


def _closed(db: Path, i: int = 1, sat: int = 1, at: str | None = None, **resolve: Any) -> dict[str, Any]:
    r = ledger.create_request(db, request_input(i, i, f"咨询{i}"))
    for s in ("accepted", "in_progress"):
        ledger.move_request(db, r["id"], s)
    out = {"result": "已解决", "problems_solved": 2, "cost_saved": "1.50", **resolve}
    ledger.move_request(db, r["id"], "resolved", **out)
    ledger.move_request(db, r["id"], "closed", satisfaction=sat, note="对服务满意")
    return r


def _counts(db: Path) -> tuple[int, int, int]:
    c = sqlite3.connect(db)
    try:
        return tuple(
            c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("request_event", "outbox", "kv")
        )  # type: ignore[return-value]
    finally:
        c.close()


def test_core_rules_for_a_correction() -> None:
    assert v.parse_correction("satisfaction", "4", "closed") == 4
    assert v.parse_correction("satisfaction", "满意", "closed") == 4
    assert v.parse_correction("cost_saved", "3.5", "resolved") == "3.50"
    assert v.parse_correction("problems_solved", 0, "closed") == 0
    for field, value, status, rule in (
        ("satisfaction", "6", "closed", "range_1_5"),
        ("satisfaction", "", "closed", "required"),
        ("satisfaction", "4", "resolved", "correctable_now"),  # no follow-up yet: nothing to correct
        ("title", "x", "closed", "correctable"),
        ("cost_saved", "1.001", "closed", "decimals"),
        ("problems_solved", "-1", "closed", "non_negative"),
    ):
        with pytest.raises(ValidationError) as e:
            v.parse_correction(field, value, status)
        assert e.value.rule == rule, (field, value)
    with pytest.raises(ValidationError) as e:
        v.check_reason("  ")
    assert (e.value.field, e.value.rule) == ("reason", "required")
    ok = {"field": "satisfaction", "old": 1, "new": 4}
    v.check_correct_event("closed", "closed", "误选", ok)
    for frm, to, note, data in (
        ("closed", "in_progress", "误选", ok),
        ("closed", "closed", "", ok),
        ("closed", "closed", "误选", {**ok, "new": "4"}),  # not the stored form
        ("closed", "closed", "误选", {**ok, "new": 9}),
        ("closed", "closed", "误选", {"field": "status", "new": "new"}),
    ):
        with pytest.raises(ValidationError):
            v.check_correct_event(frm, to, note, data)


def test_a_closed_request_is_corrected_and_the_original_stays(db: Path) -> None:
    r = _closed(db, sat=1)
    got = correct_request(db, r["number"], "satisfaction", "4", "回访时误选，企业原话“对服务满意”")
    assert (got["old"], got["new"], got["n"]) == (1, 4, 6)
    d = queries.get_request(db, r["number"])
    assert (d["status"], d["satisfaction"], d["s_rev"]) == ("closed", 4, 6)
    close, fix = d["events"][4], d["events"][5]
    # the original follow-up is still there as it was, marked as corrected by event 6
    assert (close["to_status"], close["data"], close["corrected_by"]) == ("closed", {"satisfaction": 1}, 6)
    assert (fix["kind"], fix["from_status"], fix["to_status"]) == ("correct", "closed", "closed")
    assert fix["data"] == {"field": "satisfaction", "old": 1, "new": 4}
    assert fix["note"].startswith("回访时误选") and fix["actor"] == "测试员" and fix["corrected_by"] is None
    assert d["ledger_ok"] and verify_ledger(db)["ok"]
    # the corrected row travels to the hub with its event
    c = sqlite3.connect(db)
    rows = c.execute("SELECT table_name, row_json FROM outbox ORDER BY oseq DESC LIMIT 2").fetchall()
    c.close()
    assert [t for t, _ in rows] == ["request", "request_event"]
    assert json.loads(rows[0][1])["satisfaction"] == 4

    # outcome fields too (cost as 万元 text in the event, hundredths in the row)
    got = correct_request(db, r["id"], "cost_saved", "3", "漏记检测费")
    assert (got["old"], got["new"]) == ("1.50", "3.00")
    assert queries.get_request(db, r["id"])["cost_saved_wan"] == "3.00"
    assert verify_ledger(db)["ok"]


def test_a_refused_correction_writes_nothing(db: Path) -> None:
    r = _closed(db, sat=5)
    before = _counts(db)
    for field, value, reason, rule in (
        ("satisfaction", "0", "x", "range_1_5"),
        ("satisfaction", "5", "x", "unchanged"),
        ("satisfaction", "4", "", "required"),
        ("number", "1", "x", "correctable"),
    ):
        with pytest.raises(ValidationError) as e:
            correct_request(db, r["id"], field, value, reason)
        assert e.value.rule == rule
    open_ = ledger.create_request(db, request_input(9, 9))
    with pytest.raises(ValidationError) as e:
        correct_request(db, open_["id"], "result", "x", "y")
    assert e.value.rule == "correctable_now"
    assert _counts(db)[0] == before[0] + 1  # only the new request's own event


def test_only_a_head_of_station_may_correct_or_cancel(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = _closed(db, sat=1)
    other = ledger.create_request(db, request_input(2, 2))
    staff.add_staff(db, "王站长", "站长")
    staff.add_staff(db, "李专员", "服务专员")
    before = _counts(db)
    with pytest.raises(ValidationError) as e:
        correct_request(db, r["id"], "satisfaction", "4", "误选", actor="李专员")
    assert (e.value.field, e.value.rule) == ("operator", "head_only") and "站长" in e.value.message
    with pytest.raises(ValidationError) as e:
        ledger.move_request(db, other["id"], "cancelled", note="企业撤回", actor="李专员")
    assert e.value.rule == "head_only"
    assert _counts(db) == before
    ledger.move_request(db, other["id"], "accepted", actor="李专员")  # any other move: any staff member
    correct_request(db, r["id"], "satisfaction", "4", "误选", actor="王站长")
    ledger.move_request(db, other["id"], "cancelled", note="企业撤回", actor="王站长")
    evs = queries.get_request(db, other["id"])["events"]
    assert [e["actor"] for e in evs[1:]] == ["李专员", "王站长"]


def test_ledger_verify_checks_a_correction_by_the_core_rule(db: Path) -> None:
    """A correct event written behind the service's back (an out-of-range value, with a valid hash and the
    row to match) is reported, though its chain verifies."""
    r = _closed(db, sat=3)
    forge_correction(
        db, r["id"], "closed", {"field": "satisfaction", "new": 9, "old": 3}, "satisfaction = 9, "
    )
    res = verify_ledger(db)
    assert not res["ok"]
    assert "range_1_5" in res["problems"][0]["problems"][0]


def test_ledger_verify_checks_the_old_value_of_a_correction(db: Path) -> None:
    """A correction that misstates what it corrected (old 5 where the follow-up recorded 3) is reported."""
    r = _closed(db, sat=3)
    forge_correction(
        db, r["id"], "closed", {"field": "satisfaction", "new": 4, "old": 5}, "satisfaction = 4, "
    )
    res = verify_ledger(db)
    assert not res["ok"] and "correct_old" in res["problems"][0]["problems"][0]


def forge_correction(db: Path, rid: str, status: str, data: dict[str, Any], row_set: str = "") -> None:
    """A ``correct`` event written behind the service's back, with a valid hash and link (and the row
    changed by ``row_set``, SQL assignments ending in a comma, and its s_rev bumped)."""
    c = sqlite3.connect(db)
    c.row_factory = sqlite3.Row
    last = dict(
        c.execute("SELECT * FROM request_event WHERE request_id = ? ORDER BY n DESC", (rid,)).fetchone()
    )
    ev = {
        **{k: last[k] for k in ("request_id", "at", "actor")},
        "id": f"forged-{last['n'] + 1}",
        "n": last["n"] + 1,
        "kind": "correct",
        "from_status": status,
        "to_status": status,
        "note": "改",
        "data": json.dumps(data),
        "prev_hash": last["hash"],
    }
    ev["hash"] = event_hash(ev["prev_hash"], event_fields(ev))
    with c:
        c.execute(
            f"INSERT INTO request_event ({', '.join(ev)}) VALUES ({', '.join('?' * len(ev))})",
            tuple(ev.values()),
        )
        c.execute(f"UPDATE request SET {row_set}s_rev = s_rev + 1 WHERE id = ?", (rid,))
    c.close()


def test_the_report_uses_the_corrected_values(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hand-computed: two follow-ups in the month, rated 1 and 4 -> satisfied (3-5) 1 of 2, rate 0.5;
    problems solved 2 + 2 = 4; saved 1.50 + 1.50 = 3.00. After correcting the first to 4, 5 problems
    and 4.00 万元: satisfied 2 of 2, rate 1.0; problems 5 + 2 = 7; saved 4.00 + 1.50 = 5.50."""
    from qi_station.reports.figures import monthly_report

    monkeypatch.setenv("QI_STATION_NOW", "2026-03-20T10:00:00+08:00")
    a = _closed(db, 1, sat=1)
    _closed(db, 2, sat=4)
    before = monthly_report(db, "2026-03")
    assert before["satisfaction"] == {"rated": 2, "satisfied": 1, "rate": 0.5}
    assert (before["problems_solved"], before["cost_saved_wan"]) == (4, 3.0)
    monkeypatch.setenv("QI_STATION_NOW", "2026-03-21T10:00:00+08:00")
    correct_request(db, a["id"], "satisfaction", "4", "回访误选")
    correct_request(db, a["id"], "problems_solved", "5", "漏记")
    correct_request(db, a["id"], "cost_saved", "4", "漏记")
    after = monthly_report(db, "2026-03")
    assert after["satisfaction"] == {"rated": 2, "satisfied": 2, "rate": 1.0}
    assert (after["problems_solved"], after["cost_saved_wan"]) == (7, 5.5)
    assert after["closed"] == before["closed"] == 2 and after["resolved"] == 2  # a correction is no move


def test_cli_request_correct(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    run(db, "init", "--station-code", "JN-GX01", "--station-name", "济南高新区工作站", "--region", "370100")
    out = run(
        db,
        "request",
        "add",
        "--enterprise",
        "济南示例机械有限公司",
        "--uscc",
        "91350100M000100Y43",
        "--elements",
        "计量",
        "--title",
        "校准",
        "--json",
    )
    num = json.loads(out.stdout)["number"]
    run(db, "request", "move", num, "accepted")
    run(db, "request", "move", num, "in_progress")
    p = run(db, "request", "move", num, "resolved", "--result", "完成", ok=False)
    assert p.returncode == 2 and "problems_solved" in p.stderr and "解决问题数" in p.stderr
    run(db, "request", "move", num, "resolved", "--result", "完成", "--problems-solved", "1")
    run(db, "request", "move", num, "closed", "--satisfaction", "1")
    p = run(
        db, "request", "correct", num, "--field", "satisfaction", "--value", "4", "--reason", "", ok=False
    )
    assert p.returncode == 2 and "reason" in p.stderr
    p = run(db, "request", "correct", num, "--field", "satisfaction", "--value", "4", "--reason", "误选")
    assert "1 -> 4" in p.stdout
    show = run(db, "request", "show", num).stdout
    assert "满意度: 1 -> 4" in show and "已更正，见 #6" in show
    assert json.loads(run(db, "request", "show", num, "--json").stdout)["satisfaction"] == 4
    assert "台账完整" in run(db, "ledger", "verify").stdout


def test_the_hub_takes_a_correction_and_checks_it_by_the_core_rule(env: Any) -> None:  # noqa: F811
    from test_hub_rules import outbox_batch, push

    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = _closed(a, sat=1)
    correct_request(a, r["id"], "satisfaction", "4", "回访误选")
    assert sync(a, tc)["pending"] == 0
    assert hub_requests(hub)[r["id"]]["satisfaction"] == 4
    assert hub.verify()["ok"]
    # a forged correction (out of range, hash recomputed) is refused by the same rule, nothing written
    r2 = _closed(a, 2, sat=2)
    correct_request(a, r2["id"], "satisfaction", "3", "回访误选")
    batch = json.loads(json.dumps(outbox_batch(a)))
    fix = next(ch for ch in batch if ch["table"] == "request_event" and ch["row"]["kind"] == "correct")
    fix["row"]["data"] = json.dumps({"field": "satisfaction", "old": 2, "new": 9})
    fix["row"]["hash"] = event_hash(fix["row"]["prev_hash"], event_fields(fix["row"]))
    resp = push(tc, a, batch)
    assert resp.status_code == 422, resp.text
    d = resp.json()
    assert (d["oseq"], d["table"], d["field"], d["rule"]) == (
        fix["oseq"],
        "request_event",
        "data",
        "range_1_5",
    )
    assert r2["id"] not in hub_requests(hub)
    assert sync(a, tc)["pending"] == 0  # the real outbox goes through
    assert hub_requests(hub)[r2["id"]]["satisfaction"] == 3


def test_the_satisfaction_rule_reads_the_label_form_it_shows() -> None:
    from qi_station.core.errors import ValidationError
    from qi_station.core.validate import parse_satisfaction

    assert parse_satisfaction("2 不满意") == 2
    assert parse_satisfaction("满意") == 4 and parse_satisfaction("5 Very satisfied") == 5
    for bad in ("2 满意", "-l9", "6", "0 非常不满意"):
        with pytest.raises(ValidationError):
            parse_satisfaction(bad)


def test_a_corrected_cost_saved_shows_its_old_and_new_value(db: Path) -> None:
    """Testers corrected 节约成本 and could not find its old value in the history: the resolution's line
    (marked corrected) gives what it recorded, 节约成本 too (``i18n.event_detail``, the one text of
    ``request show`` and the detail screen), and the correction's line old -> new."""
    from typer.testing import CliRunner

    from qi_station.cli.commands import app
    from qi_station.i18n import event_detail

    r = _closed(db, cost_saved="1.50")
    correct_request(db, r["id"], "cost_saved", "2.8", "漏算检测费")
    out = CliRunner().invoke(app, ["--db", str(db), "request", "show", r["number"]]).output
    (resolved,) = [x for x in out.splitlines() if "->已办结" in x]
    assert "节约成本（万元）: 1.50" in resolved and "已更正，见 #6" in resolved, out
    (fix,) = [x for x in out.splitlines() if "更正 节约成本" in x]
    assert "节约成本（万元）: 1.50 -> 2.80" in fix, out
    data = {"result": "已解决", "problems_solved": 2, "cost_saved": "1.50"}
    assert event_detail("status", data, "en", outcome=True) == (
        "  [Result: 已解决; Problems solved: 2; Saved (10k CNY): 1.50]"
    )
