"""The library search index: one FTS5 table per searched table (``expert_fts`` …), a superset
filter for the substring tier of :mod:`qi_station.services.search`.

A row's document is one column of tokens computed here (the one home), each tagged by its source so
it is its own FTS5 term: ``n`` / ``h`` + one non-ASCII character of ``name`` / ``haystack``; ``t`` /
``u`` + the run of three characters each character of the name's ``name_initials`` + ``name_py`` /
of ``haystack_py`` starts (padded at the end, migration 0026); ``c`` + the city code; ``e`` + each
element code. The ``ascii`` tokenizer keeps every non-ASCII character,
folds A-Z and drops ASCII punctuation, the same way for documents and queries. A query becomes all
of its non-ASCII characters (Chinese) or triples covering it (ASCII; one or two letters: a prefix
query on the triples they start), ANDed (the index keeps no positions, migration 0023):
a row holding the query as a substring holds each of those tokens, so the index returns a superset of the scan's matches, and the search checks each candidate with the scan's own
``instr`` condition (identical results). User text reaches FTS5 only inside double quotes, with
``"`` and ASCII punctuation dropped: ``AND``, ``NEAR``, ``*``, ``(`` are never syntax.

The index is contentless (no copy of the text) and maintained without any SQL function (only a
whole build, :func:`rebuild`, lends its own connection one for its own statement), so every
writer (a plain ``sqlite3`` shell included) keeps it correct: triggers record each inserted, updated
or deleted row in ``search_pending`` (with the values the index holds for it), and :func:`flush` —
called by :mod:`qi_station.db.write` after each write of these tables, by sync's sweeps and the demo
removal — moves them into the index. While a table has pending rows the search scans (correct,
slower), so a forgotten flush costs time, never results. Rowids key the index: a ``VACUUM`` that
renumbered them would need :func:`rebuild` (the program never vacuums).
"""

from __future__ import annotations

import re
import sqlite3
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import Any

from qi_station.core import domain

TABLES = ("expert", "institution", "equipment", "project", "enterprise")
# the columns a document is made of (and that the triggers watch), in :func:`doc`'s order
DOC_COLUMNS = ("name", "haystack", "name_initials", "name_py", "haystack_py", "city_code", "elements")
# the index has one column; its tokens carry a letter saying what they come from (so each is its own
# FTS5 term with its own short doclist): ``n`` / ``h`` a non-ASCII character of name / haystack, ``c``
# the city, ``e`` an element; ``t`` / ``u`` a run of three characters of the name's initials + pinyin /
# of haystack_py (migration 0020; since 0026 one per character, no pairs). A query names the text it
# searches ``b`` / ``q`` (:func:`phrase`), read from the ``t`` / ``u`` tokens (TRIPLE)
FTS_COLUMNS = ("d",)
TRIPLE = {"b": "t", "q": "u"}
# no positions (``detail=none``, migration 0023): the queries AND their tokens (:func:`phrase`); a third
# of the index's size and less work in each insert and in the build's merge (docs/benchmarks.md, idx)
FTS_OPTIONS = "content='', columnsize=0, detail=none, tokenize='ascii'"
PENDING = "search_pending"
STALE_RID = 0  # the ``search_pending`` row of a table whose index waits for a rebuild (mark_stale)  # read with "+tbl" (no index use): small, and "PRAGMA optimize" then
# finds nothing to ANALYZE (a generated database keeps the migrated schema, no sqlite_stat1)
_ELEMENT_CODES = tuple(domain.ELEMENT_ZH)


def fts(table: str) -> str:
    return f"{table}_fts"


_ELEMENT_QUOTED = tuple((f'"{code}"', "e" + code) for code in _ELEMENT_CODES)
# what the ``ascii`` tokenizer drops (ASCII punctuation, space, control); it folds A-Z to a-z and keeps
# every non-ASCII character
_DROP = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+")


_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")
_ASCII = re.compile(r"[\x00-\x7f]+")


def _spaced(tag: str, text: Any) -> str:
    """One token per non-ASCII character (a Chinese query's ASCII is left to the check)."""
    t = str(text or "")
    if t.isascii():
        return ""
    chars = _ASCII.sub("", t)
    return tag + f" {tag}".join(chars)


