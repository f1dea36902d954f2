"""Monthly report figures: the report dicts (JSON-ready) out of the raw material of
:mod:`qi_station.reports.queries`. Every figure is defined in ``docs/reports.md``.

A city or the province is the merge of its stations' raw material, so additive figures are exact sums and
the others (distinct enterprises, medians, rates) are recomputed from the merged raw material.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from qi_station.core import domain, places
from qi_station.core.clock import TZ, not_after
from qi_station.core.gcpause import no_cycle_collection
from qi_station.core.months import check_month
from qi_station.reports.quality import (
    earlier_rates,
    open_stations,
    place_county,
    quality_figures,
    sort_open,
    split_open,
)
from qi_station.reports.queries import (
    COUNT_KEYS,
    UNKNOWN,
    WINDOW,
    Acc,
    Details,
    Raw,
    as_date,
    as_utc,
    collect,
    leave_out_demo,
    merged,
    report_connection,
)

#: figures compared with the previous month
CHANGE_KEYS = (*COUNT_KEYS, "open_at_end", "overdue_at_end", "problems_solved", "cost_saved_wan")
#: figures summed from January to the report month
YTD_KEYS = (*COUNT_KEYS, "problems_solved", "cost_saved_wan", "rated", "satisfied")
REFERRAL_KINDS = ("expert", "institution", "equipment", "project")
TOP_N = 10


_SHANGHAI = timedelta(hours=8)
_FIXED_SINCE = datetime(1991, 9, 15)  # Asia/Shanghai has been a fixed +08:00 (no DST) since then


_LOCAL_HOURS: dict[str, tuple[str, str]] = {}  # "YYYY-MM-DD HH" (UTC) -> "YYYY-MM-DDTHH" (Asia/Shanghai)


def local_iso(value: Any) -> str | None:
    """Naive UTC -> ISO-8601 in Asia/Shanghai, e.g. ``2026-01-31T23:30:00+08:00`` (fast path: fixed +08:00)."""
    if value is None:
        return None
    if type(value) is datetime and value >= _FIXED_SINCE:  # PostgreSQL's naive UTC: one addition
        return (value + _SHANGHAI).isoformat(timespec="seconds") + "+08:00"
    if (
        type(value) is str
        and (len(value) == 19 or (len(value) > 20 and value[19] == "."))
        and value[13] == ":"
        and value[16] == ":"
    ):
        # a stored naive-UTC text (SQLite; every detail row has eight). Asia/Shanghai's offsets are whole
        # hours: the date and hour are converted once per UTC hour, the minutes and seconds copied
        head = value[:13]
        hour = _LOCAL_HOURS.get(head)
        if hour is None:
            whole = _slow_iso(head + ":00:00") or ""
            hour = (whole[:13], whole[19:]) if whole[-6:] in ("+08:00", "+09:00") else ("", "")
            if len(_LOCAL_HOURS) < 1 << 18:
                _LOCAL_HOURS[head] = hour
        if hour[0]:
            return hour[0] + value[13:19] + hour[1]
    return _slow_iso(value)


#: the suffix of a details column holding a time already as :func:`local_iso` writes it (PostgreSQL)
LOCAL_SUFFIX = "__local"


def local_iso_sql(col: str) -> str:
    """:func:`local_iso`'s fast path as a PostgreSQL expression of a naive-UTC ``timestamp`` column: the
    same text from the fixed +08:00 on (one addition, whole seconds), NULL before it or for NULL (then
    :func:`local_iso` itself, in :func:`detail_row`). The server writes the details' eight times per row
    in C while the report reads the rest (at a large hub: ~860 k times a month)."""
    return (
        f"CASE WHEN {col} >= TIMESTAMP '{_FIXED_SINCE.isoformat(' ')}' THEN "
        f"to_char({col} + INTERVAL '{int(_SHANGHAI.total_seconds())} seconds', "
        '\'YYYY-MM-DD"T"HH24:MI:SS"+08:00"\') END'
    )


def stored_unless_local_sql(col: str) -> str:
    """A naive-UTC ``timestamp`` column as stored where :func:`local_iso_sql` gives NULL for it (before
    the fixed +08:00), else NULL: the value :func:`detail_row` reads of a time the server did not write."""
    return f"CASE WHEN {col} < TIMESTAMP '{_FIXED_SINCE.isoformat(' ')}' THEN {col} END"


#: the suffix of a details column holding a time's local day as :func:`local_day_sql` writes it (PostgreSQL)
DAY_SUFFIX = "__day"


def local_day_sql(col: str) -> str:
    """The local day (Asia/Shanghai) of a naive-UTC ``timestamp`` column as a PostgreSQL ``date``, from
    the zone's fixed +08:00 on (one addition); NULL before it or for NULL (then the report computes it,
    ``core.clock.local_date``). The details' days taken and overdue read it for every row."""
    return (
        f"CASE WHEN {col} >= TIMESTAMP '{_FIXED_SINCE.isoformat(' ')}' THEN "
        f"CAST({col} + INTERVAL '{int(_SHANGHAI.total_seconds())} seconds' AS DATE) END"
    )


