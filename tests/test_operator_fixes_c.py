"""An outside operator's findings (80×24, Chinese), fixed in the core, CLI and report layers: each test
here fails without its fix."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_reports import _mv, uscc

NOW = "2026-12-01T10:00:00+08:00"


@pytest.fixture
def station(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station

    monkeypatch.setenv("QI_STATION_NOW", NOW)
    path = tmp_path / "station.db"
    open_db(path)
    init_station(path, code="QI0001", name="测试工作站", region_code="370100")
    return path


# ---- 1. the dashboard's last sync in China time, as F6 and `sync status` -------------------------------


def test_dashboard_last_sync_is_local_time_as_on_the_sync_screen(station: Path) -> None:
    from qi_station.core.clock import local_minutes
    from qi_station.services.dashboard import compute

    conn = sqlite3.connect(station)
    with conn:
        conn.execute(
            "INSERT INTO sync_log (started_at, finished_at, mode, pushed, pulled, ok) "
            "VALUES ('2026-11-30 23:34:05.000000', '2026-11-30 23:34:09.000000', 'http', 1, 0, 1)"
        )
    conn.close()
    figs = compute(station)
    assert figs.last_sync_local == "2026-12-01 07:34"  # not the stored UTC 2026-11-30 23:34
    assert local_minutes("2026-11-30 23:34:09.000000") == "2026-12-01 07:34"
    assert local_minutes(None) == "" and local_minutes("garbage") == ""


# ---- 2. a city-level USCC region counts under its city (市本级), not 未知 ----------------------------------


def test_city_level_enterprises_count_under_their_city_not_unknown(station: Path) -> None:
    from qi_station.reports.figures import monthly_report
    from qi_station.reports.sections import breakdown_rows
    from qi_station.reports.writers import detail_values
    from qi_station.services import ledger

    for i, region in enumerate(("370100", "370101", "370200", "371400", "370102")):
        ledger.create_request(
            station,
            ledger.RequestInput(
                f"测试第{i}机械有限公司",
                uscc(region, f"MA3C0010{i}"),
                "标准",
                "换证",
                received_at="2026-12-01T09:00:00+08:00",
            ),
        )
    rep: dict[str, Any] = monthly_report(station, "2026-12")
    assert rep["by_county"] == {"370100": 2, "370102": 1, "370200": 1, "371400": 1}
    rows = [(item, n) for cat, item, n in breakdown_rows(rep, "zh") if cat in ("区县", "县区")]
    assert ("济南市（市本级） 370100", 2) in rows and ("德州市（市本级） 371400", 1) in rows
    assert not [r for r in rows if "未知" in r[0]]
    keys = list(rep["details"][0].keys())
    col = keys.index("enterprise_county")
    shown = sorted(str(row[col]) for row in detail_values(rep, "zh"))
    assert shown == sorted(["济南市历下区", "济南市（市本级）", "济南市（市本级）", "德州市（市本级）", "青岛市（市本级）"])


def cli(db: Path, *args: str, code: int = 0) -> Any:
    from typer.testing import CliRunner

    from qi_station.cli.commands import app

    out = CliRunner().invoke(app, ["--db", str(db), *args])
    assert out.exit_code == code, out.output
    return out


def _new_request(db: Path, i: int = 1, region: str = "370102") -> str:
    from qi_station.services import ledger

    r = ledger.create_request(
        db,
        ledger.RequestInput(
            f"济南第{i}机械有限公司",
            uscc(region, f"MA3C0020{i}"),
            "计量",
            "仪器校准",
            received_at="2026-12-01T09:00:00+08:00",
            contact="王工",
            phone="13800000000",
        ),
    )
    return str(r["number"])


# ---- 5. the app's Chinese action names in `request move` ----------------------------------------------


def test_request_move_takes_the_apps_action_names(station: Path) -> None:
    from qi_station.core import domain

    number = _new_request(station)
    assert cli(station, "request", "move", number, "受理").output.strip() == f"{number} -> 已受理"
    assert cli(station, "request", "move", number, "办理").output.strip() == f"{number} -> 处理中"
    out = cli(station, "request", "move", number, "办结", "--result", "已校准", "--problems-solved", "2")
    assert out.output.strip() == f"{number} -> 已办结"
    assert cli(station, "request", "move", number, "重新办理").output.strip() == f"{number} -> 处理中"
    assert cli(station, "request", "move", number, "Hold").output.strip() == f"{number} -> 已挂起"
    assert domain.move_target("取消需求") == "cancelled" and domain.move_target("已受理") is None
    assert "受理" in cli(station, "request", "move", "--help").output
    # the app's buttons are named from the same table
    from qi_station.locales.zh import MESSAGES

    assert MESSAGES["key.accept"] == domain.MOVE_ZH["accepted"] == "受理"
