"""schemathesis against the hub's OpenAPI: no input makes it answer 5xx (a few examples per operation).

The hub lives in a pytest fixture (a fresh temporary directory, disposed afterwards). Every generated case
is sent twice: anonymously, and authenticated with the right protocol and schema versions (to reach the
apply code) — no coin toss decides which cases get past authentication, and generation is derandomized.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from qi_station.db.engine import SCHEMA_HEAD
from qi_station.sync.proto import PROTOCOL


@pytest.fixture(scope="module")
def hub_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    """The hub's ASGI app over a fresh hub with one library row and one enrolled station."""
    from qi_station.sync import keys
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub

    d: Path = tmp_path_factory.mktemp("sync_api")
    hub = Hub(f"sqlite:///{d / 'hub.db'}")
    try:
        hub.init(demo=False)
        hub.upsert_library([("expert", {"id": "x1", "name": "张三"})])
        enroll = hub.add_station("ZB01", "淄博")["token"]
        from qi_station.sync.proto import enroll_key_message

        priv, pub = keys.generate()
        proof = keys.sign(priv, enroll_key_message("ZB01", pub))
        token = hub.enroll(enroll, pub, key_proof=proof)["api_token"]
        auth = {
            "Authorization": f"Bearer {token}",
            "X-Sync-Protocol": str(PROTOCOL),
            "X-Sync-Schema": SCHEMA_HEAD,
        }
        yield create_app(hub.url), auth
    finally:
        hub.dispose()


@pytest.fixture(scope="module")
def hub_schema(hub_api: tuple[Any, dict[str, str]]) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", hub_api[0])


schema = schemathesis.pytest.from_fixture("hub_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, hub_api: tuple[Any, dict[str, str]]) -> None:
    _app, auth = hub_api
    anonymous = dict(case.headers or {})
    for headers in (anonymous, {**anonymous, **auth}):
        case.headers = headers
        response = case.call()
        assert response.status_code < 500, (
            case.operation.path,
            sorted(headers),
            response.status_code,
            response.text[:500],
        )
