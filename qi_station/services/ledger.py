"""The request ledger: create, move, refer, note. Every rule is checked here before anything is
written (a refused input writes nothing); the writes themselves — the request row, its hash-chained
event, the outbox rows, the ledger number, the enterprise — go through :mod:`qi_station.db.write`
on the ORM session's connection, in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qi_station.core import domain
from qi_station.core import validate as v
from qi_station.core.chain import created_data
from qi_station.core.clock import check_not_future, check_year, env_now, local_date, parse_datetime
from qi_station.core.errors import NotFoundError, TransitionError, ValidationError
from qi_station.core.ids import uuid7
from qi_station.core.rectify import RECTIFY_KIND, check_rectify_data, check_rectify_target
from qi_station.db import write as w
from qi_station.db.session import row_dict, write_session
from qi_station.services.enterprises import (
    check_contact,
    check_identity,
    check_profile,
    record_rename,
    station_region,
)
from qi_station.services.staff import operator_for
from qi_station.services.station import ensure_station

if TYPE_CHECKING:
    from sqlmodel import Session

REFER_KINDS = {
    "expert": "expert",
    "institution": "institution",
    "equipment": "equipment",
    "project": "project",
}


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
    renamed: bool = False  # the operator confirmed: the enterprise of this USCC was renamed
    extra: dict[str, Any] = field(default_factory=dict)


def check_request(
    inp: RequestInput, now: datetime | None = None, station_region: str | None = None
) -> dict[str, Any]:
    """Validate everything up front: a refused input writes nothing. Every bad field is reported at
    once (:class:`~qi_station.core.errors.ValidationErrors`), in the form's order, top first."""
    c = v.Checks()
    ident = check_identity(c, inp.enterprise, inp.uscc)
    elements = c.run(v.parse_elements, inp.elements)
    title = c.run(v.clean_text, inp.title, "title", required=True)
    description = c.run(v.clean_text, inp.description, "description", multiline=True) or None
    sub_type = c.run(v.clean_text, inp.sub_type, "sub_type") or None
    channel = c.run(v.check_choice, inp.channel or "walk_in", domain.CHANNELS, "channel")
    urgency = c.run(v.check_choice, inp.urgency or "normal", domain.URGENCIES, "urgency")
    now = now or env_now()
    received = c.run(_received, inp.received_at, now)
    promised = c.run(_promised, inp.promised, received, urgency or "normal")  # checked even when
    # received_at was refused: every bad field at once (its order against received_at needs both)
    contact = check_contact(c, inp.contact, inp.phone, ident["city_code"], station_region)
    profile = check_profile(c, inp.industry, inp.scale)
    operator = c.run(v.clean_text, inp.operator, "operator") or None  # the staff rule: in the write
    c.done()
    return {
        "enterprise": {**ident, **profile, **contact},
        "elements": elements,
        "title": title,
        "description": description,
        "sub_type": sub_type,
        "channel": channel,
        "urgency": urgency,
        "received_at": received,
        "promised_date": promised,
        "operator": operator,
        **contact,
    }


def _received(value: str | datetime | None, now: datetime) -> datetime:
    if value is None or value == "":
        return now
    received = value if isinstance(value, datetime) else parse_datetime(value, "received_at")
    check_not_future(received, "received_at", now)
    check_year(received, "received_at")
    return received


def _promised(value: str | date | None, received: datetime | None, urgency: str) -> date | None:
    """The promised date typed (its syntax and year; then, with ``received`` read, its order against
    the received date)."""
    from qi_station.core.clock import parse_date

    if value is None or value == "":
        return None  # the station's promise in working days, counted in create_request
    promised = value if isinstance(value, date) else parse_date(value, "promised")
    check_year(promised, "promised")
    if received is None:  # received_at itself was refused (reported beside this)
        return promised
    return v.check_promised(promised, local_date(received))


def create_request(db: Path, inp: RequestInput) -> dict[str, Any]:
    """Log a request. Returns the request as a dict (with ``id`` and ``number``). A known USCC typed
    with another name is refused unless ``inp.renamed`` confirms the enterprise was renamed: then the
    rename is recorded (the old name kept) before the request is filed under it."""
    from qi_station.db.models import Request
    from qi_station.services.workdays import promise_for

    data = check_request(inp, station_region=station_region(db))
    warnings: list[str] = []
    with write_session(db) as s:
        st = ensure_station(s)
        conn = s.connection()
        data["operator"] = operator_for(conn, data["operator"])
        if data["promised_date"] is None:  # THE promised date: received + the promise in working days
            promise = promise_for(conn, local_date(data["received_at"]), data["urgency"])
            check_year(promise.date, "promised")
            data["promised_date"] = promise.date
            warnings += [promise.warning] if promise.warning else []
        ent_in = data.pop("enterprise")
        known = w.fetch_dict(
            conn,
            "SELECT * FROM enterprise WHERE station_code = :c AND uscc = :u",
            {"c": st.code, "u": ent_in["uscc"]},
        )
        event_data: dict[str, Any] = {"title": data["title"]}
        if known is not None and record_rename(
            conn, known, ent_in["name"], inp.renamed, st.code, at=env_now(), by=data["operator"]
        ):
            event_data["renamed_from"] = known["name"]
        # a new enterprise's 服务要素 (or one's that has none yet) are this request's elements
        ent = w.upsert_enterprise(conn, ent_in, st.code, add_elements=data["elements"])
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
                data={**created_data(row), **event_data},
            ),
        )
        return {**row, "enterprise_name": ent["name"], "uscc": ent["uscc"], "warnings": warnings}


