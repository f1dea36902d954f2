"""Library rows as they are written: pinyin, initials and the search haystack are computed here,
once, so the search path never needs pypinyin.  Used through :mod:`qi_station.db.write` (the
ledger's typed-in enterprises, the demo loader, the generator) and by the hub's library import.
"""

from __future__ import annotations

import json
import re
from typing import Any

from qi_station.core import domain, places
from qi_station.core.validate import unique_elements

# Extra text searched by substring, per table (besides the name).
HAYSTACK_FIELDS = {
    "expert": ("specialty", "employer", "title"),
    "institution": ("short_name", "uscc", "cma_no", "cnas_no", "scope"),
    "equipment": ("model", "description"),
    "project": ("lead", "description"),
    "enterprise": ("uscc", "industry"),
}


# Short fields whose pinyin is searched too (their primary reading, :func:`db.pinyin.readings`):
# initials always, full pinyin only for a text of at most FULL_PINYIN_MAX characters (a speciality such
# as 压力计量, not an employer's long name), and no token the name's own columns already hold. The
# haystack stays small, so the scan that reads it stays fast (docs/benchmarks.md).
PINYIN_FIELDS = {
    "expert": ("specialty", "employer"),
    "institution": ("short_name",),
    "equipment": (),
    "project": ("lead",),
    "enterprise": ("industry",),
}
FULL_PINYIN_MAX = 4
_ASCII = re.compile(r"[!-~]")  # a printable ASCII character (a query of them is an ASCII query)

# The fixed vocabulary (cities, element names) is not stored per row: a query is matched against these
# readings (what :func:`db.pinyin.readings` gives for each name, frozen here so the search path never
# imports pypinyin; tests/test_search_readings.py keeps them equal) and becomes a condition on
# ``city_code`` / ``elements``.
CITY_READINGS: dict[str, tuple[str, ...]] = {
    "370100": ("jinanshi", "jns"),
    "370200": ("qingdaoshi", "qds"),
    "370300": ("ziboshi", "zbs"),
    "370400": ("zaozhuangshi", "zzs"),
    "370500": ("dongyingshi", "dys"),
    "370600": ("yantaishi", "yts"),
    "370700": ("weifangshi", "wfs"),
    "370800": ("jiningshi", "jns"),
    "370900": ("taianshi", "tas"),
    "371000": ("weihaishi", "whs"),
    "371100": ("rizhaoshi", "rzs"),
    "371300": ("linyishi", "lys"),
    "371400": ("dezhoushi", "dzs"),
    "371500": ("liaochengshi", "lcs"),
    "371600": ("binzhoushi", "bzs"),
    "371700": ("hezeshi", "hzs"),
}
ELEMENT_READINGS: dict[str, tuple[str, ...]] = {
    "standards": ("biaozhun", "bz"),
    "metrology": ("jiliang", "jl"),
    "testing": ("jianyanjiance", "jyjc"),
    "certification": ("renzhengrenke", "rzrk"),
    "quality": ("zhiliangtisheng", "zlts"),
    "brand": ("pinpaijianshe", "ppjs"),
    "ip": ("zhishichanquan", "zscq"),
    "safety": ("zhilianganquanjianguan", "zlaqjg"),
}


# The same names syllable by syllable (their pinyin joined is CITY_READINGS / ELEMENT_READINGS: the test
# keeps them equal), so a query typed in pinyin or initials names the Chinese words it stands for.
VOCAB_SYLLABLES: dict[str, tuple[str, ...]] = {
    "济南市": ("ji", "nan", "shi"),
    "青岛市": ("qing", "dao", "shi"),
    "淄博市": ("zi", "bo", "shi"),
    "枣庄市": ("zao", "zhuang", "shi"),
    "东营市": ("dong", "ying", "shi"),
    "烟台市": ("yan", "tai", "shi"),
    "潍坊市": ("wei", "fang", "shi"),
    "济宁市": ("ji", "ning", "shi"),
    "泰安市": ("tai", "an", "shi"),
    "威海市": ("wei", "hai", "shi"),
    "日照市": ("ri", "zhao", "shi"),
    "临沂市": ("lin", "yi", "shi"),
    "德州市": ("de", "zhou", "shi"),
    "聊城市": ("liao", "cheng", "shi"),
    "滨州市": ("bin", "zhou", "shi"),
    "菏泽市": ("he", "ze", "shi"),
    "标准": ("biao", "zhun"),
    "计量": ("ji", "liang"),
    "检验检测": ("jian", "yan", "jian", "ce"),
    "认证认可": ("ren", "zheng", "ren", "ke"),
    "质量提升": ("zhi", "liang", "ti", "sheng"),
    "品牌建设": ("pin", "pai", "jian", "she"),
    "知识产权": ("zhi", "shi", "chan", "quan"),
    "质量安全监管": ("zhi", "liang", "an", "quan", "jian", "guan"),
}


