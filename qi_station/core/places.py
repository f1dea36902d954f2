"""Places of Shandong (GB/T 2260): the 16 current cities, their current counties and districts, and the
historic codes still found in USCCs, each mapped to the place that holds it today.

A USCC keeps the region code where it was issued forever (characters 3-8), so codes of divisions that were
abolished or renamed are common: 莱芜市 (3712xx) was merged into 济南市 in 2019 (莱城区 → 莱芜区 370116,
钢城区 → 钢城区 370117). Every reader asks this module for the *current* city and county of a code.

Pure Python, standard library only.
"""

from __future__ import annotations

from typing import Final

PROVINCE_CODE: Final = "370000"
PROVINCE_NAME: Final = "山东省"

# ---- the 16 current cities ---------------------------------------------------------------------------
CITIES: Final = {
    "370100": "济南市",
    "370200": "青岛市",
    "370300": "淄博市",
    "370400": "枣庄市",
    "370500": "东营市",
    "370600": "烟台市",
    "370700": "潍坊市",
    "370800": "济宁市",
    "370900": "泰安市",
    "371000": "威海市",
    "371100": "日照市",
    "371300": "临沂市",
    "371400": "德州市",
    "371500": "聊城市",
    "371600": "滨州市",
    "371700": "菏泽市",
}

# ---- their current counties, districts and county-level cities -------------------------------------
COUNTIES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "370100": (
        ("370102", "历下区"),
        ("370103", "市中区"),
        ("370104", "槐荫区"),
        ("370105", "天桥区"),
        ("370112", "历城区"),
        ("370113", "长清区"),
        ("370114", "章丘区"),
        ("370115", "济阳区"),
        ("370116", "莱芜区"),
        ("370117", "钢城区"),
        ("370124", "平阴县"),
        ("370126", "商河县"),
    ),
    "370200": (
        ("370202", "市南区"),
        ("370203", "市北区"),
        ("370211", "黄岛区"),
        ("370212", "崂山区"),
        ("370213", "李沧区"),
        ("370214", "城阳区"),
        ("370215", "即墨区"),
        ("370281", "胶州市"),
        ("370283", "平度市"),
        ("370285", "莱西市"),
    ),
    "370300": (
        ("370302", "淄川区"),
        ("370303", "张店区"),
        ("370304", "博山区"),
        ("370305", "临淄区"),
        ("370306", "周村区"),
        ("370321", "桓台县"),
        ("370322", "高青县"),
        ("370323", "沂源县"),
    ),
    "370400": (
        ("370402", "市中区"),
        ("370403", "薛城区"),
        ("370404", "峄城区"),
        ("370405", "台儿庄区"),
        ("370406", "山亭区"),
        ("370481", "滕州市"),
    ),
    "370500": (
        ("370502", "东营区"),
        ("370503", "河口区"),
        ("370505", "垦利区"),
        ("370522", "利津县"),
        ("370523", "广饶县"),
    ),
    "370600": (
        ("370602", "芝罘区"),
        ("370611", "福山区"),
        ("370612", "牟平区"),
        ("370613", "莱山区"),
        ("370614", "蓬莱区"),
        ("370681", "龙口市"),
        ("370682", "莱阳市"),
        ("370683", "莱州市"),
        ("370685", "招远市"),
        ("370686", "栖霞市"),
        ("370687", "海阳市"),
    ),
    "370700": (
        ("370702", "潍城区"),
        ("370703", "寒亭区"),
        ("370704", "坊子区"),
        ("370705", "奎文区"),
        ("370724", "临朐县"),
        ("370725", "昌乐县"),
        ("370781", "青州市"),
        ("370782", "诸城市"),
        ("370783", "寿光市"),
        ("370784", "安丘市"),
        ("370785", "高密市"),
        ("370786", "昌邑市"),
    ),
    "370800": (
        ("370811", "任城区"),
        ("370812", "兖州区"),
        ("370826", "微山县"),
        ("370827", "鱼台县"),
        ("370828", "金乡县"),
        ("370829", "嘉祥县"),
        ("370830", "汶上县"),
        ("370831", "泗水县"),
        ("370832", "梁山县"),
        ("370881", "曲阜市"),
        ("370883", "邹城市"),
    ),
    "370900": (
        ("370902", "泰山区"),
        ("370911", "岱岳区"),
        ("370921", "宁阳县"),
        ("370923", "东平县"),
        ("370982", "新泰市"),
        ("370983", "肥城市"),
    ),
    "371000": (("371002", "环翠区"), ("371003", "文登区"), ("371082", "荣成市"), ("371083", "乳山市")),
    "371100": (("371102", "东港区"), ("371103", "岚山区"), ("371121", "五莲县"), ("371122", "莒县")),
    "371300": (
        ("371302", "兰山区"),
        ("371311", "罗庄区"),
        ("371312", "河东区"),
        ("371321", "沂南县"),
        ("371322", "郯城县"),
        ("371323", "沂水县"),
        ("371324", "兰陵县"),
        ("371325", "费县"),
        ("371326", "平邑县"),
        ("371327", "莒南县"),
        ("371328", "蒙阴县"),
        ("371329", "临沭县"),
    ),
    "371400": (
        ("371402", "德城区"),
        ("371403", "陵城区"),
        ("371422", "宁津县"),
        ("371423", "庆云县"),
        ("371424", "临邑县"),
        ("371425", "齐河县"),
        ("371426", "平原县"),
        ("371427", "夏津县"),
        ("371428", "武城县"),
        ("371481", "乐陵市"),
        ("371482", "禹城市"),
    ),
    "371500": (
        ("371502", "东昌府区"),
        ("371503", "茌平区"),
        ("371521", "阳谷县"),
        ("371522", "莘县"),
        ("371524", "东阿县"),
        ("371525", "冠县"),
        ("371526", "高唐县"),
        ("371581", "临清市"),
    ),
    "371600": (
        ("371602", "滨城区"),
        ("371603", "沾化区"),
        ("371621", "惠民县"),
        ("371622", "阳信县"),
        ("371623", "无棣县"),
        ("371625", "博兴县"),
        ("371681", "邹平市"),
    ),
    "371700": (
        ("371702", "牡丹区"),
        ("371703", "定陶区"),
        ("371721", "曹县"),
        ("371722", "单县"),
        ("371723", "成武县"),
        ("371724", "巨野县"),
        ("371725", "郓城县"),
        ("371726", "鄄城县"),
        ("371728", "东明县"),
    ),
}
COUNTY_NAMES: Final = {code: name for rows in COUNTIES.values() for code, name in rows}
COUNTY_CITY: Final = {code: city for city, rows in COUNTIES.items() for code, _ in rows}

