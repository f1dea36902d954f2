"""Fast field helpers of the generator: time arithmetic on epoch ms, the DB datetime text, ids,
USCCs, phone numbers, and the pinyin of composed names (computed once per name part)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from qi_station.core import places
from qi_station.core.ids import uuid7 as uuid7_from
from qi_station.core.validate import USCC_ALPHABET, uscc_check_char
from qi_station.devtools.generate.places import CITY_WEIGHTS
from qi_station.devtools.generate.vocab import MOBILE_PREFIXES

Progress = Callable[[str, int, int], None]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
LOCAL_OFFSET_MS = 8 * HOUR_MS  # Asia/Shanghai has no DST since 1991
CHUNK = 20_000


# ---- small fast helpers -------------------------------------------------------------------------
def new_id(rng: random.Random, ms: int) -> str:
    return uuid7_from(ms, rng.getrandbits(74))


_DAY_STR: dict[int, str] = {}
_EPOCH = date(1970, 1, 1)


def day_str(day: int) -> str:
    s = _DAY_STR.get(day)
    if s is None:
        s = _DAY_STR[day] = (_EPOCH + timedelta(days=day)).isoformat()
    return s


_TOD = [f"{h:02d}:{m:02d}:{sec:02d}" for h in range(24) for m in range(60) for sec in range(60)]


def fmt_ms(ms: int) -> str:
    """Epoch ms (UTC) -> the DB datetime text (``timeutil.to_db`` format), fast."""
    s, milli = divmod(ms, 1000)
    d, sod = divmod(s, 86400)
    ds = _DAY_STR.get(d) or day_str(d)
    return f"{ds} {_TOD[sod]}.{milli:03d}000"


def local_day(ms: int) -> int:
    return (ms + LOCAL_OFFSET_MS) // DAY_MS


def to_ms(dt: datetime) -> int:
    """Naive UTC or aware datetime -> epoch ms."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def org_code(rng: random.Random) -> str:
    """9-character organisation part of a USCC: new-style 'MA…' or an old GB 11714 code with its check."""
    if rng.random() < 0.7:
        return "MA" + "".join(rng.choice(USCC_ALPHABET[:10] + USCC_ALPHABET[10:]) for _ in range(7))
    digits = [rng.randrange(10) for _ in range(8)]
    c = 11 - sum(d * w for d, w in zip(digits, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    check = "X" if c == 10 else ("0" if c == 11 else str(c))
    return "".join(map(str, digits)) + check


def make_uscc(rng: random.Random, region: str, prefix: str = "91") -> str:
    first17 = prefix + region + org_code(rng)
    return first17 + uscc_check_char(first17)


def mobile(rng: random.Random) -> tuple[str, str]:
    """(E.164, national display) of a plausible Chinese mobile number."""
    p = rng.choice(MOBILE_PREFIXES)
    a, b = rng.randrange(10000), rng.randrange(10000)
    return f"+86{p}{a:04d}{b:04d}", f"{p} {a:04d} {b:04d}"


def landline(rng: random.Random, city_code: str) -> tuple[str, str]:
    """(E.164, display) of a landline in the city (0531/0532 have 8 digits, the rest 7)."""
    area = places.AREA_CODES[city_code]  # a current city (莱芜 numbers are 济南 0531 numbers today)
    if area in ("531", "532"):
        n = f"{rng.randint(5, 8)}{rng.randrange(10_000_000):07d}"
        return f"+86{area}{n}", f"0{area} {n[:4]} {n[4:]}"
    n = f"{rng.randint(2, 8)}{rng.randrange(1_000_000):06d}"
    return f"+86{area}{n}", f"0{area} {n[:3]} {n[3:]}"


def weighted_city(rng: random.Random) -> str:
    return rng.choices(list(CITY_WEIGHTS), weights=list(CITY_WEIGHTS.values()))[0]


class PinyinCache:
    """pinyin_fields per name part, computed once; names are composed from parts."""

    def __init__(self) -> None:
        self._c: dict[tuple[str, bool], tuple[str, str]] = {}

    def part(self, text: str, person: bool = False) -> tuple[str, str]:
        key = (text, person)
        r = self._c.get(key)
        if r is None:
            from qi_station.db.pinyin import pinyin_fields

            r = self._c[key] = pinyin_fields(text, person=person)
        return r

    def join(self, *parts: str, person_first: bool = False) -> tuple[str, str]:
        py, ini = [], []
        for i, p in enumerate(parts):
            a, b = self.part(p, person=person_first and i == 0)
            py.append(a)
            ini.append(b)
        return "".join(py), "".join(ini)
