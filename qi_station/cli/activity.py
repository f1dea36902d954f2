"""``qi-station activity …``: activities that are not requests (visits 走访, training 培训, events 活动)."""

from __future__ import annotations

import sys

import typer

from qi_station.cli.kit import OPTS, emit_json, handle_errors, station_db

activity_app = typer.Typer(help="Activities 走访 / 培训 / 活动.", no_args_is_help=True)


def _kind_label(kind: str) -> str:
    from qi_station.core.activity import ACTIVITY_KIND_EN, ACTIVITY_KIND_ZH

    return (ACTIVITY_KIND_EN if OPTS.lang == "en" else ACTIVITY_KIND_ZH).get(kind, kind)


@activity_app.command("add")
@handle_errors
def activity_add(
    kind: str = typer.Option(..., "--kind", help="visit (走访) | training (培训) | event (活动)."),
    date: str = typer.Option(..., "--date", help="YYYY-MM-DD (the day it took place)."),
    # counts as text: the core's rule names each bad field, all at once (a Typer int stopped at the first)
    enterprises: str = typer.Option(..., "--enterprises", help="Enterprises reached 覆盖企业数."),
    people: str = typer.Option(..., "--people", help="People reached 覆盖人数."),
    title: str = typer.Option(..., "--title", help="Title 标题."),
    note: str | None = typer.Option(None, "--note"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Record an activity 登记活动."""
    from qi_station.services.activity import add_activity

    row = add_activity(
        station_db(),
        {
            "kind": kind,
            "date": date,
            "enterprises": enterprises,
            "people": people,
            "title": title,
            "note": note,
        },
        actor=OPTS.operator,
    )
    if as_json:
        emit_json(row)
    else:
        typer.echo(
            f"{'已登记' if OPTS.lang != 'en' else 'recorded'} {_kind_label(row['kind'])} {row['date']}  id={row['id']}"
        )


@activity_app.command("list")
@handle_errors
def activity_list(
    month: str | None = typer.Option(None, "--month", help="YYYY-MM (dated in that month)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List activities, newest first."""
    from qi_station.services.activity import list_activities

    rows = list_activities(station_db(), month)
    if as_json:
        emit_json(rows)
        return
    from qi_station.i18n import field_label

    lang = "en" if OPTS.lang == "en" else "zh"
    firms, people = field_label("enterprises", lang), field_label("people", lang)  # the form's labels
    for r in rows:
        sys.stdout.write(
            f"{r['date']}  {_kind_label(r['kind'])}  {firms} {r['enterprises']}  {people} {r['people']}  "
            f"{r['title']}\n"
        )
    sys.stderr.write(f"{len(rows)} {'条' if OPTS.lang != 'en' else 'activities'}\n")
