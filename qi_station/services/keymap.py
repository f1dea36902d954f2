"""Key bindings (every one has an id), the user's config file and saved ledger filters.

The config file is ``config_dir()/config.toml`` (``QI_STATION_CONFIG`` overrides the path)::

    lang = "en"                 # zh (default) | en

    [keys]                      # binding id = keys (comma-separated for several)
    "app.ledger" = "f3,ctrl+l"
    "detail.resolve" = "ctrl+d"

    [filters.overdue-metrology] # saved ledger filters
    status = ""
    element = "metrology"
    overdue = true

Read with the stdlib ``tomllib`` (fast, at start-up); :func:`save_filter` edits the file in place with
``tomlkit`` (imported only then), so the user's comments, value types and key order survive a save.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Key:
    id: str
    key: str
    action: str
    description: str  # an i18n catalogue key
    show: bool = True
    priority: bool = False


# One table for every binding in the app: the default keys live here, the screens take theirs by prefix.
# A screen's Ctrl and Esc keys are ``priority``: they win over a focused widget's own use of the key
# (an Input reads Ctrl+E as "end of line", Ctrl+X as "cut"), so every key in the footer works from
# every field. Printable keys (o, [, a ...) are never priority: an Input types them, and Textual hides
# them from the footer while a text field has the focus. The F-keys stay out of the footer (it must
# fit 80 columns); F1 help and the command palette list them. Never a key a terminal cannot send apart
# from another (Ctrl+I is Tab, Ctrl+M is Enter, Ctrl+H is Backspace, Ctrl+[ is Esc): see TERMINAL_ALIASES.
KEYS: tuple[Key, ...] = (
    Key("app.help", "f1", "help", "key.help", show=False, priority=True),  # the title bar shows F1 and Ctrl+Q
    Key("app.dashboard", "f2", "goto('dashboard')", "key.dashboard", show=False, priority=True),
    Key("app.ledger", "f3", "goto('ledger')", "key.ledger", show=False, priority=True),
    Key("app.new_request", "f4", "new_request", "key.new_request", show=False, priority=True),
    Key("app.libraries", "f5", "goto('libraries')", "key.libraries", show=False, priority=True),
    Key("app.sync", "f6", "goto('sync')", "key.sync", show=False, priority=True),
    Key("app.reports", "f7", "goto('reports')", "key.reports", show=False, priority=True),
    Key("app.profile", "f9", "profile", "key.profile", show=False, priority=True),
    Key("app.palette", "ctrl+p", "command_palette", "key.palette", show=False, priority=True),
    Key("app.quit", "ctrl+q", "quit", "key.quit", show=False, priority=True),  # in the title bar too
    Key("main.back", "escape", "back", "key.back", priority=True),  # every main screen but the dashboard
    Key("dash.refresh", "r", "refresh", "key.refresh"),
    Key("dash.overdue", "o", "show_overdue", "key.show_overdue"),
    Key("dash.followup", "u", "show_followup", "key.show_followup"),
    Key("dash.activities", "t", "app.goto('activities')", "key.activities"),
    Key("dash.expiring", "e", "show_expiring", "key.show_expiring"),
    Key("ledger.open", "o", "open", "key.open"),  # Enter on a row opens it too (DataTable)
    # the table scrolls by itself (PgUp/PgDn/Home/End); these page keys stay for the help and the palette
    Key("ledger.prev_page", "[", "page(-1)", "key.prev_page", show=False),
    Key("ledger.next_page", "]", "page(1)", "key.next_page", show=False),
    Key("ledger.sort", "ctrl+o", "sort", "key.sort", priority=True),
    Key("ledger.search", "ctrl+f", "focus_search", "key.search", priority=True),
    Key("ledger.save_filter", "ctrl+s", "save_filter", "key.save_filter", priority=True),
    Key("ledger.clear", "ctrl+x", "clear_filters", "key.clear_filters", priority=True),
    Key("form.save", "ctrl+s", "save", "key.save", priority=True),
    Key("form.cancel", "escape", "cancel", "key.back"),
    Key("form.enterprise", "f8", "open_enterprise", "key.enterprise", show=False),  # in the form's hint line
    Key("detail.accept", "a", "move('accepted')", "key.accept"),
    Key("detail.start", "s", "move('in_progress')", "key.start"),
    Key("detail.wait", "w", "move('waiting')", "key.wait"),
    Key("detail.resolve", "d", "move('resolved')", "key.resolve"),
    Key("detail.close", "v", "move('closed')", "key.close"),
    Key("detail.hold", "h", "move('on_hold')", "key.hold"),
    Key("detail.cancel", "x", "move('cancelled')", "key.cancel_request"),
    Key("detail.refer", "r", "refer", "key.refer"),
    Key("detail.note", "n", "note", "key.note"),
    Key("detail.correct", "c", "correct", "key.correct"),
    Key("detail.rectify", "z", "rectify", "key.rectify"),
    Key("detail.back", "escape", "back", "key.back"),
    Key("detail.enterprise", "e", "open_enterprise", "key.enterprise", show=False),  # F1 lists it
    Key("ent.more", "]", "more", "key.more_rows"),
    Key("ent.back", "escape", "back", "key.back"),
    Key("lib.next_kind", "ctrl+t", "next_kind", "key.next_kind", priority=True),
    Key("lib.search", "ctrl+f", "focus_search", "key.search", priority=True),
    Key("lib.refer", "ctrl+r", "refer", "key.refer_here", priority=True),
    Key("sync.run", "ctrl+r", "run_sync", "key.run_sync", priority=True),
    Key("sync.export", "ctrl+e", "export_bundle", "key.export_bundle", priority=True),
    Key("sync.import", "ctrl+o", "import_bundle", "key.import_bundle", priority=True),
    Key("sync.refresh", "ctrl+l", "refresh", "key.refresh", priority=True),
    Key("reports.prev", "[", "month(-1)", "key.prev_month"),
    Key("reports.next", "]", "month(1)", "key.next_month"),
    Key("reports.export", "ctrl+e", "export", "key.export", priority=True),
    Key("activity.save", "ctrl+s", "save", "key.save", priority=True),
    Key("activity.prev", "[", "month(-1)", "key.prev_month"),
    Key("activity.next", "]", "month(1)", "key.next_month"),
    Key("modal.ok", "ctrl+s", "ok", "key.confirm", priority=True),
    Key("modal.cancel", "escape", "cancel", "key.cancel"),
    Key("help.close", "escape", "close", "key.close_help"),
)
#: keys a terminal sends as the same bytes as another key: a binding on one of them can never fire
TERMINAL_ALIASES = frozenset({"ctrl+i", "ctrl+m", "ctrl+h", "ctrl+j", "ctrl+left_square_bracket", "ctrl+["})
BY_ID = {k.id: k for k in KEYS}


def config_path() -> Path:
    env = os.environ.get("QI_STATION_CONFIG")
    if env:
        return Path(env)
    from qi_station.db.paths import config_dir

    return config_dir() / "config.toml"


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed config file; {} when missing. A broken file is reported, not fatal."""
    p = path or config_path()
    try:
        f = open(p, "rb")  # noqa: SIM115 - tomllib needs bytes; TOML is UTF-8 by definition
    except FileNotFoundError:
        return {}  # no file: tomllib is not even imported (the TUI's start)
    except OSError as e:
        return {"_error": f"{p}: {e}"}
    import tomllib

    try:
        with f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        return {"_error": f"{p}: {e}"}


