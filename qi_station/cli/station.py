"""``qi-station station show|set`` (this station's profile); ``station promise`` lives in
:mod:`qi_station.cli.workdays`."""

from __future__ import annotations

from typing import Any

import typer

from qi_station.cli.kit import emit_json, handle_errors, station_db

station_app = typer.Typer(help="This station's profile 站点信息.", no_args_is_help=True)


def profile_line(st: Any) -> str:
    """One line naming the station and its profile (the output of ``init`` and ``station set``)."""
    from qi_station.core import places

    park = f", {st.park}" if st.park else ""
    return (
        f"station {st.code} {st.name} ({st.type}, {st.service_mode}, "
        f"{places.full_name(st.region_code)} {st.region_code}{park})"
    )


def _as_dict(st: Any) -> dict[str, Any]:
    from qi_station.core import places

    return {
        "code": st.code,
        "name": st.name,
        **st.profile(),
        "city_code": places.city_of(st.region_code),
        "county_code": places.county_of(st.region_code),
        "region_name": places.full_name(st.region_code),
    }


@station_app.command("show")
@handle_errors
def show(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show this station's code, name and profile (region, park, type, service mode)."""
    from qi_station.services.station import init_station

    st = init_station(station_db())
    if as_json:
        emit_json(_as_dict(st))
    else:
        typer.echo(profile_line(st))


@station_app.command("set")
@handle_errors
def set_(
    region: str | None = typer.Option(
        None, "--region", help="GB/T 2260 code of the station's county (or city), e.g. 370116."
    ),
    park: str | None = typer.Option(None, "--park", help="The park it serves (empty clears it) 所在园区."),
    station_type: str | None = typer.Option(
        None, "--type", help="综合服务中心 / 园区工作站 / 龙头企业 (or the English label)."
    ),
    mode: str | None = typer.Option(
        None, "--mode", help="政府引导 / 市场主导 / 区域集约 (or the English label)."
    ),
    name: str | None = typer.Option(None, "--name", help="The station's name."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Change this station's profile; the hub receives it at the next sync (or in the next bundle)."""
    from qi_station.services.station import set_profile

    st = set_profile(station_db(), region=region, park=park, type_=station_type, mode=mode, name=name)
    if as_json:
        emit_json(_as_dict(st))
    else:
        typer.echo(profile_line(st))
