"""Library rows (experts, institutions, equipment, projects) and enterprises at scale. Names are
composed from parts whose pinyin is computed once; each row's search text and JSON fields come
from ``db.searchtext.prepare`` and it is written by ``db.write.upsert_library_rows``."""

from __future__ import annotations

import json
import random
import sqlite3
from collections import deque
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from qi_station.core import domain, places
from qi_station.db import write
from qi_station.devtools.generate.fields import (
    _EPOCH,
    CHUNK,
    DAY_MS,
    PinyinCache,
    Progress,
    day_str,
    fmt_ms,
    landline,
    local_day,
    make_uscc,
    mobile,
    new_id,
)
from qi_station.devtools.generate.places import CITY_WEIGHTS, LAIWU_COUNTIES, city_short, county_short
from qi_station.devtools.generate.requests import EntRef
from qi_station.devtools.generate.vocab import (
    COOP_WORDS,
    ENT_BRAND_A,
    ENT_BRAND_B,
    ENT_INDUSTRIES,
    ENT_ORGTYPES,
    EQUIPMENT,
    GIVEN_CHARS,
    INST_BRAND_A,
    INST_BRAND_B,
    INST_FIELDS,
    INST_ORGTYPES,
    PROJECT_INDUSTRIES,
    PROJECT_STATUSES,
    PROJECT_TYPES,
    PROVINCIAL_ORGS,
    SCALE_WEIGHTS,
    SCALES,
    SPECIALTIES,
    SURNAMES,
    TITLES,
    UNIVERSITIES,
    industry_elements,
)

LIB_SPLIT = (("expert", 0.4), ("institution", 0.2), ("equipment", 0.3), ("project", 0.1))
EXPERT_COLUMNS = (
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
    "deleted",
    "updated_at",
    "gender",
    "title",
    "employer",
    "specialty",
    "phone",
    "email",
    "active_requests",
)
INSTITUTION_COLUMNS = (
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
    "deleted",
    "updated_at",
    "short_name",
    "uscc",
    "cma_no",
    "cma_expiry",
    "cnas_no",
    "cnas_expiry",
    "scope",
    "address",
    "contact",
    "phone",
)
EQUIPMENT_COLUMNS = (
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
    "deleted",
    "updated_at",
    "model",
    "institution_id",
    "shared",
    "fee",
    "fee_unit",
    "description",
)
PROJECT_COLUMNS = (
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
    "deleted",
    "updated_at",
    "year",
    "lead",
    "status",
    "description",
)
ENTERPRISE_COLUMNS = (
    "id",
    "name",
    "uscc",
    "region_code",
    "city_code",
    "county_code",
    "industry",
    "scale",
    "contact_name",
    "phone_e164",
    "phone_display",
    "name_py",
    "name_initials",
    "haystack",
    "haystack_py",
    "elements",
    "station_code",
    "s_rev",
    "seq",
    "deleted",
    "created_at",
    "updated_at",
)


