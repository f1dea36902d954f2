"""a station keeps its staff list (name, role)

Revision ID: 0005
Revises: 0004

``staff``: who works at this station (``name``, ``role`` one of ``core.domain.ROLES``). Station-local:
it never travels; every event already carries its operator's name.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), primary_key=True),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("staff")
