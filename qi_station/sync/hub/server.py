"""The hub service: FastAPI app factory. Imported only by ``hub serve`` (and tests), never at CLI start-up.

Run several workers with ``uvicorn qi_station.sync.hub.server:app_from_env --factory`` and the database URL in
``QI_HUB_DATABASE_URL`` (that is what ``qi-station hub serve --workers N`` does).
"""

import os
from typing import Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from qi_station.sync.hub.store import Hub
from qi_station.sync.proto import MAX_PULL_PAGE, PROTOCOL, PULL_PAGE, SyncError, check_versions

BIG = 2**62


class Change(BaseModel):
    oseq: int = Field(ge=1, le=BIG)
    table: str = Field(max_length=40)
    op: str = Field(default="upsert", max_length=10)
    row: dict[str, Any]
    hlc: str = Field(default="", max_length=200)


class SignedHead(BaseModel):
    """The station's running head over its first ``n`` events, signed by its key."""

    n: int = Field(ge=0, le=BIG)
    head: str = Field(min_length=64, max_length=64)
    sig: str = Field(max_length=200)


class PushBody(BaseModel):
    batch: list[Change] = Field(max_length=5000)
    station_now_ms: int | None = Field(default=None, ge=-BIG, le=BIG)
    head: SignedHead | None = None


class PushReply(BaseModel):
    acked_oseq: int
    applied: int
    results: list[dict[str, Any]]
    warning: str | None = None
    clock_skew_ms: int | None = None


class EnrollBody(BaseModel):
    token: str = Field(max_length=400)
    pubkey: str = Field(max_length=200)


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


def create_app(database_url: str | None = None) -> FastAPI:
    hub = Hub(database_url)
    app = FastAPI(
        title="qi-station hub",
        version=f"protocol {PROTOCOL}",
        description="Station <-> hub sync for the Shandong QI one-stop service (see docs/sync.md).",
    )
    app.state.hub = hub

    @app.exception_handler(SyncError)
    def _sync_error(_req: Request, e: SyncError) -> JSONResponse:
        return JSONResponse(status_code=e.status, content=e.to_dict())

    def versions(
        x_sync_protocol: str | None = Header(default=None, max_length=20),
        x_sync_schema: str | None = Header(default=None, max_length=20),
    ) -> tuple[str | None, str | None]:
        if x_sync_protocol is None or x_sync_schema is None:
            raise SyncError(426, "upgrade_required", "X-Sync-Protocol and X-Sync-Schema headers are required")
        check_versions(x_sync_protocol, x_sync_schema)
        return x_sync_protocol, x_sync_schema

    def station(authorization: str | None = Header(default=None, max_length=500)) -> dict[str, Any]:
        token = None
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        return hub.station_by_token(token)

    @app.get("/sync/v1/info", response_model=InfoReply, responses=ERRORS)
    def info() -> Any:
        return hub.require().info()

    @app.post("/sync/v1/enroll", response_model=EnrollReply, responses=ERRORS)
    def enroll(body: EnrollBody, v: tuple[str | None, str | None] = Depends(versions)) -> Any:
        return hub.enroll(body.token, body.pubkey)

    @app.post("/sync/v1/push", response_model=PushReply, responses=ERRORS)
    def push(
        body: PushBody,
        v: tuple[str | None, str | None] = Depends(versions),
        st: dict[str, Any] = Depends(station),
    ) -> Any:
        batch = [c.model_dump() for c in body.batch]
        head = body.head.model_dump() if body.head is not None else None
        return hub.push(st, batch, protocol=v[0], schema=v[1], station_now_ms=body.station_now_ms, head=head)

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
    ) -> Response:
        body = hub.pull_json(
            st, since, limit, protocol=v[0], schema=v[1], station_now_ms=station_now_ms, resync=resync
        )
        return Response(content=body, media_type="application/json")

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
    ) -> Any:
        """The station's own rows, to rebuild a lost station database after re-enrollment."""
        return hub.restore(st, table, after, limit)

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
    """Factory for ``uvicorn --factory`` with several workers (the URL comes from QI_HUB_DATABASE_URL)."""
    return create_app(os.environ.get("QI_HUB_DATABASE_URL"))


def serve(database_url: str | None, host: str = "127.0.0.1", port: int = 8787, workers: int = 1) -> None:
    import uvicorn

    hub = Hub(database_url).require()
    hub.purge_tombstones()  # tombstones older than TOMBSTONE_DAYS (QI_HUB_TOMBSTONE_DAYS)
    os.environ["QI_HUB_DATABASE_URL"] = hub.url
    if workers > 1:
        uvicorn.run(
            "qi_station.sync.hub.server:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
    else:
        uvicorn.run(create_app(hub.url), host=host, port=port, log_level="warning")
