"""The headless paths never import the UI.

Each command runs in a fresh interpreter (``sys.modules`` must start clean); afterwards neither
``textual`` nor the TUI modules may be loaded.  The model is harlequin's
tests/unit_tests/test_import_hygiene.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = r"""
import json, sys
sys.argv = ["qi-station", "--db", sys.argv[1], *sys.argv[2:]]
code = 0
try:
    from qi_station.cli.commands import main
    main()
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
loaded = sorted(m for m in sys.modules
                if m == "textual" or m.startswith("textual.") or m == "qi_station.app"
                or m.startswith("qi_station.screens"))
tops = sorted({m.split(".")[0] for m in sys.modules})
cli = sorted(m for m in sys.modules if m.startswith("qi_station.cli."))
sys.__stdout__.write("\n@@" + json.dumps({"code": code, "loaded": loaded, "tops": tops, "cli": cli}) + "\n")
"""

COMMANDS = [
    ["request", "list"],
    ["request", "list", "--json"],
    ["library", "search", "experts", "wjg"],
    ["report", "monthly", "--format", "json"],  # the last full month: always allowed (an empty station)
    ["sync", "status"],
    ["init"],
]


def _run(db: Path, args: list[str]) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(db), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    marker = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")]
    assert marker, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(marker[-1][2:])


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_headless_commands_never_import_textual(args: list[str], tmp_path: Path) -> None:
    from qi_station.db.engine import open_db

    db = open_db(tmp_path / "station.db")
    out = _run(db, args)
    assert out["code"] == 0, out
    assert out["loaded"] == [], f"{args}: {out['loaded']}"


# What a quick headless call must not load (issue 13): Typer's Pydantic coercion (cli/startup.py builds
# it only for a value that needs it), Rich (nothing prints through it), the ORM and migrations (the
# schema check is one SELECT of alembic_version), pinyin, phone numbers, spreadsheets, HTTP.
NOT_FOR_A_QUICK_CALL = (
    "pydantic",
    "pydantic_core",
    "rich",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "pypinyin",
    "phonenumbers",
    "openpyxl",
    "httpx",
    "textual",
)


@pytest.mark.parametrize(
    "args",
    [
        ["request", "list", "--month", "2024-05", "--json"],
        ["request", "list", "--status", "new,accepted", "--element", "标准"],
        ["--lang", "en", "request", "list", "--overdue"],
        ["--version"],
    ],
    ids=lambda a: " ".join(a),
)
def test_quick_calls_load_no_heavy_module(args: list[str], tmp_path: Path) -> None:
    from qi_station.db.engine import open_db

    db = open_db(tmp_path / "station.db")
    out = _run(db, args)
    assert out["code"] == 0, out
    heavy = sorted(set(NOT_FOR_A_QUICK_CALL) & set(out["tops"]))  # type: ignore[arg-type]
    assert heavy == [], f"{args}: {heavy}"


# the command groups' modules (cli/commands.GROUPS): a call imports the one it names, no other
GROUP_MODULES = {
    "qi_station.cli.activity",
    "qi_station.cli.enterprise",
    "qi_station.cli.library",
    "qi_station.cli.report",
    "qi_station.cli.requests",
    "qi_station.cli.staff",
    "qi_station.cli.station",
    "qi_station.cli.sync",
    "qi_station.cli.workdays",
}


@pytest.mark.parametrize(
    ("args", "groups"),
    [
        (["request", "list", "--json"], {"qi_station.cli.requests"}),
        (["--lang", "en", "staff", "list"], {"qi_station.cli.staff"}),
        (["--version"], set()),
        (["ledger", "verify"], set()),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, list) else None,
)
def test_a_call_imports_only_the_command_group_it_names(
    args: list[str], groups: set[str], tmp_path: Path
) -> None:
    """cli/commands.app_for: Typer builds every command it holds before it parses, and the groups'
    modules import the core, so a call gets the group it names alone (issue 13)."""
    from qi_station.db.engine import open_db

    db = open_db(tmp_path / "station.db")
    out = _run(db, args)
    assert out["code"] == 0, out
    assert GROUP_MODULES & set(out["cli"]) == groups, out["cli"]  # type: ignore[arg-type]


def test_a_value_that_needs_typers_coercion_still_gets_it(tmp_path: Path) -> None:
    """``--limit`` is an int with a minimum: Typer's own coercion (and its message) is used."""
    from qi_station.db.engine import open_db

    db = open_db(tmp_path / "station.db")
    proc = subprocess.run(
        [sys.executable, "-m", "qi_station.entry", "--db", str(db), "request", "list", "--limit", "-1"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert proc.returncode == 2 and "--limit" in proc.stderr, proc.stderr
    assert _run(db, ["request", "list", "--limit", "2", "--json"])["code"] == 0


def test_core_modules_of_the_tui_are_headless() -> None:
    code = (
        "import sys, qi_station.services.dashboard, qi_station.services.matching, qi_station.i18n, qi_station.services.keymap, "
        "qi_station.services.queries, qi_station.services.search; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'sqlmodel', 'sqlalchemy', 'pypinyin')]; "
        "print(bad)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", timeout=60
    )
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_app_module_defers_heavy_imports() -> None:
    """Importing the app (what runs before the first frame) loads no ORM, no pinyin, no screens but the first."""
    code = (
        "import sys, qi_station.app; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlmodel', 'sqlalchemy', 'pypinyin', 'alembic', "
        "'phonenumbers', 'openpyxl', 'httpx')]; print(bad)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", timeout=60
    )
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_core_loads_no_third_party_module() -> None:
    """Every ``qi_station.core`` module, imported and used a little, loads only the standard library."""
    code = r"""
import importlib, json, pkgutil, sys
before = set(sys.modules)
import qi_station.core as core
names = [m.name for m in pkgutil.iter_modules(core.__path__, "qi_station.core.")]
for name in names:
    importlib.import_module(name)
from qi_station.core import chain, clock, domain, validate
validate.validate_uscc("91350100M000100Y43")
validate.parse_cost("1.5")
clock.local(clock.now_utc())
chain.canonical({"a": 1})
new = set(sys.modules) - before
import sysconfig
site = tuple({sysconfig.get_paths()[k] for k in ("purelib", "platlib")})
# tzdata: the data stdlib zoneinfo falls back to where the system has no tz database
bad = sorted(
    m for m in new
    if m.split(".")[0] not in ("qi_station", "tzdata")
    and (m.split(".")[0] not in sys.stdlib_module_names and not m.startswith("_sysconfigdata")
         or (getattr(sys.modules[m], "__file__", None) or "").startswith(site))
)
print(json.dumps({"modules": names, "bad": bad}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "qi_station.core.validate" in out["modules"], out
    assert out["bad"] == [], out["bad"]


def test_first_screen_loads_only_what_it_shows() -> None:
    """The app and its first screen, as imported before the first frame: no other screen, no config
    parser when there is no config file, no time zones, no database module (the workers load those)."""
    code = (
        "import json, sys, qi_station.app, qi_station.screens.dashboard; "
        "qi_station.app.StationApp('/nonexistent/qi-hygiene/station.db', offer_demo=False); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('qi_station.screens.') "
        "or m in ('tomllib', 'zoneinfo', 'sqlite3', 'qi_station.core.clock', 'qi_station.db.engine', "
        "'qi_station.services.dashboard'))))"
    )
    assert _modules(code, "/nonexistent/qi-hygiene/config.toml") == FIRST_SCREEN


def _modules(code: str, config: str, *args: str) -> list[str]:
    """Run ``code`` in a fresh interpreter (no config file at ``config``); its last line, as JSON."""
    env = {**os.environ, "QI_STATION_CONFIG": config}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


FIRST_SCREEN = [
    "qi_station.screens.base",
    "qi_station.screens.bindings",
    "qi_station.screens.css",
    "qi_station.screens.dashboard",
]


RUN_TO_DASHBOARD = r"""
import json, sys
import qi_station.app as qa
class Probe(qa.StationApp):
    def _display(self, screen, renderable):
        super()._display(screen, renderable)
        if renderable is not None and self.screen.has_class("loaded"):
            self.exit()
Probe(sys.argv[1], offer_demo=False).run(headless=True)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("qi_station.screens."))))
"""


def test_the_dashboard_shown_loads_no_other_screen(tmp_path: Path) -> None:
    """Every other screen (and the dialogs, the form, the shared widgets) is imported on first use."""
    from qi_station.db.engine import open_db

    db = open_db(tmp_path / "station.db")
    loaded = _modules(RUN_TO_DASHBOARD, str(tmp_path / "config.toml"), str(db))
    assert loaded == [*FIRST_SCREEN, "qi_station.screens.footer"]


RUN_TO_FIRST_FRAME = r"""
import json, sys
import qi_station.services.files  # the console entry point checks the database's folder first
import qi_station.app as qa
class Probe(qa.StationApp):
    def _display(self, screen, renderable):
        super()._display(screen, renderable)
        if renderable is not None:
            self.exit()
