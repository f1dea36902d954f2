"""A cancellation (取消) needs its reason: ``core.validate.check_cancel_reason``, called by
``services.ledger.move_request`` (the CLI's ``request move … cancelled``, the TUI's move dialog and
``api.move_request``). A refusal names the field (``note``) and the rule and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_fee_correction import _events
from test_sync_util import request_input
from typer.testing import CliRunner

from qi_station.core import validate as v
from qi_station.core.errors import ValidationError
from qi_station.services import ledger, queries


def test_the_core_rule() -> None:
    v.check_cancel_reason("cancelled", "企业撤回")
    v.check_cancel_reason("on_hold", None)  # only a cancellation needs one
    with pytest.raises(ValidationError) as e:
        v.check_cancel_reason("cancelled", None)
    assert (e.value.field, e.value.rule) == ("note", "required") and "取消" in e.value.message


def test_a_cancellation_without_a_reason_is_refused_and_writes_nothing(db: Path) -> None:
    r = ledger.create_request(db, request_input(1, 1))
    before = _events(db)
    for note in (None, "", "   "):
        with pytest.raises(ValidationError) as e:
            ledger.move_request(db, r["id"], "cancelled", note=note)
        assert (e.value.field, e.value.rule) == ("note", "required"), note
    assert _events(db) == before
    ledger.move_request(db, r["id"], "cancelled", note="企业撤回")
    d = queries.get_request(db, r["id"])
    assert d["status"] == "cancelled" and d["events"][-1]["note"] == "企业撤回"


def test_cli_cancel_needs_a_note(db: Path) -> None:
    from qi_station.cli.commands import app

    r = ledger.create_request(db, request_input(1, 1))
    before = _events(db)
    out = CliRunner().invoke(app, ["--db", str(db), "request", "move", r["number"], "cancelled"])
    assert out.exit_code == 2 and "note" in out.output and "required" in out.output, out.output
    assert _events(db) == before
    out = CliRunner().invoke(
        app, ["--db", str(db), "request", "move", r["number"], "cancelled", "--note", "企业撤回"]
    )
    assert out.exit_code == 0, out.output
