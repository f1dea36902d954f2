"""``qi-station library search …``: the four libraries and enterprises."""

from __future__ import annotations

import sys

import typer

from qi_station.cli.kit import emit_json, handle_errors, station_db
from qi_station.cli.requests import zh
from qi_station.core import domain, qualify
from qi_station.core.clock import present_times, today_local

library_app = typer.Typer(help="The four libraries and enterprises 四库.", no_args_is_help=True)


# ---- library -------------------------------------------------------------------------------
@library_app.command("search")
@handle_errors
def library_search(
    kind: str = typer.Argument(
        ..., help="experts|institutions|equipment|projects|enterprises (专家库 机构库 设备库 项目库 企业库)"
    ),
    query: str = typer.Argument("", help="Chinese text, pinyin or initials; empty lists everything."),
    element: str | None = typer.Option(None, "--element"),
    city: str | None = typer.Option(None, "--city", help="GB/T 2260 city code, e.g. 370800."),
    valid_only: bool = typer.Option(
        False,
        "--valid-only",
        help="Institutions valid for --element (testing needs a valid CMA; CNAS alone is not enough); "
        "without --element: a valid CMA.",
    ),
    shared_only: bool = typer.Option(False, "--shared-only", help="Shared equipment only."),
    limit: int | None = typer.Option(None, "--limit", min=0, help="At most N (default: all)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Search a library by Chinese text, full pinyin or initials (ranked; own city first)."""
    from qi_station.services.search import check_kind, search, station_city

    kind = check_kind(kind)  # 专家库 / 专家 / experts
    db = station_db()
    own = station_city(db)
    rows = search(
        db,
        kind,
        query,
        element=element,
        city=city,
        valid_only=valid_only,
        shared_only=shared_only,
        own_city=own,
        limit=limit,
    )
    for r in rows:
        r.pop("haystack", None)
    if as_json:
        emit_json([present_times(r) for r in rows])
        return
    names = domain.ELEMENT_ZH if zh() else domain.ELEMENT_EN
    for r in rows:
        el = "、".join(names.get(e, e) for e in r["elements"])
        extra = ""
        if kind == "institutions":
            extra = "  " + qualify.expiry_line(r, today_local(), zh())
        elif kind == "equipment":
            extra = (
                f" {'共享' if r.get('shared') else '不共享'} {r.get('fee') or ''}/"
                f"{domain.label(domain.FEE_UNIT_ZH if zh() else domain.FEE_UNIT_EN, r.get('fee_unit'))}"
            )
        elif kind == "enterprises":
            extra = f" {r.get('uscc')}"
        elif kind == "experts":
            extra = f" {'在办' if zh() else 'open'} {r.get('load', 0)}"
        sys.stdout.write(f"{r['id']}  {r['name']}  {r['city_name']}  {el}{extra}\n")
    sys.stderr.write(f"{len(rows)} {'条' if zh() else 'matches'}\n")


@library_app.command("expiring")
@handle_errors
def library_expiring(
    days: int = typer.Option(
        qualify.EXPIRING_DAYS, "--days", min=0, max=3660, help="Expiring within N days (default 90)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Institutions whose CMA or CNAS has expired or expires within --days, soonest first."""
    from qi_station.services.search import expiring

    rows = expiring(station_db(), days=days)
    if as_json:
        emit_json([present_times(r) for r in rows])
        return
    today = today_local()
    for r in rows:
        sys.stdout.write(
            f"{r['id']}  {r['name']}  {r['city_name']}  {qualify.expiry_line(r, today, zh(), days)}\n"
        )
    n_exp = sum(1 for r in rows if r["expired"])
    sys.stderr.write(
        f"{len(rows)} 家 (已过期 {n_exp})\n" if zh() else f"{len(rows)} institutions ({n_exp} expired)\n"
    )
