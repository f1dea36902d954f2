"""SQLModel tables. One schema for station and hub (the hub fills ``seq``).

Conventions:
- ids are UUIDv7 strings born where the row is born;
- datetimes are naive UTC; dates are local (Asia/Shanghai) calendar dates;
- money is stored as integer hundredths of 万元 (``cost_saved_cents``);
- list fields (elements) are JSON arrays of codes;
- library rows carry the hub's ``rev`` and a ``deleted`` tombstone; ``seq`` is the hub change sequence;
- requests carry ``s_rev`` (station-owned fields) and ``h_rev`` (hub-owned fields).
"""

from __future__ import annotations

from datetime import date

from pydantic import NaiveDatetime
from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


class Region(SQLModel, table=True):
    __tablename__ = "region"
    code: str = Field(primary_key=True, max_length=6)
    name: str
    level: str = "city"  # province | city | county (revision 0008)
    historic: bool = False
    parent: str | None = None


class Station(SQLModel, table=True):
    __tablename__ = "station"
    id: str = Field(primary_key=True)
    code: str = Field(index=True, unique=True)
    name: str
    type: str = "园区工作站"
    service_mode: str = "区域集约"
    region_code: str = "370100"  # a current Shandong county (or city) code: the station's place
    park: str | None = None  # the park it serves (revision 0008)
    is_self: bool = False
    created_at: NaiveDatetime


class LibraryBase(SQLModel):
    id: str = Field(primary_key=True)
    name: str
    name_py: str = ""  # full pinyin, lowercase, no separators
    name_initials: str = ""  # pinyin initials, lowercase
    haystack: str = ""  # lowercased name + other searchable text, for substring search
    haystack_py: str = ""  # pinyin of the name's other readings and of short fields (ASCII queries)
    city_code: str | None = Field(default=None, index=True)
    elements: str = "[]"
    rev: int = 0
    seq: int = Field(default=0, index=True)
    deleted: bool = False
    updated_at: NaiveDatetime


class Expert(LibraryBase, table=True):
    __tablename__ = "expert"
    __table_args__ = (
        Index("ix_expert_name", "name"),
        Index("ix_expert_initials", "name_initials"),
        Index("ix_expert_py", "name_py"),
    )
    gender: str | None = None
    title: str | None = None  # 职称
    employer: str | None = None
    specialty: str | None = None
    phone: str | None = None
    email: str | None = None
    active_requests: int = 0


class Institution(LibraryBase, table=True):
    __tablename__ = "institution"
    __table_args__ = (
        Index("ix_institution_name", "name"),
        Index("ix_institution_initials", "name_initials"),
        Index("ix_institution_py", "name_py"),
        # revision 0018: certificates expired or expiring (core.qualify.attention_sql), counted from the
        # indexes alone (one per certificate: an OR of two ranges)
        Index("ix_institution_cma_expiry", "cma_expiry", "cnas_expiry", "deleted"),
        Index("ix_institution_cnas_expiry", "cnas_expiry", "cma_expiry", "deleted"),
    )
    short_name: str | None = None
    uscc: str | None = None
    cma_no: str | None = None
    cma_expiry: date | None = None
    cnas_no: str | None = None
    cnas_expiry: date | None = None
    scope: str | None = None
    address: str | None = None
    contact: str | None = None
    phone: str | None = None


class Equipment(LibraryBase, table=True):
    __tablename__ = "equipment"
    __table_args__ = (
        Index("ix_equipment_name", "name"),
        Index("ix_equipment_initials", "name_initials"),
        Index("ix_equipment_py", "name_py"),
    )
    model: str | None = None
    institution_id: str | None = Field(default=None, index=True)
    shared: bool = False
    fee: int | None = None  # yuan per unit
    fee_unit: str | None = None  # hour | sample
    description: str | None = None


class Project(LibraryBase, table=True):
    __tablename__ = "project"
    __table_args__ = (
        Index("ix_project_name", "name"),
        Index("ix_project_initials", "name_initials"),
        Index("ix_project_py", "name_py"),
    )
    year: int | None = None
    lead: str | None = None
    status: str | None = None
    description: str | None = None