def _values(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows as tuples of ``columns`` (``haystack`` left None) -> the tuples written: pinyin kept (it is
    composed here), search text by ``searchtext.prepare`` through ``db.write``. Runs in a pool worker
    when the generation is parallel."""
    dicts = [dict(zip(columns, r, strict=True)) for r in rows]
    return write.library_values(write.prepare_library_rows(table, dicts, keep_pinyin=True), columns)


class LibraryWriter:
    """Writes chunks of library rows in the order given. With a process ``pool`` the search text of
    the next chunks is computed by the pool while this process builds rows and inserts (the text is
    the same either way: ``searchtext.prepare`` is deterministic)."""

    def __init__(self, conn: sqlite3.Connection, pool: Any = None, ahead: int = 4) -> None:
        self.conn, self.pool, self.ahead = conn, pool, ahead
        self.pending: deque[tuple[str, tuple[str, ...], Any]] = deque()

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.pool is None:
            write.upsert_rows(self.conn, table, columns, _values(table, columns, rows))
            return
        self.pending.append((table, columns, self.pool.apply_async(_values, (table, columns, rows))))
        while len(self.pending) > self.ahead:
            self._one()

    def _one(self) -> None:
        table, columns, res = self.pending.popleft()
        write.upsert_rows(self.conn, table, columns, res.get())

    def drain(self) -> None:
        while self.pending:
            self._one()


def person_name(rng: random.Random, pc: PinyinCache) -> tuple[str, str, str]:
    rand = rng.random
    sur = SURNAMES[int(rand() * len(SURNAMES))]
    given = [GIVEN_CHARS[int(rand() * len(GIVEN_CHARS))] for _ in range(1 if rand() < 0.35 else 2)]
    py, ini = pc.join(sur, *given, person_first=True)
    return sur + "".join(given), py, ini


def _elements_json(els: Iterable[str]) -> str:
    return json.dumps(sorted(set(els), key=domain.ELEMENTS.index))


def gen_library(
    conn: sqlite3.Connection,
    rng: random.Random,
    total: int,
    now_ms: int,
    pc: PinyinCache,
    progress: Progress | None = None,
    pool: Any = None,
) -> dict[str, list[tuple[str, str]]]:
    """Insert ``total`` library rows split over the four tables; return (id, name) refs per kind.
    ``pool``: a process pool that computes the search text (see :class:`LibraryWriter`)."""
    w = LibraryWriter(conn, pool)
    counts = {k: int(total * f) for k, f in LIB_SPLIT}
    counts["expert"] += total - sum(counts.values())
    refs: dict[str, list[tuple[str, str]]] = {k: [] for k in counts}
    today = local_day(now_ms)

    rr, rand, choice = rng.randrange, rng.random, rng.choice

    def upd() -> tuple[str, int]:
        ms = now_ms - rr(400 * DAY_MS)
        return fmt_ms(ms), ms

    cities = list(CITY_WEIGHTS)
    cweights = list(CITY_WEIGHTS.values())
    # institutions first (equipment points at them)
    rows: list[tuple[Any, ...]] = []
    inst_refs: list[tuple[str, str, str, str]] = []  # id, name, city, short
    for i in range(counts["institution"]):
        city = rng.choices(cities, weights=cweights)[0]
        brand = choice(INST_BRAND_A) + choice(INST_BRAND_B)
        fname, els, scope = INST_FIELDS[rr(len(INST_FIELDS))]
        otype = choice(INST_ORGTYPES)
        cs = city_short(city)
        name = f"{cs}{brand}{fname}{otype}"
        py, ini = pc.join(cs, brand, fname, otype)
        u, ums = upd()
        iid = new_id(rng, ums)
        uscc = make_uscc(rng, choice(places.COUNTIES[city])[0])
        cma = f"{rr(18, 26):02d}15{rr(10**6):06d}{rr(100):02d}" if rand() < 0.9 else None
        cnas = f"CNAS L{rr(1000, 20000)}" if rand() < 0.6 else None
        cma_exp = day_str(today + rr(-60, 6 * 365)) if cma else None
        cnas_exp = day_str(today + rr(-60, 6 * 365)) if cnas else None
        county = choice(places.COUNTIES[city])[1]
        contact, _, _ = person_name(rng, pc)
        phone = landline(rng, city)[1]
        short = cs + brand + fname[:2]
        rows.append(
            (
                iid,
                name,
                py,
                ini,
                None,  # haystack: searchtext.prepare
                None,  # haystack_py: searchtext.prepare
                city,
                json.dumps(list(els)),
                1,
                0,
                0,
                u,
                short,
                uscc,
                cma,
                cma_exp,
                cnas,
                cnas_exp,
                scope,
                f"山东省{places.CITIES[city]}{county}{choice('经纬')}{rr(1, 30)}路{rr(1, 999)}号",
                contact,
                phone,
            )
        )
        inst_refs.append((iid, name, city, short))
        refs["institution"].append((iid, name))
        if len(rows) >= CHUNK:
            w.write("institution", INSTITUTION_COLUMNS, rows)
            rows = []
            if progress:
                progress("institutions", i + 1, counts["institution"])
    w.write("institution", INSTITUTION_COLUMNS, rows)
    if progress:
        progress("institutions", counts["institution"], counts["institution"])
    rows = []
    el_list = list(SPECIALTIES)
    for i in range(counts["expert"]):
        city = rng.choices(cities, weights=cweights)[0]
        name, py, ini = person_name(rng, pc)
        el = el_list[rr(len(el_list))]
        exp_els = [el] + ([choice(el_list)] if rand() < 0.4 else [])
        spec = choice(SPECIALTIES[el])
        r = rand()
        employer = (
            choice(UNIVERSITIES)
            if r < 0.3
            else choice(PROVINCIAL_ORGS)
            if r < 0.5
            else inst_refs[rr(len(inst_refs))][1]
            if inst_refs
            else choice(PROVINCIAL_ORGS)
        )
        title = choice(TITLES)
        u, ums = upd()
        eid = new_id(rng, ums)
        rows.append(
            (
                eid,
                name,
                py,
                ini,
                None,  # haystack: searchtext.prepare
                None,  # haystack_py: searchtext.prepare
                city,
                _elements_json(exp_els),
                1,
                0,
                0,
                u,
                "男" if rand() < 0.62 else "女",
                title,
                employer,
                spec,
                mobile(rng)[1],
                None,
                0,
            )
        )
        refs["expert"].append((eid, name))
        if len(rows) >= CHUNK:
            w.write("expert", EXPERT_COLUMNS, rows)
            rows = []
            if progress:
                progress("experts", i + 1, counts["expert"])
    w.write("expert", EXPERT_COLUMNS, rows)
    if progress:
        progress("experts", counts["expert"], counts["expert"])
    rows = []
    for i in range(counts["equipment"]):
        ename, mprefix, els, unit, (lo, hi) = EQUIPMENT[rr(len(EQUIPMENT))]
        if inst_refs:
            inst_id, _, city, short = inst_refs[rr(len(inst_refs))]
        else:
            inst_id, city, short = None, rng.choices(cities, weights=cweights)[0], ""
        model = f"{mprefix}{rr(100, 9999)}"
        py, ini = pc.join(ename)
        shared = rand() < 0.7
        fee = rr(lo, hi + 1) // 10 * 10
        desc = f"{short}{ename}，{'对外共享' if shared else '仅内部使用'}，按{'小时' if unit == 'hour' else '样品'}计费"
        u, ums = upd()
        qid = new_id(rng, ums)
        rows.append(
            (
                qid,
                ename,
                py,
                ini,
                None,  # haystack: searchtext.prepare
                None,  # haystack_py: searchtext.prepare
                city,
                json.dumps(list(els)),
                1,
                0,
                0,
                u,
                model,
                inst_id,
                int(shared),
                fee,
                unit,
                desc,
            )
        )
        refs["equipment"].append((qid, ename))
        if len(rows) >= CHUNK:
            w.write("equipment", EQUIPMENT_COLUMNS, rows)
            rows = []
            if progress:
                progress("equipment", i + 1, counts["equipment"])
    w.write("equipment", EQUIPMENT_COLUMNS, rows)
    if progress:
        progress("equipment", counts["equipment"], counts["equipment"])
    rows = []
    year_now = (_EPOCH + timedelta(days=today)).year
    for _ in range(counts["project"]):
        city = rng.choices(cities, weights=cweights)[0]
        cs = city_short(city)
        ind = choice(PROJECT_INDUSTRIES)
        ptype, els = PROJECT_TYPES[rr(len(PROJECT_TYPES))]
        name = f"{cs}{ind}{ptype}"
        py, ini = pc.join(cs, ind, ptype)
        lead = inst_refs[rr(len(inst_refs))][1] if inst_refs and rand() < 0.6 else f"{cs}市市场监督管理局"
        desc = f"面向{cs}{ind}产业集群，开展{ptype.removesuffix('项目')}相关服务"
        u, ums = upd()
        pid = new_id(rng, ums)
        rows.append(
            (
                pid,
                name,
                py,
                ini,
                None,  # haystack: searchtext.prepare
                None,  # haystack_py: searchtext.prepare
                city,
                json.dumps(list(els)),
                1,
                0,
                0,
                u,
                year_now - rr(0, 6),
                lead,
                choice(PROJECT_STATUSES),
                desc,
            )
        )
        refs["project"].append((pid, name))
        if len(rows) >= CHUNK:
            w.write("project", PROJECT_COLUMNS, rows)
            rows = []
    w.write("project", PROJECT_COLUMNS, rows)
    w.drain()
    if progress:
        progress("projects", counts["project"], counts["project"])
    return refs


def gen_enterprises(
    conn: sqlite3.Connection,
    rng: random.Random,
    n: int,
    now_ms: int,
    pc: PinyinCache,
    station_code: str,
    pool: Any = None,
) -> list[EntRef]:
    w = LibraryWriter(conn, pool)
    used = {r[0] for r in conn.execute("SELECT uscc FROM enterprise")}
    rr, rand, choice = rng.randrange, rng.random, rng.choice
    rows: list[tuple[Any, ...]] = []
    out: list[EntRef] = []
    cities = list(CITY_WEIGHTS)
    cweights = list(CITY_WEIGHTS.values())
    ind_elements = industry_elements()
    for _ in range(n):
        r = rand()
        if r < 0.02:  # a USCC issued in 莱芜 before 2019: the place is 济南 today
            region, county = choice(LAIWU_COUNTIES)
            place = "莱芜"
        else:
            c = rng.choices(cities, weights=cweights)[0]
            region, county = choice(places.COUNTIES[c]) if rand() < 0.85 else (c, places.CITIES[c])
            place = county_short(county) if rand() < 0.5 else city_short(c)
        county_code, city = places.location(None, region)
        word, industry = ENT_INDUSTRIES[rr(len(ENT_INDUSTRIES))]
        brand = choice(ENT_BRAND_A) + choice(ENT_BRAND_B)
        if rand() < 0.04:  # GB 32100: 9 (工商) + 3 (农民专业合作社)
            prefix, name_parts = "93", (place, brand, COOP_WORDS[rr(len(COOP_WORDS))], "专业合作社")
            industry = "农民专业合作社"
        else:
            prefix, otype = "91", choice(ENT_ORGTYPES)
            name_parts = (place, brand, word, otype)
        name = "".join(name_parts)
        while True:
            uscc = make_uscc(rng, region, prefix)
            if uscc not in used:
                used.add(uscc)
                break
        py, ini = pc.join(*name_parts)
        ms = now_ms - rr(3 * 365 * DAY_MS, 6 * 365 * DAY_MS)
        eid = new_id(rng, ms)
        contact, _, _ = person_name(rng, pc)
        e164, disp = mobile(rng) if rand() < 0.7 or city is None else landline(rng, city)
        ts = fmt_ms(ms)
        rows.append(
            (
                eid,
                name,
                uscc,
                region,
                city,
                county_code,
                industry,
                rng.choices(SCALES, weights=SCALE_WEIGHTS)[0],
                contact,
                e164,
                disp,
                py,
                ini,
                None,  # haystack: searchtext.prepare
                None,  # haystack_py: searchtext.prepare
                "[]",
                station_code,
                1,
                0,
                0,
                ts,
                ts,
            )
        )
        out.append(EntRef(eid, contact, e164, disp, ind_elements[word]))
        if len(rows) >= CHUNK:
            w.write("enterprise", ENTERPRISE_COLUMNS, rows)
            rows = []
    w.write("enterprise", ENTERPRISE_COLUMNS, rows)
    w.drain()
    return out
