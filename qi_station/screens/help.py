"""Help (F1): the bindings of the screen it was opened from, with the keys as remapped and each key's id
(the name to remap it by in config.toml)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from qi_station.i18n import t
from qi_station.screens.base import StationModal
from qi_station.screens.bindings import bindings, key_text
from qi_station.services import keymap


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal cells (a Chinese character takes two)."""
    from rich.cells import cell_len

    return text + " " * max(1, width - cell_len(text))


class HelpScreen(StationModal):
    DEFAULT_CSS = """
    HelpScreen > Vertical { width: 76; max-width: 100%; height: auto; max-height: 100%; }
    HelpScreen .dialog-title { text-style: bold; color: $accent; }
    HelpScreen VerticalScroll { height: auto; max-height: 18; }
    """
    BINDINGS = bindings("help")

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.target = screen

    def rows(self) -> list[tuple[str, str, str]]:
        """(keys, description, binding id) for the target screen and the app."""
        out: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for node in (self.target, self.app):
            for _key, b in node._bindings:  # private (as localize_bindings); guard: test_f1_shows_the_key_ids
                if not b.id or b.id in seen:
                    continue
                seen.add(b.id)
                out.append((key_text(self.app, b), b.description, b.id))
        return out

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(t("help.title"), classes="dialog-title", markup=False)
            with VerticalScroll():
                head = [(t("help.col_key"), t("help.col_action"), t("help.col_id"))]
                lines = [f"{_pad(keys, 12)} {_pad(desc, 16)} {bid}" for keys, desc, bid in head + self.rows()]
                yield Static("\n".join(lines), id="help-keys", markup=False)
            yield Static(t("help.remap", path=str(keymap.config_path())), classes="muted", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)

    def on_click(self) -> None:
        self.dismiss(None)
