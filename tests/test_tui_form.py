"""The request form (issue 9): drafts, multi-line description, every error at once, fast input,
renamed enterprises and near-duplicates. Pilot tests; each test gets its own copy of the fixture DB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import ENTERPRISES, FROZEN_NOW, NO_CONFIG, fixture_db
from test_tui_journeys import make_app, rows, settle

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


async def open_form(pilot: Any) -> Any:
    from qi_station.screens.request_form import RequestFormScreen

    await settle(pilot)
    await pilot.press("f4")
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, RequestFormScreen)
    return form


async def test_a_scanner_burst_lands_in_the_focused_fields(tmp_path: Path) -> None:
    """Keys sent with no delay (a barcode/USCC scanner): the name, Tab, the USCC, Tab ... each land
    in their own field although enterprise suggestions arrive mid-burst; arrows, Enter and a pasted
    ESC in the burst never change 渠道 or 紧急程度."""
    db = fixture_db(tmp_path)
    name, code = ENTERPRISES[0]
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"烟台鲁星", "tab", *code, "tab")
        await pilot.press("tab", "tab", "tab", "tab", "tab", "tab", "tab", "tab")  # past the elements
        await settle(pilot)
        assert form.query_one("#enterprise").value == "烟台鲁星"
        assert form.query_one("#uscc").value == code
        # the suggestions are showing when the scanner sends Tab, the USCC and Tab
        form.query_one("#enterprise").value = ""
        form.query_one("#uscc").value = ""
        form.query_one("#enterprise").focus()
        await pilot.press(*"ytl")
        await pilot.pause(0.3)
        await settle(pilot)
        assert not form.query_one("#ent-list").has_class("hidden")
        await pilot.press("tab", *code)
        await settle(pilot)
        assert (form.query_one("#enterprise").value, form.query_one("#uscc").value) == ("ytl", code)
        form.query_one("#title").focus()
        await pilot.press(*"cmm", "tab", "tab", "right", "right", "left", "down", "tab", "right", "right")
        await settle(pilot)
        assert form.query_one("#title").value == "cmm"
        assert form.query_one("#channel").value == "walk_in"
        assert form.query_one("#urgency").value == "normal"
        form.query_one("#channel").focus()
        await pilot.press("escape", "right", "escape", "left")
        await settle(pilot)
        assert app.screen is form
        assert form.query_one("#channel").value == "walk_in"
        # a deliberate choice still works: open the list, move, choose
        await pilot.press("enter", "down", "enter")
        await settle(pilot)
        assert app.screen is form
        assert form.query_one("#channel").value != "walk_in"


async def test_a_multi_line_paste_keeps_every_line(tmp_path: Path) -> None:
    from textual import events

    db = fixture_db(tmp_path)
    name, code = ENTERPRISES[0]
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#enterprise").value = name
        form.query_one("#uscc").value = code
        form.query_one("#el-metrology").checked = True
        form.query_one("#title").value = "校准"
        desc = form.query_one("#description")
        desc.focus()
        app.post_message(events.Paste("第一行: 三坐标\n第二行: 卡尺\n第三行: 千分尺"))
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is not form
    assert rows(db, "SELECT description FROM request WHERE title = '校准'") == [
        ("第一行: 三坐标\n第二行: 卡尺\n第三行: 千分尺",)
    ]


async def test_every_error_at_once_first_field_focused(tmp_path: Path) -> None:
    db = fixture_db(tmp_path)
    before = rows(db, "SELECT count(*) FROM request")
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#uscc").value = "91370600MA3C000010"  # bad check character
        form.query_one("#phone").value = "12"
        form.query_one("#title").focus()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        shown = {
            slot: str(form.query_one(f"#err-{slot}").render())
            for slot in ("enterprise", "uscc", "elements", "title", "contact")
            if not form.query_one(f"#err-{slot}").has_class("hidden")
        }
        assert set(shown) == {"enterprise", "uscc", "elements", "title", "contact"}, shown
        assert "校验码" in shown["uscc"] and "电话" in shown["contact"]
        assert app.focused is form.query_one("#enterprise")  # the top bad field
        assert "5 处错误" in str(form.query_one("#form-error").render())
    assert rows(db, "SELECT count(*) FROM request") == before


async def test_a_known_uscc_under_another_name_asks_about_a_rename(tmp_path: Path) -> None:
    """Issue 9 item 7: no "库中无此企业" for a known USCC; Ctrl+S asks whether the enterprise was renamed;
    "renamed" records the new name and keeps the old one; the typed contact is recorded."""
    from qi_station.screens.form_dialogs import ChoicesDialog

    db = fixture_db(tmp_path)
    old, code = ENTERPRISES[0]
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"烟台新星精工", "tab", *code)
        await pilot.pause(0.3)
        await settle(pilot)
        hint = str(form.query_one("#ent-hint").render())
        assert old in hint and "已登记" in hint
        assert "库中无此企业" not in str(form.query_one("#err-enterprise").render())
        form.query_one("#el-metrology").checked = True
        form.query_one("#title").value = "改名后首次校准"
        form.query_one("#contact").value = "赵六"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ChoicesDialog)
        await pilot.click("#ans-renamed")
        await settle(pilot)
        assert not isinstance(app.screen, ChoicesDialog) and app.screen is not form
    got = rows(db, "SELECT name, former_names, contact_name FROM enterprise WHERE uscc = ?", code)
    assert got[0][0] == "烟台新星精工" and old in got[0][1] and got[0][2] == "赵六"
    assert rows(db, "SELECT count(*) FROM request WHERE title = '改名后首次校准'") == [(1,)]


async def test_a_similar_name_under_another_uscc_is_pointed_out(tmp_path: Path) -> None:
    from test_tui_helpers import uscc

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#enterprise").value = "烟台鲁星精密机械公司"
        form.query_one("#uscc").value = uscc("91370600MA3C00009")
        await pilot.pause(0.3)
        await settle(pilot)
        hint = str(form.query_one("#ent-hint").render())
        assert "名称相近" in hint and ENTERPRISES[0][0] in hint


def draft_count(db: Path) -> int:
    return int(rows(db, "SELECT count(*) FROM request_draft")[0][0])


async def type_a_request(pilot: Any, form: Any) -> None:
    from qi_station.screens.form_drafts import DRAFT_DEBOUNCE

    name, code = ENTERPRISES[1]
    form.query_one("#enterprise").focus()
    await pilot.press(*"济南华泰", "tab", *code)
    form.query_one("#title").focus()
    await pilot.press(*"draft")
    await pilot.pause(DRAFT_DEBOUNCE + 0.2)  # the typing pause that saves the draft
    await settle(pilot)


async def test_an_unsaved_form_asks_before_it_is_left_and_its_draft_comes_back(tmp_path: Path) -> None:
    from qi_station.screens.form_dialogs import ChoicesDialog
    from qi_station.screens.request_form import RequestFormScreen

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await type_a_request(pilot, form)
        assert draft_count(db) == 1  # saved as typed, before any question
        for key in ("escape", "f3", "f7", "ctrl+q"):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, ChoicesDialog), key
            await pilot.press("escape")  # 继续编辑
            await settle(pilot)
            assert app.screen is form, key
        assert form.query_one("#title").value == "draft"
        await pilot.press("ctrl+q")
        await settle(pilot)
        await pilot.click("#ans-keep")  # 保存草稿, then quit
        await settle(pilot)
    assert draft_count(db) == 1

    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert isinstance(app.screen, ChoicesDialog)
        assert "有未保存的草稿" in " ".join(str(w.render()) for w in app.screen.query("Static"))
        await pilot.click("#ans-restore")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, RequestFormScreen)
        assert (form.query_one("#enterprise").value, form.query_one("#title").value) == ("济南华泰", "draft")
        assert form.query_one("#uscc").value == ENTERPRISES[1][1]
        form.query_one("#enterprise").value = ENTERPRISES[1][0]
        form.query_one("#el-standards").checked = True
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, RequestFormScreen)
    assert draft_count(db) == 0  # saved: the draft is gone
    assert rows(db, "SELECT count(*) FROM request WHERE title = 'draft'") == [(1,)]


async def test_discarding_deletes_the_draft(tmp_path: Path) -> None:
    from qi_station.screens.form_dialogs import ChoicesDialog
    from qi_station.screens.request_form import RequestFormScreen

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await type_a_request(pilot, form)
        assert draft_count(db) == 1
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, ChoicesDialog)
        await pilot.click("#ans-discard")
        await settle(pilot)
        assert not any(isinstance(s, RequestFormScreen) for s in app.screen_stack)
    assert draft_count(db) == 0


KILLED_APP = r"""
import asyncio, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from test_tui_helpers import ENTERPRISES

