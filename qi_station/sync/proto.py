"""Protocol constants and helpers shared by the station, the hub and bundles (stdlib only)."""

from __future__ import annotations

import hashlib
from typing import Any

from qi_station.core import chain
from qi_station.core.errors import QIError

PROTOCOL = 2  # the hub accepts PROTOCOL and PROTOCOL - 1
MIN_PROTOCOL = PROTOCOL - 1
BUNDLE_FORMAT = "sync-bundle/1"
PUSH_BATCH = 2000
#: bytes of row JSON a push batch is cut at (``apply.next_batch``), whatever its count: a quarter of the
#: hub's body cap (``hub.guard.MAX_PUSH_BODY``, 32 MiB), so the longest texts cannot make a batch the hub
#: refuses, with room for a transaction group carried whole past the cut
PUSH_BYTES = 8 * 1024 * 1024
PULL_PAGE = 5000
MAX_PULL_PAGE = 20000
SKEW_WARN_MS = 5 * 60 * 1000
#: how many of the running heads it sent before a station lists with each signed head (``earlier``): the
#: hub keeps them, so a late bundle or push over a shorter history is checked against them (a prefix)
HEADS_EARLIER = 64
TOMBSTONE_DAYS = 365  # how long the hub keeps library tombstones (QI_HUB_TOMBSTONE_DAYS overrides)


def tombstone_days(days: int | None = None) -> int:
    import os

    if days is not None:
        return max(0, int(days))
    try:
        return max(0, int(os.environ.get("QI_HUB_TOMBSTONE_DAYS", TOMBSTONE_DAYS)))
    except ValueError:
        return TOMBSTONE_DAYS


LIBRARY_TABLES = ("expert", "institution", "equipment", "project")
STATION_TABLES = ("enterprise", "request", "request_event", "referral", "activity")
# apply order inside one batch (foreign keys: enterprise <- request <- event/referral)
TABLE_RANK = {"enterprise": 0, "request": 1, "request_event": 2, "referral": 3, "activity": 4}
HUB_REQUEST_FIELDS = ("hub_expert_id", "hub_note", "hub_priority")
# hub-owned tables that travel down like the libraries (rev/seq/deleted): the libraries and the hub's
# reference documents (``core.reference``: the holiday calendar by year, ...)
DOWN_TABLES = (*LIBRARY_TABLES, "reference")
PULL_TABLES = (*DOWN_TABLES, "request")


def schema_head() -> str:
    from qi_station.db.engine import SCHEMA_HEAD

    return SCHEMA_HEAD


def schema_num(s: str | int | None) -> int:
    try:
        return int(str(s))
    except (TypeError, ValueError):
        return -1


def exit_code_for(status: int) -> int:
    """The CLI's exit code for a sync refusal (docs/cli.md, "Exit codes"): 3 upgrade required (426);
    2 refused — the bundle, the call or a row in it was refused (any other 4xx), nothing was written;
    1 could not finish (the hub unreachable or busy, any 5xx): try again later."""
    if status == 426:
        return 3
    return 2 if 400 <= status < 500 else 1


#: the rules a refused change surfaces as, as its own code rather than the hub's generic ``rule``: the
#: station's clock ahead of the hub's (``sync.hub.rules.clock_ok``)
OWN_CODE_RULES = frozenset({"clock_ahead"})


def refusal_code(code: str, data: dict[str, Any]) -> str:
    """THE code a refusal surfaces as (the hub's JSON ``error``, the CLI's ``[code]`` and ``--json``
    ``error``, the TUI): ``code``, except a change refused by a rule of :data:`OWN_CODE_RULES`
    (``rule`` with ``data["rule"]`` ``clock_ahead``), which is that rule, on the hub and the station
    alike (an HTTP push, an up bundle at the hub)."""
    rule = data.get("rule")
    if code == "rule" and isinstance(rule, str) and rule in OWN_CODE_RULES:
        return rule
    return code


class SyncError(QIError):
    """A refused call or bundle. ``status`` mirrors the HTTP status, ``data`` the JSON detail; ``code``
    as :func:`refusal_code` makes it."""

    exit_code = 1

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        self.exit_code = exit_code_for(status)
        self.status = status
        self.code = refusal_code(code, data)
        self.message = message
        self.data = data
        super().__init__(f"{message} [{code}]")

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.data}


