"""Labels of the monthly report: one wording per figure, in Chinese and English.

The exported files (:mod:`qi_station.reports.writers`), the Reports screen and the dashboard take a
figure's label from here (``fig_label``), so the screen and the file never name a figure differently.
Stdlib only (the TUI imports it before the first frame).
"""

from __future__ import annotations

from typing import Any

from qi_station.core import domain, places

# ---- labels ----------------------------------------------------------------------------------------
FIGURE_LABELS: dict[str, tuple[str, str]] = {
    "received": ("登记需求数", "Requests received"),
    "accepted": ("受理数", "Accepted"),
    "resolved": ("办结数", "Resolved"),
    "closed": ("回访数", "Closed (followed up)"),
    "cancelled": ("取消数", "Cancelled"),
    "open_at_end": ("月末未办结数", "Open at month end"),
    "overdue_at_end": ("月末超期数", "Overdue at month end"),
    "enterprises_served": ("服务企业数", "Enterprises served"),
    "new_enterprises": ("新增企业数", "New enterprises"),
    "problems_solved": ("解决问题数", "Problems solved"),
    "cost_saved_wan": ("节约成本（万元）", "Cost saved (10k CNY)"),
    "rated": ("评价数", "Ratings"),
    "satisfied": ("满意数（基本满意及以上）", "Satisfied (3-5)"),
    "rate": ("满意率", "Satisfaction rate"),
    "median_hours_to_accept": ("受理用时中位数（小时）", "Median hours to accept"),
    "median_days_to_resolve": ("办结用时中位数（天）", "Median days to resolve"),
    "median_workdays_to_resolve": ("办结用时中位数（工作日）", "Median working days to resolve"),
    "on_time_count": ("按期办结数", "Resolved on time"),
    "on_time_rate": ("按期办结率", "On-time rate"),
    "followup_rate": ("回访率", "Follow-up rate"),
    "reopened": ("重新办理数", "Reopened"),
    "charged_count": ("收费服务数", "Charged services"),
    "fee_yuan": ("收费金额（元）", "Fees (CNY)"),
    "low_ratings": ("不满意评价数", "Low ratings (1-2)"),
    "rectified": ("整改完成数", "Rectified"),
    "rectify_open": ("待整改数", "Rectification open"),
    "rectify_overdue": ("整改超期数", "Rectification overdue"),
    "activities_count": ("活动场次", "Activities"),
    "activity_enterprises": ("活动覆盖企业数", "Enterprises reached by activities"),
    "activity_people": ("活动覆盖人数", "People reached by activities"),
}
WORDS: dict[str, tuple[str, str]] = {
    "title": ("质量基础设施一站式服务月报", "QI one-stop service monthly report"),
    "month": ("月份", "Month"),
    "station": ("站点", "Station"),
    "generated_at": ("生成时间", "Generated at"),
    "data_as_of": ("数据截至", "Data as of"),
    # a station report that left demo data (init --demo) out of its figures: how many requests
    "demo_excluded": ("未计入的演示需求（条）", "Demo requests left out"),
    "figure": ("指标", "Figure"),
    "value": ("本月", "This month"),
    "previous": ("上月", "Previous month"),
    "delta": ("环比增减", "Change"),
    "ytd": ("本年累计", "Year to date"),
    "series": ("近12个月", "Last 12 months"),
    "category": ("分类", "Category"),
    "item": ("项目", "Item"),
    "count": ("数量", "Count"),
    "element": ("服务要素", "QI element"),
    "channel": ("渠道", "Channel"),
    "city": ("地市", "City"),
    "referral": ("转办", "Referrals"),
    "top": ("转办最多", "Most referred"),
    "overview": ("概览", "Overview"),
    "breakdowns": ("分类", "Breakdowns"),
    "details": ("明细", "Details"),
    "cities": ("地市", "Cities"),
    "counties": ("区县", "Counties"),
    "types": ("站点类型", "Station types"),
    "modes": ("服务模式", "Service modes"),
    "stations": ("站点", "Stations"),
    "province": ("全省", "Province"),
    "unknown": ("未知", "Unknown"),
    # a request with no staff member recorded (an old ledger's, an import's without 经办人): 明细's 登记人
    "no_staff": ("本站默认（未登记人员）", "Station default (no staff recorded)"),
    "county": ("县区", "County"),
    "industry": ("行业", "Industry"),
    "size": ("企业规模", "Enterprise size"),
    "level": ("满意度等级", "Satisfaction level"),
    "activity": ("活动", "Activities"),
    "enterprises": ("覆盖企业", "Enterprises"),
    "people": ("覆盖人数", "People"),
    "rectify": ("整改", "Rectification"),
    "rectify_title": (
        "待整改（不满意评价，15个工作日内整改）",
        "Open rectifications (low ratings, due in 15 working days)",
    ),
    "rectify_number": ("待整改需求编号", "Request to rectify"),
    "rated_on": ("评价日期", "Rated on"),
    "due": ("整改期限", "Due"),
    "overdue": ("超期", "Overdue"),
    "indicators": ("指标", "Indicators"),
    "level1": ("一级指标", "First level"),
    "level2": ("二级指标", "Second level"),
    "indicator": ("统计指标", "Indicator"),
    "unit": ("单位", "Unit"),
    "direction": ("方向", "Direction"),
    "definition": ("定义", "Definition"),
    "higher": ("越高越好", "higher is better"),
    "lower": ("越低越好", "lower is better"),
    "details_note": (
        "明细（全部记录；完整字段见 xlsx/csv/json）",
        "Details (every row; all fields in xlsx/csv/json)",
    ),
}
REFERRAL_KIND_LABELS = {
    "expert": ("专家", "Experts"),
    "institution": ("机构", "Institutions"),
    "equipment": ("设备", "Equipment"),
    "project": ("项目", "Projects"),
}
DETAIL_LABELS: dict[str, tuple[str, str]] = {
    "number": ("编号", "Number"),
    "station_code": ("站点编码", "Station"),
    "enterprise_name": ("企业名称", "Enterprise"),
    "enterprise_uscc": ("统一社会信用代码", "USCC"),
    "enterprise_city": ("企业所在地市", "Enterprise city"),
    "enterprise_county": ("企业所在区县", "Enterprise county"),
    "elements": ("服务要素", "Elements"),
    "sub_type": ("细分类型", "Sub-type"),
    "title": ("需求标题", "Title"),
    "description": ("需求描述", "Description"),
    "channel": ("渠道", "Channel"),
    "urgency": ("紧急程度", "Urgency"),
    "contact_name": ("联系人", "Contact"),
    "phone_display": ("联系电话", "Phone"),
    "phone_e164": ("电话（E.164）", "Phone (E.164)"),
    "received_at": ("登记时间", "Received at"),
    "promised_date": ("承诺办结日期", "Promised date"),
    "days_taken": ("用时（天）", "Days taken"),
    "workdays_taken": ("用时（工作日）", "Working days taken"),
    "overdue_days": ("逾期（天）", "Days overdue"),
    "overdue_workdays": ("逾期（工作日）", "Working days overdue"),
    "status": ("当前状态", "Current status"),
    "operator": ("登记人", "Operator"),
    "accepted_at": ("受理时间", "Accepted at"),
    "resolved_at": ("办结时间", "Resolved at"),
    "closed_at": ("回访时间", "Closed at"),
    "cancelled_at": ("取消时间", "Cancelled at"),
    "result": ("办理结果", "Result"),
    "problems_solved": ("解决问题数", "Problems solved"),
    "cost_saved_wan": ("节约成本（万元）", "Cost saved (10k CNY)"),
    "fee_yuan": ("收费金额（元）", "Fee (CNY)"),
    "satisfaction": ("满意度", "Satisfaction"),
    "followup_note": ("回访记录", "Follow-up note"),
    "followup_at": ("回访日期", "Follow-up at"),
    "hub_expert_id": ("省级指派专家", "Hub expert"),
    "hub_note": ("省级备注", "Hub note"),
    "hub_priority": ("省级优先级", "Hub priority"),
    "received_in_month": ("本月登记", "Received this month"),
    "events_in_month": ("本月变更次数", "Changes this month"),
    "id": ("需求ID", "Request id"),
    "enterprise_id": ("企业ID", "Enterprise id"),
    "created_at": ("创建时间", "Created at"),
    "updated_at": ("更新时间", "Updated at"),
}
HEADLINE = (
    "received",
    "accepted",
    "resolved",
    "closed",
    "cancelled",
    "open_at_end",
    "overdue_at_end",
    "enterprises_served",
    "new_enterprises",
    "problems_solved",
    "cost_saved_wan",
    "rated",
    "satisfied",
    "rate",
    "median_hours_to_accept",
    "median_days_to_resolve",
    "median_workdays_to_resolve",
    "on_time_count",
    "on_time_rate",
    "followup_rate",
    "reopened",
    "charged_count",
    "fee_yuan",
    "low_ratings",
    "rectified",
    "rectify_open",
    "rectify_overdue",
    "activities_count",
    "activity_enterprises",
    "activity_people",
)
#: headline figures that are rates (shown as percentages)
RATE_KEYS = frozenset({"rate", "on_time_rate", "followup_rate"})
#: the money figures (万元 / 元): text with two decimals in csv, md and on screen (``sections.money_cell``)
MONEY_KEYS = frozenset({"cost_saved_wan", "fee_yuan"})
SERIES_KEYS = ("received", "accepted", "resolved", "closed", "cancelled", "open_at_end")


