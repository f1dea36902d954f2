"""``qi-station request import``: an existing spreadsheet ledger (xlsx, CSV in UTF-8 or GBK) into the
request ledger, all rows or none, by the same rules as ``request add``; a re-import adds nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from qi_station.core.errors import ValidationError
from qi_station.services.importer import ImportRefused, import_ledger

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "台账示例.xlsx"
USCC_A = "91350100M000100Y43"
USCC_B = "91110000600037341L"
HEAD = "序号,企业名称,统一社会信用代码,联系人,联系电话,服务类型,需求描述,受理日期,承诺办结日期,办结日期,办理结果,满意度,渠道,备注,走访人员\n"
ROW1 = "1,济南测试机械有限公司,{a},张三,13812345678,计量、检验检测,压力表检定,2025/3/5,2025-03-20,2025年3月18日,已完成检定,非常满意,来访,老客户,李四\n"
ROW2 = "2,青岛样例食品有限公司,{b},王五,0532-88886666,认证,ISO 9001 认证咨询,2025-04-01 9:30,,,,,电话,,\n"


def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("request", "request_event", "outbox", "enterprise", "import_row")
        }
    finally:
        conn.close()


def gbk_csv(path: Path, *rows: str) -> Path:
    path.write_bytes((HEAD + "".join(r.format(a=USCC_A, b=USCC_B) for r in rows)).encode("gb18030"))
    return path


def test_gbk_csv_rows_get_their_history_and_a_reimport_adds_nothing(db: Path, tmp_path: Path) -> None:
    from qi_station.services.queries import get_request
    from qi_station.services.verify import verify_ledger

    f = gbk_csv(tmp_path / "台账.csv", ROW1, ROW2)
    got = import_ledger(db, f)
    assert got["imported"] == 2 and got["already_imported"] == 0
    assert got["unknown_columns"] == ["走访人员"]
    assert got["columns"]["服务类型"] == "elements" and "序号" not in got["columns"]
    r = get_request(db, got["numbers"][0])
    assert r["number"].startswith("QI0001-202503-")  # numbered in the month of receipt
    assert r["status"] == "closed" and r["satisfaction"] == 5 and r["result"] == "已完成检定"
    assert r["elements"] == ["metrology", "testing"] and r["channel"] == "walk_in"
    kinds = [(e["kind"], e["to_status"]) for e in r["events"]]
    assert kinds == [
        ("created", "new"),
        ("status", "accepted"),
        ("status", "in_progress"),
        ("status", "resolved"),
        ("status", "closed"),
        ("note", "closed"),
    ]
    assert r["events"][0]["at"].startswith("2025-03-04 16:00")  # 2025/3/5 00:00 Asia/Shanghai, stored UTC
    assert r["events"][3]["at"].startswith("2025-03-17 16:00")
    assert "台账.csv 第 2 行" in r["events"][-1]["note"] and "老客户" in r["events"][-1]["note"]
    assert r["ledger_ok"]
    other = get_request(db, got["numbers"][1])
    assert other["status"] == "accepted" and other["channel"] == "phone"
    assert other["received_at"].startswith("2025-04-01 01:30")
    before = counts(db)
    assert before["import_row"] == 2
    conn = sqlite3.connect(db)
    pushed = {t for (t,) in conn.execute("SELECT DISTINCT table_name FROM outbox")}
    conn.close()
    assert pushed == {"enterprise", "request", "request_event"}  # it syncs
    again = import_ledger(db, f)
    assert again["imported"] == 0 and again["already_imported"] == 2
    assert counts(db) == before
    res = verify_ledger(db, record=False)
    assert res["ok"], res


def test_a_refused_row_imports_nothing_and_names_row_column_and_rule(db: Path, tmp_path: Path) -> None:
    bad = ROW2.replace("{b}", "91110000600037341X")  # bad check character
    f = gbk_csv(tmp_path / "台账.csv", ROW1, bad, ROW1.replace("非常满意", "6"))
    before = counts(db)
    with pytest.raises(ImportRefused) as e:
        import_ledger(db, f)
    assert counts(db) == before
    refused = e.value.summary["refused"]
    assert [(r["row"], r["column"], r["field"], r["rule"]) for r in refused] == [
        (3, "统一社会信用代码", "uscc", "uscc_checksum"),
        (4, "满意度", "satisfaction", "range_1_5"),
    ]
    assert e.value.exit_code == 2


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        (("2025年3月18日", "2025-03-01"), [("resolved_at", "after_received")]),
        (("2025年3月18日,已完成检定", ","), [("satisfaction", "after_resolved")]),
        (("已完成检定", ""), [("result", "required")]),
        (("2025/3/5", "2025/3/32"), [("received_at", "date")]),
        (("2025/3/5", "2099-01-01"), [("received_at", "not_future"), ("resolved_at", "after_received")]),
        (("计量、检验检测", "计量、天文"), [("elements", "element")]),
        (("来访", "上门"), [("channel", "choice")]),
    ],
)
def test_each_rule_of_request_add_and_move_applies(
    db: Path, tmp_path: Path, change: tuple[str, str], expect: list[tuple[str, str]]
) -> None:
    f = gbk_csv(tmp_path / "t.csv", ROW1.replace(*change))
    with pytest.raises(ImportRefused) as e:
        import_ledger(db, f)
    assert [(r["field"], r["rule"]) for r in e.value.summary["refused"]] == expect
    assert counts(db)["request"] == 0


def test_dry_run_writes_nothing(db: Path, tmp_path: Path) -> None:
    before = counts(db)
    got = import_ledger(db, gbk_csv(tmp_path / "t.csv", ROW1, ROW2), dry_run=True)
    assert got["to_import"] == 2 and got["imported"] == 0 and counts(db) == before


def test_identical_rows_are_two_requests_and_both_are_skipped_next_time(db: Path, tmp_path: Path) -> None:
    f = gbk_csv(tmp_path / "t.csv", ROW2, ROW2)
    assert import_ledger(db, f)["imported"] == 2
    assert import_ledger(db, f)["already_imported"] == 2
    assert counts(db)["request"] == 2


def test_mapping_file_overrides_the_default_table(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "own.csv"
    f.write_text(
        f"单位,代码,类别,事项,日期\n甲机械有限公司,{USCC_A},标准,团体标准咨询,2025-05-06\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as e:  # neither 单位 nor 代码 is a known header
        import_ledger(db, f)
    assert e.value.rule == "header"
    m = tmp_path / "map.toml"
    m.write_text(
        '"单位" = "enterprise"\n"代码" = "uscc"\n"类别" = "elements"\n"事项" = "title"\n"日期" = "received_at"\n',
        "utf-8",
    )
    got = import_ledger(db, f, mapping=m)
    assert got["imported"] == 1 and got["unknown_columns"] == []
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"单位": "company"}), encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        import_ledger(db, f, mapping=bad)
    assert (e.value.field, e.value.rule) == ("mapping", "field")


def test_ledger_numbers_stay_valid_after_an_import(db: Path, tmp_path: Path) -> None:
    """Historical rows take numbers in their month of receipt; the counters follow, so a later request
    of that month gets the next number and ``ledger verify`` stays green."""
    from qi_station.services import ledger
    from qi_station.services.verify import verify_ledger

    got = import_ledger(db, gbk_csv(tmp_path / "t.csv", ROW1, ROW1.replace("张三", "张四")))
    assert got["numbers"] == ["QI0001-202503-0001", "QI0001-202503-0002"]
    r = ledger.create_request(
        db,
        ledger.RequestInput(
            enterprise="济南测试机械有限公司",
            uscc=USCC_A,
            elements="计量",
            title="补登",
            received_at="2025-03-30T10:00",
        ),
    )
    assert r["number"] == "QI0001-202503-0003"
    assert verify_ledger(db, record=False)["ok"]


def test_the_sample_file_imports_whole(db: Path) -> None:
    """data/samples/台账示例.xlsx: a title line above the header, Excel dates and text dates, ratings
    as words and digits (``python data/make_samples.py`` writes it)."""
    from qi_station.services.verify import verify_ledger

    got = import_ledger(db, SAMPLE)
    assert got["header_row"] == 2 and got["imported"] == got["rows"] == 40
    assert got["unknown_columns"] == ["走访人员"]
    assert verify_ledger(db, record=False)["ok"]
    assert import_ledger(db, SAMPLE)["already_imported"] == 40


def test_the_sample_script_writes_the_committed_rows(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from qi_station.devtools.generate.ledger_sheet import ledger_rows, write_xlsx

    def cells(p: Path) -> list[tuple[object, ...]]:
        wb = load_workbook(p, read_only=True)
        try:
            return [tuple(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        finally:
            wb.close()

    assert cells(write_xlsx(tmp_path / "s.xlsx", ledger_rows(40))) == cells(SAMPLE)


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qi_station", "--db", str(db), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ},
        timeout=120,
    )


def test_cli_lists_refused_rows_then_imports_and_skips(db: Path, tmp_path: Path) -> None:
    bad = gbk_csv(tmp_path / "bad.csv", ROW1, ROW2.replace("{b}", "91110000600037341X"))
    p = _cli(db, "request", "import", str(bad))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "第 3 行  「统一社会信用代码」uscc:" in p.stderr and "[uscc_checksum]" in p.stderr
    assert "未识别的列（未导入）: 走访人员" in p.stderr
    assert counts(db)["request"] == 0
    good = gbk_csv(tmp_path / "good.csv", ROW1, ROW2)
    p = _cli(db, "request", "import", str(good), "--dry-run")
    assert p.returncode == 0 and "2 行可导入" in p.stdout and counts(db)["request"] == 0
    p = _cli(db, "request", "import", str(good))
    assert p.returncode == 0 and "已导入 2 行" in p.stdout, p.stderr
    p = _cli(db, "request", "import", str(good), "--json")
    assert p.returncode == 0
    assert json.loads(p.stdout)["already_imported"] == 2
    p = _cli(db, "request", "import", str(good))
    assert "2 行此前已从 good.csv (2) 导入，跳过" in p.stdout


def test_imported_rows_sync_to_the_hub_whole(tmp_path: Path) -> None:
    """The outbox rows of an import go through the hub's checks: every request arrives with its
    events, the hub's copy of the ledger verifies, nothing is left pending."""
    from fastapi.testclient import TestClient
    from test_sync_util import enroll_station, hub_requests

    from qi_station.db.session import dispose_all
    from qi_station.sync.hub.server import create_app
    from qi_station.sync.hub.store import Hub
    from qi_station.sync.station import client

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = Hub(url)
    hub.init(demo=False)
    tc = TestClient(create_app(url))
    try:
        db = tmp_path / "ZB01.db"
        enroll_station(db, hub, tc, "ZB01")
        got = import_ledger(db, SAMPLE)
        res = client.run_sync(db, http=tc, sleep=lambda s: None)
        assert res["pending"] == 0
        have = hub_requests(hub, "ZB01")
        assert len(have) == got["imported"] == 40
        assert {r["status"] for r in have.values()} >= {"closed", "accepted"}
        checked = hub.verify("ZB01")
        assert checked["ok"] and checked["requests"] == 40, checked
    finally:
        tc.close()
        dispose_all()
        hub.dispose()


def test_a_missing_column_is_named_once_and_an_xls_is_explained(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("企业名称,服务类型,受理日期,需求描述\n甲公司,计量,2025-01-02,校准\n", encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        import_ledger(db, f)
    assert (e.value.field, e.value.rule) == ("file", "columns") and "统一社会信用代码" in e.value.message
    old = tmp_path / "t.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ValidationError) as e:
        import_ledger(db, old)
    assert e.value.rule == "format" and "另存为 .xlsx" in e.value.message
    assert counts(db)["request"] == 0


def test_a_row_with_a_bad_date_still_shows_its_other_mistakes(db: Path, tmp_path: Path) -> None:
    row = ROW2.replace("2025-04-01 9:30", "2025-04-31").replace("认证", "天文")
    with pytest.raises(ImportRefused) as e:
        import_ledger(db, gbk_csv(tmp_path / "t.csv", row))
    assert [(r["row"], r["field"], r["rule"]) for r in e.value.summary["refused"]] == [
        (2, "received_at", "date"),
        (2, "elements", "element"),
    ]
