"""qi_station.api: every function, through the same services as the CLI; bad input names the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qi_station import api
from qi_station.core.errors import NotFoundError, ValidationError
from qi_station.core.validate import uscc_check_char

MONTH = "2026-01"


def _uscc(region: str, serial: str) -> str:
    body = f"91{region}{serial}"
    return body + uscc_check_char(body)


JINAN = ("济南甲科技有限公司", _uscc("370100", "MA3C00001"))
QINGDAO = ("青岛乙制造有限公司", _uscc("370200", "MA3C00002"))


def _new(db: Path, ent: tuple[str, str], **kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "enterprise": ent[0],
        "uscc": ent[1],
        "elements": ["metrology"],
        "title": "压力表校准",
        "received_at": "2026-01-10T09:00",
    }
    return api.create_request(db, **{**fields, **kw})


def test_create_get_move(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"  # not created yet: the API migrates it, as the CLI does
    r = _new(db, JINAN, elements="计量,testing", phone="0531-88886666")
    assert r["number"].startswith("QI0001-") and r["status"] == "new"
    assert r["elements"] == ["metrology", "testing"]
    assert r["phone_e164"] == "+8653188886666"
    assert [e["kind"] for e in r["events"]] == ["created"] and r["ledger_ok"] is True
    assert api.get_request(db, r["number"])["id"] == r["id"]
    assert api.get_request(db, r["id"])["number"] == r["number"]

    moved = api.move_request(db, r["number"], "accepted", at="2026-01-11T10:00", note="已受理")
    assert moved["status"] == "accepted" and moved["id"] == r["id"]
    assert [e["to_status"] for e in moved["events"]] == ["new", "accepted"]
    assert moved["events"][-1]["note"] == "已受理"
    done = api.move_request(db, r["id"], "in_progress", at="2026-01-12T10:00")
    assert done["legal_moves"] == ["referred", "waiting", "resolved", "cancelled", "on_hold"]
    json.dumps(done)  # plain data
    # times as `request show --json` prints them: ISO-8601 in Asia/Shanghai
    assert r["received_at"] == "2026-01-10T09:00:00+08:00"
    assert moved["events"][-1]["at"] == "2026-01-11T10:00:00+08:00"


def test_bad_input_names_the_field(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with pytest.raises(ValidationError) as e:
        wrong = "1" if JINAN[1][-1] == "0" else "0"
        _new(db, (JINAN[0], JINAN[1][:-1] + wrong))
    assert e.value.field == "uscc" and e.value.rule == "uscc_checksum"
    with pytest.raises(ValidationError) as e:
        api.create_request(db, enterprise=JINAN[0], uscc=JINAN[1], elements="计量")  # no title
    assert e.value.field == "title" and e.value.rule == "required"
    with pytest.raises(ValidationError) as e:
        _new(db, JINAN, phone="12345")
    assert e.value.field == "phone"
    with pytest.raises(TypeError):
        _new(db, JINAN, colour="red")
    r = _new(db, JINAN)
    with pytest.raises(ValidationError) as e:
        api.move_request(db, r["number"], "accepted", satisfaction=9)
    assert e.value.field == "satisfaction"
    with pytest.raises(ValidationError) as e:
        api.move_request(db, r["number"], "flying")
    assert e.value.field == "status"
    with pytest.raises(NotFoundError):
        api.get_request(db, "QI0001-209901-9999")
    with pytest.raises(ValidationError) as e:
        api.search(db, "dragons", "x")
    assert e.value.field == "kind"
    with pytest.raises(ValidationError) as e:
        api.search(db, "enterprises", "", city="999999")
    assert e.value.field == "city"
    with pytest.raises(ValidationError) as e:
        api.monthly_report(db, "2026-13")
    assert e.value.field == "month"


def test_search(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _new(db, JINAN)
    _new(db, QINGDAO, elements=["testing"])
    rows = api.search(db, "enterprises", "济南")
    assert [(r["id"] != "", r["name"]) for r in rows] == [(True, JINAN[0])]
    assert {r["name"] for r in api.search(db, "enterprises", "")} == {JINAN[0], QINGDAO[0]}
    assert [r["name"] for r in api.search(db, "enterprises", "", city="370200")] == [QINGDAO[0]]
    assert [r["name"] for r in api.search(db, "enterprises", "", limit=1)] == [JINAN[0]]
    assert api.search(db, "experts", "王") == []
    json.dumps(rows)


def _cli_json(args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "QI_STATION_OPERATOR": "测试员"}
    p = subprocess.run(
        [sys.executable, "-m", "qi_station", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    out: dict[str, Any] = json.loads(p.stdout)
    return out


def _same_report(a: dict[str, Any], b: dict[str, Any]) -> None:
    a, b = dict(a), dict(b)
    assert a.pop("generated_at") and b.pop("generated_at")
    assert a == b


def test_monthly_report_is_the_cli_json(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    r = _new(db, JINAN)
    _new(db, QINGDAO, elements=["testing"], received_at="2026-01-20T15:00")
    api.move_request(db, r["number"], "accepted", at="2026-01-11T10:00")
    mine = api.monthly_report(db, MONTH)
    assert mine["month"] == MONTH and mine["received"] == 2
    _same_report(
        mine, _cli_json(["--db", str(db), "report", "monthly", "--month", MONTH, "--format", "json"])
    )

    url = f"sqlite:///{db}"
    hub = api.monthly_report(url, MONTH, hub=True)
    assert hub["received"] == 2
    cli = _cli_json(["hub", "report", "monthly", "--database-url", url, "--month", MONTH, "--format", "json"])
    _same_report(hub, cli)


def test_import_is_cheap() -> None:
    code = (
        "import sys, qi_station.api; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'sqlmodel', 'textual', 'typer', 'openpyxl', 'phonenumbers', 'pypinyin')"
        " or m.startswith(('qi_station.services', 'qi_station.reports', 'qi_station.db'))))"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", timeout=60
    )
    assert p.stdout.strip() == "[]", p.stdout + p.stderr


def test_docs_example_runs_as_printed(tmp_path: Path) -> None:
    """The example in docs/api.md runs, and prints what its comments say."""
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
    code = re.search(r"## Example\n\n```python\n(.*?)```", text, re.S)
    assert code, "docs/api.md has no example"
    env = {**os.environ, "QI_STATION_OPERATOR": "测试员", "PYTHONIOENCODING": "utf-8"}
    p = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    said = [ln.split("  # ")[1] for ln in code.group(1).splitlines() if ln.strip().startswith("print(")]
    assert p.stdout.splitlines() == said


def test_verify_ledger_is_the_cli_check(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "st.db"
    r = _new(db, JINAN)
    assert api.verify_ledger(db)["ok"] is True
    c = sqlite3.connect(db)
    try:  # an edit behind the program's back
        c.execute("UPDATE request SET title = 'x', status = 'closed' WHERE id = ?", (r["id"],))
        c.commit()
    finally:
        c.close()
    res = api.verify_ledger(db)
    assert res["ok"] is False and [p["number"] for p in res["problems"]] == [r["number"]]
