"""Issue 9, item 16: data oddities an operator met in a day's work (duplicate elements, an item listed
twice in a report, the export's file name, format and folder, the reopen move's label)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from qi_station.core.validate import uscc_check_char

REPO = Path(__file__).resolve().parents[1]


def _uscc(region: str, serial: str) -> str:
    body = f"91{region}{serial}"
    return body + uscc_check_char(body)


# ---- an element listed twice ---------------------------------------------------------------------
def test_demo_rows_list_each_element_once() -> None:
    for f in sorted((REPO / "data" / "demo").glob("*.json")):
        for row in json.loads(f.read_text(encoding="utf-8")):
            els = row.get("elements") or []
            assert len(els) == len(set(els)), (f.name, row["name"], els)


def test_generator_industries_need_two_different_elements() -> None:
    from qi_station.devtools.generate.vocab import industry_elements

    for word, els in industry_elements().items():
        assert len(set(els)) == 2, (word, els)


def test_a_written_element_list_keeps_each_element_once(db: Path) -> None:
    """The core's one rule (``validate.unique_elements``) on every write of a library or enterprise row,
    whatever the caller passes (a list with a repeat, names, JSON text with a repeat)."""
    from qi_station.db import write

    cols = ("id", "name", "name_py", "name_initials", "haystack", "city_code", "elements", "rev", "seq")
    cols += ("deleted", "updated_at", "specialty", "employer", "title", "active_requests")
    base = {
        "city_code": "370100",
        "rev": 1,
        "seq": 0,
        "deleted": 0,
        "updated_at": "2025-01-01 00:00:00.000000",
    }
    base |= {"specialty": None, "employer": None, "title": None, "active_requests": 0}
    conn = sqlite3.connect(db)
    with conn:
        write.upsert_library_rows(
            conn,
            "expert",
            [
                {**base, "id": "e1", "name": "甲", "elements": ["testing", "检验检测", "metrology"]},
                {**base, "id": "e2", "name": "乙", "elements": '["brand", "brand"]'},
            ],
            cols,
        )
        write.upsert_enterprise(
            conn,
            {
                "name": "甲公司",
                "uscc": _uscc("370100", "MA3C00001"),
                "region_code": "370100",
                "city_code": "370100",
                "elements": ["ip", "ip"],
            },
            "QI0001",
        )
    got = dict(conn.execute("SELECT id, elements FROM expert").fetchall())
    ent = conn.execute("SELECT elements FROM enterprise").fetchone()[0]
    conn.close()
    assert json.loads(got["e1"]) == ["testing", "metrology"]
    assert json.loads(got["e2"]) == ["brand"]
    assert json.loads(ent) == ["ip"]


# ---- an item listed twice in a report -------------------------------------------------------------
def test_report_lists_a_renamed_equipment_once(db: Path) -> None:
    """Referrals keep the item's name as it was; an item renamed in the library between two referrals
    is still one item in the month's top list (counted twice, under its newest name)."""
    from qi_station.reports.figures import monthly_report
    from qi_station.services import ledger

    r = ledger.create_request(
        db,
        ledger.RequestInput(
            enterprise="济南甲科技有限公司",
            uscc=_uscc("370100", "MA3C00001"),
            elements="检验检测",
            title="检测",
            received_at="2026-01-05T09:00:00+08:00",
        ),
    )
    r2 = ledger.create_request(
        db,
        ledger.RequestInput(
            enterprise="济南甲科技有限公司",
            uscc=_uscc("370100", "MA3C00001"),
            elements="检验检测",
            title="再检测",
            received_at="2026-01-06T09:00:00+08:00",
        ),
    )
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO equipment (id, name, name_py, name_initials, haystack, elements, rev, seq, deleted,"
            " updated_at, shared) VALUES ('eq-1', '万能试验机', '', '', '', '[]', 1, 0, 0, '2025-01-01 00:00:00.000000', 1)"
        )
    ledger.refer_request(db, r["id"], "equipment", "eq-1", at="2026-01-10T10:00:00+08:00")
    with conn:  # the hub renames it
        conn.execute("UPDATE equipment SET name = '电子万能试验机' WHERE id = 'eq-1'")
    conn.close()
    ledger.refer_request(db, r2["id"], "equipment", "eq-1", at="2026-01-12T10:00:00+08:00")
    got = monthly_report(db, "2026-01")["referrals"]
    assert got["counts"]["equipment"] == 2
    assert got["top"]["equipment"] == [{"id": "eq-1", "name": "电子万能试验机", "count": 2}]


