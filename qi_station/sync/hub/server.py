"""The hub service: FastAPI app factory. Imported only by ``hub serve`` (and tests), never at CLI start-up.

Run several workers with ``uvicorn qi_station.sync.hub.server:app_from_env --factory`` and the database URL in
``QI_HUB_DATABASE_URL`` (that is what ``qi-station hub serve --workers N`` does).
"""

import os
from typing import Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from qi_station.sync.hub.base import busy
from qi_station.sync.hub.guard import Guard, error_headers, note, setup_access_log
from qi_station.sync.hub.store import Hub
from qi_station.sync.proto import (
    HEADS_EARLIER,
    HUB_PROOF_PATH,
    MAX_PULL_PAGE,
    NONCE_HEADER,
    PROTOCOL,
    PULL_PAGE,
    SIGNATURE_HEADER,
    SyncError,
    check_versions,
    reply_message,
)

BIG = 2**62


class Change(BaseModel):
    oseq: int = Field(ge=1, le=BIG)
    table: str = Field(max_length=40)
    op: str = Field(default="upsert", max_length=10)
    row: dict[str, Any]
    hlc: str = Field(default="", max_length=200)


class EarlierHead(BaseModel):
    """A running head the station sent before (the push body is signed by its key)."""

    n: int = Field(ge=0, le=BIG)
    head: str = Field(min_length=64, max_length=64)


class SignedHead(BaseModel):
    """The station's running head over its first ``n`` events, signed by its key; ``earlier``: the heads
    it sent before (``ledger.LedgerJobs.accept_head`` keeps them: a late bundle is checked against them)."""

    n: int = Field(ge=0, le=BIG)
    head: str = Field(min_length=64, max_length=64)
    sig: str = Field(max_length=200)
    earlier: list[EarlierHead] = Field(default_factory=list, max_length=HEADS_EARLIER)


class Profile(BaseModel):
    """The station's profile (checked by the core's rules at the hub: ``keep_profile``)."""

    region_code: str | None = Field(default=None, max_length=20)
    park: str | None = Field(default=None, max_length=400)
    station_type: str | None = Field(default=None, max_length=100)
    service_mode: str | None = Field(default=None, max_length=100)


class PushBody(BaseModel):
    batch: list[Change] = Field(max_length=5000)
    station_now_ms: int | None = Field(default=None, ge=-BIG, le=BIG)
    head: SignedHead | None = None
    profile: Profile | None = None
    # this install (PC + database file) of the station: two pushing under one identity are refused
    device: str | None = Field(default=None, min_length=8, max_length=64, pattern=r"^[0-9A-Za-z-]+$")
    # the station was restored from a backup (and not yet caught up): a held oseq re-sent with other
    # content is station_behind (it heals), not device_conflict
    restored: bool = False


#: the push's request body in the OpenAPI document (the endpoint reads the bytes itself: ``push_body``)
PUSH_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PushBody"}}},
    }
}


def push_body(raw: bytes) -> PushBody:
    """A push's body bytes parsed and validated in one pass (pydantic's ``model_validate_json``, about
    half the CPU of ``json.loads`` and then validating the objects); a body that is not a valid
    ``PushBody`` answers 422 as FastAPI's own body check did (``loc`` under ``body``, no input echoed)."""
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    try:
        return PushBody.model_validate_json(raw)
    except ValidationError as e:
        raise RequestValidationError(
            [
                {"loc": ("body", *x.get("loc", ())), "msg": x.get("msg"), "type": x.get("type")}
                for x in e.errors(include_input=False, include_url=False)
            ]
        ) from None


class PushReply(BaseModel):
    acked_oseq: int
    applied: int
    results: list[dict[str, Any]]
    warning: str | None = None
    clock_skew_ms: int | None = None
    #: the changes taken although stamped ahead of the hub's clock (the station's clock is right now:
    #: ``rules.clock_ok``), each flagged as a ``sync_conflict`` kind ``clock_ahead``: oseq, table, id, fields
    clock_ahead: list[dict[str, Any]] | None = None
    #: requests whose pushed status overrode one the hub had set (the station had not seen it: the hub
    #: recorded ``station_overrides_hub_status``): oseq, id, hub_status, status
    overrode: list[dict[str, Any]] | None = None


