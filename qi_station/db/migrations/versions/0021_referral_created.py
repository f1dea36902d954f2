"""the report's referrals of a month read by an index range (issue 13 goal 2, the province hub)

Revision ID: 0021
Revises: 0020

The monthly report counts the referrals made in the month (``reports/queries.collect``, step 5:
``f.created_at >= :s AND f.created_at < :e``). ``referral`` had no index on ``created_at``: every
report read every referral ever made (2.5 M rows at a 10 M-request province hub, one sequential scan
per report). ``ix_referral_created`` makes it a range of the month's rows.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_referral_created", "referral", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_referral_created", table_name="referral")
