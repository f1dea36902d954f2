"""The hub's front door (pure ASGI, before FastAPI reads anything): body limits, the token before the
body, and one structured access-log line per call.

- A body over its endpoint's limit answers 413 before it is read whole: a ``Content-Length`` over the
  limit is refused at once, a body without one is counted as it streams and refused when it passes.
- Calls that need a station token (push, pull, restore) have it checked first: a missing or bad token
  answers 401 without a byte of the body read. They must also be signed with the station's key
  (``proto.call_message``: method, path, query, time, nonce, body) and fresh: the signature, the time
  window and the nonce (``use_nonce``: remembered at the hub, a replay is refused) are checked before
  the endpoint does any work.
- Every call, refused ones included, writes one JSON line to the ``qi_station.hub.access`` logger:
  time, client address, station code, method, endpoint, status, milliseconds, bytes in and the counts
  the endpoint reports (changes, applied, rows). Never a token, a header or a row.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from qi_station.core.clock import now_utc
from qi_station.sync.hub.base import RETRY_AFTER, busy
from qi_station.sync.proto import (
    CALL_WINDOW_MS,
    HUB_PROOF_PATH,
    NONCE_HEADER,
    STATION_SIGNATURE_HEADER,
    STATION_SIGNED_PATHS,
    STATION_TIME_HEADER,
    SyncError,
    call_message,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ACCESS_LOGGER = "qi_station.hub.access"
access_log = logging.getLogger(ACCESS_LOGGER)

# request body limits, bytes (docs/sync.md "Limits")
MAX_PUSH_BODY = 32 * 1024 * 1024  # a full push batch (500 changes) of the longest texts fits well
MAX_SMALL_BODY = 16 * 1024  # enroll, prove
MAX_OTHER_BODY = 1024  # every other call (GETs carry no body)
BODY_LIMITS = {
    "/sync/v1/push": MAX_PUSH_BODY,
    "/sync/v1/enroll": MAX_SMALL_BODY,
    HUB_PROOF_PATH: MAX_SMALL_BODY,
}
TOKEN_PATHS = frozenset({"/sync/v1/push", "/sync/v1/pull", "/sync/v1/restore"})


def body_limit(path: str) -> int:
    return BODY_LIMITS.get(path, MAX_OTHER_BODY)


def note(scope: Scope, **counts: Any) -> None:
    """Let an endpoint add counts (or the station code) to its access-log line."""
    scope.setdefault("state", {}).setdefault("qi_access", {}).update(counts)


class Guard:
    """ASGI middleware: ``Guard(app, station_by_token, use_nonce)``; ``station_by_token`` raises
    SyncError(401); ``use_nonce(code, nonce, time_ms)`` raises SyncError(403, replayed_call) for a nonce
    it has seen inside the window (None: not checked, tests of the guard alone)."""

    def __init__(
        self,
        app: ASGIApp,
        station_by_token: Callable[[str | None], dict[str, Any]],
        use_nonce: Callable[[str, str, int], None] | None = None,
    ) -> None:
        self.app = app
        self.station_by_token = station_by_token
        self.use_nonce = use_nonce

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        path = str(scope.get("path", ""))
        line: dict[str, Any] = {
            "time": now_utc().isoformat(timespec="milliseconds") + "Z",
            "client": (scope.get("client") or ("", 0))[0],
            "station": None,
            "method": scope.get("method"),
            "endpoint": path[:100],
            "status": 500,
            "bytes_in": 0,
            "bytes_out": 0,
        }

        async def send_logged(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                line["status"] = msg["status"]
            elif msg["type"] == "http.response.body":
                line["bytes_out"] += len(msg.get("body", b""))
            await send(msg)

        try:
            await self._guarded(scope, receive, send_logged, path, line)
        finally:
            line["ms"] = round((time.perf_counter() - t0) * 1000, 1)
            line.update(scope.get("state", {}).get("qi_access", {}))
            access_log.info(json.dumps(line, ensure_ascii=False, default=str))

    async def _guarded(
        self, scope: Scope, receive: Receive, send: Send, path: str, line: dict[str, Any]
    ) -> None:
        from sqlalchemy.exc import OperationalError
        from sqlalchemy.exc import TimeoutError as PoolTimeout
        from starlette.concurrency import run_in_threadpool

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = str(scope.get("method") or "")
        query = (scope.get("query_string") or b"").decode("latin-1")
        limit = body_limit(path)
        length = headers.get("content-length")
        if path in TOKEN_PATHS:
            auth = headers.get("authorization") or ""
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
            # a signed GET has no body to wait for: the token, the signature and the nonce in one hop
            # to a worker thread (the same checks in the same order as below)
            whole_now = method in ("GET", "HEAD") and length is None and path in STATION_SIGNED_PATHS
            try:
                st, refused = await run_in_threadpool(
                    self._admit, token, (method, path, query, b"", headers) if whole_now else None
                )
            except SyncError as e:
                await _reply(send, e)
                return
            except (OperationalError, PoolTimeout) as e:
                await _reply(send, busy(e))
                return
            line["station"] = st.get("code")
            scope.setdefault("state", {})["qi_station"] = st
            if whole_now:
                line["bytes_in"] = 0
                if refused is not None:
                    await _reply(send, refused)
                    return
                await self.app(scope, _no_body(receive), send)
                return
        if length is not None and (not length.strip().isdigit() or int(length) > limit):
            await _reply(
                send, SyncError(413, "too_large", f"request body over the {limit}-byte limit / 请求过大")
            )
            return
        # read the body (bounded), then replay it to the app
        chunks: list[bytes] = []
        n = 0
        more = method not in ("GET", "HEAD")
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                line["status"] = 499
                return
            body = msg.get("body", b"")
            n += len(body)
            if n > limit:
                line["bytes_in"] = n
                await _reply(
                    send, SyncError(413, "too_large", f"request body over the {limit}-byte limit / 请求过大")
                )
                return
            chunks.append(body)
            more = bool(msg.get("more_body"))
        line["bytes_in"] = n
        whole = b"".join(chunks)
        if path in STATION_SIGNED_PATHS:
            st = scope.get("state", {}).get("qi_station") or {}
            try:  # the signature (off the event loop: Ed25519 over the body) and then the nonce
                refused = await run_in_threadpool(self._signed, st, (method, path, query, whole, headers))
            except (OperationalError, PoolTimeout) as e:
                refused = busy(e)
            if refused is not None:
                await _reply(send, refused)
                return
        await self.app(scope, _replayed(whole, receive), send)

    def _admit(
        self, token: str | None, call: tuple[str, str, str, bytes, dict[str, str]] | None
    ) -> tuple[dict[str, Any], SyncError | None]:
        """The station by its token (raises SyncError 401); with ``call`` (a signed call whose body is
        already whole), also its refusal, or None (:meth:`_signed`)."""
        st = self.station_by_token(token)
        return st, (self._signed(st, call) if call is not None else None)

    def _signed(
        self, st: dict[str, Any], call: tuple[str, str, str, bytes, dict[str, str]]
    ) -> SyncError | None:
        """The call's signature and time (:func:`call_refusal`), THEN its nonce (``use_nonce``: stored
        only for a call whose signature is good): the refusal, or None."""
        method, path, query, body, headers = call
        refused = call_refusal(st, method, path, query, body, headers)
        if refused is None and self.use_nonce is not None:
            try:
                self.use_nonce(
                    str(st.get("code") or ""),
                    headers[NONCE_HEADER.lower()],
                    int(headers[STATION_TIME_HEADER.lower()]),
                )
            except SyncError as e:
                return e
        return refused


def _replayed(whole: bytes, receive: Receive) -> Receive:
    """The body the guard read, given to the app once; then the connection's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": whole, "more_body": False}
        return await receive()

    return replay


