"""The month rollup (issue 13): over random ledgers — creates, moves, reopen, cancel, corrections,
promised-date edits, deletes and undeletes, hard deletes, events out of time order, times at the
Asia/Shanghai month edges — the report's history-wide figures read from the rollup equal the ones
computed from every event (``collect(..., exact=True)``), and ``report rebuild`` changes nothing.
The rollup is kept by triggers, so the ledger is written here with plain SQL, the way every path
(station write, sync apply, hub push, import, restore) reaches the database. SQLite (a station or a
hub database: the same schema) and PostgreSQL (a hub at 127.0.0.1:5432, skipped when absent)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sync_util import pg_available, pg_create, pg_drop

from qi_station.core.clock import to_db
from qi_station.core.months import month_bounds_utc
from qi_station.db import rollup
from qi_station.db.engine import make_engine, open_db
from qi_station.reports.ledger import rebuild_rollup
from qi_station.reports.queries import collect, report_connection

PG = pg_available()
STATUSES = (
    "new",
    "accepted",
    "in_progress",
    "referred",
    "waiting",
    "on_hold",
    "resolved",
    "closed",
    "cancelled",
)
# times around the Asia/Shanghai month edges (naive UTC: 16:00Z is local midnight)
EDGES = [
    datetime(2025, 12, 31, 15, 59, 59, 999999),
    datetime(2025, 12, 31, 16, 0),
    datetime(2026, 1, 15, 3, 0),
    datetime(2026, 1, 31, 15, 59, 59),
    datetime(2026, 1, 31, 16, 0),
    datetime(2026, 1, 31, 16, 30),
    datetime(2026, 2, 27, 23, 0),
    datetime(2026, 2, 28, 16, 0),
    datetime(2026, 3, 31, 16, 0),
    datetime(2027, 1, 31, 16, 0),
]
MONTHS = ("2025-12", "2026-01", "2026-02", "2026-03", "2027-01", "2027-02")

op = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(("S1", "S2")), st.sampled_from(EDGES), st.integers(-40, 60)),
    st.tuples(
        st.just("move"),
        st.integers(0, 30),
        st.sampled_from(STATUSES),
        st.sampled_from(EDGES),
        st.integers(0, 5),
    ),
    st.tuples(st.just("refer"), st.integers(0, 30), st.sampled_from(EDGES)),
    st.tuples(st.just("reopen"), st.integers(0, 30), st.sampled_from(EDGES)),
    st.tuples(
        st.just("correct"), st.integers(0, 30), st.integers(1, 5), st.integers(0, 9), st.sampled_from(EDGES)
    ),
    st.tuples(st.just("promise"), st.integers(0, 30), st.integers(-40, 60)),
    st.tuples(st.just("delete"), st.integers(0, 30), st.booleans()),
    st.tuples(st.just("purge"), st.integers(0, 30)),
    st.tuples(st.just("note"), st.integers(0, 30), st.sampled_from(EDGES)),
    st.tuples(st.just("rectify"), st.integers(0, 30), st.sampled_from(EDGES)),
    # an enterprise renamed (the open-rectification list shows its name as of the report)
    st.tuples(st.just("rename"), st.sampled_from(("ent", "ent2")), st.sampled_from(("企业", "企业乙", "丙"))),
    # what the first requests (request_first, revision 0025) read: the enterprise row, the station, the time
    st.tuples(
        st.just("rekey"),
        st.integers(0, 30),
        st.sampled_from(("ent", "ent2", "ent3")),
        st.sampled_from(("S1", "S2")),
    ),
    st.tuples(st.just("redate"), st.integers(0, 30), st.sampled_from(EDGES)),
    # requests written by ONE statement (a hub push's COPY): PostgreSQL's statement-level triggers
    # (revision 0029) see them at once, keys repeated, deleted ones and other stations among them
    st.tuples(
        st.just("bulk"),
        st.lists(
            st.tuples(
                st.sampled_from(("S1", "S2")),
                st.sampled_from(("ent", "ent2", "ent3")),
                st.sampled_from(EDGES),
                st.integers(-40, 60),
                st.booleans(),
            ),
            min_size=1,
            max_size=6,
        ),
    ),
)


class Ledger:
    """Writes requests and events with plain SQL on a SQLAlchemy connection (SQLite or PostgreSQL)."""

    def __init__(self, conn: Any) -> None:
        self.c = conn
        self.pg = conn.dialect.name == "postgresql"
        self.reqs: list[dict[str, Any]] = []
        self.n = 0

    def t(self, dt: datetime) -> Any:
        return dt if self.pg else to_db(dt)

    def d(self, day: date) -> Any:
        return day if self.pg else day.isoformat()

    def x(self, sql: str, **p: Any) -> None:
        from sqlalchemy import text

        self.c.execute(text(sql), p)

    def setup(self) -> None:
        now = self.t(datetime(2026, 1, 1))
        self.x(
            "INSERT INTO enterprise (id, name, uscc, region_code, name_py, name_initials, haystack, elements, "
            "s_rev, seq, deleted, created_at, updated_at) VALUES ('ent', '企业', 'U', '370100', '', '', '', '[]', "
            "1, 0, :f, :now, :now)",
            f=False,
            now=now,
        )
        # station S2's row of the same enterprise (the hub holds one per station; a USCC is one enterprise)
        self.x(
            "INSERT INTO enterprise (id, name, uscc, region_code, name_py, name_initials, haystack, elements, "
            "station_code, s_rev, seq, deleted, created_at, updated_at) VALUES ('ent2', '企业', 'U', '370200', "
            "'', '', '', '[]', 'S2', 1, 0, :f, :now, :now)",
            f=False,
            now=now,
        )
        # another enterprise, served by S1
        self.x(
            "INSERT INTO enterprise (id, name, uscc, region_code, name_py, name_initials, haystack, elements, "
            "s_rev, seq, deleted, created_at, updated_at) VALUES ('ent3', '另一企业', 'V', '370100', '', '', '', "
            "'[]', 1, 0, :f, :now, :now)",
            f=False,
            now=now,
        )

    def event(
        self, r: dict[str, Any], kind: str, at: datetime, frm: Any, to: Any, data: dict[str, Any]
    ) -> None:
        r["n"] += 1
        self.x(
            "INSERT INTO request_event (id, request_id, n, at, actor, kind, from_status, to_status, note, data, "
            "prev_hash, hash) VALUES (:id, :rid, :n, :at, 'a', :kind, :frm, :to, NULL, :data, '', '')",
            id=uuid.uuid4().hex,
            rid=r["id"],
            n=r["n"],
            at=self.t(at),
            kind=kind,
            frm=frm,
            to=to,
            data=json.dumps(data),
        )

    def update(self, r: dict[str, Any], **changes: Any) -> None:
        sets = ", ".join(f"{k} = :{k}" for k in changes)
        self.x(f"UPDATE request SET {sets} WHERE id = :rid", rid=r["id"], **changes)

    def bulk(self, items: list[tuple[Any, ...]]) -> None:
        """Requests (and their ``created`` events) inserted by one multi-row INSERT each."""
        rows, events, p = [], [], {}
        for k, (code, ent, at, promise, deleted) in enumerate(items):
            self.n += 1
            r = {"id": f"r{self.n}", "n": 1, "status": "new", "purged": False}
            promised = (at + timedelta(hours=8)).date() + timedelta(days=promise)
            rows.append(
                f"(:id{k}, :id{k}, :code{k}, :ent{k}, '[]', 't', 'walk_in', 'normal', :at{k}, :pd{k}, 'new', 1, 0, "
                f"0, :del{k}, :at{k}, :at{k})"
            )
            events.append(f"(:eid{k}, :id{k}, 1, :at{k}, 'a', 'created', NULL, 'new', NULL, '{{}}', '', '')")
            p |= {
                f"id{k}": r["id"],
                f"code{k}": code,
                f"ent{k}": ent,
                f"at{k}": self.t(at),
                f"pd{k}": self.d(promised),
                f"del{k}": deleted,
                f"eid{k}": uuid.uuid4().hex,
            }
            self.reqs.append(r)
        self.x(
            "INSERT INTO request (id, number, station_code, enterprise_id, elements, title, channel, urgency, "
            "received_at, promised_date, status, s_rev, h_rev, seq, deleted, created_at, updated_at) VALUES "
            + ", ".join(rows),
            **p,
        )
        self.x(
            "INSERT INTO request_event (id, request_id, n, at, actor, kind, from_status, to_status, note, data, "
            "prev_hash, hash) VALUES " + ", ".join(events),
            **p,
        )

    def pick(self, i: int) -> dict[str, Any] | None:
        live = [r for r in self.reqs if not r["purged"]]
        return live[i % len(live)] if live else None

    def apply(self, o: tuple[Any, ...]) -> None:
        if o[0] == "rename":
            self.x("UPDATE enterprise SET name = :name WHERE id = :id", id=o[1], name=o[2])
            return
        if o[0] == "bulk":
            self.bulk(o[1])
            return
        if o[0] == "create":
            _, code, at, promise = o
            self.n += 1
            r = {"id": f"r{self.n}", "n": 0, "status": "new", "purged": False}
            promised = (at + timedelta(hours=8)).date() + timedelta(days=promise)
            self.x(
                "INSERT INTO request (id, number, station_code, enterprise_id, elements, title, channel, urgency, "
                "received_at, promised_date, status, s_rev, h_rev, seq, deleted, created_at, updated_at) VALUES "
                "(:id, :id, :code, :ent, '[]', 't', 'walk_in', 'normal', :at, :pd, 'new', 1, 0, 0, :f, :at, :at)",
                id=r["id"],
                ent="ent2" if code == "S2" else "ent",
                code=code,
                at=self.t(at),
                pd=self.d(promised),
                f=False,
            )
            self.event(r, "created", at, None, "new", {})
            self.reqs.append(r)
            return
        r = self.pick(o[1])
        if r is None:
            return
        if o[0] == "move":
            _, _, to, at, ps = o
            data = {"problems_solved": ps, "cost_saved": f"{ps}.25"} if to == "resolved" else {}
            changes: dict[str, Any] = {"status": to}
            if to == "resolved":
                changes.update(resolved_at=self.t(at), problems_solved=ps, cost_saved_cents=ps * 100 + 25)
            elif to == "closed":  # the rating's time (a low one needs rectification)
                changes.update(closed_at=self.t(at))
            self.update(r, **changes)
            self.event(r, "status", at, r["status"], to, data)
            r["status"] = to
        elif o[0] == "refer":  # a referral moves an open request to referred
            if r["status"] in ("new", "accepted", "in_progress", "waiting", "on_hold"):
                self.update(r, status="referred")
                self.event(r, "referral", o[2], r["status"], "referred", {})
                r["status"] = "referred"
        elif o[0] == "reopen":
            self.update(r, status="in_progress")
            self.event(r, "status", o[2], "resolved", "in_progress", {})
            r["status"] = "in_progress"
        elif o[0] == "correct":  # a correction: the row's outcome changes, the event is not a move
            _, _, sat, ps, at = o
            self.update(r, satisfaction=sat, problems_solved=ps, cost_saved_cents=ps * 7)
            self.event(r, "correct", at, None, None, {"satisfaction": sat})
        elif o[0] == "promise":
            self.update(r, promised_date=self.d(date(2026, 1, 20) + timedelta(days=o[2])))
        elif o[0] == "delete":
            self.update(r, deleted=o[2])
        elif o[0] == "purge":  # a hard delete (demo removal): the events, then the row
            if self.pg:
                self.x("ALTER TABLE request_event DISABLE TRIGGER request_event_append_only")
            else:
                self.x("DROP TRIGGER request_event_no_delete")
            self.x("DELETE FROM request_event WHERE request_id = :rid", rid=r["id"])
            self.x("DELETE FROM request WHERE id = :rid", rid=r["id"])
            if self.pg:
                self.x("ALTER TABLE request_event ENABLE TRIGGER request_event_append_only")
            else:
                self.x(
                    "CREATE TRIGGER request_event_no_delete BEFORE DELETE ON request_event "
                    "BEGIN SELECT RAISE(ABORT, 'request_event is append-only'); END"
                )
            r["purged"] = True
        elif o[0] == "note":
            self.event(r, "note", o[2], None, None, {})
        elif o[0] == "rectify":  # a rectify record (any time: the report reads its first one)
            self.event(r, "rectify", o[2], None, None, {"action": "整改", "by": "张三"})
        elif o[0] == "rekey":  # another enterprise row and station
            self.update(r, enterprise_id=o[2], station_code=o[3])
        elif o[0] == "redate":  # the receipt time corrected
            self.update(r, received_at=self.t(o[2]))


def history_figures(url: Any, exact: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with report_connection(url) as conn:
        for m in MONTHS:
            for station in (None, "S1"):
                raw = collect(conn, m, station, exact=exact)
                out[f"{m}/{station}"] = {
                    c: (a.series, a.open_before, a.overdue_end, a.overdue_prev_end, a.first_seen)
                    for c, a in raw.accs.items()
                }
                # the rectification figures and the open list (the low ratings' rollup, revision 0024)
                out[f"{m}/{station}/rectification"] = {
                    c: (a.quality.low_ratings, a.quality.rectified, a.quality.rectify_open)
                    for c, a in raw.accs.items()
                }
                # 按期办结率 and 回访率: the month's, the previous month's and the year's earlier months'
                # (the rollup's on_time / followed_up, revision 0027)
                out[f"{m}/{station}/resolutions"] = {
                    c: tuple(
                        getattr(a.quality, f"{p}{k}")
                        for p in ("", "prev_", "ytd_")
                        for k in ("resolved", "on_time", "followed_up")
                    )
                    for c, a in raw.accs.items()
                }
    return out


def apply_ops(url: Any, ops: list[tuple[Any, ...]]) -> None:
    """The ledger ``ops`` written into the database ``url`` (set up first), in one transaction."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            led = Ledger(conn)
            led.setup()
            for o in ops:
                led.apply(o)
    finally:
        engine.dispose()


