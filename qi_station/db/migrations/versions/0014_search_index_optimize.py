"""the library search index merged into one segment per table (issue 13)

Revision ID: 0014
Revises: 0013

A database indexed by bulk loads (the generator, large imports) holds several FTS5 segments per
index, and a search reads every segment's doclist of each term it looks up:
:func:`qi_station.db.searchindex.optimize` merges them (same rows, same results; about 3 s per
100 000 library rows, once).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from qi_station.db import searchindex

    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    searchindex.flush(bind)
    searchindex.optimize(bind)


def downgrade() -> None:
    pass  # nothing to undo: the index holds the same rows
