"""The station's side of the wire: the HTTP client, TLS (a private CA or the pinned hub certificate), the
proof that a server holds the hub key before a token is sent, and the check of the hub's signature on
every reply before anything in it is used.

TLS settings travel as a small dict kept in the station's kv (not secret): ``{"mode": "pin"|"ca",
"pem": PEM text}``. ``pin``: exactly the certificate met (and proven) at enrollment is trusted, whatever
name it carries; ``ca``: certificates issued by that CA for the hub's host name.
"""

from __future__ import annotations

import hashlib
import ssl
import time
from collections.abc import Callable
from typing import Any

from qi_station.sync.proto import (
    HUB_PROOF_PATH,
    NONCE_HEADER,
    PROTOCOL,
    PULL_PAGE,
    SIGNATURE_HEADER,
    STATION_SIGNATURE_HEADER,
    STATION_SIGNED_PATHS,
    STATION_TIME_HEADER,
    SyncError,
    hub_proof_message,
    redact,
    reply_message,
    schema_head,
)

RETRY_AFTER_MAX = 30.0  # seconds: the longest wait a hub's Retry-After can ask of a sync


def station_now_ms() -> int:
    """This PC's clock as a push, a pull or an up bundle tells the hub (ms since the epoch): the clock
    the station stamps its rows with (``core.clock.env_now_ms``, which honours ``QI_STATION_NOW``), never
    another; the hub keeps the skew and takes rows stamped ahead of its clock only while this clock is
    right (``sync.hub.rules.clock_ok``)."""
    from qi_station.core.clock import env_now_ms

    return env_now_ms()


class TransientError(Exception):
    """Network trouble or a 5xx/503: retried with backoff, or after the hub's ``Retry-After``
    (``retry_after``, seconds, capped at RETRY_AFTER_MAX)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (the delay form), capped; None when absent or not a number."""
    try:
        secs = float((value or "").strip())
    except ValueError:
        return None
    if secs != secs or secs < 0:  # NaN, negative
        return None
    return min(secs, RETRY_AFTER_MAX)


def ssl_context(tls: dict[str, str] | None) -> ssl.SSLContext | bool:
    """The verification for an https hub: the pinned certificate, a private CA, or (no settings) the
    system's CAs."""
    if not tls or not tls.get("mode"):
        return True
    if tls["mode"] == "ca":
        return ssl.create_default_context(cadata=tls["pem"])
    if tls["mode"] == "pin":
        ctx = ssl.create_default_context(cadata=tls["pem"])
        ctx.check_hostname = False  # the exact certificate is pinned: its name does not matter
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the pinned leaf itself is the trust anchor
        ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
        return ctx
    if tls["mode"] == "first-contact":  # only to ask for the hub's proof: no secret is sent on it
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    raise SyncError(400, "bad_tls", f"unknown TLS mode {tls['mode']!r}")


def peer_cert_der(response: Any) -> bytes | None:
    """The DER certificate the server presented on the connection that carried ``response`` (None on
    plain http or an in-process transport)."""
    stream = response.extensions.get("network_stream")
    sslobj = stream.get_extra_info("ssl_object") if stream is not None else None
    return sslobj.getpeercert(True) if sslobj is not None else None


#: signs a station call: (method, path, query, time_ms, nonce, body) -> the station key's signature
#: over :func:`~qi_station.sync.proto.call_message` (``sync.station.heads.call_signer``)
CallSigner = Callable[[str, str, str, int, str, bytes], str]


