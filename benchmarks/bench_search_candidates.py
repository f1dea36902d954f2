"""FTS candidates of each bench_core query (the `whole` expression of the substring tier): phrase
(main, detail=full) against AND (branch, detail=none), and the rows the scan's condition keeps."""
import sqlite3, sys, importlib.util
sys.path.insert(0, "/work/wt-idx/benchmarks"); sys.path.insert(0, "/work/wt-idx")
from bench_core import QUERIES
from qi_station.services import search as S
from qi_station.core import domain
import si_main
from qi_station.db import searchindex as si_new
full = sqlite3.connect("file:/tmp/bench/idx/mainsrc/benchmarks/out/core-1000-200000-s1.db?mode=ro", uri=True)
none = sqlite3.connect("file:/work/wt-idx/benchmarks/out/core-1000-200000-s1.db?mode=ro", uri=True)
tot = [0, 0]; rows = []
for cls, per in QUERIES.items():
    for kind, qs in per.items():
        t = domain.KIND_TABLE[kind]
        for q in qs:
            out = []
            for mod, conn in ((si_main, full), (si_new, none)):
                S.searchindex = mod
                terms = S._fts_terms(q, None, None)
                if terms is None: out.append(None); continue
                out.append(conn.execute(f"SELECT count(*) FROM {t}_fts WHERE {t}_fts MATCH ?", (terms[1],)).fetchone()[0])
            rows.append((cls, kind, q, *out))
            if None not in out: tot[0] += out[0]; tot[1] += out[1]
for r in rows: print(r)
print("total candidates phrase / AND:", tot, "ratio %.3f" % (tot[1] / tot[0]))
worse = sorted(rows, key=lambda r: -(r[4] or 0) / max(r[3] or 1, 1))[:8]
print("largest growth:", worse)
