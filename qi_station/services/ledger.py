"""The request ledger: create, move, refer, note. Every rule is checked here before anything is
written (a refused input writes nothing); the writes themselves — the request row, its hash-chained
event, the outbox rows, the ledger number, the enterprise — go through :mod:`qi_station.db.write`
on the ORM session's connection, in one transaction.
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
from qi_station.core.clock import check_year, env_now, local_date, parse_datetime
from qi_station.core.errors import NotFoundError, TransitionError, ValidationError
from qi_station.core.ids import uuid7
from qi_station.db import write as w
from qi_station.db.session import row_dict, write_session
from qi_station.services.phones import normalize_phone
from qi_station.services.station import ensure_station

if TYPE_CHECKING:
    from sqlmodel import Session

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


def create_enterprise(db: Path, e: EnterpriseInput) -> dict[str, Any]:
    data = check_enterprise(e)
    with write_session(db) as s:
        st = ensure_station(s)
        return w.upsert_enterprise(s.connection(), data, st.code)


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
    now = now or env_now()
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
    check_year(received, "received_at")
    rdate = local_date(received)
    if inp.promised is None or inp.promised == "":
        promised = rdate + timedelta(days=domain.PROMISE_DAYS[urgency])
    elif isinstance(inp.promised, date):
        promised = inp.promised
    else:
        from qi_station.core.clock import parse_date

        promised = parse_date(inp.promised, "promised")
    check_year(promised, "promised")
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


def create_request(db: Path, inp: RequestInput) -> dict[str, Any]:
    """Log a request. Returns the request as a dict (with ``id`` and ``number``)."""
    from qi_station.db.models import Request

    data = check_request(inp)
    with write_session(db) as s:
        st = ensure_station(s)
        conn = s.connection()
        ent = w.upsert_enterprise(conn, data.pop("enterprise"), st.code)
        now = env_now()
        row = row_dict(
            Request(
                id=uuid7(),
                number=w.next_ledger_no(conn, st.code, local_date(data["received_at"])),
                station_code=st.code,
                enterprise_id=ent["id"],
                elements=json.dumps(data.pop("elements")),
                status="new",
                created_at=now,
                updated_at=now,
                **data,
            )
        )
        w.insert_request(
            conn,
            row,
            st.code,
            event=dict(
                at=row["received_at"],
                actor=row["operator"] or "",
                kind="created",
                to_status="new",
                data={"title": row["title"]},
            ),
        )
        return {**row, "enterprise_name": ent["name"], "uscc": ent["uscc"]}


def _find_request(session: Session, key: str) -> Any:
    from sqlmodel import or_, select

    from qi_station.db.models import Request

    key = (key or "").strip()
    req = session.exec(select(Request).where(or_(Request.id == key, Request.number == key.upper()))).first()
    if req is None or req.deleted:
        raise NotFoundError("request", key)
    return req


def _parse_at(at: str | datetime | None) -> datetime | None:
    """The operator's explicit ``--at`` (its syntax is checked up front), or None for "now"."""
    if isinstance(at, str) and at:
        return parse_datetime(at, "at")
    return at if isinstance(at, datetime) else None


def _stamp(session: Session, req: Any, at: datetime | None) -> tuple[datetime, datetime]:
    """``(now, when)`` of a change, taken INSIDE the write transaction: the caller has already read
    through ``session`` (BEGIN IMMEDIATE holds the write lock), so no other writer can land a later
    event on this request between this clock reading and our write. Without ``--at`` the change is
    dated now (never before the request's last event, should the wall clock have stepped back); an
    explicit ``--at`` is checked here against now and the request's last event."""
    now = env_now()
    last = _last_event_at(session, req)
    if at is None:
        return now, max(now, last) if last is not None else now
    if at > now + timedelta(minutes=5):
        raise ValidationError("at", "not_future", "time is in the future / 时间不能晚于现在")
    if at < req.received_at:
        raise ValidationError(
            "at", "after_received", "time is before the request was received / 时间早于受理时间"
        )
    if last is not None and at < last:
        raise ValidationError(
            "at", "after_last_event", "time is before the request's last recorded change / 时间早于上一次变更"
        )
    return now, at


