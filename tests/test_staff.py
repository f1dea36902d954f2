"""Operators (issue 9 item 15): the station's staff list, who signs each event, ``--operator``, and the
TUI's operator remembered per terminal session."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_sync_util import request_input

from qi_station.core import domain
from qi_station.core.errors import NotFoundError, ValidationError
from qi_station.services import ledger, queries, staff


def _actors(db: Path, rid: str) -> list[str]:
    return [e["actor"] for e in queries.get_request(db, rid)["events"]]


def test_roles_in_the_core() -> None:
    assert [domain.ROLE_ZH[r] for r in domain.ROLES] == ["站长", "质量管家", "服务专员"]
    assert domain.role_code("质量管家") == "steward" and domain.role_code("officer") == "officer"
    assert domain.role_code("boss") is None
    assert domain.role_may("head", "correct") and domain.role_may("head", "cancel")
    assert not domain.role_may("steward", "correct") and not domain.role_may("officer", "cancel")
    assert domain.role_may("officer", "resolved")


def test_staff_list_add_list_remove(db: Path) -> None:
    assert staff.list_staff(db) == []
    staff.add_staff(db, " 王站长 ", "站长")
    staff.add_staff(db, "李管家", "steward")
    assert staff.list_staff(db) == [{"name": "李管家", "role": "steward"}, {"name": "王站长", "role": "head"}]
    with pytest.raises(ValidationError) as e:
        staff.add_staff(db, "王站长", "服务专员")
    assert (e.value.field, e.value.rule) == ("name", "unique")
    with pytest.raises(ValidationError) as e:
        staff.add_staff(db, "赵", "boss")
    assert (e.value.field, e.value.rule) == ("role", "choice") and "服务专员" in e.value.message
    with pytest.raises(ValidationError) as e:
        staff.add_staff(db, "", "站长")
    assert e.value.rule == "required"
    staff.remove_staff(db, "李管家")
    with pytest.raises(NotFoundError):
        staff.remove_staff(db, "李管家")
    assert [s["name"] for s in staff.list_staff(db)] == ["王站长"]


def test_who_signs_each_event(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no staff list: today's behaviour (the name given, else QI_STATION_OPERATOR / the login name)
    r = ledger.create_request(db, request_input(1, 1))
    ledger.move_request(db, r["id"], "accepted", actor="老张")
    assert _actors(db, r["id"]) == ["测试员", "老张"]
    monkeypatch.delenv("QI_STATION_OPERATOR")
    # one staff member signs by default
    staff.add_staff(db, "王站长", "站长")
    ledger.add_note(db, r["id"], "电话沟通")
    assert _actors(db, r["id"])[-1] == "王站长"
    # several: the operator must be named, never the login name
    staff.add_staff(db, "李专员", "服务专员")
    n_events = len(_actors(db, r["id"]))
    with pytest.raises(ValidationError) as e:
        ledger.move_request(db, r["id"], "in_progress")
    assert (e.value.field, e.value.rule) == ("operator", "choose")
    assert "王站长" in e.value.message and "李专员" in e.value.message
    with pytest.raises(ValidationError) as e:
        ledger.add_note(db, r["id"], "x", actor="root")
    assert e.value.rule == "staff"
    with pytest.raises(ValidationError):
        ledger.create_request(db, request_input(2, 2))
    assert len(_actors(db, r["id"])) == n_events
    ledger.move_request(db, r["id"], "in_progress", actor="李专员")
    r2 = ledger.create_request(
        db, ledger.RequestInput(**{**request_input(2, 2).__dict__, "operator": "李专员"})
    )
    assert _actors(db, r["id"])[-1] == "李专员"
    assert _actors(db, r2["id"]) == ["李专员"] and queries.get_request(db, r2["id"])["operator"] == "李专员"


def _cli(db: Path, *args: str, env_operator: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "QI_STATION_OPERATOR"}
    if env_operator:
        env["QI_STATION_OPERATOR"] = env_operator
    return subprocess.run(
        [sys.executable, "-m", "qi_station", "--db", str(db), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
    )


def test_cli_staff_and_operator(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    assert _cli(db, "init", "--station-code", "JN-GX01", "--region", "370100").returncode == 0
    assert _cli(db, "staff", "add", "王站长", "--role", "站长").returncode == 0
    assert _cli(db, "staff", "add", "李专员", "--role", "服务专员").returncode == 0
    p = _cli(db, "staff", "add", "赵", "--role", "老板")
    assert p.returncode == 2 and "role" in p.stderr and "站长" in p.stderr
    assert _cli(db, "staff", "list").stdout.splitlines() == ["李专员  服务专员", "王站长  站长"]
    assert json.loads(_cli(db, "staff", "list", "--json").stdout)[1] == {"name": "王站长", "role": "head"}
    add = ("request", "add", "--enterprise", "济南示例机械有限公司", "--uscc", "91350100M000100Y43")
    add += ("--elements", "计量", "--title", "校准", "--json")
    p = _cli(db, *add)  # several staff, none named: refused, listing the staff
    assert p.returncode == 2 and "--operator" in p.stderr and "王站长" in p.stderr and "李专员" in p.stderr
    p = _cli(db, "--operator", "李专员", *add)
    assert p.returncode == 0, p.stderr
    num = json.loads(p.stdout)["number"]
    p = _cli(db, "--operator", "李专员", "request", "move", num, "cancelled", "--note", "企业撤回")
    assert p.returncode == 2 and "站长" in p.stderr
    assert (
        _cli(db, "--operator", "王站长", "request", "move", num, "cancelled", "--note", "企业撤回").returncode
        == 0
    )
    show = json.loads(_cli(db, "--operator", "王站长", "request", "show", num, "--json").stdout)
    assert [e["actor"] for e in show["events"]] == ["李专员", "王站长"]
    assert _cli(db, "staff", "remove", "李专员").returncode == 0
    assert _cli(db, "staff", "remove", "李专员").returncode == 2
    c = sqlite3.connect(db)
    assert (
        c.execute("SELECT count(*) FROM outbox WHERE table_name = 'staff'").fetchone()[0] == 0
    )  # local only
    c.close()


def test_the_tui_operator_is_remembered_per_terminal_session() -> None:
    assert staff.session_operator() is None
    staff.remember_operator("李专员")
    assert staff.session_operator() == "李专员"
    from qi_station.db.paths import state_dir

    assert (state_dir() / f"operator-{os.getsid(0)}.txt").read_text(encoding="utf-8") == "李专员"
