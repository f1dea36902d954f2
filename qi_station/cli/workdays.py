"""``qi-station station promise`` (this station's promise in working days) and ``qi-station hub calendar
import|list`` (the holiday calendar the hub distributes). Heavy imports happen inside commands."""

from __future__ import annotations

from pathlib import Path

import typer

from qi_station.cli.kit import emit_json, handle_errors, station_db
from qi_station.cli.requests import zh
from qi_station.cli.station import station_app
from qi_station.cli.sync import DB_URL_HELP, _hub, sync_errors

hub_calendar_app = typer.Typer(
    help="The holiday calendar the hub distributes 节假日日历.", no_args_is_help=True
)


@station_app.command("promise")
@handle_errors
def station_promise(
    normal: str | None = typer.Option(
        None, "--normal", help="working days for a normal request (default 10)"
    ),
    urgent: str | None = typer.Option(
        None, "--urgent", help="working days for an urgent request (default 3)"
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show or set the promise (承诺时限) in working days after the day of receipt, by urgency, and the
    years the holiday calendar covers."""
    from qi_station.services.workdays import promise_settings, set_promises

    db = station_db()
    if normal is not None or urgent is not None:
        set_promises(db, normal=normal, urgent=urgent)
    res = promise_settings(db)
    if as_json:
        emit_json(res)
        return
    p = res["promise_workdays"]
    years = ", ".join(str(y["year"]) for y in res["calendar_years"]) or "-"
    if zh():
        typer.echo(f"承诺时限：一般 {p['normal']} 个工作日，紧急 {p['urgent']} 个工作日（受理当日不计）")
        typer.echo(f"节假日日历覆盖：{years}")
    else:
        typer.echo(
            f"promise: normal {p['normal']} working days, urgent {p['urgent']} (day of receipt not counted)"
        )
        typer.echo(f"holiday calendar covers: {years}")


@hub_calendar_app.command("import")
@sync_errors
def hub_calendar_import(
    path: Path = typer.Argument(..., help="UTF-8 CSV: year,date,kind(off|work),name"),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Load a published calendar year (or several): each year is checked whole and replaces that year's
    previous version; stations receive it on their next sync or down bundle."""
    res = _hub(database_url).import_calendar(path)
    if as_json:
        emit_json(res)
        return
    typer.echo(
        f"years {', '.join(map(str, res['years']))}: added {res['added'] or '-'}, updated "
        f"{res['updated'] or '-'}, unchanged {res['unchanged'] or '-'}"
    )


@hub_calendar_app.command("list")
@sync_errors
def hub_calendar_list(
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The calendar years the hub distributes (rev, hub seq, SHA-256 of the body)."""
    rows = _hub(database_url).references("calendar")
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['key']}  rev {r['rev']}  seq {r['seq']}  sha256 {r['sha256'][:12]}  {r['updated_at']}"
        )


# ---- indicator definitions the hub distributes (a reference document, like the calendar) ----------
hub_indicators_app = typer.Typer(
    help="The indicator definitions the hub distributes 指标定义.", no_args_is_help=True
)


@hub_indicators_app.command("import")
@sync_errors
def hub_indicators_import(
    path: Path = typer.Argument(..., help="UTF-8 TOML, the shape of data/indicators/default.toml"),
    database_url: str | None = typer.Option(None, "--database-url", help=DB_URL_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Load the province's indicator definitions (checked whole: every formula and figure name); they
    replace the shipped default in every report at the hub and, after their next sync or down bundle,
    at every station."""
    from qi_station.reports.indicators import REFERENCE_KEY, REFERENCE_KIND, register_reference

    register_reference()
    with open(path, encoding="utf-8") as f:
        body = f.read()
    res = _hub(database_url).put_references([(REFERENCE_KIND, REFERENCE_KEY, body)])
    if as_json:
        emit_json(res)
        return
    state = "unchanged" if res["unchanged"] else ("updated" if res["updated"] else "added")
    typer.echo(f"indicator definitions {state} / 指标定义已{'无变化' if state == 'unchanged' else '更新'}")