class Enterprise(SQLModel, table=True):
    __tablename__ = "enterprise"
    # Unique per station (revision 0002): at the hub two stations may each register the same USCC.
    __table_args__ = (
        Index("ix_enterprise_name", "name"),
        Index("ix_enterprise_initials", "name_initials"),
        Index("ix_enterprise_py", "name_py"),
        UniqueConstraint("station_code", "uscc", name="uq_enterprise_station_uscc"),
        Index("ix_enterprise_uscc", "uscc"),  # revision 0015: the report's rows of one USCC
    )
    id: str = Field(primary_key=True)
    name: str
    uscc: str
    region_code: str  # registered region: characters 3-8 of the USCC, never changed
    city_code: str | None = Field(default=None, index=True)  # the current city of where it is
    county_code: str | None = Field(default=None, index=True)  # where it is (revision 0008; editable)
    industry: str | None = None
    scale: str | None = None
    contact_name: str | None = None
    phone_e164: str | None = None
    phone_display: str | None = None
    name_py: str = ""
    name_initials: str = ""
    haystack: str = ""
    haystack_py: str = ""
    elements: str = "[]"
    # names before its renames, oldest first: JSON [{"name", "until", "by"}] (revision 0006)
    former_names: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    station_code: str | None = None
    s_rev: int = 1
    seq: int = 0
    deleted: bool = False
    created_at: NaiveDatetime
    updated_at: NaiveDatetime


class RequestDraft(SQLModel, table=True):
    """An unsaved request form, kept as the operator types (revision 0006). Local to this PC: never
    synced, deleted when the request is saved or the draft discarded."""

    __tablename__ = "request_draft"
    id: str = Field(primary_key=True)
    data: str = Field(sa_column=Column(Text, nullable=False))
    operator: str = ""
    created_at: NaiveDatetime
    updated_at: NaiveDatetime = Field(index=True)


class Request(SQLModel, table=True):
    __tablename__ = "request"
    __table_args__ = (
        # revision 0018: covering, the month counts (services/figures.received_by_month) read it alone
        Index("ix_request_received", "received_at", "deleted", "station_code"),
        Index("ix_request_status", "status", "promised_date"),
        Index("ix_request_enterprise", "enterprise_id"),
        Index("ix_request_updated", "updated_at"),
        # revision 0013: an enterprise's first request from the index alone (reports: new enterprises)
        Index("ix_request_enterprise_first", "enterprise_id", "station_code", "deleted", "received_at"),
        Index("ix_request_station_updated", "station_code", "updated_at"),  # revision 0013: data as of
        # revision 0031: the current month's report, the requests promised in a few days (reports/ledger.py)
        Index("ix_request_promised", "promised_date"),
        Index(  # revision 0010: the open rectifications (core.rectify.LOW_SATISFACTION); 0015: covering
            "ix_request_low_rating",
            "closed_at",
            "number",
            "status",
            "satisfaction",
            "deleted",
            "station_code",
            "enterprise_id",
            "id",
            sqlite_where=text("status = 'closed' AND satisfaction <= 2"),
            postgresql_where=text("status = 'closed' AND satisfaction <= 2"),
        ),
    )
    id: str = Field(primary_key=True)
    number: str = Field(unique=True)  # STATION-YYYYMM-NNNN
    station_code: str = Field(index=True)
    enterprise_id: str = Field(foreign_key="enterprise.id")
    elements: str = "[]"  # JSON array of element codes
    sub_type: str | None = None
    title: str
    description: str | None = Field(default=None, sa_column=Column(Text))
    channel: str = "walk_in"
    urgency: str = "normal"
    contact_name: str | None = None
    phone_e164: str | None = None
    phone_display: str | None = None
    received_at: NaiveDatetime
    promised_date: date
    status: str = "new"
    operator: str | None = None
    accepted_at: NaiveDatetime | None = None
    resolved_at: NaiveDatetime | None = None
    closed_at: NaiveDatetime | None = None
    cancelled_at: NaiveDatetime | None = None
    result: str | None = Field(default=None, sa_column=Column(Text))
    problems_solved: int | None = None
    cost_saved_cents: int | None = None  # hundredths of 万元
    satisfaction: int | None = None  # 1..5
    followup_note: str | None = None
    followup_at: NaiveDatetime | None = None
    # hub-owned fields
    hub_expert_id: str | None = None
    hub_note: str | None = None
    hub_priority: str | None = None
    s_rev: int = 1
    h_rev: int = 0
    seq: int = 0
    deleted: bool = False
    created_at: NaiveDatetime
    updated_at: NaiveDatetime


