"""An outside operator's findings (80×24, Chinese), fixed in the core, CLI and report layers: each test
here fails without its fix."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_reports import uscc
from test_sync_hub import env, hub_url  # noqa: F401 - fixtures

_ = (env, hub_url)

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
    assert shown == sorted(
        ["济南市历下区", "济南市（市本级）", "济南市（市本级）", "德州市（市本级）", "青岛市（市本级）"]
    )


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


# ---- 3. restore says what a restored station does next; export-bundle's refusal names the remedy --------


def test_restore_of_a_backup_newer_than_the_last_sync_says_the_next_step(
    env: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from test_sync_heal_bundle import offline_station, round_trip
    from test_sync_util import request_input

    from qi_station.db.session import dispose_all
    from qi_station.services import ledger
    from qi_station.services.backup import backup_db

    hub, _tc, _dbs = env
    db, d = tmp_path / "BK02.db", tmp_path / "usb"
    d.mkdir()
    offline_station(hub, db, "BK02")
    ledger.create_request(db, request_input(1))
    assert round_trip(hub, db, "BK02", d)["pending"] == 0
    bk = tmp_path / "after.db"
    backup_db(db, bk)  # newer than the last sync: nothing behind, but the station is marked restored
    dispose_all()
    out = cli(db, "restore", str(bk)).output
    assert "下一步" in out and "qi-station hub export-bundle --station BK02 --restore" in out, out
    assert "sync import-bundle" in out
    out_en = cli(db, "--lang", "en", "restore", str(bk)).output
    assert "next: import the hub's restore bundle" in out_en and "下一步" not in out_en
    err = cli(db, "sync", "export-bundle", "--out", f"{d}/", code=2).stderr
    assert "[station_behind]" in err
    zh = err.split(" / ", 1)[1]  # the Chinese half names the remedy too, commands and all
    assert "hub export-bundle --station BK02 --restore" in zh and "sync import-bundle" in zh


# ---- 4. Chinese for `sync enroll`, `hub init` and the sync log's bundle-restore -------------------------


def test_enroll_and_hub_init_speak_the_clis_language(env: Any, tmp_path: Path) -> None:  # noqa: F811
    from qi_station.db.engine import open_db
    from qi_station.services.station import init_station

    hub, _tc, _dbs = env
    db = tmp_path / "EN01.db"
    init_station(open_db(db), code="EN01")
    token = hub.add_station("EN01", "EN01站")["token"]
    out = cli(db, "sync", "enroll", "--token", token).output
    assert out.splitlines() == [
        "已准备离线注册：本站 EN01",
        "下一步：运行 qi-station sync export-bundle --out 文件，把数据包带到中心导入",
    ]
    url = f"sqlite:///{tmp_path / 'h2.db'}"
    zh = cli(db, "hub", "init", "--database-url", url, "--library", str(_library_csv(tmp_path))).output
    assert zh.startswith("中心已就绪：") and "新增 1" in zh and "hub ready" not in zh
    en = cli(db, "--lang", "en", "hub", "init", "--database-url", url).output
    assert en.startswith("hub ready at ") and "library: unchanged" in en


def _library_csv(tmp_path: Path) -> Path:
    p = tmp_path / "lib.csv"
    p.write_text("table,id,name\nexpert,e-9,李四\n", encoding="utf-8-sig")
    return p


def test_every_sync_log_mode_has_a_label_in_both_languages() -> None:
    import re

    from qi_station.i18n import catalogue

    src = Path(__file__).parents[1] / "qi_station" / "sync" / "station"
    modes = {
        m
        for f in src.glob("*.py")
        for m in re.findall(r'log_start\(conn, "([^"]+)"\)', f.read_text(encoding="utf-8"))
    }
    assert "bundle-restore" in modes
    for lang in ("zh", "en"):
        for m in modes:
            assert f"sync.mode.{m}" in catalogue(lang), (lang, m)
    assert catalogue("zh")["sync.mode.bundle-restore"] == "导入恢复数据包"


# ---- 6. demo work is dated before this month: the operator's month starts empty -------------------------


def test_demo_data_leaves_this_month_to_the_operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qi_station.db.engine import open_db
    from qi_station.devtools.demo import load_demo
    from qi_station.reports.figures import monthly_report
    from qi_station.services.dashboard import compute

    monkeypatch.setenv("QI_STATION_NOW", "2026-12-01T10:00:00+08:00")
    db = open_db(tmp_path / "demo.db")
    load_demo(db, requests=120, id_seed="fixed")
    conn = sqlite3.connect(db)
    last = conn.execute("SELECT max(at) FROM request_event").fetchone()[0]
    conn.close()
    assert last < "2026-11-30 16:00:00"  # before 2026-12-01 00:00 Asia/Shanghai
    dec = monthly_report(db, "2026-12")
    assert dec["received"] == 0 and dec["resolved"] == 0 and dec["closed"] == 0
    nov = monthly_report(db, "2026-11")
    # the demo is still there to look at (the dashboard's bars), but no report counts it as work (demo5:
    # the hub never receives it; the report says how many requests it left out)
    assert nov["received"] == 0 and nov["demo_excluded"] == 120
    figs = compute(db)
    assert figs.today_intake == 0 and figs.open_total > 0 and figs.month_counts[-1] == 0
    assert all(n > 0 for n in figs.month_counts[:-1])  # the bars before this month: demo work


# ---- 7. a 办结's outcome in the history; a new enterprise's 服务要素; the enterprise by its USCC --------------


def test_request_show_history_gives_the_resolutions_result_and_problems(station: Path) -> None:
    number = _new_request(station)
    for action in ("受理", "办理"):
        cli(station, "request", "move", number, action)
    cli(
        station,
        "request",
        "move",
        number,
        "办结",
        "--result",
        "已校准压力表",
        "--problems-solved",
        "2",
        "--charged",
        "--fee",
        "300",
    )
    cli(station, "request", "move", number, "重新办理")  # the outcome is superseded: its history keeps it
    out = cli(station, "request", "show", number).output
    (line,) = [x for x in out.splitlines() if "->已办结" in x]
    assert (
        "[办理结果: 已校准压力表; 解决问题数: 2; 节约成本（万元）: 0.00]" in line
        and "收费金额（元）: 300" in line
    )
    en = cli(station, "--lang", "en", "request", "show", number).output
    assert "[Result: 已校准压力表; Problems solved: 2; Saved (10k CNY): 0.00]" in en


def test_a_new_enterprise_takes_its_requests_elements(station: Path) -> None:
    from qi_station.services import enterprises, ledger

    _new_request(station, 3)  # 计量
    ent = enterprises.get_enterprise(station, uscc("370102", "MA3C00203"))
    conn = sqlite3.connect(station)
    els = lambda: conn.execute("SELECT elements FROM enterprise WHERE id = ?", (ent["id"],)).fetchone()[0]  # noqa: E731
    assert els() == '["metrology"]'
    ledger.create_request(
        station,
        ledger.RequestInput(
            "济南第3机械有限公司",
            uscc("370102", "MA3C00203"),
            "计量,标准",
            "换证",
            received_at="2026-12-01T09:30:00+08:00",
        ),
    )
    assert els() == '["metrology"]'  # kept: no enterprise change to push at every request
    conn.execute("UPDATE enterprise SET elements = '[]' WHERE id = ?", (ent["id"],))  # one made before
    conn.commit()
    ledger.create_request(
        station,
        ledger.RequestInput(
            "济南第3机械有限公司",
            uscc("370102", "MA3C00203"),
            "标准,计量",
            "换证",
            received_at="2026-12-01T09:40:00+08:00",
        ),
    )
    assert els() == '["standards", "metrology"]'  # none yet: its request's
    conn.close()
    known = enterprises.by_uscc(station, uscc("370102", "MA3C00203").lower())
    assert known is not None and known["contact_name"] == "王工" and known["phone_display"]


# ---- 8. initials over a city's and an element's words: jnjl, jinan jiliang -------------------------------


def test_jnjl_and_jinan_jiliang_find_what_the_chinese_words_find(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tester's searches over the demo library."""
    from qi_station.db.engine import open_db
    from qi_station.devtools.demo import load_demo
    from qi_station.services.search import ranked, search

    monkeypatch.setenv("QI_STATION_NOW", NOW)
    db = open_db(tmp_path / "demo.db")
    load_demo(db, requests=10, id_seed="fixed")

    def names(kind: str, q: str, **kw: Any) -> list[str]:
        return [str(r["name"]) for r in search(db, kind, q, limit=None, **kw)]

    jinan = names("institutions", "济南 计量")
    assert len(jinan) == 3
    as_typed = [str(r["name"]) for r in ranked(db, "institutions", "jnjl", limit=None)]
    got = names("institutions", "jnjl")
    assert as_typed and got[: len(as_typed)] == as_typed  # what it found as typed stays first
    assert set(jinan) <= set(got)  # ... then what jn jl finds: the three 济南 计量 institutions
    # several words: 济南's rows first (as 济南 jiliang ranks them), then the words as typed
    experts = names("experts", "jinan jiliang")
    lead = names("experts", "济南 jiliang")
    assert lead and experts[: len(lead)] == lead
    assert "金安鑫" in experts and experts[0] != "金安鑫"  # of 青岛: still found, not first
    assert names("experts", "jinan")[0] == "金安鑫"  # one word: its own name first, as before
    paged = search(db, "experts", "jinan jiliang", limit=2, offset=1)
    assert [str(r["name"]) for r in paged] == experts[1:3]  # paging is the whole list's


