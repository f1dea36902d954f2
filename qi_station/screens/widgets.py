"""Small widgets with ASCII-only chrome (no East-Asian-ambiguous glyphs such as the arrows and
half blocks that Select and Checkbox draw): Choice (cycles through options) and Chip (a toggle)."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static


class Choice(Static, can_focus=True):
    """``< label >``: Left/Right (or Space/Enter/click) cycles through the options."""

    BINDINGS = [
        Binding("right,space,enter", "step(1)", "next", show=False),
        Binding("left", "step(-1)", "previous", show=False),
    ]
    DEFAULT_CSS = """
    Choice { width: auto; height: 1; padding: 0 1; background: $boost; }
    Choice:focus { background: $accent; color: $text; text-style: bold; }
    """
    index: reactive[int] = reactive(0)

    class Changed(Message):
        def __init__(self, choice: Choice, value: Any) -> None:
            super().__init__()
            self.choice = choice
            self.value = value

        @property
        def control(self) -> Choice:
            return self.choice

    def __init__(
        self,
        options: list[tuple[Any, str]],
        value: Any = None,
        *,
        prefix: str = "",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__("", id=id, classes=classes, markup=False)
        self.options = options
        self.prefix = prefix
        self.set_reactive(Choice.index, self._index_of(value))
        self.update(self._text())

    def _index_of(self, value: Any) -> int:
        for i, (v, _label) in enumerate(self.options):
            if v == value:
                return i
        return 0

    def _text(self) -> str:
        label = self.options[self.index][1] if self.options else ""
        return f"{self.prefix}< {label} >"

    @property
    def value(self) -> Any:
        return self.options[self.index][0] if self.options else None

    @value.setter
    def value(self, v: Any) -> None:
        """Set quietly (no Changed message): for code restoring a state."""
        self.set_reactive(Choice.index, self._index_of(v))
        self.update(self._text())

    def select(self, v: Any) -> None:
        """Set as the user would: posts Changed."""
        self.value = v
        self.post_message(self.Changed(self, self.value))

    def set_options(self, options: list[tuple[Any, str]]) -> None:
        current = self.value
        self.options = options
        self.value = current

    def action_step(self, delta: int) -> None:
        if self.options:
            self.select(self.options[(self.index + delta) % len(self.options)][0])

    def on_click(self) -> None:
        self.focus()
        self.action_step(1)


class Chip(Static, can_focus=True):
    """``[x] label``: Space/Enter/click toggles."""

    BINDINGS = [Binding("space,enter", "flip", "toggle", show=False)]
    DEFAULT_CSS = """
    Chip { width: auto; height: 1; padding: 0 1 0 0; margin-right: 1; }
    Chip:focus { background: $accent; color: $text; }
    Chip.-on { text-style: bold; color: $success; }
    Chip:focus.-on { color: $text; }
    """
    checked: reactive[bool] = reactive(False)

    class Toggled(Message):
        def __init__(self, chip: Chip) -> None:
            super().__init__()
            self.chip = chip

        @property
        def control(self) -> Chip:
            return self.chip

    def __init__(self, label: str, value: Any, checked: bool = False, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.label = label
        self.value = value
        self.set_reactive(Chip.checked, checked)
        self.update(self._text())
        self.set_class(checked, "-on")

    def _text(self) -> str:
        return f"[{'x' if self.checked else ' '}] {self.label}"

    def watch_checked(self, value: bool) -> None:
        self.update(self._text())
        self.set_class(value, "-on")

    def set_quietly(self, value: bool) -> None:
        self.set_reactive(Chip.checked, value)
        self.update(self._text())
        self.set_class(value, "-on")

    def action_flip(self) -> None:
        self.checked = not self.checked
        self.post_message(self.Toggled(self))

    def on_click(self) -> None:
        self.focus()
        self.action_flip()
