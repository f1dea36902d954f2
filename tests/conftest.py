from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QI_STATION_OPERATOR", "测试员")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A fresh, migrated station database."""
    from qi_station.db.engine import open_db

    return open_db(tmp_path / "station.db")


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the developer's real data or config."""
    monkeypatch.setenv("QI_STATION_DB", str(tmp_path / "default.db"))
    monkeypatch.setenv("QI_HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "documents"))  # the export folder's parent
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")


@pytest.fixture
def tui_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TUI pilot test's station: the frozen clock, no config file, the operator 测试员 (a module asks
    for it with ``pytestmark = pytest.mark.usefixtures("tui_env")``)."""
    from test_tui_helpers import FROZEN_NOW, NO_CONFIG

    monkeypatch.setenv("QI_STATION_NOW", FROZEN_NOW)
    monkeypatch.setenv("QI_STATION_CONFIG", NO_CONFIG)
    monkeypatch.setenv("QI_STATION_OPERATOR", "测试员")
