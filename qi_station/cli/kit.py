"""Shared CLI plumbing: global options, JSON output, error handling (no tracebacks for users).

Every sub-command module (reports, sync, hub) uses these so exit codes and messages agree:
exit 0 on success, 2 on bad input (stderr names the field), 1 otherwise.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from qi_station.core.errors import NotFoundError, QIError, ValidationError, every_error

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class GlobalOpts:
    db: Path | None = None
    lang: str = "zh"
    operator: str | None = None  # --operator: who signs the events this command writes


OPTS = GlobalOpts()


def station_db() -> Path:
    """The station database path (``--db``, ``QI_STATION_DB`` or the default), migrated to head."""
    from qi_station.db.engine import open_db
    from qi_station.services.files import check_db_folder

    check_db_folder(OPTS.db)  # a named --db in a missing folder is refused, never created
    return open_db(OPTS.db)


def station_conn() -> sqlite3.Connection:
    """A connection (:func:`qi_station.db.engine.connect`) to :func:`station_db`, the same checks made on
    it: one open serves the ``--db`` check, the schema-version check and the command's queries (every
    open parses the schema again: ~3 ms CPU each on a station database). A database that is missing or
    needs migrating takes :func:`station_db`'s road."""
    from qi_station.db.engine import SCHEMA_HEAD, configure, connect, current_revision, raw_connect
    from qi_station.db.paths import resolve_db_path
    from qi_station.services.files import check_db_folder, is_sqlite_file

    p = resolve_db_path(OPTS.db)
    if is_sqlite_file(p):
        conn = raw_connect(p)  # no pragma yet: a file refused by the check is not touched
        try:
            check_db_folder(OPTS.db, conn)
            if current_revision(conn) == SCHEMA_HEAD:
                return configure(conn)
        except BaseException:
            conn.close()
            raise
        conn.close()
    return connect(station_db())


def _row_encoder() -> Callable[[Any], str]:
    """``json.dumps(x, ensure_ascii=False, default=str)`` for many rows: the C encoder made once, not once
    a row as ``JSONEncoder.encode`` does (a tenth of a 100 000-row ``request list --json``)."""
    from json import encoder as je

    enc = json.JSONEncoder(ensure_ascii=False, default=str)
    make, quote = getattr(je, "c_make_encoder", None), getattr(je, "c_encode_basestring", None)
    if make is None or quote is None:  # no C accelerator: the plain road
        return enc.encode
    # markers None (check_circular=False): rows read from the database hold no cycles
    one = make(None, enc.default, quote, None, ": ", ", ", False, False, True)
    return lambda x: "".join(one(x, 0))


#: rows of a list written at once by :func:`emit_json`: few writes (and few passes of the text rule,
#: ``NeutralStdout``), never the whole list's text in memory at once
JSON_BATCH = 200


def emit_json(obj: Any) -> None:
    """An object indented; a list of objects one object a line (``[`` … ``]``), which json.dumps writes
    at C speed (``indent`` makes it pure Python: 0.3 s of a 9 000-row ``request list --json``), written
    :data:`JSON_BATCH` rows at a time (the same bytes as one write of the whole text)."""
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        one, write = _row_encoder(), sys.stdout.write
        head = "[\n"
        for i in range(0, len(obj), JSON_BATCH):
            write(head + ",\n".join(map(one, obj[i : i + JSON_BATCH])))
            head = ",\n"
        write("\n]\n")
        return
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def _cli_message(e: ValidationError) -> str:
    """A refusal's text: a lifecycle move refused (``TransitionError``) from the locale catalogue in the
    CLI's language (``err.transition``: it read "cannot move from In progress to Closed / ..." in
    Chinese mode); any other the core's own message."""
    from qi_station.core.errors import TransitionError

    if not isinstance(e, TransitionError):
        return e.message
    from qi_station.core import domain
    from qi_station.i18n import text

    lang = "en" if OPTS.lang == "en" else "zh"
    table = domain.STATUS_EN if lang == "en" else domain.STATUS_ZH
    frm, to = (table.get(s, s) for s in (e.from_status, e.to_status))
    return text("err.transition", lang, frm=frm, to=to)


