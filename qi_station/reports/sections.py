"""Rows of the report's tables, shared by every writer (CSV, Markdown, xlsx): the breakdowns, the open
rectifications and the indicators. Labels come from :mod:`qi_station.reports.labels`."""

from __future__ import annotations

from typing import Any

from qi_station.core import domain, places
from qi_station.core.activity import ACTIVITY_KIND_EN, ACTIVITY_KIND_ZH
from qi_station.reports.labels import (
    MONEY_KEYS,
    RATE_KEYS,
    REFERRAL_KIND_LABELS,
    channel_label,
    city_label,
    definition_label,
    element_label,
    lang_index,
    satisfaction_label,
    word,
)


def _unknown(code: str, lang: str) -> str:
    return word("unknown", lang) if code == "unknown" else code


def county_label(code: str, lang: str) -> str:
    """A county by its full name (``core.places.breakdown_name``: a city's code is its 市本级) and code."""
    if code == "unknown" or not code:
        return word("unknown", lang)
    return f"{places.breakdown_name(code, lang)} {code}"


def in_domain_order(counts: dict[str, int] | None, codes: tuple[str, ...]) -> list[tuple[str, int]]:
    """THE order of a breakdown over a fixed domain: every code of ``codes`` in its order, 0 when the
    month has none (so two months' tables compare line by line), then the codes outside it (an old
    ledger's, sorted) and 未知 last."""
    got = counts or {}
    extra = sorted((k for k in got if k not in codes), key=lambda k: (k == "unknown", k))
    return [(k, got.get(k, 0)) for k in codes] + [(k, got[k]) for k in extra]


#: the current cities (GB/T 2260 order): the 地市 breakdown lists each of them
CITY_CODES = tuple(places.CITIES)


def breakdown_rows(report: dict[str, Any], lang: str) -> list[tuple[str, str, int]]:
    """(category, item, count) rows: elements, channels, cities, counties, industries, sizes, satisfaction
    levels, activities, referral counts and top items. A category over a fixed domain (elements,
    channels, cities, sizes, levels, activity kinds, referral kinds) lists every item in the domain's
    order, 0 included (:func:`in_domain_order`); counties, industries and top items list those counted."""
    rows: list[tuple[str, str, int]] = []
    for code, n in in_domain_order(report.get("by_element"), domain.ELEMENTS):
        rows.append((word("element", lang), element_label(code, lang), n))
    for code, n in in_domain_order(report.get("by_channel"), domain.CHANNELS):
        rows.append((word("channel", lang), channel_label(code, lang), n))
    for code, n in in_domain_order(report.get("by_city"), CITY_CODES):
        rows.append((word("city", lang), city_label(code, lang), n))
    for code, n in (report.get("by_county") or {}).items():
        rows.append((word("county", lang), county_label(code, lang), n))
    for code, n in (report.get("by_industry") or {}).items():
        rows.append((word("industry", lang), _unknown(code, lang), n))
    for code, n in in_domain_order(report.get("by_size"), domain.ENTERPRISE_SCALES):
        rows.append((word("size", lang), _unknown(code, lang), n))
    for lvl, n in (report.get("satisfaction_levels") or {}).items():
        rows.append((word("level", lang), satisfaction_label(lvl, lang), n))
    kinds = ACTIVITY_KIND_EN if lang == "en" else ACTIVITY_KIND_ZH
    for kind, vals in (report.get("activities") or {}).items():
        name = kinds.get(kind, kind)
        rows.append((word("activity", lang), f"{name} / {word('count', lang)}", vals["count"]))
        rows.append((word("activity", lang), f"{name} / {word('enterprises', lang)}", vals["enterprises"]))
        rows.append((word("activity", lang), f"{name} / {word('people', lang)}", vals["people"]))
    refs = report.get("referrals") or {}
    for kind, n in (refs.get("counts") or {}).items():
        rows.append(
            (word("referral", lang), REFERRAL_KIND_LABELS.get(kind, (kind, kind))[lang_index(lang)], n)
        )
    for kind, items in (refs.get("top") or {}).items():
        cat = f"{word('top', lang)} · {REFERRAL_KIND_LABELS.get(kind, (kind, kind))[lang_index(lang)]}"
        for it in items:
            detail = ""  # same-named items told apart: equipment by model and owner, experts by employer
            if it.get("detail"):
                detail = f" ({it['detail']})" if lang == "en" else f"（{it['detail']}）"
            rows.append((cat, f"{it['name']}{detail}", int(it["count"])))
    return rows


RECTIFY_COLUMNS = ("number", "station_code", "enterprise_name", "satisfaction", "rated_on", "due", "overdue")


