"""``qi-station staff …``: the station's staff list (name, role 站长 / 质量管家 / 服务专员). Attribution on a
shared office PC, not a security boundary; the list stays on this station (never synced)."""

from __future__ import annotations

import typer

from qi_station.cli.kit import OPTS, emit_json, handle_errors, station_db
from qi_station.core import domain

staff_app = typer.Typer(help="Station staff 员工名单 (who signs the ledger).", no_args_is_help=True)


def _role(code: str) -> str:
    return (domain.ROLE_EN if OPTS.lang == "en" else domain.ROLE_ZH).get(code, code)


@staff_app.command("add")
@handle_errors
def staff_add(
    name: str = typer.Argument(..., help="The person's name 姓名."),
    role: str = typer.Option(..., "--role", help="站长 | 质量管家 | 服务专员 (or head | steward | officer)."),
) -> None:
    """Add a staff member."""
    from qi_station.services.staff import add_staff

    got = add_staff(station_db(), name, role)
    typer.echo(f"{'已添加' if OPTS.lang != 'en' else 'added'} {got['name']} ({_role(got['role'])})")


@staff_app.command("list")
@handle_errors
def staff_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """The staff list."""
    from qi_station.services.staff import list_staff

    rows = list_staff(station_db())
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['name']}  {_role(r['role'])}")


@staff_app.command("remove")
@handle_errors
def staff_remove(name: str = typer.Argument(..., help="The person's name 姓名.")) -> None:
    """Remove a staff member (their past events keep their name)."""
    from qi_station.services.staff import remove_staff

    remove_staff(station_db(), name)
    typer.echo(f"{'已移除' if OPTS.lang != 'en' else 'removed'} {name}")
