"""The demo data shipped in ``data/demo/*.json`` (written by ``data/make_demo.py``): where it is and
how it is read. Loading it into a station database (``qi-station init --demo``) is
:func:`qi_station.devtools.demo.load_demo`; the hub's ``hub init`` reads the library from here too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KIND_FILES = {
    "expert": "experts",
    "institution": "institutions",
    "equipment": "equipment",
    "project": "projects",
}


def demo_dir() -> Path:
    from qi_station.db.paths import repo_data_dir

    return repo_data_dir() / "demo"


def read_demo(data_dir: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    d = data_dir or demo_dir()
    if not (d / "experts.json").is_file():
        from qi_station.core.errors import QIError

        raise QIError(
            f"demo data not found in {d}: it ships in the source checkout's data/demo "
            "(install with `pip install -e .` from the checkout) / 未找到演示数据"
        )
    out: dict[str, list[dict[str, Any]]] = {}
    for name in ("experts", "institutions", "equipment", "projects", "enterprises"):
        with open(d / f"{name}.json", encoding="utf-8") as f:
            out[name] = json.load(f)
    return out


def shipped_enterprise_ids(data_dir: Path | None = None) -> set[str]:
    """The fixed enterprise ids of ``data/demo/enterprises.json``: older releases loaded the demo
    enterprises under them, so every demo station had the same ids (empty without the demo files)."""
    d = data_dir or demo_dir()
    try:
        with open(d / "enterprises.json", encoding="utf-8") as f:
            return {str(r["id"]) for r in json.load(f)}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
