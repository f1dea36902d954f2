"""This station's own row (code, name and its profile: region, park, type, service mode): created on
first use, checked before it changes; the code is immutable once requests exist. The profile travels to
the hub (:func:`profile`, sent at enrollment, on every sync and in every up bundle)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qi_station.core import places
from qi_station.core import validate as v
from qi_station.core.clock import env_now
from qi_station.core.errors import ValidationError
from qi_station.core.ids import uuid7
from qi_station.db.session import write_session

if TYPE_CHECKING:
    from sqlmodel import Session

DEFAULT_STATION_CODE = "QI0001"
DEFAULT_STATION_NAME = "质量基础设施一站式服务工作站"


@dataclass
class StationInfo:
    id: str
    code: str
    name: str
    type: str
    service_mode: str
    region_code: str
    park: str | None = None

    @property
    def city_code(self) -> str | None:
        return places.city_of(self.region_code)

    @property
    def county_code(self) -> str | None:
        return places.county_of(self.region_code)

    def profile(self) -> dict[str, str | None]:
        return {
            "region_code": self.region_code,
            "park": self.park,
            "station_type": self.type,
            "service_mode": self.service_mode,
        }


def get_self_station(session: Session) -> Any:
    from sqlmodel import select

    from qi_station.db.models import Station

    return session.exec(select(Station).where(Station.is_self == True)).first()  # noqa: E712


def check_station_input(
    code: str | None = None,
    name: str | None = None,
    type_: str | None = None,
    service_mode: str | None = None,
    region_code: str | None = None,
    park: str | None = None,
) -> tuple[str | None, str | None, str | None, str | None, str | None, str | None]:
    """Every rule of this station's own row that needs no database, normalised (None = not given):
    ``init`` checks them before it creates a database file."""
    if code is not None:
        code = v.clean_text(code, "station_code", required=True, limit=20).upper()
        if not all(ch.isalnum() or ch in "-_" for ch in code) or not code.isascii():
            raise ValidationError(
                "station_code",
                "charset",
                "station code: ASCII letters, digits, - and _ / 站点编码只能含字母数字",
            )
    if name is not None:
        name = v.clean_text(name, "station_name", required=True, limit=100)
    prof = v.check_station_profile(region_code, park, type_, service_mode)
    return (
        code,
        name,
        prof["station_type"],
        prof["service_mode"],
        prof["region_code"],
        prof["park"] if park is not None else None,
    )


def ensure_station(
    session: Session,
    code: str | None = None,
    name: str | None = None,
    type_: str | None = None,
    service_mode: str | None = None,
    region_code: str | None = None,
    park: str | None = None,
) -> Any:
    """Return this station's row, creating it on first use (or updating it when values are given; an
    empty ``park`` clears it)."""
    from qi_station.db.models import KV, Station

    clear_park = park is not None and not park.strip()
    code, name, type_, service_mode, region_code, park = check_station_input(
        code, name, type_, service_mode, region_code, park
    )
    st = get_self_station(session)
    if st is None:
        st = Station(
            id=uuid7(),
            code=code or DEFAULT_STATION_CODE,
            name=name or DEFAULT_STATION_NAME,
            type=type_ or "园区工作站",
            service_mode=service_mode or "区域集约",
            region_code=region_code or "370100",
            park=park,
            is_self=True,
            created_at=env_now(),
        )
        session.add(st)
        session.merge(KV(k="station_code", v=st.code))
        session.flush()
        return st
    if code is not None and code != st.code:
        from sqlalchemy import func, select

        from qi_station.db.models import Request

        if session.execute(select(func.count()).select_from(Request)).scalar_one():
            raise ValidationError(
                "station_code",
                "immutable",
                "station code cannot change once requests exist / 已有台账，站点编码不可更改",
            )
        st.code = code
        session.merge(KV(k="station_code", v=code))
    if name is not None:
        st.name = name
    if type_ is not None:
        st.type = type_
    if service_mode is not None:
        st.service_mode = service_mode
    if region_code is not None:
        st.region_code = region_code
    if park is not None or clear_park:
        st.park = park
    session.add(st)
    session.flush()
    return st


def station_info(st: Any) -> StationInfo:
    return StationInfo(st.id, st.code, st.name, st.type, st.service_mode, st.region_code, st.park)


def init_station(db: Path, **kw: Any) -> StationInfo:
    with write_session(db) as s:
        return station_info(ensure_station(s, **kw))


def profile(db: Any) -> dict[str, str | None] | None:
    """This station's profile as it is sent to the hub (None before the station row exists). ``db``: a
    path or an open sqlite3 connection (the sync client's)."""
    from qi_station.services.queries import station

    st = station(db)
    if st is None:
        return None
    return {
        "region_code": st["region_code"],
        "park": st.get("park"),
        "station_type": st["type"],
        "service_mode": st["service_mode"],
    }


def set_profile(
    db: Path,
    *,
    region: str | None = None,
    park: str | None = None,
    type_: str | None = None,
    mode: str | None = None,
    name: str | None = None,
) -> StationInfo:
    """Change this station's profile (``qi-station station set``, the TUI profile screen): every value is
    checked before anything is written; it reaches the hub at the next sync."""
    check_station_input(None, name, type_, mode, region, park)
    return init_station(db, name=name, type_=type_, service_mode=mode, region_code=region, park=park)
