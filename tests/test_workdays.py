"""Working days (issue 10 item 3): the rule in core.workdays, the shipped calendar, promised dates."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from qi_station.core.errors import ValidationError
from qi_station.core.workdays import (
    Calendar,
    CalendarGap,
    check_year_days,
    promise_date,
    read_calendar_text,
)
from qi_station.db.write import SHIPPED_CALENDAR

D = date.fromisoformat


@pytest.fixture(scope="module")
def cal() -> Calendar:
    years = read_calendar_text(SHIPPED_CALENDAR.read_text(encoding="utf-8"))
    return Calendar.of([d for days in years.values() for d in days], years)


def test_shipped_file_holds_the_published_2025_and_2026_schedules(cal: Calendar) -> None:
    assert cal.years == {2025, 2026}
    # 2026 National Day 10/1-10/7 off, Sunday 9/20 and Saturday 10/10 worked (国务院办公厅 2025-11-04)
    assert all(not cal.is_workday(D(f"2026-10-0{i}")) for i in range(1, 8))
    assert cal.is_workday(D("2026-10-10")) and cal.is_workday(D("2026-09-20"))
    assert not cal.is_workday(D("2026-10-11"))  # an ordinary Sunday
    assert cal.is_workday(D("2026-10-08")) and cal.is_workday(D("2026-10-09"))
    # 2025: 10/1-10/8 off, Sunday 9/28 and Saturday 10/11 worked; 春节 1/28-2/4, 1/26 and 2/8 worked
    assert not cal.is_workday(D("2025-10-08")) and cal.is_workday(D("2025-10-11"))
    assert cal.is_workday(D("2025-01-26")) and not cal.is_workday(D("2025-02-04"))
    assert not cal.is_workday(D("2026-01-03")) and cal.is_workday(D("2026-01-04"))


def test_day_of_receipt_not_counted(cal: Calendar) -> None:
    assert cal.add_workdays(D("2026-11-04"), 1) == D("2026-11-05")  # Wednesday -> Thursday
    assert cal.add_workdays(D("2026-11-06"), 1) == D("2026-11-09")  # Friday -> Monday
    assert cal.add_workdays(D("2026-11-04"), 0) == D("2026-11-04")


def test_across_national_day_2026_and_the_worked_saturday(cal: Calendar) -> None:
    # received Wed 9/30: 10/1-10/7 off, Thu 10/8, Fri 10/9, Sat 10/10 (worked), Mon 10/12 ...
    assert cal.add_workdays(D("2026-09-30"), 1) == D("2026-10-08")
    assert cal.add_workdays(D("2026-09-30"), 3) == D("2026-10-10")
    assert cal.add_workdays(D("2026-09-30"), 4) == D("2026-10-12")
    # 10 working days from Mon 9/28: 9/29, 9/30, 10/8, 10/9, 10/10, 10/12, 13, 14, 15, 16
    assert cal.add_workdays(D("2026-09-28"), 10) == D("2026-10-16")
    # 3 (urgent) from Fri 9/25 (中秋 9/25-9/27 off): 9/28, 9/29, 9/30
    assert cal.add_workdays(D("2026-09-25"), 3) == D("2026-09-30")
    assert cal.workdays_between(D("2026-09-28"), D("2026-10-16")) == 10
    assert cal.workdays_between(D("2026-09-30"), D("2026-10-07")) == 0
    assert cal.workdays_between(D("2026-10-16"), D("2026-09-28")) == 0


def test_an_uncovered_year_is_said_not_guessed(cal: Calendar) -> None:
    with pytest.raises(CalendarGap) as e:
        cal.is_workday(D("2027-01-04"))
    assert "2027" in e.value.message and e.value.rule == "calendar_missing"
    with pytest.raises(CalendarGap):
        cal.add_workdays(D("2026-12-30"), 3)
    with pytest.raises(CalendarGap):
        cal.workdays_between(D("2026-12-30"), D("2027-01-05"))
    p = promise_date(cal, D("2026-12-30"), 3)  # Thu 12/31, then 2027 Mon-Fri only: Fri 1/1, Mon 1/4
    assert p.date == D("2027-01-04") and p.uncovered == (2027,)
    assert p.warning and "2027" in p.warning
    covered = promise_date(cal, D("2026-09-30"), 3)
    assert covered.date == D("2026-10-10") and covered.uncovered == () and covered.warning is None


@pytest.mark.parametrize(
    ("rows", "rule"),
    [
        ([{"date": "2027-01-01", "kind": "off", "name": "元旦"}], "year"),
        ([{"date": "2026-13-01", "kind": "off", "name": "元旦"}], "date"),
        ([{"date": "2026-01-01", "kind": "holiday", "name": "元旦"}], "choice"),
        ([{"date": "2026-01-01", "kind": "off", "name": ""}], "required"),
        ([{"date": "2026-01-05", "kind": "work", "name": "元旦"}], "weekend"),  # a Monday
        ([{"date": "2026-01-01", "kind": "off", "name": "元旦"}] * 2, "duplicate"),
        ([], "required"),
    ],
)
def test_a_calendar_year_is_checked_whole(rows: list[dict[str, object]], rule: str) -> None:
    with pytest.raises(ValidationError) as e:
        check_year_days(2026, rows)
    assert e.value.rule == rule


def test_shipped_calendar_loaded_by_migration(tmp_path: Path) -> None:
    from qi_station.db.engine import connect, open_db
    from qi_station.services.workdays import calendar_years

    conn = connect(open_db(tmp_path / "s.db"))
    try:
        assert calendar_years(conn) == [
            {"year": 2025, "off": 28, "work": 5},
            {"year": 2026, "off": 33, "work": 6},
        ]
    finally:
        conn.close()


def test_workdays_between_agrees_with_a_day_by_day_count(cal: Calendar) -> None:
    start = D("2025-01-01")
    for a_off in range(0, 720, 17):
        a = start + timedelta(days=a_off)
        for n in (0, 1, 3, 10, 40):
            try:
                b = cal.add_workdays(a, n)
            except CalendarGap:
                continue
            assert cal.workdays_between(a, b) == n, (a, n)
            # the day after b adds one only when it is a working day
            nxt = b + timedelta(days=1)
            if nxt.year <= 2026:
                assert cal.workdays_between(a, nxt) == n + cal.is_workday(nxt)


def test_request_days(cal: Calendar) -> None:
    from qi_station.core.workdays import request_days

    # received Mon 9/28, resolved Fri 10/16: 18 calendar days, 10 working days
    got = request_days(cal, D("2026-09-28"), D("2026-10-01"), D("2026-10-16"), False, D("2026-11-20"))
    assert got == {"days_taken": 18, "workdays_taken": 10, "overdue_days": None, "overdue_workdays": None}
    # open, promised Wed 9/30, today Mon 10/12: 12 days overdue, 4 working days (10/8, 9, 10, 12)
    got = request_days(cal, D("2026-09-25"), D("2026-09-30"), None, True, D("2026-10-12"))
    # taken from Fri 9/25: 9/28, 9/29, 9/30, 10/8, 10/9, 10/10, 10/12 = 7
    assert got == {"days_taken": 17, "workdays_taken": 7, "overdue_days": 12, "overdue_workdays": 4}
    # the calendar does not cover 2027: working days unknown (None), calendar days still given
    got = request_days(cal, D("2026-12-28"), D("2026-12-31"), None, True, D("2027-01-05"))
    assert got == {"days_taken": 8, "workdays_taken": None, "overdue_days": 5, "overdue_workdays": None}
    # cancelled without a resolution: nothing taken, nothing overdue
    assert (
        request_days(cal, D("2026-09-28"), D("2026-10-01"), None, False, D("2026-11-20"))["days_taken"]
        is None
    )


def test_cli_station_promise_and_hub_calendar(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = dict(
            os.environ, QI_STATION_DB=str(tmp_path / "s.db"), QI_STATION_NOW="2026-09-30T10:00:00+08:00"
        )
        return subprocess.run(
            [sys.executable, "-m", "qi_station", *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=env,
            timeout=120,
        )

    r = run("station", "promise", "--urgent", "2", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["promise_workdays"] == {"normal": 10, "urgent": 2}
    assert [y["year"] for y in got["calendar_years"]] == [2025, 2026]
    r = run("station", "promise", "--normal", "0")
    assert r.returncode == 2 and "--normal" in r.stderr
    r = run(
        "request",
        "add",
        "--enterprise",
        "济南示例机械有限公司",
        "--uscc",
        "91350100M000100Y43",
        "--elements",
        "metrology",
        "--title",
        "校准",
        "--urgency",
        "urgent",
    )
    assert r.returncode == 0 and "2026-10-09" in r.stdout, r.stderr  # Thu 10-08, Fri 10-09
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert run("hub", "init", "--database-url", url).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("year,date,kind,name\n2027,2026-12-31,off,元旦\n", encoding="utf-8")
    r = run("hub", "calendar", "import", str(bad), "--database-url", url)
    assert r.returncode == 2 and "2027" in r.stderr
    r = run("hub", "calendar", "import", str(SHIPPED_CALENDAR), "--database-url", url, "--json")
    assert r.returncode == 0, r.stderr
    # hub init already loaded the shipped years: the same file changes nothing
    assert json.loads(r.stdout) == {
        "years": [2025, 2026],
        "added": [],
        "updated": [],
        "unchanged": ["2025", "2026"],
    }
    r = run("hub", "calendar", "list", "--database-url", url, "--json")
    assert [(x["key"], x["rev"]) for x in json.loads(r.stdout)] == [("2025", 1), ("2026", 1)]