# ---- historic codes (still in USCCs issued before the change) -> (name then, the current code) -------
HISTORIC: Final = {
    "371200": ("莱芜市", "370100"),  # merged into 济南市, 2019
    "371201": ("莱芜市市辖区", "370100"),
    "371202": ("莱城区", "370116"),  # now 济南市莱芜区
    "371203": ("钢城区", "370117"),  # now 济南市钢城区
    "370125": ("济阳县", "370115"),
    "370181": ("章丘市", "370114"),
    "370205": ("四方区", "370203"),
    "370282": ("即墨市", "370215"),
    "370284": ("胶南市", "370211"),
    "370521": ("垦利县", "370505"),
    "370634": ("长岛县", "370614"),
    "370684": ("蓬莱市", "370614"),
    "370802": ("市中区", "370811"),
    "370882": ("兖州市", "370812"),
    "371081": ("文登市", "371003"),
    "371421": ("陵县", "371403"),
    "371523": ("茌平县", "371503"),
    "371624": ("沾化县", "371603"),
    "371626": ("邹平县", "371681"),
    "371727": ("定陶县", "371703"),
}
HISTORIC_CITIES: Final = frozenset(c for c in HISTORIC if c.endswith("00"))
#: a former city's own code (and its 市辖区) -> the current counties its area is now: 371200 (莱芜市) ->
#: 370116 莱芜区, 370117 钢城区 (the counties its historic codes map to), named by :func:`full_name`
FORMER_AREA: Final = {
    code: tuple(now for old, (_, now) in HISTORIC.items() if old[:4] == code[:4] and now in COUNTY_NAMES)
    for code, (_, city) in HISTORIC.items()
    if code[:4] + "00" in HISTORIC_CITIES and city in CITIES
}

# City telephone area codes (a landline typed without one gets its city's). 莱芜's former 0634 numbers
# moved to 济南's 0531.
AREA_CODES: Final = {
    "370100": "531",
    "370200": "532",
    "370300": "533",
    "370400": "632",
    "370500": "546",
    "370600": "535",
    "370700": "536",
    "370800": "537",
    "370900": "538",
    "371000": "631",
    "371100": "633",
    "371300": "539",
    "371400": "534",
    "371500": "635",
    "371600": "543",
    "371700": "530",
}


