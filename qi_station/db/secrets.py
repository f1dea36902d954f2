"""The station's secrets file: its Ed25519 private key and its hub API token, OUTSIDE the database.

One small JSON file per station database, readable only by the user (0600, in a 0700 directory) under
the platformdirs config directory, keyed by the database's absolute path (two databases on one PC do not
collide). The database never holds them, so a ``backup`` file carries none; a backup restored on another
PC has no key and no token there and must be re-enrolled (``hub add-station CODE --reissue``).

Every reader of the key or the token goes through this module (the sync layer wraps it as
``qi_station.sync.station.apply.signing_key`` / ``api_token``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

#: the secrets kept in the file (older databases held them as kv rows of these names)
SECRET_KEYS = ("station_privkey", "station_pubkey", "api_token")


def db_file(conn: sqlite3.Connection) -> Path:
    """The main database file of a connection (resolved)."""
    for _seq, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(file).resolve()
    raise ValueError("an in-memory database has no secrets file")


def secrets_path(db: str | os.PathLike[str]) -> Path:
    from qi_station.db.paths import config_dir

    key = hashlib.sha256(str(Path(db).resolve()).encode("utf-8")).hexdigest()[:24]
    return config_dir() / "secrets" / f"station-{key}.json"


def load(db: str | os.PathLike[str]) -> dict[str, str]:
    p = secrets_path(db)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        from qi_station.core.errors import QIError

        raise QIError(f"cannot read the station secrets file {p}: {type(e).__name__}") from None
    return {k: str(v) for k, v in data.items() if k in SECRET_KEYS and v}


def save(db: str | os.PathLike[str], **values: str | None) -> Path:
    """Merge ``values`` into the file (a None value deletes that secret); written atomically, 0600."""
    p = secrets_path(db)
    data: dict[str, Any] = load(db)
    for k, v in values.items():
        if k not in SECRET_KEYS:
            raise KeyError(k)
        if v is None:
            data.pop(k, None)
        else:
            data[k] = str(v)
    data["db"] = str(Path(db).resolve())
    p.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(p.parent, 0o700)
    tmp = p.with_name(f"{p.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, p)
    return p


def migrate(conn: sqlite3.Connection) -> int:
    """Move secrets an older version kept as ``kv`` rows into the file and delete the rows (a secret
    already in the file wins). Returns the number of rows moved; 0 (one indexed query) when none."""
    marks = ",".join("?" * len(SECRET_KEYS))
    try:
        rows = conn.execute(f"SELECT k, v FROM kv WHERE k IN ({marks})", SECRET_KEYS).fetchall()
    except sqlite3.OperationalError:  # no kv table yet
        return 0
    if not rows:
        return 0
    db = db_file(conn)
    have = load(db)
    save(db, **{k: v for k, v in rows if v and k not in have})
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"DELETE FROM kv WHERE k IN ({marks})", SECRET_KEYS)
    except BaseException:
        if own:
            conn.execute("ROLLBACK")
        raise
    if own:
        conn.execute("COMMIT")
    return len(rows)


def enrolment_usable(db: str | os.PathLike[str], mode: str | None, hub_key_pinned: bool) -> bool | None:
    """THE rule of whether a station's enrolment (``mode``: kv ``enroll_mode``; None: not enrolled) can be
    used on THIS PC: the key and token live in this PC's secrets file, never in the database, so a database
    restored on another PC (or whose secrets file was lost) says it is enrolled but cannot sync until it
    is enrolled again. Online needs this station's key, the hub token and the pinned hub key
    (``hub_key_pinned``); a bundle station its key (the hub checks every bundle's signature with it)."""
    if not mode:
        return None
    got = load(db)
    have_key = bool(got.get("station_privkey") and got.get("station_pubkey"))
    if mode == "online":
        return have_key and bool(got.get("api_token")) and hub_key_pinned
    return have_key