async def main():
    from qi_station.app import StationApp
    app = StationApp(Path(sys.argv[1]), lang="zh", config={}, offer_demo=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.press("f4")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.press(*"济南华泰", "tab", *ENTERPRISES[1][1])
        app.screen.query_one("#title").focus()
        await pilot.press(*"killed")
        print("typed", flush=True)
        while True:  # the operator walks away; the process is killed
            await asyncio.sleep(1)

asyncio.run(main())
"""


async def test_a_draft_survives_a_kill(tmp_path: Path) -> None:
    """The TUI in another process is SIGKILLed once its draft row is committed (observed in the
    database); the next form offers it back with everything typed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from qi_station.screens.form_dialogs import ChoicesDialog

    db = fixture_db(tmp_path)
    script = tmp_path / "app.py"
    script.write_text(KILLED_APP, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.Popen(
        [sys.executable, str(script), str(db), str(Path(__file__).parent)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        got: list[tuple[Any, ...]] = []
        while time.monotonic() < deadline and p.poll() is None:
            try:
                got = rows(db, "SELECT data FROM request_draft WHERE data LIKE '%killed%'")
            except Exception:  # noqa: BLE001 - the table is being written: look again
                got = []
            if got:
                break
            time.sleep(0.05)
        assert got, (p.poll(), p.stderr.read().decode() if p.poll() is not None and p.stderr else "")
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert isinstance(app.screen, ChoicesDialog)
        await pilot.click("#ans-restore")
        await settle(pilot)
        form = app.screen
        assert form.query_one("#title").value == "killed"
        assert form.query_one("#uscc").value == ENTERPRISES[1][1]
        assert form.query_one("#enterprise").value == "济南华泰"


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_no_element_label_is_cut_while_suggestions_show(tmp_path: Path, lang: str) -> None:
    """Issue 9 item 13: at 80x24 the suggestions make the form scroll; every element keeps its label."""
    from rich.cells import cell_len

    from qi_station.screens.widgets import Chip

    db = fixture_db(tmp_path)
    app = make_app(db, lang=lang)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"公司")
        await pilot.pause(0.3)
        await settle(pilot)
        assert not form.query_one("#ent-list").has_class("hidden")
        for chip in form.query(Chip):
            assert chip.region.width >= cell_len(chip._text()), (chip.id, chip.region)


async def test_the_enterprise_screen_from_the_detail_and_from_the_form(tmp_path: Path) -> None:
    from qi_station.screens.enterprise import EnterpriseScreen
    from qi_station.screens.request_detail import RequestDetailScreen
    from qi_station.services.ledger import RequestInput, create_request

    db = fixture_db(tmp_path)
    old, code = ENTERPRISES[0]
    create_request(
        db, RequestInput("烟台鲁星新名", code, ["metrology"], "改名后", contact="钱七", renamed=True)
    )
    rid = rows(db, "SELECT id FROM request WHERE number = 'QI0001-202603-0001'")[0][0]
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_request(rid)
        await settle(pilot)
        assert isinstance(app.screen, RequestDetailScreen)
        await pilot.press("e")
        await settle(pilot)
        scr = app.screen
        assert isinstance(scr, EnterpriseScreen)
        head = str(scr.query_one("#ent-head").render())
        assert "烟台鲁星新名" in head and old in head and "钱七" in head
        assert scr.query_one("#ent-requests").row_count == 3
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, RequestDetailScreen)

        form = await open_form(pilot)
        await pilot.press("f8")  # nothing typed yet: a message, no screen
        await settle(pilot)
        assert app.screen is form
        form.query_one("#uscc").value = code
        await pilot.pause(0.3)
        await settle(pilot)
        await pilot.press("f8")
        await settle(pilot)
        assert isinstance(app.screen, EnterpriseScreen)


async def test_a_too_long_multi_line_description_names_the_field_and_the_limit(tmp_path: Path) -> None:
    from textual import events

    db = fixture_db(tmp_path)
    name, code = ENTERPRISES[0]
    before = rows(db, "SELECT count(*) FROM request")
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#enterprise").value = name
        form.query_one("#uscc").value = code
        form.query_one("#el-metrology").checked = True
        form.query_one("#title").value = "校准"
        form.query_one("#description").focus()
        app.post_message(events.Paste("一行\n" * 1500))
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert "4000" in str(form.query_one("#err-description").render())
        assert "需求描述" in str(form.query_one("#form-error").render())
        assert app.focused is form.query_one("#description")
        assert form.query_one("#description").text.count("\n") == 1500  # the input stays
    assert rows(db, "SELECT count(*) FROM request") == before


async def test_f4_on_the_leave_question_never_stacks_a_second_form(tmp_path: Path) -> None:
    """F4 while the form's 登记尚未保存 question is up (Esc pressed on a typed form) opened a second
    blank form over it, and each Esc then brought back an older one (an outside operator stacked four)."""
    from qi_station.screens.form_dialogs import ChoicesDialog
    from qi_station.screens.request_form import RequestFormScreen

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await type_a_request(pilot, form)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ChoicesDialog)
        await pilot.press("f4")
        await settle(pilot)
        assert [s for s in app.screen_stack if isinstance(s, RequestFormScreen)] == [form]
        await pilot.press("escape")  # 继续编辑
        await settle(pilot)
        assert app.screen is form
