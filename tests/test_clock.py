"""One clock: ``QI_STATION_NOW`` is read in ``core.clock`` only, and every "now" honours it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qi_station.core.errors import ValidationError
from qi_station.core.validate import uscc_check_char

PACKAGE = Path(__file__).resolve().parents[1] / "qi_station"
USCC = "91370100MA3C00001"
USCC += uscc_check_char(USCC)


def _station(tmp_path: Path) -> Path:
    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station

    db = tmp_path / "station.db"
    open_db(db)
    init_station(db, code="QI0001", name="测试工作站", region_code="370100")
    return db


def _create(db: Path, received: str) -> dict[str, object]:
    from qi_station.services import ledger

    inp = ledger.RequestInput(
        enterprise="济南甲科技有限公司",
        uscc=USCC,
        elements="计量",
        title="需求",
        received_at=received,
        operator="测试员",
    )
    return ledger.create_request(db, inp)


def _form_default() -> str:
    """What the request form puts in 受理时间 (screens/request_form.py, on_mount)."""
    from qi_station.core.clock import env_now, local

    return local(env_now()).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("pinned", ["2025-06-01T10:00:00+08:00", "2099-06-01T10:00:00+08:00"])
def test_the_forms_default_time_is_accepted_when_now_is_pinned(
    pinned: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QI_STATION_NOW", pinned)
    db = _station(tmp_path)
    default = _form_default()
    assert default == pinned[:16].replace("T", " ")
    r = _create(db, default)  # a pinned "now" in the future used to be refused as "in the future"
    assert r["number"]


def test_the_ledger_checks_times_against_the_pinned_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QI_STATION_NOW", "2025-06-01T10:00:00+08:00")
    db = _station(tmp_path)
    with pytest.raises(ValidationError) as e:
        _create(db, "2025-06-02T10:00:00+08:00")  # a day after "now" (long before the wall clock)
    assert (e.value.field, e.value.rule) == ("received_at", "not_future")


def test_qi_station_now_is_read_in_one_place() -> None:
    read = re.compile(r"""(environ\.get|getenv|environ\[)\(?\s*["']QI_STATION_NOW""")
    where = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if read.search(p.read_text(encoding="utf-8"))
    )
    assert where == ["core/clock.py"]


def test_iso_local_and_local_day_agree_with_the_zone_every_hour() -> None:
    """iso_local / local_date / local_day keep the offset per UTC hour (issue 13): the same answers as
    converting each time through the zone, also over Shanghai's summer-time years (1940s, 1986-91) and
    the old local mean time (+08:05:43, not whole hours)."""
    import random
    from datetime import UTC, datetime, timedelta

    from qi_station.core.clock import TZ, iso_local, local_date, local_day

    rnd = random.Random(13)
    base = datetime(1900, 6, 1)
    for i in range(0, 100 * 365 * 24, 11):
        dt = base + timedelta(hours=i, minutes=rnd.randrange(60), seconds=rnd.randrange(60))
        dt = dt.replace(microsecond=rnd.choice([0, rnd.randrange(10**6)]))
        want = dt.replace(tzinfo=UTC).astimezone(TZ)
        iso = want.isoformat(timespec="seconds")
        for text in (dt.isoformat(sep=" "), dt.isoformat(), dt.isoformat(sep=" ", timespec="seconds")):
            assert iso_local(text) == iso, text
            assert local_day(text) == want.date(), text
        assert iso_local(dt) == iso and local_date(dt) == want.date(), dt
    assert iso_local("2025-10-01T05:00:00+05:00") == "2025-10-01T13:00:00+08:00"  # a zone is read as UTC
    assert iso_local("not a time") == "not a time" and iso_local(None) is None


def test_iso_local_reads_a_cached_hour_only_as_parsing_would() -> None:
    """With the hour converted before, a stored time (plain seconds, ``.fff`` or ``.ffffff``) takes the
    cached road (issue 13: stored times carry microseconds); anything else -- a bad minute or second,
    another fraction, non-ASCII digits, a zone -- gives what parsing it gives."""
    from qi_station.core import clock

    hour = "2024-05-01 00"
    texts = [
        f"{hour}:31:48",
        f"{hour}:31:48.520000",
        f"{hour}:31:48.520",
        f"{hour}:31:48.5",
        f"{hour}:31:48.12345",
        f"{hour}:61:00.000000",
        f"{hour}:31:60",
        f"{hour}:31:48.\uff11\uff12\uff13\uff14\uff15\uff16",
        f"{hour}:31:48.12a456",
        f"{hour}:31:48+05:00",
        f"{hour}:31:48.520000Z",
    ]
    parsed = {}
    for text in texts:
        clock._HOUR_TEXT.clear()
        parsed[text] = clock.iso_local(text)
    clock.iso_local(f"{hour}:00:00")  # the hour is cached now
    for text in texts:
        assert clock.iso_local(text) == parsed[text], text
    assert parsed[f"{hour}:31:48.520000"] == "2024-05-01T08:31:48+08:00"
    assert parsed[f"{hour}:61:00.000000"] == f"{hour}:61:00.000000"


def test_present_rows_gives_what_present_times_gives_each_row() -> None:
    """``present_rows`` (the ledger list's in-place road) converts every time of every row as
    ``present_times`` does: plain and fractional seconds, hours seen and not seen, odd texts, datetimes,
    None; other keys untouched."""
    from datetime import datetime

    from qi_station.core import clock

    hour = "2024-05-01 00"
    times: list[object] = [
        f"{hour}:31:48",
        f"{hour}:31:48.520000",
        f"{hour}:31:48.520",
        f"{hour}:31:48.5",
        f"{hour}:61:00.000000",
        f"{hour}:31:48.\uff11\uff12\uff13\uff14\uff15\uff16",
        f"{hour}:31:48+05:00",
        "2024-05-01T00:31:48",
        "not a time",
        "",
        None,
        datetime(2024, 5, 1, 0, 31, 48),
        "1988-07-01 12:00:00",  # Asia/Shanghai kept summer time then
    ]
    rows = [
        {"id": str(i), "received_at": t, "updated_at": times[-1 - i], "title": "2024-05-01 00:31:48"}
        for i, t in enumerate(times)
    ]
    for warm in (False, True):
        if not warm:
            clock._HOUR_TEXT.clear()
        expected = [clock.present_times(r) for r in rows]
        if not warm:
            clock._HOUR_TEXT.clear()
        got = clock.present_rows([dict(r) for r in rows])
        assert got == expected
        assert [list(r) for r in got] == [list(r) for r in expected]  # same keys, same order
