"""Lint, format, types and import contracts are part of the suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREES = ["qi_station", "tests", "benchmarks", "data"]


def _tool(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).with_name(name))


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, encoding="utf-8")


def test_ruff_clean() -> None:
    p = _run([_tool("ruff"), "check", *TREES])
    assert p.returncode == 0, p.stdout + p.stderr


def test_ruff_format_clean() -> None:
    p = _run([_tool("ruff"), "format", "--check", *TREES])
    assert p.returncode == 0, p.stdout + p.stderr


def test_mypy_clean() -> None:
    p = _run([sys.executable, "-m", "mypy"])
    assert p.returncode == 0, p.stdout + p.stderr


def test_import_contracts_kept() -> None:
    """The layers and the forbidden imports in pyproject.toml ``[tool.importlinter]``."""
    p = _run([_tool("lint-imports"), "--no-cache"])
    assert p.returncode == 0, p.stdout + p.stderr


def test_core_imports_only_the_standard_library() -> None:
    """Stronger than the listed dependencies: anything outside the stdlib is refused, even if new."""
    import grimp

    graph = grimp.build_graph("qi_station", include_external_packages=True, cache_dir=None)
    core = [m for m in graph.modules if m == "qi_station.core" or m.startswith("qi_station.core.")]
    bad = sorted(
        f"{m} -> {i}"
        for m in core
        for i in graph.find_modules_directly_imported_by(m)
        if not i.startswith("qi_station.core")
        and i.split(".")[0] not in sys.stdlib_module_names
        and i != "__future__"
    )
    assert bad == []