class EnrollBody(BaseModel):
    token: str = Field(max_length=400)
    pubkey: str = Field(max_length=200)
    # the station's signature with that key over proto.enroll_key_message: it holds the key
    key_proof: str | None = Field(default=None, max_length=200)
    profile: Profile | None = None


class ProveBody(BaseModel):
    nonce: str = Field(min_length=16, max_length=200)


class ProveReply(BaseModel):
    hub_pubkey: str
    tls_sha256: str | None
    signature: str


class EnrollReply(BaseModel):
    station_id: str
    station_code: str
    station_name: str
    api_token: str
    hub_id: str
    hub_pubkey: str
    protocol: int
    schema_: str = Field(alias="schema")
    acked_oseq: int = 0
    own_requests: int = 0
    profile: dict[str, str | None] | None = None


class InfoReply(BaseModel):
    hub_id: str | None
    hub_pubkey: str
    hub_fingerprint: str | None
    protocol: int
    schema_: str = Field(alias="schema")


class ErrorReply(BaseModel):
    error: str
    message: str


PULL_SCHEMA = {
    "type": "object",
    "properties": {
        "since": {"type": "integer"},
        "next": {"type": "integer"},
        "more": {"type": "boolean"},
        "head": {"type": "integer"},
        "acked_oseq": {"type": "integer"},
        "hub_now": {"type": "string"},
        "protocol": {"type": "integer"},
        "horizon": {"type": "integer"},
        "schema": {"type": "string"},
        "tables": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "cols": {"type": "array", "items": {"type": "string"}},
                    "rows": {"type": "array", "items": {"type": "array"}},
                },
            },
        },
    },
    "required": ["since", "next", "more", "tables"],
}
ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorReply} for s in (400, 401, 403, 404, 409, 410, 422, 426, 503)
}


def cert_sha256(certfile: str | os.PathLike[str] | None) -> str | None:
    """SHA-256 (hex) of the DER of the first certificate in a PEM file: what a station pins."""
    if not certfile:
        return None
    import hashlib
    import ssl
    from pathlib import Path

    pem = Path(certfile).read_text(encoding="utf-8")
    start = pem.index("-----BEGIN CERTIFICATE-----")
    end = pem.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem[start:end])).hexdigest()


