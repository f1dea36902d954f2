"""One driver process replays many stations' real sync calls at a hub, concurrently (``bench_rush.py
--mode replay``): the rush then measures the hub, not 150 Python start-ups on the hub's own cores.

Before the clock starts, each station's database is read once (:func:`plan`): its outbox cut into the
batches ``sync.station.apply.next_batch`` gives the real client, the signed head, profile and device a
push carries, and the station's key, token and the pinned hub key. Timed (:func:`replay`): per station,
in one asyncio task, every batch is POSTed as ``HubClient.push`` would (the same JSON bytes, a fresh
nonce, the call signed with the station key over method, path, query, time, nonce and body), each
reply's hub signature is checked and its ``acked_oseq`` must cover the batch; then the pull pages are
fetched from the station's cursor, signed and checked the same way, until the hub says there is no
more. A busy hub's ``Retry-After`` is waited out (not a failure, as in ``run_sync``); network trouble
is retried 5 times with the client's backoff. What the driver does NOT do is the station's own work:
its process start-up, writing the pulled pages into SQLite and the ledger check (the real-client mode,
``--mode clients``, does all of it).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode


@dataclass
class Plan:
    code: str
    db: Path
    token: str
    hub_pubkey: str
    signer: Any
    batches: list[bytes]  # each batch's JSON array, as HubClient.push would dump it
    lasts: list[int]  # each batch's last oseq
    tail: dict[str, Any]  # the rest of the push body: head, profile, device
    changes: int = 0
    since: int = 0  # the pull cursor (kept across rounds: the driver does not apply pulls)
    # results of the last round
    seconds: float = 0.0
    error: str | None = None
    pulled_rows: int = 0
    busy_waited: float = 0.0
    retries: int = 0
    why: list[str] = field(default_factory=list)  # what each retry or busy wait met
    calls: list[tuple[str, float]] = field(default_factory=list)


def plan(db: Path, since: int = 0, batch_size: int | None = None) -> Plan:
    """What the station at ``db`` would send on its next sync (read-only for the outbox: the batches are
    cut in a transaction that is rolled back)."""
    from qi_station.core.chain import canonical  # noqa: F401 - the client's own imports, for parity
    from qi_station.services.station import profile as station_profile
    from qi_station.sync.proto import PUSH_BATCH
    from qi_station.sync.station import apply as S
    from qi_station.sync.station import heads as H

    conn = S.open_conn(db)
    try:
        S.fix_oseq(conn)
        code = S.station_code(conn) or ""
        token, pub = S.api_token(conn), S.kv_get(conn, "hub_pubkey")
        assert token and pub, f"{db} is not enrolled"
        signer = H.call_signer(conn)
        head = H.signed_head(conn)
        conn.commit()
        tail: dict[str, Any] = {"device": S.device_id(conn), "head": head}
        prof = station_profile(conn)
        if prof is not None:
            tail["profile"] = prof
        batches: list[bytes] = []
        lasts: list[int] = []
        n = 0
        conn.execute("BEGIN")
        while True:
            b = S.next_batch(conn, batch_size or PUSH_BATCH)
            if not b:
                break
            batches.append(json.dumps(b, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
            lasts.append(int(b[-1]["oseq"]))
            n += len(b)
            conn.execute("DELETE FROM outbox WHERE oseq <= ?", (b[-1]["oseq"],))
        conn.rollback()
        return Plan(code, db, token, pub, signer, batches, lasts, tail, n, since)
    finally:
        conn.close()


def acked(p: Plan) -> None:
    """After a round: the station takes the hub's ack as ``push_all`` does (its outbox up to the last
    batch dropped), so the next round's plan holds only new changes."""
    from qi_station.sync.station import apply as S

    if not p.lasts:
        return
    conn = S.open_conn(p.db)
    try:
        S.ack(conn, p.lasts[-1])
    finally:
        conn.close()


class Busy(Exception):
    def __init__(self, wait: float | None, msg: str) -> None:
        super().__init__(msg)
        self.wait = wait


