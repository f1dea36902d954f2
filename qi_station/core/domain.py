"""Domain vocabulary: statuses, lifecycle, N elements, channels, regions.

Pure Python, no third-party imports: safe on every start-up path.
"""

from __future__ import annotations

from typing import Final

# ---- request lifecycle -------------------------------------------------------------------
STATUSES: Final = (
    "new",
    "accepted",
    "in_progress",
    "referred",
    "waiting",
    "resolved",
    "closed",
    "cancelled",
    "on_hold",
)
STATUS_ZH: Final = {
    "new": "已登记",
    "accepted": "已受理",
    "in_progress": "处理中",
    "referred": "已转办",
    "waiting": "待企业反馈",
    "resolved": "已办结",
    "closed": "已回访",
    "cancelled": "已取消",
    "on_hold": "已挂起",
}
STATUS_EN: Final = {
    "new": "New",
    "accepted": "Accepted",
    "in_progress": "In progress",
    "referred": "Referred",
    "waiting": "Waiting on enterprise",
    "resolved": "Resolved",
    "closed": "Closed",
    "cancelled": "Cancelled",
    "on_hold": "On hold",
}

# Every legal move. Anything not listed is refused by the core.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "new": frozenset({"accepted", "cancelled", "on_hold"}),
    "accepted": frozenset({"in_progress", "cancelled", "on_hold"}),
    "in_progress": frozenset({"referred", "waiting", "resolved", "cancelled", "on_hold"}),
    "referred": frozenset({"in_progress", "resolved", "cancelled", "on_hold"}),
    "waiting": frozenset({"in_progress", "resolved", "cancelled", "on_hold"}),
    "resolved": frozenset({"closed", "in_progress"}),  # in_progress = reopen
    "closed": frozenset(),
    "cancelled": frozenset(),
    "on_hold": frozenset({"accepted", "in_progress", "cancelled"}),
}
#: the reopen move (resolved -> in_progress: the outcome is no longer final) and its name
REOPEN_ZH: Final = "重新办理"
REOPEN_EN: Final = "Reopen"


def is_reopen(from_status: str | None, to_status: str | None) -> bool:
    """Is this move the reopen of a resolved request (its result superseded)?"""
    return from_status == "resolved" and to_status == "in_progress"


OPEN_STATUSES: Final = frozenset({"new", "accepted", "in_progress", "referred", "waiting", "on_hold"})
DONE_STATUSES: Final = frozenset({"resolved", "closed", "cancelled"})


