"""the library search index: triples of the pinyin and initials (issue 13)

Revision ID: 0020
Revises: 0019

An ASCII query of three characters or more is looked up as a phrase of its runs of three characters
(``t`` / ``u`` tokens, :mod:`qi_station.db.searchindex`) rather than of its pairs, whose doclists
hold most of the library (``ji`` ``an`` ``ng``). The index is contentless: a row's old document must
be known to delete it, so the whole index is built again here (pending rows included), merged into
one segment.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from qi_station.db import searchindex

    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    searchindex.rebuild(bind)


def downgrade() -> None:
    # the documents of 0018 hold no triples: built again by the code of that revision, not this one
    from qi_station.db import searchindex

    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for t in searchindex.TABLES:
        searchindex.mark_stale(bind, t)
