"""Places for synthetic rows: city weights and short names. The county table itself is the core's
(:mod:`qi_station.core.places`): one home."""

from __future__ import annotations

from qi_station.core import places

#: historic 莱芜 counties (code, name then), for USCCs issued before 2019
LAIWU_COUNTIES = tuple((c, n) for c, (n, _cur) in places.HISTORIC.items() if c in ("371202", "371203"))
# Rough weights by economic size (more rows in 济南/青岛/烟台/潍坊).
CITY_WEIGHTS = {
    "370100": 14,
    "370200": 14,
    "370300": 7,
    "370400": 4,
    "370500": 5,
    "370600": 9,
    "370700": 9,
    "370800": 7,
    "370900": 5,
    "371000": 4,
    "371100": 3,
    "371300": 7,
    "371400": 5,
    "371500": 4,
    "371600": 4,
    "371700": 5,
}


def city_short(city_code: str) -> str:
    return places.CITIES[city_code].removesuffix("市")


def county_short(name: str) -> str:
    """'长清区' -> '长清', '单县' stays '单县' (one-character stems keep the suffix)."""
    return name[:-1] if len(name) > 2 else name