def check_ledger(url: Any, ops: list[tuple[Any, ...]]) -> None:
    apply_ops(url, ops)
    exact = history_figures(url, True)
    assert history_figures(url, False) == exact
    assert kept_firsts(url) == computed_firsts(url)
    assert rebuild_rollup(url)["changed"] == 0
    assert history_figures(url, False) == exact


def _first_rows(url: Any, sql: str) -> set[tuple[Any, ...]]:
    from qi_station.reports.queries import as_utc

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {(e, s, as_utc(t)) for e, s, t in conn.exec_driver_sql(sql)}
    finally:
        engine.dispose()


def kept_firsts(url: Any) -> set[tuple[Any, ...]]:
    """The first requests the triggers kept (request_first, revision 0025)."""
    return _first_rows(url, f"SELECT enterprise_id, station_code, first_at FROM {rollup.FIRST_TABLE}")


def computed_firsts(url: Any) -> set[tuple[Any, ...]]:
    """The oracle: the first request of each (enterprise row, station) from the request rows, in Python."""
    rows = _first_rows(url, "SELECT enterprise_id, station_code, received_at FROM request WHERE NOT deleted")
    first: dict[tuple[Any, Any], Any] = {}
    for e, s, t in rows:
        if e is not None and ((e, s) not in first or t < first[e, s]):
            first[e, s] = t
    return {(e, s, t) for (e, s), t in first.items()}


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(ops=st.lists(op, min_size=1, max_size=40))
def test_rollup_equals_the_events_sqlite(tmp_path_factory: Any, ops: list[tuple[Any, ...]]) -> None:
    db = open_db(tmp_path_factory.mktemp("r") / "q.db")
    check_ledger(db, ops)