def _vocab_words() -> dict[str, tuple[str, ...]]:
    """Each reading (full pinyin, initials) of the first two or more characters of a city's or an
    element's name -> those characters (济南 for ``jinan`` and ``jn``; 济宁 for ``jn`` too)."""
    out: dict[str, list[str]] = {}
    for name, syl in VOCAB_SYLLABLES.items():
        for k in range(2, len(syl) + 1):
            for reading in ("".join(syl[:k]), "".join(s[0] for s in syl[:k])):
                out.setdefault(reading, [])
                if name[:k] not in out[reading]:
                    out[reading].append(name[:k])
    return {r: tuple(ws) for r, ws in out.items()}


VOCAB_WORDS = _vocab_words()


def vocab_words(query: str) -> tuple[str, ...]:
    """The Chinese words an ASCII query spells, whole syllables or their initials, from the start of a
    city's or an element's name, two characters or more (``jinan`` 济南, ``jl`` 计量, ``jn`` 济南 and
    济宁, ``jinanshi`` 济南市; not ``ji`` nor ``jina``). The search also looks for them in the Chinese
    text, so ``jinan jiliang`` and ``jn jl`` find what ``济南 计量`` finds (the operator's trial)."""
    q = query.strip().lower()
    return VOCAB_WORDS.get(q, ()) if q.isascii() else ()


def vocab_splits(query: str) -> list[tuple[str, str]]:
    """A one-word query that starts with a city's or an element's name (济南检测) or its reading (``jnjc``,
    ``jinanjiance``) as (that head, the rest), longest head first: the search tries these as two words
    when the query as typed finds nothing (``services.search.search``). Empty when none applies."""
    q = query.strip().lower()
    if not q or any(ch.isspace() for ch in q):
        return []
    if q.isascii():
        heads = {r for r in VOCAB_WORDS if q.startswith(r)}
    else:
        heads = {n[:k] for n in VOCAB_SYLLABLES for k in range(2, len(n) + 1) if q.startswith(n[:k])}
    return [(h, q[len(h) :]) for h in sorted(heads, key=lambda h: (-len(h), h)) if len(h) < len(q)]


def vocab_matches(query: str) -> tuple[list[str], list[str]]:
    """(city codes, element codes) a query names: pinyin or initials typed from the start of a city's
    or an element's name (``jn`` 济南 and 济宁, ``jinan``, ``jl`` 计量), or Chinese inside an element's
    name (``检测`` 检验检测). A city's Chinese name is in the haystack already."""
    q = query.strip().lower()
    if not q:
        return [], []
    if q.isascii():
        cities = [c for c, rs in CITY_READINGS.items() if any(r.startswith(q) for r in rs)]
        elements = [e for e, rs in ELEMENT_READINGS.items() if any(r.startswith(q) for r in rs)]
        return cities, elements
    return [], [e for e, name in domain.ELEMENT_ZH.items() if q in name]


# An enterprise's former names (``former_names``, kept by a rename) end its haystack and haystack_py
# after this mark, so operators still find it by the name they know; the request search reads only
# that part (:func:`former_part_sql`), not the enterprise's industry or city.
FORMER_MARK = " | "


