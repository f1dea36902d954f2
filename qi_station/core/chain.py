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


# json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")) builds this encoder on
# every call; one shared instance gives the same text, faster.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# for a str, the canonical JSON text is exactly this (what the encoder itself calls with ensure_ascii off)
_str_json = json.encoder.encode_basestring  # type: ignore[attr-defined]


def canonical(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, UTF-8 kept (the hash and outbox wire form)."""
    return _ENCODER.encode(value)


def event_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed fields of an event row (``at`` as stored text, ``data`` as its JSON text)."""
    return {k: row.get(k) for k in EVENT_FIELDS}


_JS: dict[Any, str] = {None: "null"}


def _js(value: Any) -> str:
    """``canonical(value)``, memoised for strings (actors, kinds, statuses, notes repeat)."""
    if type(value) is str:
        got = _JS.get(value)
        if got is None:
            got = _str_json(value)
            if len(_JS) < 100_000:
                _JS[value] = got
        return got
    if value is None:
        return "null"
    if type(value) is int:
        return str(value)
    return canonical(value)


def _text(value: Any) -> str:
    """``canonical(value)`` without the memo (for values that rarely repeat: times, request ids)."""
    return _str_json(value) if type(value) is str else _js(value)


def event_hash_of(
    prev_hash: str,
    request_id: Any,
    n: Any,
    at: Any,
    actor: Any,
    kind: Any,
    from_status: Any,
    to_status: Any,
    note: Any,
    data: Any,
) -> str:
    """THE event hash: ``sha256(prev_hash + canonical({EVENT_FIELDS}))``, the canonical JSON written
    out with its keys in sorted order (fast enough for the generator's millions of events; every
    other caller reaches it through :func:`event_hash`)."""
    m, j = _JS.get, _js  # a memo hit costs one dict lookup, no call (``data`` may be a dict: no lookup)
    payload = (
        f'{prev_hash}{{"actor":{m(actor) or j(actor)},"at":{_text(at)},"data":{j(data)},'
        f'"from_status":{m(from_status) or j(from_status)},"kind":{m(kind) or j(kind)},"n":{j(n)},'
        f'"note":{m(note) or j(note)},"request_id":{_text(request_id)},"to_status":{m(to_status) or j(to_status)}}}'
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def event_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of an event whose hashed fields (exactly :data:`EVENT_FIELDS`) are ``fields``."""
    if len(fields) != len(EVENT_FIELDS):
        raise ValueError(f"an event hashes exactly {EVENT_FIELDS}, got {sorted(fields)}")
    return event_hash_of(prev_hash, *(fields[k] for k in EVENT_FIELDS))


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
