"""Working-day arithmetic (issue 13): ``Calendar.add_workdays`` / ``promise_date`` / ``workdays_between``
count by weeks and bisect, and must give exactly what the day-by-day walk gave. The walk is kept here
only, as the oracle, and compared on random calendars (years covered or not, days off on weekdays and
weekends, worked days on weekends and weekdays, a day both off and worked), random dates and spans."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qi_station.core.errors import ValidationError
from qi_station.core.rectify import RECTIFY_WORKDAYS, rectify_due
from qi_station.core.workdays import MAX_WORKDAYS, Calendar, CalendarGap, promise_date
from qi_station.db.write import SHIPPED_CALENDAR

YEARS = range(2022, 2029)
FIRST, LAST = date(2022, 1, 1), date(2028, 12, 31)


# ---- the oracle: the day-by-day walk the arithmetic replaced, over the per-day rule ``Calendar._workday``


def walk_add(cal: Calendar, start: date, n: int, strict: bool, gaps: set[int]) -> date:
    d = start
    while n > 0:
        d += timedelta(days=1)
        if cal._workday(d, strict, gaps):
            n -= 1
    return d


def walk_between(cal: Calendar, a: date, b: date) -> int:
    n, d = 0, a
    while d < b:
        d += timedelta(days=1)
        n += cal._workday(d, True, set())
    return n


def strict_or_gap(fn: object, *args: object) -> object:
    try:
        return fn(*args)  # type: ignore[operator]
    except CalendarGap as e:
        return ("gap", e.year)


# ---- random calendars -------------------------------------------------------------------------------------
days = st.dates(min_value=FIRST, max_value=LAST)


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    years = draw(st.sets(st.sampled_from(list(YEARS)), max_size=len(YEARS)))
    # days off and worked anywhere (also in uncovered years, which must not count), some dense stretches
    # (a long holiday) and some days both off and worked (the worked day wins)
    off = draw(st.sets(days, max_size=60))
    for s in draw(st.lists(days, max_size=3)):
        off |= {s + timedelta(days=i) for i in range(draw(st.integers(1, 40)))}
    work = draw(st.sets(days, max_size=20)) | draw(
        st.sets(st.sampled_from(sorted(off) or [FIRST]), max_size=5)
    )
    return Calendar(frozenset(off), frozenset(work), frozenset(years))


spans = st.one_of(st.integers(0, 25), st.integers(0, MAX_WORKDAYS))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cal=calendars(), start=days, n=spans)
def test_add_workdays_is_the_walk(cal: Calendar, start: date, n: int) -> None:
    # strict: the same day, or CalendarGap naming the same (first) uncovered year
    assert strict_or_gap(cal.add_workdays, start, n) == strict_or_gap(walk_add, cal, start, n, True, set())
    # lenient (the promised date): the same day and the same uncovered years
    gaps: set[int] = set()
    want = walk_add(cal, start, n, False, gaps)
    got = promise_date(cal, start, n)
    assert (got.date, got.uncovered) == (want, tuple(sorted(gaps)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cal=calendars(), a=days, span=st.integers(-30, 800))
def test_workdays_between_is_the_walk(cal: Calendar, a: date, span: int) -> None:
    b = min(a + timedelta(days=span), LAST)
    assert strict_or_gap(cal.workdays_between, a, b) == strict_or_gap(walk_between, cal, a, b)


@settings(max_examples=200, deadline=None)
@given(start=st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)), n=spans)
def test_the_shipped_calendar_is_the_walk(start: date, n: int) -> None:
    from qi_station.core.workdays import read_calendar_text

    years = read_calendar_text(SHIPPED_CALENDAR.read_text(encoding="utf-8"))
    cal = Calendar.of([d for ds in years.values() for d in ds], years)
    gaps: set[int] = set()
    want = walk_add(cal, start, n, False, gaps)
    got = promise_date(cal, start, n)
    assert (got.date, got.uncovered) == (want, tuple(sorted(gaps)))
    assert rectify_due(start, cal) == walk_add(cal, start, RECTIFY_WORKDAYS, False, set())
    assert strict_or_gap(cal.add_workdays, start, n) == strict_or_gap(walk_add, cal, start, n, True, set())


def test_the_range_is_still_refused() -> None:
    cal = Calendar(years=frozenset({2026}))
    for n in (-1, MAX_WORKDAYS + 1):
        with pytest.raises(ValidationError) as e:
            cal.add_workdays(date(2026, 3, 2), n)
        assert e.value.rule == "range"
    # n = 0 is the day itself, even in an uncovered year (no day is counted)
    assert cal.add_workdays(date(2030, 3, 2), 0) == date(2030, 3, 2)


def test_a_day_both_off_and_worked_is_worked_everywhere() -> None:
    # Thursday 2026-03-05 off and worked: the walk counted it worked; the arithmetic must too
    d = date(2026, 3, 5)
    cal = Calendar(frozenset({d}), frozenset({d}), frozenset({2026}))
    assert cal.is_workday(d)
    assert cal.workdays_between(date(2026, 3, 4), d) == 1
    assert cal.add_workdays(date(2026, 3, 4), 1) == d


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cal=calendars(),
    first=days,
    span=st.integers(0, 400),
    asked=st.lists(st.integers(-40, 440), min_size=1, max_size=30),
)
def test_rectify_dues_of_many_days_are_rectify_due(
    cal: Calendar, first: date, span: int, asked: list[int]
) -> None:
    """The report's open-rectification list asks one due date per distinct rating day (``RectifyDues``, one
    list of working days and bisect): each is :func:`rectify_due`'s, also for a day before the list's first
    day or whose due date lies past it (a long holiday at the end), in covered and uncovered years."""
    from qi_station.core.rectify import RectifyDues

    dues = RectifyDues(cal, first, first + timedelta(days=span))
    for k in asked:
        day = first + timedelta(days=k)
        assert dues(day) == rectify_due(day, cal) == walk_add(cal, day, RECTIFY_WORKDAYS, False, set())


def test_workday_ordinals_are_the_walks_days() -> None:
    """``Calendar.workday_ordinals`` lists exactly the days the lenient walk counts (an uncovered year
    Monday-Friday, a worked Saturday, a weekday off)."""
    sat, mon = date(2026, 9, 26), date(2026, 10, 5)
    cal = Calendar(frozenset({mon}), frozenset({sat}), frozenset({2026}))
    first, last = date(2026, 9, 20), date(2027, 1, 10)
    got = cal.workday_ordinals(first, last)
    want = [
        d.toordinal()
        for i in range((last - first).days + 1)
        if cal._workday(d := first + timedelta(days=i), False, set())
    ]
    assert got == want
    assert sat.toordinal() in got and mon.toordinal() not in got
    assert date(2027, 1, 4).toordinal() in got and date(2027, 1, 9).toordinal() not in got
