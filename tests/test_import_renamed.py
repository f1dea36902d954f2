"""``request import --renamed``: a historical ledger where one USCC has two names is refused
``[renamed]`` unless the operator confirms the renames; then each is recorded by THE rename path
(``services.enterprises.record_rename``, as ``request add --renamed`` and the form's 企业改名了吗 answer),
in order of receipt."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from test_import import ROW1, ROW2, USCC_A, counts, gbk_csv

NEW = "济南另一个名称有限公司"
#: USCC_A under a new name, received 2025-04-01 (after ROW1's 2025-03-05) but written first in the file
ROW_NEW = ROW2.replace("2,青岛样例食品有限公司,{b}", f"2,{NEW},{{a}}")


@pytest.fixture(autouse=True)
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", "2026-11-30T12:00:00Z")


def _enterprise(db: Path) -> tuple[str, list[dict[str, str]]]:
    conn = sqlite3.connect(db)
    try:
        name, former = conn.execute(
            "SELECT name, former_names FROM enterprise WHERE uscc = ?", (USCC_A,)
        ).fetchone()
        return name, json.loads(former)
    finally:
        conn.close()


def test_two_names_in_the_file_are_renames_in_order_of_receipt(db: Path, tmp_path: Path) -> None:
    from qi_station.services.enterprises import get_enterprise
    from qi_station.services.importer import ImportRefused, import_ledger
    from qi_station.services.queries import get_request

    f = gbk_csv(tmp_path / "台账.csv", ROW_NEW, ROW1.replace("1,", "3,", 1))
    with pytest.raises(ImportRefused) as e:  # without the opt-in: refused, nothing written
        import_ledger(db, f)
    assert {(r["row"], r["rule"]) for r in e.value.summary["refused"]} == {(3, "renamed")}
    before = counts(db)
    dry = import_ledger(db, f, dry_run=True, renamed=True)
    want = [{"row": 2, "uscc": USCC_A, "from": "济南测试机械有限公司", "to": NEW}]
    assert dry["renames"] == want and counts(db) == before  # said, not written
    got = import_ledger(db, f, renamed=True)
    assert got["imported"] == 2 and got["renames"] == want
    name, former = _enterprise(db)
    assert name == NEW  # the name of the latest receipt
    assert former == [{"name": "济南测试机械有限公司", "until": "2025-04-01 01:30:00.000000", "by": "测试员"}]
    assert [n["name"] for n in get_enterprise(db, USCC_A)["names"]] == ["济南测试机械有限公司", NEW]
    later = get_request(db, got["numbers"][-1])
    assert later["enterprise_name"] == NEW
    assert later["events"][0]["data"]["renamed_from"] == "济南测试机械有限公司"
    earlier = get_request(db, got["numbers"][0])
    assert "renamed_from" not in earlier["events"][0]["data"]
    assert import_ledger(db, f, renamed=True)["imported"] == 0  # a reimport renames nothing again
    assert _enterprise(db)[1] == former


def test_a_registered_name_is_renamed_as_request_add_does(db: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qi_station.cli.commands import app
    from qi_station.services.ledger import RequestInput, create_request

    create_request(db, RequestInput(enterprise="甲公司", uscc=USCC_A, elements="计量", title="先登记"))
    f = gbk_csv(tmp_path / "台账.csv", ROW1)
    refused = CliRunner().invoke(app, ["--db", str(db), "request", "import", str(f)])
    assert refused.exit_code == 2 and "[renamed]" in refused.output
    out = CliRunner().invoke(app, ["--db", str(db), "request", "import", str(f), "--renamed"])
    assert out.exit_code == 0, out.output
    assert f"{USCC_A}: 「甲公司」 → 「济南测试机械有限公司」" in out.output
    name, former = _enterprise(db)
    assert (name, [x["name"] for x in former]) == ("济南测试机械有限公司", ["甲公司"])


def test_the_latest_receipt_s_contact_data_wins_whatever_the_file_order(db: Path, tmp_path: Path) -> None:
    """The rows are written in order of receipt (popped from a reversed list): the enterprise keeps the
    contact data of the row received last, not of the row received first (a merge of the streaming import
    with ``--renamed`` once took the wrong end of that list)."""
    from qi_station.services.importer import import_ledger

    later = (
        ROW1.replace("1,", "2,", 1)
        .replace("张三,13812345678", "赵六,13900001111")
        .replace("2025/3/5", "2025/6/5")
    )
    later = later.replace("2025-03-20", "2025-06-20").replace("2025年3月18日", "2025年6月18日")
    f = gbk_csv(tmp_path / "台账.csv", later, ROW1)  # the later receipt written first
    assert import_ledger(db, f)["imported"] == 2
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT * FROM enterprise WHERE uscc = ?", (USCC_A,)).fetchone()
        cols = [d[0] for d in conn.execute("SELECT * FROM enterprise LIMIT 0").description]
    finally:
        conn.close()
    ent = dict(zip(cols, row, strict=True))
    assert "13900001111" in json.dumps(ent, ensure_ascii=False)
    assert "13812345678" not in json.dumps(ent, ensure_ascii=False)
