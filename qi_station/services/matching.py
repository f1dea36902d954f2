"""Ranked match suggestions for a request (core, no Textual, stdlib sqlite3 only).

Score = element match (10 per shared element) + same city (5) + valid qualification (4; institutions
with an unexpired CMA or CNAS, equipment that is shared, projects not finished) - current load
(open referrals of the item, 1 each, at most 5; for experts also their ``active_requests``).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from qi_station.core import domain, places
from qi_station.core.clock import today_local
from qi_station.core.errors import NotFoundError, ValidationError

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
        (key, key.upper()),
    ).fetchone()
    if row is None:
        raise NotFoundError("request", key)
    return row


def suggest(db_path: str | Path, request_id: str, kind: str, limit: int = 10) -> list[dict[str, Any]]:
    """Library items of ``kind`` ranked for the request. Each dict: id, name, kind, city_code, city_name,
    elements, score, element_match, same_city, qualified, load."""
    from qi_station.db.engine import connect

    table = KINDS.get(kind)
    if table is None:
        raise ValidationError(
            "kind", "choice", f"kind must be one of expert, institution, equipment, project: {kind!r}"
        )
    today = today_local().isoformat()
    conn = connect(db_path)
    try:
        req = _request(conn, request_id)
        els = [e for e in _elements(req["elements"]) if e in domain.ELEMENTS]
        city = req["city_code"]
        parts = [f"(instr(t.elements, '\"{e}\"') > 0)" for e in els] or ["0"]
        el_expr = " + ".join(parts)
        if table == "institution":
            q_expr = "((t.cma_expiry IS NOT NULL AND t.cma_expiry >= :today) OR (t.cnas_expiry IS NOT NULL AND t.cnas_expiry >= :today))"
        elif table == "equipment":
            q_expr = "(t.shared = 1)"
        elif table == "project":
            q_expr = "(COALESCE(t.status, '') NOT IN ('finished', '已完成', '已结束'))"
        else:
            q_expr = "1"
        sql = (
            f"SELECT t.id, t.name, t.city_code, t.elements, ({el_expr}) AS el, "
            f"(COALESCE(t.city_code, '') = :city) AS sc, {q_expr} AS q "
            f"FROM {table} t WHERE t.deleted = 0 AND ({el_expr}) > 0 "
            f"ORDER BY el * {W_ELEMENT} + sc * {W_CITY} + q * {W_QUALIFIED} DESC, t.name LIMIT :n"
        )
        rows = conn.execute(
            sql, {"city": city or "", "today": today, "n": max(limit * 5, CANDIDATES)}
        ).fetchall()
        ids = [r["id"] for r in rows]
        loads: dict[str, int] = {}
        if ids:
            marks = ",".join("?" * len(ids))
            open_marks = ",".join("?" * len(domain.OPEN_STATUSES))
            for item_id, n in conn.execute(
                f"SELECT f.item_id, COUNT(*) FROM referral f JOIN request r ON r.id = f.request_id "
                f"WHERE f.kind = ? AND f.item_id IN ({marks}) AND r.status IN ({open_marks}) GROUP BY f.item_id",
                (table, *ids, *sorted(domain.OPEN_STATUSES)),
            ):
                loads[item_id] = n
            if table == "expert":
                for item_id, n in conn.execute(
                    f"SELECT id, active_requests FROM expert WHERE id IN ({marks})", ids
                ):
                    loads[item_id] = loads.get(item_id, 0) + int(n or 0)
    finally:
        conn.close()
    out = []
    for r in rows:
        load = loads.get(r["id"], 0)
        score = r["el"] * W_ELEMENT + r["sc"] * W_CITY + r["q"] * W_QUALIFIED - min(load, MAX_LOAD)
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
                "load": load,
            }
        )
    out.sort(key=lambda d: (-d["score"], d["name"]))
    return out[:limit]