def _last_event_at(session: Session, req: Any) -> datetime | None:
    """The time of the request's last event (the ledger is in time order)."""
    from sqlalchemy import text

    last = session.execute(
        text("SELECT max(at) FROM request_event WHERE request_id = :r"), {"r": req.id}
    ).scalar()
    return datetime.fromisoformat(last) if isinstance(last, str) else last


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
    at_ = _parse_at(at)
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
        now, when = _stamp(s, req, at_)
        data: dict[str, Any] = {}
        ch: dict[str, Any] = {"status": to_status}
        if to_status == "accepted" and req.accepted_at is None:
            ch["accepted_at"] = when
        if to_status == "resolved":
            ch.update(
                resolved_at=when,
                result=result_t,
                problems_solved=solved if solved is not None else 0,
                cost_saved_cents=int(cost * 100) if cost is not None else 0,
            )
            data = {
                "result": result_t,
                "problems_solved": ch["problems_solved"],
                "cost_saved": str(cost if cost is not None else Decimal("0.00")),
            }
        if to_status == "closed":
            ch.update(closed_at=when, satisfaction=sat, followup_at=when, followup_note=note)
            data = {"satisfaction": sat}
        if to_status == "cancelled":
            ch["cancelled_at"] = when
        if frm == "resolved" and to_status == "in_progress":  # reopen: outcome no longer final
            ch["resolved_at"] = None
            data = {"reopen": True}
        ch.update(s_rev=req.s_rev + 1, updated_at=now)
        event = dict(
            at=when, actor=actor, kind="status", from_status=frm, to_status=to_status, note=note, data=data
        )
        return w.update_request(s.connection(), row_dict(req), ch, st.code, event=event)


def refer_request(
    db: Path,
    key: str,
    kind: str,
    item_id: str,
    note: str | None = None,
    actor: str | None = None,
    at: str | datetime | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Refer a request to a library item. An in-progress request moves to referred. The rules of
    :func:`qi_station.services.referral.check_referral` (no duplicate; an institution not valid for the
    request's elements needs ``reason``, recorded in the event) are checked before anything is written."""
    from sqlalchemy import text

    from qi_station.db.models import Referral
    from qi_station.services.referral import check_referral

    if kind not in REFER_KINDS:
        raise ValidationError("kind", "choice", f"kind must be one of {', '.join(REFER_KINDS)}")
    note = v.clean_text(note, "note", multiline=True) or None
    reason = v.clean_text(reason, "reason", multiline=True) or None
    actor = v.clean_text(actor or current_operator(), "operator", required=True)
    at_ = _parse_at(at)
    with write_session(db) as s:
        st = ensure_station(s)
        req = _find_request(s, key)
        now, when = _stamp(s, req, at_)
        item = s.execute(
            text(f"SELECT id, name, deleted FROM {REFER_KINDS[kind]} WHERE id = :i"), {"i": item_id.strip()}
        ).first()
        if item is None or item[2]:
            raise NotFoundError(kind, item_id)
        if req.status in ("closed", "cancelled", "resolved"):
            raise ValidationError(
                "status", "referable", f"a {req.status} request cannot be referred / 当前状态不能转办"
            )
        extra = check_referral(s.connection(), req.id, req.elements, kind, item[0], reason, local_date(when))
        ref = row_dict(
            Referral(
                id=uuid7(),
                request_id=req.id,
                kind=kind,
                item_id=item[0],
                item_name=item[1],
                note=note,
                actor=actor,
                created_at=when,
            )
        )
        frm = req.status
        # in progress -> referred; earlier (or waiting) statuses keep theirs: the referral is recorded
        to = "referred" if domain.can_move(frm, "referred") else frm
        conn = s.connection()
        w.insert_referral(conn, ref, st.code)
        event = dict(
            at=when,
            actor=actor,
            kind="referral",
            from_status=frm,
            to_status=to,
            note=note,
            data={"kind": kind, "item_id": item[0], "item_name": item[1], **extra},
        )
        w.update_request(
            conn,
            row_dict(req),
            {"status": to, "s_rev": req.s_rev + 1, "updated_at": now},
            st.code,
            event=event,
        )
        return ref


def add_note(
    db: Path, key: str, note: str, actor: str | None = None, at: str | datetime | None = None
) -> dict[str, Any]:
    """Append a free-standing note to a request's ledger (status unchanged). Returns the event."""
    text_ = v.clean_text(note, "note", required=True, multiline=True)
    actor = v.clean_text(actor or current_operator(), "operator", required=True)
    at_ = _parse_at(at)
    with write_session(db) as s:
        st = ensure_station(s)
        req = _find_request(s, key)
        when = _stamp(s, req, at_)[1]
        return w.append_event(
            s.connection(),
            req.id,
            st.code,
            at=when,
            actor=actor,
            kind="note",
            from_status=req.status,
            to_status=req.status,
            note=text_,
        )
