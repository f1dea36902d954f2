"""PostgreSQL: the new-row triggers of ``request_first`` and ``report_low_rating`` run once per statement
(issue 13 goal 6)

Revision ID: 0029
Revises: 0028

``request_first_ins`` (revision 0025: an upsert per new request) and ``report_low_rating_enterprise_ins``
(revision 0024: an UPDATE per new enterprise) fired once per row, so a hub push's COPY of a thousand
requests ran a thousand upserts. On PostgreSQL they become statement-level triggers over the
statement's new rows (``REFERENCING NEW TABLE``; COPY fills it too): one upsert of each key's earliest
time, one UPDATE of the new enterprises' names (``qi_station/db/rollup.py``, where the SQL lives). The
rows they write are the same. SQLite keeps its row triggers (its writers insert a row at a time, and it
has no transition tables): nothing to do there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from qi_station.db import rollup

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAMES = ("request_first_ins", "report_low_rating_enterprise_ins")


def _ins_triggers(per_statement: bool) -> list[str]:
    """The DROP and CREATE statements of the two new-row triggers only (their functions included)."""
    tables = dict(rollup.LOW_TRIGGERS) | {"request_first_ins": "request"}
    made = rollup.first_trigger_sql("postgresql", per_statement=per_statement) + rollup.low_trigger_sql(
        "postgresql", per_statement=per_statement
    )
    out: list[str] = []
    for name in _NAMES:
        out += [f"DROP TRIGGER IF EXISTS {name} ON {tables[name]}", f"DROP FUNCTION IF EXISTS {name}()"]
        out += [s for s in made if f" {name}()" in s or f" {name} " in s]
    return out


def _run(per_statement: bool) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for sql in _ins_triggers(per_statement):
        op.execute(sa.text(sql.replace(":", "\\:")))


def upgrade() -> None:
    _run(True)


def downgrade() -> None:
    _run(False)
