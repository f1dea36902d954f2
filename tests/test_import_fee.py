"""``request import`` reads an optional 收费金额 column (yuan) by the rule of ``request move resolved
--fee`` (``core.validate.parse_charge``, ``check_fee_on_resolve``): the resolution records it, so the
detail and the report show it; a bad fee refuses the whole file, naming the row, column, field, rule."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from test_import import USCC_A, USCC_B, counts

from qi_station.services.importer import ImportRefused, import_ledger
from qi_station.services.queries import get_request
from qi_station.services.verify import verify_ledger

HEAD = "企业名称,统一社会信用代码,服务类型,需求描述,受理日期,办结日期,办理结果,收费金额(元)\n"


def _csv(path: Path, *rows: str) -> Path:
    path.write_text(HEAD + "".join(rows), encoding="utf-8-sig")
    return path


def test_the_fee_column_is_imported(db: Path, tmp_path: Path) -> None:
    f = _csv(
        tmp_path / "t.csv",
        f'甲机械有限公司,{USCC_A},计量,检定,2025/3/5,2025/3/18,已完成,"1,200.5"\n',
        f"乙食品有限公司,{USCC_B},认证,咨询,2025/3/6,2025/3/19,已完成,0\n",
        f"甲机械有限公司,{USCC_A},计量,校准,2025/3/7,2025/3/20,已完成,\n",
    )
    got = import_ledger(db, f)
    assert got["columns"]["收费金额(元)"] == "fee" and got["imported"] == 3
    conn = sqlite3.connect(db)
    numbers = [n for (n,) in conn.execute("SELECT number FROM request ORDER BY received_at")]
    conn.close()
    fees = [get_request(db, n)["fee_yuan"] for n in numbers]
    assert fees == ["1200.50", "0.00", None]  # charged; free; no fee recorded (an empty cell)
    resolution = get_request(db, numbers[0])["events"][3]
    assert resolution["data"]["charged"] is True and resolution["data"]["fee"] == "1200.50"
    assert verify_ledger(db, record=False)["ok"]


@pytest.mark.parametrize(
    ("row", "expect"),
    [
        (f"甲,{USCC_A},计量,检定,2025/3/5,2025/3/18,已完成,12.345\n", ("fee", "decimals")),
        (f"甲,{USCC_A},计量,检定,2025/3/5,2025/3/18,已完成,-5\n", ("fee", "non_negative")),
        (f"甲,{USCC_A},计量,检定,2025/3/5,2025/3/18,已完成,五百\n", ("fee", "number")),
        (f"甲,{USCC_A},计量,检定,2025/3/5,,,500\n", ("fee", "only_on_resolve")),  # not resolved
    ],
)
def test_a_bad_fee_refuses_the_file(db: Path, tmp_path: Path, row: str, expect: tuple[str, str]) -> None:
    f = _csv(tmp_path / "t.csv", f"乙食品有限公司,{USCC_B},认证,咨询,2025/3/6,2025/3/19,已完成,10\n", row)
    before = counts(db)
    with pytest.raises(ImportRefused) as e:
        import_ledger(db, f)
    refused = e.value.summary["refused"]
    assert [(r["row"], r["column"], r["field"], r["rule"]) for r in refused] == [(3, "收费金额(元)", *expect)]
    assert counts(db) == before
