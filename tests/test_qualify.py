"""Qualifications (issue 9, items 6 and 8): one rule for "valid for this element on this date", used by
the search filter, the suggestions, the referral, ``library expiring`` and the dashboard; the
referral's duplicate rule and the expert's computed load (在办)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from qi_station.core import qualify
from qi_station.core.errors import ValidationError
from qi_station.services import ledger

TODAY = date(2026, 6, 15)
NOW = "2026-06-15T10:00:00+08:00"
USCC = "91350100M000100Y43"

# id, name, city, elements, CMA expiry, CNAS expiry
INSTITUTIONS = [
    ("i-valid", "青岛有效检测院", "370200", ["testing"], "2030-01-01", None),
    ("i-soon", "青岛将到期检测院", "370200", ["testing"], "2026-07-01", None),
    # expired CMA, valid CNAS, same city and more elements: the old rule let it pass and rank first
    ("i-cnas", "济南过期检测院", "370100", ["testing", "metrology"], "2026-05-26", "2030-01-01"),
    ("i-none", "济南无证检测院", "370100", ["testing", "metrology"], None, None),
]


@pytest.fixture(autouse=True)
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", NOW)


def _seed(db: Path) -> None:
    from qi_station.db.engine import connect
    from qi_station.db.write import upsert_library_rows

    cols = ("id", "name", "name_py", "name_initials", "haystack", "city_code", "elements", "rev", "seq")
    cols += ("deleted", "updated_at", "cma_expiry", "cnas_expiry")
    rows = [
        {
            "id": i,
            "name": n,
            "city_code": c,
            "elements": el,
            "rev": 1,
            "seq": 0,
            "deleted": 0,
            "updated_at": "2026-01-01 00:00:00.000000",
            "cma_expiry": cma,
            "cnas_expiry": cnas,
        }
        for i, n, c, el, cma, cnas in INSTITUTIONS
    ]
    ecols = ("id", "name", "name_py", "name_initials", "haystack", "city_code", "elements", "rev", "seq")
    ecols += ("deleted", "updated_at", "active_requests")
    experts = [
        {
            "id": f"x{k}",
            "name": n,
            "city_code": "370100",
            "elements": ["testing"],
            "rev": 1,
            "seq": 0,
            "deleted": 0,
            "updated_at": "2026-01-01 00:00:00.000000",
            "active_requests": 0,
        }
        for k, n in ((1, "李检测"), (2, "王检测"))
    ]
    conn = connect(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        upsert_library_rows(conn, "institution", rows, cols)
        upsert_library_rows(conn, "expert", experts, ecols)
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.fixture
def qdb(db: Path) -> Path:
    from qi_station.services.station import init_station

    init_station(db, code="JN-GX01", name="济南高新区工作站", region_code="370100")
    _seed(db)
    return db


def _request(db: Path, elements: str = "testing", uscc: str = USCC) -> dict:
    return ledger.create_request(
        db,
        ledger.RequestInput(enterprise="济南示例机械有限公司", uscc=uscc, elements=elements, title="检测"),
    )


# ---- the rule ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expiry", "state"),
    [
        (None, "missing"),
        ("", "missing"),
        ("2026-06-14", "expired"),
        ("2026-06-15", "expiring"),  # valid through its expiry date
        ("2026-09-13", "expiring"),  # 90 days
        ("2026-09-14", "valid"),
        (date(2027, 1, 1), "valid"),
    ],
)
def test_cert_state(expiry: object, state: str) -> None:
    assert qualify.cert_state(expiry, TODAY) == state


def test_testing_needs_a_valid_cma_cnas_alone_is_not_enough() -> None:
    row = {"cma_expiry": "2026-05-26", "cnas_expiry": "2030-01-01"}
    assert qualify.state_for(row, ["testing"], TODAY) == "expired"
    assert qualify.state_for(row, None, TODAY) == "expired"  # no element: the licence, the CMA
    assert qualify.state_for({"cnas_expiry": "2030-01-01"}, ["testing"], TODAY) == "missing"
    # no licence is named for the other elements
    assert qualify.state_for(row, ["standards"], TODAY) == "valid"
    assert qualify.state_for(row, ["standards", "testing"], TODAY) == "expired"


def test_expiry_line_labels_both_dates_with_marks() -> None:
    line = qualify.expiry_line({"cma_expiry": "2026-05-26", "cnas_expiry": "2026-07-01"}, TODAY)
    assert line == "CMA 有效期 2026-05-26 已过期  CNAS 有效期 2026-07-01 将到期"
    assert "expired" in qualify.expiry_line({"cma_expiry": "2026-05-26"}, TODAY, zh=False)


# ---- search, suggestions ------------------------------------------------------------------------
def test_valid_only_refuses_an_expired_cma_with_a_valid_cnas(qdb: Path) -> None:
    from qi_station.services.search import search

    got = {r["id"] for r in search(qdb, "institutions", "", valid_only=True)}
    assert got == {"i-valid", "i-soon"}
    assert {r["id"] for r in search(qdb, "institutions", "", valid_only=True, element="testing")} == got
    rows = {r["id"]: r for r in search(qdb, "institutions", "")}
    assert rows["i-cnas"]["cma_state"] == "expired" and rows["i-cnas"]["cnas_state"] == "valid"
    assert rows["i-soon"]["cma_state"] == "expiring" and rows["i-none"]["cma_state"] == "missing"


def test_suggestions_never_rank_an_unqualified_institution_above_a_qualified_one(qdb: Path) -> None:
    from qi_station.services.matching import suggest

    req = _request(qdb, "testing,metrology")
    got = suggest(qdb, req["id"], "institution")
    order = [r["id"] for r in got]
    # i-cnas and i-none score higher (same city, two elements) but are not valid for testing
    assert order[:2] == ["i-soon", "i-valid"] or order[:2] == ["i-valid", "i-soon"]
    assert set(order[2:]) == {"i-cnas", "i-none"}
    by_id = {r["id"]: r for r in got}
    assert by_id["i-cnas"]["qualification"] == "expired" and not by_id["i-cnas"]["qualified"]
    assert by_id["i-cnas"]["score"] > by_id["i-valid"]["score"]


def test_a_suggestion_says_what_was_checked(qdb: Path) -> None:
    """Outside operator (opfix3) item 3: a metrology institution whose CMA expired was listed as
    "资质有效": metrology needs no CMA (the rule stays), so the line says so -- and that the CMA lapsed."""
    from qi_station.services.matching import suggest

    by_id = {r["id"]: r for r in suggest(qdb, _request(qdb, "metrology")["id"], "institution")}
    assert by_id["i-cnas"]["qualified"]  # the rule is unchanged: metrology needs no CMA
    assert by_id["i-cnas"]["basis"] == {
        "zh": "CMA已过期（本要素不要求）",
        "en": "CMA expired (not needed here)",
    }
    assert by_id["i-none"]["basis"]["zh"] == "无需CMA"
    testing = {r["id"]: r for r in suggest(qdb, _request(qdb, "testing")["id"], "institution")}
    assert testing["i-cnas"]["basis"]["zh"] == "CMA已过期" and testing["i-none"]["basis"]["zh"] == "无CMA"
    assert testing["i-soon"]["basis"]["zh"] == "CMA将到期" and testing["i-valid"]["basis"]["zh"] == "CMA有效"


# ---- the referral ---------------------------------------------------------------------------------
def _events(db: Path, request_id: str) -> list[dict]:
    c = sqlite3.connect(db)
    try:
        return [
            json.loads(d)
            for (d,) in c.execute(
                "SELECT data FROM request_event WHERE request_id = ? AND kind = 'referral' ORDER BY n",
                (request_id,),
            )
        ]
    finally:
        c.close()


def _count(db: Path, table: str) -> int:
    c = sqlite3.connect(db)
    try:
        return int(c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        c.close()


def test_referral_to_an_unqualified_institution_needs_a_reason(qdb: Path) -> None:
    req = _request(qdb)
    before = (_count(qdb, "referral"), _count(qdb, "request_event"))
    with pytest.raises(ValidationError) as e:
        ledger.refer_request(qdb, req["number"], "institution", "i-cnas")
    assert e.value.field == "reason" and "CMA" in e.value.message and "已过期" in e.value.message
    assert (_count(qdb, "referral"), _count(qdb, "request_event")) == before  # nothing written
    ledger.refer_request(qdb, req["number"], "institution", "i-cnas", reason="企业指定该机构")
    data = _events(qdb, req["id"])[-1]
    assert data["qualification"] == "expired" and data["reason"] == "企业指定该机构"
    # a valid institution needs none, and its event carries no reason
    ledger.refer_request(qdb, req["number"], "institution", "i-valid")
    assert "reason" not in _events(qdb, req["id"])[-1]


def test_referral_for_another_element_needs_no_cma(qdb: Path) -> None:
    req = _request(qdb, "standards")
    ledger.refer_request(qdb, req["number"], "institution", "i-none")
    assert "reason" not in _events(qdb, req["id"])[-1]


def test_the_same_target_twice_is_refused(qdb: Path) -> None:
    req = _request(qdb)
    ledger.refer_request(qdb, req["number"], "expert", "x1")
    n = _count(qdb, "referral")
    with pytest.raises(ValidationError) as e:
        ledger.refer_request(qdb, req["number"], "expert", "x1", note="again")
    assert e.value.field == "target" and e.value.rule == "duplicate" and "已转办" in e.value.message
    assert _count(qdb, "referral") == n
    ledger.refer_request(qdb, req["number"], "expert", "x2")  # another target is fine


def test_precheck_tells_the_tui_before_it_refers(qdb: Path) -> None:
    from qi_station.services.referral import precheck

    req = _request(qdb)
    a = precheck(qdb, req["number"], "institution", "i-none")
    assert a["needs_reason"] and a["state"] == "missing" and not a["duplicate"]
    assert not precheck(qdb, req["number"], "institution", "i-valid")["needs_reason"]


# ---- load (在办) ----------------------------------------------------------------------------------
def test_expert_load_counts_open_requests_whose_latest_referral_names_them(qdb: Path) -> None:
    from qi_station.services.matching import suggest
    from qi_station.services.search import search

    a = _request(qdb)
    b = _request(qdb)
    c = _request(qdb)
    ledger.refer_request(qdb, a["number"], "expert", "x1")
    ledger.refer_request(qdb, b["number"], "expert", "x1")
    ledger.refer_request(qdb, c["number"], "expert", "x1")
    ledger.refer_request(qdb, c["number"], "expert", "x2")  # c's latest referral names x2
    ledger.move_request(qdb, b["number"], "cancelled", note="企业撤回")  # b is no longer open
    loads = {r["id"]: r["load"] for r in search(qdb, "experts", "")}
    assert loads == {"x1": 1, "x2": 1}
    d = _request(qdb)
    ledger.refer_request(qdb, d["number"], "expert", "x1")
    got = {r["id"]: r for r in suggest(qdb, _request(qdb)["id"], "expert")}
    assert got["x1"]["load"] == 2 and got["x2"]["load"] == 1
    assert got["x1"]["score"] < got["x2"]["score"]  # the busier expert ranks lower
    assert [r["id"] for r in suggest(qdb, _request(qdb)["id"], "expert")] == ["x2", "x1"]


# ---- expiring list, dashboard -----------------------------------------------------------------------
def test_dashboard_counts_expiring_and_expired(qdb: Path) -> None:
    from qi_station.services.dashboard import compute

    figs = compute(qdb, with_months=False)
    assert figs.expiring_certs == 1  # i-soon
    assert figs.expired_certs == 1  # i-cnas (i-none has no date: missing, listed by neither)


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QI_STATION_OPERATOR": "测试员", "QI_STATION_NOW": NOW}
    return subprocess.run(
        [sys.executable, "-m", "qi_station", "--db", str(db), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
    )


def test_cli_library_expiring_and_refer_reason(qdb: Path) -> None:
    p = _cli(qdb, "library", "expiring", "--json")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [r["id"] for r in rows] == ["i-cnas", "i-soon"]  # soonest first
    assert rows[0]["expired"] and not rows[1]["expired"]
    p = _cli(qdb, "library", "expiring", "--days", "10")
    assert p.returncode == 0 and "i-cnas" in p.stdout and "i-soon" not in p.stdout
    p = _cli(qdb, "library", "search", "institutions", "济南过期")
    assert "CMA 有效期 2026-05-26 已过期" in p.stdout and "CNAS 有效期 2030-01-01" in p.stdout
    req = _request(qdb)
    p = _cli(qdb, "request", "refer", req["number"], "--institution", "i-cnas")
    assert p.returncode == 2 and "reason" in p.stderr and "Traceback" not in p.stderr
    p = _cli(qdb, "request", "refer", req["number"], "--institution", "i-cnas", "--reason", "企业指定")
    assert p.returncode == 0, p.stderr
    assert _events(qdb, req["id"])[-1]["reason"] == "企业指定"
    p = _cli(qdb, "request", "refer", req["number"], "--institution", "i-cnas", "--reason", "再次")
    assert p.returncode == 2 and "target" in p.stderr


@pytest.mark.parametrize("elements", [None, ["testing"], ["standards"], ["standards", "testing"]])
def test_the_sql_form_of_the_rule_agrees_with_the_rule(elements: list[str] | None) -> None:
    """``valid_sql`` (filters, rankings) and ``state_for`` (marks, the referral) are one rule."""
    dates = [None, "2026-06-14", "2026-06-15", "2026-09-13", "2030-01-01"]
    c = sqlite3.connect(":memory:")
    c.execute("CREATE TABLE t (id INTEGER, cma_expiry TEXT, cnas_expiry TEXT)")
    cases = [(a, b) for a in dates for b in dates]
    c.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, a, b) for i, (a, b) in enumerate(cases)])
    cond, params = qualify.valid_sql(elements, TODAY)
    got = {i for (i,) in c.execute(f"SELECT id FROM t WHERE {cond}", params)}
    want = {
        i
        for i, (a, b) in enumerate(cases)
        if qualify.is_valid(qualify.state_for({"cma_expiry": a, "cnas_expiry": b}, elements, TODAY))
    }
    assert got == want
