"""The holiday calendar travels from the hub to stations (issue 10 item 3): a year loaded at the hub
with ``hub calendar import`` reaches a station by HTTP pull and by a signed down bundle, replaces that
year whole, and is checked at both ends; promised dates then count it."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from test_sync_util import enroll_station, pg_available, pg_create, pg_drop, request_input, rows

from qi_station.db.write import SHIPPED_CALENDAR
from qi_station.services import ledger
from qi_station.sync.proto import SyncError
from qi_station.sync.station import bundles as B
from qi_station.sync.station import client as C

PG = pg_available()
RECEIVED = datetime(2026, 9, 30, 2, 0)  # 10:00 Asia/Shanghai, Wednesday 2026-09-30 (naive UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from fastapi.testclient import TestClient

    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub

    monkeypatch.setenv("QI_STATION_NOW", "2026-11-20T10:00:00+08:00")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    elif not PG:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    else:
        url = pg_create()
    hub = Hub(url)
    tc = None
    try:  # the database goes even when the setup or the test fails
        hub.init(demo=False)
        tc = TestClient(create_app(url))
        dbs = {}
        for code in ("ZB01", "QD02"):
            db = tmp_path / f"{code}.db"
            enroll_station(db, hub, tc, code)
            # a station installed before 2026 was published: its shipped calendar ends with 2025
            with sqlite3.connect(db) as c:
                c.execute("DELETE FROM holiday WHERE year = 2026")
            dbs[code] = db
        yield hub, tc, dbs
    finally:
        if tc is not None:
            tc.close()
        dispose_all()
        hub.dispose()
        if request.param != "sqlite":
            pg_drop(url)


def year_file(tmp_path: Path, year: int, drop: str | None = None, add: str | None = None) -> Path:
    lines = [
        ln
        for ln in SHIPPED_CALENDAR.read_text(encoding="utf-8").splitlines()
        if ln.startswith(("year,", f"{year},")) and (drop is None or drop not in ln)
    ]
    p = tmp_path / f"cal-{year}-{drop or ''}{add or ''}.csv"
    p.write_text("\n".join(lines + ([add] if add else [])) + "\n", encoding="utf-8")
    return p


def urgent_promise(db: Path) -> tuple[str, list[str]]:
    inp = request_input(1, 1)
    inp.urgency, inp.received_at = "urgent", RECEIVED
    r = ledger.create_request(db, inp)
    return str(r["promised_date"]), r["warnings"]


def year_rows(db: Path, year: int) -> list[tuple[Any, ...]]:
    return rows(db, "SELECT day, kind, name FROM holiday WHERE year = ? ORDER BY day", (year,))


def test_a_year_loaded_at_the_hub_reaches_a_station_by_http(env: Any, tmp_path: Path) -> None:
    hub, tc, dbs = env
    a = dbs["ZB01"]
    # without 2026 the promise counts Monday-Friday only, and says so: Thu 10/1, Fri 10/2, Mon 10/5
    promised, warnings = urgent_promise(a)
    assert promised == "2026-10-05" and len(warnings) == 1 and "2026" in warnings[0]
    res = hub.import_calendar(year_file(tmp_path, 2026))
    assert res["years"] == [2026] and res["unchanged"] == ["2026"]  # hub init loaded the shipped years
    assert hub.import_calendar(year_file(tmp_path, 2026))["unchanged"] == ["2026"]
    C.run_sync(a, http=tc, sleep=lambda s: None)
    got = year_rows(a, 2026)
    assert len(got) == 39 and ("2026-10-10", "work", "国庆节") in got
    # now the National Day holiday and the worked Saturday count: Thu 10/8, Fri 10/9, Sat 10/10
    assert urgent_promise(a) == ("2026-10-10", [])
    # a corrected 2026 replaces the year whole (10/10 no longer worked, 10/9 off); 2025 untouched
    before_2025 = year_rows(a, 2025)
    fixed = year_file(tmp_path, 2026, drop="2026-10-10", add="2026,2026-10-09,off,国庆节")
    assert hub.import_calendar(fixed)["updated"] == ["2026"]
    C.run_sync(a, http=tc, sleep=lambda s: None)
    got = year_rows(a, 2026)
    assert ("2026-10-10", "work", "国庆节") not in got and ("2026-10-09", "off", "国庆节") in got
    assert len(got) == 39 and year_rows(a, 2025) == before_2025
    assert urgent_promise(a) == ("2026-10-13", [])  # Thu 10/8, Mon 10/12, Tue 10/13


def test_a_year_reaches_an_offline_station_by_bundle(env: Any, tmp_path: Path) -> None:
    hub, _tc, dbs = env
    b = dbs["QD02"]
    hub.import_calendar(year_file(tmp_path, 2026))
    down = tmp_path / "down.zip"
    hub.export_bundle("QD02", down)
    assert B.import_bundle(b, down)["status"] == "imported"
    assert len(year_rows(b, 2026)) == 39
    assert urgent_promise(b) == ("2026-10-10", [])


def test_a_bad_calendar_is_refused_at_the_hub_and_at_the_station(env: Any, tmp_path: Path) -> None:
    hub, tc, dbs = env
    a = dbs["ZB01"]
    for bad, code in (
        (year_file(tmp_path, 2026, add="2026,2027-01-01,off,元旦"), "bad_reference"),  # outside its year
        (year_file(tmp_path, 2026, add="2026,2026-10-12,work,国庆节"), "bad_reference"),  # a Monday "worked"
        (year_file(tmp_path, 2026, add="2026,2026-11-02,rest,x"), "bad_reference"),
        (tmp_path / "missing.csv", "no_file"),
    ):
        with pytest.raises(SyncError) as e:
            hub.import_calendar(bad)
        assert e.value.code == code
    assert [r["rev"] for r in hub.references()] == [1, 1]  # the shipped 2025 and 2026 (hub init)
    # a document that got into the hub without the check (a hand-edited database) is refused by the
    # station before use: the page is not applied and the calendar is unchanged
    import sqlalchemy as sa

    hub.import_calendar(year_file(tmp_path, 2026))
    with hub.engine.begin() as c:
        c.execute(sa.text("UPDATE reference SET body = body || :x"), {"x": "2026,2026-10-12,work,x\n"})
    with pytest.raises(SyncError) as e:
        C.run_sync(a, http=tc, sleep=lambda s: None)
    assert e.value.code == "bad_reference"
    assert year_rows(a, 2026) == [] and rows(a, "SELECT COUNT(*) FROM reference") == [(0,)]
