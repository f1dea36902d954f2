"""Outside attacker, today, items 2 and 3: a hub status move follows the station's rules. A close from
the hub records no satisfaction rating: refused by the station's rule (``core.validate.check_outcome``,
``satisfaction [required]``), nothing written. A reopen from the hub (resolved -> in_progress) clears
the resolution as the station's reopen does (``core.domain.move_clears``): resolved_at and the fee go,
at the hub and at the station, and both ledgers verify."""

from __future__ import annotations

from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import hub_requests, request_input, station_requests

from qi_station.core.errors import ValidationError, ValidationErrors
from qi_station.services import ledger
from qi_station.services.queries import get_request
from qi_station.services.verify import verify_ledger

_ = (env, hub_url)


def resolved(db: Any) -> dict[str, Any]:
    r = ledger.create_request(db, request_input(1))
    for to in ("accepted", "in_progress"):
        ledger.move_request(db, r["id"], to)
    ledger.move_request(db, r["id"], "resolved", result="已解决", problems_solved=1, fee="100")
    return r


def test_hub_close_without_satisfaction_is_refused(env: Any) -> None:  # noqa: F811
    hub, tc, dbs = env
    db = dbs["ZB01"]
    r = resolved(db)
    sync(db, tc)
    before = hub_requests(hub)[r["id"]]
    with pytest.raises((ValidationError, ValidationErrors)) as ei:
        hub.assign(r["id"], status="closed", note="省局回访")
    errs = ei.value.errors if isinstance(ei.value, ValidationErrors) else [ei.value]
    assert [(e.field, e.rule) for e in errs] == [("satisfaction", "required")]
    assert hub_requests(hub)[r["id"]] == before  # nothing written, not the note either


def test_hub_reopen_clears_the_resolution(env: Any) -> None:  # noqa: F811
    hub, tc, dbs = env
    db = dbs["ZB01"]
    r = resolved(db)
    sync(db, tc)
    assert get_request(db, r["id"])["fee_yuan"]
    hub.assign(r["id"], status="in_progress")
    assert hub_requests(hub)[r["id"]]["resolved_at"] is None
    assert hub.verify("ZB01")["ok"]  # the hub's row ahead of its events until the station echoes it
    sync(db, tc)
    mine = station_requests(db)[r["id"]]
    assert (mine["status"], mine["resolved_at"]) == ("in_progress", None)
    shown = get_request(db, r["id"])
    assert not shown["fee_yuan"]  # no fee while the request stands reopened (as the station's reopen)
    assert verify_ledger(db)["ok"]
    out = hub.verify("ZB01")
    assert out["ok"], out
    # resolving again records its own fee
    ledger.move_request(db, r["id"], "resolved", result="再次解决", problems_solved=1, fee="20")
    assert get_request(db, r["id"])["fee_yuan"] in ("20.00", "20")
