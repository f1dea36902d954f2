"""Small widgets with ASCII-only chrome (no East-Asian-ambiguous glyphs such as the arrows and
half blocks that Select and Checkbox draw): Choice (cycles through options) and Chip (a toggle)."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static


class ChoiceMenu(ModalScreen[Any]):
    """The options of a :class:`Choice` opened as a list: arrows move, Enter chooses, Esc keeps."""

    BINDINGS = [Binding("escape", "dismiss_none", "back", show=False)]
    CSS_PATH = "dialogs.tcss"  # its see-through background (read after app.tcss's `Screen`)
    DEFAULT_CSS = """
    ChoiceMenu { align: center middle; }  /* its see-through background: dialogs.tcss */
    ChoiceMenu OptionList { width: auto; min-width: 16; max-width: 40; height: auto; max-height: 12; }
    """

    def __init__(self, options: list[tuple[Any, str]], index: int) -> None:
        super().__init__()
        self.options, self.index = options, index

    def compose(self) -> Any:
        from textual.widgets import OptionList

        class MenuList(OptionList):
            """Up at the first option and Down at the last stay there (Textual's list wraps around)."""

            def action_cursor_up(self) -> None:
                if self.highlighted:
                    super().action_cursor_up()

            def action_cursor_down(self) -> None:
                if self.highlighted is None or self.highlighted < self.option_count - 1:
                    super().action_cursor_down()

        yield MenuList(*[label for _v, label in self.options], id="choice-menu")

    def on_mount(self) -> None:
        from textual.widgets import OptionList

        ol = self.query_one(OptionList)
        ol.highlighted = self.index
        ol.focus()

    def on_option_list_option_selected(self, event: Any) -> None:
        event.stop()
        self.dismiss(self.options[event.option_index][0])

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class Choice(Static, can_focus=True):
    """``< label >``: Left/Right step through the options and stop at the ends; Space/Enter/click
    cycle through them.

    With a ``placeholder`` the choice may start with nothing chosen (value None): the digit of a
    numbered option chooses; arrows, Space and Enter never choose for the operator (Left would
    otherwise land on the last option: the top rating). With ``wrap=False``
    Space/Enter stop at the last option too (never from the last option to the first). With ``menu`` (a form
    field), only a deliberate choice changes it: Enter/Space/click opens the list of options and Enter
    in the list chooses; arrows and Esc on the field itself change nothing (a burst of keys from a
    scanner, a pasted ESC)."""

    BINDINGS = [
        Binding("space,enter", "open", "next", show=False),
        Binding("right", "step(1)", "next", show=False),
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
        menu: bool = False,
        id: str | None = None,
        classes: str | None = None,
        placeholder: str | None = None,
        wrap: bool = True,
        type_on: bool = False,
    ) -> None:
        super().__init__("", id=id, classes=classes, markup=False)
        self.options = options
        self.prefix = prefix
        self.placeholder = placeholder
        self.wrap = wrap
        self.menu = menu
        self.type_on = type_on
        self.set_reactive(Choice.index, self._index_of(value))
        self.update(self._text())

    def _index_of(self, value: Any) -> int:
        for i, (v, _label) in enumerate(self.options):
            if v == value:
                return i
        return -1 if self.placeholder is not None else 0

    def _text(self) -> str:
        if self.index < 0:
            return f"{self.prefix}< {self.placeholder} >"
        label = self.options[self.index][1] if self.options else ""
        return f"{self.prefix}< {label} >"

    @property
    def value(self) -> Any:
        return self.options[self.index][0] if self.options and self.index >= 0 else None

    @value.setter
    def value(self, v: Any) -> None:
        """Set quietly (no Changed message): for code restoring a state. Its width follows the new label
        even when a layout of the Choice is still pending: Textual's ``refresh(layout=True)`` bumps the
        key of the size it caches (``_layout_updates``, private) only when none is pending, so a value
        set then kept the old label's width (站点信息 filled from its worker under load drew 园区工作站 in
        the width of 综合服务中心; guard: test_tui_tuifix.py::test_a_choice_set_while_a_layout_is_pending_fits_its_label)."""
        self.set_reactive(Choice.index, self._index_of(v))
        self._layout_updates += 1
        self.update(self._text())

    def select(self, v: Any) -> None:
        """Set as the user would: posts Changed."""
        self.value = v
        self.post_message(self.Changed(self, self.value))

    def set_options(self, options: list[tuple[Any, str]]) -> None:
        current = self.value
        self.options = options
        self.value = current

    def action_step(self, delta: int, cycle_only: bool = False) -> None:
        """Left/Right: the option before/after, stopping at the ends (→ on the last never lands on the
        first, as the footer's ``< … >`` promises: F5's 企业 went round to 专家库). ``cycle_only``
        (Space/Enter, a screen's "next" key such as F5's Ctrl+T 换库) goes round unless ``wrap=False``."""
        if not self.options or self.menu or (cycle_only and self.index < 0):
            return  # a menu field never changes on an arrow
        if self.index < 0:
            return  # nothing chosen yet: an arrow (a stray key) never chooses for the operator
        if self.wrap and cycle_only:
            i = (self.index + delta) % len(self.options)
        else:
            i = min(max(self.index + delta, 0), len(self.options) - 1)
        if i != self.index:
            self.select(self.options[i][0])

    def on_key(self, event: Any) -> None:
        """A digit chooses the option whose value is that number (the satisfaction 1..5). With
        ``type_on``, other text typed here goes on in the next field: the focus moves there with its
        first character (回访: ``4 企业很满意`` lost the text on the rating); the arrows, Space and Enter
        keep their use here."""
        ch = event.character
        if ch and ch.isdigit() and any(type(v) is int and v == int(ch) for v, _label in self.options):
            event.stop()
            event.prevent_default()
            self.select(int(ch))
        elif self.type_on and event.is_printable and ch and ch != " " and not ch.isdigit():
            self._type_on(event, ch)

    def _type_on(self, event: Any, ch: str) -> None:
        from textual import events
        from textual.widgets import Input

        chain = self.screen.focus_chain
        after = chain[chain.index(self) + 1 :] if self in chain else []
        if after and isinstance(after[0], Input):
            event.stop()
            event.prevent_default()
            self.screen.set_focus(after[0])  # at once: the next key of a burst lands there too
            # the key after the field's Focus in its queue: typed as if it had been focused by Tab
            after[0].post_message(events.Key(event.key, ch))

    def action_open(self) -> None:
        if not self.menu:
            self.action_step(1, True)
        elif self.options:
            self.app.push_screen(ChoiceMenu(self.options, max(self.index, 0)), self._chosen)

    def _chosen(self, value: Any) -> None:
        if value is not None and value != self.value:
            self.select(value)

    def on_click(self) -> None:
        self.focus()
        self.action_open()


class Chip(Static, can_focus=True):
    """``[x] label``: Space/Enter/click toggles. In a container of chips only (F4's 服务要素) the chips
    are one field: Tab / Shift+Tab leave the block for the next / previous field (an operator typed
    Tab 压力表校准 in the block and the text was lost: Tab had moved to the next box), the arrows move
    between the boxes (Up/Down by a row of the grid, stopping at the ends), only Space (or a click)
    toggles, Enter neither toggles nor leaves (it jumped to 需求事项; a reflexive Enter after Space
    untoggled): it posts :class:`Hint`, and text typed or pasted in the block goes on into the first
    text field after it (the block takes no text: nothing typed is lost)."""

    BINDINGS = [
        Binding("space", "flip", "toggle", show=False),
        Binding("enter", "enter", "toggle", show=False),
        Binding("tab", "leave(1)", show=False),
        Binding("shift+tab", "leave(-1)", show=False),
        Binding("left", "move(-1, 0)", show=False),
        Binding("right", "move(1, 0)", show=False),
        Binding("up", "move(0, -1)", show=False),
        Binding("down", "move(0, 1)", show=False),
    ]
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

    class Hint(Message):
        """Enter in a block of chips: the screen says which keys the block takes."""

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

    def set_label(self, label: str) -> None:
        self.label = label
        self.update(self._text())

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

    def _group(self) -> list[Chip]:
        """The chips of a container holding only chips (F4's 服务要素 grid); a chip among other widgets
        (a filter row's 仅逾期) stands alone, its keys as before."""
        siblings = list(self.parent.children) if self.parent else []
        group = len(siblings) > 1 and all(isinstance(c, Chip) for c in siblings)
        return [c for c in siblings if isinstance(c, Chip)] if group else [self]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("move", "leave"):  # a lone chip leaves the arrows and Tab to its screen
            return len(self._group()) > 1
        return True

    def _beyond(self, direction: int) -> list[Widget]:
        """The focusable widgets after (``direction`` 1) or before (-1, nearest first) the block."""
        group, chain = self._group(), self.screen.focus_chain
        if group[0] not in chain or group[-1] not in chain:
            return []
        if direction > 0:
            return chain[chain.index(group[-1]) + 1 :]
        return chain[: chain.index(group[0])][::-1]

    def action_leave(self, direction: int) -> None:
        beyond = self._beyond(direction)
        if beyond:
            beyond[0].focus()

    def action_enter(self) -> None:
        if len(self._group()) > 1:
            self.post_message(self.Hint(self))
        else:
            self.action_flip()

    def _text_field(self) -> Widget | None:
        """The first text field after the block (F4's 需求事项): where text typed in the block goes."""
        from textual.widgets import Input, TextArea

        return next((w for w in self._beyond(1) if isinstance(w, Input | TextArea)), None)

    def _type_on(self, text: str) -> bool:
        """``text`` typed in a block of chips goes on at the end of the next text field, focused."""
        from textual.widgets import Input, TextArea

        field = self._text_field() if len(self._group()) > 1 else None
        if field is None:
            return False
        field.focus()
        if isinstance(field, Input):
            field.cursor_position = len(field.value)
            field.insert_text_at_cursor(text)
        elif isinstance(field, TextArea):
            field.move_cursor(field.document.end)
            field.insert(text)
        return True

    def on_key(self, event: events.Key) -> None:
        if (
            event.is_printable
            and event.character
            and event.character != " "
            and self._type_on(event.character)
        ):
            event.stop()
            event.prevent_default()

    def on_paste(self, event: events.Paste) -> None:
        if self._type_on(event.text):
            event.stop()
            event.prevent_default()

    def action_move(self, dx: int, dy: int) -> None:
        group = self._group()
        per_row = sum(1 for c in group if c.region.y == self.region.y) or 1
        i = group.index(self) + dx + dy * per_row
        if 0 <= i < len(group):
            group[i].focus()

    def on_click(self) -> None:
        self.focus()
        self.action_flip()
