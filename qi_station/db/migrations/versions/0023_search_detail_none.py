"""the library search index keeps no positions (issue 13: the index on a large pull)

Revision ID: 0023
Revises: 0022

Each ``*_fts`` table is made again with ``detail=none`` (:data:`qi_station.db.searchindex.FTS_OPTIONS`):
a query ANDs its tokens (:func:`qi_station.db.searchindex.phrase`) instead of asking for them as a
phrase, a superset still checked by the search's own ``instr`` condition (the same results). The index
is a third of its size and a build after a pull inserts and merges less. The index is contentless: it
is built again here, whole, from the library tables (pending rows included).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the options of revisions 0012 to 0022 (positions kept: phrase queries)
_FULL = "content='', columnsize=0, tokenize='ascii'"


def _recreate(bind: object, options: str) -> None:
    from qi_station.db import searchindex

    raw = searchindex._raw(bind)
    if raw is None or not searchindex.has_index(raw):
        return
    for t in searchindex.TABLES:
        raw.execute(f"DROP TABLE IF EXISTS {searchindex.fts(t)}")
        raw.execute(
            f"CREATE VIRTUAL TABLE {searchindex.fts(t)} USING fts5({', '.join(searchindex.FTS_COLUMNS)}, "
            f"{options})"
        )


def upgrade() -> None:
    from qi_station.db import searchindex

    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _recreate(bind, searchindex.FTS_OPTIONS)
    searchindex.rebuild(bind)


def downgrade() -> None:
    # the queries of 0022 are phrases: the tables get their positions back, empty, and wait for a
    # rebuild by the code of that revision (the search scans meanwhile)
    from qi_station.db import searchindex

    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _recreate(bind, _FULL)
    for t in searchindex.TABLES:
        searchindex.mark_stale(bind, t)
