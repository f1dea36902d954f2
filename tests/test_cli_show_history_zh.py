"""An outside operator's finding (Chinese UI): ``qi-station request show`` printed its history in English
words (``created``, ``status``, ``referral``, ``-> equipment: …``). In Chinese they are the catalogue's
names, the ones the detail screen shows (``i18n.event_name``, ``i18n.kind_name``); ``--lang en`` keeps
the codes, and ``--json`` is unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db

NUMBER = "QI0001-202603-0002"  # in progress: referred to equipment below


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


def _show(db: Path, lang: str = "", as_json: bool = False) -> str:
    from typer.testing import CliRunner

    from qi_station.cli.commands import app as cli

    args = ["--db", str(db), *(["--lang", lang] if lang else []), "request", "show", NUMBER]
    out = CliRunner().invoke(cli, args + (["--json"] if as_json else []))
    assert out.exit_code == 0, out.output
    return out.output


def test_request_show_history_in_chinese(tmp_path: Path) -> None:
    from qi_station.i18n import event_name, kind_name, set_lang
    from qi_station.services.ledger import refer_request

    db = fixture_db(tmp_path)
    refer_request(db, NUMBER, "equipment", "eq-1", actor="测试员")
    before_json = json.loads(_show(db, as_json=True))
    zh = _show(db)
    history = [ln for ln in zh.splitlines() if re.match(r"\s+#\d+ ", ln)]
    assert history and all(not re.search(r"[A-Za-z]{3,}", ln) for ln in history), history
    assert any(" 登记" in ln for ln in history) and any(" 转办" in ln for ln in history), history
    assert "  -> 设备库: 三坐标测量机（eq-1）" in zh  # full-width brackets in Chinese (cli.requests._br)
    assert not re.search(r"\b(created|status|referral|equipment)\b", zh), zh
    en = _show(db, "en")
    assert " created" in en and " referral" in en and "  -> equipment: 三坐标测量机 (eq-1)" in en
    assert json.loads(_show(db, as_json=True)) == before_json
    assert json.loads(_show(db, "en", as_json=True)) == before_json
    # one home, the language given or the current one (the detail screen's)
    assert (event_name("created", "zh"), event_name("created", "en")) == ("登记", "logged")
    assert kind_name("equipment", "zh") == "设备库" and event_name("nonesuch", "zh") == "nonesuch"
    set_lang("en")
    try:
        assert event_name("referral") == "referred" and event_name("referral", "zh") == "转办"
    finally:
        set_lang("zh")
