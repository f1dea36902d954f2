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
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from qi_station.core.domain import CORRECTABLE, can_move, is_reopen

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


#: an event as a row tuple, the order :func:`chain_break` and :func:`fold_rows` read
EVENT_ROW = (
    "request_id",
    "n",
    "at",
    "actor",
    "kind",
    "from_status",
    "to_status",
    "note",
    "data",
    "prev_hash",
    "hash",
)


def chain_break(rows: Iterable[Sequence[Any]]) -> int | None:
    """One request's chain from row tuples (:data:`EVENT_ROW`, ordered by n; ``at`` as stored text):
    the n of the first event that does not verify (its n, its link or its hash), or None."""
    prev = GENESIS
    for i, r in enumerate(rows, start=1):
        if (
            r[1] != i
            or r[9] != prev
            or event_hash_of(prev, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]) != r[10]
        ):
            return int(r[1]) if isinstance(r[1], int) else i
        prev = r[10]
    return None


def verify_chain(events: Iterable[Mapping[str, Any]]) -> tuple[bool, int | None]:
    """Recompute one request's chain (events ordered by n). Returns (ok, first bad n)."""
    bad = chain_break([tuple(e.get(k) for k in EVENT_ROW) for e in events])
    return bad is None, bad


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
ROW_EVENT_KINDS = ("created", "status", "referral", "edit", "correct", "renumbered")  # renumbered: a heal


#: request columns its ``created`` event fixes: ``received_at`` is the event's ``at``, the others are
#: in its data (:func:`created_data`; a request recorded before a key was written carries only ``title``:
#: what the event does not say is not compared). No event changes them afterwards.
CREATED_FIELDS = ("received_at", "title", "elements", "channel", "urgency", "promised_date")


