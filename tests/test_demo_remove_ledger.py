"""Outside testers, round N item 2: `demo remove` after a sync left `ledger verify` NOT INTACT (the
head the hub acknowledged counts the demo events). Removal is refused once the head was sent (nothing
written); before that it is allowed and the running head is sealed again, so the ledger stays intact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sync_heal import demo_ids, demo_station, real_work
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import request_input, rows

from qi_station.core.errors import ValidationError
from qi_station.devtools.demo import remove_demo
from qi_station.services import ledger
from qi_station.services.verify import verify_ledger

_ = (env, hub_url)


@pytest.mark.parametrize("hub_url", ["sqlite"], indirect=True)
def test_demo_remove_refused_after_a_sync(env: Any, tmp_path: Path, hub_url: str) -> None:  # noqa: F811
    from test_sync_util import enroll_station

    hub, tc, _dbs = env
    db = tmp_path / "DM05.db"
    demo_station(db, "DM05")
    enroll_station(db, hub, tc, "DM05")
    real_work(db)
    assert sync(db, tc)["pending"] == 0
    before = rows(db, "SELECT count(*) FROM request_event")[0][0], demo_ids(db)
    with pytest.raises(ValidationError) as e:
        remove_demo(db)
    assert e.value.field == "demo" and e.value.rule == "head_sent"
    assert (rows(db, "SELECT count(*) FROM request_event")[0][0], demo_ids(db)) == before  # nothing written
    assert verify_ledger(db)["ok"]
    ledger.create_request(db, request_input(9, ent=9))
    assert sync(db, tc)["pending"] == 0
    assert verify_ledger(db)["ok"]


def test_demo_remove_before_any_sync_keeps_the_ledger_intact(tmp_path: Path) -> None:
    db = tmp_path / "DM06.db"
    demo_station(db, "DM06")
    real_work(db)
    got = remove_demo(db)
    assert got["request"] == 40
    res = verify_ledger(db)
    assert res["ok"], (res["problems"], res["ledger"])
    ledger.create_request(db, request_input(9, ent=9))
    assert verify_ledger(db)["ok"]
