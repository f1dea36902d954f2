"""enterprises written by ``qi-station generate`` are listed (outside finding: a real request on one
blocked sync for good)

Revision ID: 0019
Revises: 0018

The generator's rows are local test data: never written to the outbox, and their ids come from a
seeded RNG (two stations generated with one seed hold the same ids). A real request on a generated
enterprise was pushed, the hub had never seen the enterprise, and every later sync was refused
``[own_enterprise]``. ``generated_enterprise`` lists them (one indexed lookup): real work on one makes it
real first (``db.write.adopt_generated``: a new id of the station's own, queued whole), like a demo
enterprise; ``sync.station.heal.resend_all``, which queues every own row as real, empties it.

``hub_station.device_id``: the install (PC and database file) that last pushed for the station
(``sync.hub.push.PushJobs.check_device``): a second copy of one station database pushing under the
same identity is refused ``[device_conflict]`` and recorded in ``sync_conflict``, never healed by
renumbering requests whose numbers were already given out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("generated_enterprise", sa.Column("id", sa.String(), primary_key=True))
    with op.batch_alter_table("hub_station") as b:
        b.add_column(sa.Column("device_id", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hub_station") as b:
        b.drop_column("device_id")
    op.drop_table("generated_enterprise")
