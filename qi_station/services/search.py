"""Search over the four libraries and enterprises.

The search path is plain ``sqlite3`` and never imports pypinyin: pinyin and initials were
computed when each row was written.  User input is only ever a bound parameter (and, for the
index, characters inside an FTS5 phrase), so ``"``, ``*``, ``AND``, ``(`` are ordinary characters.

Ranking: exact, then prefix, then substring in the name, then anywhere in the searchable
text; within each tier the station's own city first.  An empty query browses by name.
Exact and prefix tiers read indexes and stop at LIMIT; the substring tier reads the FTS5 index of
:mod:`qi_station.db.searchindex` (candidates checked with the scan's own condition, so the rows are
the scan's), or, while that index is not current, is one table scan ranked in SQL (measured in
docs/benchmarks.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from qi_station.core import domain, places, qualify, validate
from qi_station.core.clock import today_local
from qi_station.core.errors import ValidationError
from qi_station.core.validate import parse_element
from qi_station.db import searchindex
from qi_station.db.searchtext import vocab_matches, vocab_splits, vocab_words

MAX_QUERY = 100
_HIGH = "\U0010ffff"
_SKIP_MAX = 1000  # rowids a later FTS segment is told to skip (see _fts_tier)

_EXTRA_COLS = {
    "expert": "gender, title, employer, specialty, phone, email",
    "institution": "short_name, uscc, cma_no, cma_expiry, cnas_no, cnas_expiry, scope, address, contact, phone",
    "equipment": "model, institution_id, shared, fee, fee_unit, description, "
    "(SELECT i.name FROM institution i WHERE i.id = t.institution_id) AS institution_name",
    "project": "year, lead, status, description",
    "enterprise": "uscc, region_code, industry, scale, contact_name, phone_display, phone_e164",
}


def _vocab(q: str) -> tuple[str, tuple[Any, ...]]:
    """`` OR …`` over ``city_code`` / ``elements`` for the cities and elements the query names
    (:func:`qi_station.db.searchtext.vocab_matches`), with its parameters."""
    cities, elements = vocab_matches(q)
    words = vocab_words(q)  # their elements are among ``elements`` already (tests/test_core_search.py)
    sql = f" OR t.city_code IN ({','.join('?' * len(cities))})" if cities else ""
    sql += "".join(" OR instr(t.elements, ?) > 0" for _ in elements)
    sql += "".join(" OR instr(t.haystack, ?) > 0" for _ in words)
    return sql, (*cities, *(f'"{e}"' for e in elements), *words)


def _tiers(q: str) -> list[tuple[str, tuple[Any, ...], str, tuple[Any, ...]]]:
    """(condition, params, rank expression, its params) per tier, best first.

    The last tier is one table scan that covers both "substring of the name" and "anywhere in
    the searchable text" (and the city or element the query names), ranked in SQL: two scans cost
    twice as much when few rows match.
    """
    vsql, vp = _vocab(q)
    if q.isascii():
        ql = q.lower()
        hi = ql + _HIGH
        return [
            ("(t.name_initials = ? OR t.name_py = ?)", (ql, ql), "", ()),
            (
                "((t.name_initials >= ? AND t.name_initials < ?) OR (t.name_py >= ? AND t.name_py < ?))",
                (ql, hi, ql, hi),
                "",
                (),
            ),
            (
                f"(instr(t.name_initials, ?) > 0 OR instr(t.name_py, ?) > 0 OR instr(t.haystack_py, ?) > 0{vsql})",
                (ql, ql, ql, *vp),
                "(instr(t.name_initials, ?) = 0 AND instr(t.name_py, ?) = 0)",
                (ql, ql),
            ),
        ]
    return [
        ("t.name = ?", (q,), "", ()),
        ("(t.name >= ? AND t.name < ?)", (q, q + _HIGH), "", ()),
        (f"(instr(t.haystack, ?) > 0{vsql})", (q.lower(), *vp), "(instr(t.name, ?) = 0)", (q,)),
    ]


_Rank = tuple[str, tuple[Any, ...]]


def _fetch(conn: sqlite3.Connection, sql: str, p: list[Any], n: int | None) -> list[sqlite3.Row]:
    if n is not None:
        sql += " LIMIT ?"
        p = [*p, n]
    return conn.execute(sql, p).fetchall()


def _index_tier(
    conn: sqlite3.Connection,
    table: str,
    cols: str,
    where: str,
    p: list[Any],
    own: str | None,
    want: int | None,
    city: bool = False,
) -> Iterator[sqlite3.Row]:
    """An index tier (exact, prefix): own city, then the rest, each read in index order so LIMIT stops
    early ("+t.city_code" keeps the planner on the name/initials index). Earlier tiers may repeat:
    each part over-fetches ``want`` and the caller dedupes. ``city``: a city filter kept off the city
    index; its rows come in table order (rowid), the order the city index gives them, sorted after the
    name/initials index found them ("+t.rowid": not a table walk in rowid order)."""
    parts = [("+t.city_code = ?", [own]), ("+t.city_code IS NOT ?", [own])] if own else [("1", [])]
    order = " ORDER BY +t.rowid" if city else ""
    for part, pp in parts:
        yield from _fetch(
            conn, f"SELECT {cols} FROM {table} t WHERE {where} AND {part}{order}", [*p, *pp], want
        )


def _scan_tier(
    conn: sqlite3.Connection,
    table: str,
    cols: str,
    where: str,
    p: list[Any],
    rank: _Rank,
    own: str | None,
    want: int | None,
) -> list[sqlite3.Row]:
    """The substring tier as one table scan ranked in SQL (a top-N sort), own city first within each
    rank: the reference the index must equal, used while the index is not current."""
    order = f" ORDER BY {rank[0]}" + (", (t.city_code IS NOT ?)" if own else "")
    sql = f"SELECT {cols} FROM {table} t WHERE {where}{order}"
    return _fetch(conn, sql, [*p, *rank[1], *((own,) if own else ())], want)


def _fts_terms(q: str, element: str | None, city: str | None) -> tuple[str, str, bool, str] | None:
    """FTS5 expressions of the substring tier (:mod:`qi_station.db.searchindex`): candidates in the
    name's own columns (rank 0), candidates of the whole tier, whether the first is exact (then the
    rest excludes it in the index), and the filters. None: the query keeps no character (scan)."""
    cities, elements = vocab_matches(q)
    words = vocab_words(q)
    vocab = [searchindex.vocab_term("c" + c) for c in cities]
    vocab += [searchindex.vocab_term("e" + e) for e in elements]
    vocab += [x for x in (searchindex.phrase("h", w) for w in words) if x]
    if q.isascii():
        own_col, other = searchindex.phrase("b", q.lower()), searchindex.phrase("q", q.lower())
    else:
        own_col, other = searchindex.phrase("n", q), searchindex.phrase("h", q.lower())
    if own_col is None or other is None:
        return None
    filters = [searchindex.vocab_term("e" + parse_element(element))] if element else []
    filters += [searchindex.vocab_term("c" + city)] if city else []
    whole = searchindex.any_of([own_col, other, *vocab])
    return own_col, whole, searchindex.single_exact(q), " AND ".join(filters)


def _fts_tier(
    conn: sqlite3.Connection,
    table: str,
    cols: str,
    where: str,
    p: list[Any],
    rank: _Rank,
    terms: tuple[str, str, bool, str],
    own: str | None,
    want: int | None,
) -> list[dict[str, Any]]:
    """The substring tier read through the index: the same rows, in the same order, as
    :func:`_scan_tier` (rank, own city first, then table order = rowid). Each segment walks the
    index's candidates in rowid order, checks them with the scan's own condition and stops at LIMIT."""
    rank0, whole, exact, filters = terms
    rest = f"({whole} NOT {rank0})" if exact else whole
    segs: list[tuple[str, str, list[Any]]] = [
        (rank0, f"NOT {rank[0]}", [*rank[1]]),
        (rest, rank[0], [*rank[1]]),
    ]
    if own:
        c = searchindex.vocab_term("c" + own)
        segs = [
            (f"({m} {op} {c})", f"{r} AND t.city_code {cmp} ?", [*rp, own])
            for m, r, rp in segs
            for op, cmp in (("AND", "="), ("NOT", "IS NOT"))
        ]
    ft = searchindex.fts(table)
    out: list[dict[str, Any]] = []
    for match, cond, cp in segs:
        n = None if want is None else want - len(out)
        if n is not None and n <= 0:
            break
        # the rows earlier segments returned fail this segment's condition (the segments are
        # disjoint): skipped on the index's rowid, before their table row is read (a short list only:
        # an unlimited search may have returned thousands)
        skip = out if 0 < len(out) <= _SKIP_MAX else []
        done = f" AND f.rowid NOT IN ({','.join(str(int(r['_rid'])) for r in skip)})" if skip else ""
        sql = (
            f"SELECT {cols}, f.rowid AS _rid FROM {ft} f CROSS JOIN {table} t ON t.rowid = f.rowid "
            f"WHERE f.{ft} MATCH ?{done} AND {where} AND {cond} ORDER BY f.rowid"
        )
        out += map(dict, _fetch(conn, sql, [f"({match}) AND {filters}" if filters else match, *p, *cp], n))
    for d in out:
        del d["_rid"]
    return out


def _row(kind: str, r: sqlite3.Row | dict[str, Any]) -> dict[str, Any]:
    d = dict(r)
    d["kind"] = kind
    d["elements"] = json.loads(d.get("elements") or "[]")
    d["city_name"] = places.CITIES.get(d.get("city_code") or "", "")
    if "shared" in d:
        d["shared"] = bool(d["shared"])
    return d


def _annotate(conn: sqlite3.Connection, kind: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Institutions: each certificate's state (``cma_state``, ``cnas_state``: valid / expiring / expired
    / missing, by :mod:`qi_station.core.qualify` on the one clock's today) and ``qualification`` (the
    licence: valid for work with no element named). Experts: ``load`` (在办, open referrals)."""
    if kind == "institutions":
        today = today_local()
        for d in rows:
            for c, st in qualify.certs(d, today).items():
                d[f"{c}_state"] = st
            d["qualification"] = qualify.state_for(d, None, today)
    elif kind == "experts" and rows:
        from qi_station.services.referral import open_loads

        loads = open_loads(conn, "expert", [d["id"] for d in rows])
        for d in rows:
            d["load"] = loads.get(d["id"], 0)
    return rows


