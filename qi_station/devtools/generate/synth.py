"""Request rows, built: each chunk of a :class:`~.requests.RequestPlan` has its own seeded RNG, so
chunks can be built in any process (:func:`synth_parallel`) and still give the same rows."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from qi_station.core import domain
from qi_station.core.chain import canonical
from qi_station.core.ids import format_number
from qi_station.core.ids import uuid7 as uuid7_from
from qi_station.devtools.generate.fields import (
    _EPOCH,
    CHUNK,
    DAY_MS,
    HOUR_MS,
    LOCAL_OFFSET_MS,
    day_str,
    fmt_ms,
    local_day,
)
from qi_station.devtools.generate.requests import (
    _CHANNEL_WEIGHTS,
    _ELEMENT_WEIGHTS,
    _REFER_KINDS,
    _REFER_WEIGHTS,
    _SAT_WEIGHTS,
    _STATUS_WEIGHTS,
    EntRef,
    RequestBatch,
    RequestPlan,
    _Chain,
    _path,
    _table,
    plan_requests,
)
from qi_station.devtools.generate.vocab import (
    CANCEL_NOTES,
    DESCRIPTION_TAILS,
    FOLLOWUPS,
    HOLD_NOTES,
    IMPORT_NOTE,
    OPERATORS,
    REFER_NOTES,
    REQUEST_TEMPLATES,
    RESULTS,
    STATION_HEAD,
    WAIT_NOTES,
)

# calendar days from received to promised in generated data (a spread for benchmarks, not the
# station's promise, which counts working days: core.workdays.promise_date)
SYNTH_PROMISE_DAYS = {"normal": 15, "urgent": 5}


def synth_requests(
    rng: random.Random,
    n: int,
    *,
    station_code: str,
    enterprises: Sequence[EntRef],
    refs: Mapping[str, Sequence[tuple[str, str]]],
    now_ms: int,
    months: float = 12,
    counters: dict[str, int] | None = None,
    chunk: int = CHUNK,
    detailed_from_ms: int | None = None,
    describe: bool = False,
) -> Iterator[RequestBatch]:
    """Yield batches of request, event and referral rows, consistent with the ledger's rules.

    ``counters`` maps ``"{CODE}-{YYYYMM}"`` to the last number used; it is updated in place (the
    caller writes the ``ledger_seq:`` kv rows from it).  The nine most recent requests take each
    status once so every status is present even at small scale.

    Requests received before ``detailed_from_ms`` (None: all are detailed) are "back-filled from the
    paper ledger": their fields (times, outcome, satisfaction) are complete but their history is a
    single ``created`` event whose ``to_status`` is the final status, with note ``IMPORT_NOTE`` and
    ``"imported": true`` in its data.  That keeps million-request databases fast to build.
    """
    plan = plan_requests(
        rng,
        n,
        station_code=station_code,
        enterprises=enterprises,
        refs=refs,
        now_ms=now_ms,
        months=months,
        counters=counters,
        chunk=chunk,
        detailed_from_ms=detailed_from_ms,
        describe=describe,
    )
    for k in range(plan.chunks):
        yield _synth_chunk(plan, k)


def _synth_chunk(plan: RequestPlan, k: int) -> RequestBatch:
    """Rows of chunk ``k`` of the plan (requests, their events and referrals)."""
    rng = random.Random(plan.seed * 1_000_003 + k)
    n, now_ms, detailed_from = plan.n, plan.now_ms, plan.detailed_from
    station_code, enterprises, refs = plan.station_code, plan.enterprises, plan.refs
    describe = plan.describe
    counters = dict(plan.starts[k])
    first = k * plan.chunk
    times = plan.times[first : first + plan.chunk]
    today = local_day(now_ms)
    rand, getrandbits = rng.random, rng.getrandbits
    statuses = domain.STATUSES
    forced = {n - 1 - i: s for i, s in enumerate(statuses)} if n >= len(statuses) else {}
    elem_combos: dict[tuple[str, ...], str] = {}
    titles_by_el = {e: [(t, canonical({"title": t})) for t in ts] for e, ts in REQUEST_TEMPLATES.items()}
    imported_data = {
        t: canonical({"imported": True, "title": t}) for ts in REQUEST_TEMPLATES.values() for t in ts
    }
    has_refs = {k: v for k, v in refs.items() if v}
    refer_tbl = _table(
        [k for k in _REFER_KINDS if k in has_refs],
        [w for k, w in zip(_REFER_KINDS, _REFER_WEIGHTS, strict=True) if k in has_refs],
    )
    status_tbl = {b: _table(statuses, w) for b, w in _STATUS_WEIGHTS.items()}
    sat_tbl = _table((1, 2, 3, 4, 5), _SAT_WEIGHTS)
    sat_data = {v: canonical({"satisfaction": v}) for v in (1, 2, 3, 4, 5)}
    channel_tbl = _table(domain.CHANNELS, _CHANNEL_WEIGHTS)
    element_tbl = _table(domain.ELEMENTS, _ELEMENT_WEIGHTS)
    el_index = {e: i for i, e in enumerate(domain.ELEMENTS)}
    month_key: dict[int, str] = {}
    batch = RequestBatch()
    ne = len(enterprises)
    n_ops = len(OPERATORS)
    for i, rms in enumerate(times, start=first):
        ent = enterprises[int(rand() * ne)]
        rid = uuid7_from(rms, getrandbits(74))
        # elements: 1..3, biased towards the enterprise's own
        r = rand()
        k = 1 if r < 0.7 else (2 if r < 0.94 else 3)
        els = [element_tbl[int(rand() * len(element_tbl))] for _ in range(k)]
        if ent.elements and rand() < 0.5:
            els[0] = ent.elements[int(rand() * len(ent.elements))]
        key = tuple(sorted(set(els), key=el_index.__getitem__)) if k > 1 else (els[0],)
        el_json = elem_combos.get(key)
        if el_json is None:
            el_json = elem_combos[key] = json.dumps(list(key))
        tl = titles_by_el[key[0]]
        title, title_data = tl[int(rand() * len(tl))]
        channel = channel_tbl[int(rand() * len(channel_tbl))]
        urgency = "urgent" if rand() < 0.15 else "normal"
        rday = (rms + LOCAL_OFFSET_MS) // DAY_MS
        promise_days = SYNTH_PROMISE_DAYS[urgency] if rand() < 0.7 else 3 + int(rand() * 28)
        status = forced.get(i)
        if status is None:
            age = today - rday
            tbl = status_tbl["old" if age >= 60 else ("mid" if age >= 15 else "new")]
            status = tbl[int(rand() * len(tbl))]
        if not has_refs and status == "referred":
            status = "waiting"
        path = _path(rng, status) if status != "new" else []
        if not has_refs and "referred" in path:
            path = [("waiting" if p == "referred" else p) for p in path]
            if path[-1] == "waiting" and status == "in_progress":
                path.append("in_progress")
        operator = OPERATORS[int(rand() * n_ops)]
        mkey = month_key.get(rday)
        if mkey is None:
            d = _EPOCH + timedelta(days=rday)
            mkey = month_key[rday] = f"{station_code}-{d.year}{d.month:02d}"
        seqn = counters.get(mkey, 0) + 1
        counters[mkey] = seqn
        # event times: gaps (ms) per move, squeezed to fit before now
        gaps = []
        for p in path:
            if p == "accepted":
                g = 600_000 + int(rand() * 2 * DAY_MS)
            elif p == "resolved":
                g = HOUR_MS + int(rand() * promise_days * DAY_MS * (1 if rand() < 0.85 else 2))
            elif p == "closed":
                g = DAY_MS + int(rand() * 9 * DAY_MS)
            else:
                g = 1_800_000 + int(rand() * 3 * DAY_MS)
            gaps.append(g)
        room = now_ms - 60_000 - rms
        total = sum(gaps)
        if total > room and total:
            f = max(room, len(gaps)) / total
            gaps = [max(1, int(g * f)) for g in gaps]
        created_ms = rms + 1000 + int(rand() * 300_000) if rand() < 0.5 else rms
        if created_ms > now_ms:
            created_ms = rms
        ev = _Chain(rid, rng, batch.events)
        detailed = rms >= detailed_from
        if detailed:
            received_s = ev.add(rms, operator, "created", None, "new", None, title_data)
        else:
            received_s = ev.add(rms, operator, "created", None, status, IMPORT_NOTE, imported_data[title])
            ev.record = False
        cur = "new"
        t = rms
        accepted_s = resolved_s = closed_s = cancelled_s = None
        result = followup = None
        solved = cost = sat = None
        if not detailed:  # back-filled: outcome fields only, no per-step events
            for p, g in zip(path, gaps, strict=True):
                t += g
                if p == "referred":
                    kind = refer_tbl[int(rand() * len(refer_tbl))]
                    items = has_refs[kind]
                    item_id, item_name = items[int(rand() * len(items))]
                    batch.referrals.append(
                        (
                            uuid7_from(t, getrandbits(74)),
                            rid,
                            kind,
                            item_id,
                            item_name,
                            IMPORT_NOTE,
                            operator,
                            fmt_ms(t),
                        )
                    )
                elif p == "accepted":
                    if accepted_s is None:
                        accepted_s = fmt_ms(t)
                elif p == "resolved":
                    resolved_s = fmt_ms(t)
                    result = RESULTS[int(rand() * len(RESULTS))]
                    solved = 1 + int(rand() * 5)
                    cost = int(rand() ** 3 * 5000) if rand() < 0.8 else 0
                elif p == "closed":
                    closed_s = fmt_ms(t)
                    sat = sat_tbl[int(rand() * len(sat_tbl))]
                    followup = FOLLOWUPS[int(rand() * len(FOLLOWUPS))]
                elif p == "cancelled":
                    cancelled_s = fmt_ms(t)
                elif p == "in_progress" and cur == "resolved":
                    resolved_s = None
                cur = p
            path, gaps = [], []
            # the one event carries every field it sets (core.chain.fold_events rebuilds the row)
            filled = {
                "accepted_at": accepted_s,
                "resolved_at": resolved_s,
                "closed_at": closed_s,
                "cancelled_at": cancelled_s,
                "result": result,
                "problems_solved": solved,
                "cost_saved_cents": cost,
                "satisfaction": sat,
                "followup_note": followup,
                "followup_at": closed_s,
            }
            ev.redo_only(
                canonical(
                    {"imported": True, "title": title, **{k: x for k, x in filled.items() if x is not None}}
                )
            )
        for p, g in zip(path, gaps, strict=True):
            t += g
            actor = operator
            note = None
            data = "{}"
            if p == "referred":
                kind = refer_tbl[int(rand() * len(refer_tbl))]
                items = has_refs[kind]
                item_id, item_name = items[int(rand() * len(items))]
                note = REFER_NOTES[int(rand() * len(REFER_NOTES))]
                at_s = ev.add(
                    t,
                    actor,
                    "referral",
                    cur,
                    "referred",
                    note,
                    canonical({"kind": kind, "item_id": item_id, "item_name": item_name}),
                )
                batch.referrals.append(
                    (uuid7_from(t, getrandbits(74)), rid, kind, item_id, item_name, note, actor, at_s)
                )
                cur = "referred"
                continue
            if p == "resolved":
                result = RESULTS[int(rand() * len(RESULTS))]
                solved = 1 + int(rand() * 5)
                cost = int(rand() ** 3 * 5000) if rand() < 0.8 else 0
                data = canonical(  # not charged, fee 0.00: what `request move resolved` records for a
                    {  # free service (stations are free), so 明细's 收费金额 reads 0.00, never empty
                        "charged": False,
                        "cost_saved": f"{cost // 100}.{cost % 100:02d}",
                        "fee": "0.00",
                        "problems_solved": solved,
                        "result": result,
                    }
                )
            elif p == "closed":
                sat = sat_tbl[int(rand() * len(sat_tbl))]
                followup = note = FOLLOWUPS[int(rand() * len(FOLLOWUPS))]
                if rand() < 0.3:
                    actor = STATION_HEAD
                data = sat_data[sat]
            elif p == "cancelled":
                note = CANCEL_NOTES[int(rand() * len(CANCEL_NOTES))]
            elif p == "on_hold":
                note = HOLD_NOTES[int(rand() * len(HOLD_NOTES))]
            elif p == "waiting":
                note = WAIT_NOTES[int(rand() * len(WAIT_NOTES))]
            elif p == "in_progress" and cur == "resolved":
                resolved_s = None
                data = '{"reopen":true}'
                note = "企业反映问题复现，重新办理"
            at_s = ev.add(t, actor, "status", cur, p, note, data)
            if p == "accepted":
                if accepted_s is None:
                    accepted_s = at_s
            elif p == "resolved":
                resolved_s = at_s
            elif p == "closed":
                closed_s = at_s
            elif p == "cancelled":
                cancelled_s = at_s
            cur = p
        if cur != status:  # pragma: no cover - a bug in _path
            raise AssertionError((cur, status))
        batch.requests.append(
            (
                rid,
                format_number(mkey, seqn),
                station_code,
                ent.id,
                el_json,
                title,
                f"{title}：{DESCRIPTION_TAILS[int(rand() * 4)]}" if describe else None,
                channel,
                urgency,
                ent.contact_name,
                ent.phone_e164,
                ent.phone_display,
                received_s,
                day_str(rday + promise_days),
                status,
                operator,
                accepted_s,
                resolved_s,
                closed_s,
                cancelled_s,
                result,
                solved,
                cost,
                sat,
                followup,
                closed_s,
                ev.n,
                0,
                0,
                0,
                fmt_ms(created_ms),
                fmt_ms(max(t, created_ms)),
            )
        )
    return batch


def _worker(q: Any, plan: RequestPlan, w: int, workers: int) -> None:
    try:
        for k in range(w, plan.chunks, workers):
            q.put(_synth_chunk(plan, k))
        q.put(None)
    except BaseException as e:  # noqa: BLE001 - handed to the parent
        q.put(e)


def synth_parallel(plan: RequestPlan, workers: int = 2) -> Iterator[RequestBatch]:
    """The plan's chunks, in order, built by ``workers`` child processes (chunk k by worker k mod
    workers) while the caller inserts: Python row building and SQLite writing share the CPUs, and
    the rows are the same as :func:`synth_requests` would give."""
    import multiprocessing as mp

    ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    queues = [ctx.Queue(maxsize=3) for _ in range(workers)]
    procs = [
        ctx.Process(target=_worker, args=(queues[w], plan, w, workers), daemon=True) for w in range(workers)
    ]
    for pr in procs:
        pr.start()
    try:
        for k in range(plan.chunks):
            item = queues[k % workers].get()
            if isinstance(item, BaseException):
                raise item
            if item is None:  # pragma: no cover - a worker ended early
                raise RuntimeError(f"generator worker {k % workers} ended early")
            yield item
    finally:
        for pr in procs:
            if pr.is_alive():
                pr.terminate()
            pr.join()
