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


# ---- the request row rebuilt from its events --------------------------------------------------------
#: request columns the station's events decide (status, outcome, follow-up)
FOLD_FIELDS = (
    "status",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "cancelled_at",
    "result",
    "problems_solved",
    "cost_saved_cents",
    "satisfaction",
    "followup_note",
    "followup_at",
)
#: request columns the hub's decisions decide (carried by ``kind="hub"`` events)
HUB_FOLD_FIELDS = ("hub_expert_id", "hub_note", "hub_priority", "h_rev")
#: event kinds that are station changes of the request row (each bumps its ``s_rev``)
ROW_EVENT_KINDS = ("created", "status", "referral", "edit")


def _cents(text: Any) -> int | None:
    """``"12.34"`` (万元, as a status event carries it) -> 1234 hundredths."""
    from decimal import Decimal

    return None if text is None else int(Decimal(str(text)) * 100)


def fold_events(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """THE rebuild of a request row's :data:`FOLD_FIELDS` and :data:`HUB_FOLD_FIELDS` from its events
    (ordered by n), plus ``row_events`` (how many events change the row: its ``s_rev``).

    The rules (what ``services.ledger`` and ``sync.station.apply`` write): the status is the last
    ``to_status``; a ``status`` move stamps its time on ``accepted_at`` (the first acceptance),
    ``resolved_at`` (cleared again by a reopen, resolved -> in_progress), ``closed_at`` and
    ``followup_at``, ``cancelled_at``; a resolve carries ``result``, ``problems_solved`` and
    ``cost_saved`` (万元 text); a close carries ``satisfaction`` and its note is the follow-up note.
    Any key of ``data`` that is one of those columns sets it outright (hub decisions, rows back-filled
    from the paper ledger)."""
    st: dict[str, Any] = dict.fromkeys(FOLD_FIELDS)
    st.update(dict.fromkeys(HUB_FOLD_FIELDS))
    st["h_rev"] = 0
    rows = 0
    for e in events:
        raw = e.get("data")
        data = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        kind, to, at = e.get("kind"), e.get("to_status"), e.get("at")
        if kind in ROW_EVENT_KINDS:
            rows += 1
        if to is not None:
            st["status"] = to
        if kind == "status":
            if to == "accepted" and st["accepted_at"] is None:
                st["accepted_at"] = at
            elif to == "resolved":
                st.update(
                    resolved_at=at,
                    result=data.get("result"),
                    problems_solved=data.get("problems_solved"),
                    cost_saved_cents=_cents(data.get("cost_saved")),
                )
            elif to == "closed":
                st.update(
                    closed_at=at,
                    followup_at=at,
                    satisfaction=data.get("satisfaction"),
                    followup_note=e.get("note"),
                )
            elif to == "cancelled":
                st["cancelled_at"] = at
            if e.get("from_status") == "resolved" and to == "in_progress":
                st["resolved_at"] = None
        for k, val in data.items():
            if k in st:
                st[k] = val
    st["row_events"] = rows
    return st


# ---- the running head: all of a station's events in order ------------------------------------------
def next_head(head: str, event_hash: str) -> str:
    """``head_n = sha256(head_{n-1} + hash_n)``; the head of no events is :data:`GENESIS`."""
    return hashlib.sha256((head + event_hash).encode("ascii")).hexdigest()


def fold_head(head: str, hashes: Iterable[str]) -> str:
    """The running head after ``hashes`` (in order) are folded onto ``head``."""
    sha = hashlib.sha256
    for h in hashes:
        head = sha((head + h).encode("ascii")).hexdigest()
    return head


def head_message(station_code: str, n: int, head: str) -> bytes:
    """The bytes a station signs for its running head after ``n`` events."""
    return f"qi-station-head:{station_code}:{n}:{head}".encode()
