"""Library search: short Chinese, pinyin, initials, 济南/济宁, override readings, hostile input."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from qi_station.db.searchtext import prepare
from qi_station.services.search import search

EXPERTS = [
    ("x1", "曾国强", "370100", ["metrology"], "压力计量"),
    ("x2", "单雄信", "370800", ["testing"], "食品检测"),
    ("x3", "李计量", "370200", ["metrology"], "长度计量"),
    ("x4", "王芳", "370100", ["standards"], "标准化"),
]
INSTITUTIONS = [
    ("i1", "济南市计量检定测试院", "370100", ["metrology"], "2030-01-01"),
    ("i2", "济宁市检验检测中心", "370800", ["testing"], "2020-01-01"),
    ("i3", "单县产品质量检验所", "371700", ["testing"], "2030-01-01"),
    ("i4", "费县质量技术服务中心", "371300", ["quality"], "2030-01-01"),
    ("i5", "乐陵市标准化研究所", "371400", ["standards"], "2030-01-01"),
    ("i6", "长清区计量所", "370100", ["metrology"], None),
    ("i7", '青岛(AND)*检测"公司', "370200", ["testing"], "2030-01-01"),
]


@pytest.fixture(scope="module")
def libdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qi_station.db.engine import open_db

    db = open_db(tmp_path_factory.mktemp("lib") / "lib.db")
    c = sqlite3.connect(db)
    now = "2026-01-01 00:00:00.000000"
    for i, name, city, el, spec in EXPERTS:
        r = prepare("expert", {"id": i, "name": name, "city_code": city, "elements": el, "specialty": spec})
        c.execute(
            "INSERT INTO expert (id,name,name_py,name_initials,haystack,haystack_py,city_code,elements,rev,seq,"
            "deleted,updated_at,active_requests,specialty) VALUES (?,?,?,?,?,?,?,?,1,0,0,?,0,?)",
            (
                i,
                name,
                r["name_py"],
                r["name_initials"],
                r["haystack"],
                r["haystack_py"],
                city,
                r["elements"],
                now,
                spec,
            ),
        )
    for i, name, city, el, exp in INSTITUTIONS:
        r = prepare("institution", {"id": i, "name": name, "city_code": city, "elements": el})
        c.execute(
            "INSERT INTO institution (id,name,name_py,name_initials,haystack,haystack_py,city_code,elements,rev,"
            "seq,deleted,updated_at,cma_expiry) VALUES (?,?,?,?,?,?,?,?,1,0,0,?,?)",
            (
                i,
                name,
                r["name_py"],
                r["name_initials"],
                r["haystack"],
                r["haystack_py"],
                city,
                r["elements"],
                now,
                exp,
            ),
        )
    c.execute(
        "INSERT INTO institution (id,name,name_py,name_initials,haystack,city_code,elements,rev,seq,deleted,"
        "updated_at) VALUES ('gone','济南已注销检测站','','','济南已注销检测站','370100','[]',2,0,1,?)",
        (now,),
    )
    c.commit()
    c.close()
    return db


def ids(rows: list[dict]) -> list[str]:
    return [r["id"] for r in rows]


def test_one_character_chinese(libdb: Path) -> None:
    assert set(ids(search(libdb, "institutions", "县"))) == {"i3", "i4"}
    assert ids(search(libdb, "experts", "曾")) == ["x1"]


def test_two_character_chinese(libdb: Path) -> None:
    assert set(ids(search(libdb, "institutions", "计量"))) == {"i1", "i6"}
    assert ids(search(libdb, "institutions", "济宁")) == ["i2"]


def test_four_character_and_ranking(libdb: Path) -> None:
    # the name first, then the institutions whose element is 检验检测
    assert ids(search(libdb, "institutions", "检验检测")) == ["i2", "i3", "i7"]
    # exact name first, then prefix, then substring
    rows = search(libdb, "experts", "计量")
    assert ids(rows)[0] == "x3"  # name contains it; the others only in specialty
    assert set(ids(rows)) == {"x1", "x3"}


def test_jn_finds_jinan_and_jining(libdb: Path) -> None:
    found = ids(search(libdb, "institutions", "jn"))
    assert found[:2] == ["i1", "i2"] or set(found[:2]) == {"i1", "i2"}
    assert "i2" in ids(search(libdb, "institutions", "JN"))  # ASCII is case-insensitive


@pytest.mark.parametrize(
    "words",
    [("济南", "计量"), ("计量", "济南"), ("jn", "jl"), ("检", "jn", "县"), ("计量", "zzzz"), ("县", "曾")],
)
@pytest.mark.parametrize("kind", ["institutions", "experts"])
def test_several_words_find_rows_matching_every_word(libdb: Path, kind: str, words: tuple[str, ...]) -> None:
    """The third operator trial: 「济南 计量」 found nothing. Rows matching every word, ranked by the first."""
    got = ids(search(libdb, kind, "  ".join(words), limit=None))
    each = [set(ids(search(libdb, kind, w, limit=None))) for w in words]
    assert set(got) == set.intersection(*each)
    first = [i for i in ids(search(libdb, kind, words[0], limit=None)) if i in set(got)]
    assert set(got) == set(first) and len(got) == len(set(got))
    if words == ("济南", "计量") and kind == "institutions":
        assert got  # the trial's query finds something


def test_full_pinyin(libdb: Path) -> None:
    assert ids(search(libdb, "institutions", "jining")) == ["i2"]
    assert ids(search(libdb, "institutions", "jinanshi")) == ["i1", "i6"]  # i6 is in 济南市


@pytest.mark.parametrize(
    ("query", "expected"),
    [("shanxian", "i3"), ("sx", "i3"), ("bixian", "i4"), ("laoling", "i5"), ("changqing", "i6")],
)
def test_shandong_override_readings(libdb: Path, query: str, expected: str) -> None:
    assert expected in ids(search(libdb, "institutions", query))


def test_surname_overrides(libdb: Path) -> None:
    assert ids(search(libdb, "experts", "zgq")) == ["x1"]
    assert ids(search(libdb, "experts", "shanxiongxin")) == ["x2"]


@pytest.mark.parametrize(
    "q", ['"', "*", "AND", "(", ")", "NOT", "a OR b", "'", "%", "_", "\\", '检测"', "^", ":"]
)
def test_fts_syntax_characters_never_raise(libdb: Path, q: str) -> None:
    search(libdb, "institutions", q)


def test_syntax_characters_are_literal(libdb: Path) -> None:
    assert ids(search(libdb, "institutions", "(AND)*")) == ["i7"]
    assert ids(search(libdb, "institutions", '"')) == ["i7"]


def test_filters_and_tombstones(libdb: Path) -> None:
    assert set(ids(search(libdb, "institutions", "", element="testing"))) == {"i2", "i3", "i7"}
    assert set(ids(search(libdb, "institutions", "", city="370100"))) == {"i1", "i6"}
    valid = set(ids(search(libdb, "institutions", "", valid_only=True)))
    assert "i2" not in valid and "i6" not in valid and "i1" in valid
    assert "gone" not in ids(search(libdb, "institutions", "注销"))


def test_own_city_first(libdb: Path) -> None:
    rows = search(libdb, "institutions", "检", own_city="370800")
    assert rows[0]["id"] == "i2"


def test_empty_query_browses_everything_and_pages(libdb: Path) -> None:
    assert len(search(libdb, "institutions", "", limit=None)) == 7
    page1 = ids(search(libdb, "institutions", "", limit=3))
    page2 = ids(search(libdb, "institutions", "", limit=3, offset=3))
    assert len(page1) == 3 and not set(page1) & set(page2)


def test_search_path_never_imports_pypinyin(libdb: Path) -> None:
    import subprocess

    code = (
        "import sys; from qi_station.services.search import search; "
        f"search({str(libdb)!r}, 'institutions', 'jn'); search({str(libdb)!r}, 'experts', '计量'); "
        "assert 'pypinyin' not in sys.modules, 'pypinyin imported'; "
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
