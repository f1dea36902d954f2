"""spreadsheet rows imported into the ledger (``qi-station request import``)

Revision ID: 0011
Revises: 0010

``import_row`` keeps each imported row's idempotency key and the request it became, so importing
the same ledger file again adds nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_row",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["request.id"]),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_import_row_request_id", "import_row", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_import_row_request_id", "import_row")
    op.drop_table("import_row")
