"""Enterprises and the request's input rules (issue 9 items 7 and 9): every bad field at once in form
order, a known USCC under another name refused unless the rename is confirmed (then recorded, the old
name kept), near-duplicate names pointed out, contacts recorded, ``enterprise show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_core_cli import run

from qi_station.core import validate as v
from qi_station.core.errors import ValidationError, ValidationErrors
from qi_station.services import enterprises, ledger

USCC = "N2370100MA3C000011"
OTHER = "91350100M000100Y43"


@pytest.fixture
def sdb(tmp_path: Path) -> Path:
    db = tmp_path / "s.db"
    run(db, "init", "--station-code", "JN-GX01", "--station-name", "济南高新区工作站", "--region", "370100")
    return db


def req(**kw: object) -> ledger.RequestInput:
    base: dict[str, object] = {
        "enterprise": "济南示例机械有限公司",
        "uscc": USCC,
        "elements": "计量",
        "title": "校准",
    }
    return ledger.RequestInput(**{**base, **kw})  # type: ignore[arg-type]


def count(db: Path, table: str) -> int:
    import sqlite3

    with sqlite3.connect(db) as c:
        return int(c.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_every_bad_field_is_reported_in_form_order(sdb: Path) -> None:
    with pytest.raises(ValidationErrors) as got:
        ledger.create_request(
            sdb,
            req(
                enterprise="",
                uscc="91370600MA3C000010",
                elements="",
                title="x" * 101,
                phone="12",
                promised="昨天",
            ),
        )
    fields = [(e.field, e.rule) for e in got.value.errors]
    assert fields == [
        ("enterprise", "required"),
        ("uscc", "uscc_checksum"),
        ("elements", "required"),
        ("title", "max_length"),
        ("promised", "date"),
        ("phone", "phone"),
    ], fields
    assert count(sdb, "request") == 0 and count(sdb, "outbox") == 0


def test_the_cli_prints_every_error(sdb: Path) -> None:
    p = run(
        sdb,
        "request",
        "add",
        "--enterprise",
        "",
        "--uscc",
        "123",
        "--elements",
        "计量",
        "--title",
        "",
        ok=False,
    )
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert [ln.split(":")[1].strip() for ln in lines] == ["enterprise", "uscc", "title"], p.stderr


def test_a_new_name_under_a_known_uscc_needs_renamed(sdb: Path) -> None:
    run(
        sdb,
        "request",
        "add",
        "--enterprise",
        "济南示例机械有限公司",
        "--uscc",
        USCC,
        "--elements",
        "计量",
        "--title",
        "一",
    )
    args = ["request", "add", "--enterprise", "济南新示例科技有限公司", "--uscc", USCC, "--elements", "计量"]
    p = run(sdb, *args, "--title", "二", "--contact", "王五", "--phone", "13800138000", ok=False)
    assert p.returncode == 2 and "renamed" in p.stderr and "济南示例机械有限公司" in p.stderr
    assert count(sdb, "request") == 1  # refused: nothing written
    run(sdb, *args, "--title", "二", "--contact", "王五", "--phone", "13800138000", "--renamed")
    shown = json.loads(run(sdb, "enterprise", "show", USCC, "--json").stdout)
    assert shown["name"] == "济南新示例科技有限公司"
    assert [n["name"] for n in shown["names"]] == ["济南示例机械有限公司", "济南新示例科技有限公司"]
    assert shown["names"][0]["by"] == "测试员"
    assert {"name": "王五", "phone": "138 0013 8000"} in shown["contacts"]  # the typed contact is recorded
    assert [r["title"] for r in shown["request_list"]] == ["二", "一"]
    text = run(sdb, "enterprise", "show", USCC).stdout
    assert "曾用名" in text and "济南示例机械有限公司" in text
    # the same name (another spacing or full-width form) is not a rename
    run(
        sdb,
        "request",
        "add",
        "--enterprise",
        "济南新示例科技 有限公司",
        "--uscc",
        USCC,
        "--elements",
        "计量",
        "--title",
        "三",
    )


def test_a_similar_name_under_another_uscc_is_warned(sdb: Path) -> None:
    run(
        sdb,
        "request",
        "add",
        "--enterprise",
        "济南示例机械有限公司",
        "--uscc",
        USCC,
        "--elements",
        "计量",
        "--title",
        "一",
    )
    p = run(
        sdb,
        "request",
        "add",
        "--enterprise",
        "济南示例机械公司",
        "--uscc",
        OTHER,
        "--elements",
        "计量",
        "--title",
        "二",
    )
    assert "warning" in p.stderr and "济南示例机械有限公司" in p.stderr and USCC in p.stderr
    p = run(
        sdb,
        "request",
        "add",
        "--enterprise",
        "青岛海润新材料",
        "--uscc",
        OTHER,
        "--elements",
        "计量",
        "--title",
        "三",
        ok=False,
    )
    assert p.returncode == 2  # OTHER is now 济南示例机械公司: a new name is a rename to confirm


def test_similar_names_rule() -> None:
    assert v.similar_name("济南示例机械有限公司", "济南示例机械公司")
    assert v.similar_name("济南示例机械有限公司", "济南示列机械有限公司")  # a typo
    assert not v.similar_name("济南示例机械有限公司", "青岛海润新材料有限公司")
    assert v.name_key("ＡＢＣ 有限公司") == v.name_key("abc有限公司")


def test_former_names_rule() -> None:
    assert (
        v.check_former_names('[{"name": "甲", "until": "2026-01-01 00:00:00", "by": "王"}]')[0]["name"]
        == "甲"
    )
    for bad in (
        '{"name": "甲"}',
        '[{"name": "", "until": "x"}]',
        '[{"name": "甲", "until": "x", "evil": 1}]',
        "nope",
    ):
        with pytest.raises(ValidationError):
            v.check_former_names(bad)


def test_known_uscc_lookup_and_missing_enterprise(sdb: Path) -> None:
    from qi_station.core.errors import NotFoundError

    assert enterprises.by_uscc(sdb, USCC) is None
    ledger.create_request(sdb, req())
    assert enterprises.by_uscc(sdb, USCC.lower())["name"] == "济南示例机械有限公司"  # type: ignore[index]
    with pytest.raises(NotFoundError):
        enterprises.get_enterprise(sdb, OTHER)
