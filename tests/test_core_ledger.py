"""The request ledger: lifecycle table, outcome rules, hash chain, outbox, refused input writes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from qi_station.core import domain
from qi_station.core.errors import NotFoundError, TransitionError, ValidationError
from qi_station.services import ledger, queries

USCC = "91350100M000100Y43"


def _add(db: Path, **kw: object) -> dict:
    args: dict = {
        "enterprise": "济南示例机械有限公司",
        "uscc": USCC,
        "elements": "metrology",
        "title": "压力表校准",
    }
    args.update(kw)
    return ledger.create_request(db, ledger.RequestInput(**args))


def _counts(db: Path) -> tuple[int, ...]:
    c = sqlite3.connect(db)
    try:
        return tuple(
            c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("request", "request_event", "outbox", "enterprise", "referral")
        )
    finally:
        c.close()


# The lifecycle, written out by hand from docs/PRODUCT.md (new → accepted → in progress ⇄ referred / waiting
# → resolved → closed; side exits cancelled and on-hold; reopen = resolved → in progress). The oracle for the
# 81-case table below: deliberately NOT computed from domain.TRANSITIONS, the code under test.
STATUSES = (
    "new",
    "accepted",
    "in_progress",
    "referred",
    "waiting",
    "resolved",
    "closed",
    "cancelled",
    "on_hold",
)
LEGAL: dict[str, set[str]] = {
    "new": {"accepted", "cancelled", "on_hold"},
    "accepted": {"in_progress", "cancelled", "on_hold"},
    "in_progress": {"referred", "waiting", "resolved", "cancelled", "on_hold"},
    "referred": {"in_progress", "resolved", "cancelled", "on_hold"},
    "waiting": {"in_progress", "resolved", "cancelled", "on_hold"},
    "resolved": {"closed", "in_progress"},
    "closed": set(),
    "cancelled": set(),
    "on_hold": {"accepted", "in_progress", "cancelled"},
}

# the shortest path from "new" to each status, through legal moves only
PATH = {
    "new": [],
    "accepted": ["accepted"],
    "in_progress": ["accepted", "in_progress"],
    "referred": ["accepted", "in_progress", "referred"],
    "waiting": ["accepted", "in_progress", "waiting"],
    "resolved": ["accepted", "in_progress", "resolved"],
    "closed": ["accepted", "in_progress", "resolved", "closed"],
    "cancelled": ["cancelled"],
    "on_hold": ["on_hold"],
}
EXTRA = {
    "resolved": {"result": "已完成", "problems_solved": 1},
    "closed": {"satisfaction": 4},
    "cancelled": {"note": "企业撤回"},
}


def _walk(db: Path, number: str, path: list[str]) -> None:
    for s in path:
        ledger.move_request(db, number, s, **EXTRA.get(s, {}))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def lifecycle_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """One request parked in each status (module-scoped: built once for the 81-case table)."""
    from qi_station.db.engine import open_db

    db = open_db(tmp_path_factory.mktemp("life") / "s.db")
    return db, {}


@pytest.mark.parametrize("frm", STATUSES)
@pytest.mark.parametrize("to", STATUSES)
def test_lifecycle_table(lifecycle_db: tuple[Path, dict[str, str]], frm: str, to: str) -> None:
    db, _ = lifecycle_db
    r = _add(db)
    _walk(db, r["number"], PATH[frm])
    got = queries.get_request(db, r["number"])
    assert got["status"] == frm
    assert set(got["legal_moves"]) == LEGAL[frm]
    before = _counts(db)
    if to in LEGAL[frm]:
        ledger.move_request(db, r["number"], to, **EXTRA.get(to, {}))  # type: ignore[arg-type]
        assert queries.get_request(db, r["number"])["status"] == to
    else:
        with pytest.raises(TransitionError) as e:
            ledger.move_request(db, r["number"], to, **EXTRA.get(to, {}))  # type: ignore[arg-type]
        assert e.value.field == "status"
        assert _counts(db) == before  # refused: nothing written


def test_transition_table_is_what_the_product_says() -> None:
    assert domain.STATUSES == STATUSES
    assert {k: set(v) for k, v in domain.TRANSITIONS.items()} == LEGAL
    for frm in STATUSES:
        for to in STATUSES:
            assert domain.can_move(frm, to) == (to in LEGAL[frm]), (frm, to)


def test_full_journey_with_outcome_and_satisfaction(db: Path) -> None:
    r = _add(
        db,
        phone="0531-88886666",
        contact="王经理",
        received_at="2026-03-01T09:00:00+08:00",
        promised="2026-03-10",
    )
    assert r["number"].endswith("-202603-0001")
    _walk(db, r["number"], ["accepted", "in_progress"])
    ledger.move_request(db, r["number"], "resolved", result="完成校准", problems_solved=3, cost_saved="2.50")
    ledger.move_request(db, r["number"], "closed", satisfaction=5, note="回访满意")
    d = queries.get_request(db, r["number"])
    assert (d["status"], d["problems_solved"], d["cost_saved_wan"], d["satisfaction"]) == (
        "closed",
        3,
        "2.50",
        5,
    )
    assert [e["to_status"] for e in d["events"]] == ["new", "accepted", "in_progress", "resolved", "closed"]
    assert d["ledger_ok"] is True
    assert d["phone_e164"] == "+8653188886666"


def test_outcome_rules(db: Path) -> None:
    r = _add(db)
    _walk(db, r["number"], ["accepted", "in_progress"])
    before = _counts(db)
    with pytest.raises(ValidationError) as e:
        ledger.move_request(db, r["number"], "resolved")
    assert e.value.field == "result"
    with pytest.raises(ValidationError) as e:
        ledger.move_request(db, r["number"], "resolved", result="ok", cost_saved="-1")
    assert e.value.field == "cost_saved"
    with pytest.raises(ValidationError) as e:
        ledger.move_request(db, r["number"], "resolved", result="ok", cost_saved="1.001")
    assert e.value.rule == "decimals"
    with pytest.raises(ValidationError) as e:
        ledger.move_request(db, r["number"], "waiting", satisfaction=5)
    assert e.value.field == "satisfaction" and e.value.rule == "after_resolved"
    with pytest.raises(
        ValidationError
    ) as e:  # problems solved must be given, never defaulted (issue 9 item 3)
        ledger.move_request(db, r["number"], "resolved", result="ok", cost_saved="1")
    assert (e.value.field, e.value.rule) == ("problems_solved", "required")
    assert _counts(db) == before
    ledger.move_request(db, r["number"], "resolved", result="ok", problems_solved=0)
    with pytest.raises(ValidationError) as e:
        ledger.move_request(db, r["number"], "closed")
    assert e.value.field == "satisfaction"


def test_reopen_clears_resolved_at(db: Path) -> None:
    r = _add(db)
    _walk(db, r["number"], ["accepted", "in_progress", "resolved"])
    ledger.move_request(db, r["number"], "in_progress", note="企业反馈未解决")
    d = queries.get_request(db, r["number"])
    assert d["status"] == "in_progress" and d["resolved_at"] is None
    assert d["events"][-1]["data"] == {"reopen": True}


def test_refused_request_writes_nothing(db: Path) -> None:
    before = _counts(db)
    bad = [
        {"uscc": "91350100M000100Y44"},
        {"elements": "cooking"},
        {"title": ""},
        {"title": "x" * 101},
        {"title": "bad\x07bell"},
        {"channel": "fax"},
        {"urgency": "panic"},
        {"phone": "123"},
        {"received_at": "2026-03-10T09:00:00", "promised": "2026-03-09"},
        {"received_at": "yesterday"},
        {"received_at": "2099-01-01T00:00:00"},
    ]
    fields = []
    for kw in bad:
        with pytest.raises(ValidationError) as e:
            _add(db, **kw)
        fields.append(e.value.field)
    assert fields == [
        "uscc",
        "elements",
        "title",
        "title",
        "title",
        "channel",
        "urgency",
        "phone",
        "promised",
        "received_at",
        "received_at",
    ]
    assert _counts(db) == before


def test_promised_defaults_from_urgency(db: Path) -> None:
    # the station's promise in working days (defaults 10 normal, 3 urgent), the day of receipt not
    # counted: 劳动节 05-01..05 off, Saturday 05-09 worked
    a = _add(db, received_at="2026-05-01T10:00:00+08:00")
    b = _add(db, received_at="2026-05-01T10:00:00+08:00", urgency="urgent")
    # 05-06, 07, 08, 09 (Sat, worked), 11..15, 18
    assert a["promised_date"] == "2026-05-18" and b["promised_date"] == "2026-05-08"
    assert a["warnings"] == [] and b["warnings"] == []


def test_promised_in_working_days_across_national_day_2026(db: Path) -> None:
    from qi_station.services.workdays import promise_settings, set_promises

    # received Wed 09-30: 10-01..07 off, Thu 10-08, Fri 10-09, Sat 10-10 (worked) -> urgent = 10-10
    r = _add(db, received_at="2026-09-30T10:00:00+08:00", urgency="urgent")
    assert r["promised_date"] == "2026-10-10"
    # normal from Fri 09-25 (中秋 09-25..27 off): 09-28, 29, 30, 10-08, 09, 10, 12, 13, 14, 15
    assert _add(db, received_at="2026-09-25T10:00:00+08:00")["promised_date"] == "2026-10-15"
    # the station's own promise
    assert set_promises(db, normal=5, urgent=1) == {"normal": 5, "urgent": 1}
    assert (
        _add(db, received_at="2026-09-30T10:00:00+08:00", urgency="urgent")["promised_date"] == "2026-10-08"
    )
    assert _add(db, received_at="2026-09-30T10:00:00+08:00")["promised_date"] == "2026-10-13"
    assert promise_settings(db)["promise_workdays"] == {"normal": 5, "urgent": 1}
    # an explicit promised date still wins
    assert (
        _add(db, received_at="2026-09-30T10:00:00+08:00", promised="2026-10-02")["promised_date"]
        == "2026-10-02"
    )
    before = _counts(db)
    for bad in (0, -1, 400):
        with pytest.raises(ValidationError) as e:
            set_promises(db, normal=bad)
        assert e.value.field == "--normal" and e.value.rule == "range"
    assert promise_settings(db)["promise_workdays"] == {"normal": 5, "urgent": 1}
    assert _counts(db) == before


def test_promised_where_the_calendar_ends_is_saved_with_a_warning(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QI_STATION_NOW", "2026-12-30T12:00:00+08:00")
    # Wed 2026-12-30 + 3: Thu 12-31, then 2027 (not published yet) counts Monday-Friday only: 01-01, 01-04
    r = _add(db, received_at="2026-12-30T10:00:00+08:00", urgency="urgent")
    assert r["promised_date"] == "2027-01-04"
    assert len(r["warnings"]) == 1 and "2027" in r["warnings"][0]


def test_received_time_without_zone_is_shanghai(db: Path) -> None:
    # 2026-03-31 23:30 in Shanghai is 15:30 UTC: still March's ledger number
    r = _add(db, received_at="2026-03-31T23:30:00")
    assert r["number"].endswith("-202603-0001")
    assert r["received_at"].startswith("2026-03-31 15:30")
    r2 = _add(db, received_at="2026-03-31T16:30:00Z")  # already April 1st in Shanghai
    assert "-202604-" in r2["number"]


def test_numbers_are_sequential_per_month(db: Path) -> None:
    nums = [_add(db, received_at="2026-02-03T10:00:00+08:00")["number"] for _ in range(3)]
    assert [n[-4:] for n in nums] == ["0001", "0002", "0003"]


def test_event_chain_detects_tampering(db: Path) -> None:
    r = _add(db)
    _walk(db, r["number"], ["accepted", "in_progress"])
    assert queries.get_request(db, r["number"])["ledger_ok"]
    c = sqlite3.connect(db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        c.execute("UPDATE request_event SET note = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        c.execute("DELETE FROM request_event")
    # someone who drops the trigger to edit history is still caught by the hash chain
    c.execute("DROP TRIGGER request_event_no_update")
    c.execute("UPDATE request_event SET actor = '伪造' WHERE n = 2")
    c.commit()
    c.close()
    d = queries.get_request(db, r["number"])
    assert d["ledger_ok"] is False and d["ledger_broken_at"] == 2


def test_every_change_writes_the_outbox_in_the_same_transaction(db: Path) -> None:
    r = _add(db)
    c = sqlite3.connect(db)
    tables = [t for (t,) in c.execute("SELECT table_name FROM outbox ORDER BY oseq")]
    assert tables == ["enterprise", "request_event", "request"]
    ledger.move_request(db, r["number"], "accepted")
    tables = [t for (t,) in c.execute("SELECT table_name FROM outbox ORDER BY oseq")]
    assert tables[3:] == ["request_event", "request"]
    c.close()


def test_refer_to_expert(db: Path) -> None:
    from qi_station.db.searchtext import prepare

    c = sqlite3.connect(db)
    row = prepare(
        "expert",
        {
            "id": "e1",
            "name": "曾国强",
            "city_code": "370100",
            "elements": ["metrology"],
            "updated_at": "2026-01-01 00:00:00.000000",
        },
    )
    c.execute(
        "INSERT INTO expert (id, name, name_py, name_initials, haystack, city_code, elements, rev, seq, "
        "deleted, updated_at, active_requests) VALUES (:id, :name, :name_py, :name_initials, :haystack, "
        ":city_code, :elements, 1, 0, 0, :updated_at, 0)",
        row,
    )
    c.commit()
    c.close()
    r = _add(db)
    _walk(db, r["number"], ["accepted", "in_progress"])
    ledger.refer_request(db, r["number"], "expert", "e1", note="请曾老师协助")
    d = queries.get_request(db, r["number"])
    assert d["status"] == "referred"
    assert d["referrals"][0]["item_name"] == "曾国强"
    with pytest.raises(NotFoundError):
        ledger.refer_request(db, r["number"], "expert", "nope")
    with pytest.raises(ValidationError):
        ledger.refer_request(db, r["number"], "robot", "e1")


def test_unknown_request(db: Path) -> None:
    with pytest.raises(NotFoundError):
        ledger.move_request(db, "NOPE-202601-0001", "accepted")
    with pytest.raises(ValidationError) as e:
        ledger.move_request(db, "NOPE-202601-0001", "flying")
    assert e.value.field == "status"


def test_changes_cannot_be_dated_before_the_last_event(db: Path) -> None:
    r = _add(db, received_at="2026-04-01T09:00:00+08:00")
    ledger.move_request(db, r["number"], "accepted", at="2026-04-03T09:00:00+08:00")
    before = _counts(db)
    with pytest.raises(ValidationError) as e:
        ledger.move_request(db, r["number"], "in_progress", at="2026-04-02T09:00:00+08:00")
    assert (e.value.field, e.value.rule) == ("at", "after_last_event")
    with pytest.raises(ValidationError) as e:
        ledger.move_request(db, r["number"], "in_progress", at="2026-03-02T09:00:00+08:00")
    assert e.value.rule == "after_received"
    assert _counts(db) == before
    ledger.move_request(
        db, r["number"], "in_progress", at="2026-04-03T09:00:00+08:00"
    )  # same instant is fine


def test_postgres_urls_use_psycopg3() -> None:
    from qi_station.db.engine import normalize_url

    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("/tmp/x.db") == "sqlite:////tmp/x.db"


def test_free_standing_note(db: Path) -> None:
    r = _add(db)
    ev = ledger.add_note(db, r["number"], "企业来电询问进度")
    d = queries.get_request(db, r["number"])
    assert (
        d["status"] == "new" and d["events"][-1]["kind"] == "note" and d["events"][-1]["note"] == ev["note"]
    )
    assert d["ledger_ok"]
    before = _counts(db)
    with pytest.raises(ValidationError) as e:
        ledger.add_note(db, r["number"], "  ")
    assert e.value.field == "note"
    assert _counts(db) == before


def test_today_local_honours_pinned_now(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date

    from qi_station.core.clock import today_local

    monkeypatch.setenv("QI_STATION_NOW", "2026-03-31T16:30:00Z")  # already April 1st in Shanghai
    assert today_local() == date(2026, 4, 1)


@pytest.mark.parametrize("sort", sorted(queries.SORTS))
def test_paged_list_equals_the_whole_list(db: Path, sort: str) -> None:
    for i in range(12):
        r = _add(
            db,
            received_at=f"2026-0{1 + i % 3}-0{1 + i % 5}T10:00:00+08:00",
            urgency="urgent" if i % 2 else "normal",
        )
        if i % 3 == 0:
            ledger.move_request(
                db, r["number"], "accepted", at=f"2026-0{1 + i % 3}-0{1 + i % 5}T11:00:00+08:00"
            )
    whole = [r["id"] for r in queries.list_requests(db, sort=sort)]
    paged = [
        r["id"] for off in range(0, 12, 5) for r in queries.list_requests(db, sort=sort, limit=5, offset=off)
    ]
    assert paged == whole and len(whole) == 12
    assert queries.count_requests(db) == 12
