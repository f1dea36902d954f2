"""Shared fixture data for the TUI tests: a small station database with fixed dates.

Nothing here depends on today's date: QI_STATION_NOW pins "now" for the dashboard and the form, and
every stored time is given explicitly.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

FROZEN_NOW = "2026-03-20T10:00:00+08:00"
NO_CONFIG = "/nonexistent/qi-station/config.toml"


def uscc(prefix17: str) -> str:
    from qi_station.core.validate import uscc_check_char

    return prefix17 + uscc_check_char(prefix17)


ENTERPRISES = [
    ("烟台鲁星精密机械有限公司", uscc("91370600MA3C00001")),
    ("济南华泰食品股份有限公司", uscc("91370100MA3C00002")),
    ("青岛海润新材料有限公司", uscc("91370200MA3C00003")),
]

EXPERTS = [
    # id, name, py, initials, city, elements, title, employer, specialty
    (
        "ex-1",
        "王建国",
        "wangjianguo",
        "wjg",
        "370600",
        '["metrology","testing"]',
        "高级工程师",
        "烟台市计量所",
        "长度计量",
    ),
    ("ex-2", "李秀兰", "lixiulan", "lxl", "370100", '["standards"]', "研究员", "山东省标准化院", "团体标准"),
    ("ex-3", "张伟", "zhangwei", "zw", "370600", '["metrology"]', "工程师", "烟台检测中心", "衡器"),
    (
        "ex-4",
        "单立新",
        "shanlixin",
        "slx",
        "370200",
        '["certification","quality"]',
        "教授",
        "青岛大学",
        "质量管理",
    ),
]
INSTITUTIONS = [
    (
        "in-1",
        "烟台市计量测试所",
        "yantaishijiliangceshisuo",
        "ytsjlcss",
        "370600",
        '["metrology","testing"]',
        "CMA-2021-001",
        "2026-05-01",
        "CNAS-L0001",
        "2027-01-01",
    ),
    (
        "in-2",
        "济南产品质量检验院",
        "jinanchanpinzhiliangjianyanyuan",
        "jncpzljyy",
        "370100",
        '["testing"]',
        "CMA-2020-002",
        "2025-12-31",
        None,
        None,
    ),
]
EQUIPMENT = [
    (
        "eq-1",
        "三坐标测量机",
        "sanzuobiaoceliangji",
        "szbclj",
        "370600",
        '["metrology"]',
        "CMM-900",
        "in-1",
        1,
        300,
        "hour",
    ),
]
PROJECTS = [
    (
        "pr-1",
        "烟台市计量服务进园区",
        "yantaishijiliangfuwujinyuanqu",
        "ytsjlfwjyq",
        "370600",
        '["metrology"]',
        2026,
        "烟台市市场监管局",
        "进行中",
    ),
]


def _insert_library(db: Path) -> None:
    conn = sqlite3.connect(db)
    ts = "2026-01-01 00:00:00.000000"
    with conn:
        for i, name, py, ini, city, els, title, emp, spec in EXPERTS:
            conn.execute(
                "INSERT INTO expert(id,name,name_py,name_initials,haystack,city_code,elements,rev,seq,deleted,"
                "updated_at,title,employer,specialty,active_requests) VALUES (?,?,?,?,?,?,?,1,0,0,?,?,?,?,0)",
                (i, name, py, ini, f"{name} {emp} {spec}".lower(), city, els, ts, title, emp, spec),
            )
        for i, name, py, ini, city, els, cma, cma_exp, cnas, cnas_exp in INSTITUTIONS:
            conn.execute(
                "INSERT INTO institution(id,name,name_py,name_initials,haystack,city_code,elements,rev,seq,deleted,"
                "updated_at,cma_no,cma_expiry,cnas_no,cnas_expiry) VALUES (?,?,?,?,?,?,?,1,0,0,?,?,?,?,?)",
                (i, name, py, ini, name.lower(), city, els, ts, cma, cma_exp, cnas, cnas_exp),
            )
        for i, name, py, ini, city, els, model, inst, shared, fee, unit in EQUIPMENT:
            conn.execute(
                "INSERT INTO equipment(id,name,name_py,name_initials,haystack,city_code,elements,rev,seq,deleted,"
                "updated_at,model,institution_id,shared,fee,fee_unit) VALUES (?,?,?,?,?,?,?,1,0,0,?,?,?,?,?,?)",
                (i, name, py, ini, f"{name} {model}".lower(), city, els, ts, model, inst, shared, fee, unit),
            )
        for i, name, py, ini, city, els, year, lead, status in PROJECTS:
            conn.execute(
                "INSERT INTO project(id,name,name_py,name_initials,haystack,city_code,elements,rev,seq,deleted,"
                "updated_at,year,lead,status) VALUES (?,?,?,?,?,?,?,1,0,0,?,?,?,?)",
                (i, name, py, ini, name.lower(), city, els, ts, year, lead, status),
            )
    conn.close()


def build_db(path: Path) -> Path:
    """The fixture database: station, 4 libraries, 3 enterprises, 5 requests in known states."""
    from qi_station.db.engine import open_db
    from qi_station.db.session import dispose_all
    from qi_station.services.ledger import RequestInput, create_request, move_request
    from qi_station.services.station import init_station

    open_db(path)
    init_station(path, code="QI0001", name="烟台开发区园区工作站", region_code="370600")
    _insert_library(path)
    (n1, u1), (n2, u2), (n3, u3) = ENTERPRISES
    common: dict[str, Any] = {"operator": "小刘"}
    r1 = create_request(
        path,
        RequestInput(
            n1,
            u1,
            ["metrology"],
            "三坐标测量机校准",
            channel="visit",
            received_at="2026-03-02T09:30:00",
            promised="2026-03-17",
            **common,
        ),
    )
    r2 = create_request(
        path,
        RequestInput(
            n2,
            u2,
            ["standards", "certification"],
            "制定企业标准并申请认证",
            channel="phone",
            received_at="2026-03-05T14:00:00",
            promised="2026-03-19",
            **common,
        ),
    )
    r3 = create_request(
        path,
        RequestInput(
            n3,
            u3,
            ["testing"],
            "新材料拉伸性能检测",
            urgency="urgent",
            received_at="2026-02-10T10:00:00",
            promised="2026-02-15",
            **common,
        ),
    )
    create_request(
        path,
        RequestInput(
            n1,
            u1,
            ["brand"],
            "品牌建设咨询",
            received_at="2026-01-20T11:00:00",
            promised="2026-02-04",
            **common,
        ),
    )
    create_request(
        path,
        RequestInput(
            n2, u2, ["ip"], "商标注册指导", received_at="2026-03-18T16:00:00", promised="2026-03-19", **common
        ),
    )
    move_request(path, r1["id"], "accepted", at="2026-03-02T10:00:00", actor="小刘")
    move_request(path, r2["id"], "accepted", at="2026-03-05T15:00:00", actor="小刘")
    move_request(path, r2["id"], "in_progress", at="2026-03-06T09:00:00", actor="小刘")
    move_request(path, r3["id"], "accepted", at="2026-02-10T11:00:00", actor="小刘")
    move_request(path, r3["id"], "in_progress", at="2026-02-11T09:00:00", actor="小刘")
    move_request(
        path,
        r3["id"],
        "resolved",
        at="2026-02-14T17:00:00",
        actor="小刘",
        result="出具检测报告",
        problems_solved=2,
        cost_saved="1.50",
    )
    dispose_all()
    return path


_TEMPLATE: dict[str, Path] = {}


def fixture_db(tmp_path: Path) -> Path:
    """A fresh copy of the fixture database (built once per test session)."""
    if "db" not in _TEMPLATE or not _TEMPLATE["db"].exists():
        import tempfile

        d = Path(tempfile.mkdtemp(prefix="qi-tui-"))
        _TEMPLATE["db"] = build_db(d / "template.db")
    dst = tmp_path / "station.db"
    shutil.copy(_TEMPLATE["db"], dst)
    return dst
