"""The report's times in Asia/Shanghai (``reports.figures.local_iso``): its cached road for stored texts
(one conversion per UTC hour, minutes and seconds copied) gives what converting each time gives, on
either side of 1991 (Asia/Shanghai kept daylight saving until then) and for every stored form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from qi_station.core.clock import TZ
from qi_station.reports.figures import local_iso


def _reference(dt: datetime) -> str:
    return dt.replace(tzinfo=UTC).astimezone(TZ).isoformat(timespec="seconds")


@settings(max_examples=400, deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)))
def test_stored_texts_convert_as_datetimes(dt: datetime) -> None:
    want = _reference(dt)
    for text in (
        str(dt),
        dt.isoformat(),
        dt.strftime("%Y-%m-%d %H:%M:%S.%f"),
        dt.strftime("%Y-%m-%d %H:%M:%S"),
    ):
        assert local_iso(text) == want, text
        assert local_iso(text) == want, text  # the second time from the cache
    assert local_iso(dt) == want


def test_every_hour_of_the_daylight_saving_years() -> None:
    # Asia/Shanghai kept daylight saving (+09:00) from 1986 to 1991: every UTC hour, either side of each change
    dt, seen = datetime(1986, 1, 1, 0, 30, 15, 123456), set()
    while dt < datetime(1992, 1, 1):
        want = _reference(dt)
        assert local_iso(str(dt)) == want, dt
        seen.add(want[-6:])
        dt += timedelta(hours=1)
    assert seen == {"+08:00", "+09:00"}


def test_not_a_stored_text_is_converted_as_before() -> None:
    assert local_iso(None) is None
    aware = "2026-01-31T15:30:00+00:00"
    assert local_iso(aware) == "2026-01-31T23:30:00+08:00"
    dt = datetime(2026, 1, 31, 15, 30) + timedelta(microseconds=1)
    assert local_iso(dt) == "2026-01-31T23:30:00+08:00"
