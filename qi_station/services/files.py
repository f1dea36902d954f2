"""What kind of file is this, and may a writer put its output here: the ONE rule every ``--out`` (reports,
bundles at both ends, backups; the TUI's exports go through the same service functions) and ``restore``
obey. Stdlib only: it reads a few header bytes and, for SQLite files, the table names (read-only).

The rule for an output path (:func:`check_out`):
- a directory (an existing one, or any path ending in a separator: ``--out usb/``): the writer's default
  file name inside it (a writer without one refuses); a folder that does not exist is refused
  (``no_folder``), never created, never taken for a file name;
- the station's own database and its ``-wal`` / ``-shm`` / ``-journal`` files: never;
- an existing SQLite database: never (a backup with ``--force`` may replace an older *backup* -- a station
  database not in WAL mode, which a live station database always is);
- an existing file of another kind: never; of the same kind: only with ``--force``.
Refusals are ``ValidationError("out", rule, message)`` (exit 2) and the message says what the file is.

The rules for an export (a report from the CLI or the app), before :func:`check_out`:
- its format (:func:`export_format`): ``--format`` when given, and then a new ``--out`` ending in another
  extension is refused (never a ``.docx`` silently written as xlsx); else the ``--out`` extension (one the
  writer cannot write is refused); else the first format (xlsx). An existing file is judged by what it
  is (:func:`check_out`);
- its default file name (:func:`report_name`), the same for the CLI and the app;
- its folder (:func:`export_path`): no ``--out``, the export folder (:func:`qi_station.db.paths.export_dir`,
  created on demand); a relative ``--out`` is relative to the current folder on the command line and to
  the export folder in the app (which may be started from any folder). The caller shows the full path.
"""

from __future__ import annotations

import codecs
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from qi_station.core.errors import ValidationError

SQLITE_MAGIC = b"SQLite format 3\x00"
WAL_MAGICS = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")
SIDECARS = ("-wal", "-shm", "-journal")

# what each writer produces (the kind an existing file must have to be replaced with --force)
WRITER_KINDS = {"xlsx", "csv", "json", "md", "bundle", "backup"}

DESCRIPTIONS = {
    "station-db": "a qi-station station database (live, WAL mode) / 站点数据库",
    "backup": "a qi-station station backup (SQLite) / 站点备份",
    "hub-db": "a qi-station hub database / 中心数据库",
    "sqlite": "a SQLite database / SQLite 数据库",
    "sqlite-sidecar": "a SQLite database's journal or WAL file / 数据库日志文件",
    "bundle": "a sync bundle (zip) / 同步包",
    "xlsx": "an Excel workbook / Excel 文件",
    "zip": "a zip archive / 压缩包",
    "json": "a JSON file",
    "md": "a Markdown file",
    "csv": "a CSV file",
    "text": "a text file / 文本文件",
    "binary": "a binary file / 二进制文件",
    "empty": "an empty file / 空文件",
    "directory": "a directory / 目录",
    "other": "not a regular file / 非普通文件",
}


def describe(kind: str) -> str:
    return DESCRIPTIONS.get(kind, kind)


def sqlite_tables(path: Path) -> set[str]:
    """The table names of a SQLite file, read-only (an unreadable file has none), plus ``"hub:"`` when it
    is a hub's database: station and hub share the schema, but only a hub has its identity in hub_meta."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return set()
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "hub_meta" in names and _hub_identity(conn):
            names.add("hub:")
        return names
    except sqlite3.Error:
        return set()
    finally:
        conn.close()


def _hub_identity(conn: sqlite3.Connection) -> bool:
    """Does this SQLite database hold a hub's identity (a ``hub_meta`` row; False without the table)?"""
    try:
        return conn.execute("SELECT 1 FROM hub_meta LIMIT 1").fetchone() is not None
    except sqlite3.Error:
        return False


