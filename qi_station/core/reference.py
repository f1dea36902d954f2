"""Hub-distributed reference documents (kind + key + text body): THE check of each kind.

The hub checks a document before it stores it (``sync.hub.reference``) and a station checks it again
before it uses it (``sync.station.apply``). To distribute another kind: a check here in ``CHECKS``
(raise ``ValidationError`` on a bad body, return the parsed document), the hub call that loads it, and,
if the station keeps it in a table of its own, an entry in ``sync.station.apply.REFERENCE_APPLY``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qi_station.core.errors import ValidationError
from qi_station.core.workdays import read_calendar_text

MAX_BODY = 1_000_000  # characters: a reference document is small


def check_calendar(key: str, body: str) -> dict[int, Any]:
    """One calendar year: ``key`` is the year, ``body`` its CSV (``year,date,kind,name``) naming only it."""
    years = read_calendar_text(body, f"calendar {key}")
    if list(years) != [int(key) if key.isdigit() else -1]:
        raise ValidationError(
            "year",
            "key",
            f"calendar document {key!r} must hold that one year (got {sorted(years)}) / 日历文档 {key} 应只含 {key} 年",
        )
    return years


CHECKS: dict[str, Callable[[str, str], Any]] = {"calendar": check_calendar}


def doc_id(kind: str, key: str) -> str:
    return f"{kind}:{key}"


def check(kind: str, key: str, body: str) -> Any:
    """THE check of a reference document of a known kind; returns it parsed."""
    fn = CHECKS.get(kind)
    if fn is None:
        raise ValidationError(
            "kind",
            "choice",
            f"unknown reference kind {kind!r} (known: {', '.join(CHECKS)}) / 未知的参考资料类型",
        )
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY:
        raise ValidationError(
            "body", "size", f"{kind} {key}: empty or larger than {MAX_BODY} / 内容为空或过大"
        )
    return fn(key, body)
