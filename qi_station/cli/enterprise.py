"""``qi-station enterprise show USCC`` and ``enterprise locate USCC --county CODE``: one enterprise, its names over time, contacts, requests and
referrals (paged reads in :mod:`qi_station.services.enterprises`)."""

from __future__ import annotations

import sys

import typer

from qi_station.cli.kit import emit_json, handle_errors, station_db
from qi_station.cli.requests import zh
from qi_station.core import domain
from qi_station.core.clock import iso_local, present_times

enterprise_app = typer.Typer(help="Enterprises 企业.", no_args_is_help=True)


@enterprise_app.command("show")
@handle_errors
def enterprise_show(
    key: str = typer.Argument(
        ..., metavar="USCC_OR_NAME", help="USCC (full-width too), name or former name, or id."
    ),
    limit: int = typer.Option(50, "--limit", min=1, help="At most N requests and N referrals."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """An enterprise (by USCC, current or former name, or id): names over time, contacts, its requests
    and referrals (newest first)."""
    from qi_station.i18n import contact_text
    from qi_station.services import enterprises as ent

    db = station_db()
    e = ent.get_enterprise(db, key)
    reqs = ent.requests_of(db, e["id"], limit=limit)
    refs = ent.referrals_of(db, e["id"], limit=limit)
    if as_json:
        emit_json(present_times({**e, "request_list": reqs, "referral_list": refs}))
        return
    out = sys.stdout
    status = domain.STATUS_ZH if zh() else domain.STATUS_EN
    out.write(f"{e['name']}  {e['uscc']}  {e.get('city_name') or ''}\n")
    if len(e["names"]) > 1:
        out.write(("曾用名" if zh() else "former names") + ":\n")
        for n in e["names"][:-1]:
            out.write(f"  {n['name']}  ({'至' if zh() else 'until'} {str(iso_local(n['until']))[:10]})\n")
    for c in e["contacts"]:
        text = contact_text(c["name"], c["phone"], "zh" if zh() else "en")
        out.write(f"{'联系人' if zh() else 'contact'}: {text}\n")
    out.write(f"{'需求' if zh() else 'requests'} ({e['requests']}):\n")
    for r in reqs:
        out.write(
            f"  {r['number']}  {str(iso_local(r['received_at']))[:10]}  "
            f"{status.get(r['status'], r['status'])}  {r['title']}\n"
        )
    out.write(f"{'转办' if zh() else 'referrals'} ({e['referrals']}):\n")
    from qi_station.i18n import kind_name

    for f in refs:  # zh: the library's name, as `request show` gives it
        kind = kind_name(f["kind"], "zh") if zh() else f["kind"]
        out.write(f"  {f['number']}  {kind}  {f['item_name']}\n")


@enterprise_app.command("locate")
@handle_errors
def locate(
    uscc: str = typer.Argument(..., help="The enterprise's USCC 统一社会信用代码."),
    county: str = typer.Option(..., "--county", help="GB/T 2260 code of the county it is in, e.g. 370116."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Say where an enterprise is today (its county). Its registered region (from the USCC) never
    changes; city and county figures count it where it is."""
    from qi_station.core import places
    from qi_station.services.enterprises import locate_enterprise

    row = locate_enterprise(station_db(), uscc, county)
    out = {
        "uscc": row["uscc"],
        "name": row["name"],
        "region_code": row["region_code"],
        "county_code": row["county_code"],
        "city_code": row["city_code"],
    }
    if as_json:
        emit_json(out)
    else:
        typer.echo(
            f"{row['name']} {row['uscc']}: {places.full_name(row['county_code'])} {row['county_code']} "
            f"(registered 登记地 {places.full_name(row['region_code'])} {row['region_code']})"
        )
