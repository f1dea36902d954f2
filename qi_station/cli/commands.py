"""The ``qi-station`` command line (Typer).

Import-light on purpose: heavy modules (SQLModel, pypinyin, openpyxl, FastAPI, Textual) are
imported inside the commands that need them, so ``request``, ``library``, ``report`` and
``sync`` never import Textual and start fast.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from qi_station import __version__
from qi_station.cli.kit import OPTS, emit_json, handle_errors, run_app, station_db, verify_lines
from qi_station.cli.usage import QIGroup
from qi_station.devtools.generate import MAX_LIBRARY, MAX_REQUESTS

# The root: its options and its own commands. The command groups are added by ``build`` (below), which
# imports a group's module only when the call names that group; ``app`` (module attribute) is all of it.
root_app = typer.Typer(
    help="qi-station: 质量基础设施一站式服务工作站 (Shandong QI one-stop service workstation).",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=QIGroup,  # Click's refusals in the project's form (error: FIELD: … [rule], exit 2)
)
ledger_app = typer.Typer(help="The ledger as a whole 台账校验.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo data 演示数据.", no_args_is_help=True)


def _request() -> typer.Typer:
    from qi_station.cli.requests import request_app

    return request_app


def _activity() -> typer.Typer:
    from qi_station.cli.activity import activity_app

    return activity_app


def _library() -> typer.Typer:
    from qi_station.cli.library import library_app

    return library_app


def _staff() -> typer.Typer:
    from qi_station.cli.staff import staff_app

    return staff_app


def _enterprise() -> typer.Typer:
    from qi_station.cli.enterprise import enterprise_app

    return enterprise_app


def _report() -> typer.Typer:
    from qi_station.cli.report import report_app

    return report_app


def _sync() -> typer.Typer:
    from qi_station.cli.sync import sync_app

    return sync_app


def _hub() -> typer.Typer:
    from qi_station.cli.sync import hub_app
    from qi_station.cli.workdays import hub_calendar_app, hub_indicators_app

    if not any(g.typer_instance is hub_calendar_app for g in hub_app.registered_groups):
        hub_app.add_typer(hub_calendar_app, name="calendar")
        hub_app.add_typer(hub_indicators_app, name="indicators")
    return hub_app


def _station() -> typer.Typer:
    from qi_station.cli.station import station_app
    from qi_station.cli.workdays import hub_calendar_app  # noqa: F401 - adds `station promise`

    return station_app


# The command groups, in the order ``--help`` lists them: (name, loader, help given here or None).
GROUPS: tuple[tuple[str, Callable[[], typer.Typer], str | None], ...] = (
    ("request", _request, None),
    ("activity", _activity, None),
    ("library", _library, None),
    ("staff", _staff, None),
    ("enterprise", _enterprise, None),
    ("demo", lambda: demo_app, None),
    ("ledger", lambda: ledger_app, None),
    ("report", _report, "Monthly summaries 月报."),
    ("sync", _sync, "Sync with the provincial hub 同步."),
    ("hub", _hub, "The provincial hub service 省级中心."),
    ("station", _station, "This station's profile and settings 站点信息."),
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qi-station {__version__}")
        raise typer.Exit()


@root_app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    db: Path | None = typer.Option(
        None, "--db", help="Station database file (default: QI_STATION_DB or the user data dir)."
    ),
    lang: str = typer.Option("", "--lang", help="zh or en (default: config file, else zh)."),
    operator: str | None = typer.Option(
        None,
        "--operator",
        help="Who is working (a name on the staff list; default: the only staff member) 操作员.",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    OPTS.db = db
    OPTS.operator = operator
    if lang and lang not in ("zh", "en"):
        sys.stderr.write("error: --lang: must be zh or en [choice]\n")
        raise typer.Exit(2)
    OPTS.lang = lang or os.environ.get("QI_STATION_LANG", "") or ""
    if ctx.invoked_subcommand is None:
        _run_tui()


def _run_tui() -> None:
    @handle_errors
    def go() -> None:
        from qi_station.app import run

        run(station_db(), OPTS.lang or None)

    go()


@root_app.command("tui")
def tui() -> None:
    """Open the operator's app (the same as running with no command)."""
    _run_tui()


