"""The hub's guard of station histories: pushed events are checked (hash and link) against what the
hub holds, the station's signed running head is kept, and ``hub verify`` checks the hub's copy.

- :func:`check_events` (called by ``push.apply_push`` before anything is written): each new event's
  hash recomputes (:func:`qi_station.core.chain.event_hash`), its ``prev_hash`` is the hash of the
  event before it that the hub holds or that came earlier in the batch (GENESIS for the first), and an
  event the hub already holds comes back unchanged. Otherwise the batch is refused, naming the request:
  422 ``bad_event`` (does not verify) or 409 ``history_differs`` (differs from what was acknowledged).
- :meth:`LedgerJobs.accept_head`: the push's signed head (``{"n", "head", "sig"}``, signed by the
  station key over :func:`~qi_station.core.chain.head_message`) must verify and may not go back:
  another head over as many events is refused (409 ``history_differs``); a head over fewer events (an
  older bundle imported after a newer one or after an online sync) is compared with the station's
  history AT THAT LENGTH: the heads the hub keeps (:meth:`LedgerJobs.head_trail`: those it
  acknowledged and the ``earlier`` ones each signed head lists). The same head there is a prefix (its
  changes are duplicates, the newer head stays); another one, or none kept, is refused.
- :meth:`LedgerJobs.verify`: every request the hub holds, through ``services.verify.check_request``
  (the same fold as the station's ``ledger verify``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qi_station.core.chain import EVENT_FIELDS, GENESIS, check_step, event_hash_of, head_message
from qi_station.core.clock import env_now, to_db
from qi_station.sync import keys
from qi_station.sync.hub.base import TRAIL_COLUMN, TRAIL_PREFIX, HubBase
from qi_station.sync.hub.tables import chunks, core_table, hub_tables, id_in, picker
from qi_station.sync.proto import HEADS_EARLIER, SyncError

PAGE = 500
_EVENT_FIELDS_OF = picker(EVENT_FIELDS)  # a wire event's hashed fields, in the hash's order
#: how many of a station's running heads the hub keeps (the highest numbers of events)
TRAIL_KEEP = 256


def trail_key(station_id: str) -> str:
    """The ``hub_meta`` key of a station's running heads (:meth:`LedgerJobs.head_trail`)."""
    return f"{TRAIL_PREFIX}{station_id}"


def _earlier(
    st: Mapping[str, Any], head: Mapping[str, Any], n: int, h: str, trail: Mapping[int, str]
) -> dict[int, str]:
    """The heads the station says it sent before this one (``earlier``: ``{n, head}`` over fewer events
    than ``n``), each checked against the heads the hub holds: one over as many events with another
    head is a rewritten history (409 ``history_differs``)."""
    out: dict[int, str] = {}
    got = head.get("earlier") or []
    if not isinstance(got, list) or len(got) > HEADS_EARLIER:
        raise SyncError(
            422, "bad_head", f"head.earlier must be a list of at most {HEADS_EARLIER} {{n, head}}"
        )
    for e in got:
        en, eh = (e.get("n"), e.get("head")) if isinstance(e, Mapping) else (None, None)
        if not isinstance(en, int) or isinstance(en, bool) or not 0 <= en < n or not isinstance(eh, str):
            raise SyncError(
                422, "bad_head", f"head.earlier: each must be {{n, head}} over fewer than {n} events"
            )
        if en == 0 and eh != GENESIS:  # the head of no events is GENESIS (core.chain.running_head)
            raise SyncError(422, "bad_head", "head.earlier: the head over 0 events must be GENESIS")
        if trail.get(en, eh) != eh:
            raise SyncError(
                409,
                "history_differs",
                f"station {st['code']} reports head {eh[:12]}… over its first {en} events, but the hub "
                f"holds head {trail[en][:12]}… for them (its history was rewritten) / 站点台账被改写",
            )
        out[en] = eh
    return out


if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def _number(c: Connection, batch_numbers: Mapping[str, str], rid: str) -> str:
    """The request's ledger number for a message (from the batch, else the hub's row, else its id)."""
    import sqlalchemy as sa

    if rid in batch_numbers:
        return batch_numbers[rid]
    t = core_table("request")
    got = c.execute(sa.select(t.c.number).where(t.c.id == rid)).first()
    return str(got[0]) if got else rid


