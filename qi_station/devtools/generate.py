"""Synthetic station data at any scale: ``qi-station generate --requests N --library N [--seed S]``.

Deterministic: the same seed (and the same ``now`` anchor, which defaults to the current minute)
on the same starting database gives the same rows, ids included — ids are UUIDv7-shaped, their
48-bit time field taken from the row's own synthetic time and their random bits from the seeded RNG.

Fast: rows are composed from parts whose pinyin is computed once per part (pypinyin is called a
few hundred times, not once per row), timestamps are formatted from integers, event hashes are
built from a hand-written JSON payload identical to ``ledger.event_hash``'s, and everything goes
in through ``executemany`` in chunks inside ONE transaction with secondary indexes dropped and
recreated (a crash leaves the database as it was). ``PRAGMA synchronous=OFF`` is used for that
transaction only.

Generated (and demo) rows are NOT written to the outbox: they are local test data, not station
changes to be pushed to the hub.

The request synthesiser here is shared with :mod:`qi_station.services.demo`.
"""

from __future__ import annotations

import json
import math
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

from qi_station.core import domain
from qi_station.core.chain import GENESIS
from qi_station.core.ids import uuid7 as uuid7_from
from qi_station.core.validate import USCC_ALPHABET, uscc_check_char

Progress = Callable[[str, int, int], None]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
LOCAL_OFFSET_MS = 8 * HOUR_MS  # Asia/Shanghai has no DST since 1991
CHUNK = 20_000

# ---- vocabulary ------------------------------------------------------------------------------
# GB/T 2260 county-level codes per Shandong city (a representative subset).
COUNTIES: dict[str, tuple[tuple[str, str], ...]] = {
    "370100": (
        ("370102", "历下区"),
        ("370103", "市中区"),
        ("370104", "槐荫区"),
        ("370105", "天桥区"),
        ("370112", "历城区"),
        ("370113", "长清区"),
        ("370114", "章丘区"),
        ("370124", "平阴县"),
        ("370126", "商河县"),
    ),
    "370200": (
        ("370202", "市南区"),
        ("370203", "市北区"),
        ("370211", "黄岛区"),
        ("370212", "崂山区"),
        ("370213", "李沧区"),
        ("370214", "城阳区"),
        ("370215", "即墨区"),
        ("370281", "胶州市"),
        ("370283", "平度市"),
        ("370285", "莱西市"),
    ),
    "370300": (
        ("370302", "淄川区"),
        ("370303", "张店区"),
        ("370304", "博山区"),
        ("370305", "临淄区"),
        ("370306", "周村区"),
        ("370321", "桓台县"),
        ("370322", "高青县"),
        ("370323", "沂源县"),
    ),
    "370400": (
        ("370402", "市中区"),
        ("370403", "薛城区"),
        ("370404", "峄城区"),
        ("370405", "台儿庄区"),
        ("370406", "山亭区"),
        ("370481", "滕州市"),
    ),
    "370500": (
        ("370502", "东营区"),
        ("370503", "河口区"),
        ("370505", "垦利区"),
        ("370522", "利津县"),
        ("370523", "广饶县"),
    ),
    "370600": (
        ("370602", "芝罘区"),
        ("370611", "福山区"),
        ("370612", "牟平区"),
        ("370613", "莱山区"),
        ("370614", "蓬莱区"),
        ("370681", "龙口市"),
        ("370682", "莱阳市"),
        ("370683", "莱州市"),
        ("370685", "招远市"),
        ("370686", "栖霞市"),
        ("370687", "海阳市"),
    ),
    "370700": (
        ("370702", "潍城区"),
        ("370703", "寒亭区"),
        ("370704", "坊子区"),
        ("370705", "奎文区"),
        ("370724", "临朐县"),
        ("370725", "昌乐县"),
        ("370781", "青州市"),
        ("370782", "诸城市"),
        ("370783", "寿光市"),
        ("370784", "安丘市"),
        ("370785", "高密市"),
        ("370786", "昌邑市"),
    ),
    "370800": (
        ("370811", "任城区"),
        ("370812", "兖州区"),
        ("370826", "微山县"),
        ("370827", "鱼台县"),
        ("370828", "金乡县"),
        ("370829", "嘉祥县"),
        ("370830", "汶上县"),
        ("370831", "泗水县"),
        ("370832", "梁山县"),
        ("370881", "曲阜市"),
        ("370883", "邹城市"),
    ),
    "370900": (
        ("370902", "泰山区"),
        ("370911", "岱岳区"),
        ("370921", "宁阳县"),
        ("370923", "东平县"),
        ("370982", "新泰市"),
        ("370983", "肥城市"),
    ),
    "371000": (("371002", "环翠区"), ("371003", "文登区"), ("371082", "荣成市"), ("371083", "乳山市")),
    "371100": (("371102", "东港区"), ("371103", "岚山区"), ("371121", "五莲县"), ("371122", "莒县")),
    "371200": (("371202", "莱城区"), ("371203", "钢城区")),  # historic Laiwu
    "371300": (
        ("371302", "兰山区"),
        ("371311", "罗庄区"),
        ("371312", "河东区"),
        ("371321", "沂南县"),
        ("371322", "郯城县"),
        ("371323", "沂水县"),
        ("371324", "兰陵县"),
        ("371325", "费县"),
        ("371326", "平邑县"),
        ("371327", "莒南县"),
        ("371328", "蒙阴县"),
        ("371329", "临沭县"),
    ),
    "371400": (
        ("371402", "德城区"),
        ("371403", "陵城区"),
        ("371422", "宁津县"),
        ("371423", "庆云县"),
        ("371424", "临邑县"),
        ("371425", "齐河县"),
        ("371426", "平原县"),
        ("371427", "夏津县"),
        ("371428", "武城县"),
        ("371481", "乐陵市"),
        ("371482", "禹城市"),
    ),
    "371500": (
        ("371502", "东昌府区"),
        ("371503", "茌平区"),
        ("371521", "阳谷县"),
        ("371522", "莘县"),
        ("371524", "东阿县"),
        ("371525", "冠县"),
        ("371526", "高唐县"),
        ("371581", "临清市"),
    ),
    "371600": (
        ("371602", "滨城区"),
        ("371603", "沾化区"),
        ("371621", "惠民县"),
        ("371622", "阳信县"),
        ("371623", "无棣县"),
        ("371625", "博兴县"),
        ("371681", "邹平市"),
    ),
    "371700": (
        ("371702", "牡丹区"),
        ("371703", "定陶区"),
        ("371721", "曹县"),
        ("371722", "单县"),
        ("371723", "成武县"),
        ("371724", "巨野县"),
        ("371725", "郓城县"),
        ("371726", "鄄城县"),
        ("371728", "东明县"),
    ),
}
CURRENT_CITIES = tuple(c for c in domain.CITIES if c not in domain.HISTORIC_CITIES)
# Rough weights by economic size (more rows in 济南/青岛/烟台/潍坊).
CITY_WEIGHTS = {
    "370100": 14,
    "370200": 14,
    "370300": 7,
    "370400": 4,
    "370500": 5,
    "370600": 9,
    "370700": 9,
    "370800": 7,
    "370900": 5,
    "371000": 4,
    "371100": 3,
    "371300": 7,
    "371400": 5,
    "371500": 4,
    "371600": 4,
    "371700": 5,
}