def rectify_header(lang: str) -> list[str]:
    from qi_station.reports.labels import DETAIL_LABELS

    i = lang_index(lang)
    return [
        word("rectify_number", lang),
        DETAIL_LABELS["station_code"][i],
        DETAIL_LABELS["enterprise_name"][i],
        DETAIL_LABELS["satisfaction"][i],
        word("rated_on", lang),
        word("due", lang),
        word("overdue", lang),
    ]


def rectify_rows(report: dict[str, Any], lang: str) -> list[list[Any]]:
    """The open rectifications (no rectify record at the month's end), overdue ones flagged, the rating
    by its label (``labels.satisfaction_label``: ``2 不满意``)."""
    yes, no = ("yes", "no") if lang == "en" else ("是", "否")
    sat = RECTIFY_COLUMNS.index("satisfaction")
    labels: dict[Any, str] = {}  # a few levels over thousands of rows
    out = []
    for r in (report.get("rectification") or {}).get("open") or []:
        row = [r.get(k) for k in RECTIFY_COLUMNS]
        level = row[sat]
        label = labels.get(level)
        if label is None:
            label = labels[level] = satisfaction_label(level, lang)
        row[sat] = label
        row[-1] = yes if r.get("overdue") else no
        out.append(row)
    return out


def indicator_header(lang: str) -> list[str]:
    return [
        word("level1", lang),
        word("level2", lang),
        word("indicator", lang),
        word("value", lang),
        word("unit", lang),
        word("direction", lang),
        word("definition", lang),
    ]


INDICATOR_VALUE, INDICATOR_UNIT = 3, 4  # columns of :func:`indicator_rows`


def indicator_rows(report: dict[str, Any], lang: str) -> list[list[Any]]:
    """The report's indicators (computed with it, by the definitions the hub distributed or the shipped
    default: :func:`qi_station.reports.figures.monthly_report`)."""
    return [
        [
            v["level1"],
            v["level2"],
            f"{v['id']} {v['name']}",
            v["value"],
            v["unit"],
            word(v["direction"], lang),
            definition_label(v["definition"], lang),
        ]
        for v in report.get("indicators") or []
    ]


def percent_text(fraction: Any) -> Any:
    """THE text form of a rate or percentage, in the CSV, the Markdown and on screen (F7): the fraction
    as percent text with :data:`PERCENT_DECIMALS` decimals (0.9444 -> ``"94.44%"``), which Excel reads as
    the number 0.9444 shown as a percentage; None as it is. The writers give the headline rates (满意率,
    按期办结率, 回访率) and the indicators whose unit is % by it (an indicator's value is a
    percentage: pass ``value / 100``). The xlsx keeps numbers (:data:`PERCENT_FORMAT`)."""
    if fraction is None or isinstance(fraction, bool) or not isinstance(fraction, int | float):
        return fraction
    return f"{fraction * 100:.{PERCENT_DECIMALS}f}%"


#: decimals of :func:`percent_text` (the rates themselves are kept to 4 decimals of the fraction)
PERCENT_DECIMALS = 2


def money_cell(value: Any) -> Any:
    """THE text form of a money figure (万元, 元) in the CSV, the Markdown and on screen (F7): two
    decimals by ``core.validate.money_text`` (1200.5 -> ``"1200.50"``, 0 -> ``"0.00"``, a change
    -1.5 -> ``"-1.50"``); another value (None, text) as it is. The JSON keeps numbers."""
    from decimal import Decimal

    from qi_station.core.validate import money_text

    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return money_text(Decimal(str(value)))


def csv_time(value: Any) -> Any:
    """THE text form of a report time (ISO-8601 local text, ``2026-01-15T10:00:00+08:00``) in the CSV,
    the Markdown and the xlsx header (生成时间, 数据截至, the CSV's detail times): Asia/Shanghai
    wall-clock ``2026-01-15 10:00:00``, which Excel reads as a date-time; other values as they are. The
    JSON keeps ISO-8601."""
    if isinstance(value, str) and len(value) >= 19 and value[10] == "T" and value[4] == "-":
        return f"{value[:10]} {value[11:19]}"
    return value


#: THE spreadsheet percent format (the headline rates, an indicator whose unit is %: its value, a
#: percentage, written as the fraction): as many decimals as :func:`percent_text` writes (94.44%)
PERCENT_FORMAT = f"0.{'0' * PERCENT_DECIMALS}%"
NUMBER_FORMAT = "0.00"
#: the headline figures with a fixed number of decimals (the medians: hours and days 2, working days 1
#: -- a median of whole days is whole or a half): THE form on screen, in CSV and Markdown (text) and in
#: the xlsx (the number format), whatever the month's value (0.0 and 6 alike)
FIGURE_DECIMALS = {"median_hours_to_accept": 2, "median_days_to_resolve": 2, "median_workdays_to_resolve": 1}


