"""How low can a library search index's build go on a 200k-row pull? (issue 13 goal 1: the sync with the
index within 20 % of the sync without it)

    python benchmarks/bench_index_floor.py --source /tmp/bench/gen-1m.db --rows 200000

In one process, on the same rows: the station's pull without the index and with it (the pages, then
``finish_search``: today's build, Python documents + FTS5 ``ascii`` tokens), as
``bench_search_index.py --sync`` measures them; then, on the pulled database, inside a transaction
rolled back, builds that make little or no document in Python, as a floor for any FTS5 substring index:

- ``trigram``: SQLite's own ``trigram`` tokenizer (C) over the stored columns, one ``INSERT … SELECT``
  per table (``haystack``, the name's ``name_initials`` + ``name_py``, ``haystack_py``, each padded so
  that every character starts a trigram), ``detail=none``;
- ``trigram, blocks of N rows``: the same text of N consecutive rows as one document (``group_concat``),
  so FTS5 writes each term once per block (a coarser superset: the search would check N rows a hit);
- ``hybrid``: today's ``ascii`` table with only its Chinese and vocabulary tokens (Python) beside a
  ``trigram`` table over the name's initials + pinyin and ``haystack_py`` (C);
- today's documents alone (the build's Python, no FTS5).

Then the price at search time of the trigram tables: a query of one or two characters has no trigram
of its own (SQLite's tokenizer emits none), so it becomes an OR of every term of the index that starts
with it (read from an ``fts5vocab`` table); timed beside today's index answering the same query.
Prints Markdown; nothing here is a test and nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_search_index import TABLES, fresh_db, read_rows, sync_apply  # noqa: E402

# queries of one and two characters (the ones a trigram index cannot answer by itself), per class
SHORT = ("量", "检", "王", "张", "计量", "检测", "a", "z", "i", "zh", "jl", "an")


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def _trigram(raw: sqlite3.Connection, block: int) -> None:
    """The trigram tables of the four libraries (``<t>_tri``), built and merged once."""
    for t in TABLES:
        raw.execute(
            f"CREATE VIRTUAL TABLE {t}_tri USING fts5(h, o, q, content='', columnsize=0, detail=none, "
            "tokenize='trigram')"
        )
        for key, value in (("automerge", 0), ("crisismerge", 2000)):
            raw.execute(f"INSERT INTO {t}_tri ({t}_tri, rank) VALUES (?, ?)", (key, value))
        h, o, q = "haystack || '~~'", "name_initials || '~' || name_py || '~~'", "haystack_py || '~~'"
        if block == 1:
            raw.execute(f"INSERT INTO {t}_tri (rowid, h, o, q) SELECT rowid, {h}, {o}, {q} FROM {t}")
        else:
            raw.execute(
                f"INSERT INTO {t}_tri (rowid, h, o, q) SELECT rowid / {block}, group_concat({h}, ''), "
                f"group_concat({o}, ''), group_concat({q}, '') FROM {t} GROUP BY rowid / {block}"
            )
    for t in TABLES:
        raw.execute(f"INSERT INTO {t}_tri ({t}_tri) VALUES ('optimize')")


def _hybrid(raw: sqlite3.Connection) -> None:
    """Today's ``ascii`` table with only the Chinese tokens (``c`` / ``e`` + ``n`` / ``h`` one per
    character, made in Python with the same caches) and a ``trigram`` table over the name's initials +
    pinyin and ``haystack_py`` (C): the ASCII triples, 56 % of today's tokens and most of its Python,
    no longer made in Python."""
    from qi_station.db import searchindex as si

    heads: dict[tuple[object, object], str] = {}
    names: dict[object, str] = {}

    def chinese(name: object, hay: object, city: object, elements: object) -> str:
        head = heads.get((city, elements))
        if head is None:
            head = heads[(city, elements)] = " ".join(si._head(city, elements))
        n = names.get(name)
        if n is None:
            n = names[name] = si._spaced("n", name)
        return f"{head} {n} {si._spaced('h', hay)}"

    raw.create_function("qi_bench_chinese", 4, chinese, deterministic=True)
    for t in TABLES:
        raw.execute(f"CREATE VIRTUAL TABLE {t}_hc USING fts5(d, {si.FTS_OPTIONS})")
        raw.execute(
            f"CREATE VIRTUAL TABLE {t}_ht USING fts5(o, q, content='', columnsize=0, detail=none, "
            "tokenize='trigram')"
        )
        for f in (f"{t}_hc", f"{t}_ht"):
            for key, value in (("automerge", 0), ("crisismerge", 2000)):
                raw.execute(f"INSERT INTO {f} ({f}, rank) VALUES (?, ?)", (key, value))
        raw.execute(
            f"INSERT INTO {t}_hc (rowid, d) SELECT rowid, qi_bench_chinese(name, haystack, city_code, "
            f"elements) FROM {t}"
        )
        raw.execute(
            f"INSERT INTO {t}_ht (rowid, o, q) SELECT rowid, name_initials || '~' || name_py || '~~', "
            f"haystack_py || '~~' FROM {t}"
        )
    for t in TABLES:
        for f in (f"{t}_hc", f"{t}_ht"):
            raw.execute(f"INSERT INTO {f} ({f}) VALUES ('optimize')")


def _documents(raw: sqlite3.Connection) -> None:
    from qi_station.db import searchindex

    make = searchindex._doc_function(raw)
    assert make is not None
    for t in TABLES:
        make[:] = [searchindex.Documents()]
        raw.execute(f"SELECT count({searchindex._DOC_FN}({', '.join(searchindex.DOC_COLUMNS)})) FROM {t}")
    make.clear()


def _or_of_terms(raw: sqlite3.Connection, table: str, text: str) -> int:
    """The first 50 rows of ``table`` (a trigram table) holding a term that starts with ``text``: an OR
    of those terms, read from its ``fts5vocab`` table ``temp.<table>_voc``. Returns how many terms."""
    terms = [
        r[0]
        for r in raw.execute(
            f"SELECT term FROM temp.{table}_voc WHERE term >= ? AND term < ?", (text, text + "\U0010ffff")
        )
    ]
    if terms:
        m = " OR ".join('"' + x.replace('"', '""') + '"' for x in terms)
        raw.execute(
            f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY rowid LIMIT 50", (m,)
        ).fetchall()
    return len(terms)


def _today(raw: sqlite3.Connection, table: str, text: str) -> None:
    """The first 50 rows of today's index ``<table>_fts`` the substring tier would check for ``text``:
    the name's own tokens or the other text's."""
    from qi_station.db import searchindex

    tags = ("b", "q") if text.isascii() else ("n", "h")
    expr = searchindex.any_of([x for x in (searchindex.phrase(g, text) for g in tags) if x])
    raw.execute(
        f"SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ? ORDER BY rowid LIMIT 50", (expr,)
    ).fetchall()


def _short_queries(
    raw: sqlite3.Connection, reps: int, suffix: str, texts: tuple[str, ...]
) -> list[tuple[str, str, str, int, float, float]]:
    """(trigram table suffix, library, query, terms ORed, CPU ms median today, CPU ms median trigram)
    for ``texts``, the trigram table being ``<library><suffix>``."""
    out = []
    for t in TABLES:
        tri = f"{t}{suffix}"
        raw.execute(f"CREATE VIRTUAL TABLE temp.{tri}_voc USING fts5vocab(main, {tri}, 'row')")
        for text in texts:
            nterms = _or_of_terms(raw, tri, text)
            a = [_timed(partial(_today, raw, t, text))[1] * 1000 for _ in range(reps)]
            b = [_timed(partial(_or_of_terms, raw, tri, text))[1] * 1000 for _ in range(reps)]
            out.append((suffix, t, text, nterms, statistics.median(a), statistics.median(b)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, required=True, help="a generated database to copy rows from")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--page", type=int, default=5000)
    ap.add_argument(
        "--blocks", type=int, nargs="*", default=[64], help="rows per block of the blocked variant"
    )
    ap.add_argument("--reps", type=int, default=15, help="calls per short query")
    args = ap.parse_args()
    rows = read_rows(args.source, args.rows)
    n = sum(len(v) for v in rows.values())
    print(f"Load average at the start: {'{:.1f} / {:.1f} / {:.1f}'.format(*os.getloadavg())}.\n")
    res: dict[str, tuple[float, float]] = {}
    short: list[tuple[str, str, str, int, float, float]] = []
    with tempfile.TemporaryDirectory() as d:
        bare = fresh_db(Path(d) / "bare.db", False)
        w, c, _, _ = sync_apply(bare, rows, args.page)
        res["the pull without the index (pages)"] = (w, c)
        db = fresh_db(Path(d) / "idx.db", True)
        w, c, bw, bc = sync_apply(db, rows, args.page)
        res["the pull with the index: pages"] = (w, c)
        res["today's build (`finish_search`)"] = (bw, bc)
        raw = sqlite3.connect(db, isolation_level=None)
        for label, fn in [
            ("today's documents alone (Python, no FTS5)", lambda: _documents(raw)),
            ("trigram, C only, a document a row", lambda: _trigram(raw, 1)),
            ("hybrid: Chinese tokens in Python + ASCII trigrams in C", lambda: _hybrid(raw)),
            *[(f"trigram, C only, blocks of {b} rows", (lambda b=b: _trigram(raw, b))) for b in args.blocks],
        ]:
            raw.execute("BEGIN")
            res[label] = _timed(fn)
            if label.endswith("a document a row"):
                short += _short_queries(raw, args.reps, "_tri", SHORT)
            elif label.startswith("hybrid"):
                short += _short_queries(raw, args.reps, "_ht", tuple(x for x in SHORT if x.isascii()))
            raw.execute("ROLLBACK")
        raw.close()
    base = res["the pull without the index (pages)"][1]
    print(
        f"Load average at the end: {'{:.1f} / {:.1f} / {:.1f}'.format(*os.getloadavg())}; "
        f"SQLite {sqlite3.sqlite_version}.\n"
    )
    print(f"| {n:,} library rows | wall | CPU | CPU / the pull without the index |")
    print("|---|---|---|---|")
    for label, (w, c) in res.items():
        print(f"| {label} | {w:.2f} s | {c:.2f} s | ×{c / base:.2f} |")
    print(
        "\n| trigram table | library | query | its terms ORed | today's index, CPU ms (median) "
        "| trigram, CPU ms (median) |"
    )
    print("|---|---|---|---|---|---|")
    for suffix, t, text, nt, a, b in short:
        print(f"| `{suffix}` | {t} | `{text}` | {nt} | {a:.2f} | {b:.2f} |")


if __name__ == "__main__":
    main()
