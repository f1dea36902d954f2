"""CLI leftovers of the attacker's and the operator's trial: Click's own refusals in the project's
form, consistent bundle exit codes, ``--out DIR/``, full-width USCCs, offsets in JSON times, far-future
activity dates, every bad field at once, count lines ending in a newline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FORM = re.compile(r"^error: \S+: .+ \[[a-z_]+\]$")


@pytest.fixture(scope="module")
def app_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    from qi_station.cli.commands import app
    from qi_station.db.engine import open_db

    yield app, open_db(tmp_path_factory.mktemp("ux") / "station.db")


def invoke(app_db: tuple[Any, Path], *args: str) -> Any:
    from typer.testing import CliRunner

    app, db = app_db
    return CliRunner().invoke(app, ["--db", str(db), *args])


def _commands() -> list[tuple[list[str], Any]]:
    """Every leaf command of the CLI with its path."""
    import typer

    from qi_station.cli.commands import app

    out: list[tuple[list[str], Any]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            out.append((path, cmd))

    walk(typer.main.get_command(app), [])
    return out


def _int_options() -> list[tuple[list[str], str]]:
    cases = []
    for path, cmd in _commands():
        for p in cmd.params:
            kind = getattr(getattr(p, "type_descriptor", None), "annotation", None) or getattr(p, "type", "")
            if getattr(p, "param_type_name", "") == "option" and "int" in str(kind).lower():
                cases.append((path, max(p.opts, key=len)))
    return cases


def test_every_command_is_walked() -> None:
    paths = {" ".join(p) for p, _ in _commands()}
    assert {"request list", "sync export-bundle", "hub import-bundle", "generate"} <= paths
    assert len(_int_options()) >= 10


@pytest.mark.parametrize(("path", "opt"), _int_options(), ids=lambda v: str(v))
def test_bad_integer_option_in_project_form(app_db: tuple[Any, Path], path: list[str], opt: str) -> None:
    res = invoke(app_db, *path, opt, "abc")
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert "Usage:" not in res.output and "Input should be" not in res.output, res.output
    assert all(FORM.match(line) for line in lines), res.output
    # the option is named, unless the command refused a missing argument first
    assert f"error: {opt}: 'abc' is not a whole number" in res.output or "[required]" in res.output


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["generate", "--requests", "-1", "--library", "0"], "error: --requests: '-1': must be at least 0"),
        (["library", "expiring", "--days", "9999"], "error: --days: '9999': must be at most 3660"),
        (["request", "list", "--bogus"], "error: --bogus: No such option"),
        (["request", "lst"], "error: command: No such command 'lst'"),
        (["request", "list", "--limit"], "error: --limit: Option '--limit' requires an argument"),
        (["generate", "--library", "1"], "error: --requests: is required"),
        (["--bogus"], "error: --bogus: No such option"),
    ],
)
def test_click_refusals_in_project_form(app_db: tuple[Any, Path], args: list[str], expect: str) -> None:
    res = invoke(app_db, *args)
    assert res.exit_code == 2, res.output
    assert res.output.startswith(expect), res.output
    assert FORM.match(res.output.strip()), res.output


def test_group_without_command_still_shows_help(app_db: tuple[Any, Path]) -> None:
    res = invoke(app_db, "request")
    assert "Usage:" in res.output and "error:" not in res.output


def _zip(path: Path, signer: str) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("manifest.json", "{}")
        z.writestr("changes.jsonl", "")
        z.writestr("manifest.sig", "AAAA")
        z.writestr("manifest.key", signer)
    return path


def test_bundle_refusals_share_one_exit_code(tmp_path: Path) -> None:
    """A damaged bundle and a bundle from an unknown station are both refused: exit 2 (was 2 and 1)."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'hub.db'}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qi_station", *args], capture_output=True, text=True, encoding="utf-8"
        )

    assert run("hub", "init", "--database-url", url).returncode == 0
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip")
    stranger = _zip(tmp_path / "stranger.zip", "NOPE AAAA")
    for f, code in ((garbage, "bad_bundle"), (stranger, "unknown_station")):
        p = run("hub", "import-bundle", str(f), "--database-url", url)
        assert p.returncode == 2 and f"[{code}]" in p.stderr, p.stderr
        assert "Traceback" not in p.stderr
    st = tmp_path / "st.db"
    p = run("--db", str(st), "sync", "import-bundle", str(stranger))
    assert p.returncode == 2 and "error: " in p.stderr, p.stderr


def test_sync_exit_code_rule() -> None:
    from qi_station.sync.proto import SyncError

    assert SyncError(400, "bad_bundle", "x").exit_code == 2
    assert SyncError(400, "bad_signature", "x").exit_code == 2
    assert SyncError(403, "revoked", "x").exit_code == 2
    assert SyncError(409, "hub_behind", "x").exit_code == 2
    assert SyncError(426, "upgrade_required", "x").exit_code == 3
    assert SyncError(503, "unreachable", "x").exit_code == 1


