"""Phone numbers: parse, check and format with ``phonenumbers`` (a third-party rule, so outside the core).

``phonenumbers`` is imported lazily (~30 ms) and never its geocoder.
"""

from __future__ import annotations

import re

from qi_station.core import domain
from qi_station.core.errors import ValidationError


def normalize_phone(
    value: str | None, field: str = "phone", city_code: str | None = None
) -> tuple[str, str] | None:
    """Return (E.164, display) or None for empty. Landlines without area code use the city's."""
    v = (value or "").strip()
    if not v:
        return None
    import phonenumbers  # lazy: ~30 ms, never the geocoder

    digits = re.sub(r"[\s\-()]", "", v)
    if city_code and domain.AREA_CODES.get(city_code) and digits.isdigit() and len(digits) in (7, 8):
        digits = "0" + domain.AREA_CODES[city_code] + digits
    try:
        num = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        raise ValidationError(field, "phone", f"not a phone number: {v!r} / 电话号码无效") from None
    if not phonenumbers.is_valid_number(num):
        raise ValidationError(field, "phone", f"not a valid phone number: {v!r} / 电话号码无效")
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    display = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
    return e164, display