def pinned_now(iso: str) -> Any:
    """The clock (``QI_STATION_NOW``, core.clock) at ``iso`` for a block, as it was after it."""
    import os
    from unittest import mock

    return mock.patch.dict(os.environ, {"QI_STATION_NOW": iso})


def check_current_month(url: Any, ops: list[tuple[Any, ...]], day: int) -> None:
    """A month not ended (today, ``QI_STATION_NOW``, is its ``day``-th day from 2026-01-01): its overdue
    requests as of today from the rollup (the month's promised requests, less those promised from today
    on, or plus those promised before today: whichever are fewer days) equal the ones from every event."""
    apply_ops(url, ops)
    today = date(2026, 1, 1) + timedelta(days=day)
    month = today.isoformat()[:7]
    got = {}
    with pinned_now(f"{today.isoformat()}T12:00:00+08:00"), report_connection(url) as conn:
        for exact in (True, False):
            for station in (None, "S1"):
                got[exact, station] = {
                    c: (a.overdue_end, a.overdue_prev_end, a.open_before, a.series)
                    for c, a in collect(conn, month, station, exact=exact).accs.items()
                }
    for station in (None, "S1"):
        assert got[False, station] == got[True, station]


@SETTINGS
@given(ops=st.lists(op, min_size=1, max_size=40), day=st.integers(0, 58))
def test_current_month_overdue_from_the_rollup_sqlite(
    tmp_path_factory: Any, ops: list[Any], day: int
) -> None:
    check_current_month(open_db(tmp_path_factory.mktemp("r") / "q.db"), ops, day)


