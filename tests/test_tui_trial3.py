"""A new operator's first hour at 80x24 (Chinese UI): the form keeps its layout whatever screen was
shown before, keys typed right after F4 land, the follow-up rating takes no stray key, time fields
select their value, texts fit 80 columns, confirm buttons follow Left/Right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_helpers import fixture_db
from test_tui_journeys import make_app, settle
from tui_pilot import burst, open_detail, req_id, until

pytestmark = pytest.mark.usefixtures("tui_env")


def _form_layout(form: Any) -> dict[str, Any]:
    """Where each field of the form sits, and which widgets Tab reaches."""
    from textual.widgets import Input, TextArea

    from qi_station.screens.widgets import Chip

    regions = {f"#{w.id}": tuple(w.region) for w in form.query(Chip)}
    regions["#description"] = tuple(form.query_one("#description", TextArea).region)
    for w in form.query(Input):
        regions[f"#{w.id}"] = tuple(w.region)
    return regions


async def _open_form(pilot: Any) -> Any:
    from qi_station.screens.request_form import RequestFormScreen

    await pilot.press("f4")
    await settle(pilot)
    assert isinstance(pilot.app.screen, RequestFormScreen)
    return pilot.app.screen


@pytest.mark.parametrize("via", ["f7", "f6", "activities", "f3", "f5", "detail"])
async def test_the_form_has_the_same_layout_whatever_was_shown_before(tmp_path: Path, via: str) -> None:
    """F4 -> (another screen) -> F4 shows the same form: every element checkbox (the second row too) and
    a three-line 需求描述; another screen's CSS (``.frow { height: 1 }``) never restyles the form."""
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        form = await _open_form(pilot)
        first = _form_layout(form)
        assert first["#description"][3] == 3
        assert all(r[3] == 1 for k, r in first.items() if k.startswith("#el-"))
        await pilot.press("escape")
        await settle(pilot)
        if via == "activities":
            app.switch_mode("activities")
        elif via == "detail":
            app.open_request(req_id(db, "QI0001-202603-0002"))
        else:
            await pilot.press(via)
        await settle(pilot)
        for _ in range(2):
            form = await _open_form(pilot)
            assert _form_layout(form) == first
            await pilot.press("escape")
            await settle(pilot)


@pytest.mark.parametrize("restart", [False, True])
async def test_keys_typed_right_after_f4_land_in_the_name_field(tmp_path: Path, restart: bool) -> None:
    """F4 and the name typed at once (no pause for the form to get ready): every key lands in 企业名称,
    the first time the form opens and the next."""
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        if restart:
            await _open_form(pilot)
            await pilot.press("escape")
            await settle(pilot)
        burst(app, "f4", *"潍坊滨海")  # as a terminal sends them: no wait for the form between keys
        await settle(pilot)
        assert app.screen.query_one("#enterprise").value == "潍坊滨海"


@pytest.mark.parametrize(
    ("field", "typed"), [("received_at", "2026-03-20 09:30"), ("promised", "2026-04-01")]
)
async def test_a_date_field_reached_by_tab_is_replaced_by_what_is_typed(
    tmp_path: Path, field: str, typed: str
) -> None:
    """受理时间 / 承诺办结 hold a value; Tab into them selects it, so typing replaces it (never
    ``2026-11-30 15:0110:00``)."""
    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        form = await _open_form(pilot)
        before = {"received_at": "#urgency", "promised": "#received_at"}[field]
        form.query_one(before).focus()
        await pilot.pause()
        assert form.query_one(f"#{field}").value  # a default is shown
        await pilot.press("tab")
        assert form.focused is form.query_one(f"#{field}")
        await pilot.press(*typed)
        assert form.query_one(f"#{field}").value == typed


async def test_ledger_names_and_titles_get_the_room_the_statuses_do_not_need(tmp_path: Path) -> None:
    """At 80 columns the status column is as wide as the statuses shown (已登记 !28), the enterprise
    and 事项 columns share the rest, and a cut name ends with ``..`` (济南华泰食品 was cut bare)."""
    from rich.cells import cell_len
    from test_tui_stumbles import _lines

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        lines = _lines(app)
        row = next(x for x in lines if "济南华泰食品" in x)
        assert "济南华泰食品股份有.." in row, row  # the enterprise has 4/7 of the rest (opfixt)
        assert all(cell_len(x) <= 80 for x in lines)
        header = next(x for x in lines if x.startswith("编号"))
        assert header.index("承诺日期") - header.index("状态") <= 11 * 1 + 2  # 已登记 !28 and a gap


