"""Outside attacker, today, item 10: the import's summary counts rows (not errors), and a formula cell
with no computed value is said as such (``[formula]``), not as an empty cell."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_import import ROW1, ROW2, USCC_A, counts, gbk_csv

from qi_station.services.importer import ImportRefused, import_ledger


def test_the_summary_counts_rows_not_errors(db: Path, tmp_path: Path) -> None:
    two = ROW2.replace("{b}", "91110000600037341X").replace("电话", "飞鸽")  # two bad fields in one row
    f = gbk_csv(tmp_path / "台账.csv", ROW1, two)
    with pytest.raises(ImportRefused) as e:
        import_ledger(db, f)
    s = e.value.summary
    assert len(s["refused"]) == 2 and s["refused_rows"] == 1
    assert e.value.message.startswith("1 rows refused"), e.value.message


def test_a_formula_without_a_value_is_said_so(db: Path, tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["企业名称", "统一社会信用代码", "服务类型", "需求描述", "受理日期"])
    ws.append(["济南测试机械有限公司", USCC_A, "计量", "压力表检定", "2025-03-05"])
    ws.append(["=A2", USCC_A, "计量", "再次检定", "2025-03-06"])  # openpyxl keeps no computed value
    f = tmp_path / "台账.xlsx"
    wb.save(f)
    before = counts(db)
    with pytest.raises(ImportRefused) as e:
        import_ledger(db, f)
    assert counts(db) == before
    got = [(r["row"], r["column"], r["field"], r["rule"]) for r in e.value.summary["refused"]]
    assert got == [(3, "企业名称", "enterprise", "formula")], got
    assert "=A2" in e.value.summary["refused"][0]["message"]
