"""Library tombstone purge: delete old tombstones and raise the horizon below which a pull is 410."""

from __future__ import annotations

from qi_station.core.clock import env_now
from qi_station.sync.hub.base import HubBase
from qi_station.sync.hub.tables import core_table, hub_tables
from qi_station.sync.proto import LIBRARY_TABLES, tombstone_days


class PurgeJobs(HubBase):
    def purge_tombstones(self, days: int | None = None) -> dict[str, int]:
        """Physically delete library tombstones older than ``days`` (default TOMBSTONE_DAYS or
        QI_HUB_TOMBSTONE_DAYS) and raise the horizon to the highest purged seq, in one transaction."""
        from datetime import timedelta

        import sqlalchemy as sa

        cutoff = env_now() - timedelta(days=tombstone_days(days))
        purged = 0
        with self.write() as c:
            top = 0
            for t in LIBRARY_TABLES:
                tt = core_table(t)
                cond = sa.and_(tt.c.deleted == sa.true(), tt.c.updated_at <= cutoff)
                mx = c.execute(sa.select(sa.func.max(tt.c.seq)).where(cond)).scalar()
                if mx is None:
                    continue
                top = max(top, int(mx))
                purged += int(c.execute(tt.delete().where(cond)).rowcount or 0)
            old = int(
                c.execute(sa.text("SELECT v FROM hub_meta WHERE k = 'tombstone_horizon'")).scalar() or 0
            )
            if top > old:
                hm = hub_tables()["hub_meta"]
                if old:
                    c.execute(sa.update(hm).where(hm.c.k == "tombstone_horizon").values(v=str(top)))
                else:
                    self.meta_insert(c, "tombstone_horizon", str(top))
        return {"purged": purged, "horizon": max(top, old)}
