"""The hub (SQLite or PostgreSQL, SQLAlchemy Core; same code and migrations for both).

:class:`Hub` is composed of one mixin per job, each in its own module:

- :mod:`.base`      engine, migrations, meta, the write transaction, seq stamping, station-row helpers
- :mod:`.tables`    the tables and the strict wire-to-database value conversion
- :mod:`.registry`  stations, enrollment tokens, online enrollment, restore of a lost station
- :mod:`.push`      THE apply of station changes (HTTP push and up bundles)
- :mod:`.pull`      THE read of hub changes (HTTP pull and down bundles)
- :mod:`.library`   library import / upsert / delete
- :mod:`.assign`    hub-side edits of a request
- :mod:`.bundles`   up-bundle import, down-bundle export
- :mod:`.purge`     library tombstone purge and the horizon
- :mod:`.reference` hub-distributed reference documents (the holiday calendar by year)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qi_station.core.ids import uuid7
from qi_station.sync import keys
from qi_station.sync.hub.assign import AssignJobs
from qi_station.sync.hub.bundles import BundleJobs
from qi_station.sync.hub.library import LibraryJobs, demo_library_rows
from qi_station.sync.hub.purge import PurgeJobs
from qi_station.sync.hub.reference import ReferenceJobs
from qi_station.sync.hub.registry import RegistryJobs


class Hub(BundleJobs, RegistryJobs, LibraryJobs, AssignJobs, PurgeJobs, ReferenceJobs):
    """A handle on one hub database (cheap; engines are cached per URL)."""

    def init(self, library: str | Path | None = None, *, demo: bool = True) -> dict[str, Any]:
        """Create or upgrade the database, make the hub key once, load the shipped holiday calendar when
        the hub distributes none yet, and load a library (the given file, else the demo library when the
        hub has none)."""
        self.migrate()
        meta = self.meta()
        if "hub_id" not in meta:
            priv, pub = keys.generate()
            with self.write() as c:
                for k, v in (("hub_id", uuid7()), ("hub_privkey", priv), ("hub_pubkey", pub)):
                    self.meta_insert(c, k, v)
        out: dict[str, Any] = {"database": self.safe_url(), **self.info()}
        if not self.references("calendar"):  # the calendar years shipped with the program, to distribute
            from qi_station.db.write import SHIPPED_CALENDAR

            out["calendar"] = self.import_calendar(SHIPPED_CALENDAR)["years"]
        if library is not None:
            out["library"] = self.import_library(library)
        elif demo and self.library_count() == 0:
            rows = demo_library_rows()
            if rows:
                out["library"] = self.upsert_library(rows, tombstone_missing=False)
        return out