def city_short(city_code: str) -> str:
    return domain.CITIES[city_code].removesuffix("市")


def county_short(name: str) -> str:
    """'长清区' -> '长清', '单县' stays '单县' (one-character stems keep the suffix)."""
    return name[:-1] if len(name) > 2 else name


SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶"
    "阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段钱汤尹易常武乔贺"
    "龚文单解翟盖颜仇"
)
GIVEN_CHARS = (
    "明华强伟芳娜敏静丽军磊洋勇艳杰涛超刚平辉鹏霞燕玲红建国文志海波宁峰雪晨阳斌凯琳颖婷浩宇鑫欣然"
    "博帆昊睿泽晓立新春秋东兴振庆德胜利祥瑞健丹蕾佳慧琪璐倩楠亮晶岩松梅兰竹菊玉金永安民福庆利"
)
TITLES = (
    "正高级工程师",
    "高级工程师",
    "工程师",
    "研究员",
    "副研究员",
    "教授",
    "副教授",
    "高级经济师",
    "高级质量师",
    "注册计量师",
    "高级审核员",
)
UNIVERSITIES = (
    "山东大学",
    "中国海洋大学",
    "中国石油大学（华东）",
    "青岛科技大学",
    "山东理工大学",
    "济南大学",
    "山东科技大学",
    "青岛大学",
    "齐鲁工业大学",
    "山东农业大学",
    "曲阜师范大学",
    "烟台大学",
    "山东建筑大学",
    "潍坊学院",
    "临沂大学",
    "聊城大学",
)
PROVINCIAL_ORGS = (
    "山东省计量科学研究院",
    "山东省标准化研究院",
    "山东省产品质量检验研究院",
    "山东省特种设备检验研究院",
    "山东省纤维质量监测中心",
    "山东省食品药品检验研究院",
    "山东省质量评价协会",
    "山东省知识产权保护中心",
    "山东省市场监督管理局质量发展处",
)
SPECIALTIES: dict[str, tuple[str, ...]] = {
    "standards": ("标准化管理", "团体标准制定", "企业标准体系建设", "标准比对与国际标准", "农业标准化"),
    "metrology": ("压力计量", "长度计量", "热工计量", "电学计量", "流量计量", "能源计量", "化学计量"),
    "testing": (
        "食品检测",
        "材料力学性能测试",
        "电磁兼容检测",
        "化学成分分析",
        "无损检测",
        "环境检测",
        "纺织品检验",
        "橡胶轮胎检测",
    ),
    "certification": (
        "质量管理体系认证",
        "CCC强制性产品认证",
        "绿色产品认证",
        "环境管理体系审核",
        "食品安全管理体系认证",
        "能源管理体系认证",
    ),
    "quality": ("卓越绩效管理", "六西格玛", "QC小组活动", "精益生产", "首席质量官培训", "质量成本分析"),
    "brand": ("品牌战略策划", "好品山东品牌培育", "区域公用品牌建设", "品牌价值评价"),
    "ip": ("专利申请与布局", "商标注册与保护", "知识产权质押融资", "专利导航", "地理标志保护"),
    "safety": ("特种设备安全", "产品质量安全风险监测", "电梯安全", "压力容器检验", "危化品包装安全"),
}
INST_BRAND_A = "华鲁齐泰恒正诚中金宏盛远天安瑞嘉信博通科海岱泉琴东"
INST_BRAND_B = "正信达源泰安诚测检科创通宇盛润德实标衡准"
INST_FIELDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # (name part, elements, scope)
    ("检验检测", ("testing",), "食品、建材、机电产品检验检测"),
    ("计量检测", ("metrology", "testing"), "长度、热工、力学、电学计量器具检定校准"),
    ("质量检验", ("testing", "safety"), "工业产品质量检验、产品质量安全风险监测"),
    ("认证", ("certification",), "质量、环境、职业健康安全管理体系认证"),
    ("标准化服务", ("standards",), "标准制修订咨询、标准信息服务、企业标准体系建设"),
    ("计量校准", ("metrology",), "计量器具校准、测量不确定度评定"),
    ("检测认证", ("testing", "certification"), "产品检测与认证、CCC认证检测"),
    ("质量技术服务", ("quality", "testing"), "质量管理咨询、质量技术帮扶"),
    ("知识产权服务", ("ip",), "专利代理、商标代理、知识产权运营"),
    ("品牌管理咨询", ("brand", "quality"), "品牌策划、品牌价值评价"),
    ("特种设备检测", ("safety", "testing"), "锅炉、压力容器、电梯、起重机械检验检测"),
    ("环境检测", ("testing",), "水质、大气、土壤、噪声检测"),
    ("食品检测", ("testing", "safety"), "食品及农产品检验检测"),
    ("纤维检验", ("testing",), "纺织纤维及制品检验"),
)
INST_ORGTYPES = ("有限公司", "技术有限公司", "股份有限公司", "中心", "研究院")
EQUIPMENT: tuple[tuple[str, str, tuple[str, ...], str, tuple[int, int]], ...] = (
    # (name, model prefix, elements, fee unit, fee range yuan)
    ("扫描电子显微镜", "SEM-", ("testing",), "hour", (300, 800)),
    ("电感耦合等离子体质谱仪", "ICP-MS ", ("testing",), "sample", (200, 600)),
    ("气相色谱-质谱联用仪", "GCMS-QP", ("testing",), "sample", (150, 500)),
    ("高效液相色谱仪", "HPLC-", ("testing",), "sample", (80, 300)),
    ("X射线荧光光谱仪", "XRF-", ("testing",), "sample", (100, 300)),
    ("原子吸收分光光度计", "AAS-", ("testing",), "sample", (60, 200)),
    ("傅里叶变换红外光谱仪", "FTIR-", ("testing",), "sample", (80, 250)),
    ("三坐标测量机", "CMM ", ("metrology",), "hour", (200, 600)),
    ("激光跟踪仪", "AT", ("metrology",), "hour", (300, 900)),
    ("压力计量标准装置", "YJB-", ("metrology",), "sample", (50, 200)),
    ("电能表检定装置", "DJB-", ("metrology",), "sample", (30, 120)),
    ("万能材料试验机", "WDW-", ("testing",), "sample", (50, 300)),
    ("高低温交变湿热试验箱", "GDJS-", ("testing",), "hour", (40, 150)),
    ("盐雾试验箱", "YWX-", ("testing",), "hour", (20, 80)),
    ("电磁兼容测试系统", "EMC-", ("testing", "certification"), "hour", (800, 2500)),
    ("振动试验台", "DC-", ("testing",), "hour", (200, 600)),
    ("工业CT检测系统", "CT-", ("testing",), "hour", (600, 2000)),
    ("激光粒度分析仪", "LS-", ("testing",), "sample", (60, 200)),
    ("能效测试平台", "NX-", ("testing", "certification"), "sample", (500, 3000)),
    ("无损探伤仪", "UT-", ("testing", "safety"), "hour", (100, 400)),
    ("电梯限速器测试仪", "XSQ-", ("safety",), "sample", (80, 300)),
    ("轮胎耐久性试验机", "LT-", ("testing",), "sample", (300, 1200)),
    ("纺织品色牢度测试仪", "FB-", ("testing",), "sample", (30, 100)),
    ("核磁共振波谱仪", "NMR-", ("testing",), "hour", (500, 1500)),
)
PROJECT_INDUSTRIES = (
    "新材料",
    "高端装备",
    "食品加工",
    "纺织服装",
    "轮胎橡胶",
    "化工",
    "医药",
    "家电",
    "汽车零部件",
    "海洋渔业",
    "果蔬农产品",
    "建材",
    "电子信息",
    "造纸",
)
PROJECT_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("产业质量提升项目", ("quality",)),
    ("标准化试点项目", ("standards",)),
    ("计量服务中小企业行动", ("metrology",)),
    ("检验检测公共服务平台", ("testing",)),
    ("质量基础设施一站式服务项目", ("standards", "metrology", "testing", "certification")),
    ("品牌培育工程", ("brand",)),
    ("知识产权运营服务项目", ("ip",)),
    ("质量安全监管能力提升项目", ("safety",)),
    ("认证认可示范项目", ("certification",)),
)
PROJECT_STATUSES = ("申报中", "实施中", "已验收", "在建")
ENT_INDUSTRIES: tuple[tuple[str, str], ...] = (
    # (name word, industry)
    ("食品", "食品制造"),
    ("机械", "通用设备制造"),
    ("化工", "化学原料和化学制品制造"),
    ("纺织", "纺织业"),
    ("新材料", "新材料"),
    ("电子", "计算机、通信和其他电子设备制造"),
    ("制药", "医药制造"),
    ("汽车部件", "汽车制造"),
    ("电器", "电气机械和器材制造"),
    ("建材", "非金属矿物制品"),
    ("轮胎", "橡胶和塑料制品"),
    ("农业科技", "农副食品加工"),
    ("纸业", "造纸和纸制品"),
    ("钢铁", "黑色金属冶炼和压延加工"),
    ("医疗器械", "专用设备制造"),
    ("海洋生物", "海洋生物"),
    ("包装", "印刷和记录媒介复制"),
    ("环保科技", "生态保护和环境治理"),
    ("精密仪器", "仪器仪表制造"),
)
COOP_WORDS = (
    "果蔬种植",
    "粮食种植",
    "畜禽养殖",
    "茶叶",
    "中药材种植",
    "花生种植",
    "苹果种植",
    "蔬菜",
    "食用菌",
)
ENT_BRAND_A = "鲁华泰恒金瑞嘉宏盛远天安信博通新海兴永隆"
ENT_BRAND_B = "华源达丰盛泰昌安利通鑫德力宝威诚信阳润发"
ENT_ORGTYPES = ("有限公司", "股份有限公司", "集团有限公司", "有限责任公司")
SCALES = domain.ENTERPRISE_SCALES
SCALE_WEIGHTS = (4, 16, 45, 35)
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
)
OPERATORS = ("王晓燕", "李建国", "张敏", "刘洋", "陈静", "曾宪文", "单丽", "孙鹏")
STATION_HEAD = "赵卫东"

