"""Input rules, enforced in the core. Each failure names the field and the rule.

Standard library only; phone numbers (``phonenumbers``) are checked in :mod:`qi_station.services.phones`.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from qi_station.core import domain
from qi_station.core.errors import ValidationError

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


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(code: str, field: str = "uscc") -> str:
    """Return the normalized USCC or raise. Letter-first codes (N…, Y…, A…) are valid."""
    c = (code or "").strip().upper()
    if len(c) != 18:
        raise ValidationError(
            field, "uscc_length", f"USCC must be 18 characters, got {len(c)} / 统一社会信用代码应为18位"
        )
    bad = [ch for ch in c if ch not in _USCC_VALUE]
    if bad:
        raise ValidationError(
            field, "uscc_charset", f"USCC has illegal character {bad[0]!r} (I O S V Z not used) / 含非法字符"
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


def check_region(code: str, field: str = "region") -> str:
    """A Shandong GB/T 2260 region code: exactly six ASCII digits naming a Shandong city or county."""
    c = (code or "").strip()
    if len(c) != 6 or not (c.isascii() and c.isdigit()) or domain.city_of(c) is None:
        raise ValidationError(
            field, "gbt2260", f"not a 6-digit Shandong GB/T 2260 code: {code!r} / 非山东六位行政区划码"
        )
    return c


def clean_text(
    value: str | None,
    field: str,
    *,
    required: bool = False,
    limit: int | None = None,
    multiline: bool = False,
) -> str:
    """Strip, refuse control characters, enforce a length limit."""
    v = (value or "").strip()
    if required and not v:
        raise ValidationError(field, "required", f"{field} is required / 必填")
    lim = limit or LIMITS.get(field, 200)
    if len(v) > lim:
        raise ValidationError(
            field, "max_length", f"{field} is {len(v)} characters, limit {lim} / 超过{lim}字"
        )
    for ch in v:
        if ch in "\n\t" and multiline:
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") and ch not in "\u200d":
            raise ValidationError(
                field, "control_char", f"{field} contains a control character U+{ord(ch):04X} / 含控制字符"
            )
    if multiline:
        v = v.replace("\r\n", "\n")
    return v


def parse_element(value: str, field: str = "element") -> str:
    """One N element, by code or Chinese name -> its code."""
    code = domain.element_code(value)
    if code is None:
        raise ValidationError(
            field, "element", f"unknown element {value!r}; use {', '.join(domain.ELEMENTS)} / 未知服务要素"
        )
    return code


def parse_elements(value: str | list[str] | tuple[str, ...], field: str = "elements") -> list[str]:
    items = re.split(r"[,，、;；\s]+", value) if isinstance(value, str) else list(value)
    out: list[str] = []
    for raw in items:
        if not raw or not raw.strip():
            continue
        code = parse_element(raw, field)
        if code not in out:
            out.append(code)
    if not out:
        raise ValidationError(field, "required", "at least one element is required / 至少选择一项服务要素")
    return out


def check_choice(value: str, choices: tuple[str, ...], field: str) -> str:
    if value not in choices:
        raise ValidationError(field, "choice", f"{value!r} is not one of {', '.join(choices)} / 取值无效")
    return value


def parse_cost(value: str | float | Decimal | None, field: str = "cost_saved") -> Decimal | None:
    """万元, ≥ 0, at most 2 decimals."""
    if value is None or value == "":
        return None
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(field, "number", f"not a number: {value!r} / 应为数字") from None
    if not d.is_finite():
        raise ValidationError(field, "number", f"not a number: {value!r} / 应为数字")
    if d < 0:
        raise ValidationError(field, "non_negative", "must be ≥ 0 / 不能为负数")
    if d > Decimal("99999999.99"):  # before quantize: 1e400 would overflow the context
        raise ValidationError(field, "max", "too large / 数值过大")
    if d != d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP):
        raise ValidationError(field, "decimals", "at most 2 decimal places / 最多两位小数")
    return d.quantize(Decimal("0.01"))


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
    if value is None or value == "":
        return None
    try:
        n = int(str(value).strip())
    except ValueError:
        rev = {v: k for k, v in domain.SATISFACTION_ZH.items()}
        if str(value).strip() in rev:
            return rev[str(value).strip()]
        raise ValidationError(field, "range_1_5", "satisfaction is 1..5 / 满意度为1-5") from None
    if not 1 <= n <= 5:
        raise ValidationError(field, "range_1_5", "satisfaction is 1..5 / 满意度为1-5")
    return n


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
