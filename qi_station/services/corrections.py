"""Corrections in an append-only ledger: a mistaken outcome or follow-up (satisfaction, problems solved,
cost saved, 收费金额 fee, result, follow-up note) is corrected by a ``correct`` event — field, old value, new value,
reason (the event's note) and who (its actor). The event it corrects stays in the chain as it was; the
request row (the fold of its events, :func:`qi_station.core.chain.fold_rows`) carries the new value, so
reports use it; the fee has no column, :func:`qi_station.core.chain.request_fee` reads it from the
events and follows the correction (detail, report 明细). The rules are the core's: :func:`qi_station.core.validate.parse_correction` (the same
rule as the original value), :func:`~qi_station.core.validate.check_reason`, and only a 站长 may correct
(:func:`qi_station.services.staff.operator_for`). A closed request can be corrected.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from qi_station.core import domain
from qi_station.core import validate as v
from qi_station.core.chain import request_fee, wan_to_cents
from qi_station.core.errors import ValidationError
from qi_station.db import write as w
from qi_station.db.session import row_dict, write_session
from qi_station.db.sqlexec import execute
from qi_station.services.ledger import _find_request, _stamp
from qi_station.services.staff import operator_for
from qi_station.services.station import ensure_station


def _current_fee(conn: Any, request_id: str) -> str | None:
    """The request's fee as a correction event carries it (yuan text, :func:`core.chain.request_fee`)."""
    cur = execute(
        conn,
        "SELECT kind, from_status, to_status, data FROM request_event WHERE request_id = :r "
        "AND kind IN ('status', 'correct') ORDER BY n",
        {"r": request_id},
    )
    events = [dict(zip(("kind", "from_status", "to_status", "data"), r, strict=True)) for r in cur]
    return v.money_text(request_fee(events))


def detail_value(req: dict[str, Any], field: str) -> Any:
    """The current value of a correctable ``field`` in a request detail (``services.queries.get_request``):
    what the correct dialog shows beside the new value."""
    if field == "cost_saved":
        return req.get("cost_saved_wan")
    if field == "fee":
        return req.get("fee_yuan")
    col = domain.CORRECTABLE.get(field)
    return None if col is None else req.get(col)


def _event_form(field: str, column_value: Any) -> Any:
    """A request column's value in the form a correction event carries it (万元 text for cost)."""
    if field == "cost_saved" and column_value is not None:
        return f"{Decimal(int(column_value)) / 100:.2f}"
    return column_value


def correct_request(
    db: Path, key: str, field: str, value: Any, reason: str | None, actor: str | None = None
) -> dict[str, Any]:
    """Correct one outcome or follow-up field of a request. Returns the written ``correct`` event. A bad
    new value and a missing reason are refused together (``ValidationErrors``, the dialog's order)."""
    field = (field or "").strip()
    with write_session(db) as s:
        st = ensure_station(s)
        req = _find_request(s, key)
        checks = v.Checks()
        new = checks.run(v.parse_correction, field, value, req.status)
        reason_t = checks.run(v.check_reason, reason)
        checks.done()
        conn = s.connection()
        actor = operator_for(conn, actor, "correct")
        col = domain.CORRECTABLE[field]
        old = _current_fee(conn, req.id) if col is None else _event_form(field, getattr(req, col))
        if old == new:
            raise ValidationError("value", "unchanged", "the new value is the current one / 新值与原值相同")
        now, when = _stamp(s, req, None)
        changes: dict[str, Any] = {"s_rev": req.s_rev + 1, "updated_at": now}
        if col is not None:  # the fee has no column: its event is the change (core.chain.request_fee)
            changes[col] = wan_to_cents(new) if col == "cost_saved_cents" else new
        event = dict(
            at=when,
            actor=actor,
            kind="correct",
            from_status=req.status,
            to_status=req.status,
            note=reason_t,
            data={"field": field, "old": old, "new": new},
        )
        w.update_request(conn, row_dict(req), changes, st.code, event=event)
        got = w.last_event(conn, req.id)
        assert got is not None
        return {
            "number": req.number,
            "request_id": req.id,
            "n": got[0],
            "field": field,
            "old": old,
            "new": new,
        }