def _slow_iso(value: Any) -> str | None:
    dt: datetime | None = datetime.fromisoformat(value) if type(value) is str else None
    if dt is None or dt.tzinfo is not None:
        dt = as_utc(value)
    assert dt is not None
    if dt >= _FIXED_SINCE:
        return (dt + _SHANGHAI).isoformat(timespec="seconds") + "+08:00"
    return dt.replace(tzinfo=UTC).astimezone(TZ).isoformat(timespec="seconds")


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


# ---- figures out of the raw material ---------------------------------------------------------------
def _cents_to_wan(c: int) -> float:
    return round(c / 100, 2)


def figures(acc: Acc, month: str, months: list[str]) -> dict[str, Any]:
    """The report figures of one group (JSON-ready; the contract of issue 5)."""
    cur = WINDOW - 1
    s = acc.series
    out: dict[str, Any] = {k: s[k][cur] for k in COUNT_KEYS}
    out["open_at_end"] = acc.open_at(cur)
    out["overdue_at_end"] = acc.overdue_end
    out["enterprises_served"] = len(acc.enterprises)
    # new: no first request in scope before the month (of any station of the group)
    out["new_enterprises"] = len(acc.enterprises - acc.seen_before)
    out["by_element"] = {el: acc.by_element[el] for el in domain.ELEMENTS if acc.by_element[el]}
    out["by_element"].update({k: v for k, v in sorted(acc.by_element.items()) if k not in domain.ELEMENTS})
    out["by_channel"] = {ch: acc.by_channel[ch] for ch in domain.CHANNELS if acc.by_channel[ch]}
    out["by_channel"].update({k: v for k, v in sorted(acc.by_channel.items()) if k not in domain.CHANNELS})
    out["by_city"] = dict(sorted(acc.by_city.items(), key=lambda kv: (kv[0] == UNKNOWN, kv[0])))
    out["problems_solved"] = s["problems_solved"][cur]
    out["cost_saved_wan"] = _cents_to_wan(s["cost_cents"][cur])
    rated, satisfied = s["rated"][cur], s["satisfied"][cur]
    out["satisfaction"] = {
        "rated": rated,
        "satisfied": satisfied,
        "rate": round(satisfied / rated, 4) if rated else None,
    }
    counts = {k: 0 for k in REFERRAL_KINDS}
    per_kind: dict[str, list[tuple[str, str, int]]] = {k: [] for k in REFERRAL_KINDS}
    for (kind, item_id), n in acc.referrals.items():
        counts[kind] = counts.get(kind, 0) + n
        per_kind.setdefault(kind, []).append((item_id, acc.referral_names[(kind, item_id)][1], n))
    out["referrals"] = {
        "counts": counts,
        "top": {
            kind: [
                {"id": i, "name": nm, "count": n}
                | ({"detail": d} if (d := acc.referral_details.get((kind, i))) else {})
                for i, nm, n in sorted(items, key=lambda t: (-t[2], t[1], t[0]))[:TOP_N]
            ]
            for kind, items in per_kind.items()
        },
    }
    out.update(quality_figures(acc.quality))
    out["median_hours_to_accept"] = _median(acc.accept_hours)
    out["median_days_to_resolve"] = _median(acc.resolve_days)
    out["median_workdays_to_resolve"] = _median(acc.resolve_workdays)
    out["workdays_unknown"] = acc.workdays_unknown
    # year to date: the report month's year, January .. month
    year = month[:4]
    idx = [i for i, m in enumerate(months) if m[:4] == year]
    ytd: dict[str, Any] = {"from": f"{year}-01", "to": month}
    for k in YTD_KEYS:
        src = "cost_cents" if k == "cost_saved_wan" else k
        total = sum(s[src][i] for i in idx)
        ytd[k] = _cents_to_wan(total) if k == "cost_saved_wan" else total
    ytd["satisfaction_rate"] = round(ytd["satisfied"] / ytd["rated"], 4) if ytd["rated"] else None
    out["year_to_date"] = ytd
    prev: dict[str, Any] = {k: s[k][cur - 1] for k in COUNT_KEYS}
    prev["open_at_end"] = acc.open_at(cur - 1)
    prev["overdue_at_end"] = acc.overdue_prev_end
    prev["problems_solved"] = s["problems_solved"][cur - 1]
    prev["cost_saved_wan"] = _cents_to_wan(s["cost_cents"][cur - 1])
    change: dict[str, Any] = {"previous_month": months[cur - 1]}
    for k in CHANGE_KEYS:
        c, p = out[k], prev[k]
        change[k] = {
            "previous": p,
            "delta": round(c - p, 2) if isinstance(c, float) else c - p,
            "pct": round((c - p) / p * 100, 1) if p else None,
        }
    # 评价数, 满意数, 满意率 and 按期办结数: the previous month's from the same series / resolution counts
    p_rated, p_sat = s["rated"][cur - 1], s["satisfied"][cur - 1]
    for k, c, p in (
        ("rated", rated, p_rated),
        ("satisfied", satisfied, p_sat),
        ("on_time_count", acc.quality.on_time, acc.quality.prev_on_time),
    ):
        change[k] = {"previous": p, "delta": c - p, "pct": round((c - p) / p * 100, 1) if p else None}
    p_rate = round(p_sat / p_rated, 4) if p_rated else None
    c_rate = out["satisfaction"]["rate"]
    change["rate"] = {
        "previous": p_rate,
        "delta": None if c_rate is None or p_rate is None else round(c_rate - p_rate, 4),
        "pct": None,
    }
    # the ratio figures (按期办结率, 回访率): their previous month and year to date by the month's rule
    for k, (p_rate, y_rate) in earlier_rates(acc.quality).items():
        c_rate = out[k.removesuffix("_rate")]["rate"]
        change[k] = {
            "previous": p_rate,
            "delta": None if c_rate is None or p_rate is None else round(c_rate - p_rate, 4),
            "pct": None,
        }
        ytd[k] = y_rate
    out["change"] = change
    out["series"] = [
        {"month": m, **{k: s[k][i] for k in COUNT_KEYS}, "open_at_end": acc.open_at(i)}
        for i, m in enumerate(months)
    ]
    return out


