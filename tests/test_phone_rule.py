"""THE phone rule (operator test rep4): ``phonenumbers``' validity plus a landline's local number starting
with 2-9; ``0531-8888``, ``05318888`` and ``12345678`` typed at a 济南 station were stored as
+8653105318888 / +8653112345678 (the station's area code put before them). A refusal names the field
(联系电话 / phone) and the rule; valid numbers, the demo data and the generator's numbers pass."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from qi_station.core.errors import ValidationError
from qi_station.services.phones import normalize_phone

JINAN = "370100"


@pytest.mark.parametrize("city", [None, JINAN])
@pytest.mark.parametrize(
    "bad", ["0531-8888", "05318888", "12345678", "0531-12345678", "0531-05318888", "1234567"]
)
def test_impossible_numbers_are_refused(bad: str, city: str | None) -> None:
    with pytest.raises(ValidationError) as e:
        normalize_phone(bad, city_code=city)
    assert (e.value.field, e.value.rule) == ("phone", "phone")
    en, zh = e.value.message.rsplit(" / ", 1)
    assert en.startswith(f"{bad!r} is not a valid phone number")  # the field is named once, in front
    assert str(e.value).startswith(f"phone: {bad!r} is not a valid phone number")
    assert zh.startswith(f"联系电话「{bad}」无效（") and "0535-6688123" in zh


@pytest.mark.parametrize(
    ("typed", "city", "e164"),
    [
        ("0531-88888888", None, "+8653188888888"),
        ("88888888", JINAN, "+8653188888888"),
        ("13812345678", None, "+8613812345678"),
        ("400-800-1234", JINAN, "+864008001234"),
        ("0535-6688123", None, "+865356688123"),
        ("0634-6123456", None, "+8653176123456"),  # a former 莱芜 number, dialled via 0531 since 2019
        ("010-65123456", None, "+861065123456"),
    ],
)
def test_valid_numbers_stay_accepted(typed: str, city: str | None, e164: str) -> None:
    got = normalize_phone(typed, city_code=city)
    assert got is not None and got[0] == e164


def test_the_generators_numbers_pass_the_rule() -> None:
    from qi_station.core import places
    from qi_station.devtools.generate.fields import landline, mobile

    rng = random.Random(7)
    for _ in range(300):
        e164, display = mobile(rng)
        assert normalize_phone(display) == (e164, display)
    for city in places.CITIES:
        for _ in range(100):
            e164, display = landline(rng, city)
            assert normalize_phone(display)[0] == e164, display  # type: ignore[index]


def test_the_demo_enterprises_pass_the_rule() -> None:
    path = Path(__file__).resolve().parents[1] / "data" / "demo" / "enterprises.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    ents = raw["enterprises"] if isinstance(raw, dict) else raw
    phones = [e["phone"] for e in ents if e.get("phone")]
    assert phones
    for p in phones:
        normalize_phone(p)


def test_an_import_names_the_row_of_a_bad_phone(db: Path, tmp_path: Path) -> None:
    from test_import import ROW1, ROW2, counts, gbk_csv

    from qi_station.services.importer import ImportRefused, import_ledger
    from qi_station.services.station import init_station

    init_station(db, code="QI0001", name="测试工作站", region_code=JINAN)
    f = gbk_csv(
        tmp_path / "台账.csv",
        ROW1,
        ROW2.replace("0532-88886666", "0531-8888"),
        ROW1.replace("13812345678", "12345678"),
    )
    before = counts(db)
    with pytest.raises(ImportRefused) as e:
        import_ledger(db, f)
    assert counts(db) == before
    got = [(r["row"], r["column"], r["field"], r["rule"]) for r in e.value.summary["refused"]]
    assert got == [(3, "联系电话", "phone", "phone"), (4, "联系电话", "phone", "phone")]
