"""Who is working: the operator picker, shown at start on a station with several staff (and from the
command palette, 切换操作员). Attribution on a shared office PC, not access control."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from qi_station.i18n import role_name, t
from qi_station.screens.base import StationModal
from qi_station.screens.bindings import bindings


class OperatorDialog(StationModal):
    """Pick a staff member (Enter); Esc keeps the current operator."""

    DEFAULT_CSS = """
    OperatorDialog OptionList { height: auto; max-height: 12; background: $surface; }
    """
    BINDINGS = bindings("modal")

    def __init__(self, staff: list[dict[str, Any]], current: str | None) -> None:
        super().__init__()
        self.staff, self.current = staff, current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(t("operator.title"), classes="dialog-title", markup=False)
            yield Static(t("operator.hint"), classes="muted", markup=False)
            yield OptionList(
                *[Option(f"{s['name']}  {role_name(s['role'])}", id=s["name"]) for s in self.staff],
                id="staff",
            )

    def on_mount(self) -> None:
        ol = self.query_one("#staff", OptionList)
        names = [s["name"] for s in self.staff]
        ol.highlighted = names.index(self.current) if self.current in names else 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_ok(self) -> None:
        ol = self.query_one("#staff", OptionList)
        if ol.highlighted is not None:
            self.dismiss(self.staff[ol.highlighted]["name"])

    def action_cancel(self) -> None:
        self.dismiss(None)