def created_data(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a request's ``created`` event records of its new row (its ``data``; the event's ``at`` is
    the row's ``received_at``): :data:`CREATED_FIELDS` but ``received_at``, in JSON form (elements a
    list, the promised date ISO text). Written by ``services.ledger`` and the spreadsheet import."""
    out: dict[str, Any] = {}
    for k in CREATED_FIELDS[1:]:
        val = row.get(k)
        if k == "elements" and isinstance(val, str):
            val = json.loads(val)
        elif isinstance(val, date):
            val = val.isoformat()
        out[k] = val
    return out


def created_says(event: Sequence[Any]) -> dict[str, Any]:
    """What a request's first event (a row tuple, :data:`EVENT_ROW`) says of its columns
    (:data:`CREATED_FIELDS`): ``received_at`` its time, the others as its data holds them; nothing
    for an event that is not ``created``."""
    if event[4] != "created":
        return {}
    data = _data(event[8])[0] if event[8] not in (None, "{}") else {}
    return {"received_at": event[2], **{k: data[k] for k in CREATED_FIELDS[1:] if k in data}}


def check_step(current: Any, kind: Any, from_status: Any, to_status: Any) -> str | None:
    """THE rule of one more event on a chain whose status is ``current`` (the last ``to_status`` set,
    as :func:`fold_rows` takes it): an event that says where it starts (``from_status``) starts from
    the current status, and a ``status`` move is a legal move of the lifecycle
    (:func:`~qi_station.core.domain.can_move`). Returns what is wrong (the rule broken), or None."""
    if from_status is not None and current is not None and from_status != current:
        return f"it starts from {from_status!r} but the request is {current!r}"
    if kind == "status" and from_status is not None and not can_move(str(from_status), str(to_status)):
        return f"{from_status!r} -> {to_status!r} is not a move of the lifecycle"
    return None


def wan_to_cents(text: Any) -> int | None:
    """``"12.34"`` (万元, as a status event carries it) -> 1234 hundredths."""
    from decimal import Decimal

    return None if text is None else int(Decimal(str(text)) * 100)


FOLDED = FOLD_FIELDS + HUB_FOLD_FIELDS
_POS = {k: i for i, k in enumerate(FOLDED)}
_DATA: dict[str, tuple[dict[str, Any], tuple[tuple[int, Any], ...]]] = {}
_NO_DATA: tuple[dict[str, Any], tuple[tuple[int, Any], ...]] = ({}, ())


def _data(raw: Any) -> tuple[dict[str, Any], tuple[tuple[int, Any], ...]]:
    """An event's ``data`` as a dict, and the (position in :data:`FOLDED`, value) pairs of its keys
    that are row columns (memoised: most texts repeat; both are only read)."""
    if not isinstance(raw, str):
        d = dict(raw or {})
        return d, tuple((_POS[k], v) for k, v in d.items() if k in _POS)
    got = _DATA.get(raw)
    if got is None:
        d = json.loads(raw)
        if not isinstance(d, dict):
            d = {}
        got = (d, tuple((_POS[k], v) for k, v in d.items() if k in _POS))
        if len(_DATA) < 200_000:
            _DATA[raw] = got
    return got


def fold_rows(rows: Iterable[Sequence[Any]]) -> tuple[list[Any], int]:
    """THE rebuild of a request row from its events (row tuples, :data:`EVENT_ROW`, ordered by n):
    the values of :data:`FOLDED` (:data:`FOLD_FIELDS` then :data:`HUB_FOLD_FIELDS`) and how many
    events changed the row (its ``s_rev``).

    The rules (what ``services.ledger`` and ``sync.station.apply`` write): the status is the last
    ``to_status``; a ``status`` move stamps its time on ``accepted_at`` (the first acceptance),
    ``resolved_at`` (cleared again by a reopen, resolved -> in_progress), ``closed_at`` and
    ``followup_at``, ``cancelled_at``; a resolve carries ``result``, ``problems_solved`` and
    ``cost_saved`` (万元 text); a close carries ``satisfaction`` and its note is the follow-up note;
    a ``correct`` event sets the column of its ``field`` (:data:`~qi_station.core.domain.CORRECTABLE`)
    to its ``new`` value (the event it corrects stays in the chain as it was).
    Any key of ``data`` that is one of those columns sets it outright (hub decisions, rows
    back-filled from the paper ledger)."""
    st: list[Any] = [None] * len(FOLDED)
    st[_POS["h_rev"]] = 0
    n = 0
    for r in rows:
        kind, to, at = r[4], r[6], r[2]
        if kind in ROW_EVENT_KINDS:
            n += 1
        if to is not None:
            st[0] = to
        data, sets = _data(r[8]) if r[8] != "{}" else _NO_DATA
        if kind == "status":
            if to == "accepted":
                if st[1] is None:
                    st[1] = at
            elif to == "resolved":
                st[2] = at
                st[5] = data.get("result")
                st[6] = data.get("problems_solved")
                st[7] = wan_to_cents(data.get("cost_saved"))
            elif to == "closed":
                st[3] = st[10] = at
                st[8] = data.get("satisfaction")
                st[9] = r[7]
            elif to == "cancelled":
                st[4] = at
            if is_reopen(r[5], to):
                st[2] = None
        elif kind == "correct":
            col = CORRECTABLE.get(str(data.get("field")))
            if col is not None:
                new = data.get("new")
                st[_POS[col]] = wan_to_cents(new) if col == "cost_saved_cents" else new
        for i, v in sets:
            st[i] = v
    return st, n


# ---- the request's fee (收费金额) -------------------------------------------------------------------
#: the correctable field of the fee (a ``correct`` event's ``data.field``; no request column)
FEE_FIELD = "fee"


def resolution_fee(data: Any) -> Decimal | None:
    """收费金额 a resolution recorded (its ``status`` event's ``data``, a dict or JSON text: ``charged`` and
    ``fee`` in yuan, ``core.validate.parse_charge``): the fee when charged, 0 when the service was free,
    None when the event records no charge (a resolution written before the fee was asked, a hub move)."""
    from decimal import Decimal, InvalidOperation

    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return None
    if not isinstance(data, Mapping) or "charged" not in data:
        return None
    if data.get("charged") is not True:
        return Decimal("0.00")
    try:
        fee = Decimal(str(data.get("fee")))
    except (InvalidOperation, ValueError):
        return None
    return fee.quantize(Decimal("0.01")) if fee.is_finite() else None


def request_fee(events: Iterable[Mapping[str, Any]]) -> Decimal | None:
    """THE request's fee (收费金额): what its latest resolution recorded (:func:`resolution_fee`), as
    long as the request stands resolved on it (or closed after it), or what a later ``correct`` event of
    field ``fee`` set (yuan text; 0: free); a reopen (resolved -> in_progress) clears it as it clears
    ``resolved_at`` (:func:`fold_rows`), and the next resolution records its own. ``events``: the
    request's events ordered by n (mappings with ``kind``, ``from_status``, ``to_status``, ``data``);
    only its ``status`` moves into resolved, its reopens and its fee corrections matter, so a caller
    may pass just those. Used by the request detail (``services.queries.get_request``: CLI
    ``request show``, the TUI), the report's 明细 (``reports.fees``) and a fee correction's old value
    (``services.corrections``, ``services.verify``)."""
    fee: Decimal | None = None
    for e in events:
        kind = e.get("kind")
        if kind == "correct":
            data = _data(e.get("data"))[0]
            if data.get("field") == FEE_FIELD:
                fee = resolution_fee({"charged": True, "fee": data.get("new")})
            continue
        to = e.get("to_status")
        if kind == "status" and to == "resolved":
            fee = resolution_fee(e.get("data"))
        elif is_reopen(e.get("from_status"), to) and (kind == "status" or _clears_resolution(e.get("data"))):
            fee = None
    return fee


def _clears_resolution(data: Any) -> bool:
    """A hub reopen the station adopted (a ``hub`` event): its data clears ``resolved_at``
    (``domain.move_clears``); one adopted before that rule kept the resolution, and still does."""
    if isinstance(data, str):
        data = _data(data)[0] if data != "{}" else {}
    return isinstance(data, Mapping) and "resolved_at" in data and data["resolved_at"] is None


def status_and_satisfaction(rows: Iterable[Sequence[Any]]) -> tuple[Any, Any]:
    """A request's status and satisfaction after these events (row tuples, :data:`EVENT_ROW`, ordered
    by n): :func:`fold_rows`, read at any point of the chain (the hub checks a rectify record against
    the request as it stood when the record was written)."""
    st, _n = fold_rows(rows)
    return st[0], st[_POS["satisfaction"]]


#: the correctable fields a status move sets (a ``correct`` event sets its own field)
_SET_BY_MOVE = {
    "resolved": ("result", "problems_solved", "cost_saved", FEE_FIELD),
    "closed": ("satisfaction", "followup_note"),
}


def corrected_by(events: Iterable[Mapping[str, Any]]) -> dict[int, int]:
    """For a request's events (mappings ordered by n, ``data`` a dict or JSON text): the n of each event
    whose value a later ``correct`` event replaced -> the n of that correction (the history shows the
    original as corrected)."""
    last: dict[str, int] = {}  # field -> n of the event that set it last
    out: dict[int, int] = {}
    for e in events:
        n, kind = int(e["n"]), e.get("kind")
        if kind == "status":
            for f in _SET_BY_MOVE.get(str(e.get("to_status")), ()):
                last[f] = n
        elif kind == "correct":
            field = _data(e.get("data"))[0].get("field")
            if isinstance(field, str):
                if field in last:
                    out[last[field]] = n
                last[field] = n
    return out


def fold_events(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """:func:`fold_rows` of event mappings, as a dict of :data:`FOLDED` plus ``row_events``."""
    st, n = fold_rows([tuple(e.get(k) for k in EVENT_ROW) for e in events])
    return {**dict(zip(FOLDED, st, strict=True)), "row_events": n}


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