#: the schema of the previous release: a station one release behind still syncs with an upgraded hub
#: (a release may add several revisions; the hub takes the rows of an older station as they are)
MIN_SCHEMA = "0004"


def check_versions(protocol: Any, schema: Any) -> None:
    """Protocol N and N-1, schema from the previous release's (:data:`MIN_SCHEMA`) to the head, are
    accepted; older gets 426, newer a 400 (the hub must be upgraded first)."""
    from qi_station.db.engine import SCHEMA_HEAD

    p = schema_num(protocol)
    s = schema_num(schema)
    head = schema_num(SCHEMA_HEAD)
    if p < MIN_PROTOCOL or s < schema_num(MIN_SCHEMA):
        raise SyncError(
            426,
            "upgrade_required",
            f"station is too old (protocol {protocol}, schema {schema}); upgrade qi-station / 请升级站点程序",
            min_protocol=MIN_PROTOCOL,
            min_schema=MIN_SCHEMA,
        )
    if p > PROTOCOL or s > head:
        raise SyncError(
            400,
            "hub_too_old",
            f"hub is older than the station (protocol {protocol}, schema {schema}); upgrade the hub",
            protocol=PROTOCOL,
            schema=SCHEMA_HEAD,
        )


def canonical(obj: Any) -> bytes:
    """:func:`qi_station.core.chain.canonical` as UTF-8 bytes (signed bundle manifests)."""
    return chain.canonical(obj).encode("utf-8")


def sha256_hex(b: bytes | bytearray) -> str:
    return hashlib.sha256(b).hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(("qi-station-token:" + token).encode("utf-8")).hexdigest()


def make_enroll_token(code: str, hub_fp: str, secret: str) -> str:
    """``qie1.<CODE>.<hub key fingerprint>.<secret>``: enough for an offline station to know its code and
    to pin the hub key it will first see in a reply bundle."""
    return f"qie1.{code}.{hub_fp}.{secret}"


def parse_enroll_token(token: str) -> tuple[str, str, str]:
    parts = (token or "").strip().split(".")
    if len(parts) != 4 or parts[0] != "qie1" or not all(parts[1:]):
        raise SyncError(
            400, "bad_token", "not an enrollment token (expected qie1.CODE.FP.SECRET) / 注册码格式不对"
        )
    return parts[1], parts[2], parts[3]


def enroll_proof(token: str, pubkey_b64: str) -> str:
    """Proof of the token bound to the station key; the hub checks it with the stored token hash only."""
    import hmac

    key = token_hash(token).encode("ascii")
    return hmac.new(key, ("enroll:" + pubkey_b64).encode("utf-8"), "sha256").hexdigest()


def check_enroll_proof(enroll_hash: str, pubkey_b64: str, proof: str) -> bool:
    import hmac

    want = hmac.new(
        enroll_hash.encode("ascii"), ("enroll:" + pubkey_b64).encode("utf-8"), "sha256"
    ).hexdigest()
    return hmac.compare_digest(want, proof or "")


# ---- proving the hub, signed replies, the wire rules -------------------------------------------------
HUB_PROOF_PATH = "/sync/v1/prove"
NONCE_HEADER = "X-Sync-Nonce"
SIGNATURE_HEADER = "X-Hub-Signature"
STATION_SIGNATURE_HEADER = "X-Station-Signature"
STATION_TIME_HEADER = "X-Station-Time"
#: calls the station signs with its key (:func:`call_message`; the hub checks it before it reads the
#: body or does any work): every call that writes into or reads out a station's data
STATION_SIGNED_PATHS = frozenset({"/sync/v1/push", "/sync/v1/pull", "/sync/v1/restore"})
#: how far a signed call's time (``X-Station-Time``, ms) may be from the hub's clock; a nonce is
#: remembered this long, so a replay inside the window is caught by its nonce and one outside it by its
#: time. The same bound as the clock warning: a station whose clock is further off takes the hub's time
#: from the refusal (``stale_call``, ``hub_now_ms``) and signs again.
CALL_WINDOW_MS = SKEW_WARN_MS