def check_events(
    c: Connection,
    events: Sequence[Mapping[str, Any]],
    batch_numbers: Mapping[str, str],
    *,
    ids: Sequence[str] = (),
    found: set[str] | None = None,
) -> None:
    """Refuse (SyncError) pushed events (wire rows, in oseq order) that do not verify or rewrite what
    the hub holds. An event whose predecessor the hub never received (a request loaded on the station
    outside the ledger) cannot be linked and is taken as it is. ``ids`` and ``found``: the event ids
    among ``ids`` the hub holds (under any request) are added to ``found``, read in the same statement
    as the chains when they fit one."""
    import sqlalchemy as sa

    if not events:
        return
    te = core_table("request_event")
    rids = sorted({str(e.get("request_id")) for e in events})
    held: dict[tuple[str, int], tuple[str, str]] = {}  # (request, n) -> (id, hash)
    to: dict[tuple[str, int], Any] = {}  # (request, n) -> its to_status (the chain's status after it)
    want = sorted(set(ids)) if found is not None else []
    cols = (te.c.request_id, te.c.n, te.c.id, te.c.hash, te.c.to_status)
    if found is not None and want and len(rids) <= 500 and len(want) <= 500:
        rid_set, want_set = set(rids), set(want)  # one read: the chains and the ids
        for rid, n, eid, h, ts in c.execute(
            sa.select(*cols).where(sa.or_(id_in(c, te.c.request_id, rids), id_in(c, te.c.id, want)))
        ):
            if rid in rid_set:
                held[(rid, int(n))] = (eid, h)
                to[(rid, int(n))] = ts
            if eid in want_set:
                found.add(eid)
    else:
        for chunk in chunks(rids, 500):
            for rid, n, eid, h, ts in c.execute(sa.select(*cols).where(id_in(c, te.c.request_id, chunk))):
                held[(rid, int(n))] = (eid, h)
                to[(rid, int(n))] = ts
        for chunk in chunks(want, 500):
            if found is not None:
                found.update(r[0] for r in c.execute(sa.select(te.c.id).where(id_in(c, te.c.id, chunk))))
    for e in events:
        rid, n = str(e.get("request_id")), e.get("n")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise SyncError(
                422, "bad_event", f"request {_number(c, batch_numbers, rid)}: event n {n!r} is invalid"
            )
        try:
            ok = event_hash_of(str(e.get("prev_hash")), *_EVENT_FIELDS_OF(e)) == e.get("hash")
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise SyncError(
                422,
                "bad_event",
                f"request {_number(c, batch_numbers, rid)}: event {n} does not verify (its hash is wrong) / 台账记录哈希校验失败",
            )
        have = held.get((rid, n))
        if have is not None:
            if have != (e.get("id"), e.get("hash")):
                raise SyncError(
                    409,
                    "history_differs",
                    f"request {_number(c, batch_numbers, rid)}: event {n} differs from the one the hub acknowledged / 与中心已确认的台账不一致",
                )
            continue
        prev = GENESIS if n == 1 else (held.get((rid, n - 1)) or (None, None))[1]
        if prev is not None and e.get("prev_hash") != prev:
            raise SyncError(
                409,
                "history_differs",
                f"request {_number(c, batch_numbers, rid)}: event {n} does not follow the event {n - 1} the hub holds / 与中心已确认的台账不衔接",
            )
        if n > 1 and (rid, n - 1) in to:  # it starts where the chain stands (core.chain.check_step)
            wrong = check_step(
                _status_at(to, rid, n - 1), e.get("kind"), e.get("from_status"), e.get("to_status")
            )
            if wrong is not None:
                raise SyncError(
                    422,
                    "rule",
                    f"refused, nothing written: request {_number(c, batch_numbers, rid)}: event {n} "
                    f"(request_event.from_status) breaks rule {STEP_RULE!r}: {wrong}; an event starts from "
                    "the status the events before it leave / 状态变更与台账当前状态不衔接",
                    table="request_event",
                    field="from_status",
                    rule=STEP_RULE,
                )
        held[(rid, n)] = (str(e.get("id")), str(e.get("hash")))
        to[(rid, n)] = e.get("to_status")


#: the rule an event breaks when it does not start from its chain's status (``core.chain.check_step``)
STEP_RULE = "lifecycle_step"


def _status_at(to: Mapping[tuple[str, int], Any], rid: str, n: int) -> Any:
    """The chain's status after its event ``n`` (the last ``to_status`` set, as ``core.chain.fold_rows`` takes it, over the held
    ``to_status``es): the last one set; None when unknown (a hole)."""
    while n >= 1 and (rid, n) in to:
        if to[(rid, n)] is not None:
            return to[(rid, n)]
        n -= 1
    return None


