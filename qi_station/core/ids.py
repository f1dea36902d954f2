"""Ids born where the row is born: RFC 9562 UUIDv7 strings, and the hybrid logical clock stamp.
Pure Python: no third-party imports.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7(ms: int | None = None, rand: int | None = None) -> str:
    """UUIDv7 text: 48-bit ms timestamp, version, 74 random bits (``rand`` makes it deterministic)."""
    if ms is None:
        ms = time.time_ns() // 1_000_000
    if rand is None:
        # os.urandom is what secrets.token_bytes returns; importing secrets costs a CLI call ~4 ms
        # (hmac, hashlib, random) at start-up
        rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (ms & 0xFFFFFFFFFFFF) << 80
        | 0x7 << 76
        | ((rand >> 62) & 0xFFF) << 64
        | 0b10 << 62
        | (rand & ((1 << 62) - 1))
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


#: the namespace of the shipped demo data's fixed ids (``data/make_demo.py``): :func:`demo_id`
DEMO_ID_NAMESPACE = uuid.UUID("6f1c3b1e-2021-4a51-9d0c-5d0a0c0e1234")


def demo_id(kind: str, key: str) -> str:
    """The fixed id ``data/demo`` gives a row (UUIDv5 of :data:`DEMO_ID_NAMESPACE` and ``kind:key``; an
    enterprise's key is its name). Older releases loaded the demo enterprises under these ids, so an
    enterprise whose id is ``demo_id("enterprise", its name)`` is the demo loader's: a station's own
    rows get UUIDv7 ids (:func:`uuid7`), never these."""
    return str(uuid.uuid5(DEMO_ID_NAMESPACE, f"{kind}:{key}"))


def hlc_now(station_code: str) -> str:
    """The outbox ordering stamp: ``<13-digit epoch ms>:<station code>``."""
    return f"{time.time_ns() // 1_000_000:013d}:{station_code}"


# ---- the request number ``{CODE}-{YYYYMM}-{N}`` (its one home: format and parse) ----------------
#: the sequence's least width: zero-padded to 4 digits; a month past 9,999 requests gets 5 or more
NUMBER_SEQ_WIDTH = 4


def format_number(prefix: str, seq: int) -> str:
    """The request number ``{prefix}-{seq}``: ``prefix`` is ``{CODE}-{YYYYMM}`` (``db.write.ledger_prefix``),
    ``seq`` zero-padded to :data:`NUMBER_SEQ_WIDTH` digits (never cut: 10000 stays 10000)."""
    return f"{prefix}-{seq:0{NUMBER_SEQ_WIDTH}d}"


def split_number(number: object) -> tuple[str, int] | None:
    """``(prefix, seq)`` of a request number ``{CODE}-{YYYYMM}-{N}`` (the code may hold dashes; the
    sequence is everything after the last dash, any width); None for text not of that form."""
    if not isinstance(number, str):
        return None
    prefix, _, seq = number.rpartition("-")
    code, _, ym = prefix.rpartition("-")
    if code and len(ym) == 6 and ym.isdigit() and seq.isdigit() and seq.isascii() and ym.isascii():
        return prefix, int(seq)
    return None


def number_key(text: str | None) -> str:
    """A request number (or id) as the operator typed it, read for looking it up (the one home for
    every lookup by number: the CLI's ``request show/move``, F3's search, the app's Ctrl+F): trimmed,
    full-width letters, digits and dashes (``ＱＩ０００１－２０２６１１－００３０``) read as ASCII
    (``domain.typed``, NFKC), upper-cased."""
    from qi_station.core.domain import typed

    return typed(text).upper()


def number_sql(col: str = "number", code: str = "station_code") -> tuple[str, str]:
    """SQL (SQLite) for a number of station ``code`` (a column or a bound parameter): its prefix
    ``{CODE}-{YYYYMM}`` and its sequence as an integer (any width), the :func:`split_number` of a row
    whose number starts with its own code and a dash."""
    return (
        f"substr({col}, 1, length({code}) + 7)",
        f"CAST(substr({col}, length({code}) + 9) AS INTEGER)",
    )


def number_month(number: str) -> str | None:
    """The ``YYYYMM`` of a request number ``{CODE}-{YYYYMM}-{NNNN}``: the month the request was received
    in (local time; ``db.write.next_ledger_no`` numbers it so, a renumbering keeps it); None for text
    not of that form."""
    parts = split_number(number)
    return parts[0][-6:] if parts else None
