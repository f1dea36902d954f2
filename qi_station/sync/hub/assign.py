"""Hub-side edits of a request (expert, note, priority, a status move): they flow down to its station."""

from __future__ import annotations

from typing import Any

from qi_station.core.errors import ValidationError
from qi_station.sync.hub.base import HubBase
from qi_station.sync.hub.tables import core_table
from qi_station.sync.proto import SyncError


class AssignJobs(HubBase):
    def assign(
        self,
        request_id: str,
        *,
        expert_id: str | None = None,
        note: str | None = None,
        priority: str | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        """A hub-side update of a request: hub fields bump h_rev; a status move is checked with
        domain.can_move against the hub copy and flows down with the hub fields. An illegal move
        changes nothing and is refused; the conflict record that explains it is kept."""
        import sqlalchemy as sa

        from qi_station.core import domain
        from qi_station.core import validate as v

        # every text by the core's rules (the ones the hub applies to a station's rows), before any write
        checks = v.Checks()
        if expert_id is not None:
            expert_id = checks.run(v.clean_text, expert_id, "expert")
        if note is not None:
            note = checks.run(v.clean_text, note, "note", multiline=True)
        if priority is not None:
            priority = checks.run(v.clean_text, priority, "priority")
            if priority:
                priority = checks.run(v.check_choice, priority, domain.PRIORITIES, "priority")
        if status is not None:
            status = checks.run(v.check_choice, status, domain.STATUSES, "status")
        t = core_table("request")
        with self.write() as c:
            r: Any = (
                c.execute(sa.select(t).where(sa.or_(t.c.id == request_id, t.c.number == request_id)))
                .mappings()
                .first()
            )
            if r is None:
                checks.done()  # the values first: a bad one is said whatever the request
                raise SyncError(404, "unknown_request", f"no request {request_id!r} at this hub")
            if expert_id:
                e = core_table("expert")
                known = c.execute(sa.select(e.c.id).where(e.c.id == expert_id, sa.not_(e.c.deleted))).first()
                if known is None:  # with every other bad value (nothing is written: the checks raise)
                    checks.errors.append(
                        ValidationError(
                            "expert",
                            "unknown_expert",
                            f"no expert {expert_id!r} in the hub's expert library / 专家库中没有该专家",
                        )
                    )
            checks.done()
            refused = (
                status is not None and status != r["status"] and not domain.can_move(r["status"], status)
            )
            if not refused and status is not None and status != r["status"]:
                # the outcome a move needs, by the station's rule: the hub records none (no result, no
                # satisfaction), so a close (satisfaction [required]) or a resolve is the station's
                v.check_outcome(status, None, None, None, None)
            if not refused:
                vals: dict[str, Any] = {}
                if expert_id is not None:
                    vals["hub_expert_id"] = expert_id or None
                if note is not None:
                    vals["hub_note"] = note or None
                if priority is not None:
                    vals["hub_priority"] = priority or None
                if status is not None and status != r["status"]:
                    vals["status"] = status
                    vals.update(domain.move_clears(r["status"], status))  # a reopen, as the station's
                if not vals:
                    return {"id": r["id"], "h_rev": r["h_rev"], "changed": False}
                vals["h_rev"] = int(r["h_rev"]) + 1  # updated_at is a station-owned field: left alone
                c.execute(t.update().where(t.c.id == r["id"]).values(**vals))
                seq = self.stamp(c, [("request", r["id"])])
                return {"id": r["id"], "h_rev": vals["h_rev"], "seq": seq, "changed": True}
        # refused: the transaction above wrote nothing; the conflict record gets its own
        raise self.refuse(
            SyncError(409, "illegal_move", f"illegal move {r['status']} -> {status} / 不允许的状态变更"),
            "request",
            r["id"],
            "hub_move_refused",
            {"from": r["status"], "to": status},
        )