def station_city(db: str | Path | sqlite3.Connection) -> str | None:
    """The station's own city code (its library rows rank first), or None before ``init``."""
    from qi_station.services.queries import station

    st = station(db)
    return places.city_of(st["region_code"]) if st else None


#: splits of a query with no hits tried at most (:func:`search`)
SPLITS_TRIED = 2


def check_kind(kind: str) -> str:
    """The library searched: one of ``domain.SEARCH_KINDS``, by its code or name (专家库, 专家, expert:
    ``domain.code_of``, the one reading of a choice), else ``[choice]``."""
    code = domain.code_of(kind, domain.SEARCH_KINDS)
    if code is None:
        raise ValidationError(
            "kind",
            "choice",
            f"kind must be one of {', '.join(domain.SEARCH_KINDS)}: {kind!r} / 类别应为 "
            f"{'、'.join(domain.SEARCH_KINDS)} 之一",
        )
    return code


def search(
    db_path: str | Path | sqlite3.Connection, kind: str, query: str = "", **kw: Any
) -> list[dict[str, Any]]:
    """:func:`ranked` matches; a one-word query that finds nothing and starts with a city's or an
    element's name or reading (济南检测, ``jnjc``) is tried again as those two words (济南 检测, ``jn
    jc``: :func:`qi_station.db.searchtext.vocab_splits`, at most :data:`SPLITS_TRIED`). A query that
    finds anything as typed keeps those results first, in their order; two ASCII cases add rows after
    or before them, each row once (the operator's trial: ``jnjl`` found one 济宁 institution and none
    of the 济南 ones ``济南 计量`` finds; ``jinan jiliang`` put 金安鑫 of 青岛 first):

    - one word that is two readings of a city or element joined (``jnjl`` = jn + jl): its rows as typed,
      then the rows of the two words (``jn jl``);
    - several words whose first spells a city's or an element's name (``jinan`` 济南): the rows of
      that name in Chinese first (``济南 jiliang``, ranked as the Chinese query ranks), then the words
      as typed (a person whose own name reads ``jinan`` is still found, after).

    The index (``db.searchindex``) is not changed: each part is an ordinary :func:`ranked` query."""
    typed = validate.halfwidth_alnum(query or "").strip()
    words = typed.split()
    if typed.isascii() and words:
        if len(words) > 1:
            # jinan jiliang: the first word spells a city's or an element's name (济南): what that word
            # finds (济南 jiliang) first, then the words as typed (金安鑫 is jinan too, and still found)
            leads = [" ".join([w, *words[1:]]) for w in vocab_words(words[0])]
        else:
            # jnjl: a word that is a city's or an element's reading followed by another's (jn + jl)
            # finds what those two words find too, after what it finds as typed
            leads = []
            tails = [f"{h} {r}" for h, r in vocab_splits(typed)[:SPLITS_TRIED] if vocab_words(r)]
        if leads or (len(words) == 1 and tails):
            return _merged(db_path, kind, [*leads, typed] if leads else [typed, *tails], kw)
    got = ranked(db_path, kind, query, **kw)
    if got or kw.get("offset"):
        return got
    for head, rest in vocab_splits(validate.halfwidth_alnum(query or ""))[:SPLITS_TRIED]:
        got = ranked(db_path, kind, f"{head} {rest}", **kw)
        if got:
            return got
    return got


