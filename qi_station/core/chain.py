"""The event hash chain: the one definition of how a request's history is sealed.

Each ``request_event`` row carries ``prev_hash`` (the previous event's ``hash``, or
:data:`GENESIS` for the first) and ``hash = sha256(prev_hash + canonical(fields))`` where
``fields`` are :data:`EVENT_FIELDS` of the row. The station's ledger, the sync apply paths, the
generator and the verifier all call this module; change the hash here and only here.
Pure Python: no third-party imports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

GENESIS = "0" * 64
EVENT_FIELDS = ("request_id", "n", "at", "actor", "kind", "from_status", "to_status", "note", "data")


def canonical(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, UTF-8 kept (the hash and outbox wire form)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed fields of an event row (``at`` as stored text, ``data`` as its JSON text)."""
    return {k: row.get(k) for k in EVENT_FIELDS}


def event_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(dict(fields))).encode("utf-8")).hexdigest()


def verify_chain(events: Iterable[Mapping[str, Any]]) -> tuple[bool, int | None]:
    """Recompute one request's chain (events ordered by n). Returns (ok, first bad n)."""
    prev = GENESIS
    for i, e in enumerate(events, start=1):
        if (
            e.get("n") != i
            or e.get("prev_hash") != prev
            or event_hash(prev, event_fields(e)) != e.get("hash")
        ):
            return False, e.get("n")
        prev = str(e["hash"])
    return True, None
