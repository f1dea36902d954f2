"""收费金额 of each request of the report's 明细 (the fee of the resolution it stands on,
``core.chain.request_fee``), read for the month's details only: the cost follows the month.

A request that stands resolved on a resolution made in the month has it among the month's moves
(``quality.month_moves``, read once for every figure); the others that stand resolved (resolved
earlier, closed or otherwise touched this month) have their resolves and reopens read by request id.
A fee corrected after the month's resolution (a ``correct`` event of field ``fee``) is followed, so the
明细 and the charged figure use the corrected fee. Both come from **one** read (:func:`request_fees_later`):
the ``correct`` events of every request concerned (the partial index ``ix_request_event_correct``,
revision 0024: corrections are rare, a request without one costs one probe of an almost empty index)
and the resolves and reopens of the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from qi_station.core.chain import request_fee, resolution_fee

if TYPE_CHECKING:
    from qi_station.reports.quality import Move
    from qi_station.reports.queries import Q

CORRECT_INDEX = (
    "ix_request_event_correct"  # revision 0024: request_event (request_id, n) WHERE kind = 'correct'
)


def _in(q: Q, name: str) -> str:
    """``e.request_id`` in the id list bound as ``name`` (PostgreSQL: an array; SQLite: a JSON array)."""
    if q.dialect == "postgresql":
        return f"e.request_id = ANY(:{name})"
    return f"e.request_id IN (SELECT value FROM json_each(:{name}))"


def _ids(q: Q, ids: list[str]) -> Any:
    if q.dialect == "postgresql":
        return ids
    import json

    return json.dumps(ids)


def fees_query(q: Q, corrected: list[str], others: list[str]) -> tuple[str, dict[str, Any]]:
    """THE one read of the fees: (request id, n, kind, from_status, to_status, data) of the ``correct``
    events of ``corrected`` (data: the correction) and of the resolves and reopens of ``others`` (data:
    a resolution's)."""
    return (
        "SELECT e.request_id, e.n, e.kind, e.from_status, e.to_status, e.data FROM request_event e "
        f"WHERE e.kind = 'correct' AND {_in(q, 'fixed')} UNION ALL "
        "SELECT e.request_id, e.n, e.kind, e.from_status, e.to_status, "
        "CASE WHEN e.to_status = 'resolved' THEN e.data END FROM request_event e "
        f"WHERE e.kind = 'status' AND e.to_status IN ('resolved', 'in_progress') AND {_in(q, 'others')}",
        {"fixed": _ids(q, corrected), "others": _ids(q, others)},
    )


def follow_corrections(last: dict[str, tuple[Move, Any]], fixes: Mapping[str, list[dict[str, Any]]]) -> None:
    """Rewrite the data of each of the month's last resolutions (``quality.last_resolutions``) whose fee
    a later ``correct`` event (of ``fixes``: request id -> its correct events) changed: ``charged`` and
    ``fee`` become what :func:`request_fee` makes of the resolution and its corrections (the one rule),
    so the charged figure and the 明细 follow."""
    for rid, evs in fixes.items():
        got = last.get(rid)
        if got is None:
            continue
        mv, data = got
        later = sorted((e for e in evs if e["n"] > mv.n), key=lambda e: e["n"])
        if not later:
            continue
        fee = request_fee([{"kind": "status", "to_status": "resolved", "data": data}, *later])
        if fee is not None:  # (a correction of another field leaves it as the resolution recorded)
            base = dict(data) if isinstance(data, Mapping) else {}
            last[rid] = (mv, {**base, "charged": fee > 0, "fee": str(fee)})


def request_fees_later(
    q: Q, resolved: Iterable[tuple[str, Any]], last: dict[str, tuple[Move, Any]]
) -> Callable[[], dict[str, int | None]]:
    """``fee_cents`` (hundredths of a yuan, None: no fee recorded) of each request of the details that
    stands resolved: ``resolved`` gives (id, resolved_at) of those rows (resolved_at not None; a request
    never resolved, or reopened since, has no fee: ``request_fee``); ``last``: the month's last
    resolution of each request, its data decoded (``quality.last_resolutions``).

    The events are read once (:func:`fees_query`; PostgreSQL: on a side connection, ``Q.later``, while
    the report goes on); the call returned waits for them, rewrites ``last`` with the corrections
    followed (:func:`follow_corrections`: the charged figure reads it after) and gives every fee."""
    on_month: list[str] = []
    others: list[str] = []
    for rid, at in resolved:
        got = last.get(rid)
        if got is not None and got[0].at == at:  # stands on the month's resolution
            on_month.append(rid)
        else:
            others.append(rid)
    sql, params = fees_query(q, sorted(set(last) | set(others)), others)
    read = q.later(sql, **params)
    other = set(others)

    def finish() -> dict[str, int | None]:
        events: dict[str, list[dict[str, Any]]] = {}
        fixes: dict[str, list[dict[str, Any]]] = {}
        for rid, n, kind, fs, ts, data in read():
            ev = {"n": int(n), "kind": kind, "from_status": fs, "to_status": ts, "data": data}
            if kind == "correct":
                fixes.setdefault(rid, []).append(ev)
            if rid in other:
                events.setdefault(rid, []).append(ev)
        follow_corrections(last, fixes)
        out: dict[str, int | None] = {rid: _cents(resolution_fee(last[rid][1])) for rid in on_month}
        for rid in others:
            evs = events.get(rid)
            if evs is None:
                out[rid] = None
                continue
            evs.sort(key=lambda e: e["n"])
            out[rid] = _cents(request_fee(evs))
        return out

    return finish


def _cents(fee: Any) -> int | None:
    return None if fee is None else int(fee * 100)