def _tripled(tag: str, text: Any) -> str:
    """One token per run of three characters (a character other than ``0-9A-Za-z`` made ``~``, where
    the tokenizer cuts): the triples of a substring of three or more characters are a run of the
    text's :func:`_padded_triples`, so ANDing them is a superset of ``instr``, over far shorter
    doclists than pairs would have (``ji`` ``an`` ``ng`` are in most pinyin; ``ngu`` is not)."""
    t = _NOT_ALNUM.sub("~", str(text or ""))
    return tag + f" {tag}".join([t[i : i + 3] for i in range(len(t) - 2)]) if len(t) > 2 else ""


def _padded_triples(tag: str, text: Any) -> str:
    """One token per character of the text: the run of three characters it starts, the text padded
    with two ``~`` (cut by the tokenizer as :func:`_tripled`'s triples are). A substring of three
    characters or more holds a run of them (:func:`_tripled`), a substring of one or two alphanumeric
    characters is the prefix of one (``"tzw" *``, ``"tz" *``): the pairs the index held before
    migration 0026 are not needed, and a build inserts a third fewer tokens (docs/benchmarks.md, idx
    stop 23)."""
    t = _NOT_ALNUM.sub("~", str(text or ""))
    if not t:
        return ""
    t += "~~"
    # joined from a list: ~10 % less CPU than from a generator (docs/benchmarks.md, idx stop 24)
    return tag + f" {tag}".join([t[i : i + 3] for i in range(len(t) - 2)])


def _head(city_code: Any, elements: Any) -> tuple[str, ...]:
    """The vocabulary tokens of a row: each element (``e`` + code), then the city (``c`` + code)."""
    el = str(elements or "")
    parts = [tok for quoted, tok in _ELEMENT_QUOTED if quoted in el]
    city = str(city_code or "")
    if city.isascii() and city.isalnum():  # one token, so "not this city" is exact too
        parts.append("c" + city)
    return tuple(parts)


def _own(initials: Any, py: Any) -> str:
    """The text the name's own triples (``t``) are cut from."""
    return f"{initials or ''} {py or ''}"


def _document(head: str, name: str, hay: str, own: str, other: str) -> str:
    return f"{head} {name} {hay} {own} {other}"


def doc(
    name: Any,
    haystack: Any,
    initials: Any,
    py: Any,
    haystack_py: Any,
    city_code: Any,
    elements: Any,
) -> tuple[str]:
    """The document of one row (the FTS column ``d``), from :data:`DOC_COLUMNS`."""
    return (
        _document(
            " ".join(_head(city_code, elements)),
            _spaced("n", name),
            _spaced("h", haystack),
            _padded_triples(TRIPLE["b"], _own(initials, py)),
            _padded_triples(TRIPLE["q"], haystack_py),
        ),
    )


class Documents:
    """:func:`doc` for many rows, each part computed once per distinct text (a build's rows repeat
    them: 24 equipment names in 60,000 rows, a third of the experts' names and pinyin, half the
    ``haystack_py``, a few city + element sets); only the haystack, distinct per row, is cut each
    time. The same documents as :func:`doc`."""

    def __init__(self) -> None:
        self._head: dict[tuple[Any, Any], str] = {}
        self._name: dict[Any, str] = {}
        self._own: dict[str, str] = {}
        self._other: dict[Any, str] = {}

    def __call__(self, *row: Any) -> tuple[str]:
        """The document of one row of :data:`DOC_COLUMNS`, as :func:`doc`."""
        return (self.text(*row),)

    def text(
        self,
        name: Any,
        haystack: Any,
        initials: Any,
        py: Any,
        haystack_py: Any,
        city_code: Any,
        elements: Any,
    ) -> str:
        """The document's text (what :data:`_DOC_FN` returns): no tuple nor list per row."""
        head = self._head.get((city_code, elements))
        if head is None:
            head = self._head[(city_code, elements)] = " ".join(_head(city_code, elements))
        n = self._name.get(name)
        if n is None:
            n = self._name[name] = _spaced("n", name)
        key = _own(initials, py)
        own = self._own.get(key)
        if own is None:
            own = self._own[key] = _padded_triples(TRIPLE["b"], key)
        other = self._other.get(haystack_py)
        if other is None:
            other = self._other[haystack_py] = _padded_triples(TRIPLE["q"], haystack_py)
        return _document(head, n, _spaced("h", haystack), own, other)


