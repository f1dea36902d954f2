"""Enterprises: the checked input, the rename rule, near-duplicates and the one-enterprise view.

An enterprise is identified by its USCC. A request typed with a known USCC under another name is
refused unless the operator confirms a rename (``renamed``): then the new name is recorded and the old
one kept in ``former_names`` (:func:`qi_station.db.write.rename_enterprise`). Reads are plain
``sqlite3`` and paged.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qi_station.core import domain, places
from qi_station.core import validate as v
from qi_station.core.errors import NotFoundError, ValidationError
from qi_station.services.phones import normalize_phone

PAGE = 50


@dataclass
class EnterpriseInput:
    name: str
    uscc: str
    industry: str | None = None
    scale: str | None = None
    contact_name: str | None = None
    phone: str | None = None


def check_identity(c: v.Checks, name: str | None, uscc: str | None) -> dict[str, Any]:
    """The enterprise's name and USCC, refusals kept in ``c``. Its registered region is the USCC's
    (never changed); its location (county) defaults to that region when it names a county (a historic
    one mapped to today's: :func:`core.places.location`), and its city is the location's."""
    got_name = c.run(v.clean_text, name, "enterprise", required=True)
    code = c.run(v.validate_uscc, uscc or "")
    region = v.uscc_region(code) if code else None
    county, city = places.location(None, region) if region else (None, None)
    return {
        "name": got_name,
        "uscc": code,
        "region_code": region,
        "city_code": city,
        "county_code": county,
    }


def check_contact(
    c: v.Checks, contact: str | None, phone: str | None, city: str | None, station_region: str | None = None
) -> dict[str, Any]:
    """Contact and phone. A landline typed without its area code takes the enterprise's city's, or,
    when the enterprise has no city (370000), the station's own (:func:`services.phones.normalize_phone`)."""
    name = c.run(v.clean_text, contact, "contact")
    ph = c.run(normalize_phone, phone, "phone", city or places.city_of(station_region))
    return {
        "contact_name": name or None,
        "phone_e164": ph[0] if ph else None,
        "phone_display": ph[1] if ph else None,
    }


def check_profile(c: v.Checks, industry: str | None, scale: str | None) -> dict[str, Any]:
    if scale:
        c.run(v.check_choice, scale, domain.ENTERPRISE_SCALES, "scale")
    return {"industry": c.run(v.clean_text, industry, "industry") or None, "scale": scale or None}


def check_enterprise(e: EnterpriseInput, station_region: str | None = None) -> dict[str, Any]:
    """Every field of an enterprise; all bad fields are reported at once."""
    c = v.Checks()
    ident = check_identity(c, e.name, e.uscc)
    out = {
        **ident,
        **check_profile(c, e.industry, e.scale),
        **check_contact(c, e.contact_name, e.phone, ident["city_code"], station_region),
    }
    c.done()
    return out


def station_region(db: Path) -> str | None:
    """This station's own region (for a landline typed without its area code)."""
    from qi_station.services.queries import station

    st = station(db) if Path(db).exists() else None
    return st["region_code"] if st else None


def create_enterprise(db: Path, e: EnterpriseInput) -> dict[str, Any]:
    from qi_station.db import write as w
    from qi_station.db.session import write_session
    from qi_station.services.station import ensure_station

    data = check_enterprise(e, station_region(db))
    with write_session(db) as s:
        st = ensure_station(s)
        return w.upsert_enterprise(s.connection(), data, st.code)


def locate_enterprise(db: Path, uscc: str, county: str) -> dict[str, Any]:
    """Say where an enterprise is today (``qi-station enterprise locate``): a current county of Shandong.
    Its registered region (the USCC's) never changes; city and county figures follow the location."""
    from qi_station.db import write as w
    from qi_station.db.session import write_session
    from qi_station.services.station import ensure_station

    code = v.validate_uscc(uscc)
    county_code = v.check_county(county)
    with write_session(db) as s:
        st = ensure_station(s)
        row = w.locate_enterprise(s.connection(), st.code, code, county_code, places.city_of(county_code))
        if row is None:
            raise NotFoundError("enterprise", code)  # rolls back: nothing written
    return row


# ---- the rename rule ------------------------------------------------------------------------------
def is_rename(old: str | None, new: str | None) -> bool:
    """THE rule for when a change of an enterprise's name counts as a rename (the old name kept as a
    former name, shown beside the new one): the names differ by :func:`qi_station.core.validate.name_key`;
    a change of spaces, full-width letters or case only is the same name. :func:`check_rename`,
    :func:`former_name`, the spreadsheet import's renames and the request form's hint judge by it."""
    return bool(old) and bool(new) and v.name_key(old) != v.name_key(new)


def check_rename(known: dict[str, Any] | None, typed: str, renamed: bool) -> bool:
    """Is this a confirmed rename of ``known`` (the enterprise already holding the USCC)? A different
    name without ``renamed`` is refused: it is never silently dropped nor silently taken."""
    if known is None or not is_rename(known["name"], typed):
        return False
    if not renamed:
        raise ValidationError(
            "enterprise",
            "renamed",
            f"USCC {known['uscc']} is registered as 「{known['name']}」; confirm the enterprise was renamed "
            f"(--renamed) or correct the name / 该信用代码已登记为「{known['name']}」: "
            "如企业已改名请确认改名，否则请更正名称",
        )
    return True


def record_rename(
    conn: Any, known: dict[str, Any] | None, typed: str, renamed: bool, station_code: str, *, at: Any, by: str
) -> dict[str, Any] | None:
    """THE rename path (``request add --renamed``, the form's 企业改名了吗 answer, ``request import
    --renamed``): :func:`check_rename`, then the new name recorded and the old one kept in
    ``former_names`` (:func:`qi_station.db.write.rename_enterprise`, ``until`` = ``at``, ``by``).
    Returns the renamed row, or None when the name is the enterprise's own."""
    from qi_station.db import write as w

    if known is None or not check_rename(known, typed, renamed):
        return None
    return w.rename_enterprise(conn, known, typed, station_code, at=at, by=by)


def former_name(name: str, former_names: str | list[dict[str, Any]] | None, logged_at: Any) -> str | None:
    """THE rule for which name a request was logged under when its enterprise has since been renamed:
    the former name in force when the request was logged (``logged_at``: its ``created_at``; the request
    that made the rename is logged after it, :func:`record_rename`, or in the same instant: the new name), if it is
    another name than the current ``name`` (:func:`is_rename`: a change of spaces, width or case only
    is none); else None. ``former_names``:
    the enterprise's column (JSON ``[{"name", "until", "by"}]``, oldest first) or its parsed list."""
    from qi_station.core.clock import from_db, to_db

    names = json.loads(former_names) if isinstance(former_names, str) else former_names
    logged = from_db(logged_at) if logged_at else None
    if not names or logged is None:
        return None
    at = to_db(logged)
    for n in names:
        until = from_db(n.get("until") or None)
        if until is not None and at < to_db(until):  # the first name given up after the request was logged
            return str(n["name"]) if is_rename(n["name"], name) else None
    return None


# ---- reads ----------------------------------------------------------------------------------------
def _conn(db: str | Path | sqlite3.Connection) -> tuple[sqlite3.Connection, bool]:
    if isinstance(db, sqlite3.Connection):
        return db, False
    from qi_station.db.engine import connect

    return connect(Path(db)), True


def _dicts(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def by_uscc(db: str | Path | sqlite3.Connection, uscc: str) -> dict[str, Any] | None:
    """The enterprise holding this USCC (the form asks before it files under another name)."""
    conn, own = _conn(db)
    try:
        got = _dicts(
            conn,
            "SELECT id, name, uscc, contact_name, phone_display FROM enterprise "
            "WHERE uscc = ? AND deleted = 0 LIMIT 1",
            (v.normalize_uscc(uscc),),  # as typed: full-width, lower case (the core's normaliser)
        )
        return got[0] if got else None
    finally:
        if own:
            conn.close()


def similar(
    db: str | Path | sqlite3.Connection, name: str, uscc: str | None, limit: int = 3
) -> list[dict[str, Any]]:
    """Enterprises under ANOTHER USCC whose name looks like ``name`` (:func:`core.validate.similar_name`):
    pointed out before a save, so one firm is not registered twice."""
    core = v.name_core(name)
    if len(core) < 2:
        return []
    conn, own = _conn(db)
    try:
        out = []
        for r in _dicts(
            conn,
            "SELECT id, name, uscc FROM enterprise WHERE deleted = 0 AND uscc != ? "
            "AND (instr(lower(name), ?) > 0 OR instr(lower(name), ?) > 0) ORDER BY name LIMIT 200",
            (v.normalize_uscc(uscc), core[:2], core[-2:]),  # the USCC as stored (full-width typed)
        ):
            if v.similar_name(name, r["name"]):
                out.append(r)
                if len(out) >= limit:
                    break
        return out
    finally:
        if own:
            conn.close()


def id_by_name(conn: sqlite3.Connection, name: str) -> str | None:
    """The enterprise whose name, or one of whose former names, is ``name`` (the same name by
    :func:`core.validate.name_key`: spaces, full-width characters and case aside); the current name
    first. Several enterprises under one name: a ValidationError naming their USCCs."""
    key = v.name_key(name)
    if not key:
        return None
    hits: dict[str, tuple[bool, str]] = {}
    for eid, uscc, current, former in conn.execute(
        "SELECT id, uscc, name, former_names FROM enterprise WHERE deleted = 0 "
        "AND (instr(lower(name), ?) > 0 OR instr(lower(former_names), ?) > 0)",
        (key[:2], key[:2]),  # a cheap filter; the names are compared by their keys below
    ):
        if v.name_key(current) == key:
            hits[eid] = (True, uscc)
        elif any(v.name_key(f.get("name")) == key for f in json.loads(former or "[]") if isinstance(f, dict)):
            hits.setdefault(eid, (False, uscc))
    best = [eid for eid, (now, _) in hits.items() if now] or list(hits)
    if len(best) > 1:
        usccs = "、".join(sorted(hits[eid][1] for eid in best))
        raise ValidationError(
            "enterprise",
            "ambiguous",
            f"several enterprises are named {name!r}: give the USCC ({usccs}) / "
            f"名称为「{name}」的企业不止一家，请用统一社会信用代码（{usccs}）",
        )
    return best[0] if best else None


def get_enterprise(db: str | Path | sqlite3.Connection, key: str) -> dict[str, Any]:
    """One enterprise by id, USCC (as typed: the core's normaliser, as ``request add`` reads it) or
    name (its current or a former one: :func:`id_by_name`): its row, its names over time, its contacts
    (its own and those given on its requests) and how many requests and referrals it has."""
    conn, own = _conn(db)
    try:
        k = (key or "").strip()
        sql = (
            "SELECT id, name, uscc, region_code, city_code, industry, scale, contact_name, phone_display, "
            "former_names, created_at, updated_at FROM enterprise WHERE (id = ? OR uscc = ?) AND deleted = 0"
        )
        got = _dicts(conn, sql, (k, v.normalize_uscc(k)))
        if not got and (eid := id_by_name(conn, k)) is not None:
            got = _dicts(conn, sql, (eid, eid))
        if not got:
            raise NotFoundError("enterprise", k)
        e = got[0]
        e["city_name"] = places.CITIES.get(e.get("city_code") or "")
        former = json.loads(e.pop("former_names") or "[]")
        e["names"] = [*former, {"name": e["name"], "until": None, "by": None}]
        contacts = []
        if e.get("contact_name") or e.get("phone_display"):
            contacts.append({"name": e.get("contact_name"), "phone": e.get("phone_display")})
        for r in _dicts(
            conn,
            "SELECT contact_name AS name, phone_display AS phone, max(received_at) AS last "
            "FROM request WHERE enterprise_id = ? AND deleted = 0 AND "
            "(contact_name IS NOT NULL OR phone_display IS NOT NULL) "
            "GROUP BY contact_name, phone_display ORDER BY last DESC LIMIT 20",
            (e["id"],),
        ):
            c = {"name": r["name"], "phone": r["phone"]}
            if c not in contacts:
                contacts.append(c)
        e["contacts"] = contacts
        e["requests"] = conn.execute(
            "SELECT count(*) FROM request WHERE enterprise_id = ? AND deleted = 0", (e["id"],)
        ).fetchone()[0]
        e["referrals"] = conn.execute(
            "SELECT count(*) FROM referral f JOIN request r ON r.id = f.request_id "
            "WHERE r.enterprise_id = ? AND r.deleted = 0",
            (e["id"],),
        ).fetchone()[0]
        return e
    finally:
        if own:
            conn.close()


def open_requests(db: str | Path | sqlite3.Connection, enterprise_ids: list[str]) -> dict[str, list[str]]:
    """The numbers of each enterprise's open requests (:data:`qi_station.core.domain.OPEN_STATUSES`:
    not resolved, closed nor cancelled), newest first; an enterprise with none is left out. F5's 企业
    library shows them as its 当前需求."""
    if not enterprise_ids:
        return {}
    opens = sorted(domain.OPEN_STATUSES)
    conn, own = _conn(db)
    try:
        out: dict[str, list[str]] = {}
        for eid, number in conn.execute(
            f"SELECT enterprise_id, number FROM request WHERE deleted = 0 "
            f"AND enterprise_id IN ({','.join('?' * len(enterprise_ids))}) "
            f"AND status IN ({','.join('?' * len(opens))}) ORDER BY received_at DESC, number DESC",
            (*enterprise_ids, *opens),
        ):
            out.setdefault(eid, []).append(number)
        return out
    finally:
        if own:
            conn.close()


def requests_of(
    db: str | Path | sqlite3.Connection, enterprise_id: str, *, offset: int = 0, limit: int = PAGE
) -> list[dict[str, Any]]:
    """One page of the enterprise's requests, newest first."""
    conn, own = _conn(db)
    try:
        return _dicts(
            conn,
            "SELECT id, number, title, status, received_at, promised_date FROM request "
            "WHERE enterprise_id = ? AND deleted = 0 ORDER BY received_at DESC, number DESC LIMIT ? OFFSET ?",
            (enterprise_id, max(1, limit), max(0, offset)),
        )
    finally:
        if own:
            conn.close()


def referrals_of(
    db: str | Path | sqlite3.Connection, enterprise_id: str, *, offset: int = 0, limit: int = PAGE
) -> list[dict[str, Any]]:
    """One page of the referrals made for the enterprise's requests, newest first."""
    conn, own = _conn(db)
    try:
        return _dicts(
            conn,
            "SELECT f.id, f.kind, f.item_name, f.created_at, r.number, r.id AS request_id FROM referral f "
            "JOIN request r ON r.id = f.request_id WHERE r.enterprise_id = ? AND r.deleted = 0 "
            "ORDER BY f.created_at DESC LIMIT ? OFFSET ?",
            (enterprise_id, max(1, limit), max(0, offset)),
        )
    finally:
        if own:
            conn.close()