def user_keymap(cfg: dict[str, Any]) -> dict[str, str]:
    """{binding id: keys} from the [keys] table, unknown ids dropped."""
    keys = cfg.get("keys") or {}
    if not isinstance(keys, dict):
        return {}
    return {str(k): str(v) for k, v in keys.items() if k in BY_ID and isinstance(v, str) and v.strip()}


def config_lang(cfg: dict[str, Any]) -> str | None:
    v = cfg.get("lang")
    return v if isinstance(v, str) else None


def saved_filters(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    f = cfg.get("filters") or {}
    return {str(k): dict(v) for k, v in f.items() if isinstance(v, dict)} if isinstance(f, dict) else {}


def check_filter_name(name: str | None) -> str:
    """A saved filter's name: required (spaces around dropped)."""
    from qi_station.core.errors import ValidationError

    got = (name or "").strip()
    if not got:
        raise ValidationError("name", "required", "a saved filter needs a name / 筛选名称不能为空")
    return got


def save_filter(name: str, filters: dict[str, Any], path: Path | None = None) -> Path:
    """Add or replace a saved ledger filter (``[filters.<name>]``) in the config file; everything else in
    the file (comments, other settings, their types and order) is kept as it was."""
    name = check_filter_name(name)
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    p = path or config_path()
    try:
        with open(p, encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as e:
        raise OSError(f"{p}: {e}") from e
    table = doc.get("filters")
    if table is None:
        table = tomlkit.table(is_super_table=True)  # only [filters.<name>] headers, no bare [filters]
        doc["filters"] = table
    elif not isinstance(table, dict):
        raise OSError(f"{p}: filters is not a table")
    entry = tomlkit.table()
    for k, v in filters.items():
        if v is not None:
            entry[k] = v
    table[name] = entry
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".toml.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(tomlkit.dumps(doc))
    os.replace(tmp, p)
    return p
