"""What an outside operator found in the Chinese CLI (round op5): codes and English in its output, and
one type error hiding the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import ENTERPRISES, FROZEN_NOW, NO_CONFIG, fixture_db

NUMBER = "QI0001-202603-0002"  # in progress


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


def cli(db: Path, *args: str, code: int = 0) -> Any:
    from typer.testing import CliRunner

    from qi_station.cli.commands import app

    out = CliRunner().invoke(app, ["--db", str(db), *args])
    assert out.exit_code == code, out.output
    return out


def test_refer_and_enterprise_show_name_the_library_in_chinese(tmp_path: Path) -> None:
    """``已转办 -> institution …`` and ``转办 (1): … institution …``: the library's name (kind_name, as
    ``request show`` gives it) in Chinese; ``--lang en`` keeps the code."""
    db = fixture_db(tmp_path)
    out = cli(db, "request", "refer", NUMBER, "--institution", "in-1", "--reason", "企业指定").output
    assert out.strip() == "已转办 -> 机构库 烟台市计量测试所"
    show = cli(db, "enterprise", "show", ENTERPRISES[1][1]).output
    assert f"  {NUMBER}  机构库  烟台市计量测试所" in show
    assert "institution" not in show
    assert (
        f"  {NUMBER}  institution  烟台市计量测试所"
        in cli(db, "--lang", "en", "enterprise", "show", ENTERPRISES[1][1]).output
    )


def test_not_found_is_chinese_with_its_rule(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    err = cli(db, "request", "show", "NOSUCH", code=2).stderr
    assert err.strip() == "error: request not found: NOSUCH / 找不到需求: NOSUCH [not_found]"


def test_backup_says_it_in_chinese_with_a_readable_size(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    folder = tmp_path / "bk"
    folder.mkdir()
    out = cli(db, "backup", "--out", f"{folder}/").output.strip()
    assert out.startswith(f"备份已写入: {folder}/qi-backup-") and "bytes" not in out
    assert out.endswith(" KiB)") or out.endswith(" MiB)"), out


def test_human_size() -> None:
    from qi_station.i18n import human_size

    assert [human_size(n) for n in (0, 1023, 1024, 3 * 2**20 + 2**19, 5 * 2**30)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "3.5 MiB",
        "5.0 GiB",
    ]


def test_every_bad_field_of_activity_add_at_once(tmp_path: Path) -> None:
    """``--people x`` (a Typer int) hid the bad date, the negative count and the empty title: the counts
    are read as text and the core's rule names each bad field."""
    db = fixture_db(tmp_path)
    args = ["--kind", "visit", "--date", "2026-12-03", "--enterprises", "-1", "--people", "x", "--title", ""]
    err = cli(db, "activity", "add", *args, code=2).stderr
    tags = [ln.split(": ", 2)[1] + ln[ln.rindex(" [") :] for ln in err.strip().splitlines()]
    assert tags == [
        "date [not_future]",
        "enterprises [non_negative]",
        "people [integer]",
        "title [required]",
    ], err


def test_request_move_and_station_promise_report_every_bad_number(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    move = ["request", "move", NUMBER, "resolved", "--result", "完成", "--problems-solved", "x"]
    err = cli(db, *move, "--cost-saved", "-1", code=2).stderr
    assert "problems_solved:" in err and "[integer]" in err and "cost_saved:" in err, err
    err = cli(db, "station", "promise", "--normal", "x", "--urgent", "0", code=2).stderr
    assert "--normal:" in err and "--urgent:" in err, err
