"""Library rows as they are written: pinyin, initials and the search haystack are computed here,
once, so the search path never needs pypinyin.  Used through :mod:`qi_station.db.write` (the
ledger's typed-in enterprises, the demo loader, the generator) and by the hub's library import.
"""

from __future__ import annotations

import json
from typing import Any

from qi_station.core import domain

# Extra text searched by substring, per table (besides the name).
HAYSTACK_FIELDS = {
    "expert": ("specialty", "employer", "title"),
    "institution": ("short_name", "uscc", "cma_no", "cnas_no", "scope"),
    "equipment": ("model", "description"),
    "project": ("lead", "description"),
    "enterprise": ("uscc", "industry"),
}


# Short fields whose pinyin and initials (every reading people type, db.pinyin.readings) are searched
# too, besides the name's other readings, the city and the element names.
PINYIN_FIELDS = {
    "expert": ("specialty", "employer"),
    "institution": ("short_name",),
    "equipment": (),
    "project": ("lead",),
    "enterprise": ("industry",),
}


def _element_names(row: dict[str, Any]) -> list[str]:
    el = row.get("elements") or []
    if isinstance(el, str):
        el, _ok = domain.stored_elements(el)
    return [domain.ELEMENT_ZH[e] for e in el if e in domain.ELEMENT_ZH]


def haystack(table: str, row: dict[str, Any]) -> str:
    """Lowercased name, searchable fields, city and element names; then, after ``|``, the pinyin and
    initials of every reading of the name (but the primary one, which has its own columns), the city,
    the element names and the short fields of :data:`PINYIN_FIELDS` (each token once). The search
    ranks a match in the name's own columns above one found here, so the item's own name wins."""
    from qi_station.db.pinyin import readings

    name = str(row.get("name") or "")
    parts = [name]
    parts += [str(row[f]) for f in HAYSTACK_FIELDS.get(table, ()) if row.get(f)]
    city = domain.CITIES.get(row.get("city_code") or "")
    if city:
        parts.append(city)
    elements = _element_names(row)
    parts += elements
    tokens: list[str] = []
    if name:
        for full, ini in readings(name, person=(table == "expert"))[1:]:
            tokens += [full, ini]
    texts = [city, *elements, *(str(row[f]) for f in PINYIN_FIELDS.get(table, ()) if row.get(f))]
    for text in texts:
        if text:
            for full, ini in readings(text):
                tokens += [full, ini]
    py = list(dict.fromkeys(x for x in tokens if x))
    return " ".join(parts).lower() + (" | " + " ".join(py) if py else "")


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
    el = out.get("elements", [])
    out["elements"] = el if isinstance(el, str) else json.dumps(list(el))
    out["haystack"] = haystack(table, out)
    return out
