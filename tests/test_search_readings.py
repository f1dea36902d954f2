"""Search by what people type (issue 9, item 5): pinyin, initials and common misreadings match the
city, employer, speciality and element names too, the item's own name still ranks first; surname
readings apply to enterprise names; the 0007 migration recomputes stored search text."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from qi_station.services.search import search

NOW = "2026-01-01 00:00:00.000000"
COLS = (
    "id",
    "name",
    "name_py",
    "name_initials",
    "haystack",
    "haystack_py",
    "city_code",
    "elements",
    "rev",
    "seq",
)
COLS += ("deleted", "updated_at")

# id, name, city, elements, employer, specialty
EXPERTS = [
    ("x-name", "王济南", "370200", ["quality"], "青岛质量协会", "质量管理"),
    ("x-jn", "张华", "370100", ["standards"], "济南标准化院", "标准化"),
    ("x-jining", "刘强", "370800", ["quality"], "济宁质量协会", "质量管理"),
    ("x-jl", "陈红", "370200", ["metrology"], "青岛计量院", "压力计量"),
    ("x-jiali", "贾立", "370200", ["brand"], "青岛品牌协会", "品牌培育"),
    ("x-zeng", "曾国强", "370200", ["brand"], "青岛品牌协会", "品牌培育"),
]
EQUIPMENT = [
    ("q-jn", "三坐标测量机", "370100", ["metrology"]),
    ("q-qd", "光谱仪", "370200", ["testing"]),
]
ENTERPRISES = [
    ("e-zeng", "曾氏精密机械有限公司", "370200", "91370200MA3C00001X", "机械制造"),
    ("e-le", "乐陵市宏达纺织有限公司", "371400", "91371400MA3C00002X", "纺织"),
    ("e-fei", "青岛华兴费县分公司", "370200", "91370200MA3C00003X", "食品"),
]


def _write(db: Path, *, before_0007: bool = False) -> None:
    from qi_station.db import write
    from qi_station.db.engine import connect

    def upsert_library_rows(conn: object, table: str, rows: list, cols: tuple) -> None:
        keep = tuple(c for c in cols if not (before_0007 and c == "haystack_py"))
        write.upsert_library_rows(conn, table, rows, keep)

    base = {"rev": 1, "seq": 0, "deleted": 0, "updated_at": NOW}
    conn = connect(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        upsert_library_rows(
            conn,
            "expert",
            [
                {
                    "id": i,
                    "name": n,
                    "city_code": c,
                    "elements": el,
                    "employer": emp,
                    "specialty": sp,
                    "active_requests": 0,
                    **base,
                }
                for i, n, c, el, emp, sp in EXPERTS
            ],
            (*COLS, "employer", "specialty", "active_requests"),
        )
        upsert_library_rows(
            conn,
            "equipment",
            [
                {"id": i, "name": n, "city_code": c, "elements": el, "shared": 0, **base}
                for i, n, c, el in EQUIPMENT
            ],
            (*COLS, "shared"),
        )
        ent = [
            {
                "id": i,
                "name": n,
                "city_code": c,
                "region_code": c,
                "uscc": u,
                "industry": ind,
                "elements": [],
                "deleted": 0,
                "seq": 0,
                "s_rev": 1,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i, n, c, u, ind in ENTERPRISES
        ]
        ecols = (
            "id",
            "name",
            "name_py",
            "name_initials",
            "haystack",
            "haystack_py",
            "city_code",
            "region_code",
        )
        ecols += ("uscc",)
        upsert_library_rows(
            conn,
            "enterprise",
            ent,
            (*ecols, "industry", "elements", "deleted", "seq", "s_rev", "created_at", "updated_at"),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.fixture
def rdb(db: Path) -> Path:
    _write(db)
    return db


def ids(rows: list[dict]) -> list[str]:
    return [r["id"] for r in rows]


def test_jn_finds_experts_in_jinan_and_jining_own_name_first(rdb: Path) -> None:
    got = ids(search(rdb, "experts", "jn"))
    assert got[0] == "x-name"  # the own name wins
    assert set(got) >= {"x-name", "x-jn", "x-jining"}
    assert set(ids(search(rdb, "experts", "jining"))) == {"x-jining"}
    # own city first among the others
    assert ids(search(rdb, "experts", "jn", own_city="370800"))[:2] == ["x-name", "x-jining"]


def test_jinan_finds_equipment_in_jinan(rdb: Path) -> None:
    assert ids(search(rdb, "equipment", "jinan")) == ["q-jn"]
    assert ids(search(rdb, "equipment", "jn")) == ["q-jn"]


def test_jl_finds_metrology_experts_not_only_people_named_jiali(rdb: Path) -> None:
    got = ids(search(rdb, "experts", "jl"))
    assert got[0] == "x-jiali"  # 贾立's own initials are exactly jl
    assert "x-jl" in got  # 计量 (element and speciality)
    assert "x-jl" in ids(search(rdb, "experts", "jiliang"))
    assert "x-jl" in ids(search(rdb, "experts", "计量"))


def test_employer_and_speciality_pinyin(rdb: Path) -> None:
    assert "x-jl" in ids(search(rdb, "experts", "yalijiliang"))
    assert "x-jn" in ids(search(rdb, "experts", "jnbzhy"))  # 济南标准化院 by initials


@pytest.mark.parametrize(
    ("query", "expected"),
    [("leling", "e-le"), ("laoling", "e-le"), ("feixian", "e-fei"), ("bixian", "e-fei"), ("zsjm", "e-zeng")],
)
def test_misreadings_and_surnames_find_enterprises(rdb: Path, query: str, expected: str) -> None:
    assert expected in ids(search(rdb, "enterprises", query))


def test_surname_reading_is_the_enterprise_name_reading(rdb: Path) -> None:
    c = sqlite3.connect(rdb)
    try:
        assert (
            c.execute("SELECT name_initials FROM enterprise WHERE id = 'e-zeng'").fetchone()[0]
            == "zsjmjxyxgs"
        )
    finally:
        c.close()
    assert ids(search(rdb, "enterprises", "zsjm"))[0] == "e-zeng"
    assert ids(search(rdb, "experts", "cengguoqiang")) == ["x-zeng"]  # the misreading still finds him


def test_vocabulary_readings_are_the_formula_s() -> None:
    from qi_station.core import domain, places
    from qi_station.db.pinyin import readings
    from qi_station.db.searchtext import CITY_READINGS, ELEMENT_READINGS

    assert CITY_READINGS == {c: readings(n)[0] for c, n in places.CITIES.items()}
    assert ELEMENT_READINGS == {e: readings(n)[0] for e, n in domain.ELEMENT_ZH.items()}


def test_migration_0007_recomputes_stored_search_text(tmp_path: Path) -> None:
    from qi_station.db.engine import current_revision, open_db, run_migrations, sqlite_url

    db = tmp_path / "old.db"
    run_migrations(sqlite_url(db), "0004")
    _write(db, before_0007=True)
    c = sqlite3.connect(db)
    c.execute("UPDATE expert SET haystack = name, name_initials = 'old'")  # as an older formula left them
    c.execute("UPDATE enterprise SET name_initials = 'csjmjxyxgs' WHERE id = 'e-zeng'")
    c.commit()
    c.close()
    open_db(db)
    from qi_station.db.engine import SCHEMA_HEAD

    assert current_revision(db) == SCHEMA_HEAD  # through 0007 and on
    c = sqlite3.connect(db)
    try:
        hay, py, ini = c.execute(
            "SELECT haystack, haystack_py, name_initials FROM expert WHERE id = 'x-jl'"
        ).fetchone()
        assert hay == "陈红 压力计量 青岛计量院 青岛市" and "yalijiliang" in py and ini == "ch"
        assert (
            c.execute("SELECT name_initials FROM enterprise WHERE id = 'e-zeng'").fetchone()[0]
            == "zsjmjxyxgs"
        )
    finally:
        c.close()
