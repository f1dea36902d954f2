"""An enterprise renamed many times keeps the newest former names that fit the hub's caps on a synced
row (``core.validate.OTHER_TEXT_MAX`` for ``former_names``, ``LONG_TEXT_MAX`` for its search text): a
longer row was refused by the hub (``max_length``), and that change and every one queued after it never
left the PC (an outside tester stalled a station's sync after 25 renames)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from test_core_cli import run

from qi_station.core.validate import LONG_TEXT_MAX, OTHER_TEXT_MAX
from qi_station.db.write import fetch_dict
from qi_station.services.enterprises import record_rename
from qi_station.sync.hub.rules import check_row

USCC = "91370100MA3C00002L"


def test_many_long_renames_stay_within_the_hubs_caps_and_keep_the_newest_names(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run(db, "init", "--station-code", "JN-GX03", "--station-name", "济南高新区工作站", "--region", "370100")
    names = [f"济南华宇精密机械制造有限公司{'长' * 60}第{i}分公司" for i in range(40)]
    run(
        db,
        "request",
        "add",
        "--enterprise",
        names[0],
        "--uscc",
        USCC,
        "--elements",
        "计量",
        "--title",
        "校准",
    )
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    for i, name in enumerate(names[1:], 1):
        known = fetch_dict(conn, "SELECT * FROM enterprise WHERE uscc = ?", (USCC,))
        row = record_rename(
            conn, known, name, True, "JN-GX03", at=datetime(2026, 11, 1, i % 24, tzinfo=UTC), by="测试员"
        )
        assert row is not None
        conn.commit()
        assert len(row["former_names"]) <= OTHER_TEXT_MAX, i
        assert all(len(row[c]) <= LONG_TEXT_MAX[c] for c in ("haystack", "haystack_py")), i
        check_row(i, "enterprise", dict(row), "JN-GX03")  # the hub takes it
    kept = [f["name"] for f in json.loads(row["former_names"])]
    assert 1 < len(kept) < len(names) - 1  # some dropped, the newest kept, oldest first
    assert kept == names[-1 - len(kept) : -1]
    assert row["name"] == names[-1]
