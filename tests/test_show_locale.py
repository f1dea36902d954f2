"""``request show`` in the locale: the first line's overdue mark is the catalogue's word (zh 逾期, en
overdue; ``i18n.word``), and a rectify record's history line names 整改人, who did the rectification
(``i18n.event_detail``, the one text of the CLI and the detail screen's history)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_sync_util import request_input
from typer.testing import CliRunner

from qi_station.services import ledger


def _show(db: Path, number: str, *lang: str) -> str:
    from qi_station.cli.commands import app

    out = CliRunner().invoke(app, ["--db", str(db), *lang, "request", "show", number])
    assert out.exit_code == 0, out.output
    return out.output


def test_overdue_mark_follows_the_language(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", "2026-03-02T10:00:00+08:00")
    r = ledger.create_request(db, request_input(1, 1))
    monkeypatch.setenv("QI_STATION_NOW", "2026-05-04T10:00:00+08:00")  # weeks past its promise
    zh = _show(db, r["number"]).splitlines()[0]
    en = _show(db, r["number"], "--lang", "en").splitlines()[0]
    assert zh.endswith("（逾期）") and "overdue" not in zh, zh
    assert en.endswith("(overdue)") and "逾期" not in en, en


def test_history_names_who_did_the_rectification(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qi_station.i18n import event_detail

    monkeypatch.setenv("QI_STATION_NOW", "2026-03-02T10:00:00+08:00")
    r = ledger.create_request(db, request_input(1, 1))
    for st in ("accepted", "in_progress"):
        ledger.move_request(db, r["id"], st)
    ledger.move_request(db, r["id"], "resolved", result="完成", problems_solved=1)
    ledger.move_request(db, r["id"], "closed", satisfaction=2)
    ledger.rectify_request(db, r["id"], "重新上门讲解", by="赵整改", actor="测试员")
    line = next(ln for ln in _show(db, r["number"]).splitlines() if " 整改 " in ln)
    assert "重新上门讲解" in line and "[整改人: 赵整改]" in line, line
    line = next(ln for ln in _show(db, r["number"], "--lang", "en").splitlines() if " rectify " in ln)
    assert "[Done by: 赵整改]" in line, line
    assert event_detail("status", {"by": "x"}, "zh") == ""  # only a rectify record has one


def test_chinese_show_writes_full_width_brackets(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every bracket ``request show`` adds to Chinese text is full-width （…）: the location, days taken, the outcome, the fee, the reopen, a corrected event (testers saw "(…)");
    English keeps (…)."""
    from qi_station.services.corrections import correct_request
    from qi_station.services.enterprises import locate_enterprise

    monkeypatch.setenv("QI_STATION_NOW", "2026-03-02T10:00:00+08:00")
    r = ledger.create_request(db, request_input(1, 1))
    locate_enterprise(db, r["uscc"], "370102")
    for status in ("accepted", "in_progress"):
        ledger.move_request(db, r["id"], status)
    ledger.move_request(db, r["id"], "resolved", result="已解决", problems_solved=1, cost_saved="1.5")
    ledger.move_request(db, r["id"], "in_progress", note="问题复现")
    monkeypatch.setenv("QI_STATION_NOW", "2026-05-04T10:00:00+08:00")  # past its promise: days taken
    ledger.move_request(
        db, r["id"], "resolved", result="再次解决", problems_solved=2, cost_saved="2", charged=True, fee="300"
    )
    correct_request(db, r["id"], "problems_solved", "3", "漏计")
    zh = _show(db, r["number"])
    for part in ("（所在地 ", "（重新办理）", "（解决问题 3，节约 2.00 万元）", "收费金额（元）: 300"):
        assert part in zh, (part, zh)
    assert "（已更正，见 #" in zh and "个工作日（" in zh, zh
    assert "(" not in zh and ")" not in zh, zh
    en = _show(db, r["number"], "--lang", "en")
    assert "(located in " in en and "(reopen" in en.lower() and "（" not in en, en
