"""Request synthesis, the model: row columns, the per-request event chain, status paths, receive
times and the numbering plan (the rows themselves are built in :mod:`.synth`)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from qi_station.core.chain import GENESIS, event_hash_of
from qi_station.core.ids import uuid7 as uuid7_from
from qi_station.devtools.generate.fields import (
    _EPOCH,
    CHUNK,
    DAY_MS,
    HOUR_MS,
    LOCAL_OFFSET_MS,
    fmt_ms,
    local_day,
)


# ---- requests ----------------------------------------------------------------------------------
@dataclass
class EntRef:
    id: str
    contact_name: str | None
    phone_e164: str | None
    phone_display: str | None
    elements: tuple[str, ...] = ()


@dataclass
class RequestBatch:
    requests: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    referrals: list[tuple[Any, ...]] = field(default_factory=list)


# The request columns the generator fills (sub_type and the hub-owned fields stay NULL).
REQUEST_COLUMNS = (
    "id",
    "number",
    "station_code",
    "enterprise_id",
    "elements",
    "title",
    "description",
    "channel",
    "urgency",
    "contact_name",
    "phone_e164",
    "phone_display",
    "received_at",
    "promised_date",
    "status",
    "operator",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "cancelled_at",
    "result",
    "problems_solved",
    "cost_saved_cents",
    "satisfaction",
    "followup_note",
    "followup_at",
    "s_rev",
    "h_rev",
    "seq",
    "deleted",
    "created_at",
    "updated_at",
)
_STATUS_WEIGHTS = {
    # age bucket -> weights in domain.STATUSES order (new accepted in_progress referred waiting resolved closed
    # cancelled on_hold)
    "old": (1, 2, 5, 2, 3, 10, 66, 8, 3),
    "mid": (2, 4, 14, 8, 7, 20, 35, 5, 5),
    "new": (14, 14, 24, 10, 10, 12, 8, 3, 5),
}
_SAT_WEIGHTS = (1, 4, 10, 30, 55)  # 1..5
_CHANNEL_WEIGHTS = (25, 30, 25, 15, 5)
_ELEMENT_WEIGHTS = (12, 18, 26, 14, 12, 6, 7, 5)
_REFER_KINDS = ("expert", "institution", "equipment", "project")
_REFER_WEIGHTS = (40, 35, 20, 5)


class _Chain:
    """Builds one request's hash-chained events as ``db.write.append_event`` would (the same
    ``core.chain`` hash), without the outbox."""

    __slots__ = ("rid", "rng", "prev", "n", "rows", "record")

    def __init__(self, rid: str, rng: random.Random, rows: list[tuple[Any, ...]]) -> None:
        self.rid = rid
        self.rng = rng
        self.prev = GENESIS
        self.n = 0
        self.rows = rows
        self.record = True

    def add(
        self, at_ms: int, actor: str, kind: str, frm: str | None, to: str | None, note: str | None, data: str
    ) -> str:
        """Append one event; return its ``at`` as DB text (only the text once ``record`` is off)."""
        at = fmt_ms(at_ms)
        if not self.record:
            return at
        self.n += 1
        h = event_hash_of(self.prev, self.rid, self.n, at, actor, kind, frm, to, note, data)
        self.rows.append(
            (
                uuid7_from(at_ms, self.rng.getrandbits(74)),
                self.rid,
                self.n,
                at,
                actor,
                kind,
                frm,
                to,
                note,
                data,
                self.prev,
                h,
            )
        )
        self.prev = h
        return at

    def redo_only(self, data: str) -> None:
        """Rewrite the data of the chain's only event (a back-filled request's: its outcome is known
        once drawn) and hash it again; the event keeps its id."""
        e = self.rows[-1]
        h = event_hash_of(GENESIS, e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8], data)
        self.rows[-1] = (*e[:9], data, GENESIS, h)
        self.prev = h


def _path(rng: random.Random, status: str) -> list[str]:
    """The status moves after creation that end in ``status`` (every move legal)."""
    if status == "new":
        return []
    if status == "accepted":
        return ["accepted"] if rng.random() < 0.9 else ["on_hold", "accepted"]
    if status == "in_progress":
        r = rng.random()
        if r < 0.75:
            return ["accepted", "in_progress"]
        if r < 0.9:
            return ["accepted", "in_progress", "waiting", "in_progress"]
        return ["accepted", "in_progress", "referred", "in_progress"]
    if status == "referred":
        return ["accepted", "in_progress", "referred"]
    if status == "waiting":
        return ["accepted", "in_progress", "waiting"]
    if status in ("resolved", "closed"):
        r = rng.random()
        mid = ["referred"] if r < 0.3 else (["waiting", "in_progress"] if r < 0.45 else [])
        p = ["accepted", "in_progress", *mid, "resolved"]
        if rng.random() < 0.03:  # reopened once
            p += ["in_progress", "resolved"]
        if status == "closed":
            p.append("closed")
        return p
    if status == "cancelled":
        return ["accepted", "in_progress"][: rng.choice((0, 1, 1, 2))] + ["cancelled"]
    if status == "on_hold":
        return ["accepted", "in_progress"][: rng.choice((0, 1, 1, 2))] + ["on_hold"]
    raise ValueError(status)


def received_times(rng: random.Random, n: int, start_ms: int, end_ms: int) -> list[int]:
    """n sorted receive times (epoch ms) in office hours (Asia/Shanghai), mostly on weekdays, < end_ms."""
    first_day, last_day = local_day(start_ms), local_day(end_ms)
    out: list[int] = []
    rand = rng.random
    span = last_day - first_day + 1
    end_tod = end_ms + LOCAL_OFFSET_MS - last_day * DAY_MS
    open_ms, close_ms = 8 * HOUR_MS + 30 * 60_000, 17 * HOUR_MS + 30 * 60_000
    for _ in range(n):
        d = first_day + int(rand() * span)
        wd = (d + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
        if wd >= 5 and rand() < 0.85:
            d -= wd - 4
            if d < first_day:
                d += 7
        hi = close_ms
        if d >= last_day:
            d = last_day
            hi = min(close_ms, end_tod - 60_000)
            if hi <= open_ms:
                d -= 1
                hi = close_ms
        out.append(d * DAY_MS - LOCAL_OFFSET_MS + open_ms + int(rand() * (hi - open_ms)))
    out.sort()
    return out


def _table(items: Sequence[Any], weights: Sequence[int]) -> list[Any]:
    """A lookup list where each item appears ``weight`` times: ``t[int(random() * len(t))]`` is a fast
    weighted choice."""
    return [it for it, w in zip(items, weights, strict=True) for _ in range(w)]


@dataclass
class RequestPlan:
    """Everything a chunk of requests needs; chunks are independent (own RNG, own start counters), so
    they can be built in any process and still give the same rows."""

    n: int
    chunk: int
    seed: int
    station_code: str
    enterprises: Sequence[EntRef]
    refs: Mapping[str, Sequence[tuple[str, str]]]
    now_ms: int
    detailed_from: int
    times: list[int]
    starts: list[dict[str, int]]
    describe: bool = False  # fill ``description`` (the demo does; bulk generation leaves it NULL)

    @property
    def chunks(self) -> int:
        return len(self.starts)


def plan_requests(
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
) -> RequestPlan:
    """Receive times and ledger numbering for ``n`` requests; ``counters`` is advanced in place to the
    last number used per month."""
    counters = counters if counters is not None else {}
    start_ms = now_ms - int(months * 30.44 * DAY_MS)
    times = received_times(rng, n, start_ms, now_ms - 10 * 60_000)
    starts: list[dict[str, int]] = []
    month_key: dict[int, str] = {}
    for i, rms in enumerate(times):
        if i % chunk == 0:
            starts.append(dict(counters))
        rday = (rms + LOCAL_OFFSET_MS) // DAY_MS
        mkey = month_key.get(rday)
        if mkey is None:
            d = _EPOCH + timedelta(days=rday)
            mkey = month_key[rday] = f"{station_code}-{d.year}{d.month:02d}"
        counters[mkey] = counters.get(mkey, 0) + 1
    return RequestPlan(
        n=n,
        chunk=chunk,
        seed=rng.getrandbits(62),
        station_code=station_code,
        enterprises=enterprises,
        refs=refs,
        now_ms=now_ms,
        detailed_from=detailed_from_ms if detailed_from_ms is not None else -1,
        times=times,
        starts=starts,
        describe=describe,
    )