def test_report_tells_apart_two_equipment_of_the_same_name(db: Path) -> None:
    """Many institutions own an "X射线荧光光谱仪": the top list names each by model and owner, so two
    of them are not read as one item listed twice."""
    from qi_station.reports.figures import monthly_report
    from qi_station.reports.writers import breakdown_rows
    from qi_station.services import ledger

    conn = sqlite3.connect(db)
    with conn:
        for i, (short, model) in enumerate((("泰安检测", "XRF-1667"), ("青岛特检", "XRF-7070")), 1):
            conn.execute(
                "INSERT INTO institution (id, name, short_name, name_py, name_initials, haystack, elements, rev,"
                " seq, deleted, updated_at) VALUES (?, ?, ?, '', '', '', '[]', 1, 0, 0, '2025-01-01 00:00:00.000000')",
                (f"ins-{i}", f"{short}有限公司", short),
            )
            conn.execute(
                "INSERT INTO equipment (id, name, model, institution_id, name_py, name_initials, haystack,"
                " elements, rev, seq, deleted, updated_at, shared) VALUES (?, 'X射线荧光光谱仪', ?, ?, '', '', '',"
                " '[]', 1, 0, 0, '2025-01-01 00:00:00.000000', 1)",
                (f"eq-{i}", model, f"ins-{i}"),
            )
    conn.close()
    for i in (1, 2):
        r = ledger.create_request(
            db,
            ledger.RequestInput(
                enterprise="济南甲科技有限公司",
                uscc=_uscc("370100", "MA3C00001"),
                elements="检验检测",
                title=f"成分检测{i}",
                received_at="2026-01-05T09:00:00+08:00",
            ),
        )
        ledger.refer_request(db, r["id"], "equipment", f"eq-{i}", at="2026-01-10T10:00:00+08:00")
    report = monthly_report(db, "2026-01")
    top = report["referrals"]["top"]["equipment"]
    assert sorted(t["detail"] for t in top) == ["XRF-1667 · 泰安检测", "XRF-7070 · 青岛特检"]
    labels = sorted(
        item for cat, item, _n in breakdown_rows(report, "zh") if "设备" in cat and "X射线" in item
    )
    assert labels == ["X射线荧光光谱仪（XRF-1667 · 泰安检测）", "X射线荧光光谱仪（XRF-7070 · 青岛特检）"]


@pytest.mark.parametrize("value", ["认证、检测", "认证认可,检验检测", "certification testing"])
def test_elements_by_their_everyday_names(value: str) -> None:
    from qi_station.core.validate import parse_elements

    assert parse_elements(value) == ["certification", "testing"]


# ---- exports: format, default name, folder --------------------------------------------------------
def _report(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "qi_station",
            "--db",
            str(db),
            "report",
            "monthly",  # the default month (the last full one): always allowed, whatever today is
            *args,
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ},
        timeout=120,
    )


def test_an_out_extension_that_is_not_the_format_is_refused(db: Path, tmp_path: Path) -> None:
    p = _report(db, "--out", str(tmp_path / "月报.docx"))
    assert p.returncode == 2 and "[extension]" in p.stderr and ".docx" in p.stderr, p.stderr
    p = _report(db, "--format", "xlsx", "--out", str(tmp_path / "月报.csv"))
    assert p.returncode == 2 and "[extension]" in p.stderr and "与导出格式 xlsx 不符" in p.stderr
    assert not list(tmp_path.glob("月报*"))
    p = _report(db, "--out", str(tmp_path / "月报.csv"))  # the format follows the extension
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "月报.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_export_rules_in_one_place(tmp_path: Path) -> None:
    from qi_station.core.errors import ValidationError
    from qi_station.services import files

    formats = ("xlsx", "csv", "json", "md")
    assert files.export_format(None, None, formats) == "xlsx"
    assert files.export_format("a.MD", None, formats) == "md"
    assert files.export_format("a", "csv", formats) == "csv"
    for out, fmt in (("a.docx", None), ("a.docx", "xlsx"), ("a.json", "csv")):
        with pytest.raises(ValidationError) as e:
            files.export_format(tmp_path / out, fmt, formats)
        assert (e.value.field, e.value.rule) == ("out", "extension")
    assert files.report_name("QI0001", "2026-01", "csv") == "qi-report-QI0001-2026-01.csv"
    docs = Path(os.environ["XDG_DOCUMENTS_DIR"]) / "qi-station"
    assert not docs.exists()
    assert files.export_path(None, "r.xlsx", "xlsx") == docs / "r.xlsx" and docs.is_dir()  # made on demand
    assert files.export_path("sub/r", "x", "md", base=tmp_path) == tmp_path / "sub" / "r.md"


