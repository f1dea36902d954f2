"""A station's spreadsheet ledger (台账) as stations keep it in Excel before they use qi-station: the
sample file ``data/samples/台账示例.xlsx`` (``python data/make_samples.py``), the import tests and the
import benchmark. Rows mix what real ledgers hold: dates as Excel dates and as text (``2025/3/5``,
``2025年3月5日``), ratings as words and digits, elements by their Chinese names, a title line above the
header row, a column qi-station does not know (走访人员)."""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from qi_station.core import domain, places
from qi_station.devtools.generate.fields import make_uscc, mobile
from qi_station.devtools.generate.places import city_short
from qi_station.devtools.generate.vocab import (
    ENT_BRAND_A,
    ENT_BRAND_B,
    ENT_INDUSTRIES,
    FOLLOWUPS,
    GIVEN_CHARS,
    OPERATORS,
    REQUEST_TEMPLATES,
    RESULTS,
    SURNAMES,
    industry_elements,
)

HEADERS = (
    "序号",
    "企业名称",
    "统一社会信用代码",
    "联系人",
    "联系电话",
    "服务类型",
    "需求事项",
    "需求描述",
    "受理日期",
    "承诺办结日期",
    "办结日期",
    "办理结果",
    "满意度",
    "渠道",
    "经办人",
    "走访人员",
    "备注",
)
TITLE = "园区质量基础设施工作站 服务台账"
_CITIES = ("370100", "370200", "370300", "370700", "370800", "371300", "371400", "371700")


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2))))


def ledger_rows(n: int, seed: int = 2025, first: date = date(2025, 1, 2)) -> list[tuple[Any, ...]]:
    """``n`` ledger rows (cells in :data:`HEADERS` order), received from ``first`` on, about a third
    of the enterprises coming back more than once; older rows are resolved and mostly followed up."""
    rng = random.Random(seed)
    els_of = industry_elements()
    ents: list[tuple[str, str, str, str, str]] = []
    names: set[str] = set()
    while len(ents) < max(1, n // 3):
        city = rng.choice(_CITIES)
        region, county = rng.choice(places.COUNTIES[city])
        word, _ = rng.choice(ENT_INDUSTRIES)
        name = f"{city_short(city)}{rng.choice(ENT_BRAND_A)}{rng.choice(ENT_BRAND_B)}{word}有限公司"
        if name in names:
            continue
        names.add(name)
        ents.append((name, make_uscc(rng, region), _person(rng), mobile(rng)[1], word))
    span = max(1, (date(2025, 12, 31) - first).days)
    rows: list[tuple[Any, ...]] = []
    for i in range(n):
        name, uscc, contact, phone, word = ents[int(rng.random() ** 1.5 * len(ents))]
        els = list(els_of[word])[: rng.choice((1, 1, 2))]
        title = rng.choice(REQUEST_TEMPLATES[els[0]])
        day = first + timedelta(days=int(i * span / max(1, n)))
        received: Any = datetime(
            day.year, day.month, day.day, rng.randint(8, 17), rng.choice((0, 15, 30, 45))
        )
        if i % 4 == 1:
            received = f"{day.year}/{day.month}/{day.day}"
        elif i % 4 == 2:
            received = f"{day.year}年{day.month}月{day.day}日"
        urgent = rng.random() < 0.15
        # a paper ledger's promise: the station's working days, about 7/5 as many calendar days
        promised = day + timedelta(days=domain.PROMISE_WORKDAYS["urgent" if urgent else "normal"] * 7 // 5)
        done = rng.random() < 0.85
        resolved = day + timedelta(days=rng.randint(0, 20)) if done else None
        rated = done and rng.random() < 0.8
        sat: Any = None
        if rated:
            level = rng.choices((5, 4, 3, 2, 1), weights=(50, 35, 10, 4, 1))[0]
            sat = level if i % 3 == 0 else domain.SATISFACTION_ZH[level]
        rows.append(
            (
                i + 1,
                name,
                uscc,
                contact,
                phone,
                "、".join(domain.ELEMENT_ZH[e] for e in els),
                title,
                f"{name}申请{title}。",
                received,
                promised,
                resolved,
                rng.choice(RESULTS) if done else None,
                sat,
                rng.choice(tuple(domain.CHANNEL_ZH.values())),
                rng.choice(OPERATORS),
                _person(rng) if rng.random() < 0.3 else None,
                rng.choice(FOLLOWUPS) if rated and rng.random() < 0.3 else None,
            )
        )
    return rows


def write_xlsx(path: Path, rows: list[tuple[Any, ...]]) -> Path:
    """The ledger as an Excel workbook: a title line, the header row, the rows (dates as Excel dates)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "服务台账"
    ws.append([TITLE])
    ws.append(list(HEADERS))
    for r in rows:
        ws.append(list(r))
    fixed = datetime(2025, 12, 31, 12, 0)
    wb.properties.created = wb.properties.modified = fixed
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_csv(path: Path, rows: list[tuple[Any, ...]], encoding: str = "utf-8-sig") -> Path:
    """The ledger as CSV, as Excel saves it (``gb18030`` for Excel on Chinese Windows' "CSV")."""

    def text(v: Any) -> str:
        if isinstance(v, datetime):
            return v.strftime("%Y-%m-%d %H:%M")
        return "" if v is None else str(v)

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADERS)
        for r in rows:
            w.writerow([text(v) for v in r])
    return path