DETAIL_FIELDS = (
    "number",
    "station_code",
    "enterprise_name",
    "enterprise_uscc",
    "enterprise_city",
    "enterprise_county",
    "elements",
    "sub_type",
    "title",
    "description",
    "channel",
    "urgency",
    "contact_name",
    "phone_display",
    "phone_e164",
    "received_at",
    "promised_date",
    "days_taken",
    "workdays_taken",
    "overdue_days",
    "overdue_workdays",
    "status",
    "operator",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "cancelled_at",
    "result",
    "problems_solved",
    "cost_saved_wan",
    "fee_yuan",
    "satisfaction",
    "followup_note",
    "followup_at",
    "hub_expert_id",
    "hub_note",
    "hub_priority",
    "received_in_month",
    "events_in_month",
    "id",
    "enterprise_id",
    "created_at",
    "updated_at",
)
_DT_FIELDS = (
    "received_at",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "cancelled_at",
    "followup_at",
    "created_at",
    "updated_at",
)


DETAIL_DATETIME_FIELDS = _DT_FIELDS  # the details' times (ISO-8601, Asia/Shanghai)
_READ_FIELDS = tuple(
    k for k in DETAIL_FIELDS if k not in ("cost_saved_wan", "fee_yuan")
)  # the others: the row's
_DT_AT = tuple(_READ_FIELDS.index(k) for k in _DT_FIELDS)
_LOCAL_KEYS = tuple(k + LOCAL_SUFFIX for k in _DT_FIELDS)  # the times the server wrote (local_iso_sql)


