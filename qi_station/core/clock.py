"""Time helpers. The database stores naive UTC; users think in Asia/Shanghai."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from qi_station.core.errors import ValidationError

TZ = ZoneInfo("Asia/Shanghai")
DB_FMT = "%Y-%m-%d %H:%M:%S.%f"


def now_utc() -> datetime:
    """Naive UTC now (the storage convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_db(dt: datetime) -> str:
    """Format a naive-UTC or aware datetime the way SQLAlchemy stores DateTime on SQLite."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.strftime(DB_FMT)


def from_db(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def parse_datetime(text: str, field: str = "received_at") -> datetime:
    """Parse ISO-8601; a time without a zone is Asia/Shanghai. Returns naive UTC."""
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            field, "iso8601", f"not an ISO-8601 time: {text!r} / 时间格式应为 ISO-8601"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=TZ)
    return dt.astimezone(UTC).replace(tzinfo=None)


def parse_date(text: str, field: str = "promised") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            field, "date", f"not a date YYYY-MM-DD: {text!r} / 日期格式应为 YYYY-MM-DD"
        ) from None


def local(dt: datetime) -> datetime:
    """Naive UTC -> aware Asia/Shanghai."""
    return dt.replace(tzinfo=UTC).astimezone(TZ)


def iso_local(value: object) -> object:
    """A stored naive-UTC time (text or datetime) as ISO-8601 in Asia/Shanghai; others unchanged."""
    if isinstance(value, datetime):
        return local(value).isoformat(timespec="seconds")
    if not value or not isinstance(value, str):
        return value
    try:
        return local(datetime.fromisoformat(value)).isoformat(timespec="seconds")
    except ValueError:
        return value


def local_date(dt: datetime) -> date:
    return local(dt).date()


def today_local() -> date:
    """Today in Asia/Shanghai (QI_STATION_NOW pins it for tests and demos)."""
    fake = os.environ.get("QI_STATION_NOW")
    if fake:
        return local_date(parse_datetime(fake, "QI_STATION_NOW"))
    return datetime.now(TZ).date()


def month_bounds_utc(month: str) -> tuple[datetime, datetime]:
    """'YYYY-MM' -> [start, end) as naive UTC, month edges in Asia/Shanghai."""
    try:
        y, m = (int(x) for x in month.split("-"))
        start = datetime(y, m, 1, tzinfo=TZ)
    except (ValueError, TypeError):
        raise ValidationError(
            "month", "yyyy-mm", f"not a month YYYY-MM: {month!r} / 月份格式应为 YYYY-MM"
        ) from None
    end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=TZ)
    return (
        start.astimezone(UTC).replace(tzinfo=None),
        end.astimezone(UTC).replace(tzinfo=None),
    )


def previous_month(month: str) -> str:
    y, m = (int(x) for x in month.split("-"))
    return f"{y - (m == 1)}-{(m - 2) % 12 + 1:02d}"


def last_full_month(today: date | None = None) -> str:
    d = today or today_local()
    first = d.replace(day=1) - timedelta(days=1)
    return f"{first.year}-{first.month:02d}"


def env_now() -> datetime:
    """Now, overridable by QI_STATION_NOW (tests and demos)."""
    fake = os.environ.get("QI_STATION_NOW")
    return parse_datetime(fake) if fake else now_utc()
