"""op9b: a referral of a request the lifecycle does not move to 已转办 says so (CLI, TUI through
``i18n.referred_text``); the move refusal in the CLI's language."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db
from typer.testing import CliRunner

NEW = "QI0001-202603-0003"  # 已登记 (new)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)


def _cli(*args: str) -> tuple[int, str]:
    from qi_station.cli.commands import app as cli

    out = CliRunner().invoke(cli, list(args))
    return out.exit_code, out.output


def test_a_new_requests_referral_is_recorded_and_says_it_stays_new(tmp_path: Path) -> None:
    from qi_station.services import queries
    from qi_station.services.ledger import refer_request

    db = fixture_db(tmp_path)
    code, out = _cli("--db", str(db), "request", "refer", NEW, "--equipment", "eq-1")
    assert code == 0, out
    assert "已记录转办至 三坐标测量机" in out and "需求仍为「已登记」" in out, out
    d = queries.get_request(db, NEW)
    assert d["status"] == "new" and [r["item_name"] for r in d["referrals"]] == ["三坐标测量机"]
    (tmp_path / "b").mkdir()
    db2 = fixture_db(tmp_path / "b")
    ref = refer_request(db2, NEW, "equipment", "eq-1")
    assert ref["request_status"] == "new"
    code, out = _cli("--db", str(db2), "--lang", "en", "request", "refer", NEW, "--expert", "ex-1")
    assert code == 0 and "the request stays New" in out, out


def test_an_in_progress_referral_moves_and_says_referred(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    code, out = _cli("--db", str(db), "request", "refer", "QI0001-202603-0002", "--equipment", "eq-1")
    assert code == 0 and "仍为" not in out, out


@pytest.mark.parametrize(
    ("lang", "want", "not_want"),
    [
        ("zh", "不允许从「已登记」转为「已回访」", "cannot move"),
        ("en", "cannot move from New to Closed", "不允许"),
    ],
)
def test_the_cli_move_refusal_is_in_the_cli_language(
    tmp_path: Path, lang: str, want: str, not_want: str
) -> None:
    db = fixture_db(tmp_path)
    code, out = _cli("--db", str(db), "--lang", lang, "request", "move", NEW, "closed")
    assert code == 2 and want in out and not_want not in out and "[lifecycle]" in out, out
