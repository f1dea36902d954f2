"""Phone numbers: parse, check and format with ``phonenumbers`` (a third-party rule, so outside the core).

``phonenumbers`` is imported lazily (~30 ms) and never its geocoder.
"""

from __future__ import annotations

import re
import unicodedata

from qi_station.core import places
from qi_station.core.errors import ValidationError

LAIWU_OLD = "0634"  # 莱芜's area code until 2019 (now 济南's 0531, numbers gained a leading 7)
#: what a valid number looks like, said with every refusal (an operator who typed a local number needs it)
PHONE_HINT_EN = (
    "a mobile is 11 digits (1…); a landline is its area code and 7-8 digits (2-9 first), e.g. 0535-6688123"
)
#: a number and its extension: ``转123``, ``分机123``, or ``-123`` after a whole number
_EXTENSION = re.compile(r"(.*\d)\s*(转|分机|-)\s*(\d{1,6})")
PHONE_HINT_ZH = "手机为11位；固定电话为区号加7-8位号码（首位2-9），如 0535-6688123"


#: a phone field by name in the refusal (English, Chinese): the enterprise's contact phone by default
_FIELD_NAMES = {"phone": ("phone", "联系电话")}


def _refuse(field: str, v: str, why_en: str, why_zh: str) -> ValidationError:
    en, zh = _FIELD_NAMES.get(field, (field, field))
    return ValidationError(
        field,
        "phone",
        f"{en} {v!r} is not a valid phone number ({why_en}): {PHONE_HINT_EN} / "
        f"{zh}「{v}」无效（{why_zh}） {PHONE_HINT_ZH}",  # a space: a form wraps there at 80 columns
    )


def normalize_phone(
    value: str | None, field: str = "phone", city_code: str | None = None
) -> tuple[str, str] | None:
    """Return (E.164, display) or None for empty.

    THE phone rule: a number ``phonenumbers`` finds valid (``is_valid_number``, parsed for region CN: a
    mobile, a landline, a 400/800 number; a foreign one typed with its +country code), whose local number after a landline's area code starts
    with 2-9 (0 is the trunk prefix and 1 the special services: ``phonenumbers`` lets ``0531-05318888``
    and ``0531-12345678`` through). A refusal names the field (联系电话 / phone) and the rule.

    A landline typed without its area code (7 or 8 digits, 2-9 first) gets the area code of
    ``city_code`` (the caller passes the enterprise's current city, else the station's:
    ``services.ledger.check_enterprise``); a city without one (None) leaves the number as typed. A
    former 莱芜 number typed with the retired 0634 is written the way it is dialled since 2019: 0531
    and a 7 before the old seven digits. The display is a Chinese number's national form (``0531 8888
    6666``), a foreign number's international one (``+44 20 7946 0958``): never without its country code."""
    v = (value or "").strip()
    if not v:
        return None
    import phonenumbers  # lazy: ~30 ms, never the geocoder

    typed = unicodedata.normalize("NFKC", v)  # full-width ０６３４－６１２３４５６ as half-width
    extension = ""
    ext = _EXTENSION.fullmatch(typed)
    if ext:
        head = re.sub(r"[\s\-()]", "", ext[1])
        # 转/分机 always; a dash only after a whole number (longer than any number dialled here, 12)
        if ext[2] != "-" or (len(head) >= 10 and len(head) + len(ext[3]) > 12):
            typed, extension = ext[1], ext[3]
    digits = re.sub(r"[\s\-()]", "", typed)
    if digits.isdigit() and len(digits) == 11 and digits.startswith(LAIWU_OLD):
        digits = "05317" + digits[4:]
    area = places.area_code(city_code)
    if area and digits.isdigit() and len(digits) in (7, 8) and digits[0] not in "01":
        digits = "0" + area + digits
    if extension:
        digits += "ext" + extension
    try:
        num = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        raise _refuse(field, v, "not a phone number", "不是电话号码") from None
    if not phonenumbers.is_valid_number(num):
        raise _refuse(field, v, "no such number", "无此号码")
    area_len = phonenumbers.length_of_geographical_area_code(num)
    if area_len and phonenumbers.national_significant_number(num)[area_len] in "01":
        raise _refuse(
            field,
            v,
            "a local number never starts with 0 or 1 after the area code",
            "区号后的本地号码不以0或1开头",
        )
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    # a Chinese number as dialled here (0531 8888 6666); a foreign one keeps its country code (+44 …)
    shown = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if num.country_code == 86
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    display = phonenumbers.format_number(num, shown)
    return e164, display
