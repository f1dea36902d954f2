"""PostgreSQL hub: the change seq comes from a sequence, not the locked counter row (issue 13 goal 6)

Revision ID: 0028
Revises: 0027

A push used to take the ``hub_counter`` row (``UPDATE … RETURNING``) and hold its lock until its
commit was flushed, so concurrent pushes committed one WAL flush at a time. On PostgreSQL the seq now
comes from ``hub_seq`` (``nextval`` does not wait on anyone); pulls serve only up to the in-flight
horizon (``HubBase.safe_head``), so a change that commits late is never skipped. The sequence starts
where the counter stands. SQLite hubs and stations keep the counter (one writer): nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    op.execute("CREATE SEQUENCE IF NOT EXISTS hub_seq AS bigint MINVALUE 0 START WITH 0")
    op.execute(
        "SELECT setval('hub_seq', coalesce((SELECT value FROM hub_counter WHERE name = 'seq'), 0), true)"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    op.execute(
        "UPDATE hub_counter SET value = GREATEST(value, (SELECT last_value FROM hub_seq)) WHERE name = 'seq'"
    )
    op.execute("DROP SEQUENCE IF EXISTS hub_seq")