def _no_body(receive: Receive) -> Receive:
    return _replayed(b"", receive)


def call_refusal(
    st: dict[str, Any],
    method: str,
    path: str,
    query: str,
    body: bytes,
    headers: dict[str, str],
    now_ms: int | None = None,
) -> SyncError | None:
    """A call in ``STATION_SIGNED_PATHS`` must be signed by the key its station enrolled
    (``proto.call_message`` over the method, path, query, ``X-Station-Time``, ``X-Sync-Nonce`` and body)
    and its time within ``CALL_WINDOW_MS`` of the hub's clock: a bearer token alone neither writes nor
    reads. None when it is (the nonce is checked next, ``use_nonce``)."""
    from qi_station.sync import keys

    push = path == "/sync/v1/push"
    what = "push" if push else "call"
    sig = headers.get(STATION_SIGNATURE_HEADER.lower())
    nonce = headers.get(NONCE_HEADER.lower()) or ""
    when = (headers.get(STATION_TIME_HEADER.lower()) or "").strip()
    if not sig or not when or not nonce:
        return SyncError(
            403,
            f"unsigned_{what}",
            f"the {what} is not signed with the station key (X-Station-Signature, X-Station-Time, "
            "X-Sync-Nonce): a token alone neither writes nor reads; update qi-station on the station / "
            "请求缺少站点签名，请升级站点程序",
        )
    if not when.lstrip("-").isdigit() or len(when) > 20 or not 16 <= len(nonce) <= 200 or not nonce.isascii():
        return SyncError(
            400,
            "bad_call_header",
            "X-Station-Time must be milliseconds since 1970 and X-Sync-Nonce 16-200 ASCII characters",
        )
    pub = st.get("pubkey")
    msg = call_message(str(st.get("code") or ""), method, path, query, int(when), nonce, body)
    if not pub or not keys.verify(str(pub), msg, sig):
        return SyncError(
            403,
            f"bad_{what}_signature",
            f"the {what} is not signed by the key this station enrolled: refused, nothing done (a stolen "
            "token, or the station was re-enrolled elsewhere: re-enroll it) / 请求签名与站点密钥不符",
        )
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if abs(int(when) - now) > CALL_WINDOW_MS:
        return SyncError(
            403,
            "stale_call",
            f"the call's time (X-Station-Time) is more than {CALL_WINDOW_MS // 1000} s from the hub's clock: "
            "refused as a possible replay, nothing done (the station signs again with the hub's time) / "
            "请求时间超出允许范围，已拒绝",
            hub_now_ms=now,
        )
    return None


def error_headers(e: SyncError) -> dict[str, str]:
    """``Retry-After`` (seconds) on a 503."""
    return {"Retry-After": str(e.data.get("retry_after") or RETRY_AFTER)} if e.status == 503 else {}


async def _reply(send: Send, e: SyncError) -> None:
    body = json.dumps(e.to_dict(), ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error_headers(e).items()]
    await send({"type": "http.response.start", "status": e.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def setup_access_log(path: str | None = None) -> None:
    """Send the access log to ``path`` (appended, UTF-8) or to stderr; one JSON object per line."""
    if access_log.handlers:
        return
    handler: logging.Handler = (
        logging.FileHandler(path, encoding="utf-8") if path else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
