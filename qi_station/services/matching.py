"""Ranked match suggestions for a request (core, no Textual, stdlib sqlite3 only).

Score = element match (10 per shared element) + same city (5) + qualified (4: institutions valid for
the request's elements by :mod:`qi_station.core.qualify`, equipment that is shared, projects not
finished) - current load (在办: open requests whose latest referral of that kind names the item,
:func:`qi_station.services.referral.open_loads`; 1 each, at most 5).

Institutions are ranked in two bands: every one valid for the request's elements (valid or expiring)
comes before any expired or missing one, whatever the scores; within a band by score, then name.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from qi_station.core import domain, places, qualify
from qi_station.core.clock import today_local
from qi_station.core.errors import NotFoundError, ValidationError
from qi_station.core.ids import number_key
from qi_station.services.referral import open_loads

KINDS = {
    "expert": "expert",
    "institution": "institution",
    "equipment": "equipment",
    "project": "project",
    "experts": "expert",
    "institutions": "institution",
    "projects": "project",
}
W_ELEMENT, W_CITY, W_QUALIFIED, MAX_LOAD = 10, 5, 4, 5
CANDIDATES = 200


def _elements(raw: str | None) -> list[str]:
    try:
        val = json.loads(raw or "[]")
    except ValueError:
        return []
    return [x for x in val if isinstance(x, str)] if isinstance(val, list) else []


def _request(conn: sqlite3.Connection, key: str) -> sqlite3.Row:
    row = conn.execute(
        "SELECT r.id, r.elements, e.city_code FROM request r JOIN enterprise e ON e.id = r.enterprise_id "
        "WHERE r.id = ? OR r.number = ?",
        (key, number_key(key)),
    ).fetchone()
    if row is None:
        raise NotFoundError("request", key)
    return row


def suggest(db_path: str | Path, request_id: str, kind: str, limit: int = 10) -> list[dict[str, Any]]:
    """Library items of ``kind`` ranked for the request. Each dict: id, name, kind, city_code, city_name,
    elements, score, element_match, same_city, qualified, load; an institution also ``qualification``
    (its state for the request's elements) and ``basis`` (what was checked, ``core.qualify.basis``:
    ``{"zh": "无需CMA", "en": "no CMA needed"}``)."""
    from qi_station.db.engine import connect

    table = KINDS.get(kind)
    if table is None:
        raise ValidationError(
            "kind",
            "choice",
            f"kind must be one of expert, institution, equipment, project: {kind!r} / 类别无效",
        )
    today = today_local()
    conn = connect(db_path)
    try:
        req = _request(conn, request_id)
        els = [e for e in _elements(req["elements"]) if e in domain.ELEMENTS]
        city = req["city_code"]
        parts = [f"(instr(t.elements, '\"{e}\"') > 0)" for e in els] or ["0"]
        el_expr = " + ".join(parts)
        qp: list[str] = []
        cols = ""
        if table == "institution":
            q_expr, qp = qualify.valid_sql(els, today)
            cols = ", t.cma_expiry, t.cnas_expiry"
        elif table == "equipment":
            q_expr = "(t.shared = 1)"
        elif table == "project":
            q_expr = "(COALESCE(t.status, '') NOT IN ('finished', '已完成', '已结束'))"
        else:
            q_expr = "1"
        # valid institutions first (the band), so the candidate set never drops one for an invalid one
        band = "q DESC, " if table == "institution" else ""
        sql = (
            f"SELECT t.id, t.name, t.city_code, t.elements{cols}, ({el_expr}) AS el, "
            f"(COALESCE(t.city_code, '') = ?) AS sc, {q_expr} AS q "
            f"FROM {table} t WHERE t.deleted = 0 AND ({el_expr}) > 0 "
            f"ORDER BY {band}el * {W_ELEMENT} + sc * {W_CITY} + q * {W_QUALIFIED} DESC, t.name LIMIT ?"
        )
        rows = conn.execute(sql, (city or "", *qp, max(limit * 5, CANDIDATES))).fetchall()
        loads = open_loads(conn, table, [r["id"] for r in rows])
    finally:
        conn.close()
    out = []
    for r in rows:
        load = loads.get(r["id"], 0)
        score = r["el"] * W_ELEMENT + r["sc"] * W_CITY + r["q"] * W_QUALIFIED - min(load, MAX_LOAD)
        state = qualify.state_for(dict(r), els, today) if table == "institution" else None
        out.append(
            {
                "id": r["id"],
                "name": r["name"],
                "kind": table,
                "city_code": r["city_code"],
                "city_name": places.CITIES.get(r["city_code"] or "", ""),
                "elements": _elements(r["elements"]),
                "score": score,
                "element_match": r["el"],
                "same_city": bool(r["sc"]),
                "qualified": bool(r["q"]),
                "qualification": state,
                "basis": {lang: qualify.basis(dict(r), els, today, zh=lang == "zh") for lang in ("zh", "en")}
                if table == "institution"
                else None,
                "load": load,
            }
        )
    out.sort(key=lambda d: (not d["qualified"] if table == "institution" else False, -d["score"], d["name"]))
    return out[:limit]
