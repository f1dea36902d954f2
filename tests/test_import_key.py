"""Outside attacker: ``request import`` knows a row imported before by what the row MEANS (the values the
import reads, as it parses them, and the row's occurrence among identical rows), not by its raw text: the
same ledger saved again by Excel, with a column more the import ignores, or under a header synonym,
imports nothing again."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_import import _cli, counts

from qi_station.services.importer import import_ledger

HEAD = "企业名称,统一社会信用代码,服务类型,需求标题,受理日期\n"
ROWS = (
    "测试甲有限公司,91370100MA3C00010F,标准,咨询,2026-03-05\n"
    "测试甲有限公司,91370100MA3C00010F,标准,咨询,2026-03-05\n"
    "测试乙有限公司,91370100MA3C00020G,计量,校准,2026-03-06\n"
)


@pytest.fixture(autouse=True)
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", "2026-11-30T12:00:00Z")


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8-sig")
    return path


@pytest.fixture
def first(db: Path, tmp_path: Path) -> Path:
    """The ledger imported once: 3 rows, two of them identical (two requests)."""
    got = import_ledger(db, _csv(tmp_path / "a.csv", HEAD + ROWS))
    assert got["imported"] == 3 and counts(db)["request"] == 3  # identical rows: both imported
    return db


@pytest.mark.parametrize(
    "text",
    [
        # saved again by Excel: dates as 2026/3/5
        HEAD + ROWS.replace("2026-03-05", "2026/3/5").replace("2026-03-06", "2026/3/6"),
        # a column more, empty, that the import ignores
        HEAD.replace("\n", ",\n") + ROWS.replace("\n", ",\n"),
        HEAD.replace("\n", ",备用\n") + ROWS.replace("\n", ",\n"),
        # a header synonym the import maps to the same field
        HEAD.replace("企业名称", "企业") + ROWS,
        # USCC in lower case (normalised by the import), columns in another order
        "受理日期,需求标题,服务类型,统一社会信用代码,企业名称\n"
        + "".join(",".join(reversed(r.split(","))) + "\n" for r in ROWS.lower().splitlines()),
    ],
    ids=["excel-dates", "empty-column", "empty-named-column", "header-synonym", "lowercase-reordered"],
)
def test_the_same_ledger_written_otherwise_imports_nothing_again(
    first: Path, tmp_path: Path, text: str
) -> None:
    before = counts(first)
    f = _csv(tmp_path / "a_excel.csv", text)
    got = import_ledger(first, f)
    assert got["imported"] == 0 and got["already_imported"] == 3
    assert got["imported_before"] == [{"source": "a.csv", "rows": 3}]
    assert counts(first) == before
    p = _cli(first, "request", "import", str(f))
    assert p.returncode == 0 and "3 行此前已从 a.csv (3) 导入，跳过" in p.stdout, p.stdout + p.stderr
    assert counts(first) == before


def test_a_third_identical_row_is_a_new_request(first: Path, tmp_path: Path) -> None:
    third = ROWS.splitlines()[0].replace("2026-03-05", "2026/3/5") + "\n"
    got = import_ledger(first, _csv(tmp_path / "b.csv", HEAD + ROWS + third))
    assert got["imported"] == 1 and got["already_imported"] == 3


def test_a_row_really_edited_is_new(first: Path, tmp_path: Path) -> None:
    edited = ROWS.replace("2026-03-06", "2026/3/7")
    got = import_ledger(first, _csv(tmp_path / "c.csv", HEAD + edited))
    assert got["imported"] == 1 and got["already_imported"] == 2
    assert counts(first)["request"] == 4


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("100", "1.5"), ("100.00", "1.50")),
        (("１００", "1,200.5"), ("100.0", "1200.50")),
        (("0", ""), ("0.00", "")),
    ],
)
def test_money_of_equal_value_is_one_key(a: tuple[str, str], b: tuple[str, str]) -> None:
    """A fee of 100 and of 100.00 (or 节约成本 1.5 and 1.50) is one value: the key reads money through the
    money rule (``core.validate.parse_cost``, written by ``money_text``), so the rows match."""
    from qi_station.services.importer.rows import row_key, row_meaning

    cols = {0: "fee", 1: "cost_saved"}
    assert row_key(row_meaning(cols, a), 0) == row_key(row_meaning(cols, b), 0)
    assert row_meaning(cols, a) != row_meaning(cols, ("100.01", a[1]))  # another value: another row
