"""the month rollup keeps the resolutions' on time and followed up (按期办结率, 回访率 of earlier months)

Revision ID: 0027
Revises: 0026

The report's 上月 and 本年累计 of 按期办结率 and 回访率 read every move into ``resolved`` / ``closed`` from
January to the previous month (about a million at a 10 M-request hub). ``report_month`` gets two columns,
``on_time`` and ``followed_up`` (``qi_station/db/rollup.py``: of each request's last resolution of the
month, on or before the promised date; followed by a move into ``closed`` within the month), the
triggers are made again from ``rollup.py`` and the rollup rebuilt from the ledger.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from qi_station.db import rollup

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW = ("on_time", "followed_up")


def _run(statements: list[str]) -> None:
    for sql in statements:
        op.execute(sa.text(sql.replace(":", "\\:")))


def upgrade() -> None:
    d = op.get_bind().dialect.name
    _run(rollup.drop_sql(d))
    for v in NEW:
        op.add_column(rollup.TABLE, sa.Column(v, sa.BigInteger(), nullable=False, server_default="0"))
    _run(rollup.rebuild_sql(d) + rollup.trigger_sql(d))


def downgrade() -> None:
    d = op.get_bind().dialect.name
    _run(rollup.drop_sql(d))
    with op.batch_alter_table(rollup.TABLE) as batch:
        for v in NEW:
            batch.drop_column(v)
    _run(rollup.trigger_sql(d, values=rollup.VALUES_0013))