def enroll_key_message(station_code: str, pubkey_b64: str) -> bytes:
    """What a station signs with the key it enrolls, to show it holds that key: the station it enrolls as
    and the key (a signature made for one station cannot enroll another)."""
    return f"qi-enroll-key/1\n{station_code}\n{pubkey_b64}".encode()


def call_message(
    station_code: str, method: str, path: str, query: str, time_ms: int, nonce: str, body: bytes
) -> bytes:
    """What a station signs for every call in :data:`STATION_SIGNED_PATHS` (pushes and the GETs that
    return its data): its code, the method, the path, the exact query string, the call's time and fresh
    nonce (``X-Station-Time``, ``X-Sync-Nonce``) and the SHA-256 of the exact body bytes (empty for a
    GET). The hub checks it with the key the station enrolled before it reads the body, so the bearer
    token alone (a stolen one) can neither write into nor read out a station's data; a replayed call is
    refused by its nonce or its time and changes nothing."""
    digest = hashlib.sha256(body).hexdigest()
    return (
        f"qi-call/1\n{station_code}\n{method.upper()}\n{path}\n{query}\n{int(time_ms)}\n{nonce}\n{digest}"
    ).encode()


def change_digest(change: dict[str, Any]) -> str:
    """What the hub remembers of each station change it applied, by its ``oseq``: the SHA-256 (128 bits,
    hex) of the canonical table, op and row. A change re-sent under that oseq must give the same digest
    (a lost reply, a resent bundle); another one means another copy of the station made it
    (``device_conflict``), unless the station says it was restored from a backup."""
    return hashlib.sha256(
        canonical({"table": change.get("table"), "op": change.get("op"), "row": change.get("row")})
    ).hexdigest()[:32]


def hub_proof_message(nonce: str, tls_sha256: str | None) -> bytes:
    """What the hub signs to prove it holds its key, before a station sends its enrollment token: the
    station's fresh nonce and the SHA-256 of the TLS certificate the hub serves (so a relay that shows
    the station another certificate cannot pass the real hub's proof on)."""
    return f"qi-hub-proof/1\n{nonce}\n{tls_sha256 or '-'}".encode("ascii")


def reply_message(nonce: str, body: bytes) -> bytes:
    """What the hub signs for every reply to a station call: the call's nonce and the SHA-256 of the
    exact body bytes (the station verifies it with the pinned hub key before it reads anything). The
    digest, not the body: hashlib releases the GIL, so checking a page overlaps applying the last."""
    return b"qi-hub-reply/1\n" + nonce.encode("ascii") + b"\n" + hashlib.sha256(body).digest()


def redact(text: str, *secrets_: str | None) -> str:
    """``text`` with every secret (and anything shaped like an enrollment token) replaced by ``***``."""
    import re

    for s in secrets_:
        if s:
            text = text.replace(s, "***")
    return re.sub(r"qie1\.[^\s'\",]+", "qie1.***", text)


def is_loopback(host: str) -> bool:
    import ipaddress

    h = (host or "").strip("[]").lower()
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_hub_url(url: str, insecure_http: bool = False) -> str:
    """The hub URL, refused when it would send the token and the ledger in clear: ``http://`` is allowed
    only to this PC (loopback) unless ``insecure_http``."""
    from urllib.parse import urlsplit

    u = urlsplit((url or "").strip())
    if u.scheme not in ("http", "https") or not u.hostname:
        raise SyncError(400, "bad_url", f"hub URL must be https://HOST[:PORT] (got {url!r}) / 中心地址无效")
    if u.scheme == "http" and not insecure_http and not is_loopback(u.hostname):
        raise SyncError(
            400,
            "insecure_http",
            f"refusing plain http:// to {u.hostname}: the token, names and phone numbers would cross the "
            "network unencrypted and anyone on the path could read or change them. Serve the hub with "
            "`hub serve --certfile --keyfile` and use https://, or pass --insecure-http if this network "
            "is trusted / 明文 http 仅允许本机地址，请使用 https",
        )
    return url.strip().rstrip("/")
