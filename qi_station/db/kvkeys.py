"""Names of the station's ``kv`` rows that more than one part of the package reads.

The station sync code (``qi_station.sync.station``) writes them; the dashboard reads them. One name, one
constant: neither side guesses the other's spelling.
"""

from __future__ import annotations

#: the highest outbox sequence the hub has acknowledged (rows above it are still to upload)
ACKED_OSEQ = "acked_oseq"
#: when the last sync finished successfully (naive UTC, as stored)
LAST_SUCCESS = "last_success"
#: set by ``restore`` on an enrolled station: the next sync first catches up with the hub
#: (``sync.station.heal.heal_station_behind``), so no outbox or ledger number is reused
STATION_RESTORED = "station_restored"
