"""An outside tester's finding: a province cancellation was undone silently by a station's offline move
(the hub recorded ``station_overrides_hub_status`` and nobody at the station knew). The station's move
stands (the hub cannot refuse it without stalling every change queued after it: docs/sync.md), but the
station is told: the sync says the province had cancelled it and the station's move overrode it, the
conflict is kept at the station, and ``request show`` says it."""

from __future__ import annotations

import json
from typing import Any

from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures shared with the hub tests
from test_sync_util import hub_requests, request_input
from typer.testing import CliRunner

from qi_station.services import ledger
from qi_station.services.queries import get_request


def test_a_province_cancellation_overridden_by_a_station_move_is_said_at_the_station(
    env: Any,  # noqa: F811
) -> None:
    from qi_station.cli.commands import app

    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    ledger.move_request(a, r["id"], "accepted")
    other = ledger.create_request(a, request_input(2, 1))
    ledger.move_request(a, other["id"], "accepted")
    sync(a, tc)
    hub.assign(r["id"], status="cancelled")  # the province cancels it
    hub.assign(other["id"], expert_id="e-1")  # a hub change that is no status move
    ledger.move_request(a, r["id"], "in_progress")  # offline, before the station sees the cancellation
    ledger.move_request(a, other["id"], "in_progress")
    res = sync(a, tc)
    assert hub_requests(hub)[r["id"]]["status"] == "in_progress"  # the station's move stands
    said = res["hub_status_overridden"]
    assert len(said) == 1 and r["number"] in said[0], said  # the other request: its own earlier status
    assert "cancelled" in said[0] and "已取消" in said[0] and "overrode" in said[0]
    assert "hub_status_overridden" not in sync(a, tc)  # said once
    d = get_request(a, r["number"])
    assert [(o["hub_status"], o["status"]) for o in d["hub_overrides"]] == [("cancelled", "in_progress")]
    assert "hub_overrides" not in get_request(a, other["number"])
    zh = CliRunner().invoke(app, ["--db", str(a), "request", "show", r["number"]])
    assert zh.exit_code == 0, zh.output
    assert "省级中心曾将其改为「已取消」" in zh.output and "→处理中" in zh.output, zh.output
    en = CliRunner().invoke(app, ["--db", str(a), "--lang", "en", "request", "show", r["number"]])
    assert "the province had set it to Cancelled" in en.output, en.output
    js = json.loads(
        CliRunner().invoke(app, ["--db", str(a), "request", "show", r["number"], "--json"]).output
    )
    assert js["hub_overrides"][0]["hub_status"] == "cancelled"


def test_the_detail_screen_line_reads_in_both_languages() -> None:
    from qi_station.i18n import set_lang, status_name, t

    set_lang("en")
    try:
        en = t("detail.hub_override", hub=status_name("cancelled"), own=status_name("in_progress"))
    finally:
        set_lang("zh")
    zh = t("detail.hub_override", hub=status_name("cancelled"), own=status_name("in_progress"))
    assert "省级中心曾将其改为「已取消」" in zh and "→处理中" in zh
    assert "The province had set it to Cancelled" in en


def test_the_hub_event_of_an_overridden_cancellation_says_the_province_cancelled_it(
    env: Any,  # noqa: F811
) -> None:
    """An outside attacker's finding: after a station's offline move overrode a province cancellation,
    the ``hub`` event recording the cancellation read ``处理中->处理中 省级取消`` at the station and at
    the hub (the hub row, pulled after the push, already held the station's status). Its data now says
    the province's status and that the station's move overrode it; both chains still verify."""
    import sqlalchemy as sa

    from qi_station.cli.commands import app
    from qi_station.services.verify import verify_ledger

    hub, tc, dbs = env
    a = dbs["ZB01"]
    r = ledger.create_request(a, request_input(1, 1))
    ledger.move_request(a, r["id"], "accepted")
    sync(a, tc)
    hub.assign(r["id"], status="cancelled", note="省级取消")
    ledger.move_request(a, r["id"], "in_progress")  # offline
    sync(a, tc)
    sync(a, tc)  # the hub event, written at the pull, goes up
    hub.assign(r["id"], expert_id="e-1")  # a later hub change: no override to say again
    sync(a, tc)
    sync(a, tc)

    def hub_events(rows: Any) -> list[tuple[Any, Any, Any, dict[str, Any]]]:
        return [(f, t, n, json.loads(d) if isinstance(d, str) else d) for f, t, n, d in rows]

    import sqlite3

    with sqlite3.connect(a) as conn:
        here = hub_events(
            conn.execute(
                "SELECT from_status, to_status, note, data FROM request_event WHERE request_id = ? "
                "AND kind = 'hub' ORDER BY n",
                (r["id"],),
            ).fetchall()
        )
    assert len(here) == 2, here
    first, later = here
    assert (first[0], first[1], first[2]) == ("in_progress", "in_progress", "省级取消")
    assert (first[3]["hub_status"], first[3]["adopted"]) == ("cancelled", False)
    assert "hub_status" not in later[3]  # said once
    with hub.engine.connect() as c:
        there = hub_events(
            c.execute(
                sa.text(
                    "SELECT from_status, to_status, note, data FROM request_event WHERE request_id = :r "
                    "AND kind = 'hub' ORDER BY n"
                ),
                {"r": r["id"]},
            ).all()
        )
    assert there == here  # the same chain at the hub
    assert verify_ledger(a)["ok"]
    assert hub.verify("ZB01")["ok"]
    zh = CliRunner().invoke(app, ["--db", str(a), "request", "show", r["number"]])
    line = next(x for x in zh.output.splitlines() if "省级取消" in x)
    assert "省级中心将其改为「已取消」，已被本站的变更覆盖" in line, zh.output
    en = CliRunner().invoke(app, ["--db", str(a), "--lang", "en", "request", "show", r["number"]])
    assert "the province set it to Cancelled; this station's move overrode it" in en.output, en.output
