"""Outside attacker (atkfix 2, 3, 5, 6): ``request import`` recognises rows imported before from a file of
another name, reads the sheet the user sees, merged cells, and bounds what it prints."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from test_import import HEAD, ROW1, ROW2, USCC_A, USCC_B, _cli, counts, gbk_csv

from qi_station.services.importer import import_ledger
from qi_station.services.importer.rows import row_key, row_meaning, row_text
from qi_station.services.importer.sheet import load_mapping, map_headers, read_sheet

pytestmark = pytest.mark.usefixtures("_now")


@pytest.fixture
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", "2026-10-05T10:00:00")


def test_a_copy_under_another_name_adds_nothing_and_names_the_first_file(db: Path, tmp_path: Path) -> None:
    f = gbk_csv(tmp_path / "mac.csv", ROW1, ROW2)
    assert import_ledger(db, f)["imported"] == 2
    before = counts(db)
    copy = tmp_path / "mac (1).csv"
    shutil.copy(f, copy)
    got = import_ledger(db, copy)
    assert got["imported"] == 0 and got["already_imported"] == 2
    assert got["imported_before"] == [{"source": "mac.csv", "rows": 2}]
    assert counts(db) == before
    p = _cli(db, "request", "import", str(copy))
    assert p.returncode == 0 and "2 行此前已从 mac.csv (2) 导入，跳过" in p.stdout, p.stdout + p.stderr
    # a new row in the copy is imported; the old ones still skipped
    more = gbk_csv(tmp_path / "mac (2).csv", ROW1, ROW2, ROW2.replace("ISO 9001", "ISO 14001"))
    got = import_ledger(db, more)
    assert got["imported"] == 1 and got["already_imported"] == 2


def test_rows_an_older_release_keyed_with_the_file_name_are_still_recognised(
    db: Path, tmp_path: Path
) -> None:
    f = gbk_csv(tmp_path / "old.csv", ROW1, ROW2)
    import_ledger(db, f)
    _rekey(db, f, "old.csv")
    copy = tmp_path / "renamed.csv"
    shutil.copy(f, copy)
    assert import_ledger(db, f)["already_imported"] == 2
    assert import_ledger(db, copy)["already_imported"] == 2
    assert counts(db)["request"] == 2


def _rekey(db: Path, f: Path, source: str | None) -> None:
    """Keep the keys of ``f``'s rows as an older release did: of the raw text, after the file's name."""
    table = load_mapping(None)
    sheet = read_sheet(f, table)
    cols, _unknown = map_headers(sheet.headers, table)
    conn = sqlite3.connect(db)
    with conn:
        changed = sum(
            conn.execute(
                "UPDATE import_row SET key = ? WHERE key = ?",
                (row_key(row_text(sheet.headers, row), 0, source), row_key(row_meaning(cols, row), 0)),
            ).rowcount
            for _row_no, row in sheet.rows
        )
    conn.close()
    assert changed == len(sheet.rows)  # every row's key was the one of its meaning


def test_rows_an_older_release_keyed_by_their_raw_text_are_still_recognised(db: Path, tmp_path: Path) -> None:
    f = gbk_csv(tmp_path / "raw.csv", ROW1, ROW2)
    import_ledger(db, f)
    _rekey(db, f, None)
    got = import_ledger(db, f)
    assert got["imported"] == 0 and got["already_imported"] == 2
    assert counts(db)["request"] == 2


def _cells(line: str) -> list[str | None]:
    return [c or None for c in line.rstrip("\n").format(a=USCC_A, b=USCC_B).split(",")]


def _book(path: Path, sheets: list[tuple[str, list[str], str]], active: int) -> Path:
    """A workbook of (title, lines, state) sheets, ``active`` the one open."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, lines, state in sheets:
        ws = wb.create_sheet(title)
        for line in lines:
            ws.append(_cells(line))
        ws.sheet_state = state
    wb.active = active
    wb.save(path)
    return path


def test_the_sheet_the_user_sees_is_read_and_named(db: Path, tmp_path: Path) -> None:
    bad = ROW2.replace("{b}", "91110000600037341X")
    hidden = ("旧表", [HEAD, ROW1], "hidden")
    f = _book(tmp_path / "mac.xlsx", [hidden, ("台账", [HEAD, ROW1, bad], "visible")], active=1)
    p = _cli(db, "request", "import", str(f))
    assert p.returncode == 2
    assert "台账 第 3 行  「统一社会信用代码」uscc:" in p.stderr, p.stderr
    assert "工作表「台账」" in p.stderr
    # the active sheet hidden: the first visible one
    g = _book(tmp_path / "g.xlsx", [hidden, ("台账", [HEAD, ROW1, ROW2], "visible")], active=0)
    got = import_ledger(db, g)
    assert got["sheet"] == "台账" and got["imported"] == 2


