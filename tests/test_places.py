"""Places of Shandong (GB/T 2260) in the core, codes as issued (GB 32100 warnings), the station profile's
rules, an enterprise's location, and landlines of former 莱芜 numbers."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from qi_station.core import domain, places
from qi_station.core import validate as v
from qi_station.core.errors import NotFoundError, ValidationError
from qi_station.services.phones import normalize_phone


def _uscc(first17: str) -> str:
    return first17 + v.uscc_check_char(first17)


def test_sixteen_current_cities_and_their_counties() -> None:
    assert len(places.CITIES) == 16 and "371200" not in places.CITIES
    assert all(c.endswith("00") and c[:2] == "37" for c in places.CITIES)
    for city, counties in places.COUNTIES.items():
        assert city in places.CITIES
        for code, name in counties:
            assert code[:4] == city[:4] and not code.endswith("00") and name
    assert set(places.COUNTIES) == set(places.CITIES)
    assert places.COUNTY_NAMES["370116"] == "莱芜区" and places.COUNTY_NAMES["370117"] == "钢城区"
    # a historic code is never a current one, and maps onto one
    for old, (_name, now) in places.HISTORIC.items():
        assert old not in places.COUNTY_NAMES and old not in places.CITIES
        assert now in places.COUNTY_NAMES or now in places.CITIES


@pytest.mark.parametrize(
    ("code", "county", "city", "name"),
    [
        ("371202", "370116", "370100", "莱芜区"),  # 莱城区 (莱芜市) -> 济南市莱芜区
        ("371203", "370117", "370100", "钢城区"),
        ("371200", None, "370100", "济南市"),
        ("371299", None, "370100", "济南市"),  # unknown, but a 莱芜 code: 济南
        ("370102", "370102", "370100", "历下区"),
        ("370100", None, "370100", "济南市"),
        ("370101", None, "370100", "济南市"),  # 市辖区
        ("370000", None, None, "山东省"),
        ("371626", "371681", "371600", "邹平市"),
        ("110108", None, None, "110108"),
        ("", None, None, ""),
    ],
)
def test_current_place_of_any_code(code: str, county: str | None, city: str | None, name: str) -> None:
    assert places.county_of(code) == county
    assert places.city_of(code) == city
    assert places.name_of(code) == name


def test_location_defaults_to_the_registered_county() -> None:
    assert places.location(None, "371202") == ("370116", "370100")
    assert places.location(None, "370000") == (None, None)  # province level: nowhere until located
    assert places.location("370116", "370000") == ("370116", "370100")
    assert places.location("370602", "370102") == ("370602", "370600")  # where it is, not where registered
    assert places.location(None, "370100") == (None, "370100")
    assert places.full_name("371202") == "济南市莱芜区"


def test_a_former_laiwu_city_code_is_named_as_todays_districts() -> None:
    """Outside operator (opfix3) item 4: a USCC issued by 莱芜市 itself (371200, 371201) showed
    "登记地 济南市"; the operator guide says 济南市莱芜区、钢城区. Its city stays 济南, no single county."""
    assert places.FORMER_AREA == {"371200": ("370116", "370117"), "371201": ("370116", "370117")}
    for code in ("371200", "371201"):
        assert places.full_name(code) == "济南市莱芜区、钢城区"
        assert places.location(None, code) == (None, "370100")
    assert places.full_name("371203") == "济南市钢城区" and places.full_name("370100") == "济南市"
    guide = Path(__file__).resolve().parents[1] / "docs" / "operator-guide-zh.md"
    assert "原莱芜市本级（371200、371201）显示“济南市莱芜区、钢城区”" in guide.read_text(encoding="utf-8")


def test_region_and_county_rules() -> None:
    assert v.check_region("370116") == "370116" and v.check_region("370100") == "370100"
    with pytest.raises(ValidationError) as e:
        v.check_region("371202")
    assert e.value.rule == "historic" and "370116" in e.value.message
    for bad in ("371200", "370000", "379999", "1234567", "37010a"):
        with pytest.raises(ValidationError):
            v.check_region(bad)
    with pytest.raises(ValidationError) as e:
        v.check_county("370100", "county")
    assert (e.value.field, e.value.rule) == ("county", "county")


def test_station_profile_vocabulary() -> None:
    assert v.parse_station_type("park workstation") == "园区工作站"
    assert v.parse_service_mode("政府引导") == "政府引导"
    assert set(domain.STATION_TYPE_EN) == set(domain.STATION_TYPES)
    assert set(domain.SERVICE_MODE_EN) == set(domain.SERVICE_MODES)
    with pytest.raises(ValidationError) as e:
        v.parse_service_mode("自主")
    assert e.value.field == "service_mode" and "区域集约" in e.value.message
    with pytest.raises(ValidationError) as e:
        v.check_station_profile(None, "x" * 101, None, None)
    assert e.value.field == "park"


@pytest.mark.parametrize(
    "first17",
    [
        "91370102MA3C00001",
        "93371722MA3C00002",  # farmers' cooperative
        "81370102MA3C00003",  # trade union
        "N2370102MA3C00004",  # village collective
        "Y1370102MA3C00005",
        "52370000MA3C00006",  # 民办非企业单位 registered at the province
        "91371202MA3C00007",  # historic 莱芜: known
        "91110108MA3C00008",  # outside Shandong: the province is checked
        "91100000MA3C00009",  # a national authority
    ],
)
def test_uscc_as_issued_no_warning(first17: str) -> None:
    assert v.uscc_warnings(_uscc(first17)) == []


@pytest.mark.parametrize(
    ("first17", "rules"),
    [
        ("94370102MA3C00001", ["uscc_category"]),
        ("X1370102MA3C00002", ["uscc_category"]),
        ("N5370102MA3C00003", ["uscc_category"]),
        ("91379999MA3C00004", ["uscc_region"]),
        ("91990000MA3C00005", ["uscc_region"]),
        ("82379901MA3C00006", ["uscc_category", "uscc_region"]),
    ],
)
def test_uscc_unknown_pair_or_region_warns_but_is_valid(first17: str, rules: list[str]) -> None:
    code = _uscc(first17)
    assert v.validate_uscc(code) == code  # never refused
    got = v.uscc_warnings(code)
    assert [r for r, _m in got] == rules
    assert all(" / " in m for _r, m in got)  # bilingual


def test_former_laiwu_landlines() -> None:
    # typed with the retired 0634: dialled as 0531 + 7 since 2019
    assert normalize_phone("0634-6123456") == ("+8653176123456", "0531 7612 3456")
    # a local number of an enterprise registered in 莱芜 (city 济南 today) gets 0531
    assert normalize_phone("76123456", city_code=places.city_of("371202"))[0] == "+8653176123456"
    with pytest.raises(ValidationError):
        normalize_phone("76123456")  # no city: no area code to assume


def test_enterprise_location_and_phone_from_station(tmp_path: Path) -> None:
    from qi_station.db.engine import open_db
    from qi_station.services import enterprises, ledger
    from qi_station.services.station import init_station

    db = open_db(tmp_path / "s.db")
    init_station(db, code="LW01", region_code="370117")
    prov = _uscc("91370000MA3C00011")
    r = ledger.create_request(
        db,
        ledger.RequestInput(
            enterprise="鲁企集团", uscc=prov, elements="testing", title="t", phone="76123456"
        ),
    )
    c = sqlite3.connect(db)
    q = "SELECT region_code, county_code, city_code, phone_e164 FROM enterprise WHERE uscc = ?"
    assert c.execute(q, (prov,)).fetchone() == ("370000", None, None, "+8653176123456")
    outbox = c.execute("SELECT count(*) FROM outbox WHERE table_name = 'enterprise'").fetchone()[0]
    row = enterprises.locate_enterprise(db, prov.lower(), "370117")
    assert (row["county_code"], row["city_code"], row["region_code"]) == ("370117", "370100", "370000")
    assert c.execute(q, (prov,)).fetchone()[:3] == ("370000", "370117", "370100")
    assert "济南" in c.execute("SELECT haystack FROM enterprise WHERE uscc = ?", (prov,)).fetchone()[0]
    assert (
        c.execute("SELECT count(*) FROM outbox WHERE table_name = 'enterprise'").fetchone()[0] == outbox + 1
    )
    # refused inputs write nothing
    for uscc, county, err in (
        (prov, "370100", ValidationError),
        (prov, "371202", ValidationError),
        (_uscc("91370102MA3C00012"), "370102", NotFoundError),
    ):
        with pytest.raises(err):
            enterprises.locate_enterprise(db, uscc, county)
    assert (
        c.execute("SELECT count(*) FROM outbox WHERE table_name = 'enterprise'").fetchone()[0] == outbox + 1
    )
    assert r["number"].startswith("LW01-")
    c.close()


def _cli(args: list[str], db: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "QI_STATION_DB": str(db), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "qi_station", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_profile_locate_and_uscc_warning(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    p = _cli(["init", "--station-code", "LW01", "--region", "371202"], db)
    assert p.returncode == 2 and "370116" in p.stderr and not db.exists()
    p = _cli(["init", "--station-code", "LW01", "--region", "370116", "--park", "莱芜高新区"], db)
    assert p.returncode == 0, p.stderr
    assert "济南市莱芜区" in p.stdout and "莱芜市" not in p.stdout
    p = _cli(["station", "set", "--type", "Leading enterprise", "--mode", "市场主导", "--json"], db)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert (got["region_code"], got["park"], got["station_type"], got["service_mode"], got["city_code"]) == (
        "370116",
        "莱芜高新区",
        "龙头企业",
        "市场主导",
        "370100",
    )
    p = _cli(["station", "set", "--mode", "自营"], db)
    assert p.returncode == 2 and "service_mode" in p.stderr
    odd = _uscc("94370000MA3C00013")
    p = _cli(
        ["request", "add", "--enterprise", "某集团", "--uscc", odd, "--elements", "计量", "--title", "t"], db
    )
    assert p.returncode == 0, p.stderr
    assert "warning: uscc:" in p.stderr and "94" in p.stderr
    p = _cli(["enterprise", "locate", odd, "--county", "370116", "--json"], db)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["city_code"] == "370100"


def test_cli_hub_add_station_with_profile_and_stations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    db = tmp_path / "unused.db"
    assert _cli(["hub", "init", "--database-url", url], db).returncode == 0
    p = _cli(
        ["hub", "add-station", "DZ01", "--name", "德州站", "--region", "371200", "--database-url", url], db
    )
    assert p.returncode == 2 and "region" in p.stderr  # 莱芜 is not a current place: nothing registered
    p = _cli(
        [
            "hub",
            "add-station",
            "DZ01",
            "--name",
            "德州站",
            "--region",
            "371402",
            "--type",
            "综合服务中心",
            "--mode",
            "Market-led",
            "--park",
            "德州经开区",
            "--database-url",
            url,
        ],
        db,
    )
    assert p.returncode == 0, p.stderr
    p = _cli(["hub", "stations", "--database-url", url], db)
    assert p.returncode == 0, p.stderr
    line = next(x for x in p.stdout.splitlines() if x.startswith("DZ01"))
    assert (
        "德州市德城区 371402" in line
        and "综合服务中心" in line
        and "市场主导" in line
        and "德州经开区" in line
    )
    p = _cli(["hub", "stations", "--json", "--database-url", url], db)
    got = json.loads(p.stdout)
    assert [(s["code"], s["region_code"], s["city_code"], s["county_code"]) for s in got] == [
        ("DZ01", "371402", "371400", "371402")
    ]