def figure_text(key: str, value: Any) -> Any:
    """THE text form of a headline figure (``labels.HEADLINE``) on screen (F7), in the CSV and the
    Markdown: a rate as :func:`percent_text`, money as :func:`money_cell`, a median with its
    :data:`FIGURE_DECIMALS` (``0.10``, ``6.0``), another value (a count, None) as it is."""
    if key in RATE_KEYS:
        return percent_text(value)
    if key in MONEY_KEYS:
        return money_cell(value)
    if key in FIGURE_DECIMALS and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.{FIGURE_DECIMALS[key]}f}"
    return value


#: decimals of a rate's change in percentage points (:func:`points_text`: ``+3.2 个百分点``)
POINTS_DECIMALS = 1
#: the unit of a rate's change: percentage points, never ``%`` (a rate from 90% to 93% rose 3 points)
POINTS_UNIT = {"zh": "个百分点", "en": "pp"}


def points_text(delta: Any, lang: str) -> Any:
    """THE text form of the change of a rate (满意率, 按期办结率, 回访率 … versus the previous month) in
    percentage points, in every writer (CSV, Markdown, the xlsx 概览): the change of the fraction
    (0.032) as ``+3.2 个百分点`` (en ``+3.2 pp``), :data:`POINTS_DECIMALS` decimals, a fall with ``-``,
    no change ``0.0`` unsigned; None as it is."""
    if delta is None or isinstance(delta, bool) or not isinstance(delta, int | float):
        return delta
    from decimal import ROUND_HALF_UP, Decimal

    # the fraction's decimal text (0.0785, kept to 4 decimals) times 100, half away from zero: -7.9
    points = (Decimal(str(delta)) * 100).quantize(Decimal(1).scaleb(-POINTS_DECIMALS), ROUND_HALF_UP)
    shown = f"{points:+}" if points else f"{abs(points)}"
    return f"{shown} {POINTS_UNIT['en' if lang == 'en' else 'zh']}"


def change_text(key: str, delta: Any, lang: str) -> Any:
    """THE text form of a headline figure's change versus the previous month (环比增减): a rate's in
    percentage points (:func:`points_text`), another figure's as :func:`figure_text` writes it."""
    return points_text(delta, lang) if key in RATE_KEYS else figure_text(key, delta)


def figure_format(key: str) -> str | None:
    """The xlsx number format of a headline figure: the same decimals as :func:`figure_text` writes."""
    if key in RATE_KEYS:
        return PERCENT_FORMAT
    if key in MONEY_KEYS:
        return NUMBER_FORMAT
    if key in FIGURE_DECIMALS:
        return f"0.{'0' * FIGURE_DECIMALS[key]}"
    return None


#: the units of an indicator that is money (万元, 元): two decimals, as :func:`money_cell` writes money
MONEY_UNITS = frozenset({"万元", "元"})


def indicator_text(value: Any, unit: Any) -> Any:
    """THE text form of an indicator's value (CSV, Markdown, ``report indicators``): a percentage (unit
    ``%``) as :func:`percent_text` (``85.71%``), money (:data:`MONEY_UNITS`) as :func:`money_cell`
    (``1200.50``), another value as it is. The xlsx keeps numbers (:func:`indicator_cell`)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if unit == "%":
        return percent_text(value / 100)
    if unit in MONEY_UNITS:
        return money_cell(value)
    return value


def indicator_cell(value: Any, unit: Any) -> tuple[Any, str | None]:
    """An indicator's value as a spreadsheet number and its number format: a percentage (unit ``%``:
    ``83.3333``) as the fraction with :data:`PERCENT_FORMAT` (shows 83.33%), money
    (:data:`MONEY_UNITS`) and another fractional number with :data:`NUMBER_FORMAT`, a whole number or no value as it is. The monthly xlsx's 指标 sheet and
    ``report indicators --format xlsx`` write each value through here."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value, None
    if unit == "%":
        return round(value / 100, 6), PERCENT_FORMAT  # the value has 4 decimals: exact
    if unit in MONEY_UNITS or (isinstance(value, float) and not value.is_integer()):
        return value, NUMBER_FORMAT
    return value, None


def extra_tables(report: dict[str, Any], lang: str) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The tables every writer adds after the breakdowns: (sheet/section title, header, rows) of the open
    rectifications (整改) and the indicators (指标)."""
    return [
        (word("rectify", lang), rectify_header(lang), rectify_rows(report, lang)),
        (word("indicators", lang), indicator_header(lang), indicator_rows(report, lang)),
    ]
