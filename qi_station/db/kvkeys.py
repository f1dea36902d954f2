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
#: set with it: the highest outbox oseq the restored backup held. Those of its waiting changes at or
#: below the hub's ack the hub already has (the same station sent them under those oseqs after the
#: backup was made): the heal drops them instead of queueing them again above the ack
RESTORED_OUTBOX_TOP = "restored_outbox_top"
#: set with it: the highest hub ack the replaced database had known (its ``acked_oseq``, or its own
#: ``restored_known_ack``). A restore bundle (or online restore answer) acknowledging less is stale: it
#: cannot bring the station level with the hub, so the heal refuses it (``sync.station.heal``)
RESTORED_KNOWN_ACK = "restored_known_ack"
#: written by every ``restore`` (``"{local time} {random}"``): a running app that read another value
#: at start-up knows the database under it was replaced (``services.backup.restore_mark``)
RESTORE_MARK = "restore_mark"
#: the running head over every event of this station's ledger, in insertion order: ``"{n}:{head}"``
#: (``core.chain.next_head``; kept by ``db.write.append_event``, sealed again by ``db.write.seal_event_head``)
EVENT_HEAD = "event_head"
#: the running head the hub last acknowledged (``"{n}:{head}"``): the station's history up to n is fixed
ACKED_HEAD = "acked_head"
#: the running head last sent to the hub (a push or an up bundle), ``"{n}:{head}"``: from then on the hub
#: counts those events, so ``demo remove`` is refused (``devtools.demo.remove_demo``)
HEAD_SENT = "head_sent"
#: the running heads sent to the hub, oldest first, as JSON ``[[n, head], ...]`` (the last
#: ``sync.proto.HEADS_EARLIER``): each signed head lists the earlier ones (``sync.station.heads.signed_head``)
HEADS_SENT = "heads_sent"
#: the last sync's clock check (``core.clock.clock_gap`` of this PC against the hub's time in its signed
#: pull reply): the message, or absent when the clocks agree
CLOCK_WARNING = "clock_warning"
#: changes the hub took although this PC had stamped them ahead of the hub's clock (it flagged them for its
#: administrator, ``sync_conflict`` kind ``clock_ahead``): JSON list of what they were, said by the next
#: sync's result and then cleared (``sync.station.client.clock_ahead_taken``)
CLOCK_AHEAD_TAKEN = "clock_ahead_taken"
#: requests whose status, moved here before this station saw the province's move (a cancellation),
#: overrode it at the hub: JSON list of messages, said by the next sync's result and then cleared; each is
#: also a ``sync_conflict`` row here (``sync.station.client.keep_overrides``), which ``request show`` says
HUB_STATUS_OVERRIDDEN = "hub_status_overridden"
#: the station profile (region, park, type, mode) the hub last acknowledged, as canonical JSON: a sync
#: with nothing to upload still sends the profile when it differs
PROFILE_SENT = "profile_sent"
#: the last ledger check (``services.verify``): JSON ``{"ok", "at", "problems", "requests"}``
VERIFY_LAST = "verify_last"
#: where the last intact ledger check left off (``services.verify._valid_mark``): JSON ``{"rowid", "hash",
#: "n", "head", "acked", "counters", "rows", "full_at"}`` (``rows``: the
#: highest request rowid then); the check after a sync starts from it
VERIFY_MARK = "verify_mark"
#: when ``init --demo`` loaded the demo (the loader's time, as stored); written by ``devtools.demo``
DEMO_LOADED = "demo_loaded"
#: set once the demo rows of a station that loaded the demo before they were listed were found
#: (``db.write.list_legacy_demo``)
DEMO_LEGACY_DONE = "demo_rows_legacy"
#: this station's promise (承诺时限) in working days, by urgency: ``promise_workdays:normal`` / ``:urgent``
#: (``services.workdays``; defaults ``core.domain.PROMISE_DAYS``)
PROMISE_WORKDAYS = "promise_workdays:"
#: the hub's address, set by an online enrollment
HUB_URL = "hub_url"
#: how this station is enrolled: ``online``, ``offline`` (a bundle from the hub arrived) or ``offline-pending``
ENROLL_MODE = "enroll_mode"
#: the last failed sync: ``"{time as stored} {message}"`` (removed by the next successful one)
LAST_ERROR = "last_error"
#: this station's code as enrolled
STATION_CODE = "station_code"


#: the sync log's mode of a hub bundle imported that acknowledged none of the changes waiting at the
#: station (an empty or older bundle while changes wait): shown on F6, but no sync with the hub for
#: 上次同步 (``services.dashboard.sync_figures``) nor ``last_success`` (``sync.station.apply.log_end``)
BUNDLE_IN_WAITING = "bundle-in-waiting"
#: sync log modes that are no sync with the hub (the hub acknowledged nothing)
NOT_A_SYNC = ("bundle-out", BUNDLE_IN_WAITING)