_ELEMENTS_AT = _READ_FIELDS.index("elements")
_PROMISED_AT = _READ_FIELDS.index("promised_date")
_IN_MONTH_AT = _READ_FIELDS.index("received_in_month")
_DETAIL_TEMPLATE: dict[str, Any] = dict.fromkeys(DETAIL_FIELDS)  # detail_row's dicts: its keys, in order
_PROMISED_ISO: dict[Any, str | None] = {}  # a stored promised date -> ISO (rows share days)


def detail_rows(details: Details, code: str | None = None) -> list[dict[str, Any]]:
    """The details rows (:func:`detail_row`), of station ``code`` only when given."""
    rows = details.rows
    if code is not None:
        st = details.index("station_code")
        rows = [v for v in rows if v[st] == code]
    return _detail_dicts(rows, details.index)


_DETAIL_VALUES = (*_READ_FIELDS, *_LOCAL_KEYS, "cost_saved_cents", "fee_cents")  # what detail_row takes


def detail_row(vals: list[Any]) -> dict[str, Any]:
    """One details row: every request field, times in Asia/Shanghai ISO-8601, money in 万元. ``vals``: the
    row's values of ``_READ_FIELDS``, then the eight times the server wrote (``_LOCAL_KEYS``: None where
    it did not, or on SQLite), then its cost saved and fee in cents (:func:`detail_rows`)."""
    return _detail_dicts([vals], {k: i for i, k in enumerate(_DETAIL_VALUES)}.__getitem__)[0]


def _detail_dicts(rows: list[Any], index: Callable[[str], int]) -> list[dict[str, Any]]:
    """The details rows of ``rows``; ``index(key)``: the position of a value in each row (of
    :data:`_DETAIL_VALUES`). Each dict is made at its full size at once (a copy of a dict of
    ``DETAIL_FIELDS``; a dict built key by key grows four times on the way to 43 keys) from the row's
    values in one pick: each time as the server wrote it (``local_iso_sql``), the money in cents; then
    the few values converted set in it."""
    src = tuple(
        index(k + LOCAL_SUFFIX)
        if k in _DT_FIELDS
        else index("cost_saved_cents")
        if k == "cost_saved_wan"
        else index("fee_cents")
        if k == "fee_yuan"
        else index(k)
        for k in DETAIL_FIELDS
    )
    pick = itemgetter(*src)
    # the times the server did not write (NULL, before the fixed +08:00, or SQLite): their stored value
    times = tuple((k, index(k), index(k + LOCAL_SUFFIX)) for k in _DT_FIELDS)
    hours = _LOCAL_HOURS
    stored = domain.stored_elements
    promised_iso = _PROMISED_ISO
    new = _DETAIL_TEMPLATE.copy
    out: list[dict[str, Any]] = []
    append = out.append
    for row in rows:
        d = new()
        d.update(zip(DETAIL_FIELDS, pick(row), strict=True))
        for k, at, loc_at in times:
            if row[loc_at] is None:
                v = row[at]
                if v is None:
                    continue
                # local_iso's fast paths inline (a row has eight times): PostgreSQL's naive UTC since the
                # zone's fixed +08:00, one addition; a stored naive-UTC text whose UTC hour is known, its
                # minutes and seconds copied; anything else through local_iso itself
                tv = type(v)
                if tv is datetime:
                    if v >= _FIXED_SINCE:
                        d[k] = (v + _SHANGHAI).isoformat(timespec="seconds") + "+08:00"
                        continue
                elif tv is str and len(v) == 26 and v[19] == "." and v[13] == ":" and v[16] == ":":
                    hour = hours.get(v[:13])
                    if hour is not None and hour[0]:
                        d[k] = hour[0] + v[13:19] + hour[1]
                        continue
                d[k] = local_iso(v)
        d["elements"] = stored(d["elements"])[0]
        pv = d["promised_date"]
        try:
            d["promised_date"] = promised_iso[pv]
        except KeyError:
            pd = as_date(pv)
            iso = d["promised_date"] = pd.isoformat() if pd else None
            if len(promised_iso) < 1 << 16:
                promised_iso[pv] = iso
        except TypeError:  # not hashable: not a stored date
            pd = as_date(pv)
            d["promised_date"] = pd.isoformat() if pd else None
        d["received_in_month"] = bool(d["received_in_month"])
        c, f = d["cost_saved_wan"], d["fee_yuan"]  # 收费金额 (reports.fees, core.chain.request_fee)
        if c is not None:
            d["cost_saved_wan"] = _cents_to_wan(int(c))
        if f is not None:
            d["fee_yuan"] = _cents_to_wan(int(f))
        append(d)
    return out


