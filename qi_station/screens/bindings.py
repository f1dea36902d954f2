"""Textual bindings built from the one key table (:data:`qi_station.services.keymap.KEYS`)."""

from __future__ import annotations

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
