"""Textual bindings built from the one key table (:data:`qi_station.services.keymap.KEYS`)."""

from __future__ import annotations

from textual.binding import Binding, BindingType

from qi_station.services.keymap import KEYS


def bindings(*prefixes: str) -> list[BindingType]:
    """The bindings of these prefixes ('app', 'ledger', ...), in that order (the footer's). Descriptions are catalogue keys;
    :func:`qi_station.screens.base.localize_bindings` translates them per instance."""
    return [
        Binding(
            k.key, k.action, k.description, show=k.show, priority=k.priority, id=k.id, tooltip=k.description
        )
        for prefix in prefixes
        for k in KEYS
        if k.id.split(".", 1)[0] == prefix
    ]
