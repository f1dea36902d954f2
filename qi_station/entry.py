"""The ``qi-station`` console entry point.

Opening the operator's app is the most common command, so it skips Typer (about 0.1 s and
12 MiB of imports) and the CLI-side migration check: the app paints first and opens (and if
needed migrates) the database in a worker. Everything else goes to the Typer CLI.
"""

from __future__ import annotations

import os
import sys


def tui_args(argv: list[str]) -> tuple[str | None, str | None] | None:
    """(db, lang) when argv only asks for the TUI: ``[--db P] [--lang L] [tui]``; else None."""
    db: str | None = None
    lang: str | None = None
    rest = list(argv)
    seen_tui = False
    while rest:
        a = rest.pop(0)
        if a in ("--db", "--lang") and rest:
            val = rest.pop(0)
        elif a.startswith("--db=") or a.startswith("--lang="):
            a, val = a.split("=", 1)
        elif a == "tui" and not seen_tui:
            seen_tui = True
            continue
        else:
            return None
        if a == "--db":
            db = val
        elif val in ("zh", "en"):
            lang = val
        else:
            return None  # let the CLI report the bad value
    return db, lang


def main() -> None:
    # the shell asking for completions runs ``qi-station`` with no words: the CLI's, never the app
    fast = None if os.environ.get("_QI_STATION_COMPLETE") else tui_args(sys.argv[1:])
    if fast is not None:
        from qi_station.core.errors import QIError
        from qi_station.db.paths import resolve_db_path

        db, lang = fast
        try:
            from qi_station.services.files import check_db_folder

            check_db_folder(db)  # a named --db in a missing folder: refused, never created
            from qi_station.services.dashboard import EarlyFigures

            path = resolve_db_path(db)
            early = EarlyFigures(path)  # the first screen's figures, read while Textual is imported
            from qi_station.app import run

            run(path, lang or os.environ.get("QI_STATION_LANG") or None, early)
        except QIError as e:
            sys.stderr.write(f"error: {e}\n")
            raise SystemExit(e.exit_code) from None
        return
    import gc

    from qi_station.core.gcpause import no_cycle_collection

    # start-up (Typer, the command's modules) makes tens of thousands of objects and no garbage: the
    # collector walked them ~25 times as they were made (5-13 ms), and every collection of the command
    # would walk them again: paused while they are made, then set aside for good (gc.freeze)
    with no_cycle_collection():
        from qi_station.cli.commands import start

        app = start(sys.argv[1:])
        gc.freeze()
    from qi_station.cli.kit import run_app

    run_app(app)


if __name__ == "__main__":
    main()