@pytest.mark.skipif(not PG, reason="PostgreSQL at 127.0.0.1:5432 is not reachable")
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(op, min_size=1, max_size=30), day=st.integers(0, 58))
def test_current_month_overdue_from_the_rollup_postgresql(ops: list[Any], day: int) -> None:
    from qi_station.sync.hub.store import Hub

    url = pg_create()
    try:
        hub = Hub(url)
        hub.migrate()
        hub.dispose()
        check_current_month(url.replace("postgresql://", "postgresql+psycopg://"), ops, day)
    finally:
        pg_drop(url)


# every change the low ratings' rollup (revision 0024) follows: low ratings given, an enterprise renamed,
# a rectify record, a rating corrected out of the low ones, deleted and undeleted, purged
LOW_LIFE: list[tuple[Any, ...]] = [
    ("create", "S1", EDGES[2], 5),
    ("move", 0, "closed", EDGES[3], 0),
    ("correct", 0, 1, 0, EDGES[3]),
    ("create", "S2", EDGES[2], 5),
    ("move", 1, "closed", EDGES[5], 0),
    ("correct", 1, 2, 0, EDGES[5]),
    ("create", "S1", EDGES[4], 5),
    ("move", 2, "closed", EDGES[6], 0),
    ("correct", 2, 1, 0, EDGES[6]),
    ("create", "S1", EDGES[4], 5),
    ("move", 3, "closed", EDGES[6], 0),
    ("correct", 3, 2, 0, EDGES[6]),
    ("rename", "ent", "企业乙"),
    ("rectify", 1, EDGES[7]),
    ("rectify", 1, EDGES[4]),
    ("correct", 2, 4, 0, EDGES[7]),
    ("delete", 3, True),
    ("create", "S1", EDGES[4], 5),
    ("move", 4, "closed", EDGES[6], 0),
    ("correct", 4, 1, 0, EDGES[6]),
    ("purge", 4),
    ("rename", "ent2", "丙"),
]


