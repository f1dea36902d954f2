"""Library tombstone purge: delete old tombstones and raise the horizon below which a pull is 410."""

from __future__ import annotations

from qi_station.core.clock import env_now
from qi_station.sync.hub.base import HubBase
from qi_station.sync.hub.tables import core_table, hub_tables
from qi_station.sync.proto import LIBRARY_TABLES, SyncError, tombstone_days

#: ``hub prune-oseq``: the change digests kept per station below its ack (default), and the least
OSEQ_KEEP = 100_000
OSEQ_KEEP_MIN = 1_000


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

    def prune_oseq(self, keep: int = OSEQ_KEEP) -> dict[str, int]:
        """``hub prune-oseq``: per station, delete the digests (``hub_oseq``) of changes more than
        ``keep`` below the hub's ack of that station; returns the rows deleted and kept.

        What a digest is for: a change re-sent at or below the ack with other content is another copy
        of the station (``device_conflict``, ``push._check_duplicates``). Ordinary sync never needs an
        old one: a station re-sends only its changes above its own ack, which trails the hub's by at most
        the batch whose reply was lost; an up bundle imported again holds the rows the hub applied (their
        ids are held: duplicates without a digest too); a station restored with ``qi-station restore``
        catches up before it pushes. What pruning gives up: a copy that forked more than ``keep`` changes
        below the ack AND reports the original's device id (``check_device`` refuses any other) is then
        judged by the older rule (a change whose row the hub never saw: ``station_behind``; one whose row
        it holds: a duplicate, not applied) instead of ``device_conflict``. docs/sync.md, docs/deploy.md."""
        import sqlalchemy as sa

        if not isinstance(keep, int) or keep < OSEQ_KEEP_MIN:
            raise SyncError(
                400,
                "bad_keep",
                f"keep: at least {OSEQ_KEEP_MIN} changes per station (a lost reply re-sends a whole "
                f"batch) / 至少保留 {OSEQ_KEEP_MIN} 条",
                field="keep",
                rule="min",
            )
        hs, ho = hub_tables()["hub_station"], hub_tables()["hub_oseq"]
        with self.engine.connect() as c:
            stations = [(r[0], int(r[1] or 0)) for r in c.execute(sa.select(hs.c.id, hs.c.acked_oseq))]
        deleted = 0
        for sid, acked in stations:  # one short transaction per station: pushes go on in between
            if acked - keep < 1:
                continue
            with self.write() as c:
                acked = int(c.execute(sa.select(hs.c.acked_oseq).where(hs.c.id == sid)).scalar() or 0)
                deleted += int(
                    c.execute(ho.delete().where(ho.c.station_id == sid, ho.c.oseq <= acked - keep)).rowcount
                    or 0
                )
        with self.engine.connect() as c:
            kept = int(c.execute(sa.select(sa.func.count()).select_from(ho)).scalar() or 0)
        return {"deleted": deleted, "kept": kept, "keep": keep}
