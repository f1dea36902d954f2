"""an enterprise's former names are in its search text (``haystack`` / ``haystack_py``)

Revision ID: 0030
Revises: 0029

A rename used to replace the enterprise's search text with the new name's only, so neither the
library search nor the request list found it by the name operators still use. The search text now
ends with the former names (:data:`qi_station.db.searchtext.FORMER_MARK`); this recomputes it for
every enterprise already renamed (the others are unchanged) and, on SQLite, moves them into the
search index. The station's and the hub's rows alike (the hub serves them to other stations).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from qi_station.db import searchindex
    from qi_station.db.searchtext import prepare

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT * FROM enterprise WHERE former_names <> '[]' ORDER BY id")).mappings()
    params = []
    for r in rows:
        p = prepare("enterprise", {**r, "elements": r["elements"] or "[]"}, keep_pinyin=True)
        params.append({"id": r["id"], "h": p["haystack"], "hp": p["haystack_py"]})
    if params:
        bind.execute(sa.text("UPDATE enterprise SET haystack = :h, haystack_py = :hp WHERE id = :id"), params)
    if bind.dialect.name == "sqlite":
        searchindex.flush(bind, ("enterprise",))


def downgrade() -> None:
    pass  # the search text keeps the former names; older code searches it the same way
