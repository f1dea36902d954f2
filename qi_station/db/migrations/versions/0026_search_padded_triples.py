"""the library search index holds one triple per pinyin character, no pairs (issue 13: the index on a
large pull)

Revision ID: 0026
Revises: 0025

A document's pinyin tokens are :func:`qi_station.db.searchindex._padded_triples` (the run of three
characters each character starts, the text padded at the end) instead of every pair and every triple:
a one- or two-letter query reads the triples it starts (a prefix query) instead of the pairs. The
tables keep their definition; the index is contentless, so it is built again here, whole, from the
library tables (pending rows included). About a third fewer tokens: a build after a large pull inserts
and merges less (docs/benchmarks.md, idx stop 23).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from qi_station.db import searchindex

    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    searchindex.rebuild(bind)


def downgrade() -> None:
    # the queries of 0025 read pairs this index does not hold: every table waits for a rebuild by the
    # code of that revision (the search scans meanwhile, the next sync's finish_search builds it)
    from qi_station.db import searchindex

    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for t in searchindex.TABLES:
        searchindex.mark_stale(bind, t)
