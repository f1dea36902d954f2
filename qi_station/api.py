"""The Python API for scripts and integrations (documented in docs/api.md; these names stay stable).

Thin wrappers over the station services and the report figures — the same code the CLI and the TUI
run, so every rule is checked the same way: a refused input raises
:class:`qi_station.core.errors.ValidationError` naming the field (``.field``, ``.rule``), an unknown
request raises :class:`~qi_station.core.errors.NotFoundError`.  Everything returned is plain data
(dicts, lists, str, int, float, bool, None); request times are ISO-8601 in Asia/Shanghai, as the CLI's
``--json`` prints them.

``db`` is the station database file (``None``: ``QI_STATION_DB`` or the default path, as the CLI);
it is created or migrated to the newest schema on first use, as ``qi-station`` does.

Importing this module is cheap: the services, SQLAlchemy and the report code load on first call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["create_request", "get_request", "monthly_report", "move_request", "search", "verify_ledger"]

DB = str | Path | None


def _station_db(db: DB) -> Path:
    from qi_station.db.engine import open_db

    return open_db(db)


def search(
    db: DB,
    kind: str,
    query: str = "",
    *,
    limit: int | None = None,
    element: str | None = None,
    city: str | None = None,
) -> list[dict[str, Any]]:
    """Ranked matches in one library, like ``qi-station library search``.

    ``kind``: experts, institutions, equipment, projects or enterprises.  ``query``: Chinese text, full
    pinyin or initials (empty: everything by name).  ``element``: one N element (code or Chinese name);
    ``city``: a GB/T 2260 city code.  The station's own city ranks first.  Each dict has at least
    ``id``, ``name``, ``kind``, ``city_code``, ``city_name`` and ``elements``.
    """
    from qi_station.services.search import search as _search
    from qi_station.services.search import station_city

    path = _station_db(db)
    return _search(path, kind, query, element=element, city=city, own_city=station_city(path), limit=limit)


def create_request(db: DB, **fields: Any) -> dict[str, Any]:
    """Log a new request (``qi-station request add``); returns it as :func:`get_request` does.

    Fields: ``enterprise``, ``uscc``, ``elements`` (a list or a comma string of codes or Chinese names)
    and ``title`` are required; optional ``description``, ``sub_type``, ``channel``, ``urgency``,
    ``contact``, ``phone``, ``promised`` (YYYY-MM-DD), ``received_at`` (ISO-8601, no zone = Asia/Shanghai),
    ``industry``, ``scale``, ``operator``.  An unknown field name is a ``TypeError``.
    """
    from qi_station.services import ledger

    required = {"enterprise": "", "uscc": "", "elements": "", "title": ""}  # missing: refused by the rules
    path = _station_db(db)
    created = ledger.create_request(path, ledger.RequestInput(**{**required, **fields}))
    return get_request(path, created["id"])


def move_request(db: DB, request_no_or_id: str, to_status: str, **fields: Any) -> dict[str, Any]:
    """Move a request through the lifecycle (``qi-station request move``); returns it as :func:`get_request`.

    ``to_status``: accepted, in_progress, resolved, closed or cancelled (the lifecycle table decides which
    moves are legal).  Fields: ``note``, ``at`` (ISO-8601), ``result``, ``problems_solved``,
    ``cost_saved`` (万元), ``satisfaction`` (1-5), ``actor``.
    """
    from qi_station.services import ledger

    path = _station_db(db)
    moved = ledger.move_request(path, request_no_or_id, to_status, **fields)
    return get_request(path, moved["id"])


def get_request(db: DB, request_no_or_id: str) -> dict[str, Any]:
    """One request by ledger number or id: every field, its hash-chained ``events`` (``ledger_ok``),
    ``referrals`` and ``legal_moves``."""
    from qi_station.core.clock import present_times
    from qi_station.services.queries import get_request as _get

    return present_times(_get(_station_db(db), request_no_or_id))


def monthly_report(db_or_url: str | Path, month: str, *, hub: bool = False) -> dict[str, Any]:
    """The monthly summary for ``month`` (YYYY-MM): the same dict as ``report monthly --format json``.

    ``hub=False``: a station database file (or URL).  ``hub=True``: the hub database (an SQLAlchemy URL or a
    SQLite file), the province report as ``qi-station hub report monthly --format json``.
    """
    import json

    from qi_station.reports.figures import monthly_report as _monthly
    from qi_station.reports.writers import render_json

    url = hub or "://" in str(db_or_url)
    source: str | Path = db_or_url if url else _station_db(db_or_url)
    return json.loads(render_json(_monthly(source, month, hub=hub)))


def verify_ledger(db: DB = None) -> dict[str, Any]:
    """Check the whole ledger (``qi-station ledger verify --json``): every request's hash chain, its row
    against the state folded from its events, the running head and the number counters. ``ok`` is
    True when intact; ``problems`` lists each request number and what is wrong."""
    from qi_station.services.verify import verify_ledger as _verify

    return _verify(_station_db(db))