def lang_index(lang: str) -> int:
    """0 for Chinese, 1 for English: the index into a ``(zh, en)`` label pair."""
    return 1 if lang == "en" else 0


def word(key: str, lang: str) -> str:
    return WORDS[key][lang_index(lang)]


def fig_label(key: str, lang: str) -> str:
    return FIGURE_LABELS[key][lang_index(lang)]


_ACTIVITY_FIELD_ZH = {"count": "场次", "enterprises": "覆盖企业数", "people": "覆盖人数"}


def figure_name_label(name: str, lang: str) -> str:
    """A figure name an indicator definition uses (``reports.indicators.known_names``) in words:
    ``element_metrology`` → 计量需求数. English (and a name this program does not know) stays as it is."""
    from qi_station.core.activity import ACTIVITY_KIND_ZH

    if lang == "en":
        return name
    if name in FIGURE_LABELS:
        return fig_label(name, lang)
    if name == "satisfaction_rate":
        return fig_label("rate", lang)
    head, _, rest = name.partition("_")
    if head == "satisfaction" and rest.isdigit():
        return f"{domain.SATISFACTION_ZH.get(int(rest), rest)}数"
    if head == "element" and rest in domain.ELEMENT_ZH:
        return f"{domain.ELEMENT_ZH[rest]}需求数"
    if head == "channel" and rest in domain.CHANNEL_ZH:
        return f"{domain.CHANNEL_ZH[rest]}渠道需求数"
    if head == "referrals" and rest in REFERRAL_KIND_LABELS:
        return f"{REFERRAL_KIND_LABELS[rest][0]}转办次数"
    kind, _, field = rest.rpartition("_")
    if head == "activity" and kind in ACTIVITY_KIND_ZH and field in _ACTIVITY_FIELD_ZH:
        return f"{ACTIVITY_KIND_ZH[kind]}{_ACTIVITY_FIELD_ZH[field]}"
    return name


