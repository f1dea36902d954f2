"""Outside operator, round 6 (op6b) item 8: 济南检测 / jnjc found nothing while "jn jc" found rows: a
one-word query with no hits that starts with a city's (or an element's) name or reading is tried as
those two words; a query that finds anything as typed keeps its results."""

from __future__ import annotations

from pathlib import Path

from test_core_search import libdb  # noqa: F401 - fixture

from qi_station.services.search import ranked, search


def _names(rows: list[dict[str, object]]) -> list[object]:
    return [r["name"] for r in rows]


def test_a_query_with_no_hits_is_tried_at_a_city_name(libdb: Path) -> None:  # noqa: F811
    for typed, parts in (("济南计量", "济南 计量"), ("jnjl", "jn jl"), ("jinanjiliang", "jinan jiliang")):
        assert ranked(libdb, "institutions", typed) == []  # as typed: nothing
        want = _names(ranked(libdb, "institutions", parts))
        assert want and _names(search(libdb, "institutions", typed)) == want


def test_a_query_that_finds_anything_is_never_split(libdb: Path) -> None:  # noqa: F811
    for typed in ("济南市计量", "jn", "计量", "jl"):
        assert _names(search(libdb, "institutions", typed)) == _names(ranked(libdb, "institutions", typed))
    assert search(libdb, "institutions", "济南没有这个") == []  # split, still nothing: nothing
