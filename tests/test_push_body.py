"""The push reads its body bytes itself (``server.push_body``: parse and validate in one pass): the same
model as FastAPI's own check, the same 422 shape, and the OpenAPI document still names the body."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_push_body_is_the_model_fastapi_built() -> None:
    from qi_station.sync.hub.server import PushBody, push_body

    body = {
        "batch": [
            {"oseq": 1, "table": "request", "op": "upsert", "row": {"id": "r1", "n": [1, "二"]}, "hlc": "h"}
        ],
        "station_now_ms": 5,
        "device": "dev-00000001",
    }
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    assert push_body(raw) == PushBody.model_validate(json.loads(raw))


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        (b"{not json", ["body"]),
        (b'{"batch": [{"oseq": 0, "table": "request", "row": {}}]}', ["body", "batch", 0, "oseq"]),
        (b'{"batch": "x"}', ["body", "batch"]),
    ],
)
def test_push_body_refusal_names_the_field(raw: bytes, loc: list[object]) -> None:
    from fastapi.exceptions import RequestValidationError

    from qi_station.sync.hub.server import push_body

    with pytest.raises(RequestValidationError) as e:
        push_body(raw)
    err = e.value.errors()[0]
    assert list(err["loc"])[: len(loc)] == loc and err["msg"] and "input" not in err


def test_openapi_still_documents_the_push_body(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub

    hub = Hub(f"sqlite:///{tmp_path / 'hub.db'}")
    hub.init(demo=False)
    try:
        doc = TestClient(create_app(hub.url)).get("/openapi.json").json()
    finally:
        hub.dispose()
    body = doc["paths"]["/sync/v1/push"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PushBody"}
    schemas = doc["components"]["schemas"]
    assert {"PushBody", "Change", "SignedHead", "Profile"} <= set(schemas)
    assert schemas["PushBody"]["properties"]["batch"]["items"] == {"$ref": "#/components/schemas/Change"}
