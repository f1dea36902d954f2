"""sync: hub-side tables (stations, tokens, bundles, keys, seq counter)

Every station and hub database runs the same migrations; on a station these tables stay empty.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NC = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    op.create_table(
        "hub_station",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("pubkey", sa.String(), nullable=True),
        sa.Column("token_hash", sa.String(), nullable=True),
        sa.Column("enroll_hash", sa.String(), nullable=True),
        sa.Column("enroll_used", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("revoked", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("acked_oseq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("station_cursor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.Column("protocol", sa.Integer(), nullable=True),
        sa.Column("schema_rev", sa.String(), nullable=True),
        sa.Column("clock_skew_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", name="uq_hub_station_code"),
    )
    op.create_table(
        "hub_bundle",
        sa.Column("bundle_id", sa.String(), nullable=False),
        sa.Column("station_code", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("bundle_id"),
    )
    op.create_table(
        "hub_meta",
        sa.Column("k", sa.String(), nullable=False),
        sa.Column("v", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("k"),
    )
    op.create_table(
        "hub_counter",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute("INSERT INTO hub_counter(name, value) VALUES ('seq', 0)")
    op.create_index("ix_request_station_seq", "request", ["station_code", "seq"])
    op.create_index("ix_enterprise_seq", "enterprise", ["seq"])
    # Two stations may register the same enterprise (same USCC) under their own ids: at the hub the
    # USCC is unique per station, not globally.
    if op.get_bind().dialect.name == "sqlite":
        # outbox.oseq must never be reused after the outbox is emptied by an ack (0001 made it a plain
        # rowid, which restarts at max+1 = 1): the hub would skip the new changes as already acked.
        with op.batch_alter_table("outbox", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass
        with op.batch_alter_table("enterprise", naming_convention=_NC) as b:
            b.drop_constraint("uq_enterprise_uscc", type_="unique")
            b.create_unique_constraint("uq_enterprise_station_uscc", ["station_code", "uscc"])
    else:
        op.drop_constraint("enterprise_uscc_key", "enterprise", type_="unique")
        op.create_unique_constraint("uq_enterprise_station_uscc", "enterprise", ["station_code", "uscc"])


def downgrade() -> None:
    with op.batch_alter_table("enterprise", naming_convention=_NC) as b:
        b.drop_constraint("uq_enterprise_station_uscc", type_="unique")
        b.create_unique_constraint("enterprise_uscc_key", ["uscc"])
    op.drop_index("ix_enterprise_seq", "enterprise")
    op.drop_index("ix_request_station_seq", "request")
    op.drop_table("hub_counter")
    op.drop_table("hub_meta")
    op.drop_table("hub_bundle")
    op.drop_table("hub_station")
