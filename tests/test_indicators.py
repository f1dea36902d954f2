"""Indicators (issue 10, item 5): the definition file, the safe formula evaluator, the shipped default's
4 / 11 / 32 shape, hand-computed values on the ledger of ``test_report_figures``, the 指标 sheet and
``report indicators`` / ``hub report indicators``."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from test_report_figures import build
from test_reports import MONTH, _copy_station_into_hub

from qi_station.core.errors import ValidationError
from qi_station.reports.indicators import evaluate, load_indicators, parse_formula, parse_indicators


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    os.environ["QI_STATION_OPERATOR"] = "测试员"
    db = tmp_path_factory.mktemp("indicators") / "station.db"
    return db, build(db)


@pytest.fixture(scope="module")
def report(built: tuple[Path, dict[str, str]]) -> dict[str, Any]:
    from qi_station.reports.figures import monthly_report

    return monthly_report(built[0], MONTH)


def test_the_default_has_the_index_shape() -> None:
    spec = load_indicators()
    assert (len(spec.level1), len(spec.level2), len(spec.indicators)) == (4, 11, 32)
    assert [n for _i, n in spec.level1] == ["计量能力", "标准化能力", "合格评定能力", "质量技术基础建设能力"]
    assert all(i.direction in ("higher", "lower") and i.unit for i in spec.indicators)


@pytest.mark.parametrize(
    "formula",
    [
        "__import__('os').system('x')",
        "received ** 2",
        "received // 2",
        "received % 2",
        "received.real",
        "received if resolved else 1",
        "[received]",
        "'received'",
        "abs(received)",
        "received < resolved",
        "lambda: 1",
        "",
        "received +",
        "x" * 600,
    ],
)
def test_the_evaluator_refuses_anything_but_arithmetic(formula: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_formula(formula)
    assert (e.value.field, e.value.rule) == ("formula", "formula")


def test_the_evaluator_computes() -> None:
    vals: dict[str, float | int | None] = {"a": 6, "b": 4, "z": 0, "n": None}
    assert evaluate(parse_formula("a / b * 100"), vals) == 150.0
    assert evaluate(parse_formula("-(a - b) + 2.5"), vals) == 0.5
    assert evaluate(parse_formula("a / z"), vals) is None  # no division by zero: no value
    assert evaluate(parse_formula("a + n"), vals) is None  # a figure without a value: no value


def _doc(**ind: Any) -> dict[str, Any]:
    base = {"id": "1.1.1", "name": "x", "unit": "件", "direction": "higher", **ind}
    base = {k: v for k, v in base.items() if v is not None}
    return {
        "level1": [{"id": "1", "name": "一", "level2": [{"id": "1.1", "name": "二", "indicator": [base]}]}]
    }


@pytest.mark.parametrize(
    ("ind", "field", "rule"),
    [
        ({"figure": "nonsense"}, "figure", "known_figure"),
        ({"formula": "received / nonsense"}, "figure", "known_figure"),
        ({"figure": "received", "formula": "received"}, "figure", "one_of"),
        ({}, "figure", "one_of"),
        ({"figure": "received", "direction": "up"}, "direction", "choice"),
        ({"figure": "received", "unit": None}, "unit", "required"),
        ({"formula": "received ** 2"}, "formula", "formula"),
        ({"figure": "received", "id": "1.1"}, "id", "unique"),
    ],
)
def test_a_bad_definition_is_refused(ind: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_indicators(_doc(**ind))
    assert (e.value.field, e.value.rule) == (field, rule)


def test_a_file_replaces_the_default(tmp_path: Path, report: dict[str, Any]) -> None:
    from qi_station.reports.indicators import indicator_values

    p = tmp_path / "province.toml"
    p.write_text(
        '[[level1]]\nid = "A"\nname = "甲"\n[[level1.level2]]\nid = "A1"\nname = "乙"\n'
        '[[level1.level2.indicator]]\nid = "A1a"\nname = "人均"\nformula = "activity_people / activities_count"\n'
        'unit = "人/场"\ndirection = "higher"\n',
        encoding="utf-8",
    )
    vals = indicator_values(report, load_indicators(p))
    assert [(v["id"], v["value"]) for v in vals] == [("A1a", 19.0)]  # (8 + 30) / 2
    p.write_text("[[level1]\n", encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        load_indicators(p)
    assert e.value.rule == "toml"


#: hand-computed on the fixture (see test_report_figures): received 6; metrology R1 R4 R6, standards
#: R1 R3 R10; resolved 4, on time 3; problems 2 + 3 + 0 + 0 = 5; activities 2 (17 enterprises, 38 people)
EXPECTED = {
    "1.1.1": 3,
    "1.1.2": 50.0,
    "2.1.1": 3,
    "2.1.2": 50.0,
    "2.2.1": 5,
    "2.2.2": 1.25,
    "3.2.1": 0,  # R5 (认证认可) was received in December
    "3.2.2": 0.0,
    "3.3.1": 75.0,
    "3.3.2": 75.0,
    "4.1.1": 6,
    "4.1.4": 17,
    "4.1.5": 38,
    "4.2.2": 3,
    "4.2.4": 1200.0,
    "4.3.1": 1,
    "4.3.3": 2,
    "4.3.4": 1,
    "4.3.5": 1,
    "4.3.6": 2,
}


def test_indicator_values(report: dict[str, Any]) -> None:
    from qi_station.reports.indicator_out import indicator_report

    got = {v["id"]: v["value"] for v in indicator_report(report)["indicators"]}
    for k, want in EXPECTED.items():
        assert got[k] == want, k


def test_the_monthly_xlsx_has_the_indicator_sheet(report: dict[str, Any], tmp_path: Path) -> None:
    import openpyxl

    from qi_station.reports.writers import write_report

    wb = openpyxl.load_workbook(write_report(report, "xlsx", tmp_path / "r.xlsx"))
    rows = list(wb["指标"].iter_rows(values_only=True))
    assert rows[0][:4] == ("一级指标", "二级指标", "统计指标", "本月")
    assert len(rows) == 1 + 32
    by_id = {r[2].split()[0]: r for r in rows[1:]}
    # a percentage is a real percentage: 75 % is 0.75 shown 0.00%, as the CSV writes 75.00% (the operator's request)
    assert by_id["3.3.1"][3] == 0.75 and by_id["3.3.1"][4] == "%" and by_id["3.3.1"][5] == "越高越好"
    cell = next(r[3] for r in wb["指标"].iter_rows(min_row=2) if str(r[2].value).startswith("3.3.1 "))
    assert cell.number_format == "0.00%" and cell.data_type == "n"
    rect = list(wb["整改"].iter_rows(values_only=True))
    assert (
        len(rect) == 2
        and rect[1][3] == "1 非常不满意"
        and rect[1][5] == datetime(2026, 1, 28)
        and rect[1][6] == "是"
    )
    ov = {r[0]: r[1] for r in wb["概览"].iter_rows(values_only=True) if r and r[0]}
    assert ov["按期办结率"] == 0.75 and ov["收费金额（元）"] == 1200.0 and ov["待整改数"] == 1


def test_csv_and_markdown_carry_the_new_figures(report: dict[str, Any], tmp_path: Path) -> None:
    from qi_station.reports.writers import render_markdown, write_report

    raw = write_report(report, "csv", tmp_path / "r.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw)))
    flat = {r[0]: r[1:] for r in rows if r}
    assert flat["按期办结数"][0] == "3" and flat["回访率"][0] == "75.00%" and flat["重新办理数"][0] == "1"
    assert ["县区", "济南市历下区 370102", "1"] in rows and ["企业规模", "小型", "1"] in rows
    assert ["满意度等级", "1 非常不满意", "1"] in rows and ["活动", "培训 / 覆盖人数", "30"] in rows
    md = render_markdown(report)
    assert "| 按期办结率 | 75.00% |" in md and "## 整改" in md and "## 指标" in md
    en = render_markdown(report, "en")
    assert "| On-time rate | 75.00% |" in en and "| Training / People | 30 |" in en


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qi_station", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env={**os.environ, **env},
        timeout=120,
    )


def test_cli_station_and_hub(built: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    from qi_station.db.engine import run_migrations, sqlite_url

    env = {"QI_STATION_DB": str(built[0]), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    p = _cli(["report", "indicators", "--month", MONTH, "--format", "json"], env, tmp_path)
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["station"]["code"] == "QI0001" and len(data["indicators"]) == 32
    assert {v["id"]: v["value"] for v in data["indicators"]}["3.3.1"] == 75.0
    p = _cli(["report", "indicators", "--month", MONTH], env, tmp_path)
    assert p.returncode == 0 and "3.3.1 按期办结率  75 %" in p.stdout, p.stdout + p.stderr
    for fmt in ("csv", "xlsx"):  # files; table, json and md go to stdout unless --out
        p = _cli(["report", "indicators", "--month", MONTH, "--format", fmt], env, tmp_path)
        assert p.returncode == 0, p.stderr
        written = Path(p.stdout.strip().splitlines()[-1])  # no --out: the export folder, never the cwd
        assert written.name == f"qi-indicators-QI0001-{MONTH}.{fmt}" and written.is_file()
        assert written.parent.name == "qi-station" and not (tmp_path / written.name).exists()
        if fmt == "xlsx":  # the same cells as the monthly report's 指标 sheet: 75 % is 0.75 shown 0.00%
            import openpyxl

            ws = openpyxl.load_workbook(written).worksheets[0]
            cell = next(r[3] for r in ws.iter_rows(min_row=2) if str(r[2].value).startswith("3.3.1 "))
            assert (cell.value, cell.number_format) == (0.75, "0.00%")
            assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:G33"
    p = _cli(["report", "indicators", "--month", MONTH, "--format", "md"], env, tmp_path)
    assert p.stdout.startswith("# 指标 · 2026-01") and "| 1 计量能力 | 1.1 计量服务需求 |" in p.stdout
    p = _cli(["report", "indicators", "--month", MONTH, "--format", "pdf"], env, tmp_path)
    assert p.returncode == 2 and "format" in p.stderr
    url = sqlite_url(tmp_path / "hub.db")
    run_migrations(url)
    _copy_station_into_hub(built[0], url, "JN0001", "370100")
    p = _cli(
        ["hub", "report", "indicators", "--database-url", url, "--month", MONTH, "--format", "json"],
        env,
        tmp_path,
    )
    assert p.returncode == 0, p.stderr
    hub = {v["id"]: v["value"] for v in json.loads(p.stdout)["indicators"]}
    assert hub["3.3.1"] == 75.0 and hub["4.1.1"] == 6
