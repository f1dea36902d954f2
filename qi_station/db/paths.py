"""Where things live. platformdirs for the defaults; env vars and flags override."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("qi-station", appauthor=False))


def config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("qi-station", appauthor=False))


def state_dir() -> Path:
    """Per-user state that is neither data nor config (the operator of each terminal session)."""
    from platformdirs import user_state_dir

    return Path(user_state_dir("qi-station", appauthor=False))


def default_db_path() -> Path:
    env = os.environ.get("QI_STATION_DB")
    if env:
        return Path(env)
    return data_dir() / "station.db"


def resolve_db_path(db: str | os.PathLike[str] | None) -> Path:
    return Path(db) if db else default_db_path()


def repo_data_dir() -> Path:
    """The demo data shipped in the repository's ``data/`` directory."""
    package = Path(__file__).resolve().parents[1]  # qi_station/
    for cand in (package.parent / "data", package / "data"):
        if (cand / "demo").is_dir():
            return cand
    return package.parent / "data"


def default_hub_url(database_url: str | None = None) -> str:
    """Hub database: --database-url, then QI_HUB_DATABASE_URL, then a SQLite file in the user data dir."""
    if database_url:
        return database_url if "://" in database_url else f"sqlite:///{Path(database_url)}"
    env = os.environ.get("QI_HUB_DATABASE_URL")
    if env:
        return env
    return f"sqlite:///{data_dir() / 'hub.db'}"


def export_dir() -> Path:
    """Where exports go when no folder is given: ``qi-station`` in the user's documents folder
    (``platformdirs.user_documents_dir``: ``~/Documents/qi-station`` on Windows and most Linux desktops,
    ``XDG_DOCUMENTS_DIR`` when set). Not created here: :func:`qi_station.services.files.export_path`
    creates it on demand."""
    from platformdirs import user_documents_dir

    return Path(user_documents_dir()) / "qi-station"
