"""``qi-station sync ...`` and ``qi-station hub ...`` (Typer). Heavy imports happen inside commands."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from qi_station.cli.kit import OPTS, emit_json, error, handle_errors, verify_lines
from qi_station.cli.report import hub_report_app

F = TypeVar("F", bound=Callable[..., Any])

sync_app = typer.Typer(help="Sync this station with the hub (HTTP or USB bundles).", no_args_is_help=False)
hub_app = typer.Typer(help="The central hub: libraries, stations, sync service.", no_args_is_help=True)

DB_URL_HELP = "hub database URL (default: QI_HUB_DATABASE_URL, then hub.db in the user data dir)"
FORCE_HELP = "replace an existing bundle file (never a database or another kind of file)"


def sync_errors(fn: F) -> F:
    """Refused calls/bundles: a message saying why [code] and the exit code of ``SyncError.exit_code``
    (one rule for every code: 2 refused, 3 upgrade required, 1 could not finish); with ``--json``
    (``as_json``) the refusal as a JSON object on stdout instead (:func:`json_refusal`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from qi_station.services.locks import SyncLockError
        from qi_station.sync.proto import SyncError

        try:
            return fn(*args, **kwargs)
        except (SyncError, SyncLockError) as e:
            refuse(e, bool(kwargs.get("as_json")))

    return handle_errors(wrapper)  # type: ignore[return-value]


def refuse(e: Any, as_json: bool) -> NoReturn:
    """A refusal (``SyncError``, ``services.locks.SyncLockError``, a restore's ``ValidationError``):
    ``error: message [code]`` on stderr, or with ``--json`` only :func:`json_refusal` on stdout; exit
    ``e.exit_code`` either way."""
    if as_json:
        emit_json(json_refusal(e))
    else:
        field = f"{e.field}: " if getattr(e, "field", None) else ""  # a bad input names its field
        error(f"error: {field}{e.message} [{code_of(e)}]")
    raise typer.Exit(e.exit_code)


def code_of(e: Any) -> str:
    """A refusal's code: a sync refusal's ``code``, a validation error's ``rule``."""
    return str(getattr(e, "code", None) or getattr(e, "rule", "error"))


def _db() -> Path:
    from qi_station.cli.kit import station_db

    return station_db()


# ---- sync -----------------------------------------------------------------------------------
@sync_app.callback(invoke_without_command=True)
def sync_main(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    retries: int = typer.Option(5, "--retries", min=0, max=100, help="retries on network trouble"),
    insecure_http: bool = typer.Option(
        False, "--insecure-http", help="allow plain http:// to a hub that is not on this PC (trusted network)"
    ),
) -> None:
    """Push pending changes, then pull from the hub (retries with backoff; progress on stderr)."""
    if ctx.invoked_subcommand is not None:
        return
    _run_sync(as_json=as_json, retries=retries, insecure_http=insecure_http)


def json_refusal(e: Any) -> dict[str, Any]:
    """A refusal (``SyncError``, ``SyncLockError``, a restore's ``ValidationError``) as ``--json`` prints
    it, instead of the plain ``error:`` line: ``error`` (the code, as the hub's JSON error) and
    ``message``, plus ``field``, ``rule`` as each refused row of ``request import --json`` (a hub refusal
    of one change keeps its own ``field``, ``rule``, ``table``, ``oseq``) and ``exit_code``."""
    code = code_of(e)
    return {
        "field": getattr(e, "field", "sync"),
        "rule": code,
        "message": e.message,
        **getattr(e, "data", {}),
        "error": code,
        "exit_code": e.exit_code,
    }


@sync_errors
def _run_sync(*, as_json: bool, retries: int, insecure_http: bool = False) -> None:
    _sync(as_json, retries, insecure_http)


def _sync(as_json: bool, retries: int, insecure_http: bool) -> None:
    from qi_station.sync.station.client import run_sync

    db = _db()
    demo = _removable_demo()  # the first sync sends the head: the demo stays for good
    if as_json or not sys.stderr.isatty():
        res = run_sync(db, retries=retries, insecure_http=insecure_http)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            tasks: dict[str, Any] = {}

            def cb(phase: str, done: int, total: int | None) -> None:
                if phase not in tasks:
                    labels = {
                        "push": "上传 push",
                        "pull": "下载 pull",
                        "retry": "重试 retry",
                        "restore": "恢复 restore",
                        "wait": "中心繁忙，排队等待(秒) hub busy, waiting (s)",
                    }
                    tasks[phase] = bar.add_task(labels.get(phase, phase), total=total)
                bar.update(tasks[phase], completed=done, total=total)

            res = run_sync(db, progress=cb, retries=retries, insecure_http=insecure_http)
    _demo_warning("cli.demo_kept_after_first_sync", demo - _removable_demo())
    if as_json:
        emit_json(res)
    else:
        done = {k: res[k] for k in ("pushed", "acked", "pulled", "pending")}
        if res["ledger_ok"]:
            typer.echo(_say("cli.sync_ok", **done))
        else:  # the data went through, but this station's ledger does not verify: not ok
            typer.echo(_say("cli.sync_ledger_failed", **done), err=True)
            for line in res.get("ledger_problems") or ():
                typer.echo(f"  {line}", err=True)
        typer.echo(ledger_line(res["ledger_ok"]))
        if res.get("clock_warning"):
            typer.echo(f"warning: {res['clock_warning']}", err=True)
        if res.get("clock_ahead_taken"):
            typer.echo(f"warning: {res['clock_ahead_taken']}", err=True)
        for msg in res.get("hub_status_overridden") or ():
            typer.echo(f"warning: {msg}", err=True)
        if not res["ledger_ok"]:
            raise typer.Exit(1)


def ledger_line(ok: bool) -> str:
    """The one line that reports the ledger check run after a sync or a restore (in the CLI's language)."""
    return _say("cli.ledger_intact" if ok else "cli.ledger_not_intact")


@sync_app.command("enroll")
@sync_errors
def sync_enroll(
    token: str = typer.Option(..., "--token", help="one-time enrollment token from `hub add-station`"),
    hub: str | None = typer.Option(None, "--hub", help="hub URL; omit for offline (bundle) enrollment"),
    cafile: Path | None = typer.Option(
        None,
        "--cafile",
        help="private CA (PEM) that signed the hub's certificate; else the certificate is pinned",
    ),
    insecure_http: bool = typer.Option(
        False,
        "--insecure-http",
        help="allow plain http:// to a hub that is not on this PC (remembered for later syncs)",
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Enroll this station with the hub (online with --hub, else offline by bundle)."""
    from qi_station.sync.station.client import enroll

    res = enroll(_db(), token, hub, cafile=cafile, insecure_http=insecure_http)
    _demo_warning(
        "cli.demo_before_first_sync", _removable_demo()
    )  # enrolled, not synced yet: still removable
    if as_json:
        emit_json(res)
        return
    from qi_station.i18n import in_lang, text

    lang = _lang()
    if res["mode"] == "online":
        typer.echo(text("cli.enrolled_online", lang, station=res["station"], hub=res["hub"]))
        if res.get("restored"):
            tables = ", ".join(f"{t} {n}" for t, n in res["restored"].items())
            typer.echo(text("cli.restored_from_hub", lang, tables=tables))
        if res.get("restore_error"):
            typer.echo(text("cli.restore_unfinished", lang, error=res["restore_error"]))
    else:
        typer.echo(text("cli.enrolled_offline", lang, station=res["station"]))
        if res.get("next_step") == "restore_bundle":  # a backup from before: the hub's restore bundle first
            typer.echo(in_lang(res["next"], lang))
        else:
            typer.echo(text("cli.enroll_next_bundle", lang))


def _removable_demo() -> int:
    """The demo requests ``demo remove`` could still delete (``devtools.demo.removable_demo``)."""
    from qi_station.devtools.demo import removable_demo

    return removable_demo(_db())


def _demo_warning(key: str, n: int) -> None:
    """On stderr (also with ``--json``): the demo data left, before or at the station's first sync."""
    if n:
        typer.echo(_say(key, n=n), err=True)


#: the counts of a library import, as ``cli.library_counts`` names them
LIBRARY_COUNTS = ("added", "updated", "deleted", "unchanged")


def _say(key: str, **kw: object) -> str:
    """A hub command's answer in the CLI's language (``--lang`` / ``QI_STATION_LANG``), as ``hub init``
    answers: the catalogue's ``key`` (``cli.hub_*``)."""
    from qi_station.i18n import text

    return text(key, _lang(), **kw)


def _lang() -> str:
    """The CLI's language (``--lang`` / ``QI_STATION_LANG``; Chinese unless English is asked for)."""
    from qi_station.cli.kit import OPTS

    return "en" if OPTS.lang == "en" else "zh"


@sync_app.command("status")
@sync_errors
def sync_status_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Hub, last success, pending changes, last error."""
    from qi_station.sync.station.client import sync_status

    st = sync_status(_db())
    if as_json:
        emit_json(st)
        return
    from qi_station.core.clock import local_minutes
    from qi_station.i18n import catalogue, in_lang

    lang = _lang()
    lines: list[tuple[str, str]] = []
    for k in (
        "station",
        "hub",
        "enrolled",
        "last_success",
        "pending",
        "last_error",
        "pull_cursor",
        "conflicts",
    ):
        val = str(st[k]) if st.get(k) is not None else "-"
        if k == "last_success":  # as request show gives a time (--json keeps ISO)
            val = local_minutes(st[k]) or "-"
        if k == "enrolled" and st.get(k) and f"cli.enroll_mode.{st[k]}" in catalogue(lang):
            val = _say(f"cli.enroll_mode.{st[k]}")
        if k == "enrolled" and st.get("enrolment_usable") is False:
            val += _say("cli.status.not_usable")
        lines.append((_say(f"cli.status.{k}"), in_lang(val, lang)))
    if st.get("next_step"):
        lines.append((_say("cli.status.next_step"), in_lang(str(st["next_step"]), lang)))
    for label, val in lines:  # the values in one column (a Chinese label is two cells a character)
        typer.echo(f"{_pad(label, 13)} {val}")


def _pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` terminal cells (Chinese characters take two)."""
    from rich.cells import cell_len

    return text + " " * max(0, width - cell_len(text))


@sync_app.command("export-bundle")
@sync_errors
def sync_export(
    out: str = typer.Option(..., "--out", help="bundle file, or a directory (usb/) for the default name"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write everything the hub has not acknowledged into a signed bundle (for a USB stick)."""
    from qi_station.sync.station.bundles import export_bundle

    demo = _removable_demo()  # a first bundle sends the head: the demo stays for good
    res = export_bundle(_db(), out, force=force)
    emit_json(res) if as_json else typer.echo(
        _say("cli.bundle_written", file=res["file"], changes=res["changes"])
    )
    _demo_warning("cli.demo_kept_after_first_sync", demo - _removable_demo())


@sync_app.command("import-bundle")
@sync_errors
def sync_import(
    file: Path = typer.Argument(..., metavar="FILE", help="a bundle exported by the hub"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Import a hub bundle (library updates, hub decisions, acknowledgements)."""
    from qi_station.sync.station.bundles import import_bundle

    res = import_bundle(_db(), file)
    if as_json:
        emit_json(res)
    elif res["status"] == "healed":
        tables = ", ".join(f"{t} {n}" for t, n in res["recovered"].items())
        typer.echo(
            _say("cli.bundle_healed", tables=tables, n=len(res["renumbered"]))
            + "".join(f"\n  {r['from']} → {r['to']}" for r in res["renumbered"])
            + "\n"
            + _say("cli.bundle_healed_next", pending=res["pending"])
        )
    elif res["status"] == "hub_behind":
        typer.echo(_say("cli.bundle_hub_behind", resent=res["resent"]))
    else:  # imported, or stale (older than the last one imported: nothing applied)
        status = res["status"] if res["status"] in ("imported", "stale") else "imported"
        typer.echo(_say(f"cli.bundle_{status}", applied=res["applied"], pending=res["pending"]))


# ---- hub ------------------------------------------------------------------------------------
def _hub(url: str | None, *, init: bool = False) -> Any:
    from qi_station.sync.hub.store import Hub

    h = Hub(url)
    return h if init else h.require()


@hub_app.command("init")
@sync_errors
def hub_init(
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
    library: Path | None = typer.Option(
        None, "--library", help="library file (csv/xlsx/json); default: demo data"
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create or upgrade the hub database, its keys, and load the library."""
    res = _hub(database_url, init=True).init(library)
    if as_json:
        emit_json(res)
    else:
        from qi_station.i18n import text

        lang = _lang()
        lib = res.get("library")
        loaded = (
            text(
                "cli.library_counts",
                lang,
                **{k: lib.get(k, 0) for k in ("added", "updated", "deleted", "unchanged")},
            )
            if isinstance(lib, dict)
            else text("cli.library_unchanged", lang)
        )
        typer.echo(
            text(
                "cli.hub_ready",
                lang,
                database=res["database"],
                fingerprint=res["hub_fingerprint"],
                library=loaded,
            )
        )


@hub_app.command("serve")
@sync_errors
def hub_serve(
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8787, "--port"),
    workers: int = typer.Option(1, "--workers", min=1, max=64),
    certfile: Path | None = typer.Option(
        None, "--certfile", help="TLS certificate (PEM): serve HTTPS (with --keyfile)"
    ),
    keyfile: Path | None = typer.Option(None, "--keyfile", help="TLS private key (PEM) for --certfile"),
    access_log: Path | None = typer.Option(
        None, "--access-log", help="append the access log (one JSON line per call) here; default stderr"
    ),
) -> None:
    """Serve the sync API (OpenAPI at /openapi.json); HTTPS with --certfile and --keyfile."""
    from qi_station.sync.hub.server import serve

    serve(
        database_url,
        host,
        port,
        workers,
        certfile=str(certfile) if certfile else None,
        keyfile=str(keyfile) if keyfile else None,
        access_log=str(access_log) if access_log else None,
    )


@hub_app.command("add-station")
@sync_errors
def hub_add_station(
    code: str = typer.Argument(...),
    name: str = typer.Option(..., "--name"),
    reissue: bool = typer.Option(
        False, "--reissue", help="new token for an enrolled station (rebuild a lost station database)"
    ),
    region: str | None = typer.Option(
        None, "--region", help="GB/T 2260 code of the station's county (or city), e.g. 370116"
    ),
    park: str | None = typer.Option(None, "--park", help="the park it serves 所在园区"),
    station_type: str | None = typer.Option(None, "--type", help="综合服务中心 / 园区工作站 / 龙头企业"),
    mode: str | None = typer.Option(None, "--mode", help="政府引导 / 市场主导 / 区域集约"),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
) -> None:
    """Register a station; the LAST output line is its one-time enrollment token. The profile given here
    is the hub's until the station sends its own (a station enrolling before `init` takes it)."""
    given = {"region_code": region, "park": park, "station_type": station_type, "service_mode": mode}
    profile = {k: v for k, v in given.items() if v is not None}
    res = _hub(database_url).add_station(code, name, reissue=reissue, profile=profile or None)
    typer.echo(_say("cli.hub_station_added", code=res["code"], name=res["name"], id=res["station_id"]))
    typer.echo(res["token"])


@hub_app.command("revoke-station")
@sync_errors
def hub_revoke(
    code: str = typer.Argument(...),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
) -> None:
    """Revoke a station's token (its calls and bundles are refused from now on)."""
    _hub(database_url).revoke_station(code)
    typer.echo(_say("cli.hub_station_revoked", code=code.upper()))


@hub_app.command("stations")
@sync_errors
def hub_stations(
    as_json: bool = typer.Option(False, "--json"),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
) -> None:
    """Stations with their sync state."""
    from qi_station.core.clock import iso_local, local_minutes

    rows = [  # times in Asia/Shanghai with their +08:00, like every other command
        {**r, **{k: iso_local(r[k]) if r.get(k) else None for k in ("last_seen", "profile_at")}}
        for r in _hub(database_url).stations()
    ]
    if as_json:
        emit_json(rows)
        return
    from qi_station.core import places

    for r in rows:
        state = "revoked" if r["revoked"] else ("enrolled" if r["enrolled"] else "waiting")
        place = f"{places.full_name(r['region_code'])} {r['region_code']}" if r["region_code"] else "-"
        profile = f"{place}  {r['station_type'] or '-'}  {r['service_mode'] or '-'}  {r['park'] or '-'}"
        last = r["last_conflict"]
        conflicts = (
            _say("cli.station_conflicts", n=r["conflicts"], kind=last["kind"], at=local_minutes(last["at"]))
            if r["conflicts"]
            else ""
        )
        typer.echo(
            _say(
                "cli.station_line",
                code=_pad(r["code"], 12),
                state=_pad(_say(f"cli.station_state.{state}"), 9),
                acked=r["acked_oseq"],
                seen=local_minutes(r["last_seen"]) or "-",  # as request show gives a time
                name=r["name"],
                profile=profile,
                conflicts=conflicts,
            )
        )


@hub_app.command("conflicts")
@sync_errors
def hub_conflicts(
    station: str | None = typer.Option(None, "--station", help="one station's only (its code)"),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The hub's unresolved sync conflicts, oldest first (what `hub stations` counts): when, whose
    station, kind, the row it is about, and its detail."""
    import json

    from qi_station.core.clock import iso_local

    rows = [
        {**r, "at": iso_local(r["at"]) if r.get("at") else None}
        for r in _hub(database_url).conflicts(station)
    ]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['at']}  {r['station'] or '(hub)':12} {r['kind']:30} {r['table']} {r['row_id']}  "
            f"{json.dumps(r['detail'], ensure_ascii=False, sort_keys=True)}"
        )


@hub_app.command("verify")
@sync_errors
def hub_verify(
    station: str | None = typer.Option(None, "--station", help="check one station's requests only"),
    as_json: bool = typer.Option(False, "--json"),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
) -> None:
    """Check the ledgers the hub holds: every request's hash chain, its row against its events, each
    station's signed running head. Exit 0 when intact, 1 listing each request and what is wrong."""
    res = _hub(database_url).verify(station)
    if as_json:
        emit_json(res)
    else:
        for line in verify_lines(res):
            typer.echo(line)
    if not res["ok"]:
        raise typer.Exit(1)


@hub_app.command("import-library")
@sync_errors
def hub_import_library(
    path: Path = typer.Argument(...),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
    partial: bool = typer.Option(False, "--partial", help="do not tombstone rows missing from the file"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Import the library (csv/xlsx/json): adds, updates, and tombstones rows that are marked deleted or
    (unless --partial) missing from the tables present in the file."""
    res = _hub(database_url).import_library(path, partial=partial)
    if as_json:
        emit_json(res)
    elif _lang() == "en":
        typer.echo(" ".join(f"{k} {v}" for k, v in res.items()))
    else:
        from qi_station.i18n import text

        typer.echo(text("cli.library_counts", "zh", **{k: res.get(k, 0) for k in LIBRARY_COUNTS}))


@hub_app.command("import-bundle")
@sync_errors
def hub_import_bundle(
    file: Path = typer.Argument(..., metavar="FILE"),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Import a station (up) bundle through the same apply code as HTTP push."""
    res = _hub(database_url).import_bundle(file)
    emit_json(res) if as_json else typer.echo(
        _say(
            f"cli.hub_bundle_{res['status']}",
            station=res["station"],
            applied=res["applied"],
            acked=res["acked_oseq"],
        )
    )


@hub_app.command("export-bundle")
@sync_errors
def hub_export_bundle(
    station: str = typer.Option(..., "--station"),
    out: str = typer.Option(..., "--out", help="bundle file, or a directory (usb/) for the default name"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    restore: bool = typer.Option(
        False,
        "--restore",
        help="a restore bundle: every row of the station's own the hub holds, for a station restored "
        "from an older backup or rebuilt, with no network",
    ),
    resend: bool = typer.Option(
        False,
        "--resend",
        help="the hub lost changes of this station (restored from an older copy; its up bundle was "
        "refused as a gap): the station queues its ledger again from the hub's ack",
    ),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write a signed bundle for a station (everything since what it last reported, plus the ack;
    with --restore, the station's own rows to heal it)."""
    hub = _hub(database_url)
    res = (
        hub.export_restore_bundle(station, out, force=force)
        if restore
        else hub.export_bundle(station, out, force=force, resend=resend)
    )
    emit_json(res) if as_json else typer.echo(
        _say("cli.hub_bundle_written", file=res["file"], rows=res["rows"])
    )


@hub_app.command("purge-tombstones")
@sync_errors
def hub_purge(
    days: int | None = typer.Option(
        None, "--days", min=0, help="keep tombstones this many days (default QI_HUB_TOMBSTONE_DAYS or 365)"
    ),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Delete library tombstones older than the horizon; stations behind it get 410 and resync."""
    res = _hub(database_url).purge_tombstones(days)
    emit_json(res) if as_json else typer.echo(
        _say("cli.hub_purged", purged=res["purged"], horizon=res["horizon"])
    )


@hub_app.command("prune-oseq")
@sync_errors
def hub_prune_oseq(
    keep: int = typer.Option(
        100_000,
        "--keep",
        help="keep the digests of this many changes per station below its ack (at least 1000)",
    ),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Delete old change digests (hub_oseq) that ordinary sync never needs again (docs/deploy.md)."""
    res = _hub(database_url).prune_oseq(keep)
    emit_json(res) if as_json else typer.echo(
        _say("cli.hub_pruned", deleted=res["deleted"], kept=res["kept"], keep=res["keep"])
    )


@hub_app.command("assign")
@sync_errors
def hub_assign(
    request: str = typer.Argument(..., help="request id or number"),
    expert: str | None = typer.Option(None, "--expert", help="expert id assigned by the province"),
    note: str | None = typer.Option(None, "--note"),
    priority: str | None = typer.Option(None, "--priority"),
    status: str | None = typer.Option(None, "--status", help="a status move checked by the lifecycle"),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
) -> None:
    """Hub-side update of a request (flows down to its station)."""
    res = _hub(database_url).assign(request, expert_id=expert, note=note, priority=priority, status=status)
    key = "cli.hub_assigned" if res["changed"] else "cli.hub_assigned_same"
    typer.echo(_say(key, id=res["id"], h_rev=res["h_rev"]))


hub_app.add_typer(hub_report_app, name="report")
_ = OPTS


def standalone() -> typer.Typer:
    """``python -m qi_station.cli.sync [--db PATH] sync|hub ...`` (the same commands without the main CLI)."""
    root = typer.Typer(no_args_is_help=True)

    @root.callback()
    def _root(db: Path | None = typer.Option(None, "--db", help="station database")) -> None:
        OPTS.db = db

    root.add_typer(sync_app, name="sync")
    root.add_typer(hub_app, name="hub")
    return root


if __name__ == "__main__":  # pragma: no cover
    standalone()()