# ---- queries ---------------------------------------------------------------------------------------
def phrase(tag: str, text: str) -> str | None:
    """An FTS5 expression for the rows of the index that may hold ``text`` in what ``tag`` stands for
    (a superset of ``instr(source, text) > 0``): ``n`` / ``h`` all of its non-ASCII characters;
    ``b`` / ``q`` (the name's pinyin / ``haystack_py``, whose tokens are the ``t`` / ``u`` triples of
    :func:`_padded_triples`): three characters or more, every third of its triples and the last,
    which cover each character (ANDing the common ``ian`` ``ang`` too doubled the time of
    ``jianguo``); one or two, a prefix query on the triples its longest alphanumeric run starts
    (``"tzw" *``, ``"tz" *``). The index keeps no positions (``detail=none``, migration 0023), so the
    tokens are ANDed, not a phrase: a row holding the text holds each of them (a wider superset; the
    search checks every candidate). None: nothing to look up (the caller scans). User text only ever
    reaches the FTS5 syntax inside double quotes, as characters other than ``"``, one token per quoted
    string (cut where the tokenizer cuts)."""
    if tag in ("b", "q"):
        if len(text) <= 2:
            run = max(_NOT_ALNUM.split(text), key=len)
            return f'"{TRIPLE[tag]}{run}" *' if run else None
        toks = _tripled(TRIPLE[tag], text)
        triples = toks.split(" ")
        if len(triples) > 2:  # AND needs no overlap: every third triple and the last cover each character
            toks = " ".join(triples[i] for i in range(len(triples)) if i % 3 == 0 or i == len(triples) - 1)
    else:
        toks = _spaced(tag, text)
    terms = [f'"{t}"' for t in dict.fromkeys(_DROP.split(toks)) if t]
    return "(" + " AND ".join(terms) + ")" if terms else None


def vocab_term(token: str) -> str:
    """A city (``c370100``) or element (``emetrology``) token."""
    if not token.isascii() or not token.isalnum():
        raise ValueError(f"not a vocabulary token: {token!r}")
    return f'"{token}"'


def any_of(exprs: Iterable[str]) -> str:
    return "(" + " OR ".join(exprs) + ")"


def single_exact(text: str) -> bool:
    """True when holding ``text``'s one token in a column is the same as ``instr(column, text) > 0``:
    one non-ASCII character (never folded nor dropped by the tokenizer)."""
    return len(text) == 1 and text > "\x7f"


# ---- schema and maintenance ---------------------------------------------------------------------
def ddl() -> list[str]:
    """CREATE statements: the FTS tables, the pending table, the triggers (plain SQL, no function)."""
    old = ", ".join(f"o_{c}" for c in DOC_COLUMNS)
    out = [
        f"CREATE TABLE IF NOT EXISTS {PENDING} (tbl TEXT NOT NULL, rid INTEGER NOT NULL, "
        f"had_old INTEGER NOT NULL, {old}, PRIMARY KEY (tbl, rid)) WITHOUT ROWID"
    ]
    watched = ", ".join(DOC_COLUMNS)
    olds = ", ".join(f"old.{c}" for c in DOC_COLUMNS)
    nulls = ", ".join("NULL" for _ in DOC_COLUMNS)
    ins = f"INSERT OR IGNORE INTO {PENDING} (tbl, rid, had_old, {old}) VALUES"
    for t in TABLES:
        out += [
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts(t)} USING fts5({', '.join(FTS_COLUMNS)}, "
            f"{FTS_OPTIONS})",
            f"CREATE TRIGGER IF NOT EXISTS {t}_search_ins AFTER INSERT ON {t} BEGIN "
            f"{ins} ('{t}', new.rowid, 0, {nulls}); END",
            f"CREATE TRIGGER IF NOT EXISTS {t}_search_upd AFTER UPDATE OF {watched} ON {t} BEGIN "
            f"{ins} ('{t}', old.rowid, 1, {olds}); END",
            f"CREATE TRIGGER IF NOT EXISTS {t}_search_del AFTER DELETE ON {t} BEGIN "
            f"{ins} ('{t}', old.rowid, 1, {olds}); END",
        ]
    return out


