"""Engine factory and the station database opener. Nothing is built at import time."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qi_station.core.errors import DatabaseError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Keep in step with the newest file in migrations/versions (a test checks it).
SCHEMA_HEAD = "0031"
BUSY_TIMEOUT_MS = 5000


def known_revisions() -> set[str]:
    """Every schema revision this program knows (the migration files' ids): a database at any other
    revision was made by a newer program."""
    return {f.name.split("_", 1)[0] for f in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py")}


SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
)


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path)}"


def normalize_url(url: str) -> str:
    """A path becomes a SQLite URL; ``postgresql://`` uses psycopg 3 (psycopg2 is not installed)."""
    if "://" not in url:
        return sqlite_url(url)
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def make_engine(url_or_path: str | Path, *, foreign_keys: bool = True, **kw: Any) -> Engine:
    """Create an engine. SQLite gets WAL, synchronous=FULL, foreign keys and a busy timeout.

    ``foreign_keys=False`` is for migrations only: SQLite's table rebuilds (batch mode) would
    otherwise trip over rows that reference the table being rebuilt.
    """
    pragmas = SQLITE_PRAGMAS if foreign_keys else tuple(p for p in SQLITE_PRAGMAS if "foreign_keys" not in p)
    from sqlalchemy import create_engine, event

    url = normalize_url(str(url_or_path))
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, **kw
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _rec: Any) -> None:  # pragma: no cover - trivial
            dbapi_conn.isolation_level = None  # let SQLAlchemy emit BEGIN itself
            cur = dbapi_conn.cursor()
            for p in pragmas:
                cur.execute(p)
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:  # pragma: no cover - trivial
            # a writer takes the write lock up front; a connection marked ``sqlite_read`` (the hub's
            # reads) never takes it, so readers do not queue behind writers in WAL mode
            if conn.get_execution_options().get("sqlite_read"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kw.setdefault("pool_pre_ping", True)  # the hub passes False: it retries a dropped connection itself
    return create_engine(url, **kw)


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A plain sqlite3 connection with the station pragmas (the fast read path: no SQLAlchemy)."""
    return configure(raw_connect(path, readonly=readonly), readonly=readonly)


def raw_connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """:func:`connect` without the station pragmas yet (no write: ``journal_mode=WAL`` is one): for a
    caller that first checks what the file is, then :func:`configure` s the same connection, so the
    schema (~30 KB of trigger SQL on a station database) is parsed once, not once a check."""
    p = Path(path)
    try:
        if readonly:
            return sqlite3.connect(
                f"file:{p}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
        return sqlite3.connect(p, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    except sqlite3.Error as e:
        raise DatabaseError(f"cannot open database {p}: {e}") from e


def configure(conn: sqlite3.Connection, *, readonly: bool = False) -> sqlite3.Connection:
    """The station pragmas and row shape on a :func:`raw_connect` connection; returns it."""
    conn.isolation_level = None
    conn.row_factory = sqlite3.Row
    for pragma in SQLITE_PRAGMAS:
        if readonly and "journal_mode" in pragma:
            continue
        conn.execute(pragma)
    return conn


def current_revision(path: str | Path | sqlite3.Connection) -> str | None:
    """The database's Alembic revision (None: no file, no table, not SQLite); a connection is read, not
    closed."""
    if isinstance(path, sqlite3.Connection):
        return _revision(path)
    p = Path(path)
    if not p.exists():
        return None
    conn = sqlite3.connect(p)
    try:
        return _revision(conn)
    finally:
        conn.close()


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    except sqlite3.Error:
        return None


def run_migrations(url: str, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, revision)


def open_db(path: str | Path | None = None) -> Path:
    """Make sure the station database exists at the newest schema; return its path.

    Alembic is only imported when an upgrade is needed, so opening an up-to-date
    database costs one tiny query.
    """
    from qi_station.db.paths import resolve_db_path

    p = resolve_db_path(path)
    if current_revision(p) == SCHEMA_HEAD:
        return p
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatabaseError(f"cannot create {p.parent}: {e}") from e
    try:
        run_migrations(sqlite_url(p))
    except Exception as e:  # noqa: BLE001 - surfaced as a user message
        raise DatabaseError(f"cannot prepare database {p}: {e}") from e
    return p