def _six(code: object) -> str | None:
    c = code.strip() if isinstance(code, str) else ""
    return c if len(c) == 6 and c.isascii() and c.isdigit() else None


def current_code(code: str | None) -> str | None:
    """A code as it is today: a current city or county as it is, a historic one mapped (371202 ->
    370116), the province as it is, a city's 市辖区 (xxxx01) as its city; None when GB/T 2260 (as this
    table knows it) has no such Shandong code."""
    c = _six(code)
    if c is None:
        return None
    if c in HISTORIC:
        return HISTORIC[c][1]
    if c == PROVINCE_CODE or c in CITIES or c in COUNTY_NAMES:
        return c
    if c.endswith("01") and c[:4] + "00" in CITIES:
        return c[:4] + "00"
    return None


def is_known(code: str | None) -> bool:
    """Whether GB/T 2260 (current or historic, as this table knows it) has this Shandong code."""
    return current_code(code) is not None


def city_of(code: str | None) -> str | None:
    """The current city of any Shandong code (historic mapped: 3712xx -> 370100); a code this table does
    not know is placed by its first four digits when they name a city. None: the province or unknown."""
    c = _six(code)
    if c is None:
        return None
    cur = current_code(c)
    if cur is not None:
        if cur in CITIES:
            return cur
        return COUNTY_CITY.get(cur)
    prefix = c[:4] + "00"
    if prefix in HISTORIC_CITIES:
        return HISTORIC[prefix][1]
    return prefix if prefix in CITIES else None


def county_of(code: str | None) -> str | None:
    """The current county of a code that names one (371202 -> 370116); None for a city, the province or
    an unknown code."""
    cur = current_code(code)
    return cur if cur in COUNTY_NAMES else None


def location(county_code: str | None, region_code: str | None) -> tuple[str | None, str | None]:
    """Where an enterprise is today: (county, city). ``county_code`` is its location as set (None: not
    set), ``region_code`` its registered region (from the USCC). The county defaults to the registered
    region when that is a county; the city is the county's, else the registered region's (an enterprise
    registered at the province level, 370000, has a city only through its location)."""
    county = county_of(county_code) or county_of(region_code)
    city = city_of(county) if county else city_of(region_code)
    return county, city


def name_of(code: str | None) -> str:
    """The current name of a code ('370116' 莱芜区, '371202' → 莱芜区 too); the code itself if unknown."""
    if not code:
        return ""
    cur = current_code(code)
    if cur == PROVINCE_CODE:
        return PROVINCE_NAME
    if cur in CITIES:
        return CITIES[cur]
    if cur in COUNTY_NAMES:
        return COUNTY_NAMES[cur]
    city = city_of(code)
    return CITIES[city] if city else str(code)


def full_name(code: str | None) -> str:
    """City and county together ('济南市莱芜区'), or the city's or province's name alone; a former city
    (371200 莱芜市, merged into 济南市) as the counties its area is now: '济南市莱芜区、钢城区'."""
    area = FORMER_AREA.get(_six(code) or "")
    if area:
        return CITIES[COUNTY_CITY[area[0]]] + "、".join(COUNTY_NAMES[c] for c in area)
    county = county_of(code)
    if county:
        return CITIES[COUNTY_CITY[county]] + COUNTY_NAMES[county]
    return name_of(code)


#: how a county breakdown names a city counted as itself (an enterprise registered by a city-level
#: authority: USCC region 370100, or its 市辖区 370101; no county known): ``济南市（市本级）``
CITY_LEVEL_ZH: Final = "市本级"
CITY_LEVEL_EN: Final = "city level"


def breakdown_name(code: str | None, lang: str = "zh") -> str:
    """A county breakdown's place by name: a county's full name ('济南市历下区'); a city's code (its 市本级:
    enterprises registered at city level) '济南市（市本级）' ('济南市 (city level)' in English)."""
    cur = current_code(code)
    if cur in CITIES:
        return f"{CITIES[cur]} ({CITY_LEVEL_EN})" if lang == "en" else f"{CITIES[cur]}（{CITY_LEVEL_ZH}）"
    return full_name(code)


def area_code(city_code: str | None) -> str | None:
    """The telephone area code of a (current) city, without the leading 0."""
    city = city_of(city_code)
    return AREA_CODES.get(city) if city else None
