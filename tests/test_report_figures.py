"""The figures stations are asked for (issue 10, item 4): on-time completion, follow-up rate, reopened,
satisfaction by level, charges, rectification of low ratings, breakdowns by county / industry / size,
activities. The ledger of ``test_reports`` (R1..R9) plus:

=====  ===========================================  ==============================================
R10    ent D (USCC region 370102 历下区, 制造业, 小型)  received 2026-01-02 09:00, promised 01-17;
                                                     resolved 01-06 charged 1200.00 yuan; closed 01-07
                                                     rating 1 -> no rectify: due 01-28 (15 weekdays
                                                     after Wed 01-07), overdue at the month's end
R5     (from test_reports) closed 01-25 rating 2     rectified 01-28 by 张三 -> not open
A1     visit 2026-01-10, 5 enterprises, 8 people
A2     training 2026-01-20, 12 enterprises, 30 people
A3     training 2026-02-02 (February: not counted in January)
=====  ===========================================  ==============================================

Hand-computed for January:
- on time: R3 (01-10 <= 01-20), R6 (01-20 <= 01-25), R10 (01-06 <= 01-17); R5 late (resolved 01-15,
  promised 2026-01-04) -> 3 of 4 resolved = 0.75;
- follow-up: of the 4 resolved, R3, R5, R10 were followed up (closed) after it in January = 0.75;
  reopened: R5 (01-03) = 1;
- levels: 4 -> 1, 2 -> 1, 1 -> 1; charged: 1, 1200.00 yuan;
- received 6 (R1 R3 R4 R6 R8 R10): county 370102 1, unknown 5; industry 制造业 1, unknown 5; size 小型 1;
- rectification: low ratings 2 (R5, R10), rectified 1 (R5), open [R10], overdue [R10].
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import pytest
from test_reports import MONTH, _copy_station_into_hub, _mv, build_ledger, uscc

ENT_D = ("济南丁机械有限公司", uscc("370102", "MA3C00004"))


def build(db: Path) -> dict[str, str]:
    from qi_station.services import ledger
    from qi_station.services.activity import add_activity

    n = build_ledger(db)
    r = ledger.create_request(
        db,
        ledger.RequestInput(
            enterprise=ENT_D[0],
            uscc=ENT_D[1],
            elements="标准",
            title="换证",
            industry="制造业",
            scale="小型",
            received_at="2026-01-02T09:00:00+08:00",
            promised="2026-01-17",
        ),
    )
    n["R10"] = str(r["number"])
    _mv(db, n["R10"], "accepted", "2026-01-02T10:00:00+08:00")
    _mv(db, n["R10"], "in_progress", "2026-01-03T10:00:00+08:00")
    _mv(
        db,
        n["R10"],
        "resolved",
        "2026-01-06T10:00:00+08:00",
        result="已办结",
        problems_solved=0,
        charged=True,
        fee="1200",
    )
    _mv(db, n["R10"], "closed", "2026-01-07T10:00:00+08:00", satisfaction=1)
    ledger.rectify_request(db, n["R5"], "上门复核并重新出具报告", by="张三", at="2026-01-28T10:00:00+08:00")
    for kind, day, ents, people in (
        ("visit", "2026-01-10", 5, 8),
        ("training", "2026-01-20", 12, 30),
        ("training", "2026-02-02", 3, 9),
    ):
        add_activity(db, {"kind": kind, "date": day, "enterprises": ents, "people": people, "title": kind})
    return n


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    os.environ["QI_STATION_OPERATOR"] = "测试员"
    db = tmp_path_factory.mktemp("figures") / "station.db"
    return db, build(db)


@pytest.fixture(scope="module")
def report(built: tuple[Path, dict[str, str]]) -> dict[str, Any]:
    from qi_station.reports.figures import monthly_report

    return monthly_report(built[0], MONTH)


def expected(n: dict[str, str], code: str = "QI0001") -> dict[str, Any]:
    r10 = {
        "number": n["R10"].replace("QI0001", code),
        "station_code": code,
        "enterprise_name": ENT_D[0],
        "satisfaction": 1,
        "rated_on": "2026-01-07",
        "due": "2026-01-28",
        "overdue": True,
    }
    return {
        "on_time": {"count": 3, "resolved": 4, "rate": 0.75},
        "followup": {"followed_up": 3, "resolved": 4, "rate": 0.75},
        "reopened": 1,
        "satisfaction_levels": {"5": 0, "4": 1, "3": 0, "2": 1, "1": 1},
        # ENT_A/B/C are registered at city level (USCC region 370100/370200/370600, no county): each is
        # counted under its city's 市本级 (was "unknown" before: the old, wrong rule)
        "by_county": {"370100": 1, "370102": 1, "370200": 1, "370600": 3},
        "by_industry": {"制造业": 1, "unknown": 5},
        "by_size": {"小型": 1, "unknown": 5},
        "charged": {"count": 1, "fee_yuan": 1200.0},
        "rectification": {
            "low_ratings": 2,
            "rectified": 1,
            "open_count": 1,
            "overdue_count": 1,
            "open": [r10],
            "overdue": [r10],
        },
        "activities": {
            "visit": {"count": 1, "enterprises": 5, "people": 8},
            "training": {"count": 1, "enterprises": 12, "people": 30},
            "event": {"count": 0, "enterprises": 0, "people": 0},
        },
    }


def test_every_new_figure(report: dict[str, Any], built: tuple[Path, dict[str, str]]) -> None:
    for key, want in expected(built[1]).items():
        assert report[key] == want, key
    assert report["received"] == 6 and report["resolved"] == 4  # the existing keys keep their meaning


def test_followup_rate_is_a_share_of_the_months_resolutions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """回访率 never exceeds 100 %: follow-ups in January of requests resolved in December (F1, F2) are not
    January's; F3 resolved and followed up in January counts, F4 resolved in January is not followed up
    in January (its follow-up in February is not January's either) -> 1 of 2. The old definition (the
    month's ratings over its resolutions) gave 3 / 2 = 1.5. Every writer reads the one figure."""
    monkeypatch.setenv("QI_STATION_NOW", "2026-11-30T12:00:00Z")
    from test_reports import ENT_A, _mv, _req

    from qi_station.db.engine import open_db
    from qi_station.reports.figures import monthly_report
    from qi_station.reports.labels import headline_values
    from qi_station.reports.writers import write_csv
    from qi_station.services.station import init_station

    db = tmp_path / "station.db"
    open_db(db)
    init_station(db, code="QI0001", name="测试工作站", region_code="370100")
    plan = (  # received, resolved, closed
        ("2025-12-01", "2025-12-20", "2026-01-05"),
        ("2025-12-02", "2025-12-30", "2026-01-06"),
        ("2026-01-03", "2026-01-10", "2026-01-12"),
        ("2026-01-04", "2026-01-31", "2026-02-02"),
    )
    for received, resolved, closed in plan:
        num = _req(db, ENT_A, "标准", f"{received}T09:00:00+08:00")
        _mv(db, num, "accepted", f"{received}T10:00:00+08:00")
        _mv(db, num, "in_progress", f"{received}T11:00:00+08:00")
        _mv(db, num, "resolved", f"{resolved}T09:00:00+08:00", result="已办结", problems_solved=1)
        _mv(db, num, "closed", f"{closed}T09:00:00+08:00", satisfaction=5)
    jan = monthly_report(db, MONTH)
    _earlier_ratios(db, jan)
    assert jan["satisfaction"]["rated"] == 3  # the ratings of the month are still 3
    assert jan["followup"] == {"followed_up": 1, "resolved": 2, "rate": 0.5}
    assert headline_values(jan)["followup_rate"] == 0.5  # the row every writer and the TUI read
    out = io.StringIO()
    write_csv(jan, out)
    assert [r[:2] for r in csv.reader(io.StringIO(out.getvalue())) if r[:1] == ["回访率"]] == [
        ["回访率", "50.00%"]
    ]
    dec = monthly_report(db, "2025-12")
    assert dec["followup"] == {"followed_up": 0, "resolved": 2, "rate": 0.0}


def _earlier_ratios(db: Path, jan: dict[str, Any]) -> None:
    """上月 and 本年累计 of the ratio figures (按期办结率, 回访率): the previous month's own rate and the year's
    share, by the month's definitions (hand-computed for the ledger above: December resolved F1, F2,
    followed up neither in December -> 0 of 2; January 1 of 2; February resolves nothing)."""
    from qi_station.reports.figures import monthly_report
    from qi_station.reports.writers import render_markdown, write_csv

    dec, feb = monthly_report(db, "2025-12"), monthly_report(db, "2026-02")
    assert jan["change"]["followup_rate"]["previous"] == 0.0 == dec["followup"]["rate"]
    assert jan["change"]["followup_rate"]["delta"] == 0.5
    assert jan["year_to_date"]["followup_rate"] == 0.5  # January only: the year began with it
    assert feb["change"]["followup_rate"]["previous"] == 0.5
    assert feb["year_to_date"]["followup_rate"] == 0.5  # (1 + 0) of (2 + 0)
    for k in ("on_time", "followup"):  # the same rule as the month's own rate, whatever the promises
        assert jan["change"][f"{k}_rate"]["previous"] == dec[k]["rate"], k
        assert feb["change"][f"{k}_rate"]["previous"] == jan[k]["rate"], k
        num = "count" if k == "on_time" else "followed_up"
        assert feb["year_to_date"][f"{k}_rate"] == round(
            (jan[k][num] + feb[k][num]) / (jan[k]["resolved"] + feb[k]["resolved"]), 4
        ), k
    out = io.StringIO()
    write_csv(jan, out)
    assert [r for r in csv.reader(io.StringIO(out.getvalue())) if r[:1] == ["回访率"]][0] == [
        "回访率",
        "50.00%",
        "0.00%",
        '="+50.0 个百分点"',  # the change of a rate in percentage points (a text constant to Excel)
        "50.00%",
    ]
    md = render_markdown(jan)
    assert "| 回访率 | 50.00% | 0.00% | +50.0 个百分点 | 50.00% |" in md


def test_february(built: tuple[Path, dict[str, str]]) -> None:
    from qi_station.reports.figures import monthly_report

    feb = monthly_report(built[0], "2026-02")
    assert feb["activities"]["training"] == {"count": 1, "enterprises": 3, "people": 9}
    assert feb["on_time"] == {"count": 0, "resolved": 0, "rate": None}
    # R10 is still not rectified: open and overdue in February too; no new low rating
    rect = feb["rectification"]
    assert (rect["low_ratings"], rect["rectified"], rect["open_count"], rect["overdue_count"]) == (0, 0, 1, 1)


def test_hub_adds_up(built: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    import sqlite3

    from qi_station.db.engine import run_migrations, sqlite_url
    from qi_station.reports.figures import monthly_report

    url = sqlite_url(tmp_path / "hub.db")
    run_migrations(url)
    for code, region in (("JN0001", "370100"), ("QD0001", "370200")):
        _copy_station_into_hub(built[0], url, code, region)
    src = sqlite3.connect(built[0])
    hub = sqlite3.connect(tmp_path / "hub.db")
    with hub:
        for code in ("JN0001", "QD0001"):
            for row in src.execute("SELECT * FROM activity"):
                hub.execute(
                    "INSERT INTO activity VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (row[0] + code, code, *row[2:]),
                )
    src.close()
    hub.close()
    rep = monthly_report(url, MONTH, hub=True)
    one = expected(built[1], "JN0001")
    for s in rep["stations"]:
        want = expected(built[1], s["station"]["code"])
        for key in ("on_time", "followup", "reopened", "charged", "activities", "rectification"):
            assert s[key] == want[key], (s["station"]["code"], key)
    assert rep["on_time"] == {"count": 6, "resolved": 8, "rate": 0.75}
    assert rep["followup"] == {"followed_up": 6, "resolved": 8, "rate": 0.75}  # the province: the sum
    assert rep["charged"] == {"count": 2, "fee_yuan": 2400.0}
    assert rep["satisfaction_levels"] == {"5": 0, "4": 2, "3": 0, "2": 2, "1": 2}
    assert rep["by_county"] == {"370100": 2, "370102": 2, "370200": 2, "370600": 6}
    assert rep["activities"]["training"] == {"count": 2, "enterprises": 24, "people": 60}
    assert rep["rectification"]["open_count"] == 2
    assert [r["station_code"] for r in rep["rectification"]["overdue"]] == ["JN0001", "QD0001"]
    assert one["rectification"]["open"][0]["number"].startswith("JN0001-")
    for c in rep["cities"]:
        assert c["reopened"] == 1


def test_rating_day_turns_at_local_midnight(tmp_path: Path) -> None:
    """Two low ratings on one UTC date, one second apart around local midnight (15:59:59 / 16:00:00 UTC):
    rated on different local days, so due on different days (15 working days after each)."""
    from qi_station.db.engine import open_db
    from qi_station.reports.figures import monthly_report
    from qi_station.services import ledger
    from qi_station.services.station import init_station

    os.environ["QI_STATION_OPERATOR"] = "测试员"
    db = tmp_path / "station.db"
    open_db(db)
    init_station(db, code="QI0001", name="测试工作站", region_code="370100")
    numbers = []
    for k, closed in enumerate(("2026-01-08T23:59:59+08:00", "2026-01-09T00:00:00+08:00")):
        r = ledger.create_request(
            db,
            ledger.RequestInput(
                enterprise=ENT_D[0],
                uscc=ENT_D[1],
                elements="标准",
                title=f"换证{k}",
                received_at="2026-01-05T09:00:00+08:00",
                promised="2026-01-20",
            ),
        )
        num = str(r["number"])
        numbers.append(num)
        _mv(db, num, "accepted", "2026-01-05T10:00:00+08:00")
        _mv(db, num, "in_progress", "2026-01-06T10:00:00+08:00")
        _mv(db, num, "resolved", "2026-01-07T10:00:00+08:00", result="已办结", problems_solved=0)
        _mv(db, num, "closed", closed, satisfaction=1)
    got = monthly_report(db, MONTH)["rectification"]["open"]
    assert [(o["number"], o["rated_on"], o["due"]) for o in got] == [
        (numbers[0], "2026-01-08", "2026-01-29"),
        (numbers[1], "2026-01-09", "2026-01-30"),
    ]


def test_the_cycle_collector_is_paused_while_a_report_is_built_and_put_back(
    built: tuple[Path, dict[str, str]],
) -> None:
    """A report builds tens of thousands of acyclic dicts: the cycle collector is paused meanwhile (measured:
    0-5 % of a station's busy month) and put back afterwards, also when the report is refused."""
    import gc

    from qi_station.core.errors import ValidationError
    from qi_station.reports.figures import monthly_report

    seen: list[bool] = []
    assert gc.isenabled()
    monthly_report(built[0], MONTH, progress=lambda _step: seen.append(gc.isenabled()))
    assert seen and not any(seen)
    assert gc.isenabled()
    with pytest.raises(ValidationError):
        monthly_report(built[0], "2001-01")  # before the first month with data: refused inside
    assert gc.isenabled()
    gc.disable()  # a caller that had paused it finds it paused still
    try:
        monthly_report(built[0], MONTH)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_indicator_money_and_percent_precision(report: dict[str, Any]) -> None:
    """指标 tables write money with two decimals (收费金额 1200.00, not 1200.0) in the CSV and the Markdown,
    and the xlsx shows a percentage with the CSV's decimals (one home: ``sections.PERCENT_DECIMALS``)."""
    from qi_station.reports.sections import PERCENT_FORMAT, indicator_cell, percent_text
    from qi_station.reports.writers import render_markdown, write_csv

    out = io.StringIO()
    write_csv(report, out)
    fee = [r for r in csv.reader(io.StringIO(out.getvalue())) if len(r) > 4 and r[2].endswith("收费金额")]
    assert fee and fee[0][3:5] == ["1200.00", "元"], fee
    assert "收费金额 | 1200.00 | 元 |" in render_markdown(report)
    assert percent_text(0.857142) == "85.71%" and PERCENT_FORMAT == "0.00%"
    assert indicator_cell(85.7142, "%") == (0.857142, "0.00%")
    assert indicator_cell(1200.0, "元") == (1200.0, "0.00")
