"""One spreadsheet row -> a checked request with its history, by the SAME rules as ``request add`` and
``request move`` (:func:`qi_station.services.ledger.check_request`, :mod:`qi_station.core.validate`,
:func:`qi_station.core.domain.can_move`, the dates by :func:`qi_station.core.clock.parse_sheet_time`).
A row that breaks a rule is refused with its row number, the column and the rule."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from qi_station.core import domain
from qi_station.core import validate as v
from qi_station.core.clock import check_not_future, check_year, local_date, parse_sheet_time
from qi_station.core.errors import TransitionError, ValidationError, every_error
from qi_station.services.importer.sheet import cell_text, norm_header
from qi_station.services.ledger import RequestInput, check_request

_CHANNEL = {**{c: c for c in domain.CHANNELS}, **{zh: c for c, zh in domain.CHANNEL_ZH.items()}}
_URGENCY = {**{u: u for u in domain.URGENCIES}, **{zh: u for u, zh in domain.URGENCY_ZH.items()}}


@dataclass
class Planned:
    """A checked row: the request (``check_request``'s answer) and the moves of its history."""

    row_no: int
    key: str
    request: dict[str, Any]
    moves: list[dict[str, Any]] = field(default_factory=list)
    remark: str | None = None


def row_text(headers: list[str], row: tuple[Any, ...]) -> str:
    """A row as the key of an earlier release saw it: the row's raw cells by header (sorted). Still looked
    for (``importer.run``), so no row imported by that release is imported again."""
    cells = sorted(
        (norm_header(h), cell_text(row[i]) if i < len(row) else "") for i, h in enumerate(headers) if h
    )
    return "\x1e".join(f"{h}\x1f{c}" for h, c in cells)


#: the fields the import reads as dates (``check_row``: ``_when``)
_DATES = frozenset({"received_at", "promised", "resolved_at", "closed_at"})
#: the fields the import reads as money (``check_row``: ``core.validate.parse_cost``)
_MONEY = frozenset({"cost_saved", "fee"})


def row_meaning(cols: dict[int, str], row: tuple[Any, ...]) -> str:
    """A row as its idempotency key sees it: what it MEANS to the import, each field it reads (``cols``:
    column index -> field) as the import parses it (a date as the time it is read as, money as
    ``core.validate.money_text`` of its value (``100`` and ``100.00`` are one fee), the USCC normalised, a channel or urgency as its code), empty fields and the columns it does not read left
    out. So the same ledger saved again by Excel (``2026/3/5`` for ``2026-03-05``), with a column more
    the import ignores, or with a header synonym (``企业`` for ``企业名称``) keeps its keys; NOT the
    file's name (a copy of the file under another name holds the same rows)."""
    got = sorted((f, _meaning(f, row[i] if i < len(row) else None)) for i, f in cols.items())
    return "v2\x1e" + "\x1e".join(f"{f}\x1f{t}" for f, t in got if t)


def _meaning(field_: str, value: Any) -> str:
    text = cell_text(value)
    if not text:
        return ""
    if field_ in _DATES:
        try:
            at, timed = parse_sheet_time(value, field_)
        except ValidationError:  # refused by check_row: the key of a refused row is never kept
            return text
        return f"{at.isoformat()}{'T' if timed else ''}"
    if field_ == "uscc":
        return v.normalize_uscc(text)
    if field_ in _MONEY:  # the money rule's value in its text form: 100 and 100.00 are one fee
        try:
            return v.money_text(v.parse_cost(text, field_)) or ""
        except ValidationError:  # refused by check_row: the key of a refused row is never kept
            return text
    if field_ in ("channel", "urgency"):
        return _choice(text, _CHANNEL if field_ == "channel" else _URGENCY)
    return text


def row_key(text: str, occurrence: int, source: str | None = None) -> str:
    """THE idempotency key of a row: sha256 of :func:`row_meaning` (or, looking for a key of an earlier
    release, :func:`row_text`) and the row's occurrence among the rows of the file with the same text
    (two identical rows are two requests). ``source``: the key a release before that kept, which began
    with the file's name (still recognised: ``importer.run``)."""
    body = text if source is None else f"{source}\x1e{text}"
    return hashlib.sha256(f"{body}\x1e{occurrence}".encode()).hexdigest()


def _when(value: Any, field_: str) -> tuple[datetime, bool] | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_sheet_time(value, field_)


def _promised(value: Any) -> date | None:
    got = _when(value, "promised")
    return local_date(got[0]) if got else None


def _choice(text: str, table: dict[str, str]) -> str:
    return table.get(text, table.get(text.lower(), text))


def check_row(
    cells: dict[str, Any], row_no: int, key: str, now: datetime, operator: str | None
) -> tuple[Planned | None, list[ValidationError]]:
    """Check one row (``cells``: field -> cell value). Returns the plan, or the rules it breaks (every
    group of fields is checked, so one pass shows each mistake of the row)."""
    text = {k: cell_text(c) for k, c in cells.items()}
    errors: list[ValidationError] = []
    received = None
    try:
        got = _when(cells.get("received_at"), "received_at")
        if got is None:
            raise ValidationError("received_at", "required", "received date is required / 受理日期必填")
        received = got[0]
    except ValidationError as e:
        errors.append(e)
    promised: date | None = None
    try:
        promised = _promised(cells.get("promised"))
    except ValidationError as e:
        errors.append(e)
    title = text.get("title") or (text.get("description") or "").split("\n", 1)[0][: v.LIMITS["title"]]
    req: dict[str, Any] | None = None
    try:
        # without a usable 受理日期 the other fields are still checked (dated now), so the row's every
        # mistake shows in one pass; the dates' own errors are those above
        req = check_request(
            RequestInput(
                enterprise=text.get("enterprise", ""),
                uscc=text.get("uscc", ""),
                elements=text.get("elements", ""),
                title=title,
                description=text.get("description") or None,
                sub_type=text.get("sub_type") or None,
                channel=_choice(text.get("channel") or "walk_in", _CHANNEL),
                urgency=_choice(text.get("urgency") or "normal", _URGENCY),
                contact=text.get("contact") or None,
                phone=text.get("phone") or None,
                promised=promised if received is not None else None,
                received_at=received or now,
                industry=text.get("industry") or None,
                operator=text.get("operator") or operator,
            ),
            now,
        )
    except ValidationError as e:  # every bad field of check_request, not only its first
        errors += [
            x for x in every_error(e) if received is not None or x.field not in ("received_at", "promised")
        ]
    moves: list[dict[str, Any]] = []
    try:
        moves = _history(cells, text, received, now) if received is not None else []
    except ValidationError as e:
        errors += every_error(e)
    remark = None
    try:
        remark = v.clean_text(text.get("note"), "note", multiline=True) or None
    except ValidationError as e:
        errors.append(e)
    if errors or req is None:
        return None, errors
    return Planned(row_no, key, req, moves, remark), []


def _history(
    cells: dict[str, Any], text: dict[str, str], received: datetime, now: datetime
) -> list[dict[str, Any]]:
    """The moves after ``created``: accepted at receipt; with a 办结日期, in progress and resolved (the
    outcome); with a rating, closed (the follow-up). Each move is a legal one (``domain.can_move``) and
    carries the fields ``request move`` would accept for it (``validate.check_outcome``, the fee by
    ``validate.parse_charge`` and ``validate.check_fee_on_resolve``)."""
    result = v.clean_text(text.get("result"), "result", multiline=True) or None
    solved = v.parse_non_negative_int(text.get("problems_solved"), "problems_solved")
    cost = v.parse_cost(text.get("cost_saved"), "cost_saved")
    # 收费金额 (yuan; the rule of request move resolved --fee): an empty cell records no charge, as a
    # sheet without the column; 0 records a free service
    fee_given = bool(text.get("fee"))
    charged, fee = v.parse_charge(None, text.get("fee"))
    sat = v.parse_satisfaction(text.get("satisfaction"))
    follow = v.clean_text(text.get("followup_note"), "followup", multiline=True) or None
    resolved = _when(cells.get("resolved_at"), "resolved_at")
    closed = _when(cells.get("closed_at"), "closed_at")
    path: list[tuple[str, datetime, dict[str, Any]]] = [("accepted", received, {})]
    if resolved is None:
        # outcome or rating without a 办结日期: the rule request move applies to a request not resolved
        v.check_outcome("accepted", result, solved, cost, sat)
        v.check_fee_on_resolve("accepted", fee_given)
        if closed is not None:
            raise ValidationError(
                "closed_at", "after_resolved", "a follow-up needs a 办结日期 / 回访须在办结之后"
            )
    else:
        at = _not_before(resolved, received, "resolved_at", now)
        v.check_outcome("resolved", result, solved, cost, None, history=True)
        outcome = {
            "result": result,
            "problems_solved": solved if solved is not None else 0,
            "cost_saved": str(cost if cost is not None else "0.00"),
        }
        if fee_given:
            outcome.update(charged=charged, fee=str(fee))
        path += [("in_progress", received, {}), ("resolved", at, outcome)]
        if sat is not None or closed is not None:
            v.check_outcome("closed", None, None, None, sat)
            when = _not_before(closed, at, "closed_at", now) if closed is not None else at
            path.append(("closed", when, {"satisfaction": sat, "note": follow}))
    moves: list[dict[str, Any]] = []
    frm = "new"
    for to, at, data in path:
        if not domain.can_move(frm, to):
            raise TransitionError(frm, to)
        note = data.pop("note", None) if to == "closed" else None
        moves.append({"from_status": frm, "to_status": to, "at": at, "data": data, "note": note})
        frm = to
    return moves


def _not_before(got: tuple[datetime, bool], earlier: datetime, field_: str, now: datetime) -> datetime:
    """A later date of the history: not before the one it follows (a date alone, on the same day, is
    that earlier time), not in the future, within the ledger's years."""
    at, timed = got
    if not timed and local_date(at) == local_date(earlier):
        at = max(at, earlier)
    if at < earlier:
        raise ValidationError(
            field_, "after_received", f"{field_} is before the step it follows / 日期早于上一步"
        )
    check_not_future(at, field_, now)
    check_year(at, field_)
    return at
