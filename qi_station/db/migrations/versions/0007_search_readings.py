"""search text gains every reading people type: city, employer, speciality and element names

Revision ID: 0007
Revises: 0004

The one search-text formula (``db.searchtext.prepare``) now writes the pinyin and initials of an
item's city, element names and short fields (employer, speciality …) and the other readings of its
name (乐陵 leling, 费县 feixian, a leading surname: 曾氏精密 zsjm) into ``haystack``; a name that
starts with a surname and 氏 reads the surname's reading. Existing rows of the four libraries and of
``enterprise`` are recomputed here, in bulk (one executemany per batch; no schema change).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("expert", "institution", "equipment", "project", "enterprise")
BATCH = 5000


def recompute(bind: Any, table: str) -> int:
    """Recompute name_py, name_initials and haystack of every row of ``table``; the row count."""
    from qi_station.db.searchtext import HAYSTACK_FIELDS, PINYIN_FIELDS, prepare

    cols = list(
        dict.fromkeys(("id", "name", "city_code", "elements", *HAYSTACK_FIELDS[table], *PINYIN_FIELDS[table]))
    )
    update = sa.text(
        f"UPDATE {table} SET name_py = :name_py, name_initials = :name_initials, haystack = :haystack "
        "WHERE id = :id"
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
                }
            )
        if params:
            bind.execute(update, params)
        done += len(params)
    return done


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        recompute(bind, table)


def downgrade() -> None:
    """The older formula's text is a subset of the new one: nothing to undo."""
