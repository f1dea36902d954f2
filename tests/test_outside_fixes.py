"""Outside attacker's findings (not sync): generate's sizes and seeds, every bad field at once, county
codes named, backup over restore's safety copy, report months, list/demo/hub odds and ends."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from qi_station.core.errors import ValidationError, every_error

NOW = datetime(2026, 5, 1, 9, 0)


def test_generate_has_an_upper_limit_and_reports_both_sizes() -> None:
    from qi_station.devtools.generate.run import MAX_LIBRARY, MAX_REQUESTS, check_sizes

    with pytest.raises(ValidationError) as ei:
        check_sizes(MAX_REQUESTS + 1, MAX_LIBRARY + 1)
    assert [(e.field, e.rule) for e in every_error(ei.value)] == [
        ("--requests", "range"),
        ("--library", "range"),
    ]
    with pytest.raises(ValidationError) as ei:
        check_sizes(0, 0)
    assert ei.value.rule == "range"
    check_sizes(MAX_REQUESTS, MAX_LIBRARY)  # the limits themselves are fine


def test_generate_requests_0_does_not_silently_swallow_a_later_run(tmp_path: Path) -> None:
    from qi_station.devtools.generate.run import generate

    db = tmp_path / "g.db"
    first = generate(db, requests=0, library=20, seed=4, now=NOW)
    assert not first.get("skipped")
    with pytest.raises(ValidationError) as ei:  # used to answer "skipped" and do nothing
        generate(db, requests=50, library=20, seed=4, now=NOW)
    assert ei.value.field == "--seed" and "another --seed" in ei.value.message
    assert generate(db, requests=0, library=20, seed=4, now=NOW)["skipped"]  # the same run again: a no-op
    assert generate(db, requests=50, library=20, seed=5, now=NOW)["requests"] == 50
