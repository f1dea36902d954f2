"""an index on request (promised_date) for the current month's report (issue 13 goal 2)

Revision ID: 0031
Revises: 0030

The report of the month not ended yet counts the requests overdue as of today: the month rollup gives
those promised in the month, and the requests promised in the month's fewer days (before today, or from
today on) are read from the ledger (``reports/ledger.py``, ``ledger_rollup``). Without an index on the
promised date SQLite found them by walking every event before the month's end (1.4 M events, ~2 s of
CPU at a 1 M-request station) and PostgreSQL by a scan of every request; with it, a range of the index
(a day's or a few weeks' requests) and their events by request.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # IF NOT EXISTS: a database whose revision was set back by hand (a test replays 0030 that way) keeps it
    op.create_index("ix_request_promised", "request", ["promised_date"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_request_promised", table_name="request", if_exists=True)
