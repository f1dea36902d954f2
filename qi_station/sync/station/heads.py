"""The station's signed running head and the ledger check around a sync.

The running head (``core.chain.next_head`` over every event in insertion order) is kept in kv
``event_head`` by ``db.write.append_event``; every push and up bundle carries it signed with the station
key (``{"n", "head", "sig"}``), and the head the hub acknowledged is kept as kv ``acked_head``
(``services.verify`` checks the first n events still fold to it). docs/sync.md has the threat model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qi_station.db import kvkeys
from qi_station.sync.station import apply as S


def _signer(conn: Any) -> tuple[str, str]:
    """The code this station signs as and its private key: what a head and a push are signed with."""
    code = S.kv_get(conn, "station_code") or S.station_code(conn) or ""
    priv, _pub = S.signing_key(conn)
    return code, priv


def signed_head(conn: Any) -> dict[str, Any]:
    """The running head over every event of this station (kv ``event_head``), signed with its key:
    ``{"n", "head", "sig"}`` (``core.chain.head_message``). Sent with every push and bundle: kept as kv
    ``head_sent``."""
    from qi_station.core.chain import canonical, head_message
    from qi_station.db import write
    from qi_station.sync import keys
    from qi_station.sync.proto import HEADS_EARLIER

    code, priv = _signer(conn)
    n, head = write.event_head(conn)
    S.kv_set(conn, kvkeys.HEAD_SENT, f"{n}:{head}")  # the hub will count these events
    earlier = [e for e in _heads_sent(conn) if e[0] < n]
    S.kv_set(conn, kvkeys.HEADS_SENT, canonical([*earlier, [n, head]][-HEADS_EARLIER:]))
    return {
        "n": n,
        "head": head,
        "sig": keys.sign(priv, head_message(code, n, head)),
        # the heads this station sent before (over fewer events): the hub keeps them, so a bundle made
        # earlier and imported after this one is checked as a prefix of this history, not a rewrite
        "earlier": [{"n": en, "head": eh} for en, eh in earlier[-HEADS_EARLIER:]],
    }


def _heads_sent(conn: Any) -> list[tuple[int, str]]:
    """The running heads this station sent (kv ``heads_sent``), oldest first; unreadable: none."""
    import json

    try:
        got = json.loads(S.kv_get(conn, kvkeys.HEADS_SENT) or "[]")
        return [(int(n), str(h)) for n, h in got]
    except (TypeError, ValueError):
        return []


def call_signer(conn: Any) -> Callable[[str, str, str, int, str, bytes], str]:
    """Signs a station call (method, path, query, time, nonce, exact body bytes) with this station's key
    (``proto.call_message``): the hub takes no push, pull or restore that this key did not sign."""
    from qi_station.sync import keys
    from qi_station.sync.proto import call_message

    code, priv = _signer(conn)
    return lambda method, path, query, when, nonce, body: keys.sign(
        priv, call_message(code, method, path, query, when, nonce, body)
    )


def keep_acked_head(conn: Any, head: dict[str, Any]) -> None:
    """The hub acknowledged ``head``: the station's first ``n`` events are fixed from now on
    (``services.verify`` reports it if they change)."""
    with S.tx(conn):
        S.kv_set(conn, kvkeys.ACKED_HEAD, f"{int(head['n'])}:{head['head']}")


def check_ledger(conn: Any, *, full: bool = False) -> tuple[bool, list[str]]:
    """The ledger check after a sync (``services.verify``), kept in kv for the dashboard: whether the
    ledger is intact, and what is wrong (``services.verify.report_lines`` but its totals line). It starts
    from the last intact check's watermark (``verify_conn(incremental=True)``: every row a sync changes
    comes with an event) unless ``full`` (a restore or heal rewrote rows) or the watermark is missing,
    unfit or its full check too old."""
    from qi_station.services.verify import record_result, report_lines, verify_conn

    res = verify_conn(conn, incremental=not full)
    ok = bool(record_result(conn, res)["ok"])
    return ok, [] if ok else report_lines(res)[:-1]
