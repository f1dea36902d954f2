"""request drafts survive a crash; an enterprise keeps its former names

Revision ID: 0006
Revises: 0005

``request_draft`` holds each unsaved request form (its typed fields as JSON) while the operator
types, so a crash or a kill loses nothing; it stays on this PC (never synced). ``enterprise`` gains
``former_names``: the names before each rename (JSON ``[{"name", "until", "by"}]``, oldest first),
which travels with the enterprise row to the hub.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_draft",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("operator", sa.String(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_request_draft_updated_at", "request_draft", ["updated_at"])
    with op.batch_alter_table("enterprise") as b:
        b.add_column(sa.Column("former_names", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("enterprise") as b:
        b.drop_column("former_names")
    op.drop_index("ix_request_draft_updated_at", "request_draft")
    op.drop_table("request_draft")