def _trigger_names(tables: Sequence[str] = TABLES) -> list[str]:
    return [f"{t}_search_{k}" for t in tables for k in ("ins", "upd", "del")]


def drop_triggers(conn: Any, tables: Sequence[str] = TABLES) -> bool:
    """Lift the triggers of ``tables`` for a bulk load (the caller's transaction); call :func:`rebuild`
    (or :func:`mark_stale` first and :func:`refresh` later) and :func:`create_triggers` after it.
    False (nothing done): no index, or not SQLite."""
    raw = _raw(conn)
    if raw is None or not has_index(raw):
        return False
    for name in _trigger_names(tables):
        raw.execute(f"DROP TRIGGER IF EXISTS {name}")
    return True


def create_triggers(conn: Any, tables: Sequence[str] = TABLES) -> None:
    """Put back the triggers :func:`drop_triggers` lifted (their DDL is :func:`ddl`'s)."""
    raw = _raw(conn)
    if raw is None or not has_index(raw):
        return
    names = {f"ON {t} BEGIN" for t in tables}
    for stmt in ddl():
        if stmt.startswith("CREATE TRIGGER") and any(n in stmt for n in names):
            raw.execute(stmt)


def drop_ddl() -> list[str]:
    out = []
    for t in TABLES:
        out += [f"DROP TRIGGER IF EXISTS {t}_search_{k}" for k in ("ins", "upd", "del")]
        out.append(f"DROP TABLE IF EXISTS {fts(t)}")
    return [*out, f"DROP TABLE IF EXISTS {PENDING}"]


_FC = ", ".join(FTS_COLUMNS)
_FQ = ", ".join("?" for _ in FTS_COLUMNS)


def _raw(conn: Any) -> sqlite3.Connection | None:
    """The sqlite3 connection under ``conn`` (a sqlite3 or SQLAlchemy connection); None: not SQLite."""
    if isinstance(conn, sqlite3.Connection):
        return conn
    try:
        if conn.dialect.name != "sqlite":
            return None
        raw = conn.connection.dbapi_connection
    except AttributeError:
        return None
    return raw if isinstance(raw, sqlite3.Connection) else None


def has_index(conn: sqlite3.Connection) -> bool:
    return conn.execute(f"SELECT 1 FROM sqlite_master WHERE name = '{PENDING}'").fetchone() is not None


def flush(conn: Any, tables: Sequence[str] = TABLES) -> int:
    """Move pending rows of ``tables`` into the index (inside the caller's transaction). Returns how
    many. A database without the index (or not SQLite) is left alone."""
    raw = _raw(conn)
    if raw is None or not has_index(raw):
        return 0
    n = 0
    cols = ", ".join(f"t.{c}" for c in DOC_COLUMNS)
    old = ", ".join(f"p.o_{c}" for c in DOC_COLUMNS)
    for t in tables:
        if _is_stale(raw, t):  # rebuilt whole by :func:`refresh`: its pending rows are moot
            raw.execute(f"DELETE FROM {PENDING} WHERE +tbl = ? AND rid <> {STALE_RID}", (t,))
            continue
        rows = raw.execute(
            f"SELECT p.rid, p.had_old, {old}, t.rowid, {cols} FROM {PENDING} p "
            f"LEFT JOIN {t} t ON t.rowid = p.rid WHERE +p.tbl = ?",
            (t,),
        ).fetchall()
        if not rows:
            continue
        k = len(DOC_COLUMNS)
        dels = [(r[0], *doc(*r[2 : 2 + k])) for r in rows if r[1]]
        adds = [(r[0], *doc(*r[3 + k :])) for r in rows if r[2 + k] is not None]
        if dels:
            raw.executemany(
                f"INSERT INTO {fts(t)} ({fts(t)}, rowid, {_FC}) VALUES ('delete', ?, {_FQ})", dels
            )
        raw.executemany(f"INSERT INTO {fts(t)} (rowid, {_FC}) VALUES (?, {_FQ})", adds)
        raw.execute(f"DELETE FROM {PENDING} WHERE +tbl = ?", (t,))
        n += len(rows)
    return n


