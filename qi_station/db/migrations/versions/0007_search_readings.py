"""search text gains every reading people type: ``haystack_py``

Revision ID: 0007
Revises: 0006

The four libraries and ``enterprise`` gain ``haystack_py``: the one search-text formula
(``db.searchtext.prepare``) writes there the pinyin and initials of an item's short fields (employer,
speciality …) and the other readings of its name (乐陵 leling, 费县 feixian; a leading surname in a
name that is not a person's: 曾氏精密 zsjm), searched by ASCII queries only. A name that starts with
a surname and 氏 reads the surname's reading. Existing rows are recomputed here, in bulk (one
executemany per batch).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("expert", "institution", "equipment", "project", "enterprise")
BATCH = 5000


def recompute(bind: Any, table: str) -> int:
    """Recompute name_py, name_initials, haystack and haystack_py of every row of ``table``; the row
    count."""
    from qi_station.db.searchtext import HAYSTACK_FIELDS, PINYIN_FIELDS, prepare

    cols = list(
        dict.fromkeys(("id", "name", "city_code", "elements", *HAYSTACK_FIELDS[table], *PINYIN_FIELDS[table]))
    )
    update = sa.text(
        f"UPDATE {table} SET name_py = :name_py, name_initials = :name_initials, haystack = :haystack, "
        "haystack_py = :haystack_py WHERE id = :id"
    )
    rows = bind.execute(sa.text(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id")).all()
    done = 0
    for i in range(0, len(rows), BATCH):
        params = []
        for r in rows[i : i + BATCH]:
            row = dict(zip(cols, r, strict=True))
            row["elements"] = row["elements"] or "[]"
            p = prepare(table, row)
            params.append(
                {
                    "id": p["id"],
                    "name_py": p["name_py"],
                    "name_initials": p["name_initials"],
                    "haystack": p["haystack"],
                    "haystack_py": p["haystack_py"],
                }
            )
        if params:
            bind.execute(update, params)
        done += len(params)
    return done


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as b:
            b.add_column(sa.Column("haystack_py", sa.String(), nullable=False, server_default=""))
    bind = op.get_bind()
    for table in TABLES:
        recompute(bind, table)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as b:
            b.drop_column("haystack_py")
