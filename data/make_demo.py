"""Write the demo library and enterprises to data/demo/*.json (deterministic; run from anywhere).

    python data/make_demo.py

Everything is fictional but plausible Shandong data: names are composed from the vocabulary in
``qi_station.devtools.generate`` (its vocabulary, places and field helpers) plus hand-written rows that exercise search edge cases (济南 / 济宁 share
the initials "jn"; 单县 shan, 费县 bi, 乐陵 lao, 长清 chang; surnames 曾 zeng and 单 shan; historic
莱芜 371200 USCCs, placed in 济南 today; GB 32100 prefixes other than 91: 93… farmers' cooperatives,
81… a trade union).

Ids are uuid5 of a fixed namespace and a row key (``qi_station.core.ids.demo_id``), so they never
change between runs.
Certificate expiries are stored as day offsets (``cma_expiry_days``, ``cnas_expiry_days``)
relative to the day the demo is loaded: ``qi_station.devtools.demo.load_demo`` turns them into dates, so
"expiring within 90 days" and "expired" stay true whenever the demo is loaded.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from qi_station.core import domain  # noqa: E402
from qi_station.core import places as core_places  # noqa: E402
from qi_station.core.ids import demo_id  # noqa: E402
from qi_station.core.validate import uscc_check_char, validate_uscc  # noqa: E402
from qi_station.devtools.generate import fields, places, vocab  # noqa: E402

OUT = HERE / "demo"
SEED = 20211


def sid(kind: str, key: str) -> str:
    return demo_id(kind, key)


def uscc(rng: random.Random, region: str, prefix: str = "91") -> str:
    return fields.make_uscc(rng, region, prefix)


# ---- hand-written edge cases --------------------------------------------------------------------
EDGE_INSTITUTIONS = [
    # name, short, city, county region, field index (vocab.INST_FIELDS), expiry offsets (cma, cnas)
    ("济南泉正检验检测有限公司", "泉正检测", "370100", "370102", 0, (45, 400)),
    ("济宁鲁正检验检测有限公司", "鲁正检测", "370800", "370811", 0, (700, 30)),
    ("济南长清计量检测中心", "长清计量", "370100", "370113", 1, (-20, None)),
    ("济宁市计量校准技术有限公司", "济宁计量", "370800", "370881", 5, (600, 88)),
    ("单县产品质量检验中心", "单县质检", "371700", "371722", 2, (10, None)),
    ("费县质量技术服务中心", "费县质服", "371300", "371325", 7, (-3, None)),
    ("乐陵市食品检测有限公司", "乐陵食检", "371400", "371481", 12, (1200, -40)),
    ("青岛琴岛检测认证有限公司", "琴岛认证", "370200", "370212", 6, (900, 1100)),
    ("淄博齐信特种设备检测有限公司", "齐信特检", "370300", "370303", 10, (365, 75)),
    ("莱芜钢城材料检验检测有限公司", "钢城检测", "370100", "371203", 0, (500, 500)),
    ("烟台海岱标准化服务有限公司", "海岱标准", "370600", "370602", 4, (None, None)),
    ("潍坊恒信知识产权服务有限公司", "恒信知产", "370700", "370705", 8, (None, None)),
    ("临沂正和品牌管理咨询有限公司", "正和品牌", "371300", "371302", 9, (None, None)),
]
EDGE_EXPERTS = [
    # name, gender, city, element, specialty
    ("曾庆华", "男", "370100", "metrology", "压力计量"),
    ("曾晓燕", "女", "370800", "testing", "食品检测"),
    ("单立新", "男", "371700", "quality", "QC小组活动"),
    ("单雪梅", "女", "370100", "standards", "团体标准制定"),
    ("乐晓东", "男", "371400", "brand", "区域公用品牌建设"),
    ("解建国", "男", "370200", "certification", "质量管理体系认证"),
    ("翟明远", "男", "370300", "safety", "特种设备安全"),
    ("仇海燕", "女", "370600", "ip", "专利申请与布局"),
    ("盖立峰", "男", "370700", "testing", "材料力学性能测试"),
    ("查文静", "女", "370900", "metrology", "能源计量"),
    ("朴春花", "女", "371000", "brand", "品牌战略策划"),
    ("王济南", "男", "370800", "standards", "标准化管理"),  # a person whose name contains 济南
]
EDGE_ENTERPRISES = [
    # name, prefix, region, industry, scale, elements
    ("单县华丰食品有限公司", "91", "371722", "食品制造", "中型", ("testing", "safety")),
    ("单县浮龙湖果蔬种植专业合作社", "93", "371722", "农民专业合作社", "微型", ("standards", "brand")),
    ("费县鲁源木业有限公司", "91", "371325", "木材加工", "中型", ("testing", "certification")),
    ("费县蒙山果品专业合作社", "93", "371325", "农民专业合作社", "小型", ("brand", "standards")),
    ("乐陵市金枣食品有限公司", "91", "371481", "食品制造", "小型", ("testing", "brand")),
    ("乐陵泰和调味品有限公司", "91", "371481", "食品制造", "中型", ("testing", "standards")),
    ("济南长清鑫源机械有限公司", "91", "370113", "通用设备制造", "小型", ("metrology", "quality")),
    ("济南长清大学城电子科技有限公司", "91", "370113", "计算机、通信和其他电子设备制造", "微型", ("ip",)),
    (
        "济南历下华信电子有限公司",
        "91",
        "370102",
        "计算机、通信和其他电子设备制造",
        "中型",
        ("ip", "certification"),
    ),
    ("济南华信电子有限公司工会委员会", "81", "370102", "工会", "微型", ("quality",)),
    ("济宁任城宏达纺织有限公司", "91", "370811", "纺织业", "大型", ("testing", "standards")),
    ("济宁曲阜孔府印刷包装有限公司", "91", "370881", "印刷和记录媒介复制", "小型", ("quality", "brand")),
    (
        "莱芜钢城恒通钢铁制品有限公司",
        "91",
        "371203",
        "黑色金属冶炼和压延加工",
        "大型",
        ("metrology", "testing"),
    ),
    ("莱芜莱城嘉禾农业科技有限公司", "91", "371202", "农副食品加工", "小型", ("standards", "brand")),
    ("莱芜市瑞达机械有限公司", "91", "371200", "通用设备制造", "中型", ("metrology",)),
    ("长清区文昌山泉饮品有限公司", "91", "370113", "食品制造", "小型", ("testing", "safety")),
    ("山东省鲁信新材料股份有限公司", "91", "370000", "新材料", "大型", ("standards", "ip")),
    ("曾氏精密仪器（青岛）有限公司", "91", "370211", "仪器仪表制造", "中型", ("metrology",)),
]
EDGE_PROJECTS = [
    ("济南市新材料产业质量提升项目", "370100", ("quality",)),
    ("济宁市纺织服装产业质量提升项目", "370800", ("quality", "testing")),
    ("单县食品产业计量服务中小企业行动", "371700", ("metrology",)),
    ("费县木业标准化试点项目", "371300", ("standards",)),
    ("乐陵小枣区域公用品牌培育工程", "371400", ("brand",)),
    ("长清区质量基础设施一站式服务项目", "370100", ("standards", "metrology", "testing", "certification")),
    ("莱芜钢城钢铁产业检验检测公共服务平台", "370100", ("testing",)),
]


def expiry_offset(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.15:
        return rng.randint(1, 89)  # expiring within 90 days
    if r < 0.23:
        return -rng.randint(1, 300)  # expired
    return rng.randint(120, 1800)


def build() -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(SEED)
    pc = None  # pinyin is computed at load time, not stored
    del pc
    used_uscc: set[str] = set()

    def new_uscc(region: str, prefix: str = "91") -> str:
        while True:
            c = uscc(rng, region, prefix)
            if c not in used_uscc:
                used_uscc.add(c)
                return c

    def person() -> str:
        sur = vocab.SURNAMES[rng.randrange(len(vocab.SURNAMES))]
        return sur + "".join(rng.choice(vocab.GIVEN_CHARS) for _ in range(1 if rng.random() < 0.3 else 2))

    # institutions ---------------------------------------------------------------------------
    institutions: list[dict[str, Any]] = []
    names: set[str] = set()

    def add_inst(
        name: str,
        short: str,
        city: str,
        region: str,
        fidx: int,
        cma: int | None,
        cnas: int | None,
        has_cma: bool = True,
        has_cnas: bool = True,
    ) -> None:
        fname, els, scope = vocab.INST_FIELDS[fidx]
        county = core_places.COUNTY_NAMES.get(core_places.current_code(region) or "", "")
        institutions.append(
            {
                "id": sid("institution", name),
                "name": name,
                "short_name": short,
                "uscc": new_uscc(region),
                "city_code": city,
                "elements": list(els),
                "cma_no": f"{rng.randint(18, 25):02d}15{rng.randrange(10**6):06d}{rng.randrange(100):02d}"
                if has_cma
                else None,
                "cma_expiry_days": cma if has_cma else None,
                "cnas_no": f"CNAS L{rng.randint(1000, 19999)}" if has_cnas else None,
                "cnas_expiry_days": cnas if has_cnas else None,
                "scope": scope,
                "address": f"山东省{core_places.CITIES[city]}{county}{rng.choice('经纬')}{rng.randint(1, 30)}路{rng.randint(1, 999)}号",
                "contact": person(),
                "phone": fields.landline(rng, city)[1],
            }
        )
        names.add(name)

    for name, short, city, region, fidx, (cma, cnas) in EDGE_INSTITUTIONS:
        add_inst(name, short, city, region, fidx, cma, cnas, cma is not None, cnas is not None)
    cities = list(places.CITY_WEIGHTS)
    weights = list(places.CITY_WEIGHTS.values())
    while len(institutions) < 130:
        city = rng.choices(cities, weights=weights)[0]
        region = rng.choice(core_places.COUNTIES[city])[0]
        brand = rng.choice(vocab.INST_BRAND_A) + rng.choice(vocab.INST_BRAND_B)
        fidx = rng.randrange(len(vocab.INST_FIELDS))
        fname = vocab.INST_FIELDS[fidx][0]
        name = f"{places.city_short(city)}{brand}{fname}{rng.choice(vocab.INST_ORGTYPES)}"
        if name in names:
            continue
        testing_like = fidx not in (3, 4, 8, 9)
        add_inst(
            name,
            f"{brand}{fname[:2]}",
            city,
            region,
            fidx,
            expiry_offset(rng),
            expiry_offset(rng),
            has_cma=testing_like and rng.random() < 0.95,
            has_cnas=testing_like and rng.random() < 0.6,
        )

    # experts --------------------------------------------------------------------------------
    experts: list[dict[str, Any]] = []
    employers = [i["name"] for i in institutions] + list(vocab.UNIVERSITIES) + list(vocab.PROVINCIAL_ORGS)

    def add_expert(name: str, gender: str, city: str, els: list[str], specialty: str) -> None:
        experts.append(
            {
                "id": sid("expert", f"{len(experts):04d}:{name}"),
                "name": name,
                "gender": gender,
                "title": rng.choice(vocab.TITLES),
                "employer": rng.choice(employers),
                "city_code": city,
                "elements": els,
                "specialty": specialty,
                "phone": fields.mobile(rng)[1],
            }
        )

    for name, gender, city, el, spec in EDGE_EXPERTS:
        add_expert(name, gender, city, [el], spec)
    el_codes = list(vocab.SPECIALTIES)
    while len(experts) < 320:
        el = rng.choice(el_codes)
        els = [el] + ([e] if (e := rng.choice(el_codes)) != el and rng.random() < 0.4 else [])
        add_expert(
            person(),
            "男" if rng.random() < 0.62 else "女",
            rng.choices(cities, weights=weights)[0],
            els,
            rng.choice(vocab.SPECIALTIES[el]),
        )

    # equipment ------------------------------------------------------------------------------
    equipment: list[dict[str, Any]] = []
    testing_insts = [i for i in institutions if set(i["elements"]) & {"testing", "metrology", "safety"}]
    for n in range(220):
        ename, mprefix, els, unit, (lo, hi) = (
            vocab.EQUIPMENT[n % len(vocab.EQUIPMENT)]
            if n < len(vocab.EQUIPMENT)
            else rng.choice(vocab.EQUIPMENT)
        )
        inst = rng.choice(testing_insts)
        shared = rng.random() < 0.7
        model = f"{mprefix}{rng.randint(100, 9999)}"
        equipment.append(
            {
                "id": sid("equipment", f"{n:04d}"),
                "name": ename,
                "model": model,
                "institution_id": inst["id"],
                "city_code": inst["city_code"],
                "elements": list(els),
                "shared": shared,
                "fee": rng.randint(lo, hi) // 10 * 10,
                "fee_unit": unit,
                "description": f"{inst['short_name']}{ename}，{'对外共享' if shared else '仅内部使用'}，"
                f"按{'小时' if unit == 'hour' else '样品'}计费",
            }
        )

    # projects -------------------------------------------------------------------------------
    projects: list[dict[str, Any]] = []
    pnames: set[str] = set()

    def add_project(name: str, city: str, els: list[str]) -> None:
        ind = next((w for w in vocab.PROJECT_INDUSTRIES if w in name), "制造业")
        lead = rng.choice(
            [i["name"] for i in institutions if i["city_code"] == city]
            or [f"{places.city_short(city)}市市场监督管理局"]
        )
        projects.append(
            {
                "id": sid("project", name),
                "name": name,
                "city_code": city,
                "elements": els,
                "year": rng.randint(2020, 2026),
                "lead": lead if rng.random() < 0.6 else f"{places.city_short(city)}市市场监督管理局",
                "status": rng.choice(vocab.PROJECT_STATUSES),
                "description": f"面向{places.city_short(city)}{ind}企业，开展质量基础设施“一站式”服务",
            }
        )
        pnames.add(name)

    for name, city, els in EDGE_PROJECTS:
        add_project(name, city, list(els))
    while len(projects) < 48:
        city = rng.choices(cities, weights=weights)[0]
        ptype, els = rng.choice(vocab.PROJECT_TYPES)
        name = f"{places.city_short(city)}{rng.choice(vocab.PROJECT_INDUSTRIES)}{ptype}"
        if name not in pnames:
            add_project(name, city, list(els))

    # enterprises ----------------------------------------------------------------------------
    enterprises: list[dict[str, Any]] = []
    enames: set[str] = set()

    def add_ent(name: str, prefix: str, region: str, industry: str, scale: str, els: list[str]) -> None:
        city = core_places.city_of(region) or "370100"
        laiwu = region.startswith("3712")  # a mobile, as before 0531 took over 0634
        phone = fields.mobile(rng)[1] if rng.random() < 0.7 or laiwu else fields.landline(rng, city)[1]
        enterprises.append(
            {
                "id": sid("enterprise", name),
                "name": name,
                "uscc": new_uscc(region, prefix),
                "industry": industry,
                "scale": scale,
                "elements": els,
                "contact_name": person(),
                "phone": phone,
            }
        )
        enames.add(name)

    for name, prefix, region, industry, scale, els in EDGE_ENTERPRISES:
        add_ent(name, prefix, region, industry, scale, list(els))
    ind_elements = {w: list(els) for w, els in vocab.industry_elements().items()}
    while len(enterprises) < 170:
        city = "371200" if rng.random() < 0.03 else rng.choices(cities, weights=weights)[0]
        region, county = rng.choice(places.LAIWU_COUNTIES if city == "371200" else core_places.COUNTIES[city])
        word, industry = rng.choice(vocab.ENT_INDUSTRIES)
        brand = rng.choice(vocab.ENT_BRAND_A) + rng.choice(vocab.ENT_BRAND_B)
        place = (
            "莱芜"
            if city == "371200"
            else (places.county_short(county) if rng.random() < 0.5 else places.city_short(city))
        )
        if rng.random() < 0.05:
            name, prefix, industry = (
                f"{place}{brand}{rng.choice(vocab.COOP_WORDS)}专业合作社",
                "93",
                "农民专业合作社",
            )
        else:
            name, prefix = f"{place}{brand}{word}{rng.choice(vocab.ENT_ORGTYPES)}", "91"
        if name in enames:
            continue
        add_ent(
            name,
            prefix,
            region,
            industry,
            rng.choices(vocab.SCALES, weights=vocab.SCALE_WEIGHTS)[0],
            ind_elements[word],
        )
    return {
        "experts": experts,
        "institutions": institutions,
        "equipment": equipment,
        "projects": projects,
        "enterprises": enterprises,
    }


def check(data: dict[str, list[dict[str, Any]]]) -> None:
    import phonenumbers

    for kind, rows in data.items():
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)), f"duplicate ids in {kind}"
        for r in rows:
            for e in r.get("elements", []):
                assert e in domain.ELEMENTS, (kind, e)
            if r.get("uscc"):
                assert validate_uscc(r["uscc"]) == r["uscc"]
                assert uscc_check_char(r["uscc"][:17]) == r["uscc"][17]
            if r.get("phone"):
                n = phonenumbers.parse(r["phone"].replace(" ", ""), "CN")
                assert phonenumbers.is_valid_number(n), (kind, r["name"], r["phone"])
    inst_ids = {r["id"] for r in data["institutions"]}
    assert all(e["institution_id"] in inst_ids for e in data["equipment"])


def main() -> None:
    data = build()
    check(data)
    OUT.mkdir(parents=True, exist_ok=True)
    for kind, rows in data.items():
        with open(OUT / f"{kind}.json", "w", encoding="utf-8", newline="\n") as f:
            json.dump(rows, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"{kind}: {len(rows)}")


if __name__ == "__main__":
    main()