def _merged(
    db_path: str | Path | sqlite3.Connection, kind: str, queries: list[str], kw: dict[str, Any]
) -> list[dict[str, Any]]:
    """The rows of each query in turn (each ranked as :func:`ranked` ranks it), each row once, then
    ``offset`` and ``limit`` applied to the whole."""
    offset = int(kw.get("offset") or 0)
    limit = kw.get("limit", 50)
    want = None if limit is None else offset + limit
    rest = {k: v for k, v in kw.items() if k not in ("offset", "limit")}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for q in queries:
        for r in ranked(db_path, kind, q, limit=want, offset=0, **rest):
            if r["id"] not in seen:
                seen.add(r["id"])
                out.append(r)
        if want is not None and len(out) >= want:
            break
    return out[offset:] if want is None else out[offset:want]


def ranked(
    db_path: str | Path | sqlite3.Connection,
    kind: str,
    query: str = "",
    *,
    element: str | None = None,
    city: str | None = None,
    valid_only: bool = False,
    expiring_only: bool = False,
    shared_only: bool = False,
    own_city: str | None = None,
    limit: int | None = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Ranked matches of ``query`` in one library (or enterprises). Empty query browses. Several words
    separated by spaces: rows matching every word, ranked by the first.
    ``valid_only``: institutions valid for ``element`` (:func:`qi_station.core.qualify.valid_sql`);
    ``expiring_only``: institutions with a certificate expired or expiring within 90 days."""
    kind = check_kind(kind)
    table = domain.KIND_TABLE[kind]
    q = validate.halfwidth_alnum(query or "").strip()  # ｊｉｎａｎ is jinan
    if len(q) > MAX_QUERY:
        raise ValidationError(
            "query", "max_length", f"query is longer than {MAX_QUERY} characters / 查询过长"
        )
    if any(ord(ch) < 32 for ch in q):
        raise ValidationError("query", "control_char", "query contains a control character / 含控制字符")
    if limit is not None and limit < 0:
        raise ValidationError("limit", "non_negative", "limit must be ≥ 0")
    where = ["t.deleted = 0"]
    params: list[Any] = []
    if element:
        where.append("instr(t.elements, ?) > 0")
        params.append(f'"{parse_element(element)}"')
    if city:
        city = validate.check_city(city)
        where.append("t.city_code = ?")  # see the several words below: may become "+t.city_code"
        params.append(city)
        city_at = len(where) - 1
    if valid_only and table == "institution":
        cond, qp = qualify.valid_sql([parse_element(element)] if element else None, today_local())
        where.append(cond)
        params += qp
    if expiring_only and table == "institution":
        cond, qp = qualify.attention_sql(today_local())
        where.append(cond)
        params += qp
    if shared_only and table == "equipment":
        where.append("t.shared = 1")
    words = q.split()
    if len(words) > 1:  # several words (济南 计量): ranked by the first, every other one must match too
        q = words[0]
        for word in words[1:]:
            cond, tp, _rank, _rp = _tiers(word)[-1]  # "anywhere in the searchable text": the same rule
            where.append(cond)
            params += tp
    # A city filter: "+", not through the city index (a city holds thousands of rows), so the browse walks
    # the name index and the exact and prefix tiers read their name/initials indexes, sorted back into
    # the city index's order (rowid). Not for one ASCII letter: its prefix tier is a large share of the
    # table (sorting it costs more than walking the city).
    by_name = bool(city) and not (len(q) == 1 and q.isascii())
    if by_name:
        where[city_at] = "+t.city_code = ?"
    cols = f"t.id, t.name, t.city_code, t.elements, {_EXTRA_COLS[table]}"
    # no query: in pinyin order (name_py, stored on write by db/searchtext, indexed), not Unicode's
    city_order = "(t.city_code IS NOT ?) , t.name_py, t.name" if own_city else "t.name_py, t.name"
    city_params: tuple[Any, ...] = (own_city,) if own_city else ()

    conn: sqlite3.Connection
    own = isinstance(db_path, sqlite3.Connection)
    if isinstance(db_path, sqlite3.Connection):
        conn = db_path
    else:
        from qi_station.db.engine import connect

        conn = connect(Path(db_path))
    try:
        base = " AND ".join(where)
        if not q:
            sql = f"SELECT {cols} FROM {table} t WHERE {base} ORDER BY {city_order}"
            p: list[Any] = [*params, *city_params]
            if limit is not None:
                sql += " LIMIT ? OFFSET ?"
                p += [limit, offset]
            return _annotate(conn, kind, [_row(kind, r) for r in conn.execute(sql, p)])
        want = None if limit is None else offset + limit
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        indexed = searchindex.is_current(conn, table)
        for cond, tp, rank, rp in _tiers(q):
            got: Iterable[sqlite3.Row] | Iterable[dict[str, Any]]
            if rank:  # the substring tier: from the index, else one ranked scan
                terms = _fts_terms(q, element, city) if indexed else None
                if terms is not None:
                    got = _fts_tier(
                        conn,
                        table,
                        cols,
                        f"{base} AND {cond}",
                        [*params, *tp],
                        (rank, rp),
                        terms,
                        own_city,
                        want,
                    )
                else:
                    got = _scan_tier(
                        conn, table, cols, f"{base} AND {cond}", [*params, *tp], (rank, rp), own_city, want
                    )
            else:
                got = _index_tier(
                    conn, table, cols, f"{base} AND {cond}", [*params, *tp], own_city, want, by_name
                )
            for r in got:
                if r["id"] in seen:
                    continue
                seen.add(r["id"])
                out.append(_row(kind, r))
                if want is not None and len(out) >= want:
                    return _annotate(conn, kind, out[offset:])
        return _annotate(conn, kind, out[offset:])
    finally:
        if not own:
            conn.close()


def get_item(db_path: str | Path, kind: str, item_id: str) -> dict[str, Any] | None:
    table = domain.KIND_TABLE[kind]
    from qi_station.db.engine import connect

    conn = connect(Path(db_path))
    try:
        r = conn.execute(
            f"SELECT t.id, t.name, t.city_code, t.elements, {_EXTRA_COLS[table]} FROM {table} t WHERE t.id = ?",
            (item_id,),
        ).fetchone()
        return _annotate(conn, kind, [_row(kind, r)])[0] if r else None
    finally:
        conn.close()


def expiring(
    db_path: str | Path | sqlite3.Connection, days: int = qualify.EXPIRING_DAYS
) -> list[dict[str, Any]]:
    """Institutions with a certificate expired or expiring within ``days`` (on the one clock's
    today), soonest first; each row carries ``cma_state``, ``cnas_state`` and ``expired``."""
    if days < 0:
        raise ValidationError("days", "non_negative", "days must be ≥ 0 / 天数不能为负")
    today = today_local()
    cond, params = qualify.attention_sql(today, days)
    own = isinstance(db_path, sqlite3.Connection)
    if isinstance(db_path, sqlite3.Connection):
        conn = db_path
    else:
        from qi_station.db.engine import connect

        conn = connect(Path(db_path))
    try:
        sql = (
            f"SELECT t.id, t.name, t.city_code, t.elements, {_EXTRA_COLS['institution']} FROM institution t "
            f"WHERE t.deleted = 0 AND {cond} "
            "ORDER BY min(COALESCE(t.cma_expiry, '9999'), COALESCE(t.cnas_expiry, '9999')), t.name"
        )
        rows = [_row("institutions", r) for r in conn.execute(sql, params)]
    finally:
        if not own:
            conn.close()
    for d in rows:
        for c, st in qualify.certs(d, today, days).items():
            d[f"{c}_state"] = st
        d["qualification"] = qualify.state_for(d, None, today)
        d["expired"] = qualify.EXPIRED in (d["cma_state"], d["cnas_state"])
    return rows
