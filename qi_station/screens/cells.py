"""Text cut to a number of terminal cells, marked where it was cut. The mark is ASCII ("..."'s
``..``): the one-glyph ellipsis U+2026 is East-Asian-ambiguous and drawn two cells wide by CJK
terminals, which would push the rest of a table row one cell out of its column."""

from __future__ import annotations

from pathlib import Path

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


def hang(text: str, width: int, indent: int) -> list[str]:
    """``text`` on lines of at most ``width`` cells, every line after the first (a wrap or a newline in
    the text) starting ``indent`` cells in: under the value, not under the label. Lines break at spaces
    -- never between a ``label:`` and the word after it (``收费金额(元): 1200.50`` stays whole) -- and a
    word longer than a line (Chinese text has no spaces) is cut by cells."""
    from rich.cells import chop_cells

    indent = max(0, min(indent, width // 2))
    pad = " " * indent
    out: list[str] = []
    for n, para in enumerate(text.split("\n")):
        words: list[str] = []
        for word in para.split(" "):
            if words and words[-1].endswith((":", "：")) and word:
                words[-1] += " " + word  # the label stays with its value
            else:
                words.append(word)
        line, placed = ("" if n == 0 else pad), False
        for word in words:
            cand = f"{line} {word}" if placed else line + word
            if cell_len(cand) <= width:
                line, placed = cand, True
                continue
            if placed and line.strip():
                out.append(line.rstrip())
                line, placed = pad, False
                cand = line + word
                if cell_len(cand) <= width:
                    line, placed = cand, True
                    continue
            room = width - cell_len(line)
            pieces = chop_cells(word, max(1, room))
            out.append(line + pieces[0])
            pieces = chop_cells("".join(pieces[1:]), max(1, width - indent)) if len(pieces) > 1 else []
            out.extend(pad + piece for piece in pieces[:-1])
            line, placed = (pad + pieces[-1], True) if pieces else (pad, False)
        out.append(line.rstrip())
    return out


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


def shown_path(path: str | Path) -> str:
    """A path as the operator can find it: absolute, the home folder written ``~`` (never one that
    looks relative: a toast showed ``../Documents/qi-station``)."""
    p = Path(path).expanduser().resolve()
    try:
        rel = p.relative_to(Path.home().resolve())
    except (ValueError, RuntimeError):  # not under the home folder (or no home): the absolute path
        return str(p)
    return str(Path("~") / rel) if rel.parts else "~"


def clip_path(path: str | Path, width: int) -> str:
    """:func:`shown_path` in at most ``width`` cells: cut from the left (its end names the folder) with
    ``...``, never :data:`CUT` alone (``..`` reads as the parent folder)."""
    text = shown_path(path)
    if cell_len(text) <= width:
        return text
    return "..." + clip_left(text, width - 1)[len(CUT) :]
