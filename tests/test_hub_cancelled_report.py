"""Outside testers, round N item 3: a request cancelled at the hub (`hub assign --status cancelled`)
was missing from the monthly figures: only `created` / `status` events were folded, not the `hub`
event that records the hub's move. One definition for the rollup and the reference from the events."""

from __future__ import annotations

from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import request_input

from qi_station.core.clock import env_now, local
from qi_station.reports.queries import collect, report_connection
from qi_station.services import ledger

_ = (env, hub_url)


@pytest.mark.parametrize("hub_url", ["sqlite"], indirect=True)
def test_hub_cancel_counts_in_the_monthly_figures(env: Any, hub_url: str) -> None:  # noqa: F811
    from qi_station.db.session import dispose_all

    hub, tc, dbs = env
    db = dbs["ZB01"]
    r = ledger.create_request(db, request_input(1))
    ledger.create_request(db, request_input(2))
    sync(db, tc)
    hub.assign(r["id"], status="cancelled")
    sync(db, tc)  # the station takes the hub's move (a `hub` event) and pushes the event back
    month = f"{local(env_now()):%Y-%m}"
    for url in (hub_url, f"sqlite:///{db}"):
        for exact in (False, True):
            with report_connection(url) as conn:
                a = collect(conn, month, "ZB01", exact=exact).accs["ZB01"]
            assert a.series["cancelled"][-1] == 1, (url, exact)
            assert a.open_at(len(a.series["open_delta"]) - 1) == 1, (url, exact)  # one still open
    dispose_all()
