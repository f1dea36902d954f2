"""Stored text with ESC sequences (an old ledger, a hub note) never reaches the terminal from the TUI:
Textual's and Rich's text strip tables map every character the text rule refuses to U+FFFD."""

from __future__ import annotations


def test_tui_text_shows_control_characters_as_replacement() -> None:
    from rich.text import Text
    from textual.content import Content

    from qi_station.app import _neutral_control_codes

    _neutral_control_codes()  # what StationApp.__init__ does
    shown = Content("x\x1b]0;PWNED\x07\x1b[2J\u202e\x9b\n\tz").plain
    assert "\x1b" not in shown and "\u202e" not in shown and "\x9b" not in shown
    assert shown == "x\ufffd]0;PWNED\ufffd[2J\ufffd\ufffd\n\tz"  # BEL: Textual's own strip (removed)
    assert Text("a\x1b[2J").plain == "a\ufffd[2J"
    assert Content("济南 ok").plain == "济南 ok"
