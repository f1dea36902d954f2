"""core.months: the one home of 'YYYY-MM' arithmetic."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from qi_station.core import months as M
from qi_station.core.errors import ValidationError


def test_shift_previous_next_across_years() -> None:
    assert M.shift_month("2026-01", -1) == "2025-12"
    assert M.shift_month("2025-12", 1) == "2026-01"
    assert M.shift_month("2026-03", -27) == "2023-12"
    assert M.shift_month("2026-03", 0) == "2026-03"
    assert M.previous_month("2026-01") == "2025-12"
    assert M.next_month("2026-12") == "2027-01"


def test_last_months_and_last_full_month() -> None:
    assert M.last_months("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]
    assert len(M.last_months("2026-02")) == 12 and M.last_months("2026-02")[0] == "2025-03"
    assert M.last_full_month(date(2026, 1, 1)) == "2025-12"
    assert M.month_of(date(2026, 7, 31)) == "2026-07"
    assert M.first_day("2026-02") == date(2026, 2, 1)


def test_bounds_are_shanghai_month_edges_in_utc() -> None:
    assert M.month_bounds_utc("2026-01") == (datetime(2025, 12, 31, 16), datetime(2026, 1, 31, 16))
    assert M.month_bounds_utc("2026-12")[1] == datetime(2026, 12, 31, 16)


def test_current_month_follows_the_pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", "2026-03-31T16:30:00Z")  # April 1st in Shanghai
    assert M.current_month() == "2026-04"
    assert M.last_full_month() == "2026-03"


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026", "26-1-1", "", "abcd-ef"])
def test_bad_months_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError) as e:
        M.month_bounds_utc(bad)
    assert e.value.field == "month"


def test_one_month_syntax() -> None:
    assert M.check_month(" 2026-03 ") == "2026-03"
    assert M.check_month("2026-3") == "2026-03"  # the CLI, the API and request list --month agree
    assert M.parse_month("2026-3") == (2026, 3)
    assert M.check_month("２０２６-０３") == "2026-03"  # a Chinese input method's digits (opfix3), as dates


@pytest.mark.parametrize("bad", ["２０２６-１３", "0001-01", "9999-12", "2026-3-1", "2026-003", None, 202603])
def test_month_outside_the_syntax_or_range_is_refused(bad: object) -> None:
    with pytest.raises(ValidationError) as e:
        M.check_month(bad)  # type: ignore[arg-type]
    assert e.value.field == "month" and repr(bad) in str(e.value)


@pytest.mark.parametrize("bad", ["0001-01", "9999-12", "1899-12"])
def test_month_out_of_range_says_so(bad: str) -> None:
    """A well-formed month whose year the program cannot hold is out of range, not "not a month"."""
    with pytest.raises(ValidationError) as e:
        M.check_month(bad)
    assert e.value.rule == "range" and "out of range" in e.value.message and "超出范围" in e.value.message
    assert "not a month" not in e.value.message


@pytest.mark.parametrize(
    "typed", ["2026年3月", "2026年03月", "202603", "2026/03", "2026.3", " 2026 年 3 月 "]
)
def test_the_usual_month_forms_are_read(typed: str) -> None:
    from qi_station.core.months import check_month

    assert check_month(typed) == "2026-03"


def test_an_activity_date_too_late_states_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tomorrow is allowed: the message says 最晚为明天, not 晚于今天."""
    from datetime import date

    from qi_station.core.clock import check_not_future
    from qi_station.core.errors import ValidationError

    monkeypatch.setenv("QI_STATION_NOW", "2026-03-20T10:00:00+08:00")
    check_not_future(date(2026, 3, 21), "date")
    with pytest.raises(ValidationError) as e:
        check_not_future(date(2026, 3, 22), "date")
    assert "最晚为明天（2026-03-21" in e.value.message and "晚于今天" not in e.value.message
