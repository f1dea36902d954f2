"""Outside operator (opfix3) item 6: the CLI took 受理, 挂起, 计量 but refused ``library search 专家库``,
``activity add --kind 培训`` and ``report monthly --month ２０２６－１１`` (full-width); ``report monthly -o``
did not work like ``--out``. Choices are read by ``core.domain.code_of`` (its label tables), months by
``core.months.parse_month`` (full-width read as ASCII)."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_show_history_zh import _env  # noqa: F401 - fixture
from test_tui_helpers import fixture_db


def _cli(db: Path, *args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from qi_station.cli.commands import app as cli

    out = CliRunner().invoke(cli, ["--db", str(db), *args])
    return out.exit_code, out.output


def test_library_kind_by_its_chinese_name(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    code, want = _cli(db, "library", "search", "experts", "--json")
    assert code == 0, want
    for name in ("专家库", "专家", "ｅｘｐｅｒｔｓ"):
        code, got = _cli(db, "library", "search", name, "--json")
        assert code == 0 and json.loads(got) == json.loads(want), (name, got)
    code, got = _cli(db, "library", "search", "人才库")
    assert code == 2 and "kind" in got


def test_activity_kind_by_its_chinese_name(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    common = ["--date", "2026-03-10", "--enterprises", "3", "--people", "20", "--json"]
    code, got = _cli(db, "activity", "add", "--kind", "培训", "--title", "计量培训", *common)
    assert code == 0, got
    assert json.loads(got)["kind"] == "training"
    code, got = _cli(db, "activity", "add", "--kind", "Enterprise visit", "--title", "走访", *common)
    assert code == 0 and json.loads(got)["kind"] == "visit", got


def test_full_width_month_and_short_out(tmp_path: Path) -> None:
    from qi_station.core.months import check_month

    assert check_month("２０２６－１１") == "2026-11" and check_month("２０２６年３月") == "2026-03"
    db = fixture_db(tmp_path)
    code, got = _cli(db, "report", "monthly", "--month", "２０２６－０３", "-o", str(tmp_path / "m.csv"))
    assert code == 0, got
    assert (tmp_path / "m.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")[1] == "2026-03"