def create_app(database_url: str | None = None, *, certfile: str | None = None) -> FastAPI:
    """``certfile``: the TLS certificate this hub serves (its SHA-256 goes into the enrollment proof)."""
    from fastapi.exceptions import RequestValidationError
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    hub = Hub(database_url)
    tls_sha256 = cert_sha256(certfile)
    signer: dict[str, Any] = {}
    app = FastAPI(
        title="qi-station hub",
        version=f"protocol {PROTOCOL}",
        description="Station <-> hub sync for the Shandong QI one-stop service (see docs/sync.md).",
    )
    app.state.hub = hub
    # limits, the token first, the station's signature and a fresh nonce, the access log
    app.add_middleware(Guard, station_by_token=hub.station_by_token, use_nonce=hub.use_nonce)

    @app.exception_handler(SyncError)
    def _sync_error(_req: Request, e: SyncError) -> JSONResponse:
        return JSONResponse(status_code=e.status, content=e.to_dict(), headers=error_headers(e))

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)  # every pooled connection in use: busy, like a locked database
    def _busy(_req: Request, e: Exception) -> JSONResponse:
        # a read that met a busy database (the write path maps its own): 503, retried by stations
        return _sync_error(_req, busy(e))

    @app.exception_handler(RequestValidationError)
    def _invalid(_req: Request, e: RequestValidationError) -> JSONResponse:
        # never echo the input back: it may hold a token
        detail = [
            {"loc": list(x.get("loc", ())), "msg": x.get("msg"), "type": x.get("type")} for x in e.errors()
        ]
        return JSONResponse(
            status_code=422, content={"error": "invalid", "message": "invalid request", "detail": detail}
        )

    openapi = app.openapi

    def with_push_body() -> dict[str, Any]:
        """The OpenAPI document with ``PushBody`` in its components: the push reads its body itself
        (``push_body``), so FastAPI does not list the model on its own."""
        doc = openapi()
        comps = doc.setdefault("components", {}).setdefault("schemas", {})
        if "PushBody" not in comps:
            js = PushBody.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in js.pop("$defs", {}).items():
                comps.setdefault(name, sub)
            comps["PushBody"] = js
        return doc

    app.openapi = with_push_body  # type: ignore[method-assign]

    def signed(content: Any, nonce: str | None) -> Response:
        """The reply as JSON bytes, signed over the caller's nonce with the hub key (stations verify it
        with the key they pinned at enrollment before they use anything in it)."""
        import json

        from qi_station.sync import keys

        body = (
            content if isinstance(content, bytes) else json.dumps(content, ensure_ascii=False).encode("utf-8")
        )
        headers = {}
        if nonce:
            if "key" not in signer:
                signer["key"] = hub.meta()["hub_privkey"]
            headers[SIGNATURE_HEADER] = keys.sign(signer["key"], reply_message(nonce, body))
        return Response(content=body, media_type="application/json", headers=headers)

    # the dependencies are ``async def`` (no I/O of their own): FastAPI runs a plain ``def`` one in a
    # worker thread, a hop each per call
    async def call_nonce(
        x_sync_nonce: str | None = Header(default=None, alias=NONCE_HEADER, max_length=200),
    ) -> str | None:
        if x_sync_nonce is not None and not x_sync_nonce.isascii():
            raise SyncError(400, "bad_nonce", "X-Sync-Nonce must be ASCII")
        return x_sync_nonce

    async def versions(
        x_sync_protocol: str | None = Header(default=None, max_length=20),
        x_sync_schema: str | None = Header(default=None, max_length=20),
    ) -> tuple[str | None, str | None]:
        if x_sync_protocol is None or x_sync_schema is None:
            raise SyncError(426, "upgrade_required", "X-Sync-Protocol and X-Sync-Schema headers are required")
        check_versions(x_sync_protocol, x_sync_schema)
        return x_sync_protocol, x_sync_schema

    async def station(
        request: Request, authorization: str | None = Header(default=None, max_length=500)
    ) -> dict[str, Any]:
        st = getattr(request.state, "qi_station", None)  # checked by the Guard before the body was read
        if st is not None:
            return st  # type: ignore[no-any-return]
        token = None
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(hub.station_by_token, token)

    @app.get("/sync/v1/info", response_model=InfoReply, responses=ERRORS)
    def info() -> Any:
        return hub.require().info()

    @app.post(HUB_PROOF_PATH, response_model=ProveReply, responses=ERRORS)
    def prove(body: ProveBody) -> Any:
        """The hub signs the station's nonce (and its TLS certificate's SHA-256) with the hub key: a
        station checks this against the key fingerprint in its token before it sends the token."""
        return hub.require().prove(body.nonce, tls_sha256)

    @app.post("/sync/v1/enroll", response_model=EnrollReply, responses=ERRORS)
    def enroll(
        request: Request,
        body: EnrollBody,
        v: tuple[str | None, str | None] = Depends(versions),
        nonce: str | None = Depends(call_nonce),
    ) -> Any:
        profile = body.profile.model_dump(exclude_unset=True) if body.profile is not None else None
        out = hub.enroll(body.token, body.pubkey, profile, key_proof=body.key_proof)
        note(request.scope, station=out.get("station_code"))
        return signed(out, nonce)

    async def raw_body(request: Request) -> bytes:
        return await request.body()  # the Guard has read it already (bounded): its bytes, no copy

    @app.post("/sync/v1/push", response_model=PushReply, responses=ERRORS, openapi_extra=PUSH_OPENAPI)
    def push(
        request: Request,
        raw: bytes = Depends(raw_body),
        v: tuple[str | None, str | None] = Depends(versions),
        st: dict[str, Any] = Depends(station),
        nonce: str | None = Depends(call_nonce),
    ) -> Any:
        body = push_body(raw)  # parsed and validated in one pass, in this worker thread
        batch = [  # what model_dump() gives, without its per-model copy
            {"oseq": c.oseq, "table": c.table, "op": c.op, "row": c.row, "hlc": c.hlc} for c in body.batch
        ]
        head = body.head.model_dump() if body.head is not None else None
        note(request.scope, changes=len(batch))
        profile = body.profile.model_dump(exclude_unset=True) if body.profile is not None else None
        out = hub.push(
            st,
            batch,
            protocol=v[0],
            schema=v[1],
            station_now_ms=body.station_now_ms,
            head=head,
            profile=profile,
            device=body.device,
            restored=body.restored,
        )
        note(request.scope, applied=out.get("applied"), acked_oseq=out.get("acked_oseq"))
        reply = {k: out.get(k) for k in PushReply.model_fields}  # the PushReply document, as it was
        return signed(reply, nonce)

    @app.get(
        "/sync/v1/pull", responses={200: {"content": {"application/json": {"schema": PULL_SCHEMA}}}, **ERRORS}
    )
    def pull(
        since: int = Query(default=0, ge=0, le=BIG),
        limit: int = Query(default=PULL_PAGE, ge=1, le=MAX_PULL_PAGE),
        station_now_ms: int | None = Query(default=None, ge=-BIG, le=BIG),
        resync: bool = Query(
            default=False, description="a snapshot pass (started at since=0): no horizon check"
        ),
        v: tuple[str | None, str | None] = Depends(versions),
        st: dict[str, Any] = Depends(station),
        nonce: str | None = Depends(call_nonce),
    ) -> Response:
        body = hub.pull_json(
            st, since, limit, protocol=v[0], schema=v[1], station_now_ms=station_now_ms, resync=resync
        )
        return signed(body, nonce)

    @app.get(
        "/sync/v1/restore",
        responses={200: {"content": {"application/json": {"schema": RESTORE_SCHEMA}}}, **ERRORS},
    )
    def restore(
        table: str = Query(..., max_length=40),
        after: str = Query(default="", max_length=100),
        limit: int = Query(default=PULL_PAGE, ge=1, le=MAX_PULL_PAGE),
        v: tuple[str | None, str | None] = Depends(versions),
        st: dict[str, Any] = Depends(station),
        nonce: str | None = Depends(call_nonce),
    ) -> Any:
        """The station's own rows, to rebuild a lost station database after re-enrollment."""
        return signed(hub.restore(st, table, after, limit), nonce)

    return app