def check_low_life(url: Any) -> None:
    check_ledger(url, LOW_LIFE)
    with report_connection(url) as conn:
        raw = collect(conn, "2026-02")
    opened = [(r["number"], r["enterprise_name"]) for a in raw.accs.values() for r in a.quality.rectify_open]
    assert sorted(opened) == [("r1", "企业乙")]  # r2 rectified, r3 rated 4, r4 deleted, r5 purged


def test_low_rating_rollup_follows_every_change_sqlite(tmp_path: Path) -> None:
    check_low_life(open_db(tmp_path / "q.db"))


@pytest.mark.skipif(not PG, reason="PostgreSQL at 127.0.0.1:5432 is not reachable")
def test_low_rating_rollup_follows_every_change_postgresql() -> None:
    from qi_station.sync.hub.store import Hub

    url = pg_create()
    try:
        hub = Hub(url)
        hub.migrate()
        hub.dispose()
        check_low_life(url.replace("postgresql://", "postgresql+psycopg://"))
    finally:
        pg_drop(url)


@pytest.mark.skipif(not PG, reason="PostgreSQL at 127.0.0.1:5432 is not reachable")
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(op, min_size=1, max_size=30))
def test_rollup_equals_the_events_postgresql(ops: list[tuple[Any, ...]]) -> None:
    from qi_station.sync.hub.store import Hub

    url = pg_create()
    try:
        hub = Hub(url)
        hub.migrate()
        hub.dispose()
        check_ledger(url.replace("postgresql://", "postgresql+psycopg://"), ops)
    finally:
        pg_drop(url)


# 按期办结率 / 回访率 of earlier months (revision 0027): resolutions in January and February 2026, one late,
# one resolved again in the next month, one whose later-numbered resolution is earlier in time (the last
# is the one of the highest n) and closed before it (not followed up)
EARLIER: list[tuple[Any, ...]] = [
    ("create", "S1", EDGES[2], 10),  # r0: promised Jan 25
    ("move", 0, "resolved", EDGES[3], 1),  # Jan 31: late
    ("move", 0, "closed", EDGES[3], 0),  # followed up in January
    ("create", "S1", EDGES[2], 30),  # r1: promised Feb 14
    ("move", 1, "resolved", EDGES[2], 1),  # Jan 15: on time, not followed up in January
    ("move", 1, "resolved", EDGES[4], 1),  # Feb 1: on time
    ("move", 1, "closed", EDGES[5], 0),  # followed up in February
    ("create", "S1", EDGES[4], 0),  # r2: promised Feb 1
    ("move", 2, "resolved", EDGES[6], 1),  # Feb 28: late
    ("move", 2, "closed", EDGES[6], 0),
    ("move", 2, "resolved", EDGES[5], 1),  # Feb 1 (a higher n, an earlier time): the last, on time
    ("create", "S2", EDGES[4], 5),  # r3: S2, on time, never closed
    ("move", 3, "resolved", EDGES[5], 1),
]


def check_earlier(url: Any) -> None:
    check_ledger(url, EARLIER)
    with report_connection(url) as conn:
        for exact in (True, False):
            q = {c: a.quality for c, a in collect(conn, "2026-03", exact=exact).accs.items()}
            got = {
                c: [
                    getattr(g, f"{p}{k}")
                    for p in ("prev_", "ytd_")
                    for k in ("resolved", "on_time", "followed_up")
                ]
                for c, g in q.items()
            }
            assert got == {"S1": [2, 2, 1, 4, 3, 2], "S2": [1, 1, 0, 1, 1, 0]}, exact


def test_earlier_resolutions_from_the_rollup_sqlite(tmp_path: Path) -> None:
    check_earlier(open_db(tmp_path / "q.db"))