async def test_refer_suggestions_are_one_line_each(tmp_path: Path) -> None:
    from rich.cells import cell_len
    from textual.widgets import OptionList

    from qi_station.screens.dialogs import SuggestionsLoaded

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db)
        await pilot.press("r")
        await settle(pilot)
        dlg = app.screen
        item = {
            "id": "in-x",
            "kind": "institution",
            "score": 12,
            "name": "山东省计量科学研究院烟台分院长度与力学计量检测中心",
            "city_name": "烟台市",
            "element_match": 2,
            "same_city": True,
            "qualified": False,
            "qualification": "expired",
            "load": 3,
        }
        dlg.post_message(SuggestionsLoaded([item, {**item, "id": "in-y"}]))
        await settle(pilot)
        ol = dlg.query_one("#suggestions", OptionList)
        assert ol.option_count == 2
        for i in range(2):
            prompt = str(ol.get_option_at_index(i).prompt)
            # the name is shortened, the reasons stay whole (op6: they were cut at the end)
            assert ".." in prompt and prompt.endswith(")")
            assert cell_len(prompt) < ol.scrollable_content_region.width
        assert ol.virtual_size.height == 2  # one line per row


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_not_enrolled_toast_is_one_line(lang: str) -> None:
    """A toast is at most 60% of 80 columns (48 cells, 46 inside its padding): the "not enrolled" toast
    fits one line (the sync page itself says how to enroll)."""
    from rich.cells import cell_len

    from qi_station.i18n import get_lang, set_lang
    from qi_station.screens.sync import sync_error, toast_text

    class NotEnrolled(Exception):
        code = "not_enrolled"

    old = get_lang()
    set_lang(lang)
    try:
        assert cell_len(toast_text(sync_error(NotEnrolled()))) <= 46
    finally:
        set_lang(old)


async def test_confirm_buttons_follow_left_and_right_and_the_focused_one_is_marked(tmp_path: Path) -> None:
    from textual.widgets import Button

    from qi_station.screens.dialogs import ConfirmDialog

    app = make_app(fixture_db(tmp_path))
    answers: list[Any] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(ConfirmDialog("标题", "确定吗？"), answers.append)
        await settle(pilot)
        dlg = app.screen
        yes, no = dlg.query_one("#yes", Button), dlg.query_one("#no", Button)
        assert dlg.focused is yes and yes.variant == "default" == no.variant  # no blue while unfocused
        marked = yes.styles.background
        await pilot.press("right")
        assert dlg.focused is no and no.styles.background == marked != yes.styles.background
        await pilot.press("right")
        assert dlg.focused is no  # stops at the end
        await pilot.press("left")
        assert dlg.focused is yes
        await pilot.press("right", "enter")
        await settle(pilot)
    assert answers == [False]


async def test_clearing_the_name_clears_not_in_the_library(tmp_path: Path) -> None:

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        form = await _open_form(pilot)
        err = form.query_one("#err-enterprise")
        await pilot.press(*"无名企业")
        await until(pilot, lambda: not err.has_class("hidden"))
        assert "库中无此企业" in str(err.render())
        await pilot.press(*["backspace"] * 4)
        await settle(pilot)
        await pilot.pause(0.3)  # past the lookup's debounce: no late answer brings it back
        await settle(pilot)
        assert err.has_class("hidden")


async def test_a_newline_alone_in_the_description_leaves_the_form_empty(tmp_path: Path) -> None:
    from qi_station.screens.request_form import RequestFormScreen

    app = make_app(fixture_db(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        form = await _open_form(pilot)
        form.query_one("#description").focus()
        await pilot.press("enter", "space")
        await settle(pilot)
        await pilot.press("escape")  # nothing typed: leaves at once, no 已填写的内容还没有保存
        await settle(pilot)
        assert not isinstance(app.screen, RequestFormScreen)


async def test_detail_buttons_show_the_key_as_the_footer_does(tmp_path: Path) -> None:
    from textual.widgets import Button

    db = fixture_db(tmp_path)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, db)
        labels = [str(b.label) for b in app.screen.query("#action-bar Button").results(Button)]
        assert labels and any(x.endswith(" r") for x in labels), labels
        assert not any(x[-2:] == x[-2:].upper() and x[-1].isalpha() and x[-2] == " " for x in labels), labels


def test_every_screen_css_file_is_scoped_to_its_screen() -> None:
    """A screen's CSS file stays loaded once the screen has been shown; unscoped, its rules restyle
    every later screen (reports' ``.frow { height: 1 }`` squashed the form). Each file but the shared
    ones is one block ``<ItsScreen> { ... }``: app.tcss, and dialogs.tcss (the dialogs' rules, each
    selector starting at a dialog class: read with the first dialog, not before the first frame)."""
    import re

    import qi_station.screens as pkg

    folder = Path(pkg.__file__).parent
    for path in sorted(folder.glob("*.tcss")):
        if path.name in ("app.tcss", "dialogs.tcss"):
            continue
        css = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S).strip()
        head = re.match(r"([A-Z]\w*Screen)\s*\{", css)
        assert head, path.name
        depth = 0
        for i, ch in enumerate(css):
            depth += {"{": 1, "}": -1}.get(ch, 0)
            assert depth > 0 or i == len(css) - 1 or i < head.end() - 1, (path.name, i)
        assert depth == 0, path.name
        source = (folder / path.name.replace(".tcss", ".py")).read_text(encoding="utf-8")
        assert f"class {head.group(1)}(" in source, (path.name, head.group(1))


def test_the_dialogs_css_styles_dialogs_only() -> None:
    """dialogs.tcss is loaded once, with the first dialog, and stays: every rule in it starts at a dialog
    class, so it never restyles a page."""
    import re

    import qi_station.screens as pkg

    css = (Path(pkg.__file__).parent / "dialogs.tcss").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    selectors = [s.strip() for rule in re.findall(r"([^{}]+)\{[^{}]*\}", css) for s in rule.split(",")]
    assert selectors
    assert all(re.match(r"(StationModal|ChoiceMenu|ReferDialog)\b", s) for s in selectors), selectors
