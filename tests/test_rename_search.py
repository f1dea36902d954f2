"""A renamed enterprise is still found by its former name (Chinese, initials, full pinyin) in the
request list (CLI ``request list --text``, the ledger's search) and the library search; the results
show the current name. Databases renamed before the rule are backfilled on upgrade (migration 0030)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from test_core_cli import run

from qi_station.db import engine
from qi_station.services.queries import list_requests
from qi_station.services.search import search

USCC = "91370682553562775A"
OLD = "烟台博达机械有限公司"
NEW = "烟台博达智能装备集团有限公司"
QUERIES = ("博达机械", "bdjx", "bodajixie")  # none of them is in the new name or its readings


def _add(db: Path, name: str, title: str, *extra: str) -> None:
    run(
        db,
        "request",
        "add",
        "--enterprise",
        name,
        "--uscc",
        USCC,
        "--elements",
        "计量",
        "--title",
        title,
        *extra,
    )


@pytest.fixture
def renamed(tmp_path: Path) -> Path:
    db = tmp_path / "s.db"
    run(db, "init", "--station-code", "YT-GX01", "--station-name", "烟台高新区工作站", "--region", "370600")
    _add(db, OLD, "校准一")
    _add(db, NEW, "校准二", "--contact", "王五", "--phone", "13800138000", "--renamed")
    return db


def _found(db: Path) -> None:
    for q in QUERIES:
        listed = json.loads(run(db, "request", "list", "--text", q, "--json").stdout)
        assert sorted(r["title"] for r in listed) == ["校准一", "校准二"], q
        lib = json.loads(run(db, "library", "search", "enterprises", q, "--json").stdout)
        assert [r["name"] for r in lib] == [NEW], q  # found by the old name, shown by the current one
        assert sorted(r["title"] for r in list_requests(db, text=q)) == ["校准一", "校准二"], q
        assert [r["name"] for r in search(db, "enterprises", q)] == [NEW], q


def test_a_renamed_enterprise_is_found_by_its_former_name(renamed: Path) -> None:
    _found(renamed)
    for q in ("博达智能", "bdzn"):  # and by its new one
        assert [r["name"] for r in search(renamed, "enterprises", q)] == [NEW]
    # the request search reads the former names, not the enterprise's city nor industry
    assert list_requests(renamed, text="烟台市") == []


def test_enterprises_renamed_before_the_upgrade_are_backfilled(renamed: Path) -> None:
    from qi_station.db.searchtext import FORMER_MARK

    with sqlite3.connect(renamed) as c:  # the search text as a rename wrote it before revision 0030
        c.execute(
            "UPDATE enterprise SET haystack = substr(haystack, 1, instr(haystack, ?) - 1), "
            "haystack_py = substr(haystack_py, 1, instr(haystack_py, ?) - 1)",
            (FORMER_MARK, FORMER_MARK),
        )
        c.execute("UPDATE alembic_version SET version_num = '0029'")
    c.close()
    assert search(renamed, "enterprises", "博达机械") == []
    engine.open_db(renamed)
    _found(renamed)
