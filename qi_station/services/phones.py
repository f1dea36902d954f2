"""Phone numbers: parse, check and format with ``phonenumbers`` (a third-party rule, so outside the core).

``phonenumbers`` is imported lazily (~30 ms) and never its geocoder.
"""

from __future__ import annotations

import re

from qi_station.core import places
from qi_station.core.errors import ValidationError

LAIWU_OLD = "0634"  # 莱芜's area code until 2019 (now 济南's 0531, numbers gained a leading 7)
#: what a valid number looks like, said with every refusal (an operator who typed a local number needs it)
PHONE_HINT_EN = "a mobile is 11 digits (1…); a landline is its area code and 7-8 digits, e.g. 0535-6688123"
PHONE_HINT_ZH = "手机为11位；固定电话为区号加7-8位号码，如 0535-6688123"


def normalize_phone(
    value: str | None, field: str = "phone", city_code: str | None = None
) -> tuple[str, str] | None:
    """Return (E.164, display) or None for empty.

    A landline typed without its area code (7 or 8 digits) gets the area code of ``city_code`` (the
    caller passes the enterprise's current city, else the station's: ``services.ledger.check_enterprise``);
    a city without one (None) leaves the number as typed. A former 莱芜 number typed with the retired
    0634 is written the way it is dialled since 2019: 0531 and a 7 before the old seven digits."""
    v = (value or "").strip()
    if not v:
        return None
    import phonenumbers  # lazy: ~30 ms, never the geocoder

    digits = re.sub(r"[\s\-()]", "", v)
    if digits.isdigit() and len(digits) == 11 and digits.startswith(LAIWU_OLD):
        digits = "05317" + digits[4:]
    area = places.area_code(city_code)
    if area and digits.isdigit() and len(digits) in (7, 8):
        digits = "0" + area + digits
    try:
        num = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        raise ValidationError(
            field, "phone", f"not a phone number: {v!r}: {PHONE_HINT_EN} / 电话号码无效：{PHONE_HINT_ZH}"
        ) from None
    if not phonenumbers.is_valid_number(num):
        raise ValidationError(
            field,
            "phone",
            f"not a valid phone number: {v!r}: {PHONE_HINT_EN} / 电话号码无效：{PHONE_HINT_ZH}",
        )
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    display = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
    return e164, display