@pytest.mark.skipif(not PG, reason="PostgreSQL at 127.0.0.1:5432 is not reachable")
def test_earlier_resolutions_from_the_rollup_postgresql() -> None:
    from qi_station.sync.hub.store import Hub

    url = pg_create()
    try:
        hub = Hub(url)
        hub.migrate()
        hub.dispose()
        check_earlier(url.replace("postgresql://", "postgresql+psycopg://"))
    finally:
        pg_drop(url)


def test_trigger_months_are_the_shanghai_months(tmp_path: Path) -> None:
    """The SQL month of a naive-UTC time (+8 hours) is core.months' month, at both edges of each month."""
    from sqlalchemy import text

    engine = make_engine(open_db(tmp_path / "m.db"))
    try:
        with engine.connect() as conn:
            for m in ("2024-02", "2025-12", "2026-01", "2026-12"):
                s, e = month_bounds_utc(m)
                for dt, want in ((s, m), (e - timedelta(microseconds=1), m)):
                    got = conn.execute(text(f"SELECT {rollup.local_month('sqlite', ':t')}"), {"t": to_db(dt)})
                    assert got.scalar() == want
    finally:
        engine.dispose()


def test_report_rebuild_command(tmp_path: Path) -> None:
    """``report rebuild`` puts back a rollup someone emptied, and the report is the same."""
    import sqlite3

    from typer.testing import CliRunner

    from qi_station.cli.commands import app

    db = open_db(tmp_path / "q.db")
    check_ledger(db, [("create", "S1", EDGES[1], 3), ("move", 0, "resolved", EDGES[4], 2)])
    before = history_figures(db, False)
    con = sqlite3.connect(db)
    con.execute("DELETE FROM report_month")
    con.commit()
    con.close()
    assert history_figures(db, False) != before
    res = CliRunner().invoke(app, ["--db", str(db), "report", "rebuild"])
    assert res.exit_code == 0, res.output
    assert "differed" in res.output and not res.output.startswith("rebuilt: 0 rows")
    assert history_figures(db, False) == before
    # the first requests (request_first) alike: emptied, the enterprises' first requests are missing
    con = sqlite3.connect(db)
    con.execute(f"DELETE FROM {rollup.FIRST_TABLE}")
    con.commit()
    con.close()
    assert history_figures(db, False) != before
    res = CliRunner().invoke(app, ["--db", str(db), "report", "rebuild"])
    assert res.exit_code == 0 and ", 1 differed" in res.output, res.output
    assert history_figures(db, False) == before and kept_firsts(db) == computed_firsts(db)


def test_report_rebuild_puts_back_the_low_ratings(tmp_path: Path) -> None:
    """``report rebuild`` also writes the low ratings' rollup (revision 0024) again: a row someone emptied
    is counted as changed and put back, and the open-rectification list is the same."""
    import sqlite3

    from typer.testing import CliRunner

    from qi_station.cli.commands import app

    db = open_db(tmp_path / "q.db")
    check_ledger(db, LOW_LIFE)
    before = history_figures(db, False)
    con = sqlite3.connect(db)
    con.execute(f"DELETE FROM {rollup.LOW_TABLE}")
    con.commit()
    con.close()
    assert history_figures(db, False) != before
    assert rebuild_rollup(db)["changed"] == 2  # the rows of r1 (open) and r2 (rectified) put back
    res = CliRunner().invoke(app, ["--db", str(db), "report", "rebuild"])
    assert res.exit_code == 0, res.output
    assert history_figures(db, False) == before


def test_held_lifts_the_hold_when_its_block_raises(tmp_path: Path) -> None:
    """A batch write under ``rollup.held`` that raises, by a caller that commits what went before the
    error anyway: the hold is gone, the touched requests' contributions are back (the rollup equals a
    rebuild), and later writes keep it by the per-row triggers again."""
    from sqlalchemy import text

    db = open_db(tmp_path / "h.db")
    engine = make_engine(db)
    try:
        with engine.begin() as conn:
            led = Ledger(conn)
            led.setup()
            for i in range(3):
                led.apply(("create", "S1", EDGES[i % len(EDGES)], 3))
        with engine.begin() as conn:
            led.c = conn
            with pytest.raises(RuntimeError), rollup.held(conn, [r["id"] for r in led.reqs]):
                led.apply(("move", 0, "resolved", EDGES[4], 2))
                led.apply(("refer", 1, EDGES[3]))
                raise RuntimeError("the batch's next row is refused")
            # committed all the same
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT COUNT(*) FROM {rollup.HOLD_TABLE}")).scalar() == 0
        assert rebuild_rollup(db)["changed"] == 0
        with engine.begin() as conn:
            led.c = conn
            led.apply(("move", 1, "accepted", EDGES[3], 0))  # the triggers again
        assert rebuild_rollup(db)["changed"] == 0
    finally:
        engine.dispose()