def _run(*args: str, db: Path | None = None) -> Any:
    import subprocess
    import sys

    pre = ["--db", str(db)] if db else []
    return subprocess.run(
        [sys.executable, "-m", "qi_station", *pre, *args], capture_output=True, text=True, encoding="utf-8"
    )


def test_bundle_out_folder(tmp_path: Path) -> None:
    """``--out usb/`` writes the default name into the folder; a missing folder is refused naming out,
    never written as a file called like the folder (was: a file named ``dir``)."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert _run("hub", "init", "--database-url", url).returncode == 0
    token = _run("hub", "add-station", "ZB01", "--name", "淄博站", "--database-url", url).stdout.split()[-1]
    db = tmp_path / "st.db"
    assert _run("sync", "enroll", "--token", token, db=db).returncode == 0
    for cmd in (
        ["sync", "export-bundle"],
        ["hub", "export-bundle", "--station", "ZB01", "--database-url", url],
    ):
        p = _run(*cmd, "--out", f"{tmp_path}/missing/dir/", db=db)
        assert p.returncode == 2 and "error: out: folder" in p.stderr and "[no_folder]" in p.stderr, p.stderr
        assert not (tmp_path / "missing").exists()
        p = _run(*cmd, "--out", f"{tmp_path}/missing/b.zip", db=db)
        assert p.returncode == 2 and "[no_folder]" in p.stderr, p.stderr
        usb = tmp_path / f"usb-{cmd[0]}"
        usb.mkdir()
        p = _run(*cmd, "--out", f"{usb}/", db=db)
        assert p.returncode == 0, p.stderr
        (written,) = usb.iterdir()
        assert written.suffix == ".zip" and written.name.startswith("syncb_")
    assert not (tmp_path / "missing").exists()


def test_out_folder_rule(tmp_path: Path) -> None:
    from qi_station.core.errors import ValidationError
    from qi_station.services.files import check_out, export_path

    assert check_out(f"{tmp_path}/", "csv", default_name="r.csv") == tmp_path / "r.csv"
    for bad in (f"{tmp_path}/nope/", f"{tmp_path}/nope/r.csv"):
        with pytest.raises(ValidationError) as e:
            check_out(bad, "csv", default_name="r.csv")
        assert (e.value.field, e.value.rule) == ("out", "no_folder")
    assert export_path(f"{tmp_path}/", "r.xlsx", "xlsx") == tmp_path / "r.xlsx"
    with pytest.raises(ValidationError):
        export_path(f"{tmp_path}/nope/", "r.xlsx", "xlsx")


FULL_WIDTH = "９１３５０１００Ｍ０００１００Ｙ４３"  # 91350100M000100Y43 typed with a Chinese input method


def test_full_width_uscc_is_read_as_half_width() -> None:
    from qi_station.core.validate import uscc_warnings, validate_uscc

    assert validate_uscc(FULL_WIDTH) == "91350100M000100Y43"
    assert validate_uscc("91350100m000100y43") == "91350100M000100Y43"
    assert uscc_warnings(FULL_WIDTH) == uscc_warnings("91350100M000100Y43")


@pytest.mark.parametrize(
    ("code", "shown", "iosvz"),
    [
        ("91350100M0001-0Y43", "'-'", False),
        ("91350100M0001O0Y43", "'O'", True),
        ("91350100M0001中0Y4x", "'中'", False),
    ],
)
def test_bad_uscc_character_is_named(code: str, shown: str, iosvz: bool) -> None:
    from qi_station.core.errors import ValidationError
    from qi_station.core.validate import validate_uscc

    with pytest.raises(ValidationError) as e:
        validate_uscc(code)
    assert e.value.rule == "uscc_charset" and f"illegal character {shown} at position 14" in e.value.message
    assert ("I O S V Z" in e.value.message) is iosvz


def test_full_width_uscc_through_the_cli(app_db: tuple[Any, Path]) -> None:
    res = invoke(
        app_db,
        "--operator", "测试员", "request", "add", "--enterprise", "全角测试有限公司", "--uscc", FULL_WIDTH,
        "--elements", "metrology", "--title", "校准", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "91350100M000100Y43" in res.output


def _uscc(first17: str) -> str:
    from qi_station.core.validate import uscc_check_char

    return first17 + uscc_check_char(first17)


def test_enterprise_json_times_have_an_offset(app_db: tuple[Any, Path]) -> None:
    import json

    from qi_station.services import ledger

    _app, db = app_db
    uscc = _uscc("91370100MA3C00001")
    base = {"uscc": uscc, "elements": "metrology", "title": "校准", "operator": "测试员"}
    ledger.create_request(db, ledger.RequestInput(enterprise="旧名机械有限公司", **base))
    ledger.create_request(db, ledger.RequestInput(enterprise="新名机械有限公司", renamed=True, **base))
    res = invoke(app_db, "enterprise", "show", uscc, "--json")
    assert res.exit_code == 0, res.output
    e = json.loads(res.output)
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
    assert e["names"][0]["name"] == "旧名机械有限公司" and iso.match(e["names"][0]["until"]), e["names"]
    assert e["names"][-1]["until"] is None
    assert all(iso.match(r["received_at"]) for r in e["request_list"]), e["request_list"]
    assert iso.match(e["created_at"])


def _count(db: Path, table: str) -> int:
    import sqlite3

    with sqlite3.connect(db) as c:
        return int(c.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_move_reports_every_bad_field(app_db: tuple[Any, Path]) -> None:
    from qi_station.services import ledger

    _app, db = app_db
    r = ledger.create_request(
        db,
        ledger.RequestInput(
            enterprise="移动测试机械有限公司", uscc=_uscc("91370100MA3C00002"), elements="metrology", title="校准",
            operator="测试员",
        ),
    )  # fmt: skip
    before = _count(db, "request_event")
    res = invoke(
        app_db, "--operator", "测试员", "request", "move", r["number"], "accepted",
        "--cost-saved", "-1", "--satisfaction", "9", "--at", "soon",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    fields = [line.split(":")[1].strip() for line in res.output.strip().splitlines()]
    assert fields == ["cost_saved", "satisfaction", "at"], res.output
    assert _count(db, "request_event") == before


def test_activity_reports_every_bad_field_and_refuses_far_future(app_db: tuple[Any, Path]) -> None:
    _app, db = app_db
    before = _count(db, "activity")
    res = invoke(
        app_db, "--operator", "测试员", "activity", "add", "--kind", "party", "--date", "2099-01-01",
        "--enterprises", "-3", "--people", "5", "--title", "",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["kind", "date", "enterprises", "title"], lines
    assert "[not_future]" in lines[1] and "2099-01-01" in lines[1]
    assert _count(db, "activity") == before


def test_not_future_rule() -> None:
    from datetime import date, datetime, timedelta

    from qi_station.core.activity import check_activity
    from qi_station.core.clock import check_not_future
    from qi_station.core.errors import ValidationError

    now = datetime(2026, 3, 20, 2, 0)  # 10:00 in Shanghai
    check_not_future(date(2026, 3, 21), "date", now)  # tomorrow: another clock's day
    check_not_future(now + timedelta(minutes=4), "at", now)
    for value in (date(2026, 3, 22), now + timedelta(minutes=6)):
        with pytest.raises(ValidationError) as e:
            check_not_future(value, "x", now)
        assert (e.value.field, e.value.rule) == ("x", "not_future")
    row = {"kind": "visit", "date": "2099-01-01", "enterprises": 1, "people": 1, "title": "走访"}
    with pytest.raises(ValidationError):
        check_activity(row, now)
    assert check_activity(row, now, new=False)["date"] == date(2099, 1, 1)  # the hub: a station's row


@pytest.mark.parametrize(
    "args",
    [
        ["request", "list"],
        ["activity", "list"],
        ["library", "search", "institutions", "济南"],
        ["library", "expiring"],
        ["enterprise", "show", "91350100M000100Y43"],
    ],
)
def test_count_lines_end_with_a_newline(app_db: tuple[Any, Path], args: list[str]) -> None:
    """Rows on stdout, the count (``N 条``) on stderr: every line ends in a newline, so a shell prompt
    or the next command's output never lands on the count line."""
    _app, db = app_db
    p = _run(*args, db=db)
    assert p.returncode in (0, 2), p.stderr
    for text in (p.stdout, p.stderr):
        assert text == "" or text.endswith("\n"), repr(text[-40:])


@pytest.mark.parametrize(
    "args",
    [
        ["request", "list", "--limit", "99999999999999999999999"],
        ["library", "search", "experts", "王", "--limit", "99999999999999999999"],
    ],
)
def test_a_whole_number_too_large_for_the_database_is_refused_in_project_form(
    app_db: tuple[Any, Path], args: list[str]
) -> None:
    """The attacker trial: a 20-digit --limit ended in an OverflowError traceback."""
    res = invoke(app_db, *args)
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: --limit: "), res.output
    assert FORM.match(res.output.strip()) and "Traceback" not in res.output, res.output


def test_a_postgresql_hub_without_psycopg_is_refused_in_project_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """The attacker trial: a default install (no ``postgres`` extra) gave a ModuleNotFoundError traceback."""
    import sys

    from qi_station.core.errors import ValidationError
    from qi_station.sync.hub.base import HubBase

    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg -> ImportError
    with pytest.raises(ValidationError) as got:
        HubBase("postgresql://qi@127.0.0.1/qi_hub")
    assert (got.value.field, got.value.rule) == ("database_url", "driver")
    assert "qi-station[postgres]" in got.value.message
