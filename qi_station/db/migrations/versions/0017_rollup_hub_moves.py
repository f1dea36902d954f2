"""the month rollup counts the hub's status moves (a ``hub`` event that changed the status)

Revision ID: 0017
Revises: 0016

``hub assign --status cancelled`` reaches the ledger as a ``hub`` event (from/to status); the rollup's
triggers folded only ``created`` / ``status`` / ``referral`` events, so a request cancelled at the hub
was missing from the monthly figures (``db/rollup.move_sql`` is now the one definition of a move). The
triggers are made again from ``qi_station/db/rollup.py`` and the rollup rebuilt from the ledger.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from qi_station.db import rollup

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    d = bind.dialect.name
    for sql in (
        rollup.drop_sql(d)
        + rollup.rebuild_sql(d, rollup.VALUES_0013)
        + rollup.trigger_sql(d, values=rollup.VALUES_0013)
    ):
        op.execute(sa.text(sql.replace(":", "\\:")))


def downgrade() -> None:
    """The triggers stay as 0017 made them (0013's definition is not kept)."""
