"""PostgreSQL's statement-level new-row triggers (revision 0029) write the rows the row triggers they replace
wrote: ``request_first`` and ``report_low_rating`` after multi-row INSERTs and COPYs of requests and
enterprises, compared with a database that has revision 0024/0025's row triggers, and with the oracle."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_report_rollup import EDGES, Ledger, computed_firsts, kept_firsts
from test_sync_util import pg_available, pg_create, pg_drop

from qi_station.db import rollup

PG = pg_available()
pytestmark = pytest.mark.skipif(not PG, reason="PostgreSQL at 127.0.0.1:5432 is not reachable")

item = st.tuples(
    st.sampled_from(("S1", "S2")),
    st.sampled_from(("ent", "ent2", "ent3")),
    st.sampled_from(EDGES),
    st.integers(-40, 60),
    st.booleans(),
)
step = st.one_of(
    st.tuples(st.just("bulk"), st.lists(item, min_size=1, max_size=8)),
    st.tuples(st.just("copy"), st.lists(item, min_size=1, max_size=8)),
    # new enterprises in one COPY, some named by low ratings already kept (ids the rows name first)
    st.tuples(st.just("ents"), st.integers(1, 4), st.integers(0, 4)),
)

REQ_COLS = (
    "id, number, station_code, enterprise_id, elements, title, channel, urgency, received_at, "
    "promised_date, status, s_rev, h_rev, seq, deleted, created_at, updated_at"
)
ENT_COLS = (
    "id, name, uscc, region_code, name_py, name_initials, haystack, elements, s_rev, seq, deleted, "
    "created_at, updated_at"
)


def _copy(conn: Any, table: str, cols: str, rows: list[tuple[Any, ...]]) -> None:
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row(r)


def apply(led: Ledger, o: tuple[Any, ...], k: int) -> None:
    if o[0] == "bulk":
        led.bulk(o[1])
    elif o[0] == "copy":
        rows = []
        for code, ent, at, promise, deleted in o[1]:
            led.n += 1
            rid = f"r{led.n}"
            promised = (at + timedelta(hours=8)).date() + timedelta(days=promise)
            rows.append(
                (
                    rid,
                    rid,
                    code,
                    ent,
                    "[]",
                    "t",
                    "walk_in",
                    "normal",
                    at,
                    promised,
                    "new",
                    1,
                    0,
                    0,
                    deleted,
                    at,
                    at,
                )
            )
        _copy(led.c, "request", REQ_COLS, rows)
    else:
        _, new, low = o
        ids = [f"e{k}_{i}" for i in range(new)]
        for i in range(low):  # a low rating naming an enterprise before it arrives (no foreign key there)
            led.x(
                f"INSERT INTO {rollup.LOW_TABLE} (request_id, station_code, number, enterprise_id, ent_name) "
                "VALUES (:r, 'S1', :r, :e, NULL)",
                r=f"low{k}_{i}",
                e=ids[i % len(ids)] if i % 3 else "nobody",
            )
        at = EDGES[2]
        _copy(
            led.c,
            "enterprise",
            ENT_COLS,
            [(e, f"企业{e}", "U", "370100", "", "", "", "[]", 1, 0, False, at, at) for e in ids],
        )


def kept(conn: Any) -> tuple[Any, ...]:
    first = conn.exec_driver_sql(
        f"SELECT enterprise_id, station_code, first_at FROM {rollup.FIRST_TABLE} ORDER BY 1, 2"
    ).all()
    low = conn.exec_driver_sql(f"SELECT * FROM {rollup.LOW_TABLE} ORDER BY request_id").all()
    return [tuple(r) for r in first], [tuple(r) for r in low]


def _row_triggers(url: str) -> None:
    """Put revision 0024/0025's row triggers back in place of the two statement-level ones."""
    from qi_station.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as c:
            for name, table in (
                ("request_first_ins", "request"),
                ("report_low_rating_enterprise_ins", "enterprise"),
            ):
                c.exec_driver_sql(f"DROP TRIGGER {name} ON {table}")
                c.exec_driver_sql(f"DROP FUNCTION {name}()")
            made = rollup.first_trigger_sql("postgresql", per_statement=False) + rollup.low_trigger_sql(
                "postgresql", per_statement=False
            )
            for sql in made:
                if "request_first_ins" in sql or "report_low_rating_enterprise_ins" in sql:
                    c.exec_driver_sql(sql)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def hubs() -> Any:
    from qi_station.db.engine import make_engine
    from qi_station.sync.hub.store import Hub

    urls = [pg_create(), pg_create()]
    try:
        for u in urls:
            hub = Hub(u)
            hub.migrate()
            hub.dispose()
        pg = [u.replace("postgresql://", "postgresql+psycopg://") for u in urls]
        _row_triggers(pg[1])
        engines = [make_engine(u) for u in pg]
        for e in engines:
            with e.begin() as c:
                Ledger(c).setup()
        yield pg, engines
        for e in engines:
            e.dispose()
    finally:
        for u in urls:
            pg_drop(u)


def test_the_new_row_triggers_run_once_per_statement(hubs: Any) -> None:
    (url, _), (engine, _) = hubs
    with engine.connect() as c:
        got = dict(
            c.exec_driver_sql(
                "SELECT trigger_name, action_orientation FROM information_schema.triggers WHERE trigger_name IN "
                "('request_first_ins', 'report_low_rating_enterprise_ins')"
            ).all()
        )
    assert got == {"request_first_ins": "STATEMENT", "report_low_rating_enterprise_ins": "STATEMENT"}


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(step, min_size=1, max_size=6))
def test_statement_triggers_write_what_the_row_triggers_wrote(
    hubs: Any, steps: list[tuple[Any, ...]]
) -> None:
    _, engines = hubs
    out = []
    for engine in engines:  # [0]: revision 0029's statement triggers, [1]: the row triggers
        with engine.connect() as c:
            tx = c.begin()
            led = Ledger(c)
            for k, o in enumerate(steps):
                apply(led, o, k)
            out.append(kept(c))
            tx.rollback()
    assert out[0] == out[1]


def test_a_copy_of_requests_keeps_the_first_requests(hubs: Any) -> None:
    """The oracle after committed COPYs and multi-row INSERTs (repeated keys, deleted rows, earlier times),
    with the statement triggers and with the row triggers."""

    steps = [
        (
            "copy",
            [
                ("S1", "ent", EDGES[5], 0, False),
                ("S1", "ent", EDGES[2], 0, True),
                ("S2", "ent2", EDGES[3], 0, False),
            ],
        ),
        (
            "bulk",
            [
                ("S1", "ent", EDGES[4], 0, False),
                ("S1", "ent", EDGES[1], 0, False),
                ("S1", "ent3", EDGES[9], 0, True),
            ],
        ),
        ("copy", [("S2", "ent2", EDGES[0], 0, False), ("S1", "ent3", EDGES[8], 0, False)]),
    ]
    urls, engines = hubs
    for engine in engines:  # both databases (the hypothesis test compares them): the same rows kept
        with engine.begin() as c:
            led = Ledger(c)
            led.n = 10_000
            for k, o in enumerate(steps):
                apply(led, o, k)
    for url in urls:
        assert kept_firsts(url) == computed_firsts(url)
        assert len(kept_firsts(url)) == 3