# ---- init / generate / backup ---------------------------------------------------------------
@root_app.command("init")
@handle_errors
def init(
    demo: bool = typer.Option(False, "--demo", help="Load the demo library, enterprises and requests."),
    station_code: str | None = typer.Option(
        None, "--station-code", help="This station's code, e.g. JN-GX01."
    ),
    station_name: str | None = typer.Option(None, "--station-name", help="This station's name."),
    station_type: str | None = typer.Option(
        None, "--station-type", help="综合服务中心 / 园区工作站 / 龙头企业 (or the English label)."
    ),
    service_mode: str | None = typer.Option(
        None, "--service-mode", help="政府引导 / 市场主导 / 区域集约 (or the English label)."
    ),
    region: str | None = typer.Option(
        None, "--region", help="GB/T 2260 code of the station's county (or city), e.g. 370116."
    ),
    park: str | None = typer.Option(None, "--park", help="The park the station serves 所在园区."),
) -> None:
    """Create (or update) the station database."""
    from qi_station.cli.station import profile_line
    from qi_station.services.station import check_station_input, init_station

    # bad input is refused before a database file is created
    check_station_input(station_code, station_name, station_type, service_mode, region, park)
    db = station_db()
    st = init_station(
        db,
        code=station_code,
        name=station_name,
        type_=station_type,
        service_mode=service_mode,
        region_code=region,
        park=park,
    )
    typer.echo(profile_line(st))
    if demo:
        from qi_station.devtools.demo import load_demo

        res = load_demo(db)
        typer.echo(_demo_summary(res))
    typer.echo(f"database: {db}")


def _demo_summary(res: dict[str, Any]) -> str:
    if res.get("skipped"):
        return "demo data already loaded / 演示数据已存在"
    parts = ", ".join(f"{k} {v}" for k, v in res.items() if isinstance(v, int) and not isinstance(v, bool))
    return f"demo data loaded / 已载入演示数据: {parts}"