def check_folds(
    c: Connection,
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    events: Sequence[tuple[int, Mapping[str, Any]]],
) -> None:
    """Refuse (``rules.check_request_fold``, 422 ``ledger_fold``) a pushed request row (``rows``: (oseq,
    row) of the rows the batch applies) that is not what its own events give: the events the hub holds
    of it and those of the batch (``events``: (oseq, wire row)) written before the row (a station
    writes a request's events, then its row, in one ledger transaction)."""
    import sqlalchemy as sa

    from qi_station.services.verify import EVENT_READ
    from qi_station.sync.hub import rules

    if not rows:
        return
    te = core_table("request_event")
    chains: dict[str, dict[int, tuple[int, tuple[Any, ...]]]] = {str(r["id"]): {} for _o, r in rows}
    for chunk in chunks(sorted(chains), 500):
        for x in c.execute(sa.select(*(te.c[k] for k in EVENT_READ)).where(id_in(c, te.c.request_id, chunk))):
            chains[x[0]][int(x[1])] = (0, tuple(x))
    read = picker(EVENT_READ)
    for oseq, e in events:
        chain = chains.get(str(e.get("request_id")))
        n = e.get("n")
        if chain is not None and isinstance(n, int):
            chain[n] = (oseq, read(e))
    for oseq, row in rows:
        chain = chains[str(row["id"])]
        rules.check_request_fold(oseq, dict(row), [chain[n][1] for n in sorted(chain) if chain[n][0] < oseq])


