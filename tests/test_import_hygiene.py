"""The headless paths never import the UI.

Each command runs in a fresh interpreter (``sys.modules`` must start clean); afterwards neither
``textual`` nor the TUI modules may be loaded.  The model is harlequin's
tests/unit_tests/test_import_hygiene.py.
"""

from __future__ import annotations

import json
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
sys.__stdout__.write("\n@@" + json.dumps({"code": code, "loaded": loaded}) + "\n")
"""

COMMANDS = [
    ["request", "list"],
    ["request", "list", "--json"],
    ["library", "search", "experts", "wjg"],
    ["report", "monthly", "--month", "2026-03", "--format", "json"],
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
