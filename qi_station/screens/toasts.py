"""Where the notifications (toasts) lie: THE one rule, for every screen and dialog.

A toast never covers a field the operator types in or picks from (an 80x24 operator lost the library's
search line, 资质有效, the ledger's month box and the request form's USCC under them): it goes right under
the title bar when no field is there (the request detail, the dashboard, a dialog in the middle), else in
the rows above the page's foot (its status or hint line and the key bar), over the list; both bands
holding a field (the request form): the foot, as close to the key bar as the page's hint allows. An open
dialog's frame counts as a field (a toast never draws over its border: the 办结 dialog's top line).
The rack holds one row per toast shown: a replaced toast's holder goes too (:func:`drop_stale_holders`),
so a toast keeps its one place under the key line however many replaced it.
A screen's key lines (its ``KEY_LINES``: the request detail's 编号/状态, 企业名称 and 信用代码/登记地
lines, ``key_rows`` of them) are never covered: two toasts or a long one wrapped covered the detail's
"状态: …" at 80x24, the toast after a save hid 企业名称 and 登记地; the band then starts right under
the key lines (over the fields that follow, far from the timeline at the foot). A newer toast replaces an older
one of the same severity, errors aside (:meth:`qi_station.app.StationApp._on_notify`), so a band holds few.
Called by :meth:`qi_station.app.StationApp._refresh_notifications` whenever toasts are shown."""

from __future__ import annotations

from textual.css.query import NoMatches
from textual.geometry import Region
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input, TextArea
from textual.widgets._toast import ToastHolder, ToastRack

#: rows a band of toasts may take (one or two toasts of a line each, or a long one wrapped)
BAND: int = 3
#: the lines at a page's foot a toast keeps clear of, besides the key bar
FOOT_IDS: tuple[str, ...] = ("status-line", "form-error")


def _fields(screen: Screen[object]) -> list[Region]:
    from qi_station.screens.widgets import Chip, Choice

    kinds = (Input, TextArea, Choice, Chip)
    return [w.region for w in screen.query("*") if isinstance(w, kinds) and w.display and w.region.height > 0]


def _frames(screen: Screen[object], foot: int) -> list[Region]:
    """An open dialog's frame (its box, border included): a toast over its top border hid the 办结
    dialog's title line at 80x24. The page's foot (its key bar) is not the dialog's."""
    if not isinstance(screen, ModalScreen):
        return []
    return [
        w.region
        for w in screen.children
        if not isinstance(w, ToastRack) and w.display and w.region.height > 0 and w.region.y < foot
    ]


def _key_lines(screen: Screen[object]) -> list[Region]:
    """The key lines of the page (its ``KEY_LINES``: their first ``key_rows`` rows, one unless the page
    says more: the detail's 编号/状态, 企业名称 and 信用代码/登记地), also under a dialog (they show round
    it; its toasts lie where the page's do, never a second copy elsewhere)."""
    stack = list(screen.app.screen_stack)
    pages = stack[: stack.index(screen) + 1] if screen in stack else [screen]
    shown: list[Screen[object]] = []
    for page in reversed(pages):
        shown.append(page)
        if not isinstance(page, ModalScreen):
            break
    found = []
    for page in shown:
        for wid in getattr(page, "KEY_LINES", ()):
            try:
                w = page.query_one(f"#{wid}", Widget)
            except NoMatches:
                continue
            if w.display and w.region.height > 0:
                rows = max(1, min(int(getattr(page, "key_rows", 1)), w.region.height))
                found.append(Region(w.region.x, w.region.y, w.region.width, rows))
    return found


def _foot_top(screen: Screen[object]) -> int:
    """The first row of the page's foot (the key bar, and the status or hint line right above it)."""
    top = screen.size.height
    for w in screen.query("StationFooter, Footer"):
        if w.region.height:
            top = min(top, w.region.y)
    for fid in FOOT_IDS:
        try:
            w = screen.query_one(f"#{fid}", Widget)
        except NoMatches:
            continue
        if w.display and w.region.height and w.region.bottom >= top - 1:
            top = min(top, w.region.y)
    return top


def drop_stale_holders(rack: ToastRack) -> None:
    """Textual removes a replaced toast but not the holder it sits in: each replaced toast left a row in
    the rack, and the next toast came one line lower each time (over 需求事项, 需求描述, 承诺日期 at
    80x24). The holders whose toast is gone or no longer notified go with it."""
    live = {rack._toast_id(n) for n in rack.app._notifications}  # the holder's id names its toast
    for holder in list(rack.query_children(ToastHolder)):
        if holder.id not in live:
            holder.remove()


def place_toasts(screen: Screen[object]) -> None:
    """Dock ``screen``'s toast rack at the top (under the title bar) or at the foot, whichever band
    holds no field; a screen not laid out yet keeps its style sheet's place (called again after)."""
    try:
        rack = screen.get_child_by_type(ToastRack)
    except NoMatches:
        return
    drop_stale_holders(rack)
    height = screen.size.height
    if height <= 0:
        return
    foot = _foot_top(screen)
    fields = _fields(screen)
    frames = _frames(screen, foot)
    top = 1  # right under the title bar, or right under a key line there (the detail's 状态)
    for line in sorted(_key_lines(screen), key=lambda r: r.y):
        if line.overlaps(Region(0, top, screen.size.width, BAND)):
            top = line.bottom
    top_band = Region(0, top, screen.size.width, BAND)
    from qi_station.screens.base import toast_lines

    # a dialog's frame: the rows the toasts take (their text wrapped as drawn): one toast of a line
    # over the page right above a dialog's top border stays there (the page's copy shows there too)
    taken = sum(toast_lines(str(n.message)) + bool(n.title) for n in screen.app._notifications) or BAND
    toast_band = Region(0, top, screen.size.width, min(BAND, taken))
    at_top = (
        not any(top_band.overlaps(f) for f in fields)
        and not any(toast_band.overlaps(f) for f in frames)
        and top_band.bottom <= foot
    )
    if at_top:
        rack.styles.dock = "top"
        rack.styles.align = ("right", "top")
        rack.styles.margin = (top, 0, 0, 0)
    else:
        # the foot: over the list, or (both bands holding fields) as low as the page allows
        rack.styles.dock = "bottom"
        rack.styles.align = ("right", "bottom")
        rack.styles.margin = (0, 0, max(0, height - foot), 0)