def _station_ref(code: str, stations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    st = stations.get(code)
    return {"code": code, "name": st["name"] if st else code}


def _as_of(acc: Acc, generated_at: datetime) -> str | None:
    """数据截至: the newest change the figures count, never after the report was made (a station whose
    clock ran ahead stamps its rows in the future: the report's data is as of its making then)."""
    return local_iso(not_after(acc.data_as_of, generated_at))


def station_report(raw: Raw, code: str | None = None) -> dict[str, Any]:
    """The report of one station (the station's own database, or one station at the hub)."""
    if code is None:
        selfs = [c for c, st in raw.stations.items() if st["is_self"]]
        code = selfs[0] if selfs else (sorted(raw.accs)[0] if raw.accs else "")
    acc = merged(a for c, a in raw.accs.items() if c == code)
    return {
        "month": raw.month,
        "station": _station_ref(code, raw.stations),
        "generated_at": local_iso(raw.generated_at),
        "data_as_of": _as_of(acc, raw.generated_at),
        **figures(acc, raw.month, raw.months),
        "details": detail_rows(raw.details, code),
    }


#: the province report's groupings of stations: report key -> (entry key, the station profile field)
GROUPINGS = {
    "cities": ("city", "city_code"),
    "counties": ("county", "county_code"),
    "types": ("type", "station_type"),
    "modes": ("mode", "service_mode"),
}


def _ref(key: str, code: str) -> dict[str, str]:
    """``{code, name}`` of a city, county, station type or service mode (``unknown`` when not set)."""
    if code == UNKNOWN or key in ("type", "mode"):
        return {"code": code, "name": code}
    if key == "county" and code in places.CITIES:  # a city-level station: its 市本级
        return {"code": code, "name": places.breakdown_name(code)}
    return {"code": code, "name": places.name_of(code) if key == "county" else places.CITIES.get(code, code)}


def hub_report(raw: Raw) -> dict[str, Any]:
    """The province-wide report: per station, per city, county, type and service mode of the STATION (its
    own profile: :func:`qi_station.reports.queries.station_profiles`), and the province. Each grouping
    holds every station once, so its additive figures add up to the province's."""
    codes = sorted(raw.accs)
    # each station's durations sorted once: a group's (a merge) are then that many sorted runs, which the
    # medians' sort merges instead of sorting ~100 k values again for each of the groupings
    for a in raw.accs.values():
        a.accept_hours.sort()
        a.resolve_days.sort()
        a.resolve_workdays.sort()
    province = merged(raw.accs.values())

    def prof(c: str, field: str) -> str:
        st = raw.stations.get(c) or {}
        if field == "county_code":  # a station at a city-level region: its city's 市本级, as an enterprise
            return place_county(st.get("county_code"), st.get("city_code"))
        return st.get(field) or UNKNOWN

    # the open-rectification list sorted once (it spans the history: hundreds of thousands of rows at a
    # large hub) and split per station and per group in that order, not sorted again for each of them
    # (in that order from the database already where it gave them so: ``Raw.open_rows``)
    # (each station's own rows, from the database in that order, are its part of it already)
    ordered = raw.open_rows if raw.open_rows is not None else sort_open(province.quality.rectify_open)
    province.quality.rectify_open, province.quality.open_sorted = ordered, True
    open_codes = open_stations(ordered)
    if raw.open_rows is not None:
        for c in codes:
            raw.accs[c].quality.open_sorted = True
    else:
        for c, rows in split_open(ordered, {c: c for c in codes}, open_codes).items():
            raw.accs[c].quality.rectify_open, raw.accs[c].quality.open_sorted = rows, True

    stations_out = []
    for c in codes:
        st = raw.stations.get(c) or {}
        stations_out.append(
            {
                "station": _station_ref(c, raw.stations),
                **{key: _ref(key, prof(c, field)) for key, field in GROUPINGS.values()},
                "park": st.get("park"),
                "profile_from": st.get("profile_from"),
                "data_as_of": _as_of(raw.accs[c], raw.generated_at),
                **figures(raw.accs[c], raw.month, raw.months),
            }
        )
    groups: dict[str, list[dict[str, Any]]] = {}
    for group, (key, field) in GROUPINGS.items():
        members: dict[str, list[str]] = {}
        for c in codes:
            members.setdefault(prof(c, field), []).append(c)
        groups[group] = []
        parts = split_open(ordered, {c: prof(c, field) for c in codes}, open_codes)
        for code in sorted(members, key=lambda x: (x == UNKNOWN, x)):
            a = merged(raw.accs[c] for c in members[code])
            a.quality.rectify_open, a.quality.open_sorted = parts.get(code, []), True
            groups[group].append(
                {
                    key: _ref(key, code),
                    "stations": members[code],
                    "data_as_of": _as_of(a, raw.generated_at),
                    **figures(a, raw.month, raw.months),
                }
            )
    return {
        "month": raw.month,
        "scope": "province",
        "station": {"code": places.PROVINCE_CODE, "name": places.PROVINCE_NAME},
        "generated_at": local_iso(raw.generated_at),
        "data_as_of": _as_of(province, raw.generated_at),
        **figures(province, raw.month, raw.months),
        **groups,
        "stations": stations_out,
        "details": detail_rows(raw.details),
    }


def _check_hub_station(conn: Any, code: str) -> None:
    """``--station CODE`` at the hub names a station the hub knows (registered, or with requests)."""
    from sqlalchemy import inspect, text

    from qi_station.core.errors import ValidationError, zh_quoted

    known = conn.execute(text("SELECT 1 FROM request WHERE station_code = :c LIMIT 1"), {"c": code}).first()
    if known is None and inspect(conn).has_table("hub_station"):
        known = conn.execute(text("SELECT 1 FROM hub_station WHERE code = :c"), {"c": code}).first()
    if known is None:
        raise ValidationError(
            "station",
            "known_station",
            f"no station {code!r} at this hub: give the code of a registered station (`qi-station hub "
            f"stations`) / 中心没有站点{zh_quoted(code)}",
        )


def check_report_month(conn: Any, month: str, station: str | None = None) -> None:
    """A report month lies between the first month with data and this month (Asia/Shanghai):
    refused ``[range]`` after this month (nothing can have happened yet) and before the floor, which is
    the month of the first request received or activity held (of ``station`` at the hub, else all),
    or the last full month (the default report month) when that is earlier or there is no data."""
    from qi_station.core.errors import ValidationError
    from qi_station.core.months import current_month

    now = current_month()
    if month > now:
        raise ValidationError(
            "month",
            "range",
            f"{month} is after this month ({now}): there is nothing to report yet / {month} 尚未到来，无数据",
        )
    floor = report_floor(conn, station)
    if month < floor:
        raise ValidationError(
            "month",
            "range",
            f"{month} is before the first month with data ({floor}): the report would be empty; give a month "
            f"from {floor} to {now} / {month} 早于最早有数据的月份 {floor}",
        )


def report_floor(conn: Any, station: str | None = None) -> str:
    """The earliest report month (:func:`check_report_month`'s floor): the month of the first request
    received or activity held (of ``station`` at the hub, else all), or the last full month when that is
    earlier or there is no data."""
    from sqlalchemy import text

    from qi_station.core.months import last_full_month, month_of

    where, params = "deleted = :f", dict[str, Any]({"f": False})
    if station is not None:
        where += " AND station_code = :s"
        params["s"] = station
    first = conn.execute(
        text(f"SELECT min(received_at) FROM request WHERE {where}").bindparams(**params)
    ).scalar()
    act_where, act_params = ("station_code = :s", {"s": station}) if station is not None else ("1 = 1", {})
    first_act = conn.execute(
        text(f"SELECT min(date) FROM activity WHERE {act_where}").bindparams(**act_params)
    ).scalar()
    floors = [last_full_month()]
    if first is not None:
        at = first if isinstance(first, datetime) else datetime.fromisoformat(str(first))
        floors.append(month_of(at.replace(tzinfo=UTC).astimezone(TZ)))
    if first_act is not None:
        floors.append(str(first_act)[:7])
    return min(floors)


def report_month_range(url_or_path: Any) -> tuple[str, str]:
    """The station's report months as ``(first, last)``: the first month with data and this month (the
    months :func:`check_report_month` accepts)."""
    from qi_station.core.months import current_month

    with report_connection(url_or_path) as conn:
        return report_floor(conn), current_month()


def check_report_month_of(url_or_path: Any, month: str) -> str:
    """:func:`check_report_month` on a station database (before asking about a file to overwrite): the
    month written 'YYYY-MM', or ValidationError("month")."""
    month = check_month(month)
    with report_connection(url_or_path) as conn:
        check_report_month(conn, month)
    return month


def monthly_report(
    url_or_path: Any,
    month: str,
    *,
    station: str | None = None,
    hub: bool = False,
    progress: Callable[[str], None] | None = None,
    exact: bool = False,
) -> dict[str, Any]:
    """Compute a monthly report from a database URL or SQLite path.

    ``exact=True`` computes the history-wide figures from every event instead of the month rollup
    (``reports/ledger.py``; the same figures, slower: the reference for tests).

    ``hub=False``: the station report (this station's own code unless ``station`` is given).
    ``hub=True``: the province report; with ``station`` it is that station's report at the hub.
    """
    month = check_month(month)  # the one month syntax, written YYYY-MM (ValidationError("month"))
    with no_cycle_collection():
        return _monthly_report(url_or_path, month, station=station, hub=hub, progress=progress, exact=exact)


def _monthly_report(
    url_or_path: Any,
    month: str,
    *,
    station: str | None,
    hub: bool,
    progress: Callable[[str], None] | None,
    exact: bool,
) -> dict[str, Any]:
    demo = 0
    with report_connection(url_or_path) as conn:
        check_report_month(conn, month, station if hub else None)
        if not hub:
            # The station database holds only this station's requests: no station filter (it would steer
            # SQLite onto the station_code index, which matches every row), pick the group afterwards.
            if station is None:
                from sqlalchemy import text

                row = conn.execute(
                    text("SELECT code FROM station WHERE is_self = :t").bindparams(t=True)
                ).first()
                station = row[0] if row else None
            # demo data (init --demo) is left out of every figure, as the hub leaves it out: computed from
            # the ledger then (the month rollups count the demo)
            with leave_out_demo(conn) as demo:
                raw = collect(conn, month, None, progress, exact=exact or bool(demo))
        else:
            if station is not None:
                _check_hub_station(conn, station)
            raw = collect(conn, month, station, progress, exact=exact)
        from qi_station.reports.indicators import distributed_body

        definitions = distributed_body(conn)
    report = hub_report(raw) if hub and station is None else station_report(raw, station)
    if not hub:
        report["demo_excluded"] = demo  # demo requests left out of the figures (docs/reports.md)
    # the indicators of this report, by the definitions the hub distributed (else the shipped default)
    from qi_station.core.errors import ValidationError
    from qi_station.reports.indicators import indicator_values, load_indicators

    problem = None
    try:
        spec = load_indicators(body=definitions)
    except ValidationError as e:  # e.g. definitions naming a figure this (older) program lacks
        problem, spec = e.message, load_indicators()
    report["indicator_set"] = {
        "title": spec.title,
        "source": spec.source,
        "distributed": definitions is not None and problem is None,
        "problem": problem,  # why the distributed definitions were not used (the shipped default was)
    }
    report["indicators"] = indicator_values(report, spec)
    return report