Probe(sys.argv[1], offer_demo=False).run(headless=True)
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("qi_station.screens.", "qi_station.reports"))
                        or m in ("zipfile", "textual.widgets._footer"))))
"""


def test_the_first_frame_loads_neither_the_footer_nor_the_body_s_modules(tmp_path: Path) -> None:
    """The first frame is the dashboard's title bar (``MainScreen.BODY_AFTER_FIRST_FRAME``): the footer,
    the body's report labels and the folder check's zip reader are imported after it, when used."""
    from qi_station.db.engine import open_db

    db = open_db(tmp_path / "station.db")
    assert _modules(RUN_TO_FIRST_FRAME, str(tmp_path / "config.toml"), str(db)) == FIRST_SCREEN


RUN_TO_FIRST_FRAME_AT_ITS_PAINT = r"""
import json, sys
import qi_station.app as qa
seen = []
class Probe(qa.StationApp):
    def _display(self, screen, renderable):
        super()._display(screen, renderable)
        if renderable is not None and not seen:
            seen.append(sorted(m for m in sys.modules if m in ("qi_station.core.validate", "qi_station.core.places")))
            seen.append(len(self._screen_stacks))
            seen.append(sorted(str(path).rsplit("/", 1)[-1] for path, _var in self.stylesheet.source
                               if str(path).endswith(".tcss")))
            self.exit()
Probe(sys.argv[1], offer_demo=False).run(headless=True)
print(json.dumps(seen))
"""


def test_the_first_frame_is_painted_before_textual_s_rendering_is_adjusted(tmp_path: Path) -> None:
    """The first screen is composed with the app (``StationApp.DEFAULT_MODE``: no blank default screen
    before it, one screen stack) and its title bar painted before the app's mount, where the text rule's
    strip tables are put in (``StationApp.on_mount``): the text rule's modules are imported after the
    first frame (``sys.modules`` as that frame is painted)."""
    from qi_station.db.engine import open_db

    db = open_db(tmp_path / "station.db")
    shown = _modules(RUN_TO_FIRST_FRAME_AT_ITS_PAINT, str(tmp_path / "config.toml"), str(db))
    # and the CSS parsed for it: the app's and the dashboard's files, not the dialogs' (dialogs.tcss)
    assert shown == [[], 1, ["app.tcss", "dashboard.tcss"]]