def definition_label(definition: str | None, lang: str) -> str | None:
    """An indicator's definition (a figure name or a formula over them) as the report shows it: in
    Chinese, each figure name in words and ``*`` ``/`` as × ÷ (``element_metrology / received * 100`` →
    计量需求数 ÷ 收到需求数 × 100); in English as written."""
    import re

    if not definition or lang == "en":
        return definition
    out = re.sub(r"[A-Za-z_][A-Za-z0-9_]*", lambda m: figure_name_label(m.group(0), lang), definition)
    return out.replace("*", "×").replace("/", "÷")


def element_label(code: str, lang: str) -> str:
    return (domain.ELEMENT_EN if lang == "en" else domain.ELEMENT_ZH).get(code, code)


def channel_label(code: str, lang: str) -> str:
    if lang == "en":
        return code.replace("_", " ")
    return domain.CHANNEL_ZH.get(code, code)


def city_label(code: str, lang: str) -> str:
    """A city or county code as a label: its current name (莱芜 codes read 济南), the code too in English."""
    if code == "unknown" or not code:
        return word("unknown", lang)
    name = places.full_name(code)
    return f"{name} {code}" if lang == "en" else name


def county_place_label(code: str, lang: str) -> str:
    """An enterprise's county as the 明细 shows it (企业所在区县): its full name, a city's code as its 市本级
    (``core.places.breakdown_name``), the code too in English."""
    if code == "unknown" or not code:
        return word("unknown", lang)
    name = places.breakdown_name(code, lang)
    return f"{name} {code}" if lang == "en" else name