async def _call(
    http: Any, p: Plan, method: str, path: str, params: dict[str, Any] | None, body: bytes | None
) -> dict[str, Any]:
    """One signed call as ``HubClient._call_once`` makes it; the reply's hub signature checked."""
    from qi_station.sync import keys
    from qi_station.sync.proto import (
        NONCE_HEADER,
        PROTOCOL,
        SIGNATURE_HEADER,
        STATION_SIGNATURE_HEADER,
        STATION_TIME_HEADER,
        reply_message,
        schema_head,
    )
    from qi_station.sync.station.wire import retry_after

    nonce = secrets.token_urlsafe(18)
    query = urlencode(params or {})
    when = time.time_ns() // 1_000_000
    headers = {
        "X-Sync-Protocol": str(PROTOCOL),
        "X-Sync-Schema": schema_head(),
        "Authorization": f"Bearer {p.token}",
        NONCE_HEADER: nonce,
        STATION_TIME_HEADER: str(when),
        STATION_SIGNATURE_HEADER: p.signer(method, path, query, when, nonce, body or b""),
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    t0 = time.perf_counter()
    r = await http.request(method, f"{path}?{query}" if query else path, headers=headers, content=body)
    raw = await r.aread()
    p.calls.append((path, time.perf_counter() - t0))
    if r.status_code >= 500:
        raise Busy(retry_after(r.headers.get("Retry-After")), f"hub error {r.status_code}: {raw[:200]!r}")
    if r.status_code >= 400:
        raise RuntimeError(f"refused {r.status_code}: {raw[:300]!r}")
    if not keys.verify(p.hub_pubkey, reply_message(nonce, raw), r.headers.get(SIGNATURE_HEADER) or ""):
        raise RuntimeError("bad reply signature")
    return dict(json.loads(raw))


async def _retrying(http: Any, p: Plan, *args: Any, busy_max: float = 1800.0) -> dict[str, Any]:
    import httpx

    attempt = 0
    while True:
        try:
            return await _call(http, p, *args)
        except (Busy, httpx.HTTPError) as e:
            wait = e.wait if isinstance(e, Busy) else None
            p.why.append(f"{type(e).__name__}: {e}"[:120])
            if wait is not None and p.busy_waited + wait <= busy_max:
                p.busy_waited += wait
                await asyncio.sleep(wait)
                continue
            attempt += 1
            p.retries += 1
            if attempt > 5:
                raise RuntimeError(f"gave up after 5 retries: {e}") from None
            await asyncio.sleep(wait if wait is not None else min(30.0, 0.5 * 2 ** (attempt - 1)))


async def _station(http: Any, p: Plan, page: int) -> None:
    from qi_station.sync.proto import PULL_PAGE

    t0 = time.perf_counter()
    p.error, p.pulled_rows, p.busy_waited, p.retries, p.calls, p.why = None, 0, 0.0, 0, [], []
    try:
        tail = json.dumps(p.tail, ensure_ascii=False, separators=(",", ":")).encode("utf-8")[1:]
        for raw, last in zip(p.batches, p.lasts, strict=True):
            now = time.time_ns() // 1_000_000
            body = b'{"batch":' + raw + b',"station_now_ms":' + str(now).encode() + b"," + tail
            reply = await _retrying(http, p, "POST", "/sync/v1/push", None, body)
            if int(reply["acked_oseq"]) < last:
                raise RuntimeError(f"hub acknowledged only up to {reply['acked_oseq']} of {last}")
        while True:
            params = {
                "since": p.since,
                "limit": page or PULL_PAGE,
                "station_now_ms": time.time_ns() // 1_000_000,
            }
            got = await _retrying(http, p, "GET", "/sync/v1/pull", params, None)
            p.pulled_rows += sum(len(t.get("rows") or []) for t in got["tables"].values())
            p.since = int(got["next"])
            if not got.get("more"):
                break
    except Exception as e:  # noqa: BLE001 - reported per station
        p.error = f"{type(e).__name__}: {e}"[:300]
    p.seconds = time.perf_counter() - t0


async def _all(base: str, plans: list[Plan], page: int, transport: Any = None) -> None:
    import httpx

    limits = httpx.Limits(max_connections=len(plans) + 10, max_keepalive_connections=len(plans) + 10)
    async with httpx.AsyncClient(
        base_url=base, timeout=600.0, trust_env=False, limits=limits, transport=transport
    ) as http:
        await asyncio.gather(*(_station(http, p, page) for p in plans))


def replay(base: str, plans: list[Plan], page: int = 0, *, transport: Any = None) -> float:
    """Every station's sync at once from this one process; the wall seconds. ``transport``: an httpx
    transport (tests: ``httpx.ASGITransport`` over the app in process)."""
    t0 = time.perf_counter()
    asyncio.run(_all(base, plans, page, transport))
    return time.perf_counter() - t0
