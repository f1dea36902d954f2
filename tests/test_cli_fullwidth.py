"""An outside tester's finding: a Chinese input method types full-width Latin letters and digits
(``ＡＣＣＥＰＴ``, ``--city ３７０８００``); the CLI refused them. Every choice, action name and place code is
read through one core rule (``core.domain.typed``: NFKC, ``core.clock.halfwidth``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qi_station.services import ledger

USCC = "91350100M000100Y43"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    from qi_station.db.engine import open_db

    return open_db(tmp_path / "station.db")


def cli(*args: str) -> Any:
    from qi_station.cli.commands import app

    return CliRunner().invoke(app, list(args))


def test_full_width_move_names_and_city_codes_are_read_as_ascii(db: Path) -> None:
    from qi_station.core import domain, validate

    r = ledger.create_request(
        db,
        ledger.RequestInput(enterprise="济南示例机械有限公司", uscc=USCC, elements="metrology", title="校准"),
    )
    res = cli("--db", str(db), "request", "move", r["number"], "ＡＣＣＥＰＴ")
    assert res.exit_code == 0, res.output
    res = cli("--db", str(db), "request", "move", r["number"], "ｉｎ＿ｐｒｏｇｒｅｓｓ")
    assert res.exit_code == 0, res.output
    show = cli("--db", str(db), "--lang", "en", "request", "show", r["number"], "--json")
    assert '"status": "in_progress"' in show.output, show.output
    res = cli("--db", str(db), "library", "search", "institutions", "--city", "３７０８００")
    assert res.exit_code == 0, res.output
    bad = cli("--db", str(db), "library", "search", "institutions", "--city", "３７０８０１")
    assert bad.exit_code == 2 and "[gbt2260]" in bad.output, bad.output
    # the core's rule, one home
    assert (
        domain.move_target("ＡＣＣＥＰＴ") == "accepted"
        and domain.code_of("ＵＲＧＥＮＴ", domain.URGENCIES) == "urgent"
    )
    assert (
        validate.check_city("３７０８００") == "370800"
        and validate.check_region(" ３７０１０２ ") == "370102"
    )


def test_a_full_width_request_number_finds_its_request(db: Path) -> None:
    """``ＱＩ０００１－２０２６１１－００３０`` typed with a Chinese input method: ``request show/move``
    and the ledger's search (F3, Ctrl+F) find the request (``ids.number_key``: ``domain.typed``)."""
    from qi_station.core.clock import halfwidth
    from qi_station.screens.ledger import exact_number
    from qi_station.services.queries import list_requests

    r = ledger.create_request(
        db,
        ledger.RequestInput(enterprise="济南示例机械有限公司", uscc=USCC, elements="metrology", title="校准"),
    )
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in r["number"])
    assert wide != r["number"] and halfwidth(wide) == r["number"]
    show = cli("--db", str(db), "request", "show", f" {wide} ", "--json")
    assert show.exit_code == 0 and r["number"] in show.output, show.output
    res = cli("--db", str(db), "request", "move", wide, "accept")
    assert res.exit_code == 0, res.output
    assert [x["number"] for x in list_requests(db, text=wide)] == [r["number"]]
    assert [x["number"] for x in list_requests(db, text=wide[-9:])] == [r["number"]]
    f = {"text": wide, "status": "closed", "element": "", "month": "", "overdue": False}
    assert exact_number(db, f, lambda g: {k: v for k, v in g.items() if k in ("text", "status") and v}).get(
        "unfiltered"
    )
