"""The open-rectification list's order and splits (reports.quality): the fast forms are THE order."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from qi_station.reports.quality import Quality, open_stations, quality_figures, sort_open, split_open

_row = st.fixed_dictionaries(
    {
        "number": st.sampled_from(["A-1", "A-10", "A-2", "B-1", "Z"]),
        "station_code": st.sampled_from(["S1", "S10", "S2", "S9"]),
        "enterprise_name": st.just("e"),
        "satisfaction": st.sampled_from([1, 2]),
        "rated_on": st.sampled_from(["2026-01-02", "2026-01-10", "2026-02-01"]),
        "due": st.just("2026-03-01"),
        "overdue": st.booleans(),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_row, max_size=40))
def test_sort_open_is_one_sort_by_day_station_number(rows: list[dict[str, Any]]) -> None:
    # ties included (the same day, station and number): the input order kept, as one stable sort keeps it
    want = sorted(rows, key=lambda r: (r["rated_on"], r["station_code"], r["number"]))
    got = sort_open(rows)
    assert [id(r) for r in got] == [id(r) for r in want]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_row, max_size=40),
    st.dictionaries(st.sampled_from(["S1", "S10", "S2", "S9"]), st.sampled_from("xy")),
)
def test_split_open_is_each_groups_rows_in_order(rows: list[dict[str, Any]], groups: dict[str, str]) -> None:
    group_of = {c: groups.get(c, "z") for c in ("S1", "S10", "S2", "S9")}
    ordered = sort_open(rows)
    for stations in (None, open_stations(ordered)):
        got = split_open(ordered, group_of, stations)
        want: dict[str, list[dict[str, Any]]] = {}
        for r in ordered:
            want.setdefault(group_of[r["station_code"]], []).append(r)
        assert {k: [id(r) for r in v] for k, v in got.items()} == {
            k: [id(r) for r in v] for k, v in want.items()
        }


@settings(max_examples=100, deadline=None)
@given(st.lists(_row, max_size=40))
def test_the_overdue_list_is_the_open_rows_overdue(rows: list[dict[str, Any]]) -> None:
    q = Quality(rectify_open=list(rows))
    rect = quality_figures(q)["rectification"]
    assert rect["overdue"] == [r for r in rect["open"] if r["overdue"]]
    assert rect["overdue_count"] == sum(1 for r in rows if r["overdue"])


_texts = st.lists(st.text(st.sampled_from("aAbBzZ09-_é中 "), min_size=1, max_size=4), min_size=1, max_size=30)


@settings(max_examples=30, deadline=None)
@given(codes=_texts, numbers=_texts)
def test_the_servers_open_order_is_sort_opens(codes: list[str], numbers: list[str]) -> None:
    """PostgreSQL gives the open list in its order (``quality.low_ratings_query``: day, then station and
    number COLLATE "C"; the hub report then does not sort it): the server's order of any texts is
    Python's, whatever the database's own collation."""
    import pytest
    from test_sync_util import PG_ADMIN, pg_available

    if not pg_available():
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    import psycopg

    rows = [
        {"rated_on": day, "station_code": c, "number": n}
        for i, (c, n) in enumerate(zip(codes, numbers * len(codes), strict=False))
        for day in (("2026-01-0" + str(1 + i % 3)),)
    ]
    with psycopg.connect(PG_ADMIN) as conn:
        got = conn.execute(
            "SELECT d, c, n FROM unnest(CAST(%s AS DATE[]), CAST(%s AS VARCHAR[]), CAST(%s AS VARCHAR[])) "
            'AS v(d, c, n) ORDER BY d, c COLLATE "C", n COLLATE "C"',
            ([r["rated_on"] for r in rows], [r["station_code"] for r in rows], [r["number"] for r in rows]),
        ).fetchall()
    want = [(r["rated_on"], r["station_code"], r["number"]) for r in sort_open(rows)]
    assert [(d.isoformat(), c, n) for d, c, n in got] == want