@demo_app.command("remove")
@handle_errors
def demo_remove(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Delete every demo row (requests, events, referrals, enterprises, library rows from the demo);
    real work is never touched."""
    from qi_station.devtools.demo import remove_demo

    res = remove_demo(station_db())
    if as_json:
        emit_json(res)
        return
    if not any(res.values()):  # nothing was left: success all the same (exit 0), and said so
        typer.echo("no demo data to remove: none is left / 没有可删除的演示数据")
        return
    parts = ", ".join(f"{k} {v}" for k, v in res.items())
    typer.echo(f"demo data removed / 已删除演示数据: {parts}")


@demo_app.command("rekey")
@handle_errors
def demo_rekey(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Give this station's demo enterprises ids of their own (a station that loaded the demo with an
    older release shares them with every other demo station, and the hub refuses the second one)."""
    from qi_station.devtools.demo import rekey_demo

    res = rekey_demo(station_db())
    if as_json:
        emit_json(res)
        return
    typer.echo(
        f"demo enterprises given ids of their own / 演示企业已换用本站编号: {res['rekeyed']} "
        f"(kept, the hub has them from this station: {res['kept']})"
    )


@root_app.command("generate")
@handle_errors
def generate(
    requests: int = typer.Option(
        ..., "--requests", min=0, max=MAX_REQUESTS, help="Number of requests to generate (0 to 5 000 000)."
    ),
    library: int = typer.Option(
        ...,
        "--library",
        min=0,
        max=MAX_LIBRARY,
        help="Number of library rows over the four libraries (0 to 2 000 000).",
    ),
    seed: int = typer.Option(1, "--seed", help="Random seed (same seed, same data)."),
) -> None:
    """Generate synthetic data at any scale (bulk inserts; deterministic by seed)."""
    import time

    from qi_station.devtools.generate.run import generate as gen

    db = station_db()
    t0 = time.perf_counter()
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if sys.stderr.isatty() and (now - last[0] > 0.25 or done == total):
            last[0] = now
            sys.stderr.write(f"\r{stage}: {done}/{total}   ")
            sys.stderr.flush()

    res = gen(db, requests=requests, library=library, seed=seed, progress=progress)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    typer.echo(
        f"generated in {time.perf_counter() - t0:.1f} s: " + ", ".join(f"{k} {v}" for k, v in res.items())
    )


@root_app.command("backup")
@handle_errors
def backup(
    out: str = typer.Option(  # as typed: a trailing separator means "into this folder"
        ..., "--out", help="Backup file to write, or a directory to write qi-backup-<station>-<time>.db into."
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing older backup (never a live database or another file)."
    ),
) -> None:
    """Consistent online backup of the station database (SQLite backup API)."""
    from qi_station.services.backup import backup_db

    db = station_db()
    path = backup_db(db, out, force=force)
    from qi_station.i18n import human_size, text

    lang = "en" if OPTS.lang == "en" else "zh"
    typer.echo(text("backup.done", lang, path=str(path), size=human_size(path.stat().st_size)))


@root_app.command("restore")
@handle_errors
def restore(
    file: Path = typer.Argument(..., metavar="FILE", help="A backup made by `qi-station backup`."),
    as_json: bool = typer.Option(False, "--json", help="print the result (or the refusal) as JSON"),
) -> None:
    """Replace the station database with a backup (checked first; the old one is kept beside it).
    Refused while a sync, a bundle import or export runs."""
    from qi_station.cli.sync import refuse
    from qi_station.core.errors import ValidationError
    from qi_station.db.paths import resolve_db_path
    from qi_station.i18n import in_lang, text
    from qi_station.services.backup import behind_hint, in_use, reenroll_hint, restore_db
    from qi_station.services.files import check_db_folder
    from qi_station.services.locks import SyncLockError

    lang = "en" if OPTS.lang == "en" else "zh"
    db = resolve_db_path(OPTS.db)
    try:
        check_db_folder(OPTS.db)
        if in_use(db):  # warned, not refused: the running app notices the restore and reloads its screens
            typer.echo(text("cli.restore_in_use", lang), err=True)
        kept, check = restore_db(file, db)
    except (SyncLockError, ValidationError) as e:  # as every refusal: both languages, [code], exit code
        refuse(e, as_json)
    hints = [h for h in (reenroll_hint(db), behind_hint(kept, db)) if h]
    if not hints:  # an enrolled station marked restored: what it does before it sends anything
        from qi_station.sync.station.heal import restored_next_step

        step = restored_next_step(db, lang)
        hints = [step] if step else []
    hints = [in_lang(h, lang) for h in hints]
    if as_json:
        emit_json(
            {
                "restored_from": str(file),
                "kept": str(kept) if kept else None,
                "ledger_ok": bool(check["ok"]),
                "next": hints,
            }
        )
        return
    said = text("cli.restored_kept", lang, file=file, kept=kept) if kept else None
    typer.echo(said or text("cli.restored", lang, file=file))
    from qi_station.cli.sync import ledger_line

    typer.echo(ledger_line(bool(check["ok"])))
    for hint in hints:
        typer.echo(hint)


@ledger_app.command("verify")
@handle_errors
def ledger_verify(as_json: bool = typer.Option(False, "--json")) -> None:
    """Check the whole ledger: every request's hash chain, its row against its events, the running
    head and the number counters. Exit 0 when intact, 1 listing each request and what is wrong."""
    from qi_station.services.verify import verify_ledger

    res = verify_ledger(station_db())
    if as_json:
        emit_json(res)
    else:
        for line in verify_lines(res):
            typer.echo(line)
    if not res["ok"]:
        raise typer.Exit(1)


def build(groups: Any = None, *, commands: bool = True, only: str | None = None) -> typer.Typer:
    """The CLI with the named command groups (None: all of them) and, unless ``commands`` is False, the
    root's own commands. Only the named groups' modules are imported. ``only``: of the groups' own
    commands, just the one of that name (its nested groups kept), where a group has it."""
    app = copy.copy(root_app)
    app.registered_groups = []
    app.registered_commands = list(root_app.registered_commands) if commands else []
    for name, load, help_ in GROUPS:
        if groups is None or name in groups:
            sub = load()
            if only is not None and any(c.name == only for c in sub.registered_commands):
                sub = copy.copy(sub)  # (the module's own group keeps every command)
                sub.registered_commands = [c for c in sub.registered_commands if c.name == only]
            if help_ is None:  # the group's own help (an explicit None would blank it)
                app.add_typer(sub, name=name)
            else:
                app.add_typer(sub, name=name, help=help_)
    return app


_full: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    """``app``: the whole CLI (every group), built on first use (tests and tools; ``main`` builds less)."""
    global _full
    if name == "app":
        if _full is None:
            _full = build()
        return _full
    raise AttributeError(name)


def app_for(argv: list[str]) -> typer.Typer:
    """The CLI a call needs (issue 13): a group's call (``request list``) gets that group alone, and of
    its commands the one it names (a typo or a nested group: all of them), a root command (``init``) the
    root's commands, ``--version`` neither; anything else (``--help``, a typo, no command) the whole CLI,
    so help and "no such command" read as before. Typer builds the Click command of every command it
    holds before it parses, and the groups' modules import the core."""
    from qi_station.cli.startup import command_called, subcommand_called

    name = command_called(argv)
    if name == "":
        return build((), commands=False)
    if name is not None and any(g[0] == name for g in GROUPS):
        return build((name,), commands=False, only=subcommand_called(argv))
    if name is not None and any(c.name == name for c in root_app.registered_commands):
        return build(())
    return build()


#: set by the shell's completion script (``eval "$(_QI_STATION_COMPLETE=source_bash qi-station)"``)
COMPLETE_VAR = "_QI_STATION_COMPLETE"


def start(argv: list[str]) -> typer.Typer:
    """The CLI for ``argv`` (:func:`app_for`), ready to run."""
    if os.environ.get(COMPLETE_VAR):  # the shell asks for completions: Typer's shells, which it adds
        from typer.completion import completion_init  # only with --install-completion (add_completion)

        completion_init()
    return app_for(argv)


def main() -> None:
    run_app(start(sys.argv[1:]))


if __name__ == "__main__":
    main()
