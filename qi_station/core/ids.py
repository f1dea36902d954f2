"""Ids born where the row is born: RFC 9562 UUIDv7 strings, and the hybrid logical clock stamp.
Pure Python: no third-party imports.
"""

from __future__ import annotations

import secrets
import time


def uuid7(ms: int | None = None, rand: int | None = None) -> str:
    """UUIDv7 text: 48-bit ms timestamp, version, 74 random bits (``rand`` makes it deterministic)."""
    if ms is None:
        ms = time.time_ns() // 1_000_000
    if rand is None:
        rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (
        (ms & 0xFFFFFFFFFFFF) << 80
        | 0x7 << 76
        | ((rand >> 62) & 0xFFF) << 64
        | 0b10 << 62
        | (rand & ((1 << 62) - 1))
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def hlc_now(station_code: str) -> str:
    """The outbox ordering stamp: ``<13-digit epoch ms>:<station code>``."""
    return f"{time.time_ns() // 1_000_000:013d}:{station_code}"


def number_month(number: str) -> str | None:
    """The ``YYYYMM`` of a request number ``{CODE}-{YYYYMM}-{NNNN}``: the month the request was received
    in (local time; ``db.write.next_ledger_no`` numbers it so, a renumbering keeps it); None for text
    not of that form."""
    parts = number.rsplit("-", 2) if isinstance(number, str) else []
    if len(parts) == 3 and len(parts[1]) == 6 and parts[1].isdigit() and parts[2].isdigit():
        return parts[1]
    return None