REQUEST_TEMPLATES: dict[str, tuple[str, ...]] = {
    "standards": (
        "企业标准自我声明公开指导",
        "团体标准立项咨询",
        "参与行业标准制定",
        "标准有效性确认",
        "出口产品国外标准比对",
    ),
    "metrology": (
        "压力表周期检定",
        "计量器具校准服务",
        "能源计量器具配备指导",
        "生产线在线计量校准",
        "测量管理体系建设咨询",
    ),
    "testing": ("产品型式检验", "出口产品检测报告", "原材料成分检测", "新产品性能测试", "抽检不合格整改检测"),
    "certification": (
        "ISO 9001质量管理体系认证咨询",
        "CCC强制性产品认证办理",
        "绿色产品认证申请",
        "食品安全管理体系认证辅导",
    ),
    "quality": (
        "首席质量官培训",
        "QC小组活动辅导",
        "卓越绩效模式导入",
        "质量问题攻关帮扶",
        "质量成本分析诊断",
    ),
    "brand": ("好品山东品牌申报", "商标品牌策划", "山东优质品牌申报辅导", "区域公用品牌使用申请"),
    "ip": ("专利申请指导", "商标注册咨询", "知识产权质押融资对接", "专利侵权风险排查"),
    "safety": ("特种设备安全隐患排查", "产品质量安全风险评估", "电梯维保质量提升", "压力容器定期检验"),
}
DESCRIPTION_TAILS = (
    "企业首次来站咨询，希望尽快对接。",
    "企业负责人来电提出，希望两周内办结。",
    "园区走访时企业提出，需要专家上门指导。",
    "企业已准备好相关材料，请尽快受理。",
)
RESULTS = (
    "已协调检测机构完成检测并出具报告",
    "专家现场指导，问题已解决",
    "已完成检定校准，出具证书",
    "协助企业完成认证申请材料并通过审核",
    "组织专题培训一场，企业人员已掌握",
    "帮助企业制定整改方案并落实",
    "已对接共享设备，企业完成测试",
    "完成标准比对，企业修订了企业标准",
)
FOLLOWUPS = (
    "企业表示满意",
    "电话回访，企业认可服务",
    "上门回访，问题未再出现",
    "企业反馈服务及时",
    "企业希望继续合作",
)
CANCEL_NOTES = ("企业自行解决", "企业撤回需求", "重复登记", "不属于服务范围")
HOLD_NOTES = ("企业停产检修，暂缓办理", "等待上级政策明确", "企业资金未到位")
WAIT_NOTES = ("待企业补充材料", "待企业确认检测样品", "待企业反馈方案意见")
IMPORT_NOTE = "历史台账补录 / back-filled from the paper ledger"
REFER_NOTES = ("转专家现场指导", "转检测机构办理", "推荐共享设备", "对接相关项目")


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