@pytest.mark.parametrize(
    ("now", "first"),
    [
        ("2026-03-31T12:00:00+08:00", "2025-03"),
        ("2024-02-29T12:00:00+08:00", "2023-02"),
        ("2026-12-31T23:59:00+08:00", "2025-12"),
    ],
)
def test_demo_data_spans_twelve_whole_months_never_a_thirteenth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, now: str, first: str
) -> None:
    """Late in a month (the 31st of March, the 29th of February) a fixed 12 × 30.44 days back reached into
    a 13th month (2025-02 when loaded on 2026-03-31): the demo starts on the 1st a year before."""
    from qi_station.db.engine import open_db
    from qi_station.devtools.demo import load_demo

    monkeypatch.setenv("QI_STATION_NOW", now)
    db = open_db(tmp_path / "demo.db")
    load_demo(db, requests=200, id_seed="fixed")
    conn = sqlite3.connect(db)
    # local months (Asia/Shanghai, UTC+8) of every receipt and every event
    months = {
        r[0]
        for r in conn.execute(
            "SELECT strftime('%Y-%m', received_at, '+8 hours') FROM request "
            "UNION SELECT strftime('%Y-%m', at, '+8 hours') FROM request_event"
        )
    }
    conn.close()
    assert min(months) == first, sorted(months)
    assert len(months) <= 12 and max(months) < now[:7]
