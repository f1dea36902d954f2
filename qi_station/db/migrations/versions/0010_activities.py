"""activities that are not requests (visits, training sessions, events)

Revision ID: 0010
Revises: 0009

``activity``: one row per visit 走访 / training 培训 / event 活动 a station held, with how many
enterprises and people it reached. The same table holds the stations' activities at the hub.
``ix_request_low_rating``: a partial index of the closed requests rated 1 or 2 (rectification).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOW_RATING = "status = 'closed' AND satisfaction <= 2"


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("station_code", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("enterprises", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_activity_date", "activity", ["station_code", "date"])
    # the report's open rectifications: low ratings are rare, so a partial index finds them without
    # reading every closed request (the report's query repeats this condition literally)
    op.create_index(
        "ix_request_low_rating",
        "request",
        ["closed_at"],
        sqlite_where=sa.text(LOW_RATING),
        postgresql_where=sa.text(LOW_RATING),
    )


def downgrade() -> None:
    op.drop_index("ix_request_low_rating", table_name="request")
    op.drop_index("ix_activity_date", table_name="activity")
    op.drop_table("activity")
