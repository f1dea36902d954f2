"""Outside testers, round N items 4-10: CLI refusals and labels (each rule lives in the core; the CLI
calls it). A refused input exits 2 with `error: FIELD: … [rule]` and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qi_station.services import ledger

USCC = "91350100M000100Y43"


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path, dict[str, Any]]]:
    from qi_station.cli.commands import app
    from qi_station.db.engine import open_db

    db = open_db(tmp_path_factory.mktemp("round") / "station.db")
    r = ledger.create_request(
        db,
        ledger.RequestInput(
            enterprise="济南示例机械有限公司",
            uscc=USCC,
            elements="metrology",
            title="校准",
            phone="13912345678",
        ),
    )
    yield app, db, r


def cli(app: Any, *args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _events(db: Path) -> int:
    import sqlite3

    c = sqlite3.connect(db)
    try:
        return int(c.execute("SELECT count(*) FROM request_event").fetchone()[0])
    finally:
        c.close()


@pytest.fixture(scope="module")
def hub_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    from qi_station.sync.hub.store import Hub

    url = f"sqlite:///{tmp_path_factory.mktemp('hub') / 'hub.db'}"
    hub = Hub(url)
    hub.init(demo=False)
    hub.add_station("ZB01", "淄博站")
    hub.dispose()
    return url


def test_hub_report_unknown_station_is_refused(cli_db: Any, hub_db: str) -> None:
    app = cli_db[0]
    res = cli(
        app, "hub", "report", "monthly", "--database-url", hub_db, "--station", "NOPE", "--format", "json"
    )
    assert res.exit_code == 2, res.output
    assert "error: station:" in res.output and "[known_station]" in res.output
    ok = cli(
        app, "hub", "report", "monthly", "--database-url", hub_db, "--station", "ZB01", "--format", "json"
    )
    assert ok.exit_code == 0, ok.output
    ind = cli(
        app, "hub", "report", "indicators", "--database-url", hub_db, "--station", "NOPE", "--format", "json"
    )
    assert ind.exit_code == 2 and "error: station:" in ind.output, ind.output


@pytest.mark.parametrize("name", ["淄博\x07站", "淄博\x1b[31m站", "a\u202eb"])
def test_hub_add_station_name_control_char_refused(cli_db: Any, hub_db: str, name: str) -> None:
    from qi_station.sync.hub.store import Hub

    app = cli_db[0]
    res = cli(app, "hub", "add-station", "ZZ09", "--name", name, "--database-url", hub_db)
    assert res.exit_code == 2, res.output
    assert "error: name:" in res.output and "[control_char]" in res.output
    hub = Hub(hub_db)
    try:
        assert "ZZ09" not in {s["code"] for s in hub.stations()}  # nothing written
    finally:
        hub.dispose()


def test_db_in_a_missing_folder_is_refused(cli_db: Any, tmp_path: Path) -> None:
    app = cli_db[0]
    db = tmp_path / "no" / "such" / "station.db"
    for args in (["request", "list"], ["init", "--station-code", "ZB01"], ["restore", str(cli_db[1])]):
        res = cli(app, "--db", str(db), *args)
        assert res.exit_code == 2, (args, res.output)
        assert "error: db: folder" in res.output and "[no_folder]" in res.output, res.output
    assert not (tmp_path / "no").exists()  # no folder was created
    ok = cli(app, "--db", str(tmp_path / "station.db"), "request", "list")
    assert ok.exit_code == 0, ok.output


def test_request_show_has_the_contact_phone(cli_db: Any) -> None:
    app, db, r = cli_db
    res = cli(app, "--db", str(db), "request", "show", r["number"])
    assert res.exit_code == 0, res.output
    assert "139" in res.output and "联系人" in res.output, res.output
    en = cli(app, "--db", str(db), "--lang", "en", "request", "show", r["number"])
    assert "contact:" in en.output and "139" in en.output, en.output
    # no contact name: the name field says so and the phone has its own line (it was printed as the name)
    lines = res.output.splitlines()
    assert "  联系人: 未填" in lines, res.output
    assert any(ln.startswith("  电话: ") and "139" in ln for ln in lines), res.output
    assert not any(ln.startswith("  联系人:") and "139" in ln for ln in lines), res.output
    en_lines = en.output.splitlines()
    assert "  contact: (not given)" in en_lines, en.output
    assert any(ln.startswith("  phone: ") and "139" in ln for ln in en_lines), en.output


ADD = ["request", "add", "--enterprise", "济南示例机械有限公司", "--uscc", USCC, "--elements", "metrology"]


def test_promised_far_in_the_future_is_refused(cli_db: Any) -> None:
    from datetime import date, timedelta

    from qi_station.core.clock import env_now, local_date
    from qi_station.core.errors import ValidationError
    from qi_station.core.validate import PROMISE_HORIZON_DAYS, check_promised

    app, db, _r = cli_db
    before = _events(db)
    res = cli(app, "--db", str(db), *ADD, "--title", "远期", "--promised", "2099-01-01")
    assert res.exit_code == 2, res.output
    assert "error: promised:" in res.output and "[horizon]" in res.output, res.output
    assert _events(db) == before  # nothing written
    today = local_date(env_now())
    ok = cli(
        app,
        "--db",
        str(db),
        *ADD,
        "--title",
        "一年内",
        "--promised",
        str(today + timedelta(days=PROMISE_HORIZON_DAYS)),
    )
    assert ok.exit_code == 0, ok.output
    # the one rule, for the form and the API alike
    with pytest.raises(ValidationError) as e:
        check_promised(date(2027, 3, 2), date(2026, 3, 1))
    assert (e.value.field, e.value.rule) == ("promised", "horizon")


def test_urgency_and_status_take_the_labels_the_program_shows(cli_db: Any) -> None:
    import json

    app, db, _r = cli_db
    res = cli(
        app, "--db", str(db), *ADD, "--title", "紧急件", "--urgency", "紧急", "--channel", "电话", "--json"
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert (got["urgency"], got["channel"]) == ("urgent", "phone")
    mv = cli(app, "--db", str(db), "request", "move", got["number"], "已受理")
    assert mv.exit_code == 0, mv.output
    mv = cli(app, "--db", str(db), "request", "move", got["number"], "In progress")
    assert mv.exit_code == 0, mv.output
    ls = cli(app, "--db", str(db), "request", "list", "--status", "处理中，已受理", "--json")
    assert ls.exit_code == 0, ls.output
    assert got["number"] in ls.output
    bad = cli(app, "--db", str(db), *ADD, "--title", "x", "--urgency", "特急")
    assert bad.exit_code == 2 and "error: urgency:" in bad.output and "紧急" in bad.output, bad.output
    bad = cli(app, "--db", str(db), "request", "list", "--status", "完了")
    assert bad.exit_code == 2 and "error: status:" in bad.output and "[choice]" in bad.output, bad.output


@pytest.mark.parametrize("ext", ["xlsx", "csv", "json", "md"])
def test_force_replaces_only_a_report_this_program_wrote(cli_db: Any, tmp_path: Path, ext: str) -> None:
    app, db, _r = cli_db
    for cmd in ("monthly", "indicators"):
        out = tmp_path / f"{cmd}.{ext}"
        first = cli(app, "--db", str(db), "report", cmd, "--format", ext, "--out", str(out))
        assert first.exit_code == 0, first.output
        again = cli(app, "--db", str(db), "report", cmd, "--format", ext, "--out", str(out), "--force")
        assert again.exit_code == 0, (cmd, again.output)  # its own report: replaced
    foreign = tmp_path / f"mine.{ext}"
    if ext == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        wb.active.title = "工资表"
        wb.save(foreign)
    else:
        foreign.write_text(
            {"csv": "姓名,工资\n张三,100\n", "json": '{"salary": 100}\n', "md": "# 我的笔记\n"}[ext],
            encoding="utf-8",
        )
    before = foreign.read_bytes()
    for cmd in ("monthly", "indicators"):
        res = cli(app, "--db", str(db), "report", cmd, "--format", ext, "--out", str(foreign), "--force")
        assert res.exit_code == 2, (cmd, res.output)
        assert "error: out:" in res.output and "[not_ours]" in res.output, res.output
    assert foreign.read_bytes() == before  # never written over


def test_db_naming_the_hub_database_or_another_file_is_refused(
    cli_db: Any, hub_db: str, tmp_path: Path
) -> None:
    """``--db`` on the hub's database would write station rows into it; on a CSV, a raw SQLite error:
    both refused naming the field and the rule, the file untouched (outside testers, round N+1)."""
    app = cli_db[0]
    hub_file = Path(hub_db.removeprefix("sqlite:///"))
    before = hub_file.read_bytes()
    res = cli(app, "--db", str(hub_file), "request", "add", "--enterprise", "济南新注册测试有限公司",
              "--uscc", USCC, "--elements", "标准", "--title", "写进中心库")  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "error: db:" in res.output and "[hub_database]" in res.output, res.output
    assert hub_file.read_bytes() == before
    csv = tmp_path / "mine.csv"
    csv.write_text("a,b\n1,2\n", encoding="utf-8")
    for args in (["request", "list"], ["init", "--station-code", "ZB01"]):
        res = cli(app, "--db", str(csv), *args)
        assert res.exit_code == 2, (args, res.output)
        assert "error: db:" in res.output and "[qi_station_db]" in res.output, res.output
    assert csv.read_text(encoding="utf-8") == "a,b\n1,2\n"


def test_hub_report_empty_station_is_refused_and_echoed_escaped(cli_db: Any, hub_db: str) -> None:
    app = cli_db[0]
    for code in ("", "   ", "JN\x1b[31mRED"):
        res = cli(
            app, "hub", "report", "monthly", "--database-url", hub_db, "--station", code, "--format", "json"
        )
        assert res.exit_code == 2, (code, res.output)
        assert "error: station:" in res.output and "[known_station]" in res.output, res.output
        assert "\x1b" not in res.output


def test_search_reads_full_width_letters_and_digits(cli_db: Any) -> None:
    from qi_station.services.search import search

    db = cli_db[1]
    half = [r["id"] for r in search(db, "enterprises", "jnsl")]
    assert half, "the fixture's enterprise (济南示例) is found by its initials"
    assert [r["id"] for r in search(db, "enterprises", "ｊｎｓｌ")] == half
    assert [r["id"] for r in search(db, "enterprises", "ＪＮＳＬ")] == half
