"""Textual bindings built from the one key table (:data:`qi_station.services.keymap.KEYS`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from textual.binding import Binding, BindingType

from qi_station.services.keymap import KEYS, Key

#: keys whose action reads what was typed: run once the focused field has taken every key typed before
#: (a priority key is handled before the keys still queued at the field: a scanner, a paste, an IME)
SETTLED = frozenset(
    {
        "form.save",
        "activity.save",
        "modal.ok",
        "reports.export",
        "sync.export",
        "sync.import",
        "ledger.save_filter",
    }
)


def _action(k: Key) -> str:
    return f"app.settled({k.action!r})" if k.id in SETTLED else k.action


def bindings(*prefixes: str) -> list[BindingType]:
    """The bindings of these prefixes ('app', 'ledger', ...), in that order (the footer's). Descriptions are catalogue keys;
    :func:`qi_station.screens.base.localize_bindings` translates them per instance."""
    return [
        Binding(
            k.key, _action(k), k.description, show=k.show, priority=k.priority, id=k.id, tooltip=k.description
        )
        for prefix in prefixes
        for k in KEYS
        if k.id.split(".", 1)[0] == prefix
    ]


#: a table's row cursor (the ledger's virtual table, the library results): actions ``cursor``,
#: ``cursor_page``, ``cursor_to`` and ``select`` of the widget
ROW_CURSOR: list[BindingType] = [
    Binding("up", "cursor(-1)", "up", show=False),
    Binding("down", "cursor(1)", "down", show=False),
    Binding("pageup", "cursor_page(-1)", "page up", show=False),
    Binding("pagedown", "cursor_page(1)", "page down", show=False),
    Binding("home", "cursor_to(0)", "first", show=False),
    Binding("end", "cursor_to(-1)", "last", show=False),
    Binding("enter", "select", "open", show=False),
]


def key_text(app: Any, binding: Binding) -> str:
    """THE way a binding's keys are shown to people (the command palette, the F1 help): the operator's
    keymap applied, each key as Textual's footer names it (``[`` not ``left_square_bracket``) and
    written out (``Ctrl+E`` for ``^e``, ``F7``, ``Esc``); several keys joined by ``,``."""
    keys = app.user_keys.get(binding.id, binding.key) if binding.id else binding.key
    return ",".join(
        _readable(app.get_key_display(dataclasses.replace(binding, key=k.strip()))) for k in keys.split(",")
    )


def _readable(shown: str) -> str:
    out: list[str] = []
    for part in shown.split("+") if len(shown) > 1 else [shown]:
        if part.startswith("^") and len(part) > 1:
            out += ["Ctrl", part[1:].upper() if len(part) == 2 else part[1:].capitalize()]
        else:
            out.append(part[:1].upper() + part[1:] if len(part) > 1 else part)
    return "+".join(out)
