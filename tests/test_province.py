"""The province's true picture (issue 10): each station's own profile travels to the hub (enrollment,
every sync, bundles) and the province report groups stations by it; enterprises are counted where they
are (their location), 莱芜's 3712xx codes in 济南. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_sync_util import pg_available, pg_create, pg_drop, rows, uscc

from qi_station.core.errors import ValidationError
from qi_station.core.months import current_month
from qi_station.db.engine import open_db
from qi_station.reports.figures import monthly_report
from qi_station.reports.queries import COUNT_KEYS
from qi_station.services import enterprises, ledger
from qi_station.services.station import init_station, set_profile
from qi_station.sync.proto import SyncError
from qi_station.sync.station import bundles as B
from qi_station.sync.station import client as C

PG = pg_available()
ADDITIVE = (*COUNT_KEYS, "open_at_end", "overdue_at_end", "problems_solved")


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_url(request: Any, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    if not PG:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    url = pg_create()
    try:
        yield url
    finally:
        from qi_station.sync.hub.store import Hub

        Hub(url).dispose()
        pg_drop(url)


def _req(db: Path, name: str, code: str, title: str = "计量咨询", phone: str | None = None) -> dict[str, Any]:
    return ledger.create_request(
        db,
        ledger.RequestInput(enterprise=name, uscc=code, elements="metrology", title=title, phone=phone),
    )


def test_province_report_groups_stations_by_their_own_profile(hub_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub

    hub = Hub(hub_url)
    hub.init(demo=False)
    tc = TestClient(create_app(hub_url))
    try:
        # 济南 莱芜区: the station sets its own profile at `init`, then enrolls (the profile goes with it)
        jn = open_db(tmp_path / "jn.db")
        init_station(
            jn,
            code="JN01",
            region_code="370116",
            park="莱芜高新区",
            type_="园区工作站",
            service_mode="政府引导",
        )
        C.enroll(jn, hub.add_station("JN01", "莱芜高新区工作站")["token"], "http://testserver", http=tc)
        # 德州: the profile is set at the hub; the station enrolls before `init` and takes it
        dz = tmp_path / "dz.db"
        tok = hub.add_station(
            "DZ01",
            "德州中心",
            profile={"region_code": "371402", "station_type": "综合服务中心", "service_mode": "Market-led"},
        )["token"]
        C.enroll(dz, tok, "http://testserver", http=tc)
        # 烟台: offline (bundles only), profile changed with `station set` after enrollment
        yt = tmp_path / "yt.db"
        C.enroll(yt, hub.add_station("YT01", "烟台龙头企业站")["token"])
        set_profile(yt, region="370602", type_="龙头企业", mode="区域集约", park="芝罘园区")

        laiwu_a, laiwu_b = uscc(1, "371202"), uscc(2, "371203")  # issued in 莱芜 before 2019
        prov_located, prov_unknown = uscc(3, "370000"), uscc(4, "370000")
        _req(jn, "莱城钢铁", laiwu_a, phone="0634-6123456")  # the retired 0634: 0531 + 7 today
        _req(jn, "钢城机械", laiwu_b)
        _req(jn, "钢城机械", laiwu_b, "标准咨询")
        _req(jn, "鲁信集团", prov_located, phone="76543210")  # no city yet: the station's area code
        enterprises.locate_enterprise(jn, prov_located, "370116")
        _req(jn, "某省属企业", prov_unknown)
        _req(dz, "历下电子", uscc(5, "370102"))
        _req(dz, "德城食品", uscc(6, "371402"))
        _req(yt, "芝罘海产", uscc(7, "370602"))
        _req(yt, "芝罘海产", uscc(7, "370602"), "检测咨询")

        for db in (jn, dz):
            C.run_sync(db, http=tc, sleep=lambda s: None)
        up = tmp_path / "yt-up.zip"
        B.export_bundle(yt, up)
        assert hub.import_bundle(up)["status"] == "imported"

        assert rows(jn, "SELECT phone_e164 FROM enterprise WHERE uscc = ?", (laiwu_a,)) == [
            ("+8653176123456",)
        ]
        assert rows(jn, "SELECT phone_e164 FROM enterprise WHERE uscc = ?", (prov_located,)) == [
            ("+8653176543210",)
        ]
        got = {s["code"]: s for s in hub.stations()}
        assert {
            c: (s["region_code"], s["station_type"], s["service_mode"], s["park"]) for c, s in got.items()
        } == {
            "JN01": ("370116", "园区工作站", "政府引导", "莱芜高新区"),
            "DZ01": ("371402", "综合服务中心", "市场主导", None),
            "YT01": ("370602", "龙头企业", "区域集约", "芝罘园区"),
        }
        assert got["JN01"]["city_code"] == "370100" and got["JN01"]["county_code"] == "370116"
        assert rows(dz, "SELECT region_code, type, service_mode FROM station") == [
            ("371402", "综合服务中心", "市场主导")
        ]

        rep = monthly_report(hub_url, current_month(), hub=True)
        stations = {s["station"]["code"]: s for s in rep["stations"]}
        assert {
            c: (s["city"]["code"], s["county"]["code"], s["type"]["code"], s["mode"]["code"])
            for c, s in stations.items()
        } == {
            "JN01": ("370100", "370116", "园区工作站", "政府引导"),
            "DZ01": ("371400", "371402", "综合服务中心", "市场主导"),
            "YT01": ("370600", "370602", "龙头企业", "区域集约"),
        }
        assert stations["JN01"]["city"]["name"] == "济南市" and stations["JN01"]["county"]["name"] == "莱芜区"
        assert [c["city"]["code"] for c in rep["cities"]] == ["370100", "370600", "371400"]
        assert [c["county"]["code"] for c in rep["counties"]] == ["370116", "370602", "371402"]
        assert rep["received"] == 9
        for group in ("cities", "counties", "types", "modes"):
            assert sorted(c for g in rep[group] for c in g["stations"]) == ["DZ01", "JN01", "YT01"], group
            for k in ADDITIVE:
                assert rep[k] == sum(g[k] for g in rep[group]), (group, k)
        # enterprises where they are: 莱芜 codes and the located province-level group in 济南, one unknown
        # (requests received: 3 of 莱芜 enterprises + 1 located at JN, 1 of 历下 at DZ)
        assert rep["by_city"] == {"370100": 5, "370600": 2, "371400": 1, "unknown": 1}
        assert "371200" not in json.dumps(
            {k: rep[k] for k in ("cities", "counties", "by_city")}, ensure_ascii=False
        )

        # the profile travels on every sync: a change with nothing else to upload still reaches the hub
        set_profile(dz, park="德州经开区")
        C.run_sync(dz, http=tc, sleep=lambda s: None)
        assert {s["code"]: s["park"] for s in hub.stations()}["DZ01"] == "德州经开区"
        # a profile the core refuses is refused at the hub too, naming the field
        with pytest.raises(SyncError) as ei:
            hub.push({"code": "DZ01"}, [], profile={"station_type": "分站"})
        assert ei.value.status == 422 and ei.value.data["field"] == "station_type"
        with pytest.raises(ValidationError) as vi:  # with its other fields, every bad one at once
            hub.add_station("XX01", "x", profile={"region_code": "371200"})  # 莱芜 is no current place
        assert vi.value.field == "region"
        assert "XX01" not in {s["code"] for s in hub.stations()}
    finally:
        tc.close()
        dispose_all()
        hub.dispose()


def test_a_station_at_a_city_level_region_is_counted_as_its_city_level_county_not_unknown() -> None:
    """An outside tester's finding: the hub's counties table put a station whose region is a city-level
    code (370100: no county) under "unknown"; it is 济南市（市本级）, as an enterprise registered there is
    counted (``reports.quality.place_county``, one rule)."""
    from datetime import datetime

    from qi_station.reports.figures import hub_report
    from qi_station.reports.labels import group_name
    from qi_station.reports.quality import enterprise_county, place_county
    from qi_station.reports.queries import Acc, Details, Raw, last_months, profile_entry

    month = "2026-11"
    stations = {
        "JN09": profile_entry("JN09", "济南市本级站", "370100", None, None, None, False, "hub"),
        "LX01": profile_entry("LX01", "历下站", "370102", None, None, None, False, "hub"),
        "XX01": profile_entry("XX01", "无地区站", None, None, None, None, False, "hub"),
    }
    raw = Raw(
        month,
        last_months(month, 12),
        {c: Acc() for c in stations},
        stations,
        Details([]),
        datetime(2026, 12, 1),
    )
    rep = hub_report(raw)
    counties = {g["county"]["code"]: g for g in rep["counties"]}
    assert set(counties) == {"370100", "370102", "unknown"}
    assert counties["370100"]["stations"] == ["JN09"] and counties["unknown"]["stations"] == ["XX01"]
    assert counties["370100"]["county"]["name"] == "济南市（市本级）"
    assert group_name("counties", counties["370100"], "zh") == "济南市（市本级）"
    assert group_name("counties", counties["370100"], "en") == "济南市 (city level) 370100"
    assert group_name("counties", counties["370102"], "zh") == "济南市历下区"
    st = {s["station"]["code"]: s for s in rep["stations"]}
    assert st["JN09"]["county"]["code"] == "370100"
    # the same rule as an enterprise's
    assert place_county(None, "370100") == enterprise_county({"enterprise_city": "370100"}) == "370100"
    assert place_county(None, None) == "unknown"
