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