def whole_reports(url: Any) -> dict[str, Any]:
    from qi_station.core.errors import ValidationError
    from qi_station.reports.figures import monthly_report

    out: dict[str, Any] = {}
    for m in MONTHS:
        for station in (None, "S1"):
            try:
                rep = monthly_report(url, m, station=station, hub=True)
            except ValidationError as e:  # a month outside the data: the same refusal on both
                out[f"{m}/{station}"] = str(e)
                continue
            rep.pop("generated_at")
            out[f"{m}/{station}"] = rep
    return out


@pytest.mark.skipif(not PG, reason="PostgreSQL at 127.0.0.1:5432 is not reachable")
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(op, min_size=1, max_size=30))
def test_province_report_postgresql_equals_sqlite(tmp_path_factory: Any, ops: list[tuple[Any, ...]]) -> None:
    """The province report on a PostgreSQL hub (its own query forms: the month's request and enterprise
    ids as arrays, its datetimes written by the naive-UTC fast path) equals the same ledger's report on
    SQLite (the IN forms, stored texts), every figure and every detail row, for every month."""
    from qi_station.sync.hub.store import Hub

    db = open_db(tmp_path_factory.mktemp("p") / "q.db")
    url = pg_create()
    try:
        hub = Hub(url)
        hub.migrate()
        hub.dispose()
        pg = url.replace("postgresql://", "postgresql+psycopg://")
        for target in (db, pg):
            apply_ops(target, ops)
        # one clock for both (their 数据截至 is the report's time: a second apart, they differed)
        with pinned_now(datetime.now(UTC).isoformat(timespec="seconds")):
            assert whole_reports(pg) == whole_reports(db)
    finally:
        pg_drop(url)


def rectification_from_the_rows(conn: Any, month: str) -> dict[str, Any]:
    """The oracle: the month's rectification figures straight from the request rows and their rectify
    records (every low rating closed before the month's end, open while no rectify record came before it),
    in Python, one row at a time."""
    from sqlalchemy import text

    from qi_station.core.clock import local_date
    from qi_station.core.months import first_day, next_month
    from qi_station.core.rectify import rectify_due
    from qi_station.reports.queries import as_utc
    from qi_station.services.workdays import load_calendar

    s, e = month_bounds_utc(month)
    end_day = first_day(next_month(month))
    cal = load_calendar(conn)
    fixed: dict[str, datetime] = {}
    for rid, at in conn.execute(text("SELECT request_id, at FROM request_event WHERE kind = 'rectify'")):
        t = as_utc(at)
        assert t is not None
        fixed[rid] = min(fixed.get(rid, t), t)
    low = rectified = 0
    rows: list[dict[str, Any]] = []
    for rid, number, code, sat, closed, status, deleted, name in conn.execute(
        text(
            "SELECT r.id, r.number, r.station_code, r.satisfaction, r.closed_at, r.status, r.deleted, e.name "
            "FROM request r LEFT JOIN enterprise e ON e.id = r.enterprise_id"
        )
    ):
        at = as_utc(closed)
        if status != "closed" or deleted or sat is None or sat > 2 or at is None or at >= e:
            continue
        low += s <= at
        f = fixed.get(rid)
        rectified += f is not None and s <= f < e
        if f is None or f >= e:
            day = local_date(at)
            due = rectify_due(day, cal)
            rows.append(
                {
                    "number": number,
                    "station_code": code,
                    "enterprise_name": name,
                    "satisfaction": sat,
                    "rated_on": day.isoformat(),
                    "due": due.isoformat(),
                    "overdue": due < end_day,
                }
            )
    rows.sort(key=lambda r: (r["rated_on"], r["station_code"], r["number"]))
    return {
        "low_ratings": low,
        "rectified": rectified,
        "open_count": len(rows),
        "overdue_count": sum(r["overdue"] for r in rows),
        "open": rows,
        "overdue": [r for r in rows if r["overdue"]],
    }