def former_names(row: dict[str, Any]) -> list[str]:
    """The names an enterprise row had before its renames, oldest first (``former_names`` as stored
    JSON text or as a list)."""
    raw = row.get("former_names") or "[]"
    items = json.loads(raw) if isinstance(raw, str) else raw
    return [str(x["name"]) for x in items if isinstance(x, dict) and x.get("name")]


def former_part_sql(column: str) -> str:
    """SQL for the former names' part of an enterprise's ``haystack`` / ``haystack_py`` (empty when
    the enterprise was never renamed)."""
    return f"(CASE WHEN instr({column}, '{FORMER_MARK}') > 0 THEN substr({column}, instr({column}, '{FORMER_MARK}')) ELSE '' END)"


def haystack(table: str, row: dict[str, Any]) -> str:
    """Lowercased name, searchable fields and city (and an enterprise's former names after
    :data:`FORMER_MARK`): what any query is looked for in."""
    parts = [str(row.get("name") or "")]
    parts += [str(row[f]) for f in HAYSTACK_FIELDS.get(table, ()) if row.get(f)]
    city = places.CITIES.get(row.get("city_code") or "")
    if city:
        parts.append(city)
    former = former_names(row) if table == "enterprise" else []
    if former:
        parts.append(FORMER_MARK.strip() + " " + " ".join(former))
    return " ".join(parts).lower()


def haystack_py(table: str, row: dict[str, Any]) -> str:
    """What an ASCII query is looked for in, besides the name's own ``name_py`` / ``name_initials``:
    the name and the searchable fields that hold any ASCII (a USCC, a model, ``CNAS L0001``),
    lowercased; then the pinyin and initials of every other reading of the name and of the short
    fields of :data:`PINYIN_FIELDS`, each token once and none those columns hold. An ASCII query
    never scans the Chinese ``haystack`` and a Chinese query never scans this, so neither scans more
    than before. The search ranks a match in the name's own columns above one found here, so the
    item's own name wins."""
    from qi_station.db.pinyin import other_readings, readings

    name = str(row.get("name") or "")
    texts = [name] + [str(row[f]) for f in HAYSTACK_FIELDS.get(table, ()) if row.get(f)]
    ascii_parts = [x.lower() for x in texts if _ASCII.search(x)]
    tokens: list[str] = []
    person = table == "expert"
    primary: tuple[str, str] = ("", "")
    if name:
        known = (str(row.get("name_py") or ""), str(row.get("name_initials") or ""))
        primary = known if all(known) else readings(name, person=person)[0]
        for full, ini in other_readings(name, primary, person=person):
            tokens += [full, ini]
    for f in PINYIN_FIELDS.get(table, ()):
        text = str(row.get(f) or "")
        if text:
            full, ini = readings(text)[0]
            tokens += [full, ini] if len(text) <= FULL_PINYIN_MAX else [ini]
    py = [x for x in dict.fromkeys(tokens) if x and x not in primary[0] and x not in primary[1]]
    out = " ".join(ascii_parts + py)
    former = former_names(row) if table == "enterprise" else []
    if former:  # every former name's readings, after the mark (the request search reads only these)
        old: list[str] = [x.lower() for x in former if _ASCII.search(x)]
        for f in former:
            old += [r for pair in readings(f) for r in pair]
        out += FORMER_MARK + " ".join(dict.fromkeys(x for x in old if x))
    return out


def prepare(table: str, row: dict[str, Any], *, keep_pinyin: bool = False) -> dict[str, Any]:
    """Fill name_py, name_initials, haystack, haystack_py; elements as a JSON array string. The ONE search-text
    formula: every library and enterprise row is written through here (via ``db.write``).
    ``keep_pinyin``: a row that already carries ``name_py`` and ``name_initials`` keeps them (the
    generator composes them from cached name parts)."""
    out = dict(row)
    if not (keep_pinyin and out.get("name_py") and out.get("name_initials")):
        from qi_station.db.pinyin import pinyin_fields

        py, ini = pinyin_fields(str(out["name"]), person=(table == "expert"))
        out["name_py"], out["name_initials"] = py, ini
    out["haystack"] = haystack(table, out)
    out["haystack_py"] = haystack_py(table, out)
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
