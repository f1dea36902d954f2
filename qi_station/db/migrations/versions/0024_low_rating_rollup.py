"""the low ratings kept for the monthly report's open-rectification list; a partial index of the fee
corrections (issue 13)

Revision ID: 0024
Revises: 0023

``report_low_rating``: one row per closed request rated 1 or 2 (not deleted) with what the report's
open-rectification list shows (station, number, enterprise name, rating, time of the rating) and its
first rectify record, kept right by triggers on ``request``, ``request_event`` and ``enterprise``
(``qi_station/db/rollup.py``, where the SQL lives), built here from the existing ledger. The list spans
the history; the report reads it from this small table, in its order (``ix_report_low_rating_closed``).

``ix_request_event_correct`` on ``request_event (request_id, n) WHERE kind = 'correct'``: the report
follows the later fee corrections of the month's resolutions and of the 明细's resolved requests
(``qi_station/reports/fees.py``) in one read by request id; corrections are rare, so a request without
one costs a probe of this small index instead of a walk over every event of the request.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from qi_station.db import rollup

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_request_event_correct",
        "request_event",
        ["request_id", "n"],
        sqlite_where=sa.text("kind = 'correct'"),
        postgresql_where=sa.text("kind = 'correct'"),
    )
    op.create_table(
        rollup.LOW_TABLE,
        sa.Column("request_id", sa.String(), primary_key=True),
        sa.Column("station_code", sa.String(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("enterprise_id", sa.String(), nullable=True),
        sa.Column("ent_name", sa.String(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("fixed", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_report_low_rating_closed", rollup.LOW_TABLE, ["closed_at", "number"])
    op.create_index("ix_report_low_rating_enterprise", rollup.LOW_TABLE, ["enterprise_id"])
    bind = op.get_bind()
    for sql in rollup.low_rebuild_sql() + rollup.low_trigger_sql(bind.dialect.name, per_statement=False):
        op.execute(sa.text(sql.replace(":", "\\:")))


def downgrade() -> None:
    bind = op.get_bind()
    for sql in rollup.low_drop_sql(bind.dialect.name):
        op.execute(sql)
    op.drop_index("ix_report_low_rating_enterprise", rollup.LOW_TABLE)
    op.drop_index("ix_report_low_rating_closed", rollup.LOW_TABLE)
    op.drop_table(rollup.LOW_TABLE)
    op.drop_index("ix_request_event_correct", "request_event")
