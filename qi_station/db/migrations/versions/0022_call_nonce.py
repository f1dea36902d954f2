"""signed station calls: the hub remembers each call's nonce inside the time window (outside attacker:
a stolen token alone read a station's ledger with GET /pull and /restore; a replayed push rewrote it)

Revision ID: 0022
Revises: 0021

``hub_call_nonce``: the nonce of every signed station call (push, pull, restore;
``proto.call_message``) whose time is inside ``proto.CALL_WINDOW_MS``; a call that brings one again is a
replay and is refused ``[replayed_call]`` (``sync.hub.registry.RegistryJobs.use_nonce``). Rows older than
the window are pruned as new ones come in.

``hub_oseq``: the digest of every station change the hub applied, by station and oseq
(``proto.change_digest``; ``sync.hub.push.PushJobs._check_duplicates``). The same oseq re-sent with the
same content is a duplicate (a lost reply); with other content it was made by another copy of the
station, whatever device id that copy reports: refused ``[device_conflict]`` (``station_behind`` when the
station says it was restored from a backup). Changes applied before this revision have no digest and
keep the older rule.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_call_nonce",
        sa.Column("station_code", sa.String(), primary_key=True),
        sa.Column("nonce", sa.String(), primary_key=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_hub_call_nonce_at_ms", "hub_call_nonce", ["at_ms"])
    op.create_table(
        "hub_oseq",
        sa.Column("station_id", sa.String(), primary_key=True),
        sa.Column("oseq", sa.BigInteger(), primary_key=True),
        sa.Column("digest", sa.String(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hub_oseq")
    op.drop_index("ix_hub_call_nonce_at_ms", table_name="hub_call_nonce")
    op.drop_table("hub_call_nonce")
