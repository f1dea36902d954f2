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


# The operator's stumble (issue 13): 「济南 计量」, ``jinan jiliang`` and ``jn jl`` found different rows,
# because an employer or a title is searched in Chinese whole but in pinyin only by its initials (a long
# text) or not at all (a title), and a city's pinyin named only the city the row is in.
TRIAL = [
    # id, name, city, elements, employer, title, specialty
    ("t-emp", "康菊", "370800", ["standards"], "济南长清计量检测中心", "高级工程师", "标准化管理"),
    ("t-title", "熊福", "370100", ["standards"], "泰安盛检食品检测中心", "注册计量师", "标准化管理"),
    ("t-both", "吴健", "370500", ["quality"], "济南东准计量校准技术有限公司", "工程师", "首席质量官培训"),
    ("t-jining", "林蕾", "370800", ["ip"], "菏泽博润计量检测股份有限公司", "副研究员", "商标注册与保护"),
    ("t-none", "傅胜", "370200", ["testing"], "青岛东衡食品检测中心", "副教授", "环境检测"),
    ("t-jinan-py", "金安", "370200", ["brand"], "青岛质量协会", "工程师", "品牌培育"),
]


@pytest.fixture(scope="module")
def trialdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qi_station.db import write
    from qi_station.db.engine import connect, open_db

    db = open_db(tmp_path_factory.mktemp("trial") / "trial.db")
    rows = [
        {"id": i, "name": n, "city_code": c, "elements": el, "employer": emp, "title": t, "specialty": sp}
        for i, n, c, el, emp, t, sp in TRIAL
    ]
    cols = ["id", "name", "city_code", "elements", "employer", "title", "specialty", "name_py"]
    cols += [
        "name_initials",
        "haystack",
        "haystack_py",
        "rev",
        "seq",
        "deleted",
        "updated_at",
        "active_requests",
    ]
    for r in rows:
        r.update(rev=1, seq=0, deleted=0, updated_at="2026-01-01 00:00:00.000000", active_requests=0)
    conn = connect(db)
    conn.execute("BEGIN IMMEDIATE")
    write.upsert_library_rows(conn, "expert", rows, cols)
    conn.execute("COMMIT")
    conn.close()
    return db


@pytest.mark.parametrize("indexed", [True, False])
def test_pinyin_and_initials_of_the_trial_words_find_what_the_chinese_finds(
    trialdb: Path, indexed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qi_station.db import searchindex

    if not indexed:  # the scan (while the index is not current) answers the same
        monkeypatch.setattr(searchindex, "is_current", lambda c, t: False)
    got = {q: set(ids(search(trialdb, "experts", q, limit=None))) for q in ("济南 计量", "计量 济南")}
    assert got["济南 计量"] == got["计量 济南"] == {"t-emp", "t-title", "t-both"}
    for q in ("jinan jiliang", "jiliang jinan", "jinan jl", "济南 jiliang", "jinan 计量"):
        assert set(ids(search(trialdb, "experts", q, limit=None))) == {"t-emp", "t-title", "t-both"}, q
    # jn is 济南 and 济宁 (ambiguous): what 济南 计量 finds and what 济宁 计量 finds
    jn = {"t-emp", "t-title", "t-both", "t-jining"}
    assert set(ids(search(trialdb, "experts", "jn jl", limit=None))) == jn
    assert set(ids(search(trialdb, "experts", "济宁 计量", limit=None))) == {"t-emp", "t-jining"}
    # one word: everything the Chinese word finds, and pinyin's own matches (金安 is jinan too)
    for zh, py in (("济南", "jinan"), ("计量", "jiliang"), ("计量", "jl"), ("济宁", "jining")):
        assert set(ids(search(trialdb, "experts", zh, limit=None))) <= set(
            ids(search(trialdb, "experts", py, limit=None))
        ), (zh, py)
    assert ids(search(trialdb, "experts", "jinan"))[0] == "t-jinan-py"  # the own name still ranks first
    # own city first stays: 济南's own rows first among the substring matches
    assert ids(search(trialdb, "experts", "jinan jiliang", own_city="370100"))[0] == "t-title"
    # a partial syllable names no word (jina is not 济南): only pinyin and the city, as before
    assert "t-emp" not in ids(search(trialdb, "experts", "jina", limit=None))


def test_vocabulary_words_are_whole_syllables_of_the_names() -> None:
    from qi_station.core import domain, places
    from qi_station.db.searchtext import (
        CITY_READINGS,
        ELEMENT_READINGS,
        VOCAB_SYLLABLES,
        vocab_matches,
        vocab_words,
    )

    names = {**{c: n for c, n in places.CITIES.items()}, **domain.ELEMENT_ZH}
    readings = {**CITY_READINGS, **ELEMENT_READINGS}
    assert set(VOCAB_SYLLABLES) == set(names.values())
    for code, name in names.items():
        syl = VOCAB_SYLLABLES[name]
        assert len(syl) == len(name) and readings[code] == ("".join(syl), "".join(s[0] for s in syl))
    assert vocab_words("jinan") == ("济南",) and vocab_words("JL") == ("计量",)
    assert set(vocab_words("jn")) == {"济南", "济宁"} and vocab_words("jinanshi") == ("济南市",)
    assert vocab_words("ji") == vocab_words("jina") == vocab_words("jiance") == vocab_words("济南") == ()
    # a word's own elements (its Chinese query's) are among the pinyin query's: only its text is added
    for q in ["jl", "jiliang", "zhiliang", "zl", "jianyan", "jy", "bz", "rz", "zhishi", "pinpai"]:
        for w in vocab_words(q):
            assert set(vocab_matches(w)[1]) <= set(vocab_matches(q)[1]), (q, w)


def test_a_list_without_a_query_is_in_pinyin_order(tmp_path: Path) -> None:
    """No query: the stored pinyin's order (李 单 王 张: li shan wang zhang), not Unicode's (单 张 李 王)."""
    from test_tui_helpers import fixture_db

    db = fixture_db(tmp_path)
    names = [r["name"] for r in search(db, "experts", "")]
    assert names == ["李秀兰", "单立新", "王建国", "张伟"]
    assert names != sorted(names)