def optimize(conn: Any, tables: Sequence[str] = TABLES) -> None:
    """Merge each index of ``tables`` into one b-tree segment (FTS5 ``optimize``; inside the caller's
    transaction). A bulk load leaves several segments, and every query then reads each one's doclist
    of every term: a phrase of common pinyin pairs costs about 3x more over 10 segments than over one
    (docs/benchmarks.md). Same rows, same results; about 3 s per 100 000 rows."""
    raw = _raw(conn)
    if raw is None or not has_index(raw):
        return
    for t in tables:
        raw.execute(f"INSERT INTO {fts(t)} ({fts(t)}) VALUES ('optimize')")


REBUILD_BATCH = 5_000  # rows per document batch of :func:`rebuild`
# :func:`rebuild` lifts FTS5's incremental merging while it inserts (``automerge`` 0, ``crisismerge``
# high) and lets its final ``optimize`` merge every segment once: the same one-segment index, ~35 % less
# CPU in the inserts (docs/benchmarks.md, branch ``search``). The FTS5 defaults are put back after.
REBUILD_MERGE_ONCE = True
_FTS5_DEFAULT_MERGE = (("automerge", 4), ("crisismerge", 16))
_REBUILD_MERGE = (("automerge", 0), ("crisismerge", 2000))


def _docs(rows: list[tuple[Any, ...]], make: Documents | None = None) -> list[tuple[Any, ...]]:
    """(rowid, document) of each (rowid, *DOC_COLUMNS) row (a pool worker's job in :func:`rebuild`:
    its own :class:`Documents` per batch)."""
    make = make or Documents()
    return [(r[0], *make(*r[1:])) for r in rows]


def _computed(batches: Iterator[list[Any]], pool: Any, ahead: int = 4) -> Iterator[list[tuple[Any, ...]]]:
    """:func:`_docs` of each batch, in order; with ``pool``, up to ``ahead`` batches in its workers
    while the caller inserts (the rows are read here, in the connection's own thread). Without it one
    :class:`Documents` serves every batch."""
    if pool is None:
        yield from map(partial(_docs, make=Documents()), batches)
        return
    pending: deque[Any] = deque()
    for b in batches:
        pending.append(pool.apply_async(_docs, ([tuple(r) for r in b],)))  # a sqlite3.Row does not pickle
        if len(pending) >= ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def rebuild(conn: Any, tables: Sequence[str] = TABLES, *, pool: Any = None) -> int:
    """Build the index of ``tables`` from scratch (the migration; a bulk load), merged into one
    segment (:func:`optimize`). Returns rows indexed. Without ``pool`` each table is one ``INSERT …
    SELECT`` whose documents a function of this connection makes (:func:`_insert_select`). ``pool``:
    a process pool (``multiprocessing``) that computes the documents of the next batches while this
    process inserts (the same documents, about 40 % of the build's CPU off this process)."""
    raw = _raw(conn)
    if raw is None or not has_index(raw):
        return 0
    n = 0
    make = _doc_function(raw) if pool is None else None
    try:
        for t in tables:
            if REBUILD_MERGE_ONCE:
                _merge_config(raw, t, _REBUILD_MERGE)
            raw.execute(f"INSERT INTO {fts(t)} ({fts(t)}) VALUES ('delete-all')")
            raw.execute(f"DELETE FROM {PENDING} WHERE +tbl = ?", (t,))
            if make is not None:
                n += _insert_select(raw, t, make)
                continue
            cur = raw.execute(f"SELECT rowid, {', '.join(DOC_COLUMNS)} FROM {t}")
            batches = iter(partial(cur.fetchmany, REBUILD_BATCH), [])
            for docs in _computed(batches, pool):
                raw.executemany(f"INSERT INTO {fts(t)} (rowid, {_FC}) VALUES (?, {_FQ})", docs)
                n += len(docs)
    finally:
        if make is not None:
            make.clear()
    optimize(raw, tables)
    if REBUILD_MERGE_ONCE:
        for t in tables:
            _merge_config(raw, t, _FTS5_DEFAULT_MERGE)
    return n