class RequestEvent(SQLModel, table=True):
    """Append-only ledger; each row hashes the previous one of the same request."""

    __tablename__ = "request_event"
    __table_args__ = (
        UniqueConstraint("request_id", "n"),
        Index("ix_request_event_at", "at"),
        Index(  # revision 0013: a request's first rectify record (the report's open rectifications)
            "ix_request_event_rectify",
            "request_id",
            "at",
            sqlite_where=text("kind = 'rectify'"),
            postgresql_where=text("kind = 'rectify'"),
        ),
        Index(  # revision 0024: a request's fee corrections (the report's fees, reports/fees.py)
            "ix_request_event_correct",
            "request_id",
            "n",
            sqlite_where=text("kind = 'correct'"),
            postgresql_where=text("kind = 'correct'"),
        ),
    )
    id: str = Field(primary_key=True)
    request_id: str = Field(foreign_key="request.id", index=True)
    n: int  # 1, 2, 3 ... within the request
    at: NaiveDatetime
    actor: str
    kind: str  # created | status | edit | referral | note | hub
    from_status: str | None = None
    to_status: str | None = None
    note: str | None = None
    data: str = "{}"  # JSON
    prev_hash: str
    hash: str


class Referral(SQLModel, table=True):
    __tablename__ = "referral"
    # the report's referrals of a month: a range of this index, not a pass over every referral (0021)
    __table_args__ = (Index("ix_referral_created", "created_at"),)
    id: str = Field(primary_key=True)
    request_id: str = Field(foreign_key="request.id", index=True)
    kind: str  # expert | institution | equipment | project
    item_id: str = Field(index=True)
    item_name: str
    note: str | None = None
    actor: str
    created_at: NaiveDatetime


class ReportMonth(SQLModel, table=True):
    """The month rollup of the ledger (revision 0013), kept by triggers: ``qi_station/db/rollup.py``."""

    __tablename__ = "report_month"
    station_code: str = Field(primary_key=True)
    month: str = Field(primary_key=True)  # YYYY-MM, Asia/Shanghai, of the events
    promised_month: str = Field(primary_key=True)  # YYYY-MM of the requests' promised_date
    open_delta: int = 0
    accepted: int = 0
    resolved: int = 0
    closed: int = 0
    cancelled: int = 0
    rated: int = 0
    satisfied: int = 0
    problems_solved: int = 0
    cost_cents: int = 0
    on_time: int = 0  # revision 0027
    followed_up: int = 0


class RequestFirst(SQLModel, table=True):
    """Revision 0025: the first request (earliest ``received_at``, not deleted) of each (enterprise row,
    station), kept by triggers: ``qi_station/db/rollup.py`` (``FIRST_TABLE``)."""

    __tablename__ = "request_first"
    enterprise_id: str = Field(primary_key=True)
    station_code: str = Field(primary_key=True)
    first_at: NaiveDatetime


class ReportMonthHold(SQLModel, table=True):
    """Revision 0016: a row here (written and removed inside one write transaction, never committed)
    holds the rollup's triggers on SQLite for a batch write: ``rollup.held``."""

    __tablename__ = "report_month_hold"
    id: int = Field(primary_key=True)


