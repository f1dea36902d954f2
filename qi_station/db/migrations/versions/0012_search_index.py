"""the library search index (FTS5, issue 13)

Revision ID: 0012
Revises: 0011

One contentless FTS5 table per searched table (``expert_fts`` … ``enterprise_fts``), the
``search_pending`` table and the triggers that fill it (:mod:`qi_station.db.searchindex`); the index
of the existing rows is built here in bulk.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from qi_station.db import searchindex

    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for stmt in searchindex.ddl():
        op.execute(stmt)
    searchindex.rebuild(bind)


def downgrade() -> None:
    from qi_station.db import searchindex

    if op.get_bind().dialect.name != "sqlite":
        return
    for stmt in searchindex.drop_ddl():
        op.execute(stmt)
