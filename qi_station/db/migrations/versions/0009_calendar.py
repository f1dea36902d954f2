"""working days: the holiday calendar and hub-distributed reference documents

Revision ID: 0009
Revises: 0008

``holiday`` (day, kind off|work, name, year) is the working-day calendar; the years shipped with the
program (``db/calendar/cn-holidays.csv``) are loaded here. ``reference`` holds the hub's reference
documents (the calendar by year, and any later kind), synced like a library table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holiday",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
    )
    op.create_index("ix_holiday_year", "holiday", ["year"])
    op.create_table(
        "reference",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("rev", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_reference_kind", "reference", ["kind"])
    op.create_index("ix_reference_seq", "reference", ["seq"])
    from qi_station.db.write import load_shipped_calendar

    load_shipped_calendar(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_reference_seq", "reference")
    op.drop_index("ix_reference_kind", "reference")
    op.drop_table("reference")
    op.drop_index("ix_holiday_year", "holiday")
    op.drop_table("holiday")
