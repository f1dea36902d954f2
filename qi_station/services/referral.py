"""Referral rules the ledger checks before it writes (and the current load they imply).

- **Qualification**: an institution that is not valid (:mod:`qi_station.core.qualify`) for the
  request's elements is refused unless a reason is given; the reason and the state go into the event.
- **No duplicate**: a request already referred to the same target is refused.
- **Load (在办)**: a library item's open referrals: requests in an open status whose latest referral
  of that kind names the item. Shown in lists, and it lowers a suggestion's score.

Work on a ``sqlite3`` connection (search, matching) or a SQLAlchemy connection (the ledger's write
transaction) alike: plain SQL with ``?`` parameters through ``exec_driver_sql`` when needed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from qi_station.core import domain, qualify
from qi_station.core.errors import ValidationError


def _rows(conn: Any, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    run = getattr(conn, "exec_driver_sql", None)
    res = run(sql, params) if run is not None else conn.execute(sql, params)
    return [tuple(r) for r in res]


def open_loads(conn: Any, kind: str, ids: list[str]) -> dict[str, int]:
    """{item id: number of open requests whose latest ``kind`` referral names it} for ``ids``."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    open_marks = ",".join("?" * len(domain.OPEN_STATUSES))
    # CROSS JOIN and "g.request_id = r.id": the request's status is checked before the latest-referral
    # subquery runs (most referrals' requests are closed), not after
    sql = (
        "SELECT f.item_id, COUNT(*) FROM referral f CROSS JOIN request r ON r.id = f.request_id "
        f"WHERE f.kind = ? AND f.item_id IN ({marks}) AND r.status IN ({open_marks}) "
        "AND f.id = (SELECT g.id FROM referral g WHERE g.request_id = r.id AND g.kind = f.kind "
        "ORDER BY g.created_at DESC, g.id DESC LIMIT 1) GROUP BY f.item_id"
    )
    return {str(i): int(n) for i, n in _rows(conn, sql, (kind, *ids, *sorted(domain.OPEN_STATUSES)))}


def assess(
    conn: Any, request_id: str, request_elements: Any, kind: str, item_id: str, today: date
) -> dict[str, Any]:
    """What referring the request to the item would meet: ``duplicate`` (already referred to it),
    ``state`` (an institution's qualification for the request's elements; ``None`` for other kinds),
    ``needs_reason`` and ``message`` ("English / 中文")."""
    dup = bool(
        _rows(
            conn,
            "SELECT 1 FROM referral WHERE request_id = ? AND kind = ? AND item_id = ? LIMIT 1",
            (request_id, kind, item_id),
        )
    )
    out: dict[str, Any] = {"duplicate": dup, "state": None, "needs_reason": False, "message": ""}
    if dup:
        out["message"] = "the request is already referred to this target / 该需求已转办给此对象, 不再重复转办"
    if kind != "institution":
        return out
    els = request_elements
    if isinstance(els, str) or els is None:
        els, _ok = domain.stored_elements(els)
    found = _rows(conn, "SELECT cma_expiry, cnas_expiry FROM institution WHERE id = ?", (item_id,))
    row = {"cma_expiry": found[0][0], "cnas_expiry": found[0][1]} if found else {}
    out["state"] = state = qualify.state_for(row, els, today)
    if not qualify.is_valid(state):
        out["needs_reason"] = True
        out["message"] = out["message"] or qualify.refusal(state, els)
    return out


def check_referral(
    conn: Any,
    request_id: str,
    request_elements: Any,
    kind: str,
    item_id: str,
    reason: str | None,
    today: date,
) -> dict[str, Any]:
    """Refuse a duplicate referral, and one to an institution not valid for the request's elements
    unless ``reason`` is given. Returns what the event records (``{}`` when there is nothing to add)."""
    a = assess(conn, request_id, request_elements, kind, item_id, today)
    if a["duplicate"]:
        raise ValidationError("target", "duplicate", a["message"])
    if not a["needs_reason"]:
        return {}
    if not reason:
        raise ValidationError("reason", "qualification", a["message"])
    return {"qualification": a["state"], "reason": reason}


def precheck(db_path: Any, request_key: str, kind: str, item_id: str) -> dict[str, Any]:
    """:func:`assess` for a request by id or number, on its own read connection (the TUI asks before
    it opens the referral dialog). A request that may not be referred (cancelled, resolved, closed) is
    refused here at once (``domain.check_refer``, the ledger's rule), before any dialog opens."""
    from qi_station.core.clock import today_local
    from qi_station.core.errors import NotFoundError
    from qi_station.core.ids import number_key
    from qi_station.db.engine import connect

    conn = connect(db_path)
    try:
        req = conn.execute(
            "SELECT id, elements, status FROM request WHERE id = ? OR number = ?",
            (request_key, number_key(request_key)),
        ).fetchone()
        if req is None:
            raise NotFoundError("request", request_key)
        domain.check_refer(req[2])
        return assess(conn, req[0], req[1], kind, item_id, today_local())
    finally:
        conn.close()
