"""Month arithmetic: the one home for 'YYYY-MM' (stdlib only).

A month is ``[first day 00:00, first day of the next month 00:00)`` in Asia/Shanghai; the database
stores naive UTC, so :func:`month_bounds_utc` gives the bounds as naive UTC. "Today" comes from the one
clock (:func:`qi_station.core.clock.today_local`, which honours ``QI_STATION_NOW``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from qi_station.core.clock import TZ, halfwidth, today_local
from qi_station.core.errors import ValidationError

# ASCII digits (full-width ones are read as ASCII first: ``clock.halfwidth``): 2026-03, 2026-3, 2026/03, 2026.3, 2026年3月, 202603
_MONTH = re.compile(r"([0-9]{4})(?:\s*[-/.年]\s*([0-9]{1,2})\s*月?|([0-9]{2}))")
YEARS = (1900, 9998)  # a month whose edges convert to UTC and back without overflow


def _bad(text: object) -> ValidationError:
    """The one message of a month that cannot be read: what was typed, and this month as the example."""
    example = current_month()
    typed = str(text).replace(" / ", "/")[:40]  # the Chinese half is what follows the last " / "
    return ValidationError(
        "month",
        "yyyy-mm",
        f"not a month: {typed!r} (write year-month, e.g. {example}) / "
        f"「{typed}」不是月份：月份格式应为 {example}（年-月）",
    )


def parse_month(text: str) -> tuple[int, int]:
    """'YYYY-MM' (a one-digit month is accepted; spaces around are ignored; also ``2026/03``,
    ``2026.3``, ``2026年3月`` and ``202603``; full-width digits and signs as typed with a Chinese input
    method, ``２０２６－１１``, read as ASCII) -> (year, month), years 1900-9998; ValidationError("month")
    otherwise. The one month syntax of the CLI, the API and the TUI."""
    found = _MONTH.fullmatch(halfwidth(text).strip()) if isinstance(text, str) else None
    if found is None:
        raise _bad(text)
    y, m = int(found.group(1)), int(found.group(2) or found.group(3))
    if not 1 <= m <= 12:
        raise _bad(text)
    if not YEARS[0] <= y <= YEARS[1]:
        raise ValidationError(
            "month",
            "range",
            f"month {text.strip()!r} is out of range: the year must fall in {YEARS[0]}..{YEARS[1]} / "
            f"月份超出范围：年份应在{YEARS[0]}-{YEARS[1]}年之间",
        )
    return y, m


def check_month(text: str) -> str:
    """The month the user typed, validated by :func:`parse_month` and written 'YYYY-MM'."""
    return format_month(*parse_month(text))


def format_month(year: int, month: int) -> str:
    return f"{year}-{month:02d}"


def month_of(d: date) -> str:
    """The month a date (or datetime) falls in."""
    return format_month(d.year, d.month)


def shift_month(month: str, n: int) -> str:
    """The month ``n`` months after ``month`` (before it when ``n`` is negative)."""
    y, m = parse_month(month)
    k = y * 12 + (m - 1) + n
    return format_month(k // 12, k % 12 + 1)


def previous_month(month: str) -> str:
    return shift_month(month, -1)


def next_month(month: str) -> str:
    return shift_month(month, 1)


def current_month() -> str:
    """This month in Asia/Shanghai (by the one clock)."""
    return month_of(today_local())


def last_full_month(today: date | None = None) -> str:
    """The month before today's (the default month of a report)."""
    return previous_month(month_of(today or today_local()))


def last_months(month: str, n: int = 12) -> list[str]:
    """The ``n`` months ending with ``month``, oldest first."""
    return [shift_month(month, i - n + 1) for i in range(n)]


def first_day(month: str) -> date:
    y, m = parse_month(month)
    return date(y, m, 1)


def month_bounds_utc(month: str) -> tuple[datetime, datetime]:
    """'YYYY-MM' -> [start, end) as naive UTC, month edges in Asia/Shanghai."""
    y, m = parse_month(month)
    ny, nm = parse_month(next_month(month))
    start = datetime(y, m, 1, tzinfo=TZ)
    end = datetime(ny, nm, 1, tzinfo=TZ)
    return (
        start.astimezone(UTC).replace(tzinfo=None),
        end.astimezone(UTC).replace(tzinfo=None),
    )
