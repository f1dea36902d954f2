"""收费金额 of each request of the report's 明细 (the fee of the resolution it stands on,
``core.chain.request_fee``), read for the month's details only: the cost follows the month.

A request that stands resolved on a resolution made in the month has it among the month's moves
(``quality.month_moves``, read once for every figure); the others that stand resolved (resolved
earlier, closed or otherwise touched this month) have their resolves, reopens and fee corrections read
by request id. A fee corrected after the month's resolution (a ``correct`` event of field ``fee``) is
followed by :func:`follow_fee_corrections`, so the 明细 and the charged figure use the corrected fee.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from qi_station.core.chain import request_fee, resolution_fee

if TYPE_CHECKING:
    from qi_station.reports.quality import Move
    from qi_station.reports.queries import Q

CHUNK = 500  # ids per query (SQLite)


def _by_ids(q: Q, ids: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The condition ``e.request_id`` in ``ids`` and its parameters, per statement: PostgreSQL every id
    in one array parameter, one statement (at a large hub tens of thousands of ids); SQLite CHUNK bound
    ids a statement."""
    if q.dialect == "postgresql":
        if ids:
            yield "e.request_id = ANY(:ids)", {"ids": ids}
        return
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        marks = ", ".join(f":i{j}" for j in range(len(part)))
        yield f"e.request_id IN ({marks})", {f"i{j}": v for j, v in enumerate(part)}


def follow_fee_corrections(q: Q, last: dict[str, tuple[Move, Any]]) -> None:
    """Rewrite the data of each of the month's last resolutions (``quality.last_resolutions``) whose fee
    a later ``correct`` event changed: ``charged`` and ``fee`` become what :func:`request_fee` makes of
    the resolution and its corrections (the one rule), so the charged figure and the 明细 follow."""
    for where, params in _by_ids(q, list(last)):
        fixes: dict[str, list[dict[str, Any]]] = {}
        for rid, n, data in q.rows(
            f"SELECT e.request_id, e.n, e.data FROM request_event e WHERE {where} AND e.kind = 'correct'",
            **params,
        ):
            if int(n) > last[rid][0].n:
                fixes.setdefault(rid, []).append({"n": int(n), "kind": "correct", "data": data})
        for rid, evs in fixes.items():
            mv, data = last[rid]
            evs.sort(key=lambda e: e["n"])
            fee = request_fee([{"kind": "status", "to_status": "resolved", "data": data}, *evs])
            if fee is not None:  # (a correction of another field leaves it as the resolution recorded)
                base = dict(data) if isinstance(data, Mapping) else {}
                last[rid] = (mv, {**base, "charged": fee > 0, "fee": str(fee)})


def request_fees(
    q: Q, resolved: Iterable[tuple[str, Any]], latest: Mapping[str, tuple[Move, Any]]
) -> dict[str, int | None]:
    """``fee_cents`` (hundredths of a yuan, None: no fee recorded) of each request of the details that
    stands resolved: ``resolved`` gives (id, resolved_at) of those rows (resolved_at not None; a request
    never resolved, or reopened since, has no fee: ``request_fee``); ``latest``: the month's last
    resolution of each request, its data decoded (``quality.last_resolutions``)."""
    return request_fees_later(q, resolved, latest)()


def request_fees_later(
    q: Q, resolved: Iterable[tuple[str, Any]], latest: Mapping[str, tuple[Move, Any]]
) -> Callable[[], dict[str, int | None]]:
    """:func:`request_fees` in two halves: the requests standing on the month's resolution now, the
    others' events read on a side connection (PostgreSQL: ``Q.later``) while the report goes on; the
    call it returns gives every fee (waiting for those events)."""
    out: dict[str, int | None] = {}
    todo: list[str] = []
    for rid, at in resolved:
        got = latest.get(rid)
        if got is not None and got[0].at == at:  # stands on the month's resolution
            out[rid] = _cents(resolution_fee(got[1]))
        else:
            out[rid] = None
            todo.append(rid)
    reads = [
        q.later(
            "SELECT e.request_id, e.n, e.kind, e.from_status, e.to_status, "
            "CASE WHEN e.to_status = 'resolved' OR e.kind = 'correct' THEN e.data END FROM request_event e "
            f"WHERE {where} AND (e.kind = 'correct' OR e.kind = 'status' "
            "AND e.to_status IN ('resolved', 'in_progress'))",
            **params,
        )
        for where, params in _by_ids(q, todo)
    ]

    def finish() -> dict[str, int | None]:
        events: dict[str, list[dict[str, Any]]] = {}
        for read in reads:
            for rid, n, kind, fs, ts, data in read():
                events.setdefault(rid, []).append(
                    {"n": int(n), "kind": kind, "from_status": fs, "to_status": ts, "data": data}
                )
        for rid, evs in events.items():
            evs.sort(key=lambda e: e["n"])
            out[rid] = _cents(request_fee(evs))
        return out

    return finish


def _cents(fee: Any) -> int | None:
    return None if fee is None else int(fee * 100)