def test_a_merged_cell_is_read_into_every_row_it_covers(db: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    f = _book(
        tmp_path / "m.xlsx",
        [("台账", [HEAD, ROW1, ROW1.replace("压力表检定", "温度计检定")], "visible")],
        active=0,
    )
    wb = load_workbook(f)
    ws = wb["台账"]
    ws["B3"] = None  # 企业名称 and its 统一社会信用代码 merged over the two rows
    ws["C3"] = None
    ws.merge_cells("B2:B3")
    ws.merge_cells("C2:C3")
    wb.save(f)
    got = import_ledger(db, f)
    assert got["imported"] == 2
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT COUNT(DISTINCT enterprise_id) FROM request").fetchone()[0] == 1
    finally:
        conn.close()


def test_money_and_full_width_dates_as_written(db: Path, tmp_path: Path) -> None:
    from decimal import Decimal

    from qi_station.core import validate as v
    from qi_station.core.clock import parse_date, parse_datetime, parse_sheet_time
    from qi_station.core.errors import ValidationError
    from qi_station.services.importer.sheet import cell_text

    with pytest.raises(ValidationError) as e:
        v.parse_cost("0,100", "fee")
    assert e.value.field == "fee" and "comma only groups thousands" in e.value.message
    assert v.parse_cost("100,000.5", "fee") == Decimal("100000.50")
    with pytest.raises(ValidationError) as e:  # a numeric cell from Excel: its decimals, not "not a number"
        v.parse_cost(cell_text(1e-10), "fee")
    assert e.value.rule == "decimals" and "too many decimals" in e.value.message
    assert parse_sheet_time("２０２６－１０－０５", "received_at") == parse_sheet_time(
        "2026-10-05", "received_at"
    )
    assert parse_date("２０２６－１０－０５") == parse_date("2026-10-05")
    assert parse_datetime("２０２６－１０－０５ １０：３０") == parse_datetime("2026-10-05 10:30")
    # in an import: the full-width date read, the tiny fee refused by its decimals
    row = ROW1.replace("2025/3/5", "２０２５－０３－０５")
    f = _book(tmp_path / "w.xlsx", [("台账", [HEAD.replace("备注", "收费金额"), row], "visible")], active=0)
    from openpyxl import load_workbook

    wb = load_workbook(f)
    ws = wb["台账"]
    ws["N2"] = 1e-10  # the 收费金额 column, a number cell
    wb.save(f)
    p = _cli(db, "request", "import", str(f))
    assert p.returncode == 2 and "[decimals]" in p.stderr and "too many decimals" in p.stderr, p.stderr
    assert "received_at:" not in p.stderr and "1 rows refused" in p.stderr


def test_printed_refusals_are_capped_and_json_lists_every_one(db: Path, tmp_path: Path) -> None:
    import json

    bad = ROW2.replace("{b}", "91110000600037341X")
    rows = [bad.replace("ISO 9001", f"ISO {i}") for i in range(230)]
    f = gbk_csv(tmp_path / "many.csv", *rows)
    p = _cli(db, "request", "import", str(f))
    assert p.returncode == 2
    assert p.stderr.count("[uscc_checksum]") == 200
    assert "… 30 行未列出（--json 列出全部）" in p.stderr, p.stderr[-300:]
    p = _cli(db, "request", "import", str(f), "--json")
    got = json.loads(p.stdout)
    assert got["refused_rows"] == 230 and len(got["refused"]) == 230
    assert counts(db)["request"] == 0


def test_rows_written_in_chunks_keep_their_order_and_ledger(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qi_station.services.importer import run
    from qi_station.services.verify import verify_ledger

    monkeypatch.setattr(run, "WRITE_CHUNK", 2)
    rows = [
        ROW2.replace("ISO 9001", f"ISO {i}").replace("2025-04-01", f"2025-04-{10 - i:02d}") for i in range(5)
    ]
    got = import_ledger(db, gbk_csv(tmp_path / "c.csv", *rows))
    assert got["imported"] == 5 and got["numbers"] == ["QI0001-202504-0001", "QI0001-202504-0005"]
    conn = sqlite3.connect(db)
    try:  # numbered in order of receipt across the chunks
        got_rows = conn.execute("SELECT number, received_at FROM request ORDER BY number").fetchall()
    finally:
        conn.close()
    assert [r[1] for r in got_rows] == sorted(r[1] for r in got_rows)
    assert counts(db)["import_row"] == 5
    assert verify_ledger(db, record=False)["ok"]