def verify_lines(res: Mapping[str, Any]) -> list[str]:
    """THE plain text of a ledger check (``ledger verify``, ``hub verify``) in the CLI's language
    (``--lang`` / ``QI_STATION_LANG``; Chinese unless English is asked for): each problem as the check
    words it (``services.verify.report_lines``), the half of its bilingual message in that language
    (``i18n.in_lang``), then the totals from the catalogue (``cli.hub_verified``)."""
    from qi_station.i18n import in_lang, text
    from qi_station.services.verify import report_lines

    lang = "en" if OPTS.lang == "en" else "zh"
    lines = report_lines(res, lambda m: in_lang(m, lang))
    events = text("cli.hub_verified_events", lang, events=res["events"]) if "events" in res else ""
    verdict = text("cli.verdict_intact" if res["ok"] else "cli.verdict_not_intact", lang)
    lines[-1] = text("cli.hub_verified", lang, requests=res["requests"], events=events, verdict=verdict)
    return lines


def error(msg: str) -> None:
    sys.stderr.write(msg.rstrip() + "\n")


def quiet_broken_pipe() -> None:
    """The reader went away (``| head -1``): stop quietly, like standard unix tools. Whatever is still
    buffered or written later goes to /dev/null, so no second error appears at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def run_app(app: Callable[[], Any]) -> None:
    """Run the Typer app; a closed pipe on stdout (also at the final flush) ends it with exit 0."""
    from qi_station.cli.startup import install

    install()  # Typer's Pydantic coercion only where a value needs it (cli/startup.py)
    try:
        app()
    except BrokenPipeError:
        quiet_broken_pipe()
        raise SystemExit(0) from None
    except SystemExit as e:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            quiet_broken_pipe()
            raise SystemExit(e.code or 0) from None
        raise


class NeutralStdout:
    """stdout while a command runs: every text written passes ``core.validate.neutralise`` (control
    characters of stored text, such as a hub note's ESC sequences, reach the terminal as U+FFFD, and
    a lone surrogate never fails the write). Everything else is the real stream's."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def write(self, s: str) -> int:
        from qi_station.core.validate import neutralise

        return int(self.raw.write(neutralise(s)))

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def _check_argv_text(kwargs: dict[str, Any]) -> None:
    """Every text argument of a command (search queries, ids, notes...) is valid UTF-8: bytes that are not
    (Python's lone surrogates) are refused by the core rule, naming the option, before any work."""
    from qi_station.core.validate import check_encoding

    for name, value in kwargs.items():
        for one in value if isinstance(value, list | tuple) else (value,):
            if isinstance(one, str):
                check_encoding(one, name)
            elif isinstance(one, Path):
                check_encoding(str(one), name)


def handle_errors(fn: F) -> F:
    """Turn core errors into a message and an exit code; never a traceback for a user's mistake."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import typer

        for name, value in kwargs.items():  # a whole number SQLite cannot hold (64 bits), before any work
            if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
                error(f"error: --{name.replace('_', '-')}: {value} is too large / 数值过大 [range]")
                raise typer.Exit(2)
        plain = not isinstance(sys.stdout, NeutralStdout)
        if plain:  # the outermost command: what it prints is neutralised (stored text may hold ESC...)
            sys.stdout = NeutralStdout(sys.stdout)
        try:
            _check_argv_text(kwargs)
            return fn(*args, **kwargs)
        except ValidationError as e:
            for one in every_error(e):  # every bad field at once, in form order
                error(f"error: {one.field}: {_cli_message(one)} [{one.rule}]")
            raise typer.Exit(2) from None
        except NotFoundError as e:
            error(f"error: {e} [{e.rule}]")
            raise typer.Exit(e.exit_code) from None
        except QIError as e:
            error(f"error: {e}")
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            error("interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            quiet_broken_pipe()
            raise typer.Exit(0) from None
        except OSError as e:
            error(f"error: {e}")
            raise typer.Exit(1) from None
        except sqlite3.Error as e:
            error(f"error: database: {e} / 数据库错误")
            raise typer.Exit(1) from None
        except Exception as e:
            if type(e).__module__.startswith("sqlalchemy"):
                error(f"error: database: {getattr(e, 'orig', None) or e} / 数据库错误")
                raise typer.Exit(1) from None
            raise
        finally:
            if plain and isinstance(sys.stdout, NeutralStdout):
                sys.stdout = sys.stdout.raw

    return wrapper  # type: ignore[return-value]
