"""Rectification (整改) of a low rating: the one home of which ratings need it, when it is due and what a
``rectify`` record must carry. Pure Python: the station's ledger, the hub's push rules and the reports
all call this module.

A 不满意 (2) or 非常不满意 (1) rating at the follow-up (the request is closed) needs a ``rectify`` record
(what was done, by whom, when), usually within :data:`RECTIFY_WORKDAYS` working days of the rating.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from qi_station.core import validate as v
from qi_station.core.errors import ValidationError
from qi_station.core.workdays import Calendar, promise_date

#: ratings at or below this need a rectify record (2 = 不满意, 1 = 非常不满意)
LOW_SATISFACTION = 2
#: working days from the rating to the rectification's due date
RECTIFY_WORKDAYS = 15
#: the event kind of a rectify record on the request's hash chain
RECTIFY_KIND = "rectify"


def needs_rectify(satisfaction: Any) -> bool:
    """Does this rating need a rectify record?"""
    return (
        isinstance(satisfaction, int)
        and not isinstance(satisfaction, bool)
        and 1 <= satisfaction <= LOW_SATISFACTION
    )


def rectify_due(rated_on: date, cal: Calendar) -> date:
    """THE due date of a rectification: :data:`RECTIFY_WORKDAYS` working days after the day of the rating
    (that day not counted), by the holiday calendar (``core.workdays``). Where the calendar does not
    cover a year, that stretch counts Monday–Friday (as a promised date does)."""
    return promise_date(cal, rated_on, RECTIFY_WORKDAYS).date


class RectifyDues:
    """:func:`rectify_due` of many rating days (a report's open-rectification list spans the history: one
    due date per distinct day), by one list of the working days from ``first`` on (bisect), not a count
    each. A day before ``first``, or whose due date lies past the list, is counted by :func:`rectify_due`
    itself; the same dates either way."""

    #: calendar days listed past ``last``: 15 working days span at most ~5 weeks, even over a long holiday
    SPAN = 62

    def __init__(self, cal: Calendar, first: date, last: date) -> None:
        self.cal = cal
        self.first = first.toordinal()
        self.days = cal.workday_ordinals(first + timedelta(days=1), last + timedelta(days=self.SPAN))

    def __call__(self, rated_on: date) -> date:
        o = rated_on.toordinal()
        if o >= self.first:
            i = bisect_right(self.days, o) + RECTIFY_WORKDAYS - 1
            if i < len(self.days):
                return date.fromordinal(self.days[i])
        return rectify_due(rated_on, self.cal)


def can_rectify(status: Any, satisfaction: Any) -> bool:
    """May a rectify record be made: a closed request rated 不满意 / 非常不满意 (the TUI offers 整改 only
    then; :func:`check_rectify_target` refuses the rest). One made already does not stop another
    (:func:`rectify_again`)."""
    return status == "closed" and needs_rectify(satisfaction)


def rectify_records(events: Any) -> list[Mapping[str, Any]]:
    """The rectify records among a request's events (``kind`` :data:`RECTIFY_KIND`), oldest first."""
    return [e for e in events if e.get("kind") == RECTIFY_KIND]


def rectify_again(status: Any, satisfaction: Any, events: Any) -> bool:
    """Is a rectify record made now a further one (再次整改)? A request takes several: the follow-up after a
    rectification may find the enterprise still dissatisfied, or the work is done in steps, and the ledger
    is append-only (a record is never edited): each further step is a further record, the earlier ones
    stay shown. True when one may be made (:func:`can_rectify`) and ``events`` hold one already."""
    return can_rectify(status, satisfaction) and bool(rectify_records(events))


def check_rectify_target(status: Any, satisfaction: Any) -> None:
    """A rectify record is made only for a closed request rated 不满意 / 非常不满意."""
    if not can_rectify(status, satisfaction):
        raise ValidationError(
            "satisfaction",
            "low_rating",
            "rectification is recorded only for a closed request rated 1 or 2 / "
            "整改仅针对回访评价为不满意或非常不满意的需求",
        )


def check_rectify_data(action: Any, by: Any) -> dict[str, str]:
    """The data of a rectify record: ``action`` (what was done, required) and ``by`` (who did it)."""
    act = v.clean_text(action if isinstance(action, str) else None, "action", required=True, multiline=True)
    who = v.clean_text(by if isinstance(by, str) else None, "by", required=True)
    return {"action": act, "by": who}


def rectify_data_of(data: Mapping[str, Any]) -> dict[str, str]:
    """A stored rectify event's ``data`` checked again (the hub's push rule calls this)."""
    return check_rectify_data(data.get("action"), data.get("by"))