def can_move(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def can_reach(from_status: str, to_status: str) -> bool:
    """``to_status`` is ``from_status`` or follows it by one or more legal moves (a station may make
    several moves between two syncs; the hub sees only the last)."""
    seen = {from_status}
    todo = [from_status]
    while todo:
        for nxt in TRANSITIONS.get(todo.pop(), frozenset()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return to_status in seen


# ---- N elements ------------------------------------------------------------------------
ELEMENTS: Final = ("standards", "metrology", "testing", "certification", "quality", "brand", "ip", "safety")
ELEMENT_ZH: Final = {
    "standards": "标准",
    "metrology": "计量",
    "testing": "检验检测",
    "certification": "认证认可",
    "quality": "质量提升",
    "brand": "品牌建设",
    "ip": "知识产权",
    "safety": "质量安全监管",
}
ELEMENT_EN: Final = {
    "standards": "Standards",
    "metrology": "Metrology",
    "testing": "Testing",
    "certification": "Certification",
    "quality": "Quality improvement",
    "brand": "Brand building",
    "ip": "Intellectual property",
    "safety": "Quality-safety supervision",
}
#: short or everyday names of the elements, as stations write them in their own spreadsheet ledgers
ELEMENT_ALIASES: Final = {
    "标准化": "standards",
    "检验": "testing",
    "检测": "testing",
    "认证": "certification",
    "认可": "certification",
    "品牌": "brand",
    "专利": "ip",
    "商标": "ip",
    "质量安全": "safety",
}
_ELEMENT_LOOKUP: Final = {
    **{k: k for k in ELEMENTS},
    **ELEMENT_ALIASES,
    **{v: k for k, v in ELEMENT_ZH.items()},
}


def element_code(text: str) -> str | None:
    """'计量' or 'metrology' or 'Metrology' -> 'metrology'; None if unknown."""
    t = text.strip()
    return _ELEMENT_LOOKUP.get(t) or _ELEMENT_LOOKUP.get(t.lower())


def stored_elements(text: object) -> tuple[list[str], bool]:
    """A stored ``elements`` column (a JSON array of codes) -> (its known codes, whether it was sound).
    Readers (reports) use it so one damaged row is skipped and flagged, never a crash."""
    import json

    try:
        items = json.loads(text) if isinstance(text, str) and text else []
    except ValueError:
        return [], False
    if not isinstance(items, list):
        return [], False
    codes = [x for x in items if isinstance(x, str) and x in ELEMENTS]
    return codes, len(codes) == len(items)


# ---- channels, urgency, satisfaction ------------------------------------------------------
CHANNELS: Final = ("visit", "walk_in", "phone", "online", "event")
CHANNEL_ZH: Final = {"visit": "走访", "walk_in": "来访", "phone": "电话", "online": "网上", "event": "活动"}
URGENCIES: Final = ("normal", "urgent")
URGENCY_ZH: Final = {"normal": "一般", "urgent": "紧急"}
# default days from received to promised, by urgency
PROMISE_DAYS: Final = {"normal": 15, "urgent": 5}
SATISFACTION_ZH: Final = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
SATISFACTION_EN: Final = {
    5: "Very satisfied",
    4: "Satisfied",
    3: "Fairly satisfied",
    2: "Dissatisfied",
    1: "Very dissatisfied",
}

STATION_TYPES: Final = ("综合服务中心", "园区工作站", "龙头企业")
SERVICE_MODES: Final = ("政府引导", "市场主导", "区域集约")
LIBRARY_KINDS: Final = ("experts", "institutions", "equipment", "projects")
SEARCH_KINDS: Final = (*LIBRARY_KINDS, "enterprises")
KIND_TABLE: Final = {
    "experts": "expert",
    "institutions": "institution",
    "equipment": "equipment",
    "projects": "project",
    "enterprises": "enterprise",
}
KIND_ZH: Final = {
    "experts": "专家",
    "institutions": "机构",
    "equipment": "设备",
    "projects": "项目",
    "enterprises": "企业",
}
ENTERPRISE_SCALES: Final = ("大型", "中型", "小型", "微型")

# ---- GB/T 2260 regions of Shandong -----------------------------------------------------
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
    "371200": "莱芜市",  # historic: abolished 2019, merged into 济南; codes issued there keep it
    "371300": "临沂市",
    "371400": "德州市",
    "371500": "聊城市",
    "371600": "滨州市",
    "371700": "菏泽市",
}
HISTORIC_CITIES: Final = frozenset({"371200"})
PROVINCE_CODE: Final = "370000"
PROVINCE_NAME: Final = "山东省"
# City telephone area codes (for phone parsing without a leading 0 region).
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
    "371200": "634",
    "371300": "539",
    "371400": "534",
    "371500": "635",
    "371600": "543",
    "371700": "530",
}


def city_of(region_code: str | None) -> str | None:
    """Any 6-digit GB/T 2260 code -> its Shandong prefecture city code (or None)."""
    if not region_code or len(region_code) < 4 or not region_code[:4].isdigit():
        return None
    code = region_code[:4] + "00"
    return code if code in CITIES else None


def region_name(region_code: str | None) -> str:
    if not region_code:
        return ""
    if region_code == PROVINCE_CODE:
        return PROVINCE_NAME
    city = city_of(region_code)
    if city:
        return CITIES[city]
    if region_code[:2] == "37":
        return PROVINCE_NAME
    return region_code
