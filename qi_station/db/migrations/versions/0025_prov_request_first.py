"""the first request of each (enterprise row, station), kept for the monthly report (issue 13 goal 2)

Revision ID: 0025
Revises: 0023

``request_first`` holds, per (enterprise row, station), the earliest ``received_at`` of its requests that
are not deleted: the report's "first request ever of the enterprises served this month" reads one row per
served enterprise row instead of every request of each (1.57 M index entries a month at a 10 M-request
hub). Kept right by triggers on ``request`` (``qi_station/db/rollup.py``, where the SQL lives), built here
from the existing requests; ``report rebuild`` / ``hub report rebuild`` build it again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from qi_station.db import rollup

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        rollup.FIRST_TABLE,
        sa.Column("enterprise_id", sa.String(), nullable=False),
        sa.Column("station_code", sa.String(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(*rollup.FIRST_KEY),
    )
    bind = op.get_bind()
    for sql in rollup.first_rebuild_sql() + rollup.first_trigger_sql(bind.dialect.name, per_statement=False):
        op.execute(sa.text(sql.replace(":", "\\:")))


def downgrade() -> None:
    bind = op.get_bind()
    for sql in rollup.first_drop_sql(bind.dialect.name):
        op.execute(sql)
    op.drop_table(rollup.FIRST_TABLE)
