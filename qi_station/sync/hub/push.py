"""Station changes into the hub: THE apply function (HTTP push and up bundles alike)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qi_station.core.chain import EVENT_ROW, status_and_satisfaction
from qi_station.core.clock import env_now, to_db
from qi_station.core.gcpause import no_cycle_collection
from qi_station.db import rollup
from qi_station.sync.hub import rules
from qi_station.sync.hub.base import skew_of
from qi_station.sync.hub.ledger import LedgerJobs, check_events, check_folds
from qi_station.sync.hub.tables import chunks, coerce_row, core_table, hub_tables, id_in
from qi_station.sync.proto import (
    HUB_REQUEST_FIELDS,
    LIBRARY_TABLES,
    PROTOCOL,
    SKEW_WARN_MS,
    STATION_TABLES,
    TABLE_RANK,
    SyncError,
    change_digest,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def kept_as_conflict(e: SyncError) -> str | None:
    """The ``sync_conflict`` kind a refused push is recorded under, else None: ``history_differs``
    (content at a chain position the hub holds otherwise) and a ``unique_number`` refusal (a request
    number another request holds: a second copy of the station that caught up from the hub and then
    numbered a new request again, or a station put back from an older copy) point at a second copy
    of the station; ``device_conflict`` is recorded by :meth:`PushJobs.conflict_refused` itself."""
    if e.code == "history_differs":
        return "history_differs"
    if e.code == "rule" and e.data.get("rule") == "unique_number":
        return "unique_number"
    return None


#: a key of ``apply_push``'s ``into``: a list the written rows go to, stamped by the caller last
STAMP_LATER = "__stamp_later__"


def _pairs(a: Any, b: Any) -> list[tuple[list[Any], list[Any]]]:
    """Two lists of chunks side by side (the shorter padded with empty chunks)."""
    a, b = list(a), list(b)
    n = max(len(a), len(b))
    return [(a[i] if i < len(a) else [], b[i] if i < len(b) else []) for i in range(n)]


class PushJobs(LedgerJobs):
    def push(
        self,
        station: dict[str, Any],
        batch: list[dict[str, Any]],
        *,
        protocol: Any = PROTOCOL,
        schema: Any = None,
        station_now_ms: Any = None,
        head: dict[str, Any] | None = None,
        profile: dict[str, Any] | None = None,
        device: str | None = None,
        restored: bool = False,
    ) -> dict[str, Any]:
        """``restored``: the station says it was restored from a backup (``kvkeys.STATION_RESTORED``):
        a change re-sent under an oseq the hub holds with other content is then ``station_behind`` (it
        heals) rather than ``device_conflict``."""
        import sqlalchemy as sa

        out: dict[str, Any] = {}
        skew = None
        try:
            with self.write() as c:
                st = self.station_by_code(c, station["code"], lock=True, with_trail=True)
                if st["revoked"]:
                    raise SyncError(401, "revoked", "this station was revoked / 站点已被吊销")
                vals: dict[str, Any] = {}  # the station row's new values: one UPDATE per push, not four
                self.check_device(c, st, batch, device, vals)  # raises device_conflict, nothing written
                self.keep_profile(c, st, profile, vals)
                written: list[tuple[str, str]] = []
                vals[STAMP_LATER] = written
                ok = rules.clock_ok(skew_of(station_now_ms))  # rows stamped ahead: taken and flagged
                out = self.apply_push(c, st, batch, head=head, restored=restored, into=vals, clock_ok=ok)
                skew = self.touch(c, st, protocol, schema, station_now_ms, into=vals)
                vals.pop(STAMP_LATER)
                hs = hub_tables()["hub_station"]
                c.execute(sa.update(hs).where(hs.c.id == st["id"]).values(**vals))
                # the seq stamp last (SQLite: the change counter, held until commit, one push at a
                # time; PostgreSQL: the sequence and the in-flight bound, HubBase._stamp_pg)
                self.stamp(c, written)
        except SyncError as e:
            if e.data.get("rule") == rules.CLOCK_AHEAD_KIND and station.get("id"):
                # its clock still runs ahead: how far (its claimed clock, as a push that went through
                # keeps it) and why it was refused, in their own transaction, for ``hub stations``
                with self.write() as c:
                    self.touch(c, station, protocol, schema, station_now_ms, error=e.message)
            raise self.conflict_refused(e) from None
        if skew is not None and abs(skew) > SKEW_WARN_MS:
            out["warning"] = (
                f"station clock is off by {skew / 1000:.0f} s; fix the PC clock (sync is not affected)"
            )
        out["clock_skew_ms"] = skew
        return out

    def conflict_refused(self, e: SyncError) -> SyncError:
        """``e``; a ``device_conflict`` (two copies under one station identity) is first recorded as a
        ``sync_conflict`` of its station (``station_id``) in its own transaction (the refused push or
        bundle wrote nothing). So is a ``history_differs`` from :meth:`apply_push` (content at a chain
        position the hub holds otherwise: ``ledger``): a copy of the station (a cloned disk, same key
        and device id) that caught up from the hub and then pushed, or a database changed outside
        qi-station; both are for the administrator (``hub stations`` CONFLICTS), and the message says
        so, as ``device_conflict``'s does. So is a ``unique_number`` refusal (a copy that caught up from
        the hub and then numbered a new request as the other copy had: :func:`kept_as_conflict`)."""
        kind = kept_as_conflict(e)
        if kind is not None and e.data.get("station_id"):
            e = SyncError(
                e.status,
                e.code,
                f"{e.message}. Nothing was written and no request number was changed; the hub recorded a "
                f"sync conflict ({kind}). Most likely a second copy of this station (a copied "
                "database and token, e.g. a cloned disk) pushed first: keep working on ONE copy only and "
                "ask the hub's administrator which one / 可能有另一份本站数据库（复制的数据库与令牌）先推送了"
                "不同内容，已拒绝并记录冲突，请只保留一份并联系中心管理员",
                **e.data,
            )
        elif e.code != "device_conflict":
            return e
        else:
            kind = e.code
        return self.refuse(e, "hub_station", str(e.data.get("station_id") or ""), kind, e.data)

    def check_device(
        self,
        c: Connection,
        st: dict[str, Any],
        batch: list[dict[str, Any]],
        device: str | None,
        into: dict[str, Any] | None = None,
    ) -> None:
        """Two installs under one station identity. Each push and up bundle names its install
        (``device``: this PC and database file, ``sync.station.apply.device_id``). The hub keeps the last
        one that pushed. Another install is taken as the station moved (a new PC, a database put
        elsewhere) when its changes continue exactly where the hub's ack is (no change at or below it);
        it then becomes the station's install, and the switch is recorded (``sync_conflict`` kind
        ``device_moved``, shown by ``hub stations``): a copy holding the station key that caught up from
        the hub first looks the same, and only the administrator can tell. Another install that re-sends changes at or below the ack
        is a second copy that forked from the same point: refused ``device_conflict`` (the caller records
        a ``sync_conflict``: :meth:`conflict_refused`), never healed by renumbering requests whose
        numbers are already given out. An older station sends no device: not checked (the oseq rule of
        :meth:`_check_duplicates` still is). ``into``: the new install is added to it (the caller writes
        the station row once) instead of written here."""
        import sqlalchemy as sa

        if device is None:
            return
        known = st.get("device_id")
        acked = int(st["acked_oseq"] or 0)
        if known not in (None, device) and any(int(ch["oseq"]) <= acked for ch in batch):
            raise SyncError(
                409,
                "device_conflict",
                f"another copy of station {st['code']} (another PC or database file) already pushed "
                f"changes up to {acked} that this copy does not hold: two copies are using one station "
                "identity (a copied database and token). Nothing was written and no request number was "
                "changed; the hub recorded a sync conflict (device_conflict). Keep working on ONE copy "
                "only: ask the hub's administrator which one / 两台电脑在使用同一站点身份"
                "（数据库与令牌被复制），已拒绝并记录冲突，请只保留一份并联系中心管理员",
                station=st["code"],
                station_id=st["id"],
                device=device,
                known_device=known,
                acked_oseq=acked,
            )
        if known != device:
            if known is not None:  # the station moved, or a copy caught up from the hub: the admin sees it
                self.conflict(
                    c, "hub_station", st["id"], "device_moved", {"device": device, "known_device": known}
                )
            if into is not None:
                into["device_id"] = device
            else:
                hs = hub_tables()["hub_station"]
                c.execute(sa.update(hs).where(hs.c.id == st["id"]).values(device_id=device))
            st["device_id"] = device

    def apply_push(
        self,
        c: Connection,
        st: dict[str, Any],
        batch: list[dict[str, Any]],
        *,
        head: dict[str, Any] | None = None,
        restored: bool = False,
        into: dict[str, Any] | None = None,
        clock_ok: bool = False,
    ) -> dict[str, Any]:
        """THE apply function for station changes (HTTP push and up bundles). Runs inside ``c``'s
        transaction: skip what is acked (the same content under a held oseq, else ``device_conflict``
        or, ``restored``, ``station_behind``: :meth:`_check_duplicates`), refuse gaps, check ownership
        and every new event's hash and link (``ledger.check_events``), s_rev guards, stamp seq, ack,
        remember each applied change's digest by oseq, keep the signed running head. ``into``: the
        station row's new values (ack, head) are added to it, written by the caller; when it holds
        :data:`STAMP_LATER` (a list), the written rows are added to that list for the caller to stamp
        (:meth:`stamp`, last before its commit) instead of stamped here. A ``history_differs`` names the station (``station_id``):
        :meth:`conflict_refused` records it."""
        try:
            with no_cycle_collection():  # thousands of short-lived dicts and tuples, none in a cycle
                return self._apply_push(
                    c, st, batch, head=head, restored=restored, into=into, clock_ok=clock_ok
                )
        except SyncError as e:
            if kept_as_conflict(e) is None:
                raise
            raise SyncError(
                e.status, e.code, e.message, **{**e.data, "station": st["code"], "station_id": st["id"]}
            ) from None

    def _apply_push(
        self,
        c: Connection,
        st: dict[str, Any],
        batch: list[dict[str, Any]],
        *,
        head: dict[str, Any] | None = None,
        restored: bool = False,
        into: dict[str, Any] | None = None,
        clock_ok: bool = False,
    ) -> dict[str, Any]:
        import sqlalchemy as sa

        acked = int(st["acked_oseq"])
        code = st["code"]
        results: list[dict[str, Any]] = []
        fresh: list[dict[str, Any]] = []
        for ch in sorted(batch, key=lambda x: x["oseq"]):
            if ch["oseq"] <= acked:
                results.append({"oseq": ch["oseq"], "status": "duplicate"})
            else:
                fresh.append(ch)
        if results:
            self._check_duplicates(c, st, [ch for ch in batch if ch["oseq"] <= acked], acked, restored)
        expect = acked + 1
        seen: set[int] = set()
        for ch in fresh:
            if ch["oseq"] in seen:
                raise SyncError(422, "bad_batch", f"oseq {ch['oseq']} appears twice in one batch")
            seen.add(ch["oseq"])
            if ch["oseq"] != expect:
                raise SyncError(
                    409,
                    "gap",
                    f"out-of-order change: expected oseq {acked + 1 if not results and expect == acked + 1 else expect}, got {ch['oseq']} (need an earlier bundle / 缺少更早的数据包)",
                    expected=expect,
                    acked_oseq=acked,
                )
            expect += 1
        if not fresh:
            self.accept_head(c, st, head, into)
            return {"acked_oseq": acked, "results": results, "applied": 0}
        pg = c.dialect.name == "postgresql"
        if pg:
            # the reads below (owners, numbers, enterprises, held events and chains) go by key: index
            # scans whatever the planner's statistics say. In a morning rush the ledger tables grow faster
            # than autovacuum analyzes them, and a planner that still takes request_event for small
            # seq-scans it for each batch (measured: 50 first syncs at once read 79 M event rows in 933
            # seq scans). Put back before the writes (the rollup's statements are the planner's to plan)
            c.exec_driver_sql("SET LOCAL enable_seqscan = off")
        digests = [{"station_id": st["id"], "oseq": ch["oseq"], "digest": change_digest(ch)} for ch in fresh]
        # authorize + coerce everything before writing anything
        prepared: list[tuple[int, int, str, dict[str, Any], dict[str, Any]]] = []
        batch_requests: set[str] = set()
        for ch in fresh:
            table = ch.get("table")
            if table in LIBRARY_TABLES:
                raise SyncError(
                    403, "forbidden", f"a station cannot write library table {table!r} / 站点不能修改资源库"
                )
            if table not in STATION_TABLES:
                raise SyncError(403, "forbidden", f"table {table!r} is not synced from stations")
            try:
                row = coerce_row(str(table), ch.get("row"), strict=True)
            except SyncError as e:  # name the change, like every rule refusal
                raise SyncError(
                    e.status,
                    e.code,
                    f"refused, nothing written: change {ch['oseq']}: {e.message}",
                    **{**e.data, "oseq": ch["oseq"]},
                ) from None
            if table in ("enterprise", "request", "activity") and row.get("station_code") != code:
                raise SyncError(
                    403,
                    "forbidden",
                    f"{table} {row['id']} belongs to station {row.get('station_code')!r}, not {code!r} / 不能修改其他站点的数据",
                )
            if table == "request":
                batch_requests.add(row["id"])
            prepared.append((TABLE_RANK[str(table)], ch["oseq"], str(table), row, ch))
        # ownership against what the hub already holds
        treq, tent = core_table("request"), core_table("enterprise")
        req_ids = {p[3]["id"] for p in prepared if p[2] == "request"} | {
            p[3].get("request_id") for p in prepared if p[2] in ("request_event", "referral")
        }
        req_ids.discard(None)
        owners: dict[str, tuple[str, int, int, str]] = {}
        # request numbers the hub holds under the batch's numbers (each number names one request): read
        # with the owners, one statement per chunk of ids and numbers
        numbers: dict[str, str] = {}
        want_ids = sorted(x for x in req_ids if isinstance(x, str))
        nums = sorted({str(p[3].get("number")) for p in prepared if p[2] == "request"})
        num_set = set(nums)
        for chunk, nchunk in _pairs(chunks(want_ids, 500), chunks(nums, 500)):
            for r in c.execute(
                sa.select(
                    treq.c.id, treq.c.station_code, treq.c.s_rev, treq.c.h_rev, treq.c.status, treq.c.number
                ).where(sa.or_(id_in(c, treq.c.id, chunk), id_in(c, treq.c.number, nchunk)))
            ):
                if r[0] in req_ids:
                    owners[r[0]] = (r[1], r[2], r[3], r[4])
                if r[5] in num_set:
                    numbers[r[5]] = r[0]
        ent_ids = [p[3]["id"] for p in prepared if p[2] == "enterprise"]
        # the enterprises the batch writes and those its requests name, in one read
        ent_refs = sorted(
            {str(p[3].get("enterprise_id")) for p in prepared if p[2] == "request"} - set(ent_ids)
        )
        ent_owner: dict[str, tuple[str | None, int]] = {}
        ent_held: dict[str, str | None] = {}
        for chunk in chunks(sorted(set(ent_ids)) + ent_refs, 500):
            for er in c.execute(
                sa.select(tent.c.id, tent.c.station_code, tent.c.s_rev).where(id_in(c, tent.c.id, chunk))
            ):
                ent_held[er[0]] = er[1]
                ent_owner[er[0]] = (er[1], er[2])
        ent_owner = {k: v for k, v in ent_owner.items() if k in set(ent_ids)}
        for _rank, _o, table, row, _ch in prepared:
            rid = row["id"] if table == "request" else row.get("request_id")
            if table in ("request", "request_event", "referral"):
                own = owners.get(str(rid))
                if own is not None and own[0] != code:
                    raise SyncError(
                        403,
                        "forbidden",
                        f"request {rid} belongs to station {own[0]!r}, not {code!r} / 不能修改其他站点的台账",
                    )
                if own is None and rid not in batch_requests:
                    raise SyncError(422, "orphan", f"{table} {row['id']} refers to unknown request {rid}")
            if table == "enterprise":
                eo = ent_owner.get(row["id"])
                if eo is not None and eo[0] != code:
                    raise SyncError(
                        403,
                        "forbidden",
                        f"enterprise {row['id']} belongs to station {eo[0]!r} / 不能修改其他站点的企业",
                        enterprise_id=row["id"],
                    )
        # the station's rules against what the hub holds: its own enterprises, lifecycle moves, hub fields
        ent_station = {p[3]["id"]: code for p in prepared if p[2] == "enterprise"}
        for eid in ent_refs:
            if eid in ent_held:
                ent_station[eid] = ent_held[eid]
        stored = dict(owners)
        final_numbers: dict[str, tuple[str, int]] = {}  # request id -> its number after the batch
        folds: list[tuple[int, dict[str, Any]]] = []  # the request rows applied: each against its events
        ahead: list[str] | None = [] if clock_ok else None  # columns stamped ahead (rules.clock_ok)
        stamped_ahead: list[dict[str, Any]] = []
        overrode: list[dict[str, Any]] = []  # station rows whose status overrode the hub's (said back)
        for _rank, oseq, table, row, _ch in sorted(prepared, key=lambda p: p[1]):
            rules.check_row(oseq, table, row, code, ahead)
            if ahead:
                stamped_ahead.append({"oseq": oseq, "table": table, "id": row.get("id"), "fields": ahead[:]})
                ahead.clear()
            if table == "request":
                held = stored.get(row["id"])
                rules.check_request_change(
                    oseq, row, held, ent_station.get(str(row.get("enterprise_id"))), code
                )
                if held is None or int(row.get("s_rev") or 0) > held[1]:  # applied, not stale
                    final_numbers[row["id"]] = (str(row.get("number")), oseq)
                    folds.append((oseq, row))
                    stored[row["id"]] = (
                        code,
                        int(row.get("s_rev") or 0),
                        held[2] if held else 0,
                        str(row.get("status")),
                    )
        rules.check_numbers_free(final_numbers, numbers)
        rectify = [
            (p[1], p[3]) for p in prepared if p[2] == "request_event" and p[3].get("kind") == "rectify"
        ]
        if rectify:  # each request as it stood when its rectify record was written: THE fold of its
            # events before it (a later correction of the rating does not undo a rectification made then)
            tev = core_table("request_event")
            chains: dict[str, dict[int, tuple[Any, ...]]] = {
                str(ev.get("request_id")): {} for _o, ev in rectify
            }
            for x in c.execute(
                sa.select(*(tev.c[k] for k in EVENT_ROW)).where(id_in(c, tev.c.request_id, sorted(chains)))
            ):
                chains[x[0]][int(x[1])] = tuple(x)
            for p in prepared:
                if p[2] == "request_event" and str(p[3].get("request_id")) in chains:
                    chains[str(p[3]["request_id"])][int(p[3]["n"])] = tuple(p[3].get(k) for k in EVENT_ROW)
            for oseq, ev in rectify:
                chain = chains[str(ev.get("request_id"))]
                n = int(ev.get("n") or 0)
                before = [chain[k] for k in sorted(chain) if k < n]
                rules.check_rectify_event(oseq, status_and_satisfaction(before) if before else None)
        events_held: set[str] = set()  # the batch's event ids the hub holds, read with the chains
        check_events(
            c,
            [
                ch["row"]
                for ch in fresh
                if ch.get("table") == "request_event" and isinstance(ch.get("row"), dict)
            ],
            {p[3]["id"]: str(p[3].get("number")) for p in prepared if p[2] == "request"},
            ids=[p[3]["id"] for p in prepared if p[2] == "request_event"],
            found=events_held,
        )
        # each request row applied is what its own events give (the fold ``hub verify`` checks)
        check_folds(c, folds, [(p[1], p[3]) for p in prepared if p[2] == "request_event"])
        # apply in foreign-key order; within a table in oseq order. New rows are collected and inserted
        # in bulk (one executemany per table and column set) before the next table; a later change of a
        # row inserted in this batch is merged into its pending insert.
        written: list[tuple[str, str]] = []
        status_of: dict[int, str] = {}
        have: set[str] = set(events_held)
        for tname in ("referral", "activity"):
            ids = [p[3]["id"] for p in prepared if p[2] == tname]
            tt = core_table(tname)
            for chunk in chunks(ids, 500):
                have.update(r[0] for r in c.execute(sa.select(tt.c.id).where(id_in(c, tt.c.id, chunk))))
        if pg:
            c.exec_driver_sql("SET LOCAL enable_seqscan = DEFAULT")
        pending: dict[str, dict[str, dict[str, Any]]] = {}

        def seqs_now(table: str, rows_: dict[str, dict[str, Any]]) -> None:
            """PostgreSQL: the seqs of the table's written rows, taken now (every write of the table is
            made: the tables go by rank) in write order, a row written twice at its later place, as the
            stamp would give them; the new rows carry theirs into the COPY, the rows updated get theirs
            by one UPDATE. They leave ``written`` (nothing left for the stamp)."""
            last: dict[str, int] = {}
            for i, (t_, rid) in enumerate(written):
                if t_ == table:
                    last[rid] = i
            if not last:
                return
            order = sorted(last, key=last.__getitem__)
            upd: tuple[list[str], list[int]] = ([], [])
            for rid, s in zip(order, self.take_seqs(c, len(order)), strict=True):
                if rid in rows_:
                    rows_[rid]["seq"] = s
                else:
                    upd[0].append(rid)
                    upd[1].append(s)
            if upd[0]:
                self.set_seqs(c, table, *upd)
            written[:] = [w for w in written if w[0] != table]

        def flush(table: str) -> None:
            rows_ = pending.pop(table, None)
            if pg and table in ("enterprise", "request"):
                seqs_now(table, rows_ or {})
            if not rows_:
                return
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for r in rows_.values():
                groups.setdefault(tuple(sorted(r)), []).append(r)
            for params in groups.values():  # PostgreSQL: one COPY per column set; SQLite: executemany
                self.bulk_insert(c, core_table(table), params)

        # the month rollup: the per-row triggers held, the touched requests' contributions taken out and
        # put back once for the batch (db/rollup.py)
        touched = [p[3]["id"] for p in prepared if p[2] == "request"] + [
            str(p[3]["request_id"])
            for p in prepared
            if p[2] == "request_event" and p[3].get("kind") in rollup.KINDS
        ]
        with rollup.held(c, touched):
            current = None
            for _rank, oseq, table, row, _ch in sorted(prepared, key=lambda p: (p[0], p[1])):
                if table != current:
                    if current is not None:
                        flush(current)
                    current = table
                t = core_table(table)
                ins = pending.setdefault(table, {})
                if table == "enterprise":
                    prev = ent_owner.get(row["id"])
                    if prev is None:
                        row["seq"] = 0
                        ins[row["id"]] = row
                        ent_owner[row["id"]] = (code, row.get("s_rev", 1))
                        written.append((table, row["id"]))
                        status_of[oseq] = "applied"
                    elif row.get("s_rev", 0) > prev[1]:
                        vals = {k: v for k, v in row.items() if k not in ("id", "seq")}
                        if row["id"] in ins:
                            ins[row["id"]].update(vals)
                        else:
                            c.execute(t.update().where(t.c.id == row["id"]).values(**vals))
                        ent_owner[row["id"]] = (code, row["s_rev"])
                        written.append((table, row["id"]))
                        status_of[oseq] = "applied"
                    else:
                        status_of[oseq] = "stale"
                elif table == "request":
                    prevr = owners.get(row["id"])
                    echo = rules.hub_echo(row, None if prevr is None else prevr[2])
                    if echo is not None:  # hub changes the hub lost (or forged): its own win
                        self.conflict(
                            c,
                            "request",
                            row["id"],
                            "hub_changes_lost",
                            {"station": code, "station_h_rev": row.get("h_rev"), "hub_fields": echo[1]},
                        )
                    if prevr is None:
                        row["seq"] = 0
                        row["h_rev"] = echo[0] if echo is not None else 0
                        for f in HUB_REQUEST_FIELDS:
                            if f in row:
                                row[f] = None
                        ins[row["id"]] = row
                        owners[row["id"]] = (
                            code,
                            row.get("s_rev", 1),
                            row.get("h_rev", 0),
                            row.get("status", "new"),
                        )
                        written.append((table, row["id"]))
                        status_of[oseq] = "applied"
                    elif row.get("s_rev", 0) > prevr[1]:
                        vals = {
                            k: v
                            for k, v in row.items()
                            if k not in ("id", "seq", "h_rev", *HUB_REQUEST_FIELDS)
                        }
                        if row.get("h_rev", 0) < prevr[2] and row.get("status") != prevr[3]:
                            overrode.append(
                                {
                                    "oseq": oseq,
                                    "id": row["id"],
                                    "hub_status": prevr[3],
                                    "status": row.get("status"),
                                }
                            )
                            self.conflict(
                                c,
                                "request",
                                row["id"],
                                "station_overrides_hub_status",
                                {
                                    "station": code,
                                    "hub_status": prevr[3],
                                    "station_status": row.get("status"),
                                    "hub_h_rev": prevr[2],
                                    "station_seen_h_rev": row.get("h_rev"),
                                },
                            )
                        if row["id"] in ins:
                            ins[row["id"]].update(vals)
                        else:
                            c.execute(t.update().where(t.c.id == row["id"]).values(**vals))
                        owners[row["id"]] = (code, row["s_rev"], prevr[2], row.get("status", prevr[3]))
                        written.append((table, row["id"]))
                        status_of[oseq] = "applied"
                    else:
                        status_of[oseq] = "stale"
                    if prevr is not None and echo is not None:  # the hub's h_rev past the echo
                        if row["id"] in ins:
                            ins[row["id"]]["h_rev"] = echo[0]
                        else:
                            c.execute(t.update().where(t.c.id == row["id"]).values(h_rev=echo[0]))
                        own = owners[row["id"]]
                        owners[row["id"]] = (own[0], own[1], echo[0], own[3])
                        written.append((table, row["id"]))
                else:  # append-only rows: insert once
                    if row["id"] in have:
                        status_of[oseq] = "duplicate"
                    else:
                        have.add(row["id"])
                        ins[row["id"]] = row
                        status_of[oseq] = "applied"
            if current is not None:
                flush(current)
        # the digests before the seq stamp: the stamp takes the hub's change counter, held until commit
        # and so taken by one push at a time; the less after it, the more pushes commit per second
        self.bulk_insert(c, hub_tables()["hub_oseq"], digests)
        stamp_into = into.get(STAMP_LATER) if into is not None else None
        if stamp_into is not None:
            stamp_into.extend(written)
        else:
            self.stamp(c, written)
        new_ack = fresh[-1]["oseq"]
        if into is not None:
            into["acked_oseq"] = new_ack
        else:
            hs = hub_tables()["hub_station"]
            c.execute(sa.update(hs).where(hs.c.id == st["id"]).values(acked_oseq=new_ack))
        st["acked_oseq"] = new_ack
        self.accept_head(c, st, head, into)
        results.extend({"oseq": ch["oseq"], "status": status_of.get(ch["oseq"], "applied")} for ch in fresh)
        for a in stamped_ahead:  # taken as the station recorded them: flagged for the administrator
            detail = {"station": code, "oseq": a["oseq"], "fields": a["fields"], "hub_now": to_db(env_now())}
            self.conflict(c, a["table"], str(a["id"]), rules.CLOCK_AHEAD_KIND, detail)
        out: dict[str, Any] = {"acked_oseq": new_ack, "results": results, "applied": len(fresh)}
        if stamped_ahead:
            out["clock_ahead"] = stamped_ahead
        if overrode:
            out["overrode"] = overrode
        return out

    def _check_duplicates(
        self, c: Connection, st: dict[str, Any], dups: list[dict[str, Any]], acked: int, restored: bool
    ) -> None:
        """Changes at or below the ack are duplicates only if they are the changes the hub applied under
        those oseqs (the digest it kept, :func:`~qi_station.sync.proto.change_digest`): another change
        under a held oseq was made by another copy of the station (a copied database, whatever device
        id it claims): refused ``device_conflict`` (recorded by the caller), unless the station says it
        was restored from a backup (``restored``): then ``station_behind``, and it heals
        (``sync.station.heal``). Oseqs the hub kept no digest of (applied before revision 0022) are
        duplicates if the hub holds their rows: a new event or request under an old oseq means the
        station lost its history, ``station_behind`` with our ack."""
        import sqlalchemy as sa

        behind = SyncError(
            409,
            "station_behind",
            f"changes numbered at or below {acked} that this hub never received: the station was "
            "restored from an older copy and must catch up first / 站点数据比中心旧，需先恢复",
            acked_oseq=acked,
        )
        ho = hub_tables()["hub_oseq"]
        lo = min(int(ch["oseq"]) for ch in dups)
        held = dict(
            c.execute(  # type: ignore[arg-type]
                sa.select(ho.c.oseq, ho.c.digest).where(
                    ho.c.station_id == st["id"], ho.c.oseq >= lo, ho.c.oseq <= acked
                )
            ).all()
        )
        differ = [ch["oseq"] for ch in dups if ch["oseq"] in held and held[ch["oseq"]] != change_digest(ch)]
        if differ:
            if restored:
                raise behind
            raise SyncError(
                409,
                "device_conflict",
                f"change {differ[0]} of station {st['code']} was already pushed with other content: two "
                "copies (PCs or database files) are using one station identity (a copied database and "
                "token), whatever device id they report. Nothing was written and no request number was "
                "changed; the hub recorded a sync conflict (device_conflict). Keep working on ONE copy "
                "only and ask the hub's administrator which one. If this PC's database was put back from "
                "a backup, restore it with `qi-station restore FILE` (the next sync then catches up) / "
                "同一站点身份的另一份数据库已推送过该序号的不同内容，已拒绝并记录冲突；如为备份恢复，请用 "
                "qi-station restore 恢复",
                station=st["code"],
                station_id=st["id"],
                oseq=differ[0],
                acked_oseq=acked,
            )
        dups = [ch for ch in dups if ch["oseq"] not in held]
        for table in ("request_event", "request"):
            ids = sorted({str((ch.get("row") or {}).get("id")) for ch in dups if ch.get("table") == table})
            t = core_table(table)
            have: set[str] = set()
            for chunk in chunks(ids, 500):
                have.update(r[0] for r in c.execute(sa.select(t.c.id).where(id_in(c, t.c.id, chunk))))
            if set(ids) - have:
                raise behind
