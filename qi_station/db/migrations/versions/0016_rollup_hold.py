"""the month rollup's triggers can be held for a batch write (issue 13 goal 6)

Revision ID: 0016
Revises: 0015

The hub's push writes hundreds of ledger rows per batch; the per-row triggers of revision 0013
recomputed a request's contribution to ``report_month`` once per event. The triggers are made again
with a guard (``qi_station/db/rollup.py``: a transaction-local setting on PostgreSQL, a row of
``report_month_hold`` on SQLite) so a batch write holds them and puts its requests' contributions back
once, set-based (``rollup.held``). The rollup itself is unchanged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from qi_station.db import rollup

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _triggers(statements: list[str]) -> None:
    for sql in statements:
        op.execute(sa.text(sql.replace(":", "\\:")))


def upgrade() -> None:
    op.create_table(rollup.HOLD_TABLE, sa.Column("id", sa.Integer(), primary_key=True))
    bind = op.get_bind()
    _triggers(
        rollup.drop_sql(bind.dialect.name) + rollup.trigger_sql(bind.dialect.name, values=rollup.VALUES_0013)
    )


def downgrade() -> None:
    bind = op.get_bind()
    # the unguarded triggers of 0013
    _triggers(
        rollup.drop_sql(bind.dialect.name)
        + rollup.trigger_sql(bind.dialect.name, guard=False, values=rollup.VALUES_0013)
    )
    op.drop_table(rollup.HOLD_TABLE)