class ReportLowRating(SQLModel, table=True):
    """Revision 0024: the closed requests rated 1 or 2, for the open-rectification list, kept by
    triggers: ``qi_station/db/rollup.py`` (``LOW_TABLE``)."""

    __tablename__ = "report_low_rating"
    __table_args__ = (
        Index("ix_report_low_rating_closed", "closed_at", "number"),
        Index("ix_report_low_rating_enterprise", "enterprise_id"),
    )
    request_id: str = Field(primary_key=True)
    station_code: str
    number: str
    enterprise_id: str | None = None
    ent_name: str | None = None
    satisfaction: int | None = None
    closed_at: NaiveDatetime | None = None
    fixed: NaiveDatetime | None = None


class Activity(SQLModel, table=True):
    """An activity that is not a request (visit 走访 / training 培训 / event 活动), revision 0010.
    Written once at the station (``db.write.insert_activity``), synced like a ledger row (insert once)."""

    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_date", "station_code", "date"),)
    id: str = Field(primary_key=True)
    station_code: str
    kind: str  # visit | training | event
    date: date  # local calendar date
    enterprises: int = 0
    people: int = 0
    title: str
    note: str | None = None
    actor: str
    seq: int = 0
    created_at: NaiveDatetime


class Outbox(SQLModel, table=True):
    """Station-side changes waiting for the hub, written in the same transaction as the change."""

    __tablename__ = "outbox"
    # AUTOINCREMENT (revision 0002): oseq never restarts after the outbox is emptied by an ack.
    __table_args__ = {"sqlite_autoincrement": True}
    oseq: int | None = Field(default=None, primary_key=True)
    table_name: str
    row_id: str
    op: str  # upsert | insert
    row_json: str
    hlc: str
    created_at: NaiveDatetime


class Staff(SQLModel, table=True):
    """Who works at this station (revision 0005): a station-local list, never synced (each event carries
    its operator's name). Attribution on a shared office PC, not a security boundary."""

    __tablename__ = "staff"
    name: str = Field(primary_key=True)
    role: str  # head | steward | officer (core.domain.ROLES)
    created_at: NaiveDatetime


class KV(SQLModel, table=True):
    """Station state: pull cursor, acked oseq, hub url, keys, last sync ..."""

    __tablename__ = "kv"
    k: str = Field(primary_key=True)
    v: str


class SyncLog(SQLModel, table=True):
    __tablename__ = "sync_log"
    id: int | None = Field(default=None, primary_key=True)
    started_at: NaiveDatetime
    finished_at: NaiveDatetime | None = None
    mode: str  # http | bundle-out | bundle-in | kvkeys.BUNDLE_IN_WAITING
    pushed: int = 0
    pulled: int = 0
    ok: bool = False
    error: str | None = None


class SyncConflict(SQLModel, table=True):
    __tablename__ = "sync_conflict"
    id: str = Field(primary_key=True)
    at: NaiveDatetime
    table_name: str
    row_id: str
    kind: str
    detail: str
    resolved: bool = False


class Holiday(SQLModel, table=True):
    """The working-day calendar (``core.workdays``): official days off (``off``) and weekend days worked
    instead (``work``) of each year it covers. A year is written and replaced whole
    (``db.write.replace_calendar_year``): the shipped file at migration 0009, then the hub's calendar."""

    __tablename__ = "holiday"
    day: date = Field(primary_key=True)
    kind: str  # off | work
    name: str
    year: int = Field(index=True)


class Reference(SQLModel, table=True):
    """A hub-distributed reference document (``kind`` calendar: ``key`` a year, ``body`` its CSV; more
    kinds in ``core.reference``). Travels like a library row (rev, seq, deleted)."""

    __tablename__ = "reference"
    id: str = Field(primary_key=True)  # "{kind}:{key}"
    kind: str = Field(index=True)
    key: str
    body: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str
    rev: int = 0
    seq: int = Field(default=0, index=True)
    deleted: bool = False
    updated_at: NaiveDatetime


class ImportRow(SQLModel, table=True):
    """One spreadsheet row imported into the ledger (``qi-station request import``): ``key`` is the
    row's idempotency key (``services.importer``), so importing the same file again adds nothing.
    Station-local: never synced."""

    __tablename__ = "import_row"
    key: str = Field(primary_key=True)
    request_id: str = Field(foreign_key="request.id", index=True)
    source: str
    row_no: int
    imported_at: NaiveDatetime
