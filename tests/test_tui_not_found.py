"""The TUI shows the core's own not-found message (``core.errors.NotFoundError``: it names what was not
found, 找不到需求 / request not found), its half in the TUI's language, as it shows a ValidationError; it
used to say only "找不到: KEY" from a catalogue entry of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def lang() -> Iterator[None]:
    from qi_station import i18n

    was = i18n.get_lang()
    yield
    i18n.set_lang(was)


@pytest.mark.usefixtures("lang")
def test_the_tui_says_what_was_not_found_in_its_language() -> None:
    from qi_station import i18n
    from qi_station.core.errors import NotFoundError
    from qi_station.screens.base import error_message

    i18n.set_lang("zh")
    assert error_message(NotFoundError("request", "QI0001-202611-0009")) == "找不到需求: QI0001-202611-0009"
    assert error_message(NotFoundError("staff", "王五")) == "找不到人员: 王五"
    i18n.set_lang("en")
    assert error_message(NotFoundError("request", "QI0001-202611-0009")) == (
        "request not found: QI0001-202611-0009"
    )
    assert not i18n.has("err.not_found")  # one message, the core's
