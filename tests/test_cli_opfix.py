"""CLI findings of an outside operator: ``request correct --field`` takes the labels the app shows, and
says what it corrected by that label in Chinese."""

from __future__ import annotations

import json
from pathlib import Path

from test_core_cli import run


def _resolved(db: Path) -> str:
    run(db, "init", "--station-code", "JN-GX01", "--station-name", "济南高新区工作站", "--region", "370100")
    out = run(
        db,
        "request",
        "add",
        "--enterprise",
        "济南示例机械有限公司",
        "--uscc",
        "91350100M000100Y43",
        "--elements",
        "计量",
        "--title",
        "校准",
        "--json",
    )
    num = str(json.loads(out.stdout)["number"])
    for move in ("受理", "办理"):
        run(db, "request", "move", num, move)
    run(db, "request", "move", num, "办结", "--result", "完成", "--problems-solved", "1")
    return num


def test_request_correct_takes_the_chinese_label_and_answers_with_it(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    num = _resolved(db)
    p = run(db, "request", "correct", num, "--field", "节约成本", "--value", "0.8", "--reason", "漏填")
    assert "已更正 节约成本（万元）: 0.00 -> 0.80" in p.stdout, p.stdout
    p = run(db, "request", "correct", num, "--field", "解决问题数", "--value", "2", "--reason", "漏计")
    assert "已更正 解决问题数: 1 -> 2" in p.stdout, p.stdout
    p = run(db, "request", "correct", num, "--field", "nonsense", "--value", "2", "--reason", "x", ok=False)
    assert p.returncode == 2


def test_hub_commands_answer_in_the_clis_language(tmp_path: Path) -> None:
    """``hub init`` answered in Chinese, ``hub add-station`` / ``import-bundle`` / ``export-bundle`` in
    English only: each follows ``--lang`` (Chinese unless English is asked for)."""
    import os

    from test_sync_cli import run as cli
    from test_sync_util import request_input

    from qi_station.services import ledger

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert cli("hub", "init", "--database-url", url).returncode == 0
    r = cli("hub", "add-station", "zb01", "--name", "淄博站", "--database-url", url)
    assert "一次性注册令牌" in r.stdout, r.stdout
    token = r.stdout.strip().splitlines()[-1]
    db = tmp_path / "站点.db"
    env = dict(os.environ, QI_STATION_DB=str(db))
    assert cli("sync", "enroll", "--token", token, env=env).returncode == 0
    ledger.create_request(db, request_input(1, 1))
    up = tmp_path / "up.zip"
    assert cli("sync", "export-bundle", "--out", str(up), env=env).returncode == 0
    # the export is in F6's log (sync_log, 导出数据包), and is no sync on the dashboard
    import sqlite3

    from qi_station.services.dashboard import sync_figures

    conn = sqlite3.connect(db)
    assert conn.execute("SELECT mode, pushed, ok FROM sync_log WHERE mode = 'bundle-out'").fetchall() == [
        ("bundle-out", 3, 1)
    ]
    last, _ok, _pending = sync_figures(conn)
    conn.close()
    assert last is None
    r = cli("hub", "import-bundle", str(up), "--database-url", url)
    assert r.returncode == 0 and r.stdout.startswith("已导入：工作站 ZB01，"), r.stdout + r.stderr
    r = cli("--lang", "en", "hub", "import-bundle", str(up), "--database-url", url)
    assert r.stdout.startswith("already_imported: station ZB01"), r.stdout + r.stderr
    r = cli(
        "hub", "export-bundle", "--station", "ZB01", "--out", str(tmp_path / "d.zip"), "--database-url", url
    )
    assert r.stdout.startswith("已写出 "), r.stdout + r.stderr
