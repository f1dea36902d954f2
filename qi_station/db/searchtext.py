"""Library rows as they are written: pinyin, initials and the search haystack are computed here,
once, so the search path never needs pypinyin.  Used through :mod:`qi_station.db.write` (the
ledger's typed-in enterprises, the demo loader, the generator) and by the hub's library import.
"""

from __future__ import annotations

import json
from typing import Any

from qi_station.core import places
from qi_station.core.validate import unique_elements

# Extra text searched by substring, per table (besides the name).
HAYSTACK_FIELDS = {
    "expert": ("specialty", "employer", "title"),
    "institution": ("short_name", "uscc", "cma_no", "cnas_no", "scope"),
    "equipment": ("model", "description"),
    "project": ("lead", "description"),
    "enterprise": ("uscc", "industry"),
}


def haystack(table: str, row: dict[str, Any]) -> str:
    parts = [str(row.get("name") or "")]
    parts += [str(row[f]) for f in HAYSTACK_FIELDS.get(table, ()) if row.get(f)]
    city = places.CITIES.get(row.get("city_code") or "")
    if city:
        parts.append(city)
    return " ".join(parts).lower()


def prepare(table: str, row: dict[str, Any], *, keep_pinyin: bool = False) -> dict[str, Any]:
    """Fill name_py, name_initials, haystack; elements as a JSON array string. The ONE search-text
    formula: every library and enterprise row is written through here (via ``db.write``).
    ``keep_pinyin``: a row that already carries ``name_py`` and ``name_initials`` keeps them (the
    generator composes them from cached name parts)."""
    out = dict(row)
    if not (keep_pinyin and out.get("name_py") and out.get("name_initials")):
        from qi_station.db.pinyin import pinyin_fields

        py, ini = pinyin_fields(str(out["name"]), person=(table == "expert"))
        out["name_py"], out["name_initials"] = py, ini
    out["haystack"] = haystack(table, out)
    el = out.get("elements", [])
    if isinstance(el, str):  # JSON text as it travels (the hub checks it): each element once
        try:
            items = json.loads(el) if el.startswith("[") else None
        except ValueError:
            items = None
        if (
            isinstance(items, list)
            and all(isinstance(x, str) for x in items)
            and len(set(items)) < len(items)
        ):
            el = json.dumps(list(dict.fromkeys(items)))
        out["elements"] = el
    else:
        out["elements"] = json.dumps(unique_elements(list(el)))
    return out
