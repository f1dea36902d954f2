"""收费金额 of each request of the report's 明细 (the fee of the resolution it stands on,
``core.chain.request_fee``), read for the month's details only: the cost follows the month.

A request that stands resolved on a resolution made in the month has it among the month's moves
(``quality.month_moves``, read once for every figure); the others that stand resolved (resolved
earlier, closed or otherwise touched this month) have their resolves and reopens read by request id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from qi_station.core.chain import request_fee, resolution_fee

if TYPE_CHECKING:
    from qi_station.reports.quality import Move
    from qi_station.reports.queries import Q

CHUNK = 500  # ids per query


def attach_fees(q: Q, details: list[dict[str, Any]], latest: Mapping[str, tuple[Move, Any]]) -> None:
    """Set ``fee_cents`` (hundredths of a yuan, None: no fee recorded) on every row of ``details``;
    ``latest``: the month's last resolution of each request, its data decoded
    (``quality.last_resolutions``)."""
    fees_later(q, details, latest)()


def fees_later(
    q: Q, details: list[dict[str, Any]], latest: Mapping[str, tuple[Move, Any]]
) -> Callable[[], None]:
    """:func:`attach_fees` in two halves: the rows standing on the month's resolution now, the others'
    events read on the side connection (PostgreSQL: ``Q.later``) while the report goes on; the call it
    returns sets their ``fee_cents`` (before anything reads them)."""
    todo: list[str] = []
    for d in details:
        d["fee_cents"] = None
        resolved = d.get("resolved_at")
        if resolved is None:  # never resolved, or reopened since: no fee (request_fee)
            continue
        got = latest.get(d["id"])
        if got is not None and got[0].at == resolved:  # stands on the month's resolution
            d["fee_cents"] = _cents(resolution_fee(got[1]))
        else:
            todo.append(d["id"])
    if not todo:
        return lambda: None
    # PostgreSQL: every id in one array parameter, one statement (at a large hub tens of thousands of
    # ids); SQLite: CHUNK bound ids a statement
    size = len(todo) if q.dialect == "postgresql" else CHUNK
    reads = []
    for i in range(0, len(todo), size):
        ids = todo[i : i + size]
        params: dict[str, Any]
        if q.dialect == "postgresql":
            where, params = "e.request_id = ANY(:ids)", {"ids": ids}
        else:
            where = f"e.request_id IN ({', '.join(f':i{j}' for j in range(len(ids)))})"
            params = {f"i{j}": v for j, v in enumerate(ids)}
        reads.append(
            q.later(
                "SELECT e.request_id, e.n, e.kind, e.from_status, e.to_status, "
                "CASE WHEN e.to_status = 'resolved' THEN e.data END FROM request_event e "
                f"WHERE {where} AND e.kind = 'status' AND e.to_status IN ('resolved', 'in_progress')",
                **params,
            )
        )

    def finish() -> None:
        by_id = {d["id"]: d for d in details}
        events: dict[str, list[dict[str, Any]]] = {}
        for read in reads:
            for rid, n, kind, fs, ts, data in read():
                events.setdefault(rid, []).append(
                    {"n": int(n), "kind": kind, "from_status": fs, "to_status": ts, "data": data}
                )
        for rid, evs in events.items():
            evs.sort(key=lambda e: e["n"])
            by_id[rid]["fee_cents"] = _cents(request_fee(evs))

    return finish


def _cents(fee: Any) -> int | None:
    return None if fee is None else int(fee * 100)
