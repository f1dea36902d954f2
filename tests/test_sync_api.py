"""schemathesis against the hub's OpenAPI: no input makes it answer 5xx (a few examples per operation)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from qi_station.db.engine import SCHEMA_HEAD  # noqa: E402
from qi_station.sync.hub.server import create_app  # noqa: E402
from qi_station.sync.hub.store import Hub  # noqa: E402
from qi_station.sync.proto import PROTOCOL  # noqa: E402

_dir = Path(tempfile.mkdtemp(prefix="qi_sync_api_"))
_hub = Hub(f"sqlite:///{_dir / 'hub.db'}")
_hub.init(demo=False)
_hub.upsert_library([("expert", {"id": "x1", "name": "张三"})])
_enroll = _hub.add_station("ZB01", "淄博")["token"]
from qi_station.sync import keys  # noqa: E402

_token = _hub.enroll(_enroll, keys.generate()[1])["api_token"]
APP = create_app(_hub.url)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any) -> None:
    # half the cases are authenticated with the right versions, to reach the apply code
    if case.operation.path != "/sync/v1/info" and hash(repr(case.body)) % 2 == 0:
        case.headers = {
            **(case.headers or {}),
            "Authorization": f"Bearer {_token}",
            "X-Sync-Protocol": str(PROTOCOL),
            "X-Sync-Schema": SCHEMA_HEAD,
        }
    response = case.call()
    assert response.status_code < 500, (case.operation.path, response.status_code, response.text[:500])
