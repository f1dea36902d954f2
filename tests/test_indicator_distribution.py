"""Issue 10 item 5: the province's indicator definitions are distributed by the hub like the calendar
(a reference document, checked at the hub before it is stored and again where it is used), and every
report — at the hub and, after a sync or a down bundle, at the station — is computed by them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import request_input

from qi_station.core.clock import env_now, local_date
from qi_station.core.months import month_of
from qi_station.reports.figures import monthly_report
from qi_station.reports.indicators import REFERENCE_KEY, REFERENCE_KIND, default_path, register_reference
from qi_station.services import ledger
from qi_station.sync.proto import SyncError
from qi_station.sync.station import bundles as B
from qi_station.sync.station import client as C

_ = (env, hub_url)


def province_definitions() -> str:
    """The shipped default under another title (what a province replacing it would do)."""
    text = default_path().read_text(encoding="utf-8")
    assert 'title = "质量基础设施一站式服务指标（默认）"' in text
    return text.replace(
        'title = "质量基础设施一站式服务指标（默认）"', 'title = "山东省质量基础设施服务指标 2027"'
    )


def test_the_hub_distributes_indicator_definitions(env: Any, tmp_path: Path) -> None:  # noqa: F811
    hub, tc, dbs = env
    db = dbs["ZB01"]
    ledger.create_request(db, request_input(1))
    month = month_of(local_date(env_now()))
    assert monthly_report(db, month)["indicator_set"]["distributed"] is False  # the shipped default
    register_reference()
    with pytest.raises(SyncError, match="indicators|指标"):  # a bad document is refused whole
        hub.put_references(
            [(REFERENCE_KIND, REFERENCE_KEY, "[[indicator]]\nid = 'x'\nformula = 'open(1)'\n")]
        )
    got = hub.put_references([(REFERENCE_KIND, REFERENCE_KEY, province_definitions())])
    assert got["added"] == [REFERENCE_KEY]
    hub_rep = monthly_report(hub.url, month, hub=True)
    assert hub_rep["indicator_set"]["title"] == "山东省质量基础设施服务指标 2027"
    assert hub_rep["indicators"] and hub_rep["indicator_set"]["distributed"]
    sync(db, tc)  # by HTTP
    rep = monthly_report(db, month)
    assert rep["indicator_set"] == {
        "title": "山东省质量基础设施服务指标 2027",
        "source": rep["indicator_set"]["source"],
        "distributed": True,
        "problem": None,
    }
    assert [i["id"] for i in rep["indicators"]] == [i["id"] for i in hub_rep["indicators"]]


def test_a_bundle_station_gets_the_definitions(env: Any, tmp_path: Path) -> None:  # noqa: F811
    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station

    hub, _tc, _dbs = env
    db = tmp_path / "IB01.db"
    init_station(open_db(db), code="IB01")
    C.enroll(db, hub.add_station("IB01", "指标站")["token"])  # bundles only
    register_reference()
    hub.put_references([(REFERENCE_KIND, REFERENCE_KEY, province_definitions())])
    down = hub.export_bundle("IB01", tmp_path, force=True)
    B.import_bundle(db, down["file"])
    rep = monthly_report(db, month_of(local_date(env_now())))
    assert rep["indicator_set"]["title"] == "山东省质量基础设施服务指标 2027"
