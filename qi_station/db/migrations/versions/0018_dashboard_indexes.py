"""the dashboard's counts read from indexes alone (issue 13 goal 4)

Revision ID: 0018
Revises: 0017

The dashboard's month bars and the report's ``received`` figure count the requests received in each
month that are not tombstoned (``services/figures.received_by_month``). ``ix_request_received`` held
``received_at`` only, so each count read every request row of the month to check ``deleted`` (and, at
the hub, ``station_code``). The index now covers both: the counts come from the index alone. The
dashboard's count of institutions with a certificate expired or expiring (``core.qualify.attention_sql``,
also ``library expiring``) read every institution: one covering index per certificate's expiry answers
its OR of two ranges.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _received(columns: list[str]) -> None:
    op.drop_index("ix_request_received", table_name="request")
    op.create_index("ix_request_received", "request", columns)


EXPIRY = {"cma": "cnas", "cnas": "cma"}


def upgrade() -> None:
    _received(["received_at", "deleted", "station_code"])
    for cert, other in EXPIRY.items():
        op.create_index(
            f"ix_institution_{cert}_expiry", "institution", [f"{cert}_expiry", f"{other}_expiry", "deleted"]
        )


def downgrade() -> None:
    for cert in EXPIRY:
        op.drop_index(f"ix_institution_{cert}_expiry", table_name="institution")
    _received(["received_at"])
