"""Rules enforced in the core: USCC, phones, text, money, elements, dates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qi_station.core import validate as v
from qi_station.core.errors import ValidationError
from qi_station.services.phones import normalize_phone

VALID = ["91350100M000100Y43", "91110000600037341L", "N2370100MA3C000011"]


@pytest.mark.parametrize("code", VALID)
def test_uscc_valid(code: str) -> None:
    assert v.validate_uscc(code) == code
    assert v.validate_uscc(code.lower()) == code


def _make(first17: str) -> str:
    return first17 + v.uscc_check_char(first17)


@pytest.mark.parametrize("first17", ["Y1371200MA3C00001", "A1370800MA3C00002", "91371200MA3C0XY01"])
def test_uscc_letter_first_and_historic_laiwu(first17: str) -> None:
    code = _make(first17)
    assert v.validate_uscc(code) == code
    assert v.uscc_region(code) in ("371200", "370800")


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("91350100M000100Y44", "uscc_checksum"),
        ("91350100M000100Y4", "uscc_length"),
        ("91350100M000100Y433", "uscc_length"),
        ("", "uscc_length"),
        ("91350100M0001O0Y43", "uscc_charset"),  # letter O is never used
        ("91350100M0001I0Y43", "uscc_charset"),
        ("913501S0M000100Y43", "uscc_charset"),
        ("91ABCDEFM000100Y43", "uscc_region"),
    ],
)
def test_uscc_invalid(code: str, rule: str) -> None:
    with pytest.raises(ValidationError) as e:
        v.validate_uscc(code)
    assert e.value.field == "uscc"
    assert e.value.rule == rule


def test_uscc_weights_follow_the_standard() -> None:
    assert v.USCC_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_phone_normalization() -> None:
    assert normalize_phone("138 1234 5678") == ("+8613812345678", "138 1234 5678")
    assert normalize_phone("0532-8888 6666")[0] == "+8653288886666"
    # an 8-digit local number in Qingdao gets the city's area code
    assert normalize_phone("88886666", city_code="370200")[0] == "+8653288886666"
    assert normalize_phone("") is None
    # a foreign number is shown with its country code; a Chinese one as dialled here
    assert normalize_phone("+44 20 7946 0958") == ("+442079460958", "+44 20 7946 0958")
    assert normalize_phone("+852 2123 4567") == ("+85221234567", "+852 2123 4567")
    assert normalize_phone("+86 531 8888 6666") == ("+8653188886666", "0531 8888 6666")
    # full-width digits are the same number: the old 莱芜 0634 mapping too
    assert normalize_phone("０６３４－６１２３４５６") == normalize_phone("0634-6123456")
    assert normalize_phone("0634-6123456") == ("+8653176123456", "0531 7612 3456")
    # an extension: 转, 分机 or a dash after a whole number, as "ext"; a dash inside a number is not one
    ext = normalize_phone("0531-88886666 ext 123")
    assert ext == ("+8653188886666", "0531 8888 6666 ext. 123")
    for typed in ("0531-88886666转123", "0531-88886666 分机 123", "0531-88886666-123"):
        assert normalize_phone(typed) == ext, typed
    assert normalize_phone("0531-8888666-6") == ("+8653188886666", "0531 8888 6666")
    for bad in ("12345", "abc", "0532-123", "0531转8888"):
        with pytest.raises(ValidationError) as e:
            normalize_phone(bad)
        assert e.value.field == "phone"
        # operator trial: the refusal says what a number looks like, in both languages
        assert "11" in e.value.message and "0535-6688123" in e.value.message.rsplit(" / ", 1)[1]


def test_phone_never_imports_geocoder() -> None:
    import sys

    normalize_phone("13812345678")
    assert "phonenumbers.geocoder" not in sys.modules


@pytest.mark.parametrize("bad", ["a\x00b", "line\x1bx", "zero\u200bwidth", "bidi\u202e"])
def test_control_characters_refused(bad: str) -> None:
    with pytest.raises(ValidationError) as e:
        v.clean_text(bad, "title")
    assert e.value.rule == "control_char"


def test_text_limits_and_multiline() -> None:
    with pytest.raises(ValidationError) as e:
        v.clean_text("字" * 101, "title")
    assert e.value.rule == "max_length" and e.value.field == "title"
    assert v.clean_text("a\nb", "description", multiline=True) == "a\nb"
    with pytest.raises(ValidationError):
        v.clean_text("a\nb", "title")
    assert v.clean_text("  质量😀  ", "title") == "质量😀"  # emoji are text, not control characters
    with pytest.raises(ValidationError) as e:
        v.clean_text("  ", "title", required=True)
    assert e.value.rule == "required"


def test_cost_rules() -> None:
    assert v.parse_cost("1.5") == Decimal("1.50")
    assert v.parse_cost("0") == Decimal("0.00")
    assert v.parse_cost(None) is None
    # as typed: full-width (a Chinese input method) and thousands commas (an operator's stumble)
    assert v.parse_cost("１２００．５") == Decimal("1200.50")
    assert v.parse_cost("1,200.50") == Decimal("1200.50")
    assert v.parse_cost(" 12,345,678 ") == Decimal("12345678.00")
    for zero in ("-0", "-0.00", "-.0", "－０"):  # -0 is stored as 0.00, never "-0.00"
        assert str(v.parse_cost(zero)) == "0.00"
        assert str(v.parse_cost(zero, "fee")) == "0.00"
    assert str(v.parse_charge(None, "-0")[1]) == "0.00"
    for bad, rule in (
        ("1,2", "number"),  # a comma not grouping thousands is never read as a decimal point
        ("0,100", "number"),  # nor is a first group starting with 0 (atkfix 5: it was read as 100.00)
        ("00,100", "number"),
        ("0,100.00", "number"),
        ("1,2000.5", "number"),
        ("-1,200", "non_negative"),
        ("-1", "non_negative"),
        ("1.234", "decimals"),
        ("abc", "number"),
        ("nan", "number"),
        ("1e400", "number"),  # no exponent in money text
        ("1e3", "number"),
        ("1e-2", "number"),
        ("1E3", "number"),
        ("1_000", "number"),
        ("+5", "number"),
        ("+1,200", "number"),
        ("１_０００", "number"),
        ("100000000", "max"),
    ):
        with pytest.raises(ValidationError) as e:
            v.parse_cost(bad)
        assert e.value.rule == rule and e.value.field == "cost_saved"


def test_elements_accept_codes_and_chinese() -> None:
    assert v.parse_elements("标准,计量、检验检测 ip") == ["standards", "metrology", "testing", "ip"]
    assert v.parse_elements("metrology,metrology") == ["metrology"]
    with pytest.raises(ValidationError) as e:
        v.parse_elements("cooking")
    assert e.value.field == "elements"
    with pytest.raises(ValidationError):
        v.parse_elements("")


def test_satisfaction_range() -> None:
    assert v.parse_satisfaction(5) == 5
    assert v.parse_satisfaction("非常不满意") == 1
    for bad in (0, 6, "x"):
        with pytest.raises(ValidationError) as e:
            v.parse_satisfaction(bad)
        assert e.value.rule == "range_1_5"


def test_text_that_is_not_utf8_is_refused_as_encoding() -> None:
    """Bytes that are not UTF-8 on a command line reach Python as lone surrogates: refused [encoding]."""
    for bad in ("\udcff\udcfe济南", "\udcff"):
        with pytest.raises(ValidationError) as e:
            v.clean_text(bad, "title")
        assert e.value.field == "title" and e.value.rule == "encoding"
        assert "UTF-8" in e.value.message and "编码" in e.value.message
        with pytest.raises(ValidationError) as e:
            v.check_encoding(bad, "query")
        assert e.value.rule == "encoding"
    assert v.check_encoding("济南 ok", "query") == "济南 ok"


def test_neutralise_replaces_what_the_text_rule_refuses() -> None:
    """Stored text shown or written (terminal, xlsx, csv, md): the characters check_control_chars refuses
    become U+FFFD; newline and tab are kept in multi-line text; printable text is returned as is."""
    assert v.neutralise("x\x1b]0;PWNED\x07\x1b[2J") == "x\ufffd]0;PWNED\ufffd\ufffd[2J"
    assert v.neutralise("a\udcffb\u202ec\x9b") == "a\ufffdb\ufffdc\ufffd"
    assert v.neutralise("l1\nl2\tz 中文\u3000。") == "l1\nl2\tz 中文\u3000。"
    assert v.neutralise("l1\nl2", multiline=False) == "l1\ufffdl2"
    ok = "济南 ok"
    assert v.neutralise(ok) is ok
    for text in ("a\x07", "\udcff", "\u202e"):  # one rule: what is refused on input is replaced on output
        with pytest.raises(ValidationError):
            v.check_control_chars(text, "note", multiline=True)
        assert "\ufffd" in v.neutralise(text)
