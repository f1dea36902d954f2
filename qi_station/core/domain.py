"""Domain vocabulary: statuses, lifecycle, N elements, channels, station types and service modes.

Places (GB/T 2260 cities and counties of Shandong) are in :mod:`qi_station.core.places`.

Pure Python, no third-party imports: safe on every start-up path.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from qi_station.core.errors import ValidationError

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


#: a move by the action that makes it, as the app's buttons and keys name it (受理 moves to accepted …; the
#: TUI's catalogue takes its key names from here) -- ``request move N 受理`` takes them too (:func:`move_target`)
MOVE_ZH: Final = {
    "accepted": "受理",
    "in_progress": "办理",
    "referred": "转办",
    "waiting": "待反馈",
    "resolved": "办结",
    "closed": "回访",
    "cancelled": "取消",
    "on_hold": "挂起",
}
MOVE_EN: Final = {
    "accepted": "Accept",
    "in_progress": "Work on",
    "referred": "Refer",
    "waiting": "Wait",
    "resolved": "Resolve",
    "closed": "Follow up",
    "cancelled": "Cancel",
    "on_hold": "Hold",
}
#: other names of an action: the app's 取消需求 button, the reopen (重新办理: back to in_progress)
_MOVE_ALIASES: Final = {"取消需求": "cancelled", "cancel request": "cancelled"}


#: the ``sync_conflict`` kind (at the hub and at the station) of a station's status move that overrode one
#: the province had set (a cancellation) because the station had not seen it yet: the station's status
#: stands, the conflict is for a person (docs/sync.md, "Hub status moves")
HUB_STATUS_OVERRIDDEN: Final = "station_overrides_hub_status"


def typed(text: str | None) -> str:
    """A name or code as typed, trimmed, its full-width letters and digits (a Chinese input method's
    ＡＣＣＥＰＴ, ３７０８００) read as ASCII (NFKC: ``core.clock.halfwidth``): how every choice, action name
    and place code given to the CLI (and the API) is read before it is compared."""
    from qi_station.core.clock import halfwidth

    return halfwidth(text or "").strip()


def move_target(text: str | None) -> str | None:
    """The status an action's name moves to ('受理' / 'Accept' -> ``accepted``; 重新办理 / Reopen ->
    ``in_progress``; English without regard to case); None when ``text`` names no action (a status code
    or label is :func:`code_of`'s)."""
    v = typed(text)
    folded = v.casefold().replace("-", " ").replace("_", " ")
    if v == REOPEN_ZH or folded == REOPEN_EN.casefold():
        return "in_progress"
    for code, name in MOVE_ZH.items():
        if v == name:
            return code
    for code, name in MOVE_EN.items():
        if folded == name.casefold():
            return code
    return _MOVE_ALIASES.get(v) or _MOVE_ALIASES.get(folded)


def move_names() -> str:
    """Every move target with its action names, as help and refusals list them
    (``accepted 受理/Accept, …``)."""
    return ", ".join(f"{c} {MOVE_ZH[c]}/{MOVE_EN[c]}" for c in STATUSES if c in MOVE_ZH) + (
        f"; {REOPEN_ZH}/{REOPEN_EN} = in_progress"
    )


def is_reopen(from_status: str | None, to_status: str | None) -> bool:
    """Is this move the reopen of a resolved request (its result superseded)?"""
    return from_status == "resolved" and to_status == "in_progress"


def move_clears(from_status: str | None, to_status: str | None) -> dict[str, None]:
    """The request columns a move empties, wherever it is made (the station's move, the hub's
    ``hub assign --status``, the station adopting it): the reopen of a resolved request clears its
    ``resolved_at`` (its outcome, and the fee recorded with it, are no longer final; the ledger's fold,
    ``core.chain``, does the same for the reopen's event)."""
    return {"resolved_at": None} if is_reopen(from_status, to_status) else {}


OPEN_STATUSES: Final = frozenset({"new", "accepted", "in_progress", "referred", "waiting", "on_hold"})
DONE_STATUSES: Final = frozenset({"resolved", "closed", "cancelled"})


def can_move(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def can_refer(status: str) -> bool:
    """May a request in ``status`` be referred (转办)? Only while open: a resolved, closed or cancelled
    one is done (the ledger refuses it; the TUI offers 转办 only when this says yes)."""
    return status in OPEN_STATUSES


def check_refer(status: str) -> None:
    """Refuse a referral of a request that :func:`can_refer` says is done (the ledger's rule; the TUI
    shows this message when 转办's key is pressed on such a request)."""
    if not can_refer(status):
        raise ValidationError(
            "status",
            "referable",
            f"a {status} request cannot be referred / {STATUS_ZH.get(status, status)}的需求不能转办",
        )


def correctable_fields(status: str) -> list[str]:
    """The fields a request in ``status`` holds and may correct (:data:`CORRECTABLE_IN`)."""
    return [f for f in CORRECTABLE if status in CORRECTABLE_IN[f]]


def check_any_correctable(status: str) -> None:
    """Refuse 更正 of a request that holds nothing to correct (no outcome or follow-up recorded)."""
    if not correctable_fields(status):
        raise ValidationError(
            "status",
            "correctable_now",
            f"a {status} request has nothing to correct (only resolved or closed ones) / "
            f"{STATUS_ZH.get(status, status)}的需求没有可更正的内容（仅已办结、已回访的需求可更正）",
        )


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
    codes, sound = _parse_elements(text if isinstance(text, str) else "")
    return list(codes), sound


@lru_cache(maxsize=4096)
def _parse_elements(text: str) -> tuple[tuple[str, ...], bool]:
    """:func:`stored_elements` of one text, parsed once (a report reads thousands of rows, few texts)."""
    import json

    try:
        items = json.loads(text) if text else []
    except ValueError:
        return (), False
    if not isinstance(items, list):
        return (), False
    codes = tuple(x for x in items if isinstance(x, str) and x in ELEMENTS)
    return codes, len(codes) == len(items)


# ---- channels, urgency, satisfaction ------------------------------------------------------
CHANNELS: Final = ("visit", "walk_in", "phone", "online", "event")
CHANNEL_ZH: Final = {"visit": "走访", "walk_in": "来访", "phone": "电话", "online": "网上", "event": "活动"}
URGENCIES: Final = ("normal", "urgent")
URGENCY_ZH: Final = {"normal": "一般", "urgent": "紧急"}
#: the hub's priority of a request (``hub assign --priority``, column ``hub_priority``): a code of this list
PRIORITIES: Final = ("high", "normal", "low")
PRIORITY_ZH: Final = {"high": "高", "normal": "中", "low": "低"}
PRIORITY_EN: Final = {"high": "High", "normal": "Normal", "low": "Low"}
# the default promise (承诺时限) in WORKING days after the day of receipt, by urgency; a station sets its
# own (`qi-station station promise`, kv `promise_workdays:*`, `services.workdays`)
PROMISE_WORKDAYS: Final = {"normal": 10, "urgent": 3}
SATISFACTION_ZH: Final = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
SATISFACTION_EN: Final = {
    5: "Very satisfied",
    4: "Satisfied",
    3: "Fairly satisfied",
    2: "Dissatisfied",
    1: "Very dissatisfied",
}

# ---- corrections: a mistaken outcome or follow-up is corrected by a ``correct`` event ---------------
#: field -> the request column it corrects (``cost_saved`` travels as 万元 text, kept in hundredths);
#: ``fee`` (收费金额, yuan text) has no column: the request's fee is read from its events
#: (:func:`qi_station.core.chain.request_fee`, which follows a fee correction)
CORRECTABLE: Final[dict[str, str | None]] = {
    "satisfaction": "satisfaction",
    "problems_solved": "problems_solved",
    "cost_saved": "cost_saved_cents",
    "result": "result",
    "followup_note": "followup_note",
    "fee": None,
}
#: field -> the statuses in which it holds a value that can be corrected
CORRECTABLE_IN: Final[dict[str, frozenset[str]]] = {
    "satisfaction": frozenset({"closed"}),
    "followup_note": frozenset({"closed"}),
    "result": frozenset({"resolved", "closed"}),
    "problems_solved": frozenset({"resolved", "closed"}),
    "cost_saved": frozenset({"resolved", "closed"}),
    "fee": frozenset({"resolved", "closed"}),
}

# ---- staff: who works at a station (attribution on a shared PC, not a security boundary) ------------
ROLES: Final = ("head", "steward", "officer")
ROLE_ZH: Final = {"head": "站长", "steward": "质量管家", "officer": "服务专员"}
ROLE_EN: Final = {"head": "Head of station", "steward": "Quality steward", "officer": "Service officer"}
#: actions only a head of station (站长) may take, on a station that keeps a staff list
HEAD_ONLY: Final = frozenset({"cancel", "correct"})
_ROLE_LOOKUP: Final = {
    **{k: k for k in ROLES},
    **{v: k for k, v in ROLE_ZH.items()},
    **{v.lower(): k for k, v in ROLE_EN.items()},
}


def role_code(text: str) -> str | None:
    """'站长' or 'head' or 'Head of station' -> 'head'; None if unknown."""
    t = (text or "").strip()
    return _ROLE_LOOKUP.get(t) or _ROLE_LOOKUP.get(t.lower())


def role_may(role: str | None, action: str) -> bool:
    """May a staff member of ``role`` take ``action`` (``cancel``, ``correct``, any other move)?"""
    return action not in HEAD_ONLY or role == "head"


# the unit an equipment fee is charged by (``equipment.fee_unit``): code -> what people read
FEE_UNIT_ZH: Final = {"hour": "小时", "sample": "样品"}
FEE_UNIT_EN: Final = {"hour": "hour", "sample": "sample"}
CHANNEL_EN: Final = {
    "visit": "Visit",
    "walk_in": "Walk-in",
    "phone": "Phone",
    "online": "Online",
    "event": "Event",
}
URGENCY_EN: Final = {"normal": "Normal", "urgent": "Urgent"}


def label(table: dict[str, str], code: str | None) -> str:
    """The label of ``code`` in one of the tables above (the code itself when unknown, "" for none)."""
    return table.get(code, code) if code else ""


# ---- the station's profile: its type and service mode (stored as the Chinese term) --------------------
STATION_TYPES: Final = ("综合服务中心", "园区工作站", "龙头企业")
STATION_TYPE_EN: Final = {
    "综合服务中心": "Comprehensive service center",
    "园区工作站": "Park workstation",
    "龙头企业": "Leading enterprise",
}
SERVICE_MODES: Final = ("政府引导", "市场主导", "区域集约")
SERVICE_MODE_EN: Final = {
    "政府引导": "Government-guided",
    "市场主导": "Market-led",
    "区域集约": "Regionally pooled",
}
PARK_MAX: Final = 100  # characters of a park name


def station_type_label(value: str | None, lang: str = "zh") -> str:
    return (STATION_TYPE_EN.get(value or "", value or "") if lang == "en" else value) or ""


def service_mode_label(value: str | None, lang: str = "zh") -> str:
    return (SERVICE_MODE_EN.get(value or "", value or "") if lang == "en" else value) or ""


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
#: a searched table by its library's name (``library search 专家库``; 专家 is :data:`KIND_ZH`'s)
LIBRARY_ZH: Final = {
    "experts": "专家库",
    "institutions": "机构库",
    "equipment": "设备库",
    "projects": "项目库",
    "enterprises": "企业库",
}
ENTERPRISE_SCALES: Final = ("大型", "中型", "小型", "微型")


def _label_tables() -> dict[tuple[str, ...], tuple[dict[str, str], ...]]:
    from qi_station.core.activity import ACTIVITY_KIND_EN, ACTIVITY_KIND_ZH, ACTIVITY_KINDS

    return {
        SEARCH_KINDS: (KIND_ZH, LIBRARY_ZH, KIND_TABLE),  # 专家, 专家库, expert
        ACTIVITY_KINDS: (ACTIVITY_KIND_ZH, ACTIVITY_KIND_EN),  # 培训, Training
        STATUSES: (STATUS_ZH, STATUS_EN),
        CHANNELS: (CHANNEL_ZH, CHANNEL_EN),
        URGENCIES: (URGENCY_ZH, URGENCY_EN),
        PRIORITIES: (PRIORITY_ZH, PRIORITY_EN),
    }


def code_of(value: str, choices: tuple[str, ...]) -> str | None:
    """The code ``value`` names among ``choices``: the code itself, or the label the program shows for it
    (the zh or en table above: 已受理 / Accepted → ``accepted``, 紧急 / urgent → ``urgent``; English
    without regard to case or ``-`` / ``_`` / spaces). None when it names none."""
    v = typed(value)
    if v in choices:
        return v
    folded = v.casefold().replace("-", " ").replace("_", " ")
    for table in _label_tables().get(tuple(choices), ()):
        for code, name in table.items():
            if code in choices and (v == name or folded == name.casefold().replace("-", " ")):
                return code
    for code in choices:
        if folded == code.replace("_", " "):
            return code
    return None


def choice_names(choices: tuple[str, ...]) -> str:
    """``code (zh label)`` for each choice: what a refusal lists."""
    tables = _label_tables().get(tuple(choices), ())
    zh = tables[0] if tables else {}
    return ", ".join(f"{c} ({zh[c]})" if c in zh else c for c in choices)
