"""Activities that are not requests (enterprise visits 走访, training sessions 培训, events 活动): their
vocabulary and the one check of an activity row, called by the station's service, the CLI, the TUI form
(through the service) and the hub's push rules. Pure Python."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

from qi_station.core import validate as v
from qi_station.core.clock import check_not_future, check_year, parse_date
from qi_station.core.errors import ValidationError

ACTIVITY_KINDS: Final = ("visit", "training", "event")
ACTIVITY_KIND_ZH: Final = {"visit": "走访", "training": "培训", "event": "活动"}
ACTIVITY_KIND_EN: Final = {"visit": "Enterprise visit", "training": "Training", "event": "Event"}
#: the largest count of enterprises or people one activity may report
MAX_REACHED = 1_000_000


def check_activity(
    row: Mapping[str, Any], now: datetime | None = None, *, new: bool = True
) -> dict[str, Any]:
    """``kind``, ``date`` (YYYY-MM-DD, local; a new activity's not after tomorrow:
    ``core.clock.check_not_future``), ``enterprises`` and ``people`` (whole numbers ≥ 0), ``title``
    (required) and ``note``: the checked values, or a :class:`ValidationError` naming the field. ``now``:
    naive UTC (default the clock). ``new=False`` (the hub, on a row a station already wrote by its own
    clock): the date's years only, so a row stored before this rule still syncs."""
    c = v.Checks()  # every bad field at once, in the form's order
    kind = c.run(
        v.check_choice, str(row.get("kind") or "").strip(), ACTIVITY_KINDS, "kind"
    )  # 培训 -> training
    day = c.run(_day, row.get("date"), now, new)
    counts: dict[str, int] = {}
    for f in ("enterprises", "people"):
        counts[f] = c.run(_count, row.get(f), f)
    title = c.run(v.clean_text, row.get("title"), "title", required=True)
    note = c.run(v.clean_text, row.get("note"), "note", multiline=True) or None
    c.done()
    return {"kind": kind, "date": day, **counts, "title": title, "note": note}


def _day(raw: Any, now: datetime | None, new: bool) -> date:
    if isinstance(raw, date):
        day = raw
    elif raw is None or str(raw).strip() == "":
        raise ValidationError("date", "required", "date is required / 须填写活动日期")
    else:
        day = parse_date(str(raw), "date")
    check_year(day, "date")
    if new:
        check_not_future(day, "date", now)
    return day


def _count(raw: Any, field: str) -> int:
    n = v.parse_non_negative_int(raw, field)
    if n is None:
        raise ValidationError(
            field, "required", f"{field} is required (a whole number ≥ 0) / 须填写人数或企业数"
        )
    return n
