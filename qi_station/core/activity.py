"""Activities that are not requests (enterprise visits 走访, training sessions 培训, events 活动): their
vocabulary and the one check of an activity row, called by the station's service, the CLI, the TUI form
(through the service) and the hub's push rules. Pure Python."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from qi_station.core import validate as v
from qi_station.core.clock import check_year, parse_date
from qi_station.core.errors import ValidationError

ACTIVITY_KINDS: Final = ("visit", "training", "event")
ACTIVITY_KIND_ZH: Final = {"visit": "走访", "training": "培训", "event": "活动"}
ACTIVITY_KIND_EN: Final = {"visit": "Enterprise visit", "training": "Training", "event": "Event"}
#: the largest count of enterprises or people one activity may report
MAX_REACHED = 1_000_000


def check_activity(row: Mapping[str, Any]) -> dict[str, Any]:
    """``kind``, ``date`` (YYYY-MM-DD, local), ``enterprises`` and ``people`` (whole numbers ≥ 0),
    ``title`` (required) and ``note``: the checked values, or a :class:`ValidationError` naming the field."""
    kind = str(row.get("kind") or "").strip()
    v.check_choice(kind, ACTIVITY_KINDS, "kind")
    raw_date = row.get("date")
    if isinstance(raw_date, date):
        day = raw_date
    elif raw_date is None or str(raw_date).strip() == "":
        raise ValidationError("date", "required", "date is required / 须填写活动日期")
    else:
        day = parse_date(str(raw_date), "date")
    check_year(day, "date")
    counts: dict[str, int] = {}
    for f in ("enterprises", "people"):
        n = v.parse_non_negative_int(row.get(f), f)
        if n is None:
            raise ValidationError(f, "required", f"{f} is required (a whole number ≥ 0) / 须填写人数或企业数")
        counts[f] = n
    title = v.clean_text(row.get("title"), "title", required=True)
    note = v.clean_text(row.get("note"), "note", multiline=True) or None
    return {"kind": kind, "date": day, **counts, "title": title, "note": note}