# the SQL function :func:`rebuild` lends its connection for the build (:func:`_insert_select`)
_DOC_FN = "qi_search_document"


def _doc_function(raw: sqlite3.Connection) -> list[Documents] | None:
    """Register :data:`_DOC_FN` on ``raw``: the document of a row of :data:`DOC_COLUMNS` by the
    :class:`Documents` in the returned list (empty: the function raises). Python's ``sqlite3`` cannot
    remove a function, so after the build it stays, holding nothing (the caller empties the list: the
    caches go). None: SQLite refuses to replace the function of an earlier build while a statement of
    the connection is running; the build then inserts rows from Python (the same documents)."""
    make: list[Documents] = []
    try:
        raw.create_function(_DOC_FN, len(DOC_COLUMNS), lambda *row: make[0].text(*row), deterministic=True)
    except sqlite3.OperationalError:
        return None
    return make


def _insert_select(raw: sqlite3.Connection, table: str, make: list[Documents]) -> int:
    """Index every row of ``table`` in one ``INSERT … SELECT``, the documents made by :data:`_DOC_FN`
    (a fresh :class:`Documents` per table): no Python row, list or parameter per row, ~7 % less of a
    build's CPU than fetching the rows and inserting their documents (docs/benchmarks.md, idx stop 22)."""
    make[:] = [Documents()]
    cur = raw.execute(
        f"INSERT INTO {fts(table)} (rowid, {_FC}) SELECT rowid, {_DOC_FN}({', '.join(DOC_COLUMNS)}) "
        f"FROM {table}"
    )
    n = cur.rowcount
    cur.close()
    return n


def _merge_config(raw: sqlite3.Connection, table: str, values: Sequence[tuple[str, int]]) -> None:
    for key, value in values:
        raw.execute(f"INSERT INTO {fts(table)} ({fts(table)}, rank) VALUES (?, ?)", (key, value))


def _is_stale(raw: sqlite3.Connection, table: str) -> bool:
    return (
        raw.execute(f"SELECT 1 FROM {PENDING} WHERE +tbl = ? AND rid = {STALE_RID}", (table,)).fetchone()
        is not None
    )


def mark_stale(conn: Any, table: str) -> bool:
    """Say, inside the caller's transaction, that ``table``'s index must be built again whole
    (:func:`refresh`): one ``search_pending`` row (rowid 0, which no table row has). Until then the
    search scans that table (correct, slower) and :func:`flush` skips it, so a bulk write may lift the
    table's triggers (:func:`drop_triggers`) and record nothing per row. False: no index."""
    raw = _raw(conn)
    if raw is None or not has_index(raw):
        return False
    nulls = ", ".join("NULL" for _ in DOC_COLUMNS)
    raw.execute(f"INSERT OR IGNORE INTO {PENDING} VALUES (?, {STALE_RID}, 0, {nulls})", (table,))
    return True


def stale(conn: Any) -> list[str]:
    """The tables :func:`mark_stale` marked (their index waits for :func:`refresh`)."""
    raw = _raw(conn)
    if raw is None or not has_index(raw):
        return []
    return [t for t in TABLES if _is_stale(raw, t)]


def refresh(conn: Any) -> int:
    """Build the index of every stale table again (:func:`rebuild`, inside the caller's transaction),
    which makes them current. Returns rows indexed."""
    got = stale(conn)
    return rebuild(conn, got) if got else 0


def is_current(conn: sqlite3.Connection, table: str) -> bool:
    """True when ``table``'s index can answer a search: it exists and nothing is pending."""
    try:
        return conn.execute(f"SELECT 1 FROM {PENDING} WHERE +tbl = ? LIMIT 1", (table,)).fetchone() is None
    except sqlite3.OperationalError:  # no index (a database built without migrations)
        return False
