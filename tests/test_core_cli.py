"""CLI round trips, exit codes and messages (real subprocesses, as outside scripts use it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

USCC = "N2370100MA3C000011"


def run(db: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QI_STATION_OPERATOR": "测试员"}
    p = subprocess.run(
        [sys.executable, "-m", "qi_station", "--db", str(db), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
    )
    if ok:
        assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    return p


@pytest.fixture
def cdb(tmp_path: Path) -> Path:
    db = tmp_path / "cli.db"
    run(db, "init", "--station-code", "JN-GX01", "--station-name", "济南高新区工作站", "--region", "370100")
    return db


def test_version() -> None:
    p = subprocess.run([sys.executable, "-m", "qi_station", "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("qi-station ")


def test_request_round_trip(cdb: Path) -> None:
    p = run(
        cdb,
        "request",
        "add",
        "--enterprise",
        "济南示例机械有限公司",
        "--uscc",
        USCC,
        "--elements",
        "计量,testing",
        "--title",
        "压力表校准",
        "--channel",
        "visit",
        "--urgency",
        "urgent",
        "--phone",
        "0531-88886666",
        "--received-at",
        "2026-10-31T23:30:00",
        "--json",
    )
    r = json.loads(p.stdout)
    assert r["number"] == "JN-GX01-202610-0001" and r["id"]
    assert r["received_at"] == "2026-10-31T23:30:00+08:00"
    assert r["elements"] == ["metrology", "testing"]
    num = r["number"]
    run(cdb, "request", "move", num, "accepted", "--at", "2026-11-01T09:00:00")
    run(cdb, "request", "move", num, "in_progress", "--at", "2026-11-01T10:00:00")
    run(
        cdb,
        "request",
        "move",
        num,
        "resolved",
        "--result",
        "已校准",
        "--problems-solved",
        "2",
        "--cost-saved",
        "1.5",
        "--at",
        "2026-11-03T10:00:00",
    )
    run(cdb, "request", "move", num, "closed", "--satisfaction", "5", "--at", "2026-11-05T10:00:00")
    show = json.loads(run(cdb, "request", "show", num, "--json").stdout)
    assert show["status"] == "closed" and show["satisfaction"] == 5 and show["cost_saved_wan"] == 1.5
    assert [e["to_status"] for e in show["events"]] == [
        "new",
        "accepted",
        "in_progress",
        "resolved",
        "closed",
    ]
    assert show["events"][1]["at"] == "2026-11-01T09:00:00+08:00"
    lst = json.loads(run(cdb, "request", "list", "--month", "2026-10", "--json").stdout)
    assert [x["number"] for x in lst] == [num]
    assert lst[0]["cost_saved_wan"] == 1.5  # a number, as in show --json and the report's JSON
    assert json.loads(run(cdb, "request", "list", "--month", "2026-11", "--json").stdout) == []
    assert len(json.loads(run(cdb, "request", "list", "--status", "closed", "--json").stdout)) == 1
    human = run(cdb, "request", "show", num).stdout
    assert "非常满意" in human and "完整" in human


def test_bad_input_exit_2_names_field(cdb: Path) -> None:
    p = run(
        cdb,
        "request",
        "add",
        "--enterprise",
        "x",
        "--uscc",
        "91350100M000100Y44",
        "--elements",
        "metrology",
        "--title",
        "t",
        ok=False,
    )
    assert p.returncode == 2 and "uscc" in p.stderr
    p = run(
        cdb,
        "request",
        "add",
        "--enterprise",
        "x",
        "--uscc",
        USCC,
        "--elements",
        "cooking",
        "--title",
        "t",
        ok=False,
    )
    assert p.returncode == 2 and "elements" in p.stderr
    p = run(cdb, "request", "list", "--month", "2026-13", ok=False)
    assert p.returncode == 2 and "month" in p.stderr
    p = run(cdb, "request", "show", "NOPE-1", ok=False)
    assert p.returncode == 2 and "not found" in p.stderr
    p = run(cdb, "library", "search", "robots", "x", ok=False)
    assert p.returncode == 2 and "kind" in p.stderr
    assert json.loads(run(cdb, "request", "list", "--json").stdout) == []  # nothing written


def test_illegal_move_exit_2(cdb: Path) -> None:
    r = json.loads(
        run(
            cdb,
            "request",
            "add",
            "--enterprise",
            "x",
            "--uscc",
            USCC,
            "--elements",
            "ip",
            "--title",
            "t",
            "--json",
        ).stdout
    )
    p = run(cdb, "request", "move", r["number"], "closed", "--satisfaction", "5", ok=False)
    assert p.returncode == 2 and "status" in p.stderr
    p = run(cdb, "request", "move", r["number"], "accepted", "--satisfaction", "9", ok=False)
    assert p.returncode == 2 and "satisfaction" in p.stderr


def test_move_takes_the_satisfaction_label(cdb: Path) -> None:
    """Outside attacker: `--satisfaction 非常满意` was refused [integer] here while the API and import
    take the label (core.validate.parse_satisfaction, one rule)."""
    r = json.loads(
        run(
            cdb,
            "request",
            "add",
            "--enterprise",
            "x",
            "--uscc",
            USCC,
            "--elements",
            "ip",
            "--title",
            "t",
            "--json",
        ).stdout
    )
    n = r["number"]
    for st in ("accepted", "in_progress"):
        run(cdb, "request", "move", n, st)
    run(cdb, "request", "move", n, "resolved", "--result", "已办结", "--problems-solved", "1")
    p = run(cdb, "request", "move", n, "closed", "--satisfaction", "很好", ok=False)
    assert p.returncode == 2 and "error: satisfaction:" in p.stderr
    got = json.loads(run(cdb, "request", "move", n, "closed", "--satisfaction", "不满意", "--json").stdout)
    shown = json.loads(run(cdb, "request", "show", n, "--json").stdout)
    assert shown["satisfaction"] == 2, (got, shown)


def test_library_search_json_and_refer(cdb: Path) -> None:
    import sqlite3

    from qi_station.db.searchtext import prepare

    c = sqlite3.connect(cdb)
    r = prepare("expert", {"id": "ex-1", "name": "单雄信", "city_code": "370800", "elements": ["testing"]})
    c.execute(
        "INSERT INTO expert (id,name,name_py,name_initials,haystack,city_code,elements,rev,seq,deleted,"
        "updated_at,active_requests) VALUES (?,?,?,?,?,?,?,1,0,0,'2026-01-01 00:00:00.000000',0)",
        (r["id"], r["name"], r["name_py"], r["name_initials"], r["haystack"], r["city_code"], r["elements"]),
    )
    c.commit()
    c.close()
    hits = json.loads(run(cdb, "library", "search", "experts", "sxx", "--json").stdout)
    assert hits[0]["id"] == "ex-1" and hits[0]["name"] == "单雄信"
    assert len(json.loads(run(cdb, "library", "search", "experts", "", "--json").stdout)) == 1
    assert json.loads(run(cdb, "library", "search", "experts", '"AND(', "--json").stdout) == []
    req = json.loads(
        run(
            cdb,
            "request",
            "add",
            "--enterprise",
            "x",
            "--uscc",
            USCC,
            "--elements",
            "testing",
            "--title",
            "t",
            "--json",
        ).stdout
    )
    run(cdb, "request", "move", req["number"], "accepted")
    run(cdb, "request", "move", req["number"], "in_progress")
    run(cdb, "request", "refer", req["number"], "--expert", "ex-1", "--note", "请协助")
    show = json.loads(run(cdb, "request", "show", req["number"], "--json").stdout)
    assert show["status"] == "referred" and show["referrals"][0]["item_id"] == "ex-1"
    p = run(cdb, "request", "refer", req["number"], ok=False)
    assert p.returncode == 2


def test_backup_and_restore(cdb: Path, tmp_path: Path) -> None:
    run(cdb, "request", "add", "--enterprise", "x", "--uscc", USCC, "--elements", "ip", "--title", "one")
    bak = tmp_path / "b.db"
    run(cdb, "backup", "--out", str(bak))
    run(cdb, "request", "add", "--enterprise", "x", "--uscc", USCC, "--elements", "ip", "--title", "two")
    assert len(json.loads(run(cdb, "request", "list", "--json").stdout)) == 2
    run(cdb, "restore", str(bak))
    assert [x["title"] for x in json.loads(run(cdb, "request", "list", "--json").stdout)] == ["one"]
    junk = tmp_path / "junk.db"
    junk.write_text("not a database", encoding="utf-8")
    p = run(cdb, "restore", str(junk), ok=False)
    assert p.returncode == 2
    assert len(json.loads(run(cdb, "request", "list", "--json").stdout)) == 1


def test_db_env_var(tmp_path: Path) -> None:
    env = {**os.environ, "QI_STATION_DB": str(tmp_path / "env.db")}
    subprocess.run([sys.executable, "-m", "qi_station", "init"], check=True, env=env, capture_output=True)
    assert (tmp_path / "env.db").exists()


def test_tui_fast_path_arguments() -> None:
    from qi_station.entry import tui_args

    assert tui_args([]) == (None, None)
    assert tui_args(["tui"]) == (None, None)
    assert tui_args(["--db", "x.db", "--lang", "en"]) == ("x.db", "en")
    assert tui_args(["--db=x.db", "tui"]) == ("x.db", None)
    assert tui_args(["request", "list"]) is None
    assert tui_args(["--db", "x.db", "request", "list"]) is None
    assert tui_args(["--version"]) is None
    assert tui_args(["--lang", "fr"]) is None  # the CLI reports the bad value
    assert tui_args(["tui", "tui"]) is None


def test_broken_database_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("junk", encoding="utf-8")
    p = run(junk, "request", "list", ok=False)
    # refused before it is opened: the field, what the file is, the rule (exit 2: a refusal)
    assert p.returncode == 2 and "error: db:" in p.stderr and "[qi_station_db]" in p.stderr, p.stderr
    import sqlite3

    from qi_station.db.engine import SCHEMA_HEAD

    half = tmp_path / "half.db"  # claims the current schema but has no tables
    c = sqlite3.connect(half)
    c.execute("CREATE TABLE alembic_version (version_num)")
    c.execute("INSERT INTO alembic_version VALUES (?)", (SCHEMA_HEAD,))
    c.commit()
    c.close()
    p = run(half, "request", "list", ok=False)
    assert p.returncode == 1 and "no such table" in p.stderr


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (
            ["request", "add", "--enterprise", "\udcff\udcfe济南", "--uscc", USCC, "--elements", "metrology"]
            + ["--title", "t"],
            "enterprise",
        ),
        (["library", "search", "experts", "\udcff\udcfe"], "query"),
        (["request", "show", "\udcff\udcfe"], "key"),
        (["enterprise", "show", "\udcff\udcfe"], "key"),
    ],
)
def test_argv_bytes_not_utf8_are_refused_not_a_traceback(cdb: Path, args: list[str], field: str) -> None:
    """Python reads argv bytes that are not UTF-8 as lone surrogates; subprocess writes them back as
    the raw bytes (\\xff\\xfe): every command refuses them by name, [encoding], exit 2, nothing written."""
    p = run(cdb, *args, ok=False)
    assert p.returncode == 2 and f"{field}:" in p.stderr and "[encoding]" in p.stderr
    assert json.loads(run(cdb, "request", "list", "--json").stdout) == []


def test_stored_control_characters_reach_the_terminal_neutralised(cdb: Path) -> None:
    """Text stored before the text rule (or by a hub before hub assign checked it) may hold ESC/BEL:
    show and list print it with U+FFFD, never the raw sequence (which would retitle or clear a terminal)."""
    import sqlite3

    args = ["--enterprise", "济南示例机械有限公司", "--uscc", USCC, "--elements", "metrology", "--title", "t"]
    num = json.loads(run(cdb, "request", "add", *args, "--json").stdout)["number"]
    with sqlite3.connect(cdb) as c:
        c.execute("UPDATE request SET title = ?", ("x\x1b]0;PWNED\x07\x1b[2J",))
        c.execute("UPDATE enterprise SET name = ?", ("e\x1b[31mred",))
    for cmd in (["request", "show", num], ["request", "list"], ["enterprise", "show", USCC]):
        out = run(cdb, *cmd).stdout
        assert "\x1b" not in out and "\x07" not in out and "\ufffd" in out, (cmd, out)
    assert "x\ufffd]0;PWNED\ufffd" in run(cdb, "request", "show", num).stdout  # (click drops CSI off a tty)
    from qi_station.core.months import current_month

    for fmt in ("xlsx", "csv", "md"):  # report writers never crash on such text (openpyxl would refuse it)
        out = cdb.parent / f"r.{fmt}"
        run(cdb, "report", "monthly", "--month", current_month(), "--format", fmt, "--out", str(out))
        if fmt != "xlsx":
            assert "\x1b" not in out.read_text(encoding="utf-8-sig")