class HubClient:
    """``hub_pubkey``: the pinned hub key; when set, every call carries a fresh nonce and a reply whose
    signature does not verify is refused before it is read. ``signer``: the station key; every call in
    ``STATION_SIGNED_PATHS`` (push, pull, restore) is signed with it over its method, path, exact query,
    time and nonce (the hub refuses them unsigned). A hub that refuses the time as too far from its
    clock (``stale_call``) sends its own: the call is signed again once with it (a wrong PC clock does
    not stop sync)."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        http: Any = None,
        timeout: float = 60.0,
        hub_pubkey: str | None = None,
        tls: dict[str, str] | None = None,
        signer: CallSigner | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.hub_pubkey = hub_pubkey
        self.signer = signer
        self.clock_offset_ms = 0  # the hub's clock minus ours, learnt from a stale_call refusal
        self.secrets: list[str] = [token] if token else []
        self.last_cert: bytes | None = None
        self._own = http is None
        if http is None:
            import httpx

            verify = ssl_context(tls) if self.url.startswith("https://") else True
            http = httpx.Client(base_url=self.url, timeout=timeout, trust_env=False, verify=verify)
        self.http = http

    def close(self) -> None:
        if self._own:
            self.http.close()

    def _headers(self, nonce: str | None) -> dict[str, str]:
        h = {"X-Sync-Protocol": str(PROTOCOL), "X-Sync-Schema": schema_head()}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if nonce:
            h[NONCE_HEADER] = nonce
        return h

    def _call(self, method: str, path: str, extra_headers: dict[str, str] | None = None, **kw: Any) -> Any:
        try:
            return self._call_once(method, path, extra_headers, **kw)
        except SyncError as e:
            got = e.data.get("hub_now_ms")
            if e.code != "stale_call" or not isinstance(got, int) or self.signer is None:
                raise
            self.clock_offset_ms = got - time.time_ns() // 1_000_000
            return self._call_once(method, path, extra_headers, **kw)  # signed again with the hub's time

    def _call_once(
        self, method: str, path: str, extra_headers: dict[str, str] | None = None, **kw: Any
    ) -> Any:
        import json
        import secrets
        from urllib.parse import urlencode

        import httpx

        signed = self.signer is not None and path in STATION_SIGNED_PATHS
        nonce = secrets.token_urlsafe(18) if self.hub_pubkey or signed else None
        query = urlencode(kw.pop("params", None) or {})
        try:
            headers = {**self._headers(nonce), **(extra_headers or {})}
            if signed and self.signer is not None and nonce:
                when = time.time_ns() // 1_000_000 + self.clock_offset_ms
                headers[STATION_TIME_HEADER] = str(when)
                headers[STATION_SIGNATURE_HEADER] = self.signer(
                    method, path, query, when, nonce, kw.get("content") or b""
                )
            r = self.http.request(method, f"{path}?{query}" if query else path, headers=headers, **kw)
        except httpx.HTTPError as e:
            if "CERTIFICATE_VERIFY_FAILED" in str(e):  # not network trouble: not retried
                raise SyncError(
                    495,
                    "tls_mismatch",
                    f"{self.url} did not show the certificate this station pinned or trusts at enrollment "
                    "(someone in between, or the hub's certificate changed): nothing was sent. If the hub "
                    "renewed its certificate, re-enroll (`hub add-station CODE --reissue`) / 中心证书不符",
                ) from None
            raise TransientError(self._clean(f"cannot reach the hub at {self.url}: {e}")) from None
        self.last_cert = peer_cert_der(r)
        if r.status_code >= 500:
            raise TransientError(
                self._clean(f"hub error {r.status_code}: {r.text[:200]}"),
                retry_after(r.headers.get("Retry-After")),
            )
        body = r.content
        try:
            data = json.loads(body)  # only read after the signature check below (a damaged reply: retried)
        except ValueError:
            raise TransientError(f"hub sent a damaged reply ({r.status_code}, {len(body)} bytes)") from None
        if r.status_code < 400 and nonce and self.hub_pubkey:
            self._check_signature(nonce, body, r.headers.get(SIGNATURE_HEADER))
        if r.status_code >= 400:
            if r.status_code == 503:
                raise TransientError(self._clean(str(data)))
            if isinstance(data, dict) and "error" in data:
                extra = {k: v for k, v in data.items() if k not in ("error", "message")}
                raise SyncError(
                    r.status_code, str(data["error"]), self._clean(str(data.get("message"))), **extra
                )
            raise SyncError(
                r.status_code,
                "refused",
                self._clean(f"hub refused the call ({r.status_code}): {str(data)[:300]}"),
            )
        return data

    def _clean(self, text: str) -> str:
        return redact(text, *self.secrets)

    def _check_signature(self, nonce: str, body: bytes, sig: str | None) -> None:
        from qi_station.sync import keys

        assert self.hub_pubkey
        if not sig or not keys.verify(self.hub_pubkey, reply_message(nonce, body), sig):
            raise SyncError(
                502,
                "bad_reply_signature",
                f"the reply from {self.url} is not signed by the hub key pinned at enrollment: refused, "
                "nothing applied (someone may be changing traffic on the way) / 中心回复签名无效，已拒绝",
            )

    def prove(self, nonce: str) -> dict[str, Any]:
        return dict(self._call("POST", HUB_PROOF_PATH, json={"nonce": nonce}))

    def info(self) -> dict[str, Any]:
        return dict(self._call("GET", "/sync/v1/info"))

    def enroll(
        self,
        token: str,
        pubkey: str,
        profile: dict[str, Any] | None = None,
        *,
        key_proof: str | None = None,
    ) -> dict[str, Any]:
        self.secrets.append(token)
        body: dict[str, Any] = {"token": token, "pubkey": pubkey}
        if key_proof is not None:
            body["key_proof"] = key_proof  # signed with the key: the station holds it
        if profile is not None:
            body["profile"] = profile  # the station's region, park, type and mode
        return dict(self._call("POST", "/sync/v1/enroll", json=body))

    def restore(self, table: str, after: str, limit: int = PULL_PAGE) -> dict[str, Any]:
        return dict(
            self._call("GET", "/sync/v1/restore", params={"table": table, "after": after, "limit": limit})
        )

    def push(
        self,
        batch: list[dict[str, Any]],
        head: dict[str, Any] | None = None,
        profile: dict[str, Any] | None = None,
        device: str | None = None,
        *,
        restored: bool = False,
    ) -> dict[str, Any]:
        """Signed with the client's ``signer`` (the hub refuses an unsigned push). ``restored``: this
        station was restored from a backup and has not caught up yet (``kvkeys.STATION_RESTORED``)."""
        body: dict[str, Any] = {"batch": batch, "station_now_ms": station_now_ms()}
        if restored:
            body["restored"] = True
        if device is not None:
            body["device"] = device  # this install (PC + database file): see sync.station.apply.device_id
        if head is not None:
            body["head"] = head  # the signed running head over the station's events
        if profile is not None:
            body["profile"] = profile  # the station's region, park, type and mode
        import json

        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        return dict(self._call("POST", "/sync/v1/push", content=raw, extra_headers=headers))

    def pull(self, since: int, limit: int = PULL_PAGE, *, resync: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {
            "since": since,
            "limit": limit,
            "station_now_ms": station_now_ms(),
        }
        if resync:
            params["resync"] = "true"
        return dict(self._call("GET", "/sync/v1/pull", params=params))


def prove_hub(
    url: str, fp: str, *, http: Any = None, cafile_pem: str | None = None
) -> tuple[str, dict[str, str] | None]:
    """Before the enrollment token leaves this PC: ask the server to sign a fresh nonce and check that
    the signing key is the hub key whose fingerprint ``fp`` the token carries, and (https) that the
    certificate it signed is the one this connection met. Returns (hub_pubkey, TLS settings to use from
    now on: the private CA, or the proven certificate pinned)."""
    import secrets

    from qi_station.sync import keys

    https = url.startswith("https://")
    first = {"mode": "ca", "pem": cafile_pem} if cafile_pem else {"mode": "first-contact", "pem": ""}
    cl = HubClient(url, http=http, tls=first if https else None)
    nonce = secrets.token_urlsafe(24)
    try:
        try:
            got = cl.prove(nonce)
        except TransientError as e:
            raise SyncError(503, "unreachable", str(e)) from None
        except SyncError as e:
            if e.status in (404, 405):
                raise SyncError(
                    400, "not_a_hub", f"{url} cannot prove it is a hub (no {HUB_PROOF_PATH}); upgrade the hub"
                ) from None
            raise
        seen = cl.last_cert
    finally:
        cl.close()
    pub = str(got.get("hub_pubkey") or "")
    signed_tls = got.get("tls_sha256") or None
    if (
        not keys.valid_pubkey(pub)
        or keys.fingerprint(pub) != fp
        or not keys.verify(pub, hub_proof_message(nonce, signed_tls), str(got.get("signature") or ""))
    ):
        raise SyncError(
            400,
            "hub_key_mismatch",
            f"{url} does not hold the hub key named in the enrollment token (wrong or fake hub?); the token "
            "was NOT sent / 该服务器不是注册码对应的中心，注册码未发送",
        )
    if not https and signed_tls not in (None, "-"):
        raise SyncError(
            400,
            "tls_mismatch",
            f"the hub serves HTTPS but {url} is plain http: something is relaying the connection; use the "
            "hub's https:// address; the token was NOT sent / 中心使用 HTTPS，此连接却是明文，注册码未发送",
        )
    if not https or seen is None:
        return pub, None
    seen_sha = hashlib.sha256(seen).hexdigest()
    if signed_tls != seen_sha and not (cafile_pem and signed_tls is None):
        raise SyncError(
            400,
            "tls_mismatch",
            f"the certificate {url} showed ({seen_sha[:16]}…) is not the one the hub signed: something between "
            "this PC and the hub is relaying the connection; the token was NOT sent / 证书与中心不符",
        )
    if cafile_pem:
        return pub, {"mode": "ca", "pem": cafile_pem}
    return pub, {"mode": "pin", "pem": ssl.DER_cert_to_PEM_cert(seen), "sha256": seen_sha}