#: the province report's tables, in order (the groupings of ``reports.figures.GROUPINGS``, then stations)
GROUPS = ("cities", "counties", "types", "modes", "stations")


def group_name(group: str, g: dict[str, Any], lang: str) -> str:
    """The first cell of a row of a province table: the city, county, type, mode or station."""
    if group == "stations":
        return f"{g['station']['name']}（{g['station']['code']}）"
    key = {"cities": "city", "counties": "county", "types": "type", "modes": "mode"}[group]
    code = g[key]["code"]
    if code == "unknown":
        return word("unknown", lang)
    if key == "type":
        return domain.station_type_label(code, lang)
    if key == "mode":
        return domain.service_mode_label(code, lang)
    if key == "county":  # a city's code: its 市本级 (reports.quality.place_county)
        return county_place_label(code, lang)
    return city_label(code, lang)


def satisfaction_label(level: Any, lang: str) -> str:
    """A satisfaction level as the report shows it: the level and its name (``4 满意``, ``4 Satisfied``;
    ``core.domain.SATISFACTION_ZH`` / ``_EN``); "" for none, the value itself when it is not a level."""
    if level is None or level == "":
        return ""
    try:
        n = int(level)
    except (TypeError, ValueError):
        return str(level)
    names = domain.SATISFACTION_EN if lang == "en" else domain.SATISFACTION_ZH
    return f"{n} {names.get(n, '')}".rstrip()


def status_label(code: str | None, lang: str) -> str:
    if not code:
        return ""
    return (domain.STATUS_EN if lang == "en" else domain.STATUS_ZH).get(code, code)


def headline_values(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of a report (or of one city / station entry), in ``HEADLINE`` order."""
    sat = report.get("satisfaction") or {}
    out = {k: report.get(k) for k in HEADLINE if k not in ("rated", "satisfied", "rate")}
    out["rated"] = sat.get("rated")
    out["satisfied"] = sat.get("satisfied")
    out["rate"] = sat.get("rate")
    on_time, followup = report.get("on_time") or {}, report.get("followup") or {}
    charged, rect = report.get("charged") or {}, report.get("rectification") or {}
    acts = (report.get("activities") or {}).values()
    out.update(
        on_time_count=on_time.get("count"),
        on_time_rate=on_time.get("rate"),
        followup_rate=followup.get("rate"),
        charged_count=charged.get("count"),
        fee_yuan=charged.get("fee_yuan"),
        low_ratings=rect.get("low_ratings"),
        rectified=rect.get("rectified"),
        rectify_open=rect.get("open_count"),
        rectify_overdue=rect.get("overdue_count"),
        activities_count=sum(a["count"] for a in acts) if acts else None,
        activity_enterprises=sum(a["enterprises"] for a in acts) if acts else None,
        activity_people=sum(a["people"] for a in acts) if acts else None,
    )
    return {k: out[k] for k in HEADLINE}
