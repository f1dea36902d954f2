"""Operator tester (demo5): a station's own monthly report quietly counted the demo data (``init --demo``)
while the hub, which never receives demo rows, left it out: the station head would have sent demo numbers
upward as real. The station's report leaves the demo requests (``db.write.demo_requests_sql``, the one rule)
out of every figure and says how many (``demo_excluded``): the station's report and the hub's report of
that station agree, month by month, for a station holding demo and real work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sync_heal import demo_station, real_work
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import rows

from qi_station.core.months import current_month, last_full_month, month_of

_ = (env, hub_url)

#: what differs by nature between the two reports (when computed, how fresh, which profile, the note)
_OWN = ("generated_at", "data_as_of", "station", "demo_excluded", "indicator_set")


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in report.items() if k not in _OWN}
    out["details"] = sorted((d["number"], d["status"], d["events_in_month"]) for d in report["details"])
    return out


def _demo_months(db: Path) -> list[str]:
    from datetime import UTC, datetime

    from qi_station.core.clock import TZ

    got = rows(db, "SELECT received_at FROM request")
    return sorted({month_of(datetime.fromisoformat(r[0]).replace(tzinfo=UTC).astimezone(TZ)) for r in got})


@pytest.mark.parametrize("hub_url", ["sqlite"], indirect=True)
def test_station_report_equals_the_hubs_with_demo_data(env: Any, tmp_path: Path, hub_url: str) -> None:  # noqa: F811
    from test_sync_util import enroll_station

    from qi_station.reports.figures import monthly_report

    hub, tc, _dbs = env
    db = tmp_path / "DM07.db"
    demo_station(db, "DM07")
    enroll_station(db, hub, tc, "DM07")
    real_work(db)  # real requests (one on a demo enterprise), a move of a demo request
    assert sync(db, tc)["pending"] == 0
    # the months the hub reports for it (from the last full month: the demo's last month, and this one)
    months = [last_full_month(), current_month()]
    assert last_full_month() in _demo_months(db)
    for month in months:
        here = monthly_report(db, month)
        there = monthly_report(hub_url, month, station="DM07", hub=True)
        assert _figures(here) == _figures(there), month
        assert here["demo_excluded"] == 40
    # the demo is there, and would count without the rule: the last demo month had demo work
    last = months[0]
    assert monthly_report(db, last, exact=True)["received"] == 0
    from qi_station.reports.queries import collect, report_connection

    with report_connection(db) as conn:
        raw = collect(conn, last, None, exact=True)
    assert sum(a.series["received"][-1] for a in raw.accs.values()) > 0
    assert sum(a.open_at(11) for a in raw.accs.values()) > 0


def test_report_without_demo_says_none(tmp_path: Path) -> None:
    from qi_station.db.engine import open_db
    from qi_station.reports.figures import monthly_report
    from qi_station.services.station import init_station

    db = tmp_path / "plain.db"
    init_station(open_db(db), code="PL01")
    assert monthly_report(db, current_month())["demo_excluded"] == 0


def test_every_format_says_the_demo_was_left_out(tmp_path: Path) -> None:
    """md, CSV, xlsx (its chart still on the 12-month table, one row lower), JSON and the Reports screen's
    summary name how many demo requests the figures leave out; a report without demo data has no such line."""
    import csv
    import json

    from openpyxl import load_workbook

    from qi_station.reports.figures import monthly_report
    from qi_station.reports.writers import render_markdown, write_report
    from qi_station.screens.reports import summary_parts

    db = tmp_path / "DM08.db"
    demo_station(db, "DM08")
    report = monthly_report(db, last_full_month())
    assert report["received"] == 0 and report["demo_excluded"] == 40
    assert "未计入的演示需求（条）: 40" in render_markdown(report, "zh")
    assert "Demo requests left out: 40" in render_markdown(report, "en")
    assert (
        json.loads(write_report(report, "json", tmp_path / "r.json").read_text("utf-8"))["demo_excluded"]
        == 40
    )
    got = list(csv.reader(write_report(report, "csv", tmp_path / "r.csv").open(encoding="utf-8-sig")))
    assert ["未计入的演示需求（条）", "40"] in got
    wb = load_workbook(write_report(report, "xlsx", tmp_path / "r.xlsx"))
    ov = wb.worksheets[0]
    assert [ov.cell(5, 1).value, ov.cell(5, 2).value] == ["未计入的演示需求（条）", 40]
    series_header = next(r for r in range(1, ov.max_row + 1) if ov.cell(r, 1).value == "月份")
    ref = ov._charts[0].series[0].val.numRef.f  # the bars read the table's rows
    assert ref.endswith(f"$B${series_header + 1}:$B${series_header + 12}"), ref
    assert "未计入的演示需求（条） 40" in summary_parts(report, "zh")
    plain = {**report, "demo_excluded": 0}
    assert "演示" not in render_markdown(plain, "zh")
    assert not any("演示" in p for p in summary_parts(plain, "zh"))


def test_enroll_warns_of_demo_data_and_the_first_bundle_says_it_stays(tmp_path: Path) -> None:
    """``sync enroll`` on a database holding demo data warns and names ``qi-station demo remove`` (still
    possible then); the first ``sync export-bundle`` says the demo can no longer be removed, a later one says
    nothing; ``demo remove`` afterwards is refused, saying why and that the demo stays out of the reports."""
    import os

    from test_sync_cli import run

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert run("hub", "init", "--database-url", url).returncode == 0
    r = run("hub", "add-station", "DM09", "--name", "演示站", "--database-url", url)
    token = r.stdout.strip().splitlines()[-1]
    db = tmp_path / "DM09.db"
    demo_station(db, "DM09")
    env = dict(os.environ, QI_STATION_DB=str(db), QI_STATION_LANG="zh")
    r = run("sync", "enroll", "--token", token, env=env)
    assert r.returncode == 0, r.stderr
    assert "演示数据 40 条" in r.stderr and "qi-station demo remove" in r.stderr
    r = run("--lang", "en", "sync", "export-bundle", "--out", str(tmp_path / "up1.zip"), env=env)
    assert r.returncode == 0, r.stderr
    assert "40 demo requests" in r.stderr and "can no longer be removed" in r.stderr
    r = run("sync", "export-bundle", "--out", str(tmp_path / "up2.zip"), env=env)
    assert r.returncode == 0 and "演示" not in r.stderr, r.stderr
    r = run("demo", "remove", env=env)
    assert r.returncode == 2 and "[head_sent]" in r.stderr and "不计入本站和全省的报表" in r.stderr


def test_enroll_without_demo_data_says_nothing_of_it(tmp_path: Path) -> None:
    import os

    from test_sync_cli import run

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert run("hub", "init", "--database-url", url).returncode == 0
    token = (
        run("hub", "add-station", "PL02", "--name", "真实站", "--database-url", url)
        .stdout.strip()
        .splitlines()[-1]
    )
    env = dict(os.environ, QI_STATION_DB=str(tmp_path / "PL02.db"))
    r = run("sync", "enroll", "--token", token, env=env)
    assert r.returncode == 0 and "演示" not in r.stderr and "demo" not in r.stderr, r.stderr