def jdump(d: Any) -> str:
    """Same as ``db.session.dumps``."""
    return json.dumps(d, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


_JS: dict[Any, str] = {None: "null"}


def js(s: str | None) -> str:
    """JSON text of a string (cached: actors, notes, statuses repeat)."""
    r = _JS.get(s)
    if r is None:
        r = json.dumps(s, ensure_ascii=False)
        if len(_JS) < 100_000:
            _JS[s] = r
    return r


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
    area = domain.AREA_CODES[city_code]
    if city_code == "371200":  # Laiwu's 0634 is retired: numbers moved to 0531
        area = "531"
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


# ---- requests ----------------------------------------------------------------------------------
@dataclass
class EntRef:
    id: str
    contact_name: str | None
    phone_e164: str | None
    phone_display: str | None
    elements: tuple[str, ...] = ()


@dataclass
class RequestBatch:
    requests: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    referrals: list[tuple[Any, ...]] = field(default_factory=list)


# The request columns the generator fills (sub_type and the hub-owned fields stay NULL).
REQUEST_COLUMNS = (
    "id",
    "number",
    "station_code",
    "enterprise_id",
    "elements",
    "title",
    "description",
    "channel",
    "urgency",
    "contact_name",
    "phone_e164",
    "phone_display",
    "received_at",
    "promised_date",
    "status",
    "operator",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "cancelled_at",
    "result",
    "problems_solved",
    "cost_saved_cents",
    "satisfaction",
    "followup_note",
    "followup_at",
    "s_rev",
    "h_rev",
    "seq",
    "deleted",
    "created_at",
    "updated_at",
)
EVENT_COLUMNS = (
    "id",
    "request_id",
    "n",
    "at",
    "actor",
    "kind",
    "from_status",
    "to_status",
    "note",
    "data",
    "prev_hash",
    "hash",
)
REFERRAL_COLUMNS = ("id", "request_id", "kind", "item_id", "item_name", "note", "actor", "created_at")

_STATUS_WEIGHTS = {
    # age bucket -> weights in domain.STATUSES order (new accepted in_progress referred waiting resolved closed
    # cancelled on_hold)
    "old": (1, 2, 5, 2, 3, 10, 66, 8, 3),
    "mid": (2, 4, 14, 8, 7, 20, 35, 5, 5),
    "new": (14, 14, 24, 10, 10, 12, 8, 3, 5),
}
_SAT_WEIGHTS = (1, 4, 10, 30, 55)  # 1..5
_CHANNEL_WEIGHTS = (25, 30, 25, 15, 5)
_ELEMENT_WEIGHTS = (12, 18, 26, 14, 12, 6, 7, 5)
_REFER_KINDS = ("expert", "institution", "equipment", "project")
_REFER_WEIGHTS = (40, 35, 20, 5)


class _Chain:
    """Builds one request's hash-chained events exactly as ``ledger.append_event`` would."""

    __slots__ = ("rid", "rid_js", "rng", "prev", "n", "rows", "record")

    def __init__(self, rid: str, rng: random.Random, rows: list[tuple[Any, ...]]) -> None:
        self.rid = rid
        self.rid_js = f'"{rid}"'
        self.rng = rng
        self.prev = GENESIS
        self.n = 0
        self.rows = rows
        self.record = True

    def add(
        self, at_ms: int, actor: str, kind: str, frm: str | None, to: str | None, note: str | None, data: str
    ) -> str:
        """Append one event; return its ``at`` as DB text (only the text once ``record`` is off)."""
        at = fmt_ms(at_ms)
        if not self.record:
            return at
        self.n += 1
        payload = (
            f'{self.prev}{{"actor":{_JS.get(actor) or js(actor)},"at":"{at}","data":{_JS.get(data) or js(data)},'
            f'"from_status":{_JS.get(frm) or js(frm)},"kind":"{kind}","n":{self.n},"note":{_JS.get(note) or js(note)},'
            f'"request_id":{self.rid_js},"to_status":{_JS.get(to) or js(to)}}}'
        )
        h = sha256(payload.encode()).hexdigest()
        self.rows.append(
            (
                uuid7_from(at_ms, self.rng.getrandbits(74)),
                self.rid,
                self.n,
                at,
                actor,
                kind,
                frm,
                to,
                note,
                data,
                self.prev,
                h,
            )
        )
        self.prev = h
        return at


def _path(rng: random.Random, status: str) -> list[str]:
    """The status moves after creation that end in ``status`` (every move legal)."""
    if status == "new":
        return []
    if status == "accepted":
        return ["accepted"] if rng.random() < 0.9 else ["on_hold", "accepted"]
    if status == "in_progress":
        r = rng.random()
        if r < 0.75:
            return ["accepted", "in_progress"]
        if r < 0.9:
            return ["accepted", "in_progress", "waiting", "in_progress"]
        return ["accepted", "in_progress", "referred", "in_progress"]
    if status == "referred":
        return ["accepted", "in_progress", "referred"]
    if status == "waiting":
        return ["accepted", "in_progress", "waiting"]
    if status in ("resolved", "closed"):
        r = rng.random()
        mid = ["referred"] if r < 0.3 else (["waiting", "in_progress"] if r < 0.45 else [])
        p = ["accepted", "in_progress", *mid, "resolved"]
        if rng.random() < 0.03:  # reopened once
            p += ["in_progress", "resolved"]
        if status == "closed":
            p.append("closed")
        return p
    if status == "cancelled":
        return ["accepted", "in_progress"][: rng.choice((0, 1, 1, 2))] + ["cancelled"]
    if status == "on_hold":
        return ["accepted", "in_progress"][: rng.choice((0, 1, 1, 2))] + ["on_hold"]
    raise ValueError(status)


def received_times(rng: random.Random, n: int, start_ms: int, end_ms: int) -> list[int]:
    """n sorted receive times (epoch ms) in office hours (Asia/Shanghai), mostly on weekdays, < end_ms."""
    first_day, last_day = local_day(start_ms), local_day(end_ms)
    out: list[int] = []
    rand = rng.random
    span = last_day - first_day + 1
    end_tod = end_ms + LOCAL_OFFSET_MS - last_day * DAY_MS
    open_ms, close_ms = 8 * HOUR_MS + 30 * 60_000, 17 * HOUR_MS + 30 * 60_000
    for _ in range(n):
        d = first_day + int(rand() * span)
        wd = (d + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
        if wd >= 5 and rand() < 0.85:
            d -= wd - 4
            if d < first_day:
                d += 7
        hi = close_ms
        if d >= last_day:
            d = last_day
            hi = min(close_ms, end_tod - 60_000)
            if hi <= open_ms:
                d -= 1
                hi = close_ms
        out.append(d * DAY_MS - LOCAL_OFFSET_MS + open_ms + int(rand() * (hi - open_ms)))
    out.sort()
    return out


def _table(items: Sequence[Any], weights: Sequence[int]) -> list[Any]:
    """A lookup list where each item appears ``weight`` times: ``t[int(random() * len(t))]`` is a fast
    weighted choice."""
    return [it for it, w in zip(items, weights, strict=True) for _ in range(w)]


def synth_requests(
    rng: random.Random,
    n: int,
    *,
    station_code: str,
    enterprises: Sequence[EntRef],
    refs: Mapping[str, Sequence[tuple[str, str]]],
    now_ms: int,
    months: int = 12,
    counters: dict[str, int] | None = None,
    chunk: int = CHUNK,
    detailed_from_ms: int | None = None,
    describe: bool = False,
) -> Iterator[RequestBatch]:
    """Yield batches of request, event and referral rows, consistent with the ledger's rules.

    ``counters`` maps ``"{CODE}-{YYYYMM}"`` to the last number used; it is updated in place (the
    caller writes the ``ledger_seq:`` kv rows from it).  The nine most recent requests take each
    status once so every status is present even at small scale.

    Requests received before ``detailed_from_ms`` (None: all are detailed) are "back-filled from the
    paper ledger": their fields (times, outcome, satisfaction) are complete but their history is a
    single ``created`` event whose ``to_status`` is the final status, with note ``IMPORT_NOTE`` and
    ``"imported": true`` in its data.  That keeps million-request databases fast to build.
    """
    plan = plan_requests(
        rng,
        n,
        station_code=station_code,
        enterprises=enterprises,
        refs=refs,
        now_ms=now_ms,
        months=months,
        counters=counters,
        chunk=chunk,
        detailed_from_ms=detailed_from_ms,
        describe=describe,
    )
    for k in range(plan.chunks):
        yield _synth_chunk(plan, k)


@dataclass
class RequestPlan:
    """Everything a chunk of requests needs; chunks are independent (own RNG, own start counters), so
    they can be built in any process and still give the same rows."""

    n: int
    chunk: int
    seed: int
    station_code: str
    enterprises: Sequence[EntRef]
    refs: Mapping[str, Sequence[tuple[str, str]]]
    now_ms: int
    detailed_from: int
    times: list[int]
    starts: list[dict[str, int]]
    describe: bool = False  # fill ``description`` (the demo does; bulk generation leaves it NULL)

    @property
    def chunks(self) -> int:
        return len(self.starts)


def plan_requests(
    rng: random.Random,
    n: int,
    *,
    station_code: str,
    enterprises: Sequence[EntRef],
    refs: Mapping[str, Sequence[tuple[str, str]]],
    now_ms: int,
    months: int = 12,
    counters: dict[str, int] | None = None,
    chunk: int = CHUNK,
    detailed_from_ms: int | None = None,
    describe: bool = False,
) -> RequestPlan:
    """Receive times and ledger numbering for ``n`` requests; ``counters`` is advanced in place to the
    last number used per month."""
    counters = counters if counters is not None else {}
    start_ms = now_ms - int(months * 30.44 * DAY_MS)
    times = received_times(rng, n, start_ms, now_ms - 10 * 60_000)
    starts: list[dict[str, int]] = []
    month_key: dict[int, str] = {}
    for i, rms in enumerate(times):
        if i % chunk == 0:
            starts.append(dict(counters))
        rday = (rms + LOCAL_OFFSET_MS) // DAY_MS
        mkey = month_key.get(rday)
        if mkey is None:
            d = _EPOCH + timedelta(days=rday)
            mkey = month_key[rday] = f"{station_code}-{d.year}{d.month:02d}"
        counters[mkey] = counters.get(mkey, 0) + 1
    return RequestPlan(
        n=n,
        chunk=chunk,
        seed=rng.getrandbits(62),
        station_code=station_code,
        enterprises=enterprises,
        refs=refs,
        now_ms=now_ms,
        detailed_from=detailed_from_ms if detailed_from_ms is not None else -1,
        times=times,
        starts=starts,
        describe=describe,
    )


def _synth_chunk(plan: RequestPlan, k: int) -> RequestBatch:
    """Rows of chunk ``k`` of the plan (requests, their events and referrals)."""
    rng = random.Random(plan.seed * 1_000_003 + k)
    n, now_ms, detailed_from = plan.n, plan.now_ms, plan.detailed_from
    station_code, enterprises, refs = plan.station_code, plan.enterprises, plan.refs
    describe = plan.describe
    counters = dict(plan.starts[k])
    first = k * plan.chunk
    times = plan.times[first : first + plan.chunk]
    today = local_day(now_ms)
    rand, getrandbits = rng.random, rng.getrandbits
    statuses = domain.STATUSES
    forced = {n - 1 - i: s for i, s in enumerate(statuses)} if n >= len(statuses) else {}
    elem_combos: dict[tuple[str, ...], str] = {}
    titles_by_el = {e: [(t, jdump({"title": t})) for t in ts] for e, ts in REQUEST_TEMPLATES.items()}
    imported_data = {
        t: jdump({"imported": True, "title": t}) for ts in REQUEST_TEMPLATES.values() for t in ts
    }
    has_refs = {k: v for k, v in refs.items() if v}
    refer_tbl = _table(
        [k for k in _REFER_KINDS if k in has_refs],
        [w for k, w in zip(_REFER_KINDS, _REFER_WEIGHTS, strict=True) if k in has_refs],
    )
    status_tbl = {b: _table(statuses, w) for b, w in _STATUS_WEIGHTS.items()}
    sat_tbl = _table((1, 2, 3, 4, 5), _SAT_WEIGHTS)
    sat_data = {v: jdump({"satisfaction": v}) for v in (1, 2, 3, 4, 5)}
    channel_tbl = _table(domain.CHANNELS, _CHANNEL_WEIGHTS)
    element_tbl = _table(domain.ELEMENTS, _ELEMENT_WEIGHTS)
    el_index = {e: i for i, e in enumerate(domain.ELEMENTS)}
    month_key: dict[int, str] = {}
    batch = RequestBatch()
    ne = len(enterprises)
    n_ops = len(OPERATORS)
    for i, rms in enumerate(times, start=first):
        ent = enterprises[int(rand() * ne)]
        rid = uuid7_from(rms, getrandbits(74))
        # elements: 1..3, biased towards the enterprise's own
        r = rand()
        k = 1 if r < 0.7 else (2 if r < 0.94 else 3)
        els = [element_tbl[int(rand() * len(element_tbl))] for _ in range(k)]
        if ent.elements and rand() < 0.5:
            els[0] = ent.elements[int(rand() * len(ent.elements))]
        key = tuple(sorted(set(els), key=el_index.__getitem__)) if k > 1 else (els[0],)
        el_json = elem_combos.get(key)
        if el_json is None:
            el_json = elem_combos[key] = json.dumps(list(key))
        tl = titles_by_el[key[0]]
        title, title_data = tl[int(rand() * len(tl))]
        channel = channel_tbl[int(rand() * len(channel_tbl))]
        urgency = "urgent" if rand() < 0.15 else "normal"
        rday = (rms + LOCAL_OFFSET_MS) // DAY_MS
        promise_days = domain.PROMISE_DAYS[urgency] if rand() < 0.7 else 3 + int(rand() * 28)
        status = forced.get(i)
        if status is None:
            age = today - rday
            tbl = status_tbl["old" if age >= 60 else ("mid" if age >= 15 else "new")]
            status = tbl[int(rand() * len(tbl))]
        if not has_refs and status == "referred":
            status = "waiting"
        path = _path(rng, status) if status != "new" else []
        if not has_refs and "referred" in path:
            path = [("waiting" if p == "referred" else p) for p in path]
            if path[-1] == "waiting" and status == "in_progress":
                path.append("in_progress")
        operator = OPERATORS[int(rand() * n_ops)]
        mkey = month_key.get(rday)
        if mkey is None:
            d = _EPOCH + timedelta(days=rday)
            mkey = month_key[rday] = f"{station_code}-{d.year}{d.month:02d}"
        seqn = counters.get(mkey, 0) + 1
        counters[mkey] = seqn
        # event times: gaps (ms) per move, squeezed to fit before now
        gaps = []
        for p in path:
            if p == "accepted":
                g = 600_000 + int(rand() * 2 * DAY_MS)
            elif p == "resolved":
                g = HOUR_MS + int(rand() * promise_days * DAY_MS * (1 if rand() < 0.85 else 2))
            elif p == "closed":
                g = DAY_MS + int(rand() * 9 * DAY_MS)
            else:
                g = 1_800_000 + int(rand() * 3 * DAY_MS)
            gaps.append(g)
        room = now_ms - 60_000 - rms
        total = sum(gaps)
        if total > room and total:
            f = max(room, len(gaps)) / total
            gaps = [max(1, int(g * f)) for g in gaps]
        created_ms = rms + 1000 + int(rand() * 300_000) if rand() < 0.5 else rms
        if created_ms > now_ms:
            created_ms = rms
        ev = _Chain(rid, rng, batch.events)
        detailed = rms >= detailed_from
        if detailed:
            received_s = ev.add(rms, operator, "created", None, "new", None, title_data)
        else:
            received_s = ev.add(rms, operator, "created", None, status, IMPORT_NOTE, imported_data[title])
            ev.record = False
        cur = "new"
        t = rms
        accepted_s = resolved_s = closed_s = cancelled_s = None
        result = followup = None
        solved = cost = sat = None
        if not detailed:  # back-filled: outcome fields only, no per-step events
            for p, g in zip(path, gaps, strict=True):
                t += g
                if p == "referred":
                    kind = refer_tbl[int(rand() * len(refer_tbl))]
                    items = has_refs[kind]
                    item_id, item_name = items[int(rand() * len(items))]
                    batch.referrals.append(
                        (
                            uuid7_from(t, getrandbits(74)),
                            rid,
                            kind,
                            item_id,
                            item_name,
                            IMPORT_NOTE,
                            operator,
                            fmt_ms(t),
                        )
                    )
                elif p == "accepted":
                    if accepted_s is None:
                        accepted_s = fmt_ms(t)
                elif p == "resolved":
                    resolved_s = fmt_ms(t)
                    result = RESULTS[int(rand() * len(RESULTS))]
                    solved = 1 + int(rand() * 5)
                    cost = int(rand() ** 3 * 5000) if rand() < 0.8 else 0
                elif p == "closed":
                    closed_s = fmt_ms(t)
                    sat = sat_tbl[int(rand() * len(sat_tbl))]
                    followup = FOLLOWUPS[int(rand() * len(FOLLOWUPS))]
                elif p == "cancelled":
                    cancelled_s = fmt_ms(t)
                elif p == "in_progress" and cur == "resolved":
                    resolved_s = None
                cur = p
            path, gaps = [], []
        for p, g in zip(path, gaps, strict=True):
            t += g
            actor = operator
            note = None
            data = "{}"
            if p == "referred":
                kind = refer_tbl[int(rand() * len(refer_tbl))]
                items = has_refs[kind]
                item_id, item_name = items[int(rand() * len(items))]
                note = REFER_NOTES[int(rand() * len(REFER_NOTES))]
                at_s = ev.add(
                    t,
                    actor,
                    "referral",
                    cur,
                    "referred",
                    note,
                    jdump({"kind": kind, "item_id": item_id, "item_name": item_name}),
                )
                batch.referrals.append(
                    (uuid7_from(t, getrandbits(74)), rid, kind, item_id, item_name, note, actor, at_s)
                )
                cur = "referred"
                continue
            if p == "resolved":
                result = RESULTS[int(rand() * len(RESULTS))]
                solved = 1 + int(rand() * 5)
                cost = int(rand() ** 3 * 5000) if rand() < 0.8 else 0
                data = (
                    f'{{"cost_saved":"{cost // 100}.{cost % 100:02d}","problems_solved":{solved},'
                    f'"result":{js(result)}}}'
                )
            elif p == "closed":
                sat = sat_tbl[int(rand() * len(sat_tbl))]
                followup = note = FOLLOWUPS[int(rand() * len(FOLLOWUPS))]
                if rand() < 0.3:
                    actor = STATION_HEAD
                data = sat_data[sat]
            elif p == "cancelled":
                note = CANCEL_NOTES[int(rand() * len(CANCEL_NOTES))]
            elif p == "on_hold":
                note = HOLD_NOTES[int(rand() * len(HOLD_NOTES))]
            elif p == "waiting":
                note = WAIT_NOTES[int(rand() * len(WAIT_NOTES))]
            elif p == "in_progress" and cur == "resolved":
                resolved_s = None
                data = '{"reopen":true}'
                note = "企业反映问题复现，重新办理"
            at_s = ev.add(t, actor, "status", cur, p, note, data)
            if p == "accepted":
                if accepted_s is None:
                    accepted_s = at_s
            elif p == "resolved":
                resolved_s = at_s
            elif p == "closed":
                closed_s = at_s
            elif p == "cancelled":
                cancelled_s = at_s
            cur = p
        if cur != status:  # pragma: no cover - a bug in _path
            raise AssertionError((cur, status))
        batch.requests.append(
            (
                rid,
                f"{mkey}-{seqn:04d}",
                station_code,
                ent.id,
                el_json,
                title,
                f"{title}：{DESCRIPTION_TAILS[int(rand() * 4)]}" if describe else None,
                channel,
                urgency,
                ent.contact_name,
                ent.phone_e164,
                ent.phone_display,
                received_s,
                day_str(rday + promise_days),
                status,
                operator,
                accepted_s,
                resolved_s,
                closed_s,
                cancelled_s,
                result,
                solved,
                cost,
                sat,
                followup,
                closed_s,
                ev.n,
                0,
                0,
                0,
                fmt_ms(created_ms),
                fmt_ms(max(t, created_ms)),
            )
        )
    return batch


# ---- database helpers --------------------------------------------------------------------------
def insert_rows(
    conn: sqlite3.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    or_ignore: bool = False,
) -> None:
    sql = (
        f"INSERT {'OR IGNORE ' if or_ignore else ''}INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    conn.executemany(sql, rows)


def self_station(
    conn: sqlite3.Connection, rng: random.Random | None = None, now_ms: int | None = None
) -> str:
    """This station's code; inserts the default station row (as ``ledger.ensure_station`` would) if none."""
    row = conn.execute("SELECT code FROM station WHERE is_self = 1").fetchone()
    if row:
        return str(row[0])
    from qi_station.services.ledger import DEFAULT_STATION_CODE, DEFAULT_STATION_NAME

    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    sid = new_id(rng, now_ms) if rng else uuid7_from(now_ms, random.getrandbits(74))
    conn.execute(
        "INSERT INTO station (id, code, name, type, service_mode, region_code, is_self, created_at) "
        "VALUES (?, ?, ?, '园区工作站', '区域集约', '370100', 1, ?)",
        (sid, DEFAULT_STATION_CODE, DEFAULT_STATION_NAME, fmt_ms(now_ms)),
    )
    conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES ('station_code', ?)", (DEFAULT_STATION_CODE,))
    return DEFAULT_STATION_CODE


def read_counters(conn: sqlite3.Connection, station_code: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for k, v in conn.execute("SELECT k, v FROM kv WHERE k LIKE ?", (f"ledger_seq:{station_code}-%",)):
        out[k.removeprefix("ledger_seq:")] = int(v)
    # also respect numbers already used (in case a counter was lost)
    for mk, mx in conn.execute(
        "SELECT substr(number, 1, length(number) - 5), max(CAST(substr(number, -4) AS INTEGER)) FROM request "
        "WHERE station_code = ? GROUP BY 1",
        (station_code,),
    ):
        if mk and mx and mx > out.get(mk, 0):
            out[mk] = int(mx)
    return out


def write_counters(conn: sqlite3.Connection, counters: dict[str, int]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)",
        [(f"ledger_seq:{k}", str(v)) for k, v in sorted(counters.items())],
    )


def anchor_ms(now: datetime | None) -> int:
    """The generation anchor: ``now`` or the current minute (overridable by QI_STATION_NOW)."""
    if now is None:
        from qi_station.core.clock import env_now

        now = env_now().replace(second=0, microsecond=0)
    return to_ms(now)


# ---- library at scale ---------------------------------------------------------------------------
LIB_SPLIT = (("expert", 0.4), ("institution", 0.2), ("equipment", 0.3), ("project", 0.1))
EXPERT_COLUMNS = (
    "id",
    "name",
    "name_py",
    "name_initials",
    "haystack",
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
    "industry",
    "scale",
    "contact_name",
    "phone_e164",
    "phone_display",
    "name_py",
    "name_initials",
    "haystack",
    "elements",
    "station_code",
    "s_rev",
    "seq",
    "deleted",
    "created_at",
    "updated_at",
)


def _hay(*parts: Any) -> str:
    return " ".join(str(p) for p in parts if p).lower()


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
) -> dict[str, list[tuple[str, str]]]:
    """Insert ``total`` library rows split over the four tables; return (id, name) refs per kind."""
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
        uscc = make_uscc(rng, choice(COUNTIES[city])[0])
        cma = f"{rr(18, 26):02d}15{rr(10**6):06d}{rr(100):02d}" if rand() < 0.9 else None
        cnas = f"CNAS L{rr(1000, 20000)}" if rand() < 0.6 else None
        cma_exp = day_str(today + rr(-60, 6 * 365)) if cma else None
        cnas_exp = day_str(today + rr(-60, 6 * 365)) if cnas else None
        county = choice(COUNTIES[city])[1]
        contact, _, _ = person_name(rng, pc)
        phone = landline(rng, city)[1]
        short = cs + brand + fname[:2]
        rows.append(
            (
                iid,
                name,
                py,
                ini,
                _hay(name, short, uscc, cma, cnas, scope, domain.CITIES[city]),
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
                f"山东省{domain.CITIES[city]}{county}{choice('经纬')}{rr(1, 30)}路{rr(1, 999)}号",
                contact,
                phone,
            )
        )
        inst_refs.append((iid, name, city, short))
        refs["institution"].append((iid, name))
        if len(rows) >= CHUNK:
            insert_rows(conn, "institution", INSTITUTION_COLUMNS, rows)
            rows = []
            if progress:
                progress("institutions", i + 1, counts["institution"])
    insert_rows(conn, "institution", INSTITUTION_COLUMNS, rows)
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
                _hay(name, spec, employer, title, domain.CITIES[city]),
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
            insert_rows(conn, "expert", EXPERT_COLUMNS, rows)
            rows = []
            if progress:
                progress("experts", i + 1, counts["expert"])
    insert_rows(conn, "expert", EXPERT_COLUMNS, rows)
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
                _hay(ename, model, desc, domain.CITIES[city]),
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
            insert_rows(conn, "equipment", EQUIPMENT_COLUMNS, rows)
            rows = []
            if progress:
                progress("equipment", i + 1, counts["equipment"])
    insert_rows(conn, "equipment", EQUIPMENT_COLUMNS, rows)
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
                _hay(name, lead, desc, domain.CITIES[city]),
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
            insert_rows(conn, "project", PROJECT_COLUMNS, rows)
            rows = []
    insert_rows(conn, "project", PROJECT_COLUMNS, rows)
    if progress:
        progress("projects", counts["project"], counts["project"])
    return refs


def gen_enterprises(
    conn: sqlite3.Connection, rng: random.Random, n: int, now_ms: int, pc: PinyinCache, station_code: str
) -> list[EntRef]:
    used = {r[0] for r in conn.execute("SELECT uscc FROM enterprise")}
    rr, rand, choice = rng.randrange, rng.random, rng.choice
    rows: list[tuple[Any, ...]] = []
    out: list[EntRef] = []
    cities = list(CITY_WEIGHTS)
    cweights = list(CITY_WEIGHTS.values())
    ind_elements = {
        w: (domain.ELEMENTS[i % 8], domain.ELEMENTS[(i * 3 + 2) % 8])
        for i, (w, _) in enumerate(ENT_INDUSTRIES)
    }
    for _ in range(n):
        r = rand()
        city = "371200" if r < 0.02 else rng.choices(cities, weights=cweights)[0]
        region, county = choice(COUNTIES[city]) if rand() < 0.85 else (city, domain.CITIES[city])
        word, industry = ENT_INDUSTRIES[rr(len(ENT_INDUSTRIES))]
        brand = choice(ENT_BRAND_A) + choice(ENT_BRAND_B)
        place = county_short(county) if rand() < 0.5 else city_short(city) if city != "371200" else "莱芜"
        if rand() < 0.04:
            prefix, name_parts = "N2", (place, brand, COOP_WORDS[rr(len(COOP_WORDS))], "专业合作社")
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
        e164, disp = mobile(rng) if rand() < 0.7 else landline(rng, city)
        ts = fmt_ms(ms)
        rows.append(
            (
                eid,
                name,
                uscc,
                region,
                city,
                industry,
                rng.choices(SCALES, weights=SCALE_WEIGHTS)[0],
                contact,
                e164,
                disp,
                py,
                ini,
                _hay(name, uscc, industry, domain.CITIES[city]),
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
            insert_rows(conn, "enterprise", ENTERPRISE_COLUMNS, rows)
            rows = []
    insert_rows(conn, "enterprise", ENTERPRISE_COLUMNS, rows)
    return out


_BULK_TABLES = (
    "expert",
    "institution",
    "equipment",
    "project",
    "enterprise",
    "request",
    "request_event",
    "referral",
)


def _drop_secondary_indexes(conn: sqlite3.Connection) -> list[str]:
    """Drop the explicit indexes of the bulk tables; return their CREATE statements."""
    marks = ",".join("?" * len(_BULK_TABLES))
    rows = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks}) "
        "AND sql NOT LIKE '%UNIQUE%'",
        _BULK_TABLES,
    ).fetchall()
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def _worker(q: Any, plan: RequestPlan, w: int, workers: int) -> None:
    try:
        for k in range(w, plan.chunks, workers):
            q.put(_synth_chunk(plan, k))
        q.put(None)
    except BaseException as e:  # noqa: BLE001 - handed to the parent
        q.put(e)


def synth_parallel(plan: RequestPlan, workers: int = 2) -> Iterator[RequestBatch]:
    """The plan's chunks, in order, built by ``workers`` child processes (chunk k by worker k mod
    workers) while the caller inserts: Python row building and SQLite writing share the CPUs, and
    the rows are the same as :func:`synth_requests` would give."""
    import multiprocessing as mp

    ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    queues = [ctx.Queue(maxsize=3) for _ in range(workers)]
    procs = [
        ctx.Process(target=_worker, args=(queues[w], plan, w, workers), daemon=True) for w in range(workers)
    ]
    for pr in procs:
        pr.start()
    try:
        for k in range(plan.chunks):
            item = queues[k % workers].get()
            if isinstance(item, BaseException):
                raise item
            if item is None:  # pragma: no cover - a worker ended early
                raise RuntimeError(f"generator worker {k % workers} ended early")
            yield item
    finally:
        for pr in procs:
            if pr.is_alive():
                pr.terminate()
            pr.join()


def generate(
    db_path: str | Path,
    *,
    requests: int,
    library: int,
    seed: int = 1,
    progress: Progress | None = None,
    now: datetime | None = None,
    detailed_months: int = 12,
    parallel: bool | None = None,
) -> dict[str, Any]:
    """Generate ``library`` library rows, ~requests/20 (≥ 50) enterprises and ``requests`` requests.

    The database is migrated first (``open_db``). Requests spread over the months before ``now``
    (12 months, more when a month would pass 9 999 ledger numbers), in every status, with referrals
    to the generated library. Requests of the last ``detailed_months`` months carry their full
    hash-chained history (created, every status move, referrals); older ones are back-filled with a
    single ``created`` event (see :func:`synth_requests`) — every chain verifies with
    ``ledger.verify_chain``. Ledger counters (``kv ledger_seq:…``) are set so
    ``ledger.next_number`` continues. Nothing goes to the outbox.

    One transaction (a crash or an error leaves the database as it was); secondary indexes are
    dropped and rebuilt inside it; ``synchronous=OFF`` and, when no other connection has the
    database open, a rollback journal instead of WAL are used while it runs. With ``parallel``
    (default: from 100 000 requests on a machine with ≥ 2 CPUs) the request rows are built by two
    child processes while this one inserts — chunks have their own seeded RNG, so the rows are the
    same either way.
    Returns counts and timings (seconds).
    """
    from qi_station.db.engine import connect, open_db

    t0 = time.perf_counter()
    path = open_db(db_path)
    rng = random.Random(seed)
    now_ms = anchor_ms(now)
    pc = PinyinCache()
    conn = connect(path)
    timings: dict[str, float] = {}
    journal = "wal"
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MiB
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA threads=2")  # helper threads for the index-rebuild sorts
        conn.execute("PRAGMA foreign_keys=OFF")  # the generator writes consistent rows; checked in tests
        try:  # a rollback journal writes a bulk load once; WAL would write it twice
            journal = str(conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]).lower()
        except sqlite3.OperationalError:
            journal = "wal"
        conn.execute("BEGIN IMMEDIATE")
        try:
            key = f"generated_seed:{seed}:{now_ms}"
            if conn.execute("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone():
                conn.execute("ROLLBACK")
                return {"skipped": True, "reason": f"already generated with seed {seed} at this anchor"}
            code = self_station(conn, rng, now_ms)
            creates = _drop_secondary_indexes(conn)
            t = time.perf_counter()
            refs = gen_library(conn, rng, library, now_ms, pc, progress)
            timings["library_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            n_ent = max(50, requests // 20) if requests else 0
            ents = gen_enterprises(conn, rng, n_ent, now_ms, pc, code) if n_ent else []
            timings["enterprises_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            counters = read_counters(conn, code)
            months = max(12, math.ceil(requests / 9000))
            n_req = n_ev = n_ref = 0
            kw: dict[str, Any] = dict(
                station_code=code,
                enterprises=ents,
                refs=refs,
                now_ms=now_ms,
                months=months,
                counters=counters,
                detailed_from_ms=now_ms - int(detailed_months * 30.44 * DAY_MS),
            )
            if parallel is None:
                parallel = requests >= 100_000 and (os.cpu_count() or 1) >= 2
            if parallel:
                plan = plan_requests(rng, requests, **kw)
                batches: Iterable[RequestBatch] = synth_parallel(plan, workers=2)
            else:
                batches = synth_requests(rng, requests, **kw)
            for b in batches:
                insert_rows(conn, "request", REQUEST_COLUMNS, b.requests)
                insert_rows(conn, "request_event", EVENT_COLUMNS, b.events)
                if b.referrals:
                    insert_rows(conn, "referral", REFERRAL_COLUMNS, b.referrals)
                n_req += len(b.requests)
                n_ev += len(b.events)
                n_ref += len(b.referrals)
                if progress:
                    progress("requests", n_req, requests)
            write_counters(conn, counters)
            timings["requests_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            for i, sql in enumerate(creates):
                conn.execute(sql)
                if progress:
                    progress("indexes", i + 1, len(creates))
            timings["indexes_s"] = round(time.perf_counter() - t, 2)
            conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, fmt_ms(now_ms)))
            t = time.perf_counter()
            conn.execute("COMMIT")
            timings["commit_s"] = round(time.perf_counter() - t, 2)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        t = time.perf_counter()
        conn.execute("PRAGMA optimize")
        conn.execute("PRAGMA journal_mode=WAL")
        journal = "wal"
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        timings["finish_s"] = round(time.perf_counter() - t, 2)
    finally:
        if journal != "wal":  # an error or an early return: the database goes back to WAL all the same
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.Error:
                pass
        conn.close()
    return {
        "experts": len(refs["expert"]),
        "institutions": len(refs["institution"]),
        "equipment": len(refs["equipment"]),
        "projects": len(refs["project"]),
        "enterprises": len(ents),
        "requests": n_req,
        "events": n_ev,
        "referrals": n_ref,
        "months": months,
        "seconds": round(time.perf_counter() - t0, 2),
        **timings,
    }