class LedgerJobs(HubBase):
    def accept_head(
        self,
        c: Connection,
        st: dict[str, Any],
        head: Mapping[str, Any] | None,
        into: dict[str, Any] | None = None,
    ) -> None:
        """Check and keep the station's signed running head (None: an older station sent none).
        ``into``: the values are added to it (the caller writes the station row once) instead."""
        import sqlalchemy as sa

        if head is None:
            return
        n, h, sig = head.get("n"), head.get("head"), head.get("sig")
        if (
            not isinstance(n, int)
            or isinstance(n, bool)
            or n < 0
            or not isinstance(h, str)
            or not isinstance(sig, str)
        ):
            raise SyncError(422, "bad_head", "the running head must be {n, head, sig}")
        if not st.get("pubkey") or not keys.verify(st["pubkey"], head_message(st["code"], n, h), sig):
            raise SyncError(
                403, "bad_head", "the running head is not signed by this station's key / 签名无效"
            )
        old_n = int(st.get("head_n") or 0)
        trail = self.head_trail(c, st["id"], st)
        if old_n and st.get("head_hash"):
            trail.setdefault(old_n, str(st["head_hash"]))
        if n < old_n:  # a history shorter than the acknowledged one: a late bundle or push, or a rewrite
            if trail.get(n) != h:
                raise SyncError(
                    409,
                    "history_differs",
                    f"station {st['code']} reports {n} events with head {h[:12]}…, but the hub acknowledged "
                    f"{old_n} events with head {str(st.get('head_hash'))[:12]}…"
                    + (
                        f" and holds head {trail[n][:12]}… for its first {n} events"
                        if n in trail
                        else f" and holds no head of this station over {n} events"
                    )
                    + " (its history was rewritten) / 站点台账被改写",
                )
            self.keep_trail(c, st["id"], trail, _earlier(st, head, n, h, trail))
            return  # a prefix of what the hub holds (an older bundle): the newer head stays
        if n == old_n and old_n and h != st.get("head_hash"):
            raise SyncError(
                409,
                "history_differs",
                f"station {st['code']} reports {n} events with head {h[:12]}…, but the hub acknowledged "
                f"{old_n} events with head {str(st.get('head_hash'))[:12]}… (its history was rewritten) / 站点台账被改写",
            )
        self.keep_trail(c, st["id"], trail, {**_earlier(st, head, n, h, trail), n: h})
        vals = {"head_n": n, "head_hash": h, "head_sig": sig, "head_at": env_now()}
        if into is not None:
            into.update(vals)
        else:
            hs = hub_tables()["hub_station"]
            c.execute(sa.update(hs).where(hs.c.id == st["id"]).values(**vals))
        st.update(head_n=n, head_hash=h, head_sig=sig)

    def head_trail(self, c: Connection, station_id: str, st: dict[str, Any] | None = None) -> dict[int, str]:
        """The station's running heads the hub holds, by number of events (``hub_meta``
        ``heads:{station_id}``, JSON ``{n: head}``): heads it acknowledged and the ``earlier`` ones
        its signed heads listed. ``st``: a station row read with its trail in the same transaction
        (:meth:`~.base.HubBase.station_by_code` ``with_trail``): taken from it (once), not read again."""
        import json

        import sqlalchemy as sa

        if st is not None and TRAIL_COLUMN in st:
            raw = st.pop(TRAIL_COLUMN)
        else:
            hm = hub_tables()["hub_meta"]
            raw = c.execute(sa.select(hm.c.v).where(hm.c.k == trail_key(station_id))).scalar()
        try:
            return {int(k): str(v) for k, v in json.loads(raw or "{}").items()}
        except (TypeError, ValueError, AttributeError):
            return {}

    def keep_trail(self, c: Connection, station_id: str, trail: dict[int, str], new: dict[int, str]) -> None:
        """Add ``new`` heads to the station's trail (the highest :data:`TRAIL_KEEP` kept); written only
        when it changes."""
        import json

        if all(trail.get(k) == v for k, v in new.items()):
            return
        merged = {**trail, **new}
        keep = dict(sorted(merged.items())[-TRAIL_KEEP:])
        hm = hub_tables()["hub_meta"]
        v = json.dumps({str(k): x for k, x in keep.items()}, separators=(",", ":"))
        ins = self.dialect_insert(hm).values(k=trail_key(station_id), v=v)
        c.execute(ins.on_conflict_do_update(index_elements=["k"], set_={"v": v}))

    def verify(self, station: str | None = None) -> dict[str, Any]:
        """Check every request the hub holds (of one station): chain, row against its events. Same
        result shape as the station's ``ledger verify`` (plus ``heads``: each station's signed head)."""
        import sqlalchemy as sa

        from qi_station.services.verify import EVENT_READ, ROW_READ, check_request, comparable

        self.require()
        tr, te = core_table("request"), core_table("request_event")
        hs = hub_tables()["hub_station"]
        sq = sa.select(
            hs.c.code, hs.c.head_n, hs.c.head_hash, hs.c.head_at, hs.c.pubkey, hs.c.head_sig, hs.c.revoked
        )
        if station:
            sq = sq.where(hs.c.code == station)
        heads: list[dict[str, Any]] = []
        ledger: list[str] = []
        problems: list[dict[str, Any]] = []
        n_req = n_ev = 0
        with self.engine.connect() as c:
            for code, n, h, at, pub, sig, revoked in c.execute(sq):
                heads.append({"station": code, "n": int(n or 0), "head": h, "at": to_db(at) if at else None})
                if revoked and not pub:  # its key was retired at the revoke: the head cannot be re-checked
                    heads[-1]["signature"] = "key retired (revoked)"
                    continue
                if h and not (pub and keys.verify(pub, head_message(code, int(n or 0), h), sig or "")):
                    ledger.append(
                        f"station {code}: the stored head's signature does not verify / 站点 {code} 的台账签名无效"
                    )
            last = ""
            while True:  # keyset pages of requests (the database's own order), their events by id
                q = (
                    sa.select(*(tr.c[k] for k in ROW_READ))
                    .where(tr.c.id > last)
                    .order_by(tr.c.id)
                    .limit(PAGE)
                )
                if station:
                    q = q.where(tr.c.station_code == station)
                page = [tuple(comparable(v) for v in r) for r in c.execute(q)]
                if not page:
                    break
                last = page[-1][0]
                evs: dict[str, list[tuple[Any, ...]]] = {}
                for e in c.execute(
                    sa.select(*(te.c[k] for k in EVENT_READ)).where(te.c.request_id.in_([r[0] for r in page]))
                ):
                    evs.setdefault(e[0], []).append(tuple(comparable(v) for v in e))
                for row in page:
                    mine = sorted(evs.get(row[0], []), key=lambda x: int(x[1]))
                    n_req += 1
                    n_ev += len(mine)
                    got = check_request(row, mine, hub=True)
                    if got:
                        problems.append({"number": row[1], "id": row[0], "problems": got})
        return {
            "ok": not problems and not ledger,
            "requests": n_req,
            "events": n_ev,
            "problems": problems,
            "ledger": ledger,
            "heads": heads,
        }
