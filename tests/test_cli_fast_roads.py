"""The CLI's fast roads (issue 13, goal 5) give what the slow ones gave, byte for byte.

* ``core.validate.money_text`` / ``money_number``: whole-number arithmetic (and ``float`` of money text)
  where the slow road made a ``Decimal`` a row: the same text and numbers as that road;
* ``core.ids.uuid7``: ``os.urandom`` (what ``secrets.token_bytes`` returns) without importing ``secrets``;
* ``cli.kit.emit_json``: a list written in batches, the same bytes as the whole text written at once;
* a call (``cli.commands.app_for``: its command group alone; ``cli.startup.install``: Typer's Pydantic
  coercion only where a value needs it) prints what the whole CLI with Typer's own coercion prints, for
  a command of every command group.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qi_station.core.validate import money_number, money_text


# ---- the slow roads, as they were -------------------------------------------------------------------
def slow_money_text(amount: Any, hundredths: bool = False) -> str | None:
    if amount is None:
        return None
    value = Decimal(int(amount)) / 100 if hundredths else Decimal(amount)
    return f"{value:.2f}"


def slow_money_number(amount: Any) -> float | None:
    return None if amount is None else round(float(Decimal(amount)), 2)


def slow_emit_json(obj: Any) -> str:
    """``cli.kit.emit_json``'s text as one string, by the plain JSON encoder a row."""
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        enc = json.JSONEncoder(ensure_ascii=False, default=str)
        return "[\n" + ",\n".join(enc.encode(x) for x in obj) + "\n]\n"
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n"


def _whole_numbers() -> list[int]:
    rnd = random.Random(13)
    edges = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 10**18, 2**63 - 1, 10**26 - 1, 10**26, 10**30 + 7]
    many = list(range(-3000, 3000)) + [rnd.randrange(-(2**63), 2**63) for _ in range(5000)]
    many += [rnd.randrange(0, 10**k) for k in range(1, 31) for _ in range(20)]
    return many + edges + [-n for n in edges]


def test_money_text_of_hundredths_is_the_decimal_road_s() -> None:
    """节约成本 (``cost_saved_cents``): negatives, 0, under one, past 64 bits, past Decimal's 28 digits."""
    for n in _whole_numbers():
        assert money_text(n, hundredths=True) == slow_money_text(n, hundredths=True), n
    for v in (None, True, False, Decimal("1234"), Decimal("-7"), 12.9, -0.5):  # int() of them, as before
        assert money_text(v, hundredths=True) == slow_money_text(v, hundredths=True), v


def test_money_text_of_amounts_is_the_decimal_road_s() -> None:
    """Yuan or 万元 as they are (ints, Decimals, floats): two decimals, ties to even as Decimal rounds."""
    values: list[Any] = [None, *_whole_numbers()[::7]]
    values += [
        Decimal(f"{n}.{d}") for n in (-2, -1, 0, 1, 12, 1200) for d in ("005", "015", "125", "5", "99")
    ]
    values += [Decimal("0.00"), Decimal("-0"), Decimal("1E+3"), Decimal("1.23456789"), 0.1, 1.005, -2.675]
    values += [True, False]
    for v in values:
        assert money_text(v) == slow_money_text(v), v


def test_money_number_is_the_decimal_road_s() -> None:
    texts = {money_text(n, hundredths=True) for n in _whole_numbers()}
    texts |= {"1e3", " 1.50 ", "1.005", "-0.00", "0.1", "１２.３４", "1_000.25", "Infinity", "-inf"}
    values: list[Any] = [None, *sorted(t for t in texts if t), Decimal("3.14159"), Decimal("-0.005")]
    for v in values:
        fast, slow = money_number(v), slow_money_number(v)
        assert fast == slow or (math.isnan(fast) and math.isnan(slow)), v  # type: ignore[arg-type]
        assert math.copysign(1, fast or 1.0) == math.copysign(1, slow or 1.0), v
    for bad in ("abc", "", "1.2.3", "--1.00"):  # refused as before: Decimal's error, not float's
        with pytest.raises(ArithmeticError):
            slow_money_number(bad)
        with pytest.raises(ArithmeticError):
            money_number(bad)


