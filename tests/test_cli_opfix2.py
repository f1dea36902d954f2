"""An outside operator's findings (round opfix2): in Chinese the sync and hub commands answer in
Chinese (as ``hub init`` does), English with ``--lang en``; ``--json`` keeps its machine keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_sync_util import request_input
from typer.testing import CliRunner

from qi_station.services import ledger


def cli(*args: str) -> Any:
    from qi_station.cli.commands import app

    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def _ascii_head(line: str) -> bool:
    """The line leads with English (its first word ASCII letters)."""
    head = line.strip().split(" ")[0]
    return head.isascii() and any(c.isalpha() for c in head)


def test_sync_and_hub_commands_answer_in_the_cli_language(tmp_path: Path) -> None:
    from qi_station.cli.sync import ledger_line
    from qi_station.db.session import dispose_all

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    db = tmp_path / "st.db"
    try:
        cli("hub", "init", "--database-url", url)
        token = cli("hub", "add-station", "ZB01", "--name", "淄博站", "--database-url", url).splitlines()[-1]
        cli("--db", str(db), "sync", "enroll", "--token", token)
        ledger.create_request(db, request_input(1, 1))
        up, down = tmp_path / "up.zip", tmp_path / "down.zip"
        out = cli("--db", str(db), "sync", "export-bundle", "--out", str(up))
        assert out.startswith("已写出 ") and "条变更" in out, out
        en = cli("--lang", "en", "--db", str(db), "sync", "export-bundle", "--out", str(up), "--force")
        assert en.startswith("wrote ") and "changes)" in en, en
        cli("hub", "import-bundle", str(up), "--database-url", url)
        cli("hub", "export-bundle", "--station", "ZB01", "--out", str(down), "--database-url", url)
        out = cli("--db", str(db), "sync", "import-bundle", str(down))
        assert out.startswith("已导入中心数据包") and "待上传 0 条" in out, out
        out = cli("--db", str(db), "sync", "import-bundle", str(down))  # the same bundle again
        assert out.startswith("数据包已过期或没有新内容") and "stale" not in out, out
        en = cli("--lang", "en", "--db", str(db), "sync", "import-bundle", str(down))
        assert en.startswith("stale: "), en
        status = cli("--db", str(db), "sync", "status")
        assert "本站" in status and "待上传变更" in status and "last_success" not in status, status
        assert all(not _ascii_head(line) for line in status.splitlines() if line.strip()), status
        en = cli("--lang", "en", "--db", str(db), "sync", "status")
        assert "last_success" in en and "pull_cursor" in en, en
        assert json.loads(cli("--db", str(db), "sync", "status", "--json"))["pending"] == 0
        stations = cli("hub", "stations", "--database-url", url)
        assert "已注册" in stations and "已确认至" in stations and "acked" not in stations, stations
        assert "acked" in cli("--lang", "en", "hub", "stations", "--database-url", url)
        verify = cli("hub", "verify", "--database-url", url).splitlines()[-1]
        assert verify.startswith("已核对 1 条需求") and verify.endswith("台账完整") and "intact" not in verify
        en = cli("--lang", "en", "hub", "verify", "--database-url", url).splitlines()[-1]
        assert en.startswith("1 requests") and en.endswith("checked: intact"), en
    finally:
        dispose_all()
    from qi_station.cli.kit import OPTS

    was = OPTS.lang
    try:
        OPTS.lang = "zh"
        assert ledger_line(True) == "台账校验通过"
        OPTS.lang = "en"
        assert ledger_line(True) == "ledger check: intact"
    finally:
        OPTS.lang = was


def test_an_empty_hub_bundle_is_no_sync_while_changes_wait(tmp_path: Path) -> None:
    """F6 after importing a hub bundle that acknowledged none of the 3 changes waiting: 上次同步 stays
    "从未同步" (it said 成功), ``last_success`` unset; the import's log row says only 收到 (no 上传).
    The hub's next bundle, acknowledging them: 上次同步 成功."""
    from qi_station.db.session import dispose_all
    from qi_station.i18n import get_lang, set_lang
    from qi_station.screens.sync import log_counts, status_lines
    from qi_station.services.workspace import sync_overview

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    db = tmp_path / "st.db"
    old = get_lang()
    set_lang("zh")
    try:
        cli("hub", "init", "--database-url", url)
        token = cli("hub", "add-station", "ZB01", "--name", "淄博站", "--database-url", url).splitlines()[-1]
        cli("--db", str(db), "sync", "enroll", "--token", token)
        ledger.create_request(db, request_input(1, 1))
        up, empty, down = tmp_path / "up.zip", tmp_path / "empty.zip", tmp_path / "down.zip"
        cli("hub", "export-bundle", "--station", "ZB01", "--out", str(empty), "--database-url", url)
        cli("--db", str(db), "sync", "export-bundle", "--out", str(up))
        cli("--db", str(db), "sync", "import-bundle", str(empty))
        ov = sync_overview(db)
        assert ov["pending"] == 3 and ov["ok"] is None, ov
        assert any("从未同步" in line for line in status_lines(ov)), status_lines(ov)
        assert json.loads(cli("--db", str(db), "sync", "status", "--json"))["last_success"] is None
        row = ov["log"][0]
        assert log_counts(row).startswith("收到") and "上传" not in log_counts(row)
        cli("hub", "import-bundle", str(up), "--database-url", url)
        cli("hub", "export-bundle", "--station", "ZB01", "--out", str(down), "--database-url", url)
        cli("--db", str(db), "sync", "import-bundle", str(down))
        ov = sync_overview(db)
        assert ov["pending"] == 0 and ov["ok"] is True and ov["last"], ov
        assert json.loads(cli("--db", str(db), "sync", "status", "--json"))["last_success"]
    finally:
        set_lang(old)
        dispose_all()
