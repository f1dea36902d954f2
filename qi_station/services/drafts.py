"""Request drafts: what the operator typed into an unsaved request form, kept in the database as they
type, so a crash, a kill or a power cut loses nothing. The form offers the newest draft back when it
opens; saving the request or discarding the draft deletes it. Drafts stay on this PC (no outbox row).

Plain ``sqlite3`` (no SQLAlchemy): a draft is saved from a thread worker every time the typing pauses.
The writes go through :mod:`qi_station.db.write`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qi_station.db import write as w
from qi_station.db.engine import connect

FIELDS = (
    "enterprise",
    "uscc",
    "elements",
    "title",
    "description",
    "channel",
    "urgency",
    "received_at",
    "promised",
    "contact",
    "phone",
)


def _form(data: dict[str, Any]) -> dict[str, Any]:
    """Only the form's own fields, as text (elements: a list of codes)."""
    out: dict[str, Any] = {}
    for k in FIELDS:
        val = data.get(k)
        if k == "elements":
            out[k] = [str(x) for x in val] if isinstance(val, list) else []
        else:
            out[k] = "" if val is None else str(val)
    return out


def has_input(data: dict[str, Any], defaults: dict[str, Any]) -> bool:
    """Did the operator type anything (a field differs from what the empty form shows)?"""
    got, base = _form(data), _form(defaults)
    return any(got[k] != base[k] for k in FIELDS)


def save_draft(db: Path, draft_id: str, data: dict[str, Any], operator: str = "") -> None:
    conn = connect(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        w.save_draft(conn, draft_id, json.dumps(_form(data), ensure_ascii=False), operator)
        conn.execute("COMMIT")
    finally:
        conn.close()


def delete_draft(db: Path, draft_id: str) -> None:
    conn = connect(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        w.delete_draft(conn, draft_id)
        conn.execute("COMMIT")
    finally:
        conn.close()


def latest_draft(db: Path) -> dict[str, Any] | None:
    """The newest draft: ``{"id", "data", "updated_at", "count"}`` (``count``: the drafts kept, this one
    included: each kept form is its own draft, the older ones are offered after it), or None. A damaged
    one is skipped."""
    conn = connect(db, readonly=True)
    try:
        found: dict[str, Any] | None = None
        count = 0
        for r in conn.execute("SELECT id, data, updated_at FROM request_draft ORDER BY updated_at DESC"):
            try:
                data = json.loads(r["data"])
            except ValueError:
                continue
            if isinstance(data, dict):
                count += 1
                if found is None:
                    found = {"id": r["id"], "data": _form(data), "updated_at": r["updated_at"]}
        return None if found is None else {**found, "count": count}
    finally:
        conn.close()