def test_uuid7_reads_the_os_random_source_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The random bits are ``os.urandom(10)`` (``secrets.token_bytes``' source), read big-endian."""
    from qi_station.core import ids

    monkeypatch.setattr(ids.os, "urandom", lambda n: bytes(range(1, n + 1)))
    rand = int.from_bytes(bytes(range(1, 11)), "big")
    assert ids.uuid7(1_700_000_000_123) == ids.uuid7(1_700_000_000_123, rand)
    code = (
        "import sys, uuid; from qi_station.core.ids import uuid7; u = uuid.UUID(uuid7()); "
        "print(u.version, u.variant == uuid.RFC_4122, 'secrets' in sys.modules, len({uuid7() for _ in range(999)}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["7", "True", "False", "999"], out.stdout + out.stderr


class _Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


def _rows(n: int) -> list[dict[str, Any]]:
    from datetime import date

    return [
        {
            "id": i,
            "title": f'标准咨询 №{i} "引号" \\ 斜杠\t制表',
            "elements": ["标准", "计量"][: i % 3],
            "money": None if i % 4 else i / 7,
            "day": date(2026, 1, 1 + i % 28),  # default=str
            "odd": "\u200b\x1b[31m" if i % 50 == 3 else "",  # the text rule's cases (neutralised on stdout)
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [1, 2, 199, 200, 201, 400, 401, 1234])
def test_emit_json_writes_batches_of_the_same_bytes(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from qi_station.cli import kit
    from qi_station.core.validate import neutralise

    rows = _rows(n)
    out = _Writes()
    monkeypatch.setattr(sys, "stdout", out)
    kit.emit_json(rows)
    assert out.getvalue() == slow_emit_json(rows)
    assert out.writes == -(-n // kit.JSON_BATCH) + 1  # the batches and the closing bracket
    # through the text rule's stdout (handle_errors): the same as the whole text neutralised at once
    out = _Writes()
    monkeypatch.setattr(sys, "stdout", kit.NeutralStdout(out))
    kit.emit_json(rows)
    assert out.getvalue() == neutralise(slow_emit_json(rows))
    assert n < 4 or "\ufffd" in out.getvalue()


@pytest.mark.parametrize("obj", [[], {"a": [1, 2], "b": "中文"}, [1, 2], [{"a": 1}, 2], "x"])
def test_emit_json_of_anything_else_is_unchanged(obj: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from qi_station.cli import kit

    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    kit.emit_json(obj)
    assert out.getvalue() == slow_emit_json(obj)


# ---- whole calls: the fast start-up against the whole CLI with Typer's own coercion ------------------
PROBE = r"""
import json, os, sys
fast = sys.argv[1] == "fast"
sys.argv = ["qi-station", *sys.argv[2:]]
code = 0
try:
    if fast:  # the console entry point: its command group alone, Typer's coercion where needed
        from qi_station.entry import main
        main()
    else:  # every group, Typer as it is (no cli.startup.install)
        from qi_station.cli.commands import build
        build()()
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
sys.stdout.flush()
groups = sorted(m for m in sys.modules if m.startswith("qi_station.cli.") and m not in
                ("qi_station.cli.commands", "qi_station.cli.kit", "qi_station.cli.startup", "qi_station.cli.usage"))
os.write(2, ("\n@@" + json.dumps({"code": code, "groups": groups, "pydantic": "pydantic" in sys.modules})).encode())
"""

NOW = datetime.now(UTC).isoformat()  # one clock for both roads (a list's overdue days, the report's 数据截至)


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated station (the benchmark's generator, a little of everything) and, beside it, a hub."""
    from qi_station.db.engine import open_db
    from qi_station.devtools.generate.run import generate

    db = open_db(tmp_path_factory.mktemp("fast") / "station.db")
    generate(db, requests=300, library=40, seed=3)
    hub = ["hub", "init", "--database-url", _hub_url(db)]
    subprocess.run(
        [sys.executable, "-m", "qi_station.entry", *hub], capture_output=True, timeout=120, check=True
    )
    return db


def _hub_url(db: Path) -> str:
    return f"sqlite:///{db.with_name('hub.db')}"


def _call(road: str, args: list[str]) -> tuple[bytes, dict[str, Any]]:
    """stdout and what the probe saw (``err``: stderr before it)."""
    env = {**os.environ, "QI_STATION_NOW": NOW}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, road, *args], capture_output=True, timeout=120, env=env
    )
    err, info = proc.stderr.decode("utf-8").rsplit("\n@@", 1)
    return proc.stdout, {**json.loads(info), "err": err}


def _cases(db: Path) -> dict[str, list[str]]:
    con = sqlite3.connect(db)
    try:
        number = con.execute("SELECT number FROM request ORDER BY number LIMIT 1").fetchone()[0]
        uscc = con.execute("SELECT uscc FROM enterprise WHERE uscc IS NOT NULL ORDER BY uscc").fetchone()[0]
        month = con.execute("SELECT max(substr(received_at, 1, 7)) FROM request").fetchone()[0]
        full = con.execute(  # the month before: a month over (the report of a month to come is refused)
            "SELECT max(substr(received_at, 1, 7)) FROM request WHERE substr(received_at, 1, 7) < ?", (month,)
        ).fetchone()[0]
    finally:
        con.close()
    d = ["--db", str(db)]
    return {
        "request": [*d, "request", "list", "--month", month, "--json"],
        "request show": [*d, "--lang", "en", "request", "show", number],
        "request text": [*d, "request", "list", "--status", "new,accepted"],
        "activity": [*d, "activity", "list", "--json"],
        "library": [*d, "library", "search", "experts", "标准"],
        "staff": [*d, "staff", "list", "--json"],
        "enterprise": [*d, "enterprise", "show", uscc, "--json"],
        "ledger": [*d, "ledger", "verify", "--json"],
        "report": [*d, "report", "monthly", "--month", full, "--format", "json"],
        "sync": [*d, "sync", "status", "--json"],
        "hub": [*d, "hub", "stations", "--json", "--database-url", _hub_url(db)],
        "station": [*d, "station", "show"],
        "version": ["--version"],
    }


GROUP_OF = {
    "request": "requests",
    "request show": "requests",
    "request text": "requests",
    "hub": "sync",
    "version": None,
    "ledger": None,
}


@pytest.mark.parametrize(
    "case", list(GROUP_OF) + ["activity", "library", "staff", "enterprise", "report"] + ["sync", "station"]
)
def test_a_call_prints_what_the_whole_cli_prints(case: str, small_db: Path) -> None:
    args = _cases(small_db)[case]
    fast_out, fast = _call("fast", args)
    slow_out, slow = _call("slow", args)
    assert fast["code"] == slow["code"] == 0, (fast, slow)
    assert fast_out, args
    assert fast_out == slow_out
    group = GROUP_OF.get(case, case)  # its group alone (and what that group's module imports itself)
    assert set(fast["groups"]) >= ({f"qi_station.cli.{group}"} if group else set())
    assert set(fast["groups"]) < set(slow["groups"]), fast["groups"]
    assert group or fast["groups"] == []


@pytest.mark.parametrize(
    "group",
    [
        "request",
        "activity",
        "library",
        "staff",
        "enterprise",
        "demo",
        "ledger",
        "report",
        "sync",
        "hub",
        "station",
    ],
)
def test_every_group_s_help_is_the_whole_cli_s(group: str, tmp_path: Path) -> None:
    args = ["--db", str(tmp_path / "none.db"), group, "--help"]
    fast_out, fast = _call("fast", args)
    slow_out, slow = _call("slow", args)
    assert fast["code"] == slow["code"] == 0
    assert group.encode() in fast_out and b"Commands" in fast_out
    assert fast_out == slow_out
    assert not fast["pydantic"], "help needs no value coerced"


@pytest.mark.parametrize(
    "args",
    [
        ["request", "list", "--bogus"],
        ["request", "list", "--limit", "-1"],
        ["request", "lst"],
        ["request", "show"],
        ["staff", "list", "extra"],
        ["hub", "calendar", "lst"],
        ["--lang", "en", "request", "move"],
    ],
    ids=" ".join,
)
def test_a_refused_call_reads_as_the_whole_cli_s(args: list[str], tmp_path: Path) -> None:
    """A call's group holds just the command it names (``cli.commands.build(only=…)``): a bad option,
    a typo'd command, a missing argument are refused in the same words and exit code."""
    from qi_station.db.engine import open_db

    full = ["--db", str(open_db(tmp_path / "station.db")), *args]
    fast_out, fast = _call("fast", full)
    slow_out, slow = _call("slow", full)
    assert fast["code"] == slow["code"] == 2, (fast, slow)
    assert (fast_out, fast["err"]) == (slow_out, slow["err"])
    assert "error: " in fast["err"]


@pytest.mark.parametrize(
    ("argv", "only"),
    [
        (["--db", "X", "request", "list", "--json"], "list"),
        (["--db=X", "--lang", "en", "staff", "list"], "list"),
        (["--db", "request", "request", "show", "1"], "show"),  # a value that reads as the group's name
        (["request", "--help"], None),
        (["request"], None),
        (["hub", "calendar", "list"], "calendar"),
    ],
)
def test_the_command_a_call_names(argv: list[str], only: str | None) -> None:
    from qi_station.cli.startup import subcommand_called

    assert subcommand_called(argv) == only


def test_a_call_s_group_holds_the_command_it_names_alone() -> None:
    from qi_station.cli.commands import app_for
    from qi_station.cli.requests import request_app

    every = {c.name for c in request_app.registered_commands}
    (group,) = app_for(["--db", "X", "request", "list", "--json"]).registered_groups
    assert [c.name for c in group.typer_instance.registered_commands] == ["list"]
    assert {c.name for c in request_app.registered_commands} == every  # the module's group: untouched
    (group,) = app_for(["--db", "X", "request", "lst"]).registered_groups  # a typo: every command
    assert {c.name for c in group.typer_instance.registered_commands} == every
    (group,) = app_for(["hub", "calendar", "list"]).registered_groups  # a nested group: every command
    assert len(group.typer_instance.registered_commands) > 5


@pytest.mark.parametrize(
    ("words", "cword", "want"),
    [
        ("qi-station req", 1, ["request"]),
        ("qi-station request li", 2, ["list"]),
        ("qi-station --db x st", 3, []),
    ],
)
def test_shell_completion_answers_from_the_cli(words: str, cword: int, want: list[str]) -> None:
    """The completion script runs ``qi-station`` with no words and ``_QI_STATION_COMPLETE`` set: the CLI
    answers (the app's fast road is not taken; Typer's shells are added though ``add_completion`` is off)."""
    code = "import sys; sys.argv[0] = 'qi-station'; from qi_station.entry import main; main()"
    env = {
        **os.environ,
        "_QI_STATION_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    got = proc.stdout.split()
    assert got == want if want else set(got) >= {"staff", "station"}, got
    env["_QI_STATION_COMPLETE"] = "source_bash"
    script = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert "complete -o default -F _qi_station_completion qi-station" in script.stdout, script.stderr


def test_request_list_runs_with_the_cycle_collector_paused_and_puts_it_back(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``request list`` builds its rows with the collector paused (``core.gcpause``), also when refused."""
    import gc

    from typer.testing import CliRunner

    from qi_station.cli import requests
    from qi_station.cli.commands import build

    seen: list[bool] = []
    real = requests._list
    monkeypatch.setattr(requests, "_list", lambda *a: (seen.append(gc.isenabled()), real(*a)))
    app = build(("request",), commands=False)
    assert gc.isenabled()
    got = CliRunner().invoke(app, ["--db", str(db), "request", "list", "--json"])
    assert (got.exit_code, got.stdout, seen, gc.isenabled()) == (0, "[]\n", [False], True)
    got = CliRunner().invoke(app, ["--db", str(db), "request", "list", "--month", "2026-13"])
    assert (got.exit_code, seen, gc.isenabled()) == (2, [False, False], True)


def test_start_up_is_set_aside_from_the_collector_and_the_command_runs_with_it() -> None:
    """``entry.main``: the CLI's start-up made with the collector paused, then frozen (``gc.freeze``: later
    collections never walk it); the command itself runs with the collector on."""
    code = (
        "import gc, json, sys; import qi_station.cli.kit as kit; seen = {}\n"
        "kit.run_app = lambda app: seen.update(on=gc.isenabled(), frozen=gc.get_freeze_count())\n"
        "sys.argv = ['qi-station', '--db', 'x.db', 'request', 'list']\n"
        "from qi_station.entry import main; main(); print(json.dumps(seen))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["on"] is True, proc.stderr
    assert seen["frozen"] > 10_000, seen  # Typer and the request group's modules
