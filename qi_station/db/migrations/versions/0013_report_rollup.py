"""the month rollup of the ledger for the monthly report (issue 13)

Revision ID: 0013
Revises: 0012

``report_month`` keeps, per (station, Asia/Shanghai month, promised month), what the report needs from
the whole event history (open-count deltas, moves, ratings, outcomes of the last resolutions), kept
right by triggers on ``request`` and ``request_event`` (``qi_station/db/rollup.py``, where the SQL
lives), built here from the existing ledger. An index on ``request (enterprise_id, station_code,
deleted, received_at)`` answers "first request of an enterprise" from the index alone; one on
``request (station_code, updated_at)`` a station's "data as of" at the hub; a partial one on ``request_event (request_id, at) WHERE kind =
'rectify'`` a request's first rectify record.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from qi_station.db import rollup

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        rollup.TABLE,
        sa.Column("station_code", sa.String(), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("promised_month", sa.String(7), nullable=False),
        *(sa.Column(v, sa.BigInteger(), nullable=False, server_default="0") for v in rollup.VALUES_0013),
        sa.PrimaryKeyConstraint(*rollup.KEY),
    )
    op.create_index(
        "ix_request_enterprise_first", "request", ["enterprise_id", "station_code", "deleted", "received_at"]
    )
    op.create_index("ix_request_station_updated", "request", ["station_code", "updated_at"])
    op.create_index(
        "ix_request_event_rectify",
        "request_event",
        ["request_id", "at"],
        sqlite_where=sa.text("kind = 'rectify'"),
        postgresql_where=sa.text("kind = 'rectify'"),
    )
    bind = op.get_bind()
    d, old = bind.dialect.name, rollup.VALUES_0013  # the columns of this revision
    for sql in rollup.rebuild_sql(d, old) + rollup.trigger_sql(d, values=old):
        op.execute(sa.text(sql.replace(":", "\\:")))


def downgrade() -> None:
    bind = op.get_bind()
    for sql in rollup.drop_sql(bind.dialect.name):
        op.execute(sql)
    op.drop_index("ix_request_event_rectify", "request_event")
    op.drop_index("ix_request_station_updated", "request")
    op.drop_index("ix_request_enterprise_first", "request")
    op.drop_table(rollup.TABLE)
