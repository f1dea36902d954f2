"""A report of the month not ended yet (the current one) takes its "month end" states at today: a
request promised, or a rectification due, later this month is not overdue yet (the dashboard's 已逾期
agrees). Found on 2026-12-01: December's 整改 table called a rectification due 12-09 超期, 月末超期数
equalled 月末未办结数."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_reports import _mv, uscc

NOW = "2026-12-01T10:00:00+08:00"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from qi_station.db.engine import open_db
    from qi_station.services import ledger
    from qi_station.services.station import init_station

    monkeypatch.setenv("QI_STATION_NOW", NOW)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")
    path = tmp_path / "station.db"
    open_db(path)
    init_station(path, code="QI0001", name="测试工作站", region_code="370100")

    def req(i: int, received: str, promised: str) -> str:
        r = ledger.create_request(
            path,
            ledger.RequestInput(
                f"济南第{i}机械有限公司",
                uscc("370102", f"MA3C0010{i}"),
                "标准",
                "换证",
                received_at=received,
                promised=promised,
            ),
        )
        return str(r["number"])

    req(1, "2026-11-20T09:00:00+08:00", "2026-11-28")  # overdue now
    req(2, "2026-11-25T09:00:00+08:00", "2026-12-05")  # due later this month: not overdue yet
    rated = req(3, "2026-11-02T09:00:00+08:00", "2026-11-10")
    _mv(path, rated, "accepted", "2026-11-02T10:00:00+08:00")
    _mv(path, rated, "in_progress", "2026-11-03T10:00:00+08:00")
    _mv(path, rated, "resolved", "2026-11-05T10:00:00+08:00", result="已办结", problems_solved=0)
    _mv(path, rated, "closed", "2026-11-20T10:00:00+08:00", satisfaction=1)  # rectify due in December
    return path


@pytest.mark.parametrize("exact", [False, True])
def test_the_current_month_counts_overdue_as_of_today(db: Path, exact: bool) -> None:
    from qi_station.reports.figures import monthly_report
    from qi_station.services.dashboard import compute

    dec: dict[str, Any] = monthly_report(db, "2026-12", exact=exact)
    assert dec["open_at_end"] == 2
    assert dec["overdue_at_end"] == 1 == compute(db).overdue
    (row,) = dec["rectification"]["open"]
    assert row["due"] > "2026-12-01" and row["overdue"] is False
    assert dec["rectification"]["overdue_count"] == 0
    nov = monthly_report(db, "2026-11", exact=exact)  # an ended month: at its end, as before
    assert nov["open_at_end"] == 2 and nov["overdue_at_end"] == 1
    assert nov["rectification"]["overdue_count"] == 0  # due in December


def test_states_day_is_today_only_for_a_month_not_ended() -> None:
    from datetime import date

    from qi_station.reports.ledger import states_day

    assert states_day("2026-11", date(2026, 12, 1)) == date(2026, 12, 1)
    assert states_day("2026-12", date(2026, 12, 1)) == date(2026, 12, 1)
    assert states_day("2026-12", date(2026, 12, 9)) == date(2026, 12, 9)
    assert states_day("2026-10", date(2026, 12, 9)) == date(2026, 11, 1)


def test_a_month_not_begun_takes_its_first_day() -> None:
    from datetime import date

    from qi_station.reports.ledger import states_day

    assert states_day("2027-02", date(2026, 12, 9)) == date(2027, 2, 1)