def _find_request(session: Session, key: str) -> Any:
    from sqlmodel import or_, select

    from qi_station.core.ids import number_key
    from qi_station.db.models import Request

    key = (key or "").strip()
    num = number_key(key)
    req = session.exec(select(Request).where(or_(Request.id == key, Request.number == num))).first()
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
    check_not_future(at, "at", now)
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
    charged: bool | None = None,
    fee: str | Decimal | float | None = None,
) -> dict[str, Any]:
    """Move a request through the lifecycle. Illegal moves and bad outcomes are refused. A resolution
    records whether the service was charged and the fee in yuan (是否收费 / 收费金额, in its event)."""
    raw = (
        to_status or ""
    ).strip()  # a code, its label, or the action's name (受理, Accept: domain.move_target)
    to_status = v.check_choice(domain.move_target(raw) or raw, domain.STATUSES, "status")
    c = v.Checks()  # every bad field of the outcome at once (the resolve dialog shows them all)
    result_t = c.run(v.clean_text, result, "result", multiline=True) or None
    solved = c.run(v.parse_non_negative_int, problems_solved, "problems_solved")
    cost = c.run(v.parse_cost, cost_saved, "cost_saved")
    # 是否收费 / 收费金额 go with a resolution only: said before whether they would make one
    before = len(c.errors)
    c.run(v.check_fee_on_resolve, to_status, bool(charged) or fee not in (None, ""))
    if len(c.errors) > before:
        is_charged, fee_d = False, Decimal("0.00")
    else:
        is_charged, fee_d = c.run(v.parse_charge, charged, fee) or (False, Decimal("0.00"))
    sat = c.run(v.parse_satisfaction, satisfaction)
    note = c.run(v.clean_text, note, "note", multiline=True) or None
    at_ = c.run(_parse_at, at)
    c.run_parsed(v.check_cancel_reason, to_status, note)  # a cancellation says why

    with write_session(db) as s:
        st = ensure_station(s)
        req = _find_request(s, key)
        frm = req.status
        if not domain.can_move(frm, to_status):
            raise TransitionError(frm, to_status)
        actor = operator_for(s.connection(), actor, "cancel" if to_status == "cancelled" else None)
        c.run_parsed(v.check_outcome, to_status, result_t, solved, cost, sat)
        stamped = c.run_parsed(_stamp, s, req, at_)  # the time against the request: with the others
        c.done()
        now, when = stamped
        data: dict[str, Any] = {}
        ch: dict[str, Any] = {"status": to_status}
        if to_status == "accepted" and req.accepted_at is None:
            ch["accepted_at"] = when
        if to_status == "resolved":
            ch.update(
                resolved_at=when,
                result=result_t,
                problems_solved=solved,
                cost_saved_cents=int(cost * 100) if cost is not None else 0,
            )
            data = {
                "result": result_t,
                "problems_solved": ch["problems_solved"],
                "cost_saved": str(cost if cost is not None else Decimal("0.00")),
                "charged": is_charged,
                "fee": str(fee_d),
            }
        if to_status == "closed":
            ch.update(closed_at=when, satisfaction=sat, followup_at=when, followup_note=note)
            data = {"satisfaction": sat}
        if to_status == "cancelled":
            ch["cancelled_at"] = when
        if domain.is_reopen(frm, to_status):  # the outcome is no longer final
            ch.update(domain.move_clears(frm, to_status))
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
        raise ValidationError("kind", "choice", f"kind must be one of {', '.join(REFER_KINDS)} / 类别无效")
    note = v.clean_text(note, "note", multiline=True) or None
    reason = v.clean_text(reason, "reason", multiline=True) or None
    at_ = _parse_at(at)
    with write_session(db) as s:
        st = ensure_station(s)
        req = _find_request(s, key)
        actor = operator_for(s.connection(), actor)
        now, when = _stamp(s, req, at_)
        item = s.execute(
            text(f"SELECT id, name, deleted FROM {REFER_KINDS[kind]} WHERE id = :i"), {"i": item_id.strip()}
        ).first()
        if item is None or item[2]:
            raise NotFoundError(kind, item_id)
        domain.check_refer(req.status)
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
        # the request's status after the referral: a new / accepted / waiting one keeps its own (the
        # lifecycle enters 已转办 from 处理中 only); callers say so (``i18n.referred_text``)
        return {**ref, "request_status": to}


def add_note(
    db: Path, key: str, note: str, actor: str | None = None, at: str | datetime | None = None
) -> dict[str, Any]:
    """Append a free-standing note to a request's ledger (status unchanged). Returns the event."""
    text_ = v.clean_text(note, "note", required=True, multiline=True)
    at_ = _parse_at(at)
    with write_session(db) as s:
        st = ensure_station(s)
        req = _find_request(s, key)
        actor = operator_for(s.connection(), actor)
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


def rectify_request(
    db: Path,
    key: str,
    action: str,
    *,
    by: str | None = None,
    at: str | datetime | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Record the rectification (整改) of a low rating: a ``rectify`` event on the request's chain (what
    was done, by whom, when). Only a closed request rated 1 or 2 (``core.rectify``). Returns the event."""
    at_ = _parse_at(at)
    with write_session(db) as s:
        st = ensure_station(s)
        actor = operator_for(s.connection(), actor)  # who records it: the staff rule
        data = check_rectify_data(action, by or actor)
        req = _find_request(s, key)
        check_rectify_target(req.status, req.satisfaction)
        when = _stamp(s, req, at_)[1]
        return w.append_event(
            s.connection(),
            req.id,
            st.code,
            at=when,
            actor=actor,
            kind=RECTIFY_KIND,
            from_status=req.status,
            to_status=req.status,
            note=data["action"],
            data=data,
        )
