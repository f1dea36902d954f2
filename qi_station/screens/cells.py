"""Text cut to a number of terminal cells, marked where it was cut. The mark is ASCII ("..."'s
``..``): the one-glyph ellipsis U+2026 is East-Asian-ambiguous and drawn two cells wide by CJK
terminals, which would push the rest of a table row one cell out of its column."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size

CUT = ".."


def clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells; a cut one ends with :data:`CUT` (never half a wide char)."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    if width <= len(CUT):
        return set_cell_size(text, width)
    head = set_cell_size(text, width - len(CUT)).rstrip()  # pads a split wide char with a space
    return head + CUT


def clip_left(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, cut from the left (a path keeps its end, the part that
    names it: ``..ackups/2026``); a cut one starts with :data:`CUT`."""
    if cell_len(text) <= width:
        return text
    if width <= len(CUT):
        return CUT[: max(width, 0)]
    tail = text
    while tail and cell_len(tail) > width - len(CUT):
        tail = tail[1:]
    return CUT + tail
