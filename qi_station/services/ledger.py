"""The request ledger: create, move, refer. Every rule is checked here before anything is written;
each change appends a hash-chained event and an outbox row in the same transaction.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qi_station.core import domain
from qi_station.core import validate as v
from qi_station.core.chain import GENESIS, canonical, event_fields, event_hash
from qi_station.core.clock import local_date, now_utc, parse_datetime
from qi_station.core.errors import NotFoundError, TransitionError, ValidationError
from qi_station.core.ids import hlc_now, uuid7
from qi_station.db.session import row_dict, write_session
from qi_station.services.phones import normalize_phone

if TYPE_CHECKING:
    from sqlmodel import Session

DEFAULT_STATION_CODE = "QI0001"
DEFAULT_STATION_NAME = "质量基础设施一站式服务工作站"
REFER_KINDS = {
    "expert": "expert",
    "institution": "institution",
    "equipment": "equipment",
    "project": "project",
}


def current_operator() -> str:
    name = os.environ.get("QI_STATION_OPERATOR")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "operator"


# ---- station ------------------------------------------------------------------------------
@dataclass
class StationInfo:
    id: str
    code: str
    name: str
    type: str
    service_mode: str
    region_code: str

    @property
    def city_code(self) -> str | None:
        return domain.city_of(self.region_code)


def get_self_station(session: Session) -> Any:
    from sqlmodel import select

    from qi_station.db.models import Station

    return session.exec(select(Station).where(Station.is_self == True)).first()  # noqa: E712


def ensure_station(
    session: Session,
    code: str | None = None,
    name: str | None = None,
    type_: str | None = None,
    service_mode: str | None = None,
    region_code: str | None = None,
) -> Any:
    """Return this station's row, creating it on first use (or updating it when values are given)."""
    from qi_station.db.models import KV, Station

    st = get_self_station(session)
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
    if type_ is not None:
        v.check_choice(type_, domain.STATION_TYPES, "station_type")
    if service_mode is not None:
        v.check_choice(service_mode, domain.SERVICE_MODES, "service_mode")
    if region_code is not None and domain.city_of(region_code) is None:
        raise ValidationError(
            "region", "gbt2260", f"not a Shandong GB/T 2260 code: {region_code!r} / 非山东行政区划码"
        )
    if st is None:
        st = Station(
            id=uuid7(),
            code=code or DEFAULT_STATION_CODE,
            name=name or DEFAULT_STATION_NAME,
            type=type_ or "园区工作站",
            service_mode=service_mode or "区域集约",
            region_code=region_code or "370100",
            is_self=True,
            created_at=now_utc(),
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
    session.add(st)
    session.flush()
    return st


def station_info(st: Any) -> StationInfo:
    return StationInfo(st.id, st.code, st.name, st.type, st.service_mode, st.region_code)


def init_station(db: Path, **kw: Any) -> StationInfo:
    with write_session(db) as s:
        return station_info(ensure_station(s, **kw))


# ---- outbox & events ----------------------------------------------------------------------
def add_outbox(
    session: Session, table: str, row: dict[str, Any], station_code: str, op: str = "upsert"
) -> None:
    from qi_station.db.models import Outbox

    session.add(
        Outbox(
            table_name=table,
            row_id=row["id"],
            op=op,
            row_json=canonical(row),
            hlc=hlc_now(station_code),
            created_at=now_utc(),
        )
    )


def append_event(
    session: Session,
    request_id: str,
    station_code: str,
    *,
    at: datetime,
    actor: str,
    kind: str,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> Any:
    from sqlalchemy import text

    from qi_station.db.models import RequestEvent

    last = session.execute(
        text("SELECT n, hash FROM request_event WHERE request_id=:r ORDER BY n DESC LIMIT 1"),
        {"r": request_id},
    ).first()
    n = (last[0] + 1) if last else 1
    prev = last[1] if last else GENESIS
    ev = RequestEvent(
        id=uuid7(),
        request_id=request_id,
        n=n,
        at=at,
        actor=actor,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=canonical(data or {}),
        prev_hash=prev,
        hash="",
    )
    ev.hash = event_hash(prev, event_fields(row_dict(ev)))
    session.add(ev)
    session.flush()
    add_outbox(session, "request_event", row_dict(ev), station_code, op="insert")
    return ev


# ---- enterprises --------------------------------------------------------------------------
@dataclass
class EnterpriseInput:
    name: str
    uscc: str
    industry: str | None = None
    scale: str | None = None
    contact_name: str | None = None
    phone: str | None = None


def check_enterprise(e: EnterpriseInput) -> dict[str, Any]:
    name = v.clean_text(e.name, "enterprise", required=True)
    uscc = v.validate_uscc(e.uscc)
    region = v.uscc_region(uscc)
    city = domain.city_of(region)
    phone = normalize_phone(e.phone, "phone", city)
    if e.scale:
        v.check_choice(e.scale, domain.ENTERPRISE_SCALES, "scale")
    return {
        "name": name,
        "uscc": uscc,
        "region_code": region,
        "city_code": city,
        "industry": v.clean_text(e.industry, "industry") or None,
        "scale": e.scale or None,
        "contact_name": v.clean_text(e.contact_name, "contact") or None,
        "phone_e164": phone[0] if phone else None,
        "phone_display": phone[1] if phone else None,
    }


def upsert_enterprise(session: Session, data: dict[str, Any], station_code: str) -> Any:
    """Find by USCC (the identity) or create; fills missing contact data. Writes the outbox."""
    from sqlmodel import select

    from qi_station.db.models import Enterprise
    from qi_station.db.pinyin import pinyin_fields
    from qi_station.db.searchtext import haystack

    ent = session.exec(
        select(Enterprise).where(Enterprise.station_code == station_code, Enterprise.uscc == data["uscc"])
    ).first()
    now = now_utc()
    if ent is None:
        py, ini = pinyin_fields(data["name"])
        ent = Enterprise(
            id=uuid7(),
            **data,
            name_py=py,
            name_initials=ini,
            haystack=haystack("enterprise", data),
            station_code=station_code,
            created_at=now,
            updated_at=now,
        )
    else:
        changed = False
        for k in ("contact_name", "phone_e164", "phone_display", "industry", "scale"):
            if data.get(k) and getattr(ent, k) != data[k]:
                setattr(ent, k, data[k])
                changed = True
        if not changed:
            return ent
        ent.s_rev += 1
        ent.updated_at = now
    session.add(ent)
    session.flush()
    add_outbox(session, "enterprise", row_dict(ent), station_code)
    return ent


def create_enterprise(db: Path, e: EnterpriseInput) -> dict[str, Any]:
    data = check_enterprise(e)
    with write_session(db) as s:
        st = ensure_station(s)
        ent = upsert_enterprise(s, data, st.code)
        return row_dict(ent)


# ---- requests -----------------------------------------------------------------------------
@dataclass
class RequestInput:
    enterprise: str
    uscc: str
    elements: str | list[str]
    title: str
    description: str | None = None
    sub_type: str | None = None
    channel: str = "walk_in"
    urgency: str = "normal"
    contact: str | None = None
    phone: str | None = None
    promised: str | date | None = None
    received_at: str | datetime | None = None
    industry: str | None = None
    scale: str | None = None
    operator: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def check_request(inp: RequestInput, now: datetime | None = None) -> dict[str, Any]:
    """Validate everything up front: a refused input writes nothing."""
    ent = check_enterprise(
        EnterpriseInput(inp.enterprise, inp.uscc, inp.industry, inp.scale, inp.contact, inp.phone)
    )
    elements = v.parse_elements(inp.elements)
    title = v.clean_text(inp.title, "title", required=True)
    description = v.clean_text(inp.description, "description", multiline=True) or None
    sub_type = v.clean_text(inp.sub_type, "sub_type") or None
    channel = v.check_choice(inp.channel or "walk_in", domain.CHANNELS, "channel")
    urgency = v.check_choice(inp.urgency or "normal", domain.URGENCIES, "urgency")
    now = now or now_utc()
    if inp.received_at is None or inp.received_at == "":
        received = now
    elif isinstance(inp.received_at, datetime):
        received = inp.received_at
    else:
        received = parse_datetime(inp.received_at, "received_at")
    if received > now + timedelta(minutes=5):
        raise ValidationError(
            "received_at", "not_future", "received time is in the future / 受理时间不能晚于现在"
        )
    if received.year < 2000:
        raise ValidationError("received_at", "range", "received time is before 2000 / 受理时间过早")
    rdate = local_date(received)
    if inp.promised is None or inp.promised == "":
        promised = rdate + timedelta(days=domain.PROMISE_DAYS[urgency])
    elif isinstance(inp.promised, date):
        promised = inp.promised
    else:
        from qi_station.core.clock import parse_date

        promised = parse_date(inp.promised, "promised")
    if promised < rdate:
        raise ValidationError(
            "promised",
            "after_received",
            f"promised date {promised} is before received date {rdate} / 承诺日期不能早于受理日期",
        )
    operator = v.clean_text(inp.operator or current_operator(), "operator", required=True)
    return {
        "enterprise": ent,
        "elements": elements,
        "title": title,
        "description": description,
        "sub_type": sub_type,
        "channel": channel,
        "urgency": urgency,
        "received_at": received,
        "promised_date": promised,
        "operator": operator,
        "contact_name": ent["contact_name"],
        "phone_e164": ent["phone_e164"],
        "phone_display": ent["phone_display"],
    }


def next_number(session: Session, station_code: str, received: datetime) -> str:
    from sqlalchemy import text

    d = local_date(received)
    prefix = f"{station_code}-{d.year}{d.month:02d}"
    key = f"ledger_seq:{prefix}"
    row = session.execute(
        text(
            "INSERT INTO kv(k, v) VALUES (:k, '1') ON CONFLICT(k) DO UPDATE SET v = CAST(v AS INTEGER) + 1 "
            "RETURNING v"
        ),
        {"k": key},
    ).first()
    assert row is not None
    return f"{prefix}-{int(row[0]):04d}"


def create_request(db: Path, inp: RequestInput) -> dict[str, Any]:
    """Log a request. Returns the request as a dict (with ``id`` and ``number``)."""
    from qi_station.db.models import Request

    data = check_request(inp)
    with write_session(db) as s:
        st = ensure_station(s)
        ent = upsert_enterprise(s, data.pop("enterprise"), st.code)
        now = now_utc()
        req = Request(
            id=uuid7(),
            number=next_number(s, st.code, data["received_at"]),
            station_code=st.code,
            enterprise_id=ent.id,
            elements=json.dumps(data.pop("elements")),
            status="new",
            created_at=now,
            updated_at=now,
            **data,
        )
        s.add(req)
        s.flush()
        append_event(
            s,
            req.id,
            st.code,
            at=req.received_at,
            actor=req.operator or "",
            kind="created",
            to_status="new",
            data={"title": req.title},
        )
        add_outbox(s, "request", row_dict(req), st.code)
        out = row_dict(req)
        out["enterprise_name"] = ent.name
        out["uscc"] = ent.uscc
        return out


def _find_request(session: Session, key: str) -> Any:
    from sqlmodel import or_, select

    from qi_station.db.models import Request

    key = (key or "").strip()
    req = session.exec(select(Request).where(or_(Request.id == key, Request.number == key.upper()))).first()
    if req is None or req.deleted:
        raise NotFoundError("request", key)
    return req


def _when(at: str | datetime | None, now: datetime) -> datetime:
    when = (
        parse_datetime(at, "at") if isinstance(at, str) and at else (at if isinstance(at, datetime) else now)
    )
    if when > now + timedelta(minutes=5):
        raise ValidationError("at", "not_future", "time is in the future / 时间不能晚于现在")
    return when


def move_request(
    db: Path,
    key: str,
    to_status: str,
    *,
    note: str | None = None,
    at: str | datetime | None = None,
    result: str | None = None,
    problems_solved: str | int | None = None,
    cost_saved: str | Decimal | float | None = None,
    satisfaction: str | int | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Move a request through the lifecycle. Illegal moves and bad outcomes are refused."""
    to_status = (to_status or "").strip()
    v.check_choice(to_status, domain.STATUSES, "status")
    note = v.clean_text(note, "note", multiline=True) or None
    result_t = v.clean_text(result, "result", multiline=True) or None
    solved = v.parse_non_negative_int(problems_solved, "problems_solved")
    cost = v.parse_cost(cost_saved, "cost_saved")
    sat = v.parse_satisfaction(satisfaction)
    actor = v.clean_text(actor or current_operator(), "operator", required=True)
    now = now_utc()
    when = _when(at, now)
    if to_status != "resolved" and (result_t or solved is not None or cost is not None):
        raise ValidationError(
            "result",
            "only_on_resolve",
            "outcome fields are given only when resolving / 办理结果仅在办结时填写",
        )
    if sat is not None and to_status != "closed":
        raise ValidationError(
            "satisfaction",
            "after_resolved",
            "satisfaction is recorded on the follow-up (closed) only / 满意度仅在回访时填写",
        )

    with write_session(db) as s:
        st = ensure_station(s)
        req = _find_request(s, key)
        frm = req.status
        if not domain.can_move(frm, to_status):
            raise TransitionError(frm, to_status)
        if to_status == "closed" and sat is None:
            raise ValidationError(
                "satisfaction",
                "required",
                "the follow-up needs a satisfaction rating 1..5 / 回访须填写满意度",
            )
        if to_status == "resolved" and not result_t:
            raise ValidationError("result", "required", "resolving needs a result / 办结须填写办理结果")
        _check_not_before_last_event(s, req, when)
        data: dict[str, Any] = {}
        req.status = to_status
        if to_status == "accepted" and req.accepted_at is None:
            req.accepted_at = when
        if to_status == "resolved":
            req.resolved_at = when
            req.result = result_t
            req.problems_solved = solved if solved is not None else 0
            req.cost_saved_cents = int(cost * 100) if cost is not None else 0
            data = {
                "result": result_t,
                "problems_solved": req.problems_solved,
                "cost_saved": str(cost if cost is not None else Decimal("0.00")),
            }
        if to_status == "closed":
            req.closed_at = when
            req.satisfaction = sat
            req.followup_at = when
            req.followup_note = note
            data = {"satisfaction": sat}
        if to_status == "cancelled":
            req.cancelled_at = when
        if frm == "resolved" and to_status == "in_progress":  # reopen: outcome no longer final
            req.resolved_at = None
            data = {"reopen": True}
        req.s_rev += 1
        req.updated_at = now
        s.add(req)
        s.flush()
        append_event(
            s,
            req.id,
            st.code,
            at=when,
            actor=actor,
            kind="status",
            from_status=frm,
            to_status=to_status,
            note=note,
            data=data,
        )
        add_outbox(s, "request", row_dict(req), st.code)
        return row_dict(req)


def _check_not_before_last_event(session: Session, req: Any, when: datetime) -> None:
    """The ledger is in time order: a change may not be dated before the request's last event."""
    from sqlalchemy import text

    if when < req.received_at:
        raise ValidationError(
            "at", "after_received", "time is before the request was received / 时间早于受理时间"
        )
    last = session.execute(
        text("SELECT max(at) FROM request_event WHERE request_id = :r"), {"r": req.id}
    ).scalar()
    if last is not None and when < (datetime.fromisoformat(last) if isinstance(last, str) else last):
        raise ValidationError(
            "at", "after_last_event", "time is before the request's last recorded change / 时间早于上一次变更"
        )


def refer_request(
    db: Path,
    key: str,
    kind: str,
    item_id: str,
    note: str | None = None,
    actor: str | None = None,
    at: str | datetime | None = None,
) -> dict[str, Any]:
    """Refer a request to a library item. An in-progress request moves to referred."""
    from sqlalchemy import text

    from qi_station.db.models import Referral

    if kind not in REFER_KINDS:
        raise ValidationError("kind", "choice", f"kind must be one of {', '.join(REFER_KINDS)}")
    note = v.clean_text(note, "note", multiline=True) or None
    actor = v.clean_text(actor or current_operator(), "operator", required=True)
    now = now_utc()
    when = _when(at, now)
    with write_session(db) as s:
        st = ensure_station(s)
        req = _find_request(s, key)
        _check_not_before_last_event(s, req, when)
        item = s.execute(
            text(f"SELECT id, name, deleted FROM {REFER_KINDS[kind]} WHERE id = :i"), {"i": item_id.strip()}
        ).first()
        if item is None or item[2]:
            raise NotFoundError(kind, item_id)
        if req.status in ("closed", "cancelled", "resolved"):
            raise ValidationError(
                "status", "referable", f"a {req.status} request cannot be referred / 当前状态不能转办"
            )
        ref = Referral(
            id=uuid7(),
            request_id=req.id,
            kind=kind,
            item_id=item[0],
            item_name=item[1],
            note=note,
            actor=actor,
            created_at=when,
        )
        s.add(ref)
        frm = req.status
        # in progress -> referred; earlier (or waiting) statuses keep theirs: the referral is recorded
        to = "referred" if domain.can_move(frm, "referred") else frm
        req.status = to
        req.s_rev += 1
        req.updated_at = now
        s.add(req)
        s.flush()
        append_event(
            s,
            req.id,
            st.code,
            at=when,
            actor=actor,
            kind="referral",
            from_status=frm,
            to_status=to,
            note=note,
            data={"kind": kind, "item_id": item[0], "item_name": item[1]},
        )
        add_outbox(s, "referral", row_dict(ref), st.code, op="insert")
        add_outbox(s, "request", row_dict(req), st.code)
        return row_dict(ref)


def add_note(
    db: Path, key: str, note: str, actor: str | None = None, at: str | datetime | None = None
) -> dict[str, Any]:
    """Append a free-standing note to a request's ledger (status unchanged). Returns the event."""
    text_ = v.clean_text(note, "note", required=True, multiline=True)
    actor = v.clean_text(actor or current_operator(), "operator", required=True)
    now = now_utc()
    when = _when(at, now)
    with write_session(db) as s:
        st = ensure_station(s)
        req = _find_request(s, key)
        _check_not_before_last_event(s, req, when)
        ev = append_event(
            s,
            req.id,
            st.code,
            at=when,
            actor=actor,
            kind="note",
            from_status=req.status,
            to_status=req.status,
            note=text_,
        )
        return row_dict(ev)
