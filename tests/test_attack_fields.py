"""Outside attacker, today, item 4 (and 5-8 below): cli.md's rule, every bad field of one command at
once, each `error: FIELD: … [rule]`, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_sync_hub import env, hub_url, sync  # noqa: F401 - fixtures
from test_sync_util import hub_requests, request_input
from typer.testing import CliRunner

from qi_station.core.errors import ValidationError, every_error
from qi_station.services import ledger

_ = (env, hub_url)


def cli(*args: str) -> Any:
    from qi_station.cli.commands import app

    return CliRunner().invoke(app, list(args))


def rules(output: str) -> list[tuple[str, str]]:
    """(field, rule) of every `error: FIELD: … [rule]` line."""
    out = []
    for line in output.splitlines():
        if line.startswith("error: ") and line.rstrip().endswith("]"):
            field = line[len("error: ") :].split(":", 1)[0]
            out.append((field, line.rstrip().rsplit("[", 1)[1][:-1]))
    return out


def test_hub_assign_says_every_bad_value(env: Any) -> None:  # noqa: F811
    hub, tc, dbs = env
    db = dbs["ZB01"]
    r = ledger.create_request(db, request_input(1))
    sync(db, tc)
    before = hub_requests(hub)[r["id"]]
    with pytest.raises(ValidationError) as ei:
        hub.assign(r["id"], priority="极高", expert_id="nope", note="ok")
    assert [(e.field, e.rule) for e in every_error(ei.value)] == [
        ("priority", "choice"),
        ("expert", "unknown_expert"),
    ]
    assert hub_requests(hub)[r["id"]] == before


def test_hub_add_station_says_every_bad_field(tmp_path: Path) -> None:
    from qi_station.sync.hub.store import Hub

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = Hub(url)
    hub.init(demo=False)
    hub.dispose()
    res = cli(
        "hub", "add-station", "ZZ09", "--name", "长" * 101, "--region", "999999", "--type", "乱", "--mode", "乱",
        "--database-url", url,
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    got = rules(res.output)
    assert [f for f, _r in got] == ["name", "region", "station_type", "service_mode"], res.output
    hub = Hub(url)
    try:
        assert "ZZ09" not in {s["code"] for s in hub.stations()}  # nothing written
    finally:
        hub.dispose()


@pytest.fixture
def station(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    from qi_station.db.engine import open_db

    monkeypatch.setenv("QI_STATION_NOW", "2026-06-10T10:00:00+08:00")
    db = open_db(tmp_path / "station.db")
    r = ledger.create_request(db, request_input(1))
    for to in ("accepted", "in_progress"):
        ledger.move_request(db, r["id"], to)
    return db, r


def test_request_move_says_every_bad_field(station: tuple[Path, dict[str, Any]]) -> None:
    db, r = station
    res = cli(
        "--db", str(db), "request", "move", r["number"], "resolved", "--result", "好", "--problems-solved", "1",
        "--fee", "1e3", "--at", "2020-01-01 01:00",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert {f for f, _r in rules(res.output)} == {"fee", "at"}, res.output
    from qi_station.services.queries import get_request

    assert get_request(db, r["id"])["status"] == "in_progress"


@pytest.mark.parametrize(
    "args", [["--charged"], ["--fee", "10"], ["--fee", "0"], ["--charged", "--fee", "0"]]
)
def test_a_charge_on_a_move_that_does_not_resolve(
    station: tuple[Path, dict[str, Any]], args: list[str]
) -> None:
    """Item 5: cli.md: a non-resolving move with --charged / --fee gets [only_on_resolve], whatever the
    charge would be on a resolution (--charged alone is not `[required]` there)."""
    db, r = station
    res = cli("--db", str(db), "request", "move", r["number"], "on_hold", *args)
    assert res.exit_code == 2, res.output
    assert rules(res.output) == [("fee", "only_on_resolve")], res.output


def test_a_fee_of_zero_alone_records_a_free_service(station: tuple[Path, dict[str, Any]]) -> None:
    """Item 9: a charged service has a fee above 0 (``--charged --fee 0`` is refused), so ``--fee 0``
    alone records a free one (docs/cli.md says so)."""
    import json

    db, r = station
    res = cli("--db", str(db), "request", "move", r["number"], "resolved", "--result", "好",
              "--problems-solved", "1", "--fee", "0", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["fee_yuan"] == 0  # a number, as in the report's JSON


@pytest.mark.parametrize("sep", ["\u2028", "\u2029"])
def test_line_separators_are_refused_in_one_line_text(sep: str) -> None:
    """Item 6: U+2028/U+2029 break a line as \\n does: refused [control_char] in one-line text, a newline
    in multi-line text."""
    from qi_station.core import validate as v

    with pytest.raises(ValidationError) as ei:
        v.clean_text(f"标题{sep}第二行", "title")
    assert (ei.value.field, ei.value.rule) == ("title", "control_char")
    assert v.clean_text(f"一{sep}二", "note", multiline=True) == "一\n二"


def test_windows_line_ends_in_a_multi_line_hub_note(env: Any) -> None:  # noqa: F811
    """Item 6: a CRLF (or lone CR) note is kept with newlines, not refused for U+000D."""
    hub, tc, dbs = env
    db = dbs["ZB01"]
    r = ledger.create_request(db, request_input(1))
    sync(db, tc)
    hub.assign(r["id"], note="省局指派\r\n请跟进\r完")
    assert hub_requests(hub)[r["id"]]["hub_note"] == "省局指派\n请跟进\n完"


def test_a_full_width_uscc_is_not_another_enterprise(station: tuple[Path, dict[str, Any]]) -> None:
    """Item 7: the same USCC typed full-width is the same enterprise: no "similar name under another
    USCC" warning (the USCCs are compared normalised, core.validate.normalize_uscc)."""
    from qi_station.services import enterprises
    from qi_station.services.queries import get_request

    db, r = station
    got = get_request(db, r["id"])
    name, uscc = got["enterprise_name"], got["uscc"]
    wide = "".join(chr(ord(ch) + 0xFEE0) for ch in uscc)  # ９１３７… as a Chinese input method types it
    assert enterprises.similar(db, name, wide) == []
    assert enterprises.by_uscc(db, wide)["uscc"] == uscc
    res = cli("--db", str(db), "request", "add", "--enterprise", name, "--uscc", wide, "--elements", "计量",
              "--title", "再次")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "similar" not in res.output and "相似" not in res.output, res.output


@pytest.mark.parametrize("text", ["2026-02-29 09:00", "2026-11-31", "2026/4/31 9:30", "2026-03-01 25:00"])
def test_an_impossible_date_is_said_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Item 8: a readable date that does not exist is `no such date or time … [date]`, as the importer
    says (one rule, core.clock), not "cannot read the time … [time]"."""
    from qi_station.core.clock import parse_datetime, parse_sheet_time
    from qi_station.db.engine import open_db

    for parse in (parse_datetime, lambda t, f: parse_sheet_time(t, f)[0]):
        with pytest.raises(ValidationError) as ei:
            parse(text, "received_at")
        assert (ei.value.field, ei.value.rule) == ("received_at", "date"), text
        assert "no such date" in ei.value.message
    monkeypatch.setenv("QI_STATION_NOW", "2026-06-10T10:00:00+08:00")
    db = open_db(tmp_path / "s.db")
    res = cli("--db", str(db), "request", "add", "--enterprise", "济南示例机械有限公司", "--uscc",
              "N2370100MA3C000011", "--elements", "计量", "--title", "九", "--received-at", text)  # fmt: skip
    assert res.exit_code == 2 and rules(res.output) == [("received_at", "date")], res.output