RESTORE_SCHEMA = {
    "type": "object",
    "properties": {
        "table": {"type": "string"},
        "cols": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": {"type": "array"}},
        "more": {"type": "boolean"},
        "last": {"type": "string"},
        "acked_oseq": {"type": "integer"},
    },
    "required": ["table", "cols", "rows", "more", "last"],
}


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` with several workers (the URL comes from QI_HUB_DATABASE_URL,
    the served certificate from QI_HUB_CERTFILE, the access log file from QI_HUB_ACCESS_LOG)."""
    setup_access_log(os.environ.get("QI_HUB_ACCESS_LOG"))
    return create_app(os.environ.get("QI_HUB_DATABASE_URL"), certfile=os.environ.get("QI_HUB_CERTFILE"))


WORKER_HEALTHCHECK_S = 120  # seconds a worker may take to answer uvicorn's liveness ping (issue 13 goal 6)


def serve(
    database_url: str | None,
    host: str = "127.0.0.1",
    port: int = 8787,
    workers: int = 1,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
    access_log: str | None = None,
) -> None:
    """Serve the sync API; HTTPS with ``certfile`` and ``keyfile`` (PEM). The access log (one JSON line
    per call) goes to ``access_log`` or stderr."""
    import uvicorn

    if bool(certfile) != bool(keyfile):
        raise SyncError(400, "bad_tls", "--certfile and --keyfile go together")
    hub = Hub(database_url).require()
    hub.purge_tombstones()  # tombstones older than TOMBSTONE_DAYS (QI_HUB_TOMBSTONE_DAYS)
    os.environ["QI_HUB_DATABASE_URL"] = hub.url
    if access_log:
        os.environ["QI_HUB_ACCESS_LOG"] = str(access_log)
    setup_access_log(access_log)
    tls: dict[str, Any] = {}
    if certfile:
        cert_sha256(certfile)  # a readable PEM certificate, or a clear error now
        os.environ["QI_HUB_CERTFILE"] = str(certfile)
        tls = {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}
    if workers > 1:
        import inspect

        if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
            # uvicorn kills a worker that does not answer its ping in 5 s: on a busy or loaded machine
            # (a morning rush) that killed workers mid-push, their pushes retried, their replacements
            # starved in turn. A hung worker is still replaced, after WORKER_HEALTHCHECK_S.
            tls["timeout_worker_healthcheck"] = WORKER_HEALTHCHECK_S
        uvicorn.run(
            "qi_station.sync.hub.server:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            **tls,
        )
    else:
        uvicorn.run(create_app(hub.url, certfile=certfile), host=host, port=port, log_level="warning", **tls)
