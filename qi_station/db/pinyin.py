"""Pinyin and initials, computed when a record is written (never on the search path).

pypinyin costs ~0.2 s and ~55 MB to import, so it is imported lazily here and this
module must not be imported by the search or start-up paths.  pypinyin misreads
several Shandong place names and surnames; the override table fixes them.

Where the readings live: :data:`PHRASE_OVERRIDES` (place names) and :data:`SURNAME_OVERRIDES`
(surnames) give the primary reading; :func:`readings` adds what people also type: the reading
character by character (乐陵 leling, 费县 feixian, 单县 danxian, 曾 ceng) and, for names that are not
people's, the surname reading of a leading surname (曾氏精密 zengshi…).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# Phrases pypinyin gets wrong in Shandong (place names) and surnames at the start of a name.
PHRASE_OVERRIDES: dict[str, list[str]] = {
    "单县": ["shan", "xian"],
    "费县": ["bi", "xian"],
    "乐陵": ["lao", "ling"],
    "长清": ["chang", "qing"],
    "长岛": ["chang", "dao"],
    "莘县": ["shen", "xian"],
    "东阿": ["dong", "e"],
    "茌平": ["chi", "ping"],
    "郯城": ["tan", "cheng"],
    "兖州": ["yan", "zhou"],
    "即墨": ["ji", "mo"],
    "蓬莱": ["peng", "lai"],
    "曲阜": ["qu", "fu"],
    "莒县": ["ju", "xian"],
    "莒南": ["ju", "nan"],
    "沂水": ["yi", "shui"],
    "临朐": ["lin", "qu"],
    "鄄城": ["juan", "cheng"],
    "无棣": ["wu", "di"],
    "惠民": ["hui", "min"],
    "长清区": ["chang", "qing", "qu"],
}
SURNAME_OVERRIDES: dict[str, str] = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "查": "zha",
    "区": "ou",
    "盖": "ge",
    "乐": "yue",
    "尉迟": "yu chi",
    "缪": "miao",
    "覃": "qin",
    "翟": "zhai",
    "秘": "bi",
    "种": "chong",
    "万俟": "mo qi",
}

_RUNS = re.compile(r"[\u3400-\u9fff]+|[A-Za-z0-9]+")


@lru_cache(maxsize=1)
def _engine() -> Any:
    from pypinyin import Style, lazy_pinyin, load_phrases_dict

    load_phrases_dict({k: [[s] for s in v] for k, v in PHRASE_OVERRIDES.items()})
    return lazy_pinyin, Style


def syllables(text: str, *, person: bool = False) -> list[str]:
    """Lowercase pinyin syllables; ASCII runs are kept as words prefixed with '#'; others dropped."""
    lazy_pinyin, Style = _engine()
    out: list[str] = []
    first = True
    for run in _RUNS.findall(text):
        if run.isascii():
            out.append("#" + run.lower())
            first = False
            continue
        if person and first:
            for sur in sorted(SURNAME_OVERRIDES, key=len, reverse=True):
                if run.startswith(sur):
                    out.extend(SURNAME_OVERRIDES[sur].split())
                    run = run[len(sur) :]
                    break
        first = False
        if run:
            out.extend(x.lower() for x in lazy_pinyin(run, style=Style.NORMAL))
    return out


def _join(syl: list[str]) -> tuple[str, str]:
    full = "".join(s.lstrip("#") for s in syl)
    initials = "".join(s[1:] if s.startswith("#") else s[0] for s in syl if s)
    return full, initials


def _surname_first(text: str) -> list[str] | None:
    """Syllables of a name read with its leading surname's reading (None: no leading surname)."""
    for sur in sorted(SURNAME_OVERRIDES, key=len, reverse=True):
        if text.startswith(sur):
            rest = text[len(sur) :]
            return [*SURNAME_OVERRIDES[sur].split(), *(syllables(rest) if rest else [])]
    return None


def _primary(text: str, person: bool) -> list[str]:
    """People's names read their surname; other names too when it is followed by 氏 (曾氏精密)."""
    if not person:
        for sur in SURNAME_OVERRIDES:
            if text.startswith(sur + "氏"):
                return _surname_first(text) or syllables(text)
    return syllables(text, person=person)


@lru_cache(maxsize=65536)
def _char(ch: str) -> str:
    """One character's default reading (cached: the character-by-character reading is cheap)."""
    lazy_pinyin, Style = _engine()
    return str(lazy_pinyin(ch, style=Style.NORMAL)[0]).lower()


def _naive(text: str) -> list[str]:
    out: list[str] = []
    for run in _RUNS.findall(text):
        out.extend(["#" + run.lower()] if run.isascii() else [_char(ch) for ch in run])
    return out


def other_readings(text: str, primary: tuple[str, str], *, person: bool = False) -> list[tuple[str, str]]:
    """The readings of ``text`` besides ``primary`` (its (full, initials), already known): the reading
    character by character and, for names that are not people's, a leading surname's reading."""
    variants = [_naive(text)]
    if not person and not any(text.startswith(p) for p in PHRASE_OVERRIDES):
        sur = _surname_first(text)
        if sur is not None:
            variants.append(sur)
    out: list[tuple[str, str]] = []
    for syl in variants:
        pair = _join(syl)
        if pair[0] and pair != primary and pair not in out:
            out.append(pair)
    return out


@lru_cache(maxsize=65536)
def readings(text: str, *, person: bool = False) -> tuple[tuple[str, str], ...]:
    """(full pinyin, initials) of every reading of ``text`` people type, the primary one first:
    the override reading, the reading character by character, and (for names that are not people's)
    the reading of a leading surname. Cached: cities, elements and employers repeat."""
    primary = _join(_primary(text, person))
    return (primary, *other_readings(text, primary, person=person))


def pinyin_fields(text: str, *, person: bool = False) -> tuple[str, str]:
    """(full pinyin without separators, initials) for a name.

    ASCII words (model numbers, "CNAS") are kept whole in both fields.
    """
    return readings(text, person=person)[0] if text else ("", "")