@SETTINGS
@given(ops=st.lists(op, min_size=1, max_size=40))
def test_rectification_list_is_the_rows(tmp_path_factory: Any, ops: list[tuple[Any, ...]]) -> None:
    """The open-rectification list and its counts (one grouped read of the rectify records, due dates
    from one list of working days, the province's list sorted once and split per station and group) equal
    the oracle computed row by row, for the province, each station and each grouping, every month."""
    from qi_station.reports.figures import hub_report

    db = open_db(tmp_path_factory.mktemp("x") / "q.db")
    apply_ops(db, ops)
    with report_connection(db) as conn:
        for m in MONTHS:
            want = rectification_from_the_rows(conn, m)
            rep = hub_report(collect(conn, m))
            assert rep["rectification"] == want, m
            for st_rep in rep["stations"]:
                code = st_rep["station"]["code"]
                mine = [r for r in want["open"] if r["station_code"] == code]
                assert st_rep["rectification"]["open"] == mine, (m, code)
            for group in ("cities", "counties", "types", "modes"):
                assert sum(g["rectification"]["open_count"] for g in rep[group]) == want["open_count"]
                assert (
                    sorted(
                        (r for g in rep[group] for r in g["rectification"]["open"]),
                        key=lambda r: (r["rated_on"], r["station_code"], r["number"]),
                    )
                    == want["open"]
                )
                for g in rep[group]:
                    rows = g["rectification"]["open"]
                    assert rows == sorted(rows, key=lambda r: (r["rated_on"], r["station_code"], r["number"]))


@pytest.mark.skipif(not PG, reason="PostgreSQL at 127.0.0.1:5432 is not reachable")
def test_a_report_on_postgresql_compiles_nothing() -> None:
    """A report's transaction on PostgreSQL runs without JIT (at a 10 M-request hub compiling the month's
    details query took ~3 s of its 7) and in UTC, read-only; the server's setting is left as it was."""
    from sqlalchemy import text

    from qi_station.sync.hub.store import Hub

    url = pg_create()
    try:
        hub = Hub(url)
        hub.migrate()
        hub.dispose()
        pg = url.replace("postgresql://", "postgresql+psycopg://")
        engine = make_engine(pg)
        try:
            with engine.connect() as conn:
                before = conn.execute(text("SHOW jit")).scalar()
        finally:
            engine.dispose()
        with report_connection(pg) as conn:
            assert conn.execute(text("SHOW jit")).scalar() == "off"
            assert conn.execute(text("SHOW transaction_read_only")).scalar() == "on"
            assert conn.execute(text("SHOW TimeZone")).scalar() == "UTC"
        engine = make_engine(pg)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SHOW jit")).scalar() == before
        finally:
            engine.dispose()
    finally:
        pg_drop(url)


@pytest.mark.skipif(not PG, reason="PostgreSQL at 127.0.0.1:5432 is not reachable")
def test_the_servers_local_times_are_local_iso() -> None:
    """The details' times the server writes on PostgreSQL (``figures.local_iso_sql``) are ``local_iso``'s
    text, whole seconds; before Asia/Shanghai's fixed +08:00 (1991) and for NULL the server gives NULL
    and ``detail_row`` asks ``local_iso`` itself; and a details row reads the same either way."""
    from sqlalchemy import text

    from qi_station.reports.figures import (
        DETAIL_DATETIME_FIELDS,
        detail_row,
        local_iso,
        local_iso_sql,
    )

    times = [
        datetime(2026, 11, 30, 15, 59, 59, 999999),
        datetime(2026, 11, 30, 16, 0, 0),
        datetime(1999, 12, 31, 23, 30, 1, 500000),
        datetime(1991, 9, 15, 0, 0, 0),
        datetime(1991, 9, 14, 23, 59, 59),
        datetime(1988, 7, 1, 12, 0, 0),
    ]
    url = pg_create()
    try:
        pg = url.replace("postgresql://", "postgresql+psycopg://")
        with report_connection(pg) as conn:
            got = [
                conn.execute(text(f"SELECT {local_iso_sql('CAST(:t AS timestamp)')}"), {"t": t}).scalar()
                for t in [*times, None]
            ]
    finally:
        pg_drop(url)
    assert got[:4] == [local_iso(t) for t in times[:4]]
    assert got[4:] == [None, None, None]  # before 1991 and NULL: local_iso in Python
    # a details row as detail_rows hands it: the row's fields, the eight server times, cost, fee
    from qi_station.reports.figures import _READ_FIELDS

    row: dict[str, Any] = {k: None for k in _READ_FIELDS}
    row.update({k: times[i % len(times)] for i, k in enumerate(DETAIL_DATETIME_FIELDS)})
    row["promised_date"] = date(2026, 12, 1)
    row["received_in_month"] = True
    fields = [row[k] for k in _READ_FIELDS]
    locals_ = [got[i % len(times)] for i, _ in enumerate(DETAIL_DATETIME_FIELDS)]
    server = detail_row([*fields, *locals_, None, None])
    python = detail_row([*fields, *([None] * len(locals_)), None, None])
    assert server == python
    assert server["received_at"] == local_iso(times[0])
