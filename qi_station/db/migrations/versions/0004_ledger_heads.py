"""the hub keeps each station's signed running head; a station's running head is sealed

Revision ID: 0004
Revises: 0003

``hub_station`` gains the last running head the station signed and the hub acknowledged
(``head_n`` events, ``head_hash``, ``head_sig``, ``head_at``). On a station database (one with a
self station row) the running head over its events (kv ``event_head``, ``core.chain.next_head`` in
insertion order) is sealed for the first time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_station") as b:
        b.add_column(sa.Column("head_n", sa.BigInteger(), nullable=False, server_default="0"))
        b.add_column(sa.Column("head_hash", sa.String(), nullable=True))
        b.add_column(sa.Column("head_sig", sa.String(), nullable=True))
        b.add_column(sa.Column("head_at", sa.DateTime(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if bind.execute(sa.text("SELECT 1 FROM station WHERE is_self")).first() is None:
        return
    if bind.execute(sa.text("SELECT 1 FROM kv WHERE k = 'event_head'")).first() is not None:
        return
    from qi_station.db.write import seal_event_head

    seal_event_head(bind)


def downgrade() -> None:
    with op.batch_alter_table("hub_station") as b:
        b.drop_column("head_at")
        b.drop_column("head_sig")
        b.drop_column("head_hash")
        b.drop_column("head_n")
