"""How many candidates the library search index gives the substring tier, for every query of
``bench_core.py``: this checkout's ``searchindex`` over one database against another ``searchindex``
(e.g. main's, from a ``git archive`` copy) over its own database. Deterministic (counts, not times).

    python benchmarks/bench_search_candidates.py --db branch.db --base-src /tmp/main --base-db main.db
"""

from __future__ import annotations

import argparse
import importlib.util
import sqlite3
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("base_searchindex", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True, help="a database indexed by this checkout")
    ap.add_argument("--base-src", type=Path, required=True, help="a root holding the other qi_station")
    ap.add_argument("--base-db", type=Path, required=True, help="a database indexed by that code")
    args = ap.parse_args()
    from bench_core import QUERIES

    from qi_station.core import domain
    from qi_station.db import searchindex
    from qi_station.services import search as S

    base = _module(args.base_src / "qi_station" / "db" / "searchindex.py")
    sides = [(base, sqlite3.connect(f"file:{args.base_db}?mode=ro", uri=True))]
    sides.append((searchindex, sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)))
    rows: list[tuple[Any, ...]] = []
    try:
        for cls, per in QUERIES.items():
            for kind, qs in per.items():
                t = domain.KIND_TABLE[kind]
                for q in qs:
                    got = []
                    for mod, conn in sides:
                        S.searchindex = mod  # type: ignore[attr-defined]
                        terms = S._fts_terms(q, None, None)
                        sql = f"SELECT count(*) FROM {t}_fts WHERE {t}_fts MATCH ?"
                        got.append(None if terms is None else conn.execute(sql, (terms[1],)).fetchone()[0])
                    rows.append((cls, kind, q, *got))
    finally:
        S.searchindex = searchindex  # type: ignore[attr-defined]
    both = [r for r in rows if None not in r[3:]]
    a, b = sum(r[3] for r in both), sum(r[4] for r in both)
    print("| class | library | query | base candidates | this checkout | ratio |\n|---|---|---|---|---|---|")
    for r in sorted(both, key=lambda r: -r[4] / max(r[3], 1))[:12]:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:,} | {r[4]:,} | ×{r[4] / max(r[3], 1):.2f} |")
    print(f"\nEvery query ({len(both)}): {a:,} → {b:,} candidates (×{b / a:.3f}).")


if __name__ == "__main__":
    main()