async def _export_from_the_screen(tmp_path: Path, typed: str) -> tuple[str, Path]:
    from test_tui_helpers import fixture_db
    from test_tui_journeys import make_app, settle
    from textual.widgets import Input, Static

    from qi_station.screens.reports import ReportsScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        scr = app.screen
        assert isinstance(scr, ReportsScreen)
        scr.query_one("#out", Input).value = typed
        await pilot.press("ctrl+e")
        status = scr.query_one("#export-status", Static)
        for _ in range(200):  # until the worker's answer lands
            await settle(pilot)
            text = str(status.render())
            if text and text != "正在保存...":
                break
        return text, Path(os.environ["XDG_DOCUMENTS_DIR"]) / "qi-station"


async def test_the_screen_exports_to_the_export_folder_under_the_cli_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_tui_helpers import FROZEN_NOW, NO_CONFIG

    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.chdir(tmp_path)  # the folder the program was started in
    text, docs = await _export_from_the_screen(tmp_path, "")
    written = docs / "qi-report-QI0001-2026-03.xlsx"
    assert written.is_file(), text
    assert str(written) in text  # the full path is shown
    assert not list(tmp_path.glob("qi-report-*"))


async def test_the_screen_refuses_a_docx_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_tui_helpers import FROZEN_NOW, NO_CONFIG

    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    text, docs = await _export_from_the_screen(tmp_path, "月报.docx")
    assert ".docx" in text and "不能导出" in text, text
    assert not docs.exists() or not list(docs.iterdir())
    assert not list(tmp_path.rglob("月报*"))


# ---- reopen --------------------------------------------------------------------------------------
async def test_reopen_is_named_and_the_old_result_is_shown_superseded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a resolved request the in-progress move is 重新办理 (not 办理); after it, the old result shows
    as superseded, and the timeline names the move."""
    from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db
    from test_tui_journeys import make_app, settle
    from textual.widgets import Button, Static

    from qi_station.screens.request_detail import RequestDetailScreen
    from qi_station.services import ledger

    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    db = fixture_db(tmp_path)
    r = ledger.create_request(
        db,
        ledger.RequestInput(
            enterprise="烟台甲机械有限公司", uscc=_uscc("370600", "MA3C00009"), elements="计量", title="校准"
        ),
    )
    for st in ("accepted", "in_progress"):
        ledger.move_request(db, r["id"], st)
    ledger.move_request(db, r["id"], "resolved", result="已出具校准证书", problems_solved=1)
    app = make_app(db)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        app.open_request(r["id"])
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, RequestDetailScreen)
        labels = [str(b.label) for b in detail.query(Button)]
        assert "重新办理 s" in labels and "办理 s" not in labels, labels
        assert "办理结果: 已出具校准证书" in str(detail.query_one("#fields", Static).render())
    ledger.move_request(db, r["id"], "in_progress", note="企业反馈证书有误")
    app = make_app(db)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        app.open_request(r["id"])
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, RequestDetailScreen)
        fields = str(detail.query_one("#fields", Static).render())
        assert "原办理结果（已重新办理，作废）: 已出具校准证书" in fields
        assert "办理结果: 已出具校准证书" not in fields.replace("原办理结果（已重新办理，作废）", "")
        assert "已办结 > 处理中 (重新办理)" in str(detail.query_one("#timeline", Static).render())


def test_cli_show_names_the_reopen_and_supersedes_the_result(db: Path) -> None:
    from qi_station.services import ledger

    r = ledger.create_request(
        db,
        ledger.RequestInput(
            enterprise="甲公司", uscc=_uscc("370100", "MA3C00001"), elements="计量", title="校准"
        ),
    )
    for st in ("accepted", "in_progress"):
        ledger.move_request(db, r["id"], st)
    ledger.move_request(db, r["id"], "resolved", result="已校准", problems_solved=1)
    ledger.move_request(db, r["id"], "in_progress")
    p = subprocess.run(
        [sys.executable, "-m", "qi_station", "--db", str(db), "request", "show", r["number"]],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert "原办理结果（已重新办理，作废）: 已校准" in p.stdout
    assert "已办结->处理中（重新办理）" in p.stdout  # labels, not codes (issue 9 item 11)


async def test_a_bundle_named_on_the_sync_screen_goes_to_the_export_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_tui_helpers import FROZEN_NOW, NO_CONFIG, fixture_db
    from test_tui_journeys import make_app, settle
    from textual.widgets import Input

    from qi_station.sync.station import bundles

    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.chdir(tmp_path)
    asked: list[Path] = []

    def fake_export(db: Path, out: Path, **_kw: object) -> dict[str, str]:
        asked.append(Path(out))
        return {"path": str(out)}

    monkeypatch.setattr(bundles, "export_bundle", fake_export)
    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        app.screen.query_one("#bundle", Input).value = "站点变更.qib"
        await pilot.press("ctrl+e")
        for _ in range(200):  # until the worker has called the export
            await settle(pilot)
            if asked:
                break
    assert asked == [Path(os.environ["XDG_DOCUMENTS_DIR"]) / "qi-station" / "站点变更.qib"]
