"""an index on enterprise (uscc) for the monthly report (issue 13 goal 2)

Revision ID: 0015
Revises: 0014

An enterprise is its USCC in the report (the hub holds one row per station for it): the report's step
"enterprises" finds every row of the USCCs served in the month by this index instead of reading the whole
``enterprise`` table. The partial index of the low ratings (revision 0010) is rebuilt to cover what the
report's open-rectification list reads (it spans the whole history): the list is read from the index in
its order, without a lookup of each request's row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


LOW = "status = 'closed' AND satisfaction <= 2"  # core.rectify.LOW_SATISFACTION, as in revision 0010
COVER = ["closed_at", "number", "status", "satisfaction", "deleted", "station_code", "enterprise_id", "id"]


def _low_rating(columns: list[str]) -> None:
    op.drop_index("ix_request_low_rating", table_name="request")
    op.create_index(
        "ix_request_low_rating",
        "request",
        columns,
        sqlite_where=sa.text(LOW),
        postgresql_where=sa.text(LOW),
    )


def upgrade() -> None:
    op.create_index("ix_enterprise_uscc", "enterprise", ["uscc"])
    _low_rating(COVER)


def downgrade() -> None:
    _low_rating(["closed_at"])
    op.drop_index("ix_enterprise_uscc", "enterprise")
