"""Input rules, enforced in the core. Each failure names the field and the rule.

Standard library only; phone numbers (``phonenumbers``) are checked in :mod:`qi_station.services.phones`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date as date_t
from datetime import timedelta as timedelta_t
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from qi_station.core import domain, places
from qi_station.core.errors import ValidationError, ValidationErrors

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # w_i = 3^(i-1) mod 31

LIMITS = {
    "title": 100,
    "description": 4000,
    "result": 4000,
    "note": 2000,
    "name": 100,
    "enterprise": 100,
    "contact": 50,
    "operator": 50,
    "sub_type": 50,
    "industry": 50,
    "followup": 2000,
    "action": 2000,
    "by": 50,
}

# the hub's cap on a synced row's other text columns (ids, hashes, phone, pinyin, search text, event
# data, an enterprise's former names): a station keeps its rows within them, or the change and every one
# queued after it would never leave the PC (``sync.hub.rules.check_row`` refuses it)
OTHER_TEXT_MAX = 2000
LONG_TEXT_MAX = {"haystack": 8000, "haystack_py": 8000, "data": 20000}


class Checks:
    """Run each field's rule and keep every refusal, so one save reports all bad fields at once, in
    the order they were checked (the form's order, top first)::

        c = Checks()
        title = c.run(clean_text, inp.title, "title", required=True)
        ...
        c.done()  # raises ValidationErrors when any rule failed
    """

    def __init__(self) -> None:
        self.errors: list[ValidationError] = []

    def run(self, rule: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``rule(*args, **kwargs)``; a refusal is kept and None returned."""
        try:
            return rule(*args, **kwargs)
        except ValidationErrors as e:
            self.errors.extend(e.errors)
        except ValidationError as e:
            self.errors.append(e)
        return None

    def run_parsed(self, rule: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A rule over values parsed before (``check_outcome``): its refusals of a field already refused
        are dropped (a number that could not be read is not also "required")."""
        seen = {e.field for e in self.errors}
        inner = Checks()
        out = inner.run(rule, *args, **kwargs)
        self.errors += [e for e in inner.errors if e.field not in seen]
        return out

    def done(self) -> None:
        if self.errors:
            raise ValidationErrors(self.errors)


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


# full-width digits and Latin letters (a Chinese input method's ｊｉｎａｎ, ＪＮ, ２０２６) and the
# ideographic space, as their ASCII forms; full-width punctuation (（）、，) is left as typed
_HALFWIDTH = {
    **{
        c: c - 0xFEE0
        for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
        for c in range(r[0], r[1] + 1)
    },
    0x3000: 0x20,
}


def halfwidth_alnum(text: str) -> str:
    """``text`` with full-width letters and digits (and the ideographic space) as their ASCII forms: what
    a search query is read as (pinyin, initials and codes are stored in ASCII)."""
    return text.translate(_HALFWIDTH)


def normalize_uscc(code: str | None) -> str:
    """A USCC as typed → its form to check: full-width to half-width (NFKC), trimmed, upper case."""
    return unicodedata.normalize("NFKC", code or "").strip().upper()


def validate_uscc(code: str, field: str = "uscc") -> str:
    """Return the normalized USCC or raise. Letter-first codes (N…, Y…, A…) are valid. Full-width
    characters (a Chinese input method's ９１３７…, ＭＡ) are read as their half-width forms (NFKC),
    lower case as upper case."""
    c = normalize_uscc(code)
    if len(c) != 18:
        raise ValidationError(
            field, "uscc_length", f"USCC must be 18 characters, got {len(c)} / 统一社会信用代码应为18位"
        )
    bad = [(i, ch) for i, ch in enumerate(c, 1) if ch not in _USCC_VALUE]
    if bad:
        at, ch = bad[0]
        why = (
            ("; the letters I O S V Z are not used", "（不使用字母 I O S V Z）")
            if ch in "IOSVZ"
            else ("", "")
        )
        raise ValidationError(
            field,
            "uscc_charset",
            f"USCC has an illegal character {ch!r} at position {at}{why[0]} / "
            f"第{at}位「{ch}」不是统一社会信用代码的字符{why[1]}",
        )
    if not c[2:8].isdigit():
        raise ValidationError(
            field,
            "uscc_region",
            "USCC characters 3-8 must be a GB/T 2260 region code / 第3-8位应为行政区划码",
        )
    expect = uscc_check_char(c[:17])
    if c[17] != expect:
        raise ValidationError(
            field, "uscc_checksum", f"USCC check character should be {expect!r} / 校验码错误"
        )
    return c


def uscc_region(code: str) -> str:
    return code[2:8]


# GB 32100-2015 table 1: registration department (character 1) -> its organisation categories (character 2)
USCC_CATEGORIES = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 中央编办管理的群众团体, 其他
    "2": "19",  # 外交: 外国常驻新闻机构, 其他
    "3": "123459",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他
    "4": "19",  # 文化: 外国在华文化中心, 其他
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",  # 旅游: 外国 / 港澳台旅游部门常驻代表机构, 其他
    "7": "129",  # 宗教: 宗教活动场所, 宗教院校, 其他
    "8": "19",  # 工会: 基层工会, 其他
    "9": "123",  # 工商: 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室: 军队事业单位, 其他
    "N": "1239",  # 农业: 组级, 村级, 乡镇级集体经济组织, 其他
    "Y": "1",  # 其他
}
# GB/T 2260 province-level prefixes, and 100000 (registered by a national authority)
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)


def uscc_warnings(code: str) -> list[tuple[str, str]]:
    """What in a valid USCC GB 32100 / GB/T 2260 do not know, as (rule, message) pairs: a warning, never a
    refusal (codes issued under older tables exist). Outside Shandong only the province is checked."""
    c = normalize_uscc(code)
    out: list[tuple[str, str]] = []
    if len(c) != 18:
        return out
    dept, cat = c[0], c[1]
    if dept not in USCC_CATEGORIES or cat not in USCC_CATEGORIES[dept]:
        out.append(
            (
                "uscc_category",
                f"GB 32100 has no department/category pair {dept}{cat} (e.g. 91 enterprise, 93 farmers' "
                f"cooperative, 81 trade union, N2 village collective) / 登记管理部门和机构类别代码 {dept}{cat} 不在"
                "国家标准中，请核对",
            )
        )
    region = c[2:8]
    if region == "100000":
        return out
    known = places.is_known(region) if region[:2] == "37" else region[:2] in _PROVINCES
    if not known:
        out.append(
            (
                "uscc_region",
                f"GB/T 2260 has no region {region} / 第3-8位行政区划码 {region} 不在 GB/T 2260 中，请核对",
            )
        )
    return out


def check_region(code: str, field: str = "region") -> str:
    """A current Shandong GB/T 2260 city or county code (six ASCII digits). A historic code is refused
    with the code that holds its place today. Full-width digits are read as ASCII (``domain.typed``)."""
    c = domain.typed(code)
    if len(c) != 6 or not (c.isascii() and c.isdigit()):
        raise ValidationError(
            field, "gbt2260", f"not a 6-digit Shandong GB/T 2260 code: {code!r} / 非山东六位行政区划码"
        )
    if c in places.HISTORIC:
        name, now = places.HISTORIC[c]
        raise ValidationError(
            field,
            "historic",
            f"{c} ({name}) is no longer a division: use {now} ({places.full_name(now)}) / "
            f"{name}已撤销，请用现行代码 {now}",
        )
    if c not in places.CITIES and c not in places.COUNTY_NAMES:
        raise ValidationError(
            field, "gbt2260", f"not a current Shandong city or county code: {code!r} / 非山东现行行政区划码"
        )
    return c


def check_county(code: str, field: str = "county") -> str:
    """A current Shandong county (district, county-level city) code."""
    c = check_region(code, field)
    if c not in places.COUNTY_NAMES:
        raise ValidationError(
            field,
            "county",
            f"{c} is a city, not a county: give a county or district code / 请填写区县代码，而非地市代码",
        )
    return c


def check_city(code: str, field: str = "city") -> str:
    """A Shandong city code (the library's city filter). A county code is named as one, with its city;
    a historic code with the code that holds its place today (:func:`check_region`)."""
    c = domain.typed(code)
    if c in places.CITIES:
        return c
    if c in places.COUNTY_NAMES:
        city = places.COUNTY_CITY[c]
        raise ValidationError(
            field,
            "city",
            f"{c} is a county code ({places.full_name(c)}), not a city: its city is {city} "
            f"({places.CITIES[city]}) / {c} 是区县代码，所属地市为 {city}（{places.CITIES[city]}）",
        )
    c = check_region(code, field)  # the 6-digit, historic and unknown-code messages
    if c in places.CITIES:
        return c
    raise ValidationError(field, "gbt2260", f"not a Shandong city code: {code!r} / 非山东地市代码")


def parse_station_type(value: str, field: str = "station_type") -> str:
    """A station type, by its Chinese term or English label -> the Chinese term (stored)."""
    return _vocab(value, domain.STATION_TYPES, domain.STATION_TYPE_EN, field)


def parse_service_mode(value: str, field: str = "service_mode") -> str:
    return _vocab(value, domain.SERVICE_MODES, domain.SERVICE_MODE_EN, field)


def _vocab(value: str, terms: tuple[str, ...], en: dict[str, str], field: str) -> str:
    v = domain.typed(value)
    if v in terms:
        return v
    for term, label in en.items():
        if v.lower() == label.lower():
            return term
    raise ValidationError(
        field,
        "choice",
        f"{value!r} is not one of {', '.join(f'{t} ({en[t]})' for t in terms)} / 取值无效，可选：{'、'.join(terms)}",
    )


def check_park(value: str | None, field: str = "park") -> str | None:
    return clean_text(value, field, limit=domain.PARK_MAX) or None


def check_station_profile(
    region: str | None, park: str | None, type_: str | None, mode: str | None
) -> dict[str, str | None]:
    """A station's profile as the hub receives it: every field checked by the same rules as at the
    station (None: not given). Every bad field is reported at once."""
    c = Checks()
    out = {
        "region_code": c.run(check_region, region) if region is not None else None,
        "park": c.run(check_park, park) if park is not None else None,
        "station_type": c.run(parse_station_type, type_) if type_ is not None else None,
        "service_mode": c.run(parse_service_mode, mode) if mode is not None else None,
    }
    c.done()
    return out


def check_encoding(v: str, field: str) -> str:
    """Refuse a lone surrogate: what Python makes of bytes that are not UTF-8 (a command line typed in
    a GBK terminal, ``$'\\xff'``). Such text cannot be stored, printed or sent; ``[encoding]``."""
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            field,
            "encoding",
            f"{field} is not valid UTF-8 text; check the terminal's encoding (UTF-8) / "
            "文本不是有效的 UTF-8 编码，请检查终端的字符编码（应为 UTF-8）",
        ) from None
    return v


def _refused_char(ch: str, multiline: bool) -> bool:
    """THE character rule of text: control, format, surrogate and private-use characters are refused
    (but ZWJ, and newline/tab in multi-line text); so are the line and paragraph separators (U+2028,
    U+2029: a line break) in one-line text (multi-line text has them as newlines: :func:`clean_text`)."""
    if ch in "\n\t" and multiline:
        return False
    cat = unicodedata.category(ch)
    return (cat in ("Cc", "Cf", "Cs", "Co") and ch != "\u200d") or cat in ("Zl", "Zp")


#: what :func:`neutralise` puts in place of a character the text rule refuses
REPLACEMENT = "\ufffd"


class _Neutral(dict[int, int | str]):
    """A ``str.translate`` table: a refused character -> U+FFFD, any other -> itself; each distinct
    character asked of :func:`_refused_char` once (then a C-speed dict look-up)."""

    def __init__(self, multiline: bool) -> None:
        super().__init__()
        self.multiline = multiline

    def __missing__(self, code: int) -> int | str:
        got: int | str = REPLACEMENT if _refused_char(chr(code), self.multiline) else code
        self[code] = got
        return got


_NEUTRAL = {True: _Neutral(True), False: _Neutral(False)}


def neutralise(text: str, *, multiline: bool = True) -> str:
    """Stored text made safe to show or write (terminal, xlsx, csv, md): every character the text rule
    (:func:`check_control_chars`) refuses becomes U+FFFD. Ledgers written before the rule, or by a
    hub before ``hub assign`` checked its text, may hold ESC sequences, BEL, lone surrogates...;
    newline and tab are kept unless ``multiline`` is false. Printable text is returned as it is."""
    if text.isprintable():  # no Cc/Cf/Cs/Co at all (C speed): nearly every text
        return text
    if multiline and text.replace("\n", "").replace("\t", "").isprintable():  # lines of output: C speed
        return text
    return text.translate(_NEUTRAL[multiline])  # a look-up per character


def check_control_chars(v: str, field: str, *, multiline: bool = False) -> None:
    """Refuse control (and format, surrogate, private-use) characters; newline and tab only in
    multi-line text. The rule of :func:`clean_text`, also for text taken whole (library files).
    A lone surrogate (bytes that were not UTF-8) is refused by :func:`check_encoding`."""
    check_encoding(v, field)
    for ch in v:
        if _refused_char(ch, multiline):
            raise ValidationError(
                field, "control_char", f"{field} contains a control character U+{ord(ch):04X} / 含控制字符"
            )


def clean_text(
    value: str | None,
    field: str,
    *,
    required: bool = False,
    limit: int | None = None,
    multiline: bool = False,
) -> str:
    """Strip, refuse control characters, enforce a length limit. Multi-line text has its line breaks
    as newlines first (CRLF, a lone CR, U+2028, U+2029: text pasted from Windows, Word or the web)."""
    v = value or ""
    if multiline:
        v = v.replace("\r\n", "\n").translate(_LINE_BREAKS)
    v = v.strip()
    if required and not v:
        raise ValidationError(field, "required", f"{field} is required / 必填")
    lim = limit or LIMITS.get(field, 200)
    if len(v) > lim:
        raise ValidationError(
            field,
            "max_length",
            f"{field} is {len(v)} characters, limit {lim} / 超过{lim}字（已输入{len(v)}字）",
        )
    check_control_chars(v, field, multiline=multiline)
    return v


def one_line(text: str) -> str:
    """Text pasted into a one-line field: the text rule refuses line breaks there (:func:`clean_text`),
    so its lines are joined with one space each (blank lines and the spaces around each break
    dropped), never cut at the first break. The field shows the joined text before anything is saved."""
    v = text.replace("\r\n", "\n").translate(_LINE_BREAKS)
    if "\n" not in v:
        return text
    return " ".join(part.strip() for part in v.split("\n") if part.strip())


#: the line breaks multi-line text keeps as a newline (:func:`clean_text`; CRLF is one)
_LINE_BREAKS = str.maketrans({"\r": "\n", "\u2028": "\n", "\u2029": "\n"})


def parse_element(value: str, field: str = "element") -> str:
    """One N element, by code or Chinese name -> its code."""
    code = domain.element_code(value)
    if code is None:
        raise ValidationError(
            field, "element", f"unknown element {value!r}; use {', '.join(domain.ELEMENTS)} / 未知服务要素"
        )
    return code


def unique_elements(items: list[str] | tuple[str, ...], field: str = "elements") -> list[str]:
    """Element codes or names -> their codes, each once, in the order given (blank items skipped; the
    list may end up empty). Every element list written (requests, enterprises, library rows) passes
    here, so an element is never listed twice."""
    out: list[str] = []
    for raw in items:
        if not raw or not raw.strip():
            continue
        code = parse_element(raw, field)
        if code not in out:
            out.append(code)
    return out


def parse_elements(value: str | list[str] | tuple[str, ...], field: str = "elements") -> list[str]:
    items = re.split(r"[,，、;；\s]+", value) if isinstance(value, str) else list(value)
    out = unique_elements(items, field)
    if not out:
        raise ValidationError(field, "required", "at least one element is required / 至少选择一项服务要素")
    return out


def check_choice(value: str, choices: tuple[str, ...], field: str) -> str:
    """The code ``value`` names among ``choices`` (a code, or the label the program shows for it:
    ``domain.code_of``), else ``ValidationError(field, "choice")`` listing the choices."""
    code = domain.code_of(value, choices)
    if code is None:
        raise ValidationError(
            field, "choice", f"{value!r} is not one of {domain.choice_names(choices)} / 取值无效"
        )
    return code


#: an amount as people write it: digits grouped by thousands with commas (1,200.50)
#: the first group is 1-3 digits not starting with 0 ("0,100" is not a hundred), every later one exactly 3
_GROUPED = re.compile(r"-?[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]*)?")
#: the only amount text taken (after NFKC and the grouping commas): plain decimal digits with an optional
#: point and a leading minus (refused as negative, by name); no exponent (1e3), underscores (1_000) or '+'
_PLAIN_AMOUNT = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


#: the example a refused amount names, by its unit: 节约成本 is in 万元, where 1200.50 would be twelve
#: million yuan (an operator copied the example); a fee is in yuan
_MONEY_EXAMPLE = {  # unit: (the example of a number, of a thousands comma), English / Chinese
    "wan": (
        ("in 10k CNY: write e.g. 2.5 for 25,000 yuan", "应为数字，单位为万元，如 2.5（即 2.5 万元）"),
        ("like 1,000 (in 10k CNY: 2.5 is 25,000 yuan)", "应如 1,000；单位为万元，如 2.5 即 2.5 万元"),
    ),
    "yuan": (("write e.g. 1200.50 or 1,200.50", "应为数字，如 1200.50"), ("like 1,200.50", "应如 1,200.50")),
}


def parse_cost(
    value: str | float | Decimal | None, field: str = "cost_saved", unit: str | None = None
) -> Decimal | None:
    """万元 (or yuan for a fee), ≥ 0, at most 2 decimals. Read as people type it: full-width digits and
    point (a Chinese input method's １２００．５, NFKC) and thousands commas (1,200.50); a comma
    anywhere else (1,2) is refused, never guessed as a decimal point. Text with an exponent (1e3),
    underscores (1_000) or a leading '+' is refused; -0 is 0.00. ``unit`` (``wan`` / ``yuan``; by
    default yuan for ``field`` ``fee``, else 万元) chooses the example a refusal names."""
    if value is None or value == "":
        return None
    (number_en, number_zh), (comma_en, comma_zh) = _MONEY_EXAMPLE[
        unit or ("yuan" if field == "fee" else "wan")
    ]
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    elif "," in text and isinstance(value, str):
        raise ValidationError(
            field,
            "number",
            f"not a number: {value!r}: a comma only groups thousands, 1-3 digits (not starting with 0) "
            f"and then groups of exactly three, {comma_en} / 千分位逗号用法不对，{comma_zh}",
        )
    try:
        if isinstance(value, str) and not _PLAIN_AMOUNT.fullmatch(text):
            raise InvalidOperation  # 1e3, 1_000, +5: Decimal reads them, people do not write money so
        d = Decimal(text)
    except InvalidOperation:
        raise ValidationError(
            field,
            "number",
            f"not a number: {value!r} ({number_en}) / {number_zh}",
        ) from None
    if not d.is_finite():
        raise ValidationError(field, "number", f"not a number: {value!r} / 应为数字")
    if d < 0:
        raise ValidationError(field, "non_negative", "must be ≥ 0 / 不能为负数")
    if d > Decimal("99999999.99"):  # before quantize: 1e400 would overflow the context
        raise ValidationError(field, "max", "too large / 数值过大")
    if d != d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP):
        raise ValidationError(
            field, "decimals", f"too many decimals: {value!r}: at most 2 decimal places / 最多两位小数"
        )
    return abs(d).quantize(Decimal("0.01"))  # abs: -0 is stored as 0.00, never "-0.00"


def money_text(amount: Decimal | int | None, hundredths: bool = False) -> str | None:
    """THE way money is shown as text (万元 or yuan as the field says): two decimals, no grouping
    (``"1200.50"``); ``hundredths``: ``amount`` is an integer of hundredths (``cost_saved_cents``).
    None for none. The request detail (``services.queries``: CLI, TUI) shows 节约成本 and 收费金额 by it."""
    if amount is None:
        return None
    if hundredths:  # the digits themselves, not Decimal, a row (a list's 节约成本: 10 000 rows a call)
        n = int(amount)
        if 100 <= n < _EXACT_CENTS:
            t = str(n)
            return f"{t[:-2]}.{t[-2:]}"
        if 0 <= n < 100:
            return f"0.{n:02d}"
        if -_EXACT_CENTS < n < 0:
            return f"-{money_text(-n, True)}"
        value = Decimal(n) / 100  # (past Decimal's 28 digits: its own rounding, as before)
    elif amount.__class__ is int:
        return f"{amount}.00"
    else:
        value = Decimal(amount)
    return f"{value:.2f}"


#: hundredths below this are shown by whole-number arithmetic, exactly as ``Decimal(n) / 100`` shows them
#: (the default context's 28 digits hold them); SQLite's integers are far below it
_EXACT_CENTS = 10**26


def money_number(amount: Decimal | str | None) -> float | None:
    """THE form money takes in JSON: a number rounded to 2 decimals (``1200.5``), None for none. The
    report's JSON gives 明细's ``fee_yuan`` so (``reports.figures``), and ``request show --json`` gives the
    request's ``fee_yuan`` (text from :func:`money_text` in the detail) in the same form."""
    if amount.__class__ is str and _MONEY_TEXT.fullmatch(amount):  # money_text's form: float reads it as
        return round(float(amount), 2)  # float(Decimal(amount)) does (the nearest double)
    return None if amount is None else round(float(Decimal(amount)), 2)


_MONEY_TEXT = re.compile(r"-?[0-9]+\.[0-9]{2}")


def parse_non_negative_int(value: str | int | None, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        n = int(str(value).strip())
    except ValueError:
        raise ValidationError(field, "integer", f"not a whole number: {value!r} / 应为整数") from None
    if n < 0:
        raise ValidationError(field, "non_negative", "must be ≥ 0 / 不能为负数")
    if n > 1_000_000:
        raise ValidationError(field, "max", "too large / 数值过大")
    return n


def parse_satisfaction(value: str | int | None, field: str = "satisfaction") -> int | None:
    """THE satisfaction rule: 1..5, written as the number, its label (满意, 非常不满意; Satisfied) or both
    as shown to people (``2 不满意``: the number and its own label)."""
    if value is None or value == "":
        return None
    text = " ".join(str(value).split())
    bad = ValidationError(
        field,
        "range_1_5",
        "satisfaction is 1..5 or its label (e.g. 4 or Satisfied) / 满意度为1-5或其名称（如 4 或 满意）",
    )
    labels = {v: k for k, v in domain.SATISFACTION_ZH.items()}
    labels.update({v.lower(): k for k, v in domain.SATISFACTION_EN.items()})
    number, _, label = text.partition(" ")
    try:
        n = int(number)
    except ValueError:
        got = labels.get(text.lower())
        if got is None:
            raise bad from None
        return got
    if not 1 <= n <= 5 or (label and labels.get(label.lower()) != n):
        raise bad
    return n


# ---- corrections -------------------------------------------------------------------------------
def parse_correction(field: str, value: object, status: str) -> object:
    """A correction's new value, checked by the same rule as the original (satisfaction 1..5, a whole
    number ≥ 0, 万元 or yuan with 2 decimals, the result text): returned in the form its event carries
    (``cost_saved`` as 万元 text, ``fee`` as yuan text; a fee of 0 means the service was free). ``status``: the request's, which must hold a value for ``field``."""
    f = (field or "").strip()
    if f not in domain.CORRECTABLE:
        raise ValidationError(
            "field",
            "correctable",
            f"{f!r} cannot be corrected; correctable: {', '.join(domain.CORRECTABLE)} / 该字段不能更正",
        )
    if status not in domain.CORRECTABLE_IN[f]:
        raise ValidationError(
            "field",
            "correctable_now",
            f"a {status} request has no {f} to correct / 当前状态下没有可更正的该项",
        )
    text = value if isinstance(value, str) or value is None else str(value)
    got: object
    if f == "satisfaction":
        got = parse_satisfaction(text, "value")
    elif f == "problems_solved":
        got = parse_non_negative_int(text, "value")
    elif f in ("cost_saved", "fee"):  # 万元 / yuan: the money rule of the original value
        cost = parse_cost(text, "value", "yuan" if f == "fee" else "wan")
        got = None if cost is None else str(cost)
    else:
        limit = LIMITS["result" if f == "result" else "followup"]
        got = clean_text(text, "value", limit=limit, multiline=True) or None
    if got is None and f != "followup_note":
        raise ValidationError("value", "required", "a correction needs the new value / 须填写更正后的值")
    return got


def check_reason(reason: str | None) -> str:
    """A correction's reason: required text (the note of its event)."""
    got = clean_text(reason, "reason", limit=LIMITS["note"], multiline=True)
    if not got:
        raise ValidationError("reason", "required", "a correction needs a reason / 更正须填写原因")
    return got


def check_correct_event(from_status: object, to_status: object, note: object, data: object) -> None:
    """A stored ``correct`` event keeps the rules it was written under (the ledger check and the hub
    apply this): the status is unchanged, the field is correctable in that status, the new value is in
    the form :func:`parse_correction` gives it, and the reason is given."""
    if from_status != to_status or not isinstance(from_status, str):
        raise ValidationError(
            "to_status", "correct_keeps_status", "a correction keeps the status / 更正不改变状态"
        )
    if not isinstance(data, dict) or not isinstance(data.get("field"), str) or "new" not in data:
        raise ValidationError(
            "data", "correct_data", "a correction names its field and new value / 更正须写明字段与新值"
        )
    new = data["new"]
    if parse_correction(data["field"], new, from_status) != new or isinstance(new, bool):
        raise ValidationError(
            "value", "correct_form", "the new value is not in its stored form / 更正值格式不符"
        )
    check_reason(note if isinstance(note, str) else None)


# ---- enterprise names -----------------------------------------------------------------------------
# legal-form words that do not tell two enterprises apart (longest first)
_NAME_SUFFIXES = ("股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "集团", "公司", "厂")
SIMILAR_RATIO = 0.8


def name_key(name: str | None) -> str:
    """An enterprise name as compared: NFKC (full-width brackets and letters), no spaces, lower case.
    Two names with the same key are the same name."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or "")).lower()


def name_core(name: str | None) -> str:
    """The distinctive part of a name: its key without the legal-form ending (有限公司, 集团 …)."""
    k = name_key(name)
    for suffix in _NAME_SUFFIXES:
        if k.endswith(suffix) and len(k) > len(suffix):
            return k[: -len(suffix)]
    return k


def similar_name(a: str | None, b: str | None) -> bool:
    """Do two enterprise names look alike (a typo, a missing 有限公司, a short form)? Used to point out a
    near-duplicate registered under another USCC before a save."""
    from difflib import SequenceMatcher

    ca, cb = name_core(a), name_core(b)
    if not ca or not cb:
        return False
    if ca == cb or (min(len(ca), len(cb)) >= 4 and (ca in cb or cb in ca)):
        return True
    return SequenceMatcher(None, ca, cb).ratio() >= SIMILAR_RATIO


def check_former_names(value: str | list[Any] | None, field: str = "former_names") -> list[dict[str, str]]:
    """An enterprise's names before its renames: a JSON array of ``{"name", "until", "by"}``, oldest
    first; each name keeps the enterprise-name text rule."""
    import json

    try:
        items = json.loads(value or "[]") if isinstance(value, str | type(None)) else value
    except ValueError:
        items = None
    if not isinstance(items, list):
        raise ValidationError(field, "json_array", "former names must be a JSON array / 曾用名格式错误")
    out: list[dict[str, str]] = []
    for it in items:
        if not isinstance(it, dict) or set(it) - {"name", "until", "by"}:
            raise ValidationError(
                field, "json_array", "each former name is {name, until, by} / 曾用名格式错误"
            )
        name = clean_text(it.get("name"), "enterprise", required=True)
        until = clean_text(it.get("until"), "until", required=True, limit=40)
        by = clean_text(it.get("by"), "operator")
        out.append({"name": name, "until": until, "by": by})
    return out


def check_outcome(
    to_status: str,
    result: str | None,
    problems_solved: int | None,
    cost_saved: object,
    satisfaction: int | None,
    *,
    history: bool = False,
) -> None:
    """Which outcome fields go with which move: a result, problems solved and cost saved only when
    resolving (a result is required then); a satisfaction rating only on the follow-up (required then).
    Values already parsed (:func:`clean_text`, :func:`parse_non_negative_int`, :func:`parse_cost`,
    :func:`parse_satisfaction`). Every field that does not go with the move is reported at once."""
    errors: list[ValidationError] = []
    if to_status != "resolved" and (result or problems_solved is not None or cost_saved is not None):
        errors.append(
            ValidationError(
                "result",
                "only_on_resolve",
                "outcome fields are given only when resolving / 办理结果仅在办结时填写",
            )
        )
    if satisfaction is not None and to_status != "closed":
        errors.append(
            ValidationError(
                "satisfaction",
                "after_resolved",
                "satisfaction is recorded on the follow-up (closed) only / 满意度仅在回访时填写",
            )
        )
    if to_status == "closed" and satisfaction is None:
        errors.append(
            ValidationError(
                "satisfaction",
                "required",
                "the follow-up needs a satisfaction rating 1..5 / 回访须填写满意度",
            )
        )
    if to_status == "resolved" and not result:
        errors.append(ValidationError("result", "required", "resolving needs a result / 办结须填写办理结果"))
    if to_status == "resolved" and problems_solved is None and not history:
        # an operator resolving today must say how many (0 if none); a paper ledger imported
        # (``history``) that never recorded it keeps it unknown rather than an invented 0
        errors.append(
            ValidationError(
                "problems_solved",
                "required",
                "resolving needs the number of problems solved (0 if none) / 办结须填写解决问题数（无则填0）",
            )
        )
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ValidationErrors(errors)


def parse_charge(charged: bool | None, fee: str | float | Decimal | None) -> tuple[bool, Decimal]:
    """是否收费 / 收费金额 of a resolution: ``fee`` in yuan (≥ 0, at most 2 decimals). A fee implies
    ``charged``; ``charged`` without a fee is refused (how much?), so is a fee with ``charged=False``."""
    amount = parse_cost(fee, "fee")
    if amount is not None and amount > 0 and charged is False:
        raise ValidationError(
            "fee", "not_charged", "a fee is given but the service is not charged / 未收费不应填写收费金额"
        )
    is_charged = bool(charged) or (amount is not None and amount > 0)
    if is_charged and (amount is None or amount == 0):
        raise ValidationError(
            "fee", "required", "a charged service needs its fee (yuan) / 收费服务须填写收费金额（元）"
        )
    return is_charged, amount if amount is not None else Decimal("0.00")


def check_cancel_reason(to_status: str, note: str | None) -> None:
    """A cancellation (取消) says why: its note (the reason, already cleaned by :func:`clean_text`) is
    required. ``request move … cancelled --note``, the TUI's move dialog and ``api.move_request`` all go
    through ``services.ledger.move_request``, which calls this."""
    if to_status == "cancelled" and not note:
        raise ValidationError(
            "note", "required", "a cancellation needs its reason (--note) / 取消须填写原因（备注）"
        )


def check_fee_on_resolve(to_status: str, charged: bool) -> None:
    """A fee (收费金额) is recorded only by a resolution (``request move resolved``, an imported row with
    a 办结日期). ``charged``: a charge or a fee was given at all (checked before the fee itself is read,
    so ``--charged`` on another move says ``only_on_resolve``, not that its fee is missing)."""
    if to_status != "resolved" and charged:
        raise ValidationError(
            "fee", "only_on_resolve", "a fee is recorded only when resolving / 收费金额仅在办结时填写"
        )


#: how far after the received date a promised date may lie (承诺日期): PRODUCT.md sets no limit, a year
#: is far beyond any promise in working days and catches a mistyped year (``--promised 2099-01-01``)
PROMISE_HORIZON_DAYS = 365


def check_promised(promised: date_t, received: date_t) -> date_t:
    """THE rule of a promised date: not before the received date, at most
    :data:`PROMISE_HORIZON_DAYS` after it (``ValidationError("promised", "after_received" | "horizon")``).
    Called by the ledger for the CLI, the form, the API and the spreadsheet import alike."""
    if promised < received:
        raise ValidationError(
            "promised",
            "after_received",
            f"promised date {promised} is before received date {received} / 承诺日期不能早于受理日期",
        )
    last = received + timedelta_t(days=PROMISE_HORIZON_DAYS)
    if promised > last:
        raise ValidationError(
            "promised",
            "horizon",
            f"promised date {promised} is more than {PROMISE_HORIZON_DAYS} days after the received date "
            f"{received} (at most {last}) / 承诺日期不能晚于受理日期一年以上",
        )
    return promised