def _db_kind(p: Path, conn: sqlite3.Connection | None = None) -> str | None:
    """:func:`sniff` for ``--db``, cheaply on the road every call takes: a SQLite file (its first 16 bytes)
    is ``hub-db`` or ``sqlite`` after one query on one read-only connection (no table listing; whether
    it is a station database or a backup does not matter to ``--db``), or on ``conn`` (the caller's
    connection to ``p``, which the caller found to be SQLite: its header is not read again, not
    closed); anything else is sniffed."""
    if conn is not None:
        return "hub-db" if _hub_identity(conn) else "sqlite"
    try:
        with open(p, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError:
        return sniff(p)
    if head != SQLITE_MAGIC:
        return sniff(p)
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    except sqlite3.Error:
        return "sqlite"
    try:
        return "hub-db" if _hub_identity(conn) else "sqlite"
    finally:
        conn.close()


def _text_kind(head: bytes, suffix: str) -> str:
    if b"\x00" in head:
        return "binary"
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "binary"
    body = text.lstrip("\ufeff \t\r\n")
    if suffix == ".json" or body[:1] in ("{", "["):
        return "json"
    if suffix == ".md" or body[:1] == "#":
        return "md"
    if suffix == ".csv" or text.startswith("\ufeff") or "," in body.split("\n", 1)[0]:
        return "csv"
    return "text"


def sniff(path: str | Path) -> str | None:
    """The kind of the file at ``path`` (see :data:`DESCRIPTIONS`), or None when nothing is there."""
    p = Path(path)
    if not p.exists():
        return None
    if p.is_dir():
        return "directory"
    if not p.is_file():
        return "other"
    with open(p, "rb") as f:
        head = f.read(64 * 1024)
    if not head:
        return "empty"
    if head.startswith(SQLITE_MAGIC):
        tables = sqlite_tables(p)
        if "hub:" in tables:
            return "hub-db"
        if "request" in tables and "alembic_version" in tables:
            return "station-db" if head[18:20] == b"\x02\x02" else "backup"
        return "sqlite"
    if head[:4] in WAL_MAGICS or head.startswith(JOURNAL_MAGIC):
        return "sqlite-sidecar"
    for s in SIDECARS:  # -shm has no magic: a file named after an existing database
        if p.name.endswith(s) and p.with_name(p.name[: -len(s)]).is_file():
            return "sqlite-sidecar"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        import zipfile  # (not at import: the console entry point's TUI start checks its folder here)

        try:
            with zipfile.ZipFile(p) as z:
                names = set(z.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return "binary"
        if {"manifest.json", "manifest.sig"} <= names:
            return "bundle"
        if "[Content_Types].xml" in names:
            return "xlsx"
        return "zip"
    return _text_kind(head, p.suffix.lower())


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def into_folder(out: str | Path) -> bool:
    """Does ``out`` name a folder to write into: it ends in a path separator (``usb/``, ``usb\\``)?
    (An existing directory does too; :func:`check_out` looks.) A ``Path`` has lost its trailing
    separator, so the CLI passes ``--out`` as typed."""
    s = str(out)
    return bool(s) and s.endswith(tuple(c for c in ("/", os.sep, os.altsep) if c))


def _no_folder(d: Path, field: str = "out") -> ValidationError:
    return ValidationError(
        field,
        "no_folder",
        f"folder {d} does not exist: create it first or choose another --{field} / 文件夹 {d} 不存在",
    )


def is_sqlite_file(path: str | Path) -> bool:
    """Does ``path`` name a file that starts as a SQLite database does (its first 16 bytes)?"""
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def check_db_folder(db: str | Path | None, conn: sqlite3.Connection | None = None) -> None:
    """A station database the user named (``--db``) lies in a folder that exists: the same rule as an
    ``--out`` folder (``no_folder``; a typo never creates folders), and an existing file there is a
    station database, not the hub's (``hub_database``) nor another kind of file (``qi_station_db``).
    None (the default path in the user data directory, which the program creates) passes. ``conn``: an
    open connection to ``db``, a file the caller found to be SQLite (checked on it, not closed)."""
    if db is None or str(db) == "":
        return
    p = Path(db)
    if into_folder(db) or p.is_dir():
        raise ValidationError("db", "not_file", f"{p} is a folder: give the database file / 请指定数据库文件")
    parent = p.absolute().parent
    if not parent.is_dir():
        raise _no_folder(parent, "db")
    # an existing file is a station database (or an empty / bare SQLite file init may build on): never
    # the hub's database (the CLI would write station rows into it), never a CSV, workbook or bundle
    kind = _db_kind(p, conn)
    if kind == "hub-db":
        raise ValidationError(
            "db",
            "hub_database",
            f"{p} is {describe(kind)}, not a station database / 这是中心数据库，不是站点数据库",
        )
    if kind not in (None, "station-db", "backup", "sqlite", "empty"):
        raise ValidationError(
            "db", "qi_station_db", f"{p} is {describe(kind)}, not a station database / 不是站点数据库"
        )


def check_out(
    out: str | Path,
    kind: str,
    *,
    force: bool = False,
    default_name: str | None = None,
    protect: Iterable[str | Path | None] = (),
    ours: Callable[[Path], bool] | None = None,
) -> Path:
    """May a writer of ``kind`` (one of :data:`WRITER_KINDS`) write ``out``? Returns the path to write
    (inside ``out`` when it is a directory and the writer has a ``default_name``); raises
    ``ValidationError("out", rule, ...)`` otherwise. ``protect``: databases never to be written
    (the station's own), with their sidecar files. ``ours``: does an existing file of the same kind hold
    what this writer writes (a qi-station report)? ``--force`` replaces only such a file (``not_ours``)."""
    assert kind in WRITER_KINDS, kind
    p = Path(out)
    if into_folder(out) or p.is_dir():
        if not p.is_dir():
            raise _no_folder(p)
        if default_name is None:
            raise ValidationError(
                "out", "not_directory", f"{p} is a directory: give a file name / 请指定文件名"
            )
        p = p / default_name
    elif not p.absolute().parent.is_dir():
        raise _no_folder(p.absolute().parent)
    for db in protect:
        if db is None:
            continue
        d = Path(db)
        if any(_same(p, d.with_name(d.name + s)) for s in ("", *SIDECARS)):
            raise ValidationError(
                "out",
                "own_database",
                f"{p} is this station's own database: never written over / 不能覆盖本站数据库",
            )
    have = sniff(p)
    if have is None:
        return p
    what = f"{p} is {describe(have)}"
    if have in ("station-db", "hub-db", "sqlite", "sqlite-sidecar"):
        raise ValidationError("out", "sqlite_database", f"{what}: never written over / 不能覆盖数据库")
    if have == "backup" and kind != "backup":
        raise ValidationError("out", "sqlite_database", f"{what}: never written over / 不能覆盖数据库")
    if have not in (kind, "empty"):
        raise ValidationError(
            "out", "other_kind", f"{what}, not {describe(kind)}: not replaced / 不能覆盖其他类型的文件"
        )
    if have == kind and ours is not None and not ours(p):
        raise ValidationError(
            "out",
            "not_ours",
            f"{what} that qi-station did not write: --force replaces only a report this program wrote "
            "/ 该文件不是本程序生成的报表，不能覆盖",
        )
    if not force:
        raise FileExists(
            p, f"{what} and exists already: use --force to replace it / 文件已存在，用 --force 覆盖"
        )
    return p


class FileExists(ValidationError):
    """``out`` is a file this writer may replace, but only when asked (``--force``; the TUI asks)."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__("out", "exists", message)
        self.path = path


# ---- exports: format, default name, folder -------------------------------------------------------------
def export_format(out: str | Path | None, fmt: str | None, formats: Sequence[str]) -> str:
    """The format of an export (see the module's rules): ``fmt`` if given, else the extension of
    ``out``, else ``formats[0]``. Refused: an unknown ``fmt``, an ``out`` whose extension is not ``fmt``,
    an extension no writer has (``ValidationError("format" | "out", ...)``)."""
    f = (fmt or "").strip().lower() or None
    if f is not None and f not in formats:
        raise ValidationError(
            "format", "choice", f"--format must be one of {', '.join(formats)}: {fmt!r} / 导出格式无效"
        )
    ext = Path(out).suffix.lower().lstrip(".") if out and not Path(out).is_dir() else ""
    # an existing file is judged by what it is (check_out: never a database, never another kind)
    new = not (out and Path(out).exists())
    if f is not None:
        if ext and ext != f and new:
            raise ValidationError(
                "out",
                "extension",
                f"{Path(str(out)).name} ends in .{ext} but the format is {f}: name it .{f} or leave out "
                f"--format / 文件扩展名 .{ext} 与导出格式 {f} 不符",
            )
        return f
    if ext and ext not in formats:
        if not new:
            return formats[0]
        raise ValidationError(
            "out",
            "extension",
            f"cannot write .{ext}: the formats are {', '.join(formats)} / 不能导出为 .{ext}，"
            f"可用格式: {'、'.join(formats)}",
        )
    return ext or formats[0]


def report_name(station_code: str | None, month: str, fmt: str) -> str:
    """THE default file name of a monthly report (the CLI and the app): ``qi-report-{code}-{month}.{fmt}``
    (``code`` is the station, or ``province`` for the hub's province-wide report)."""
    return f"qi-report-{station_code or 'station'}-{month}.{fmt}"


def export_dir() -> Path:
    """The export folder (:func:`qi_station.db.paths.export_dir`), created on demand."""
    from qi_station.db.paths import export_dir as where

    d = where()
    d.mkdir(parents=True, exist_ok=True)
    return d


def input_path(text: str | Path, base: Path) -> Path:
    """A file to read that the operator typed: as given (``~`` expanded); a relative name not found
    there, in ``base`` (the export folder, where a bare name given to an export went)."""
    p = Path(str(text).strip()).expanduser()
    if not p.is_absolute() and not p.exists() and (base / p).exists():
        return base / p
    return p


def export_path(out: str | Path | None, default_name: str, fmt: str, *, base: Path | None = None) -> Path:
    """Where an export goes, as an absolute path: no ``out``, ``default_name`` in the export folder;
    ``out`` relative, under ``base`` (None: the current folder); ``out`` without an extension gets
    ``.{fmt}``; an existing folder keeps ``default_name`` (:func:`check_out`)."""
    if out is None or not str(out).strip():
        return export_dir() / default_name
    p = Path(str(out).strip()).expanduser()
    if not p.is_absolute():
        p = (base if base is not None else Path.cwd()) / p
    if into_folder(str(out).strip()):
        if not p.is_dir():
            raise _no_folder(p)
        return (p / default_name).absolute()
    if not p.suffix and not p.is_dir():
        p = p.with_name(f"{p.name}.{fmt}")
    if not p.is_dir():
        check_file_name(p.name)
    return p.absolute()


def check_file_name(name: str) -> None:
    """THE rule for a file name an export is given (the CLI's ``--out``, the app's 导出到): its stem (the
    name before the extension) holds at least one letter or digit (Chinese counts). A lone ``[`` or
    ``-`` typed over the field is no name (``ValidationError("out", "no_name", ...)``)."""
    suffix = Path(name).suffix
    stem = name[: len(name) - len(suffix)] if suffix else name
    if not any(ch.isalnum() for ch in stem):
        raise ValidationError(
            "out",
            "no_name",
            f"Save as (--out): {name!r} has no file name (only punctuation): type a name such as "
            f"report.xlsx / 导出到: “{name}” 没有文件名（只有标点符号），请输入文件名，如 月报.xlsx",
        )
