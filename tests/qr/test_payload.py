"""CCCD QR payload parsing: the examples from the domain notes and every finding code."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from station.qr import idnumber
from station.qr.models import QrStatus
from station.qr.payload import MESSAGES, parse_payload
from station.sim.citizens import generate_many, variants, vietnamese_letters

TODAY = date(2023, 12, 1)
EXAMPLE = (
    "001099012345|123456789|Nguyễn Văn An|01011999|Nam|"
    "Số 1 Đường Lê Lợi, Phường Bến Nghé, Quận 1, TP Hồ Chí Minh|15062021"
)


def fields(**changes: str) -> str:
    names = ("id", "old", "name", "dob", "sex", "residence", "issue")
    values = dict(zip(names, EXAMPLE.split("|"), strict=True))
    values.update(changes)
    return "|".join(values[n] for n in names)


def codes(findings: tuple[object, ...]) -> list[str]:
    return [f.code for f in findings]  # type: ignore[attr-defined]


def test_full_example() -> None:
    result = parse_payload(EXAMPLE.encode("utf-8"), today=TODAY)
    assert result.status is QrStatus.OK
    assert result.errors == () and result.warnings == ()
    identity = result.identity
    assert identity is not None
    assert identity.id_number == "001099012345"
    assert identity.old_id_number == "123456789"
    assert identity.full_name == "Nguyễn Văn An"
    assert identity.date_of_birth == date(1999, 1, 1)
    assert identity.sex == "Nam"
    assert identity.place_of_residence is not None
    assert identity.place_of_residence.startswith("Số 1 Đường Lê Lợi, Phường")
    assert identity.issue_date == date(2021, 6, 15)
    assert result.raw_text == EXAMPLE


def test_empty_old_id_and_residence_become_none() -> None:
    result = parse_payload("001099012345||Nguyễn Văn A|15031999|Nam||10052021", today=TODAY)
    assert result.status is QrStatus.OK
    assert result.identity is not None
    assert result.identity.old_id_number is None
    assert result.identity.place_of_residence is None
    assert result.identity.to_json()["old_id_number"] is None


def test_twelve_digit_old_id_accepted() -> None:
    result = parse_payload(fields(old="001099012399"), today=TODAY)
    assert result.status is QrStatus.OK
    assert result.identity is not None and result.identity.old_id_number == "001099012399"


def test_decomposed_text_is_normalised_to_nfc() -> None:
    nfd = unicodedata.normalize("NFD", EXAMPLE)
    assert nfd != EXAMPLE
    result = parse_payload(nfd.encode("utf-8"), today=TODAY)
    assert result.status is QrStatus.OK
    assert result.identity is not None
    assert result.identity.full_name == "Nguyễn Văn An"
    assert unicodedata.is_normalized("NFC", result.identity.place_of_residence or "")


def test_whitespace_trimmed_and_collapsed() -> None:
    text = "\ufeff 001099012345 | 123456789 |  Nguyễn   Văn An |01011999| Nam |  |15062021\r\n"
    result = parse_payload(text, today=TODAY)
    assert result.status is QrStatus.OK
    assert result.identity is not None
    assert result.identity.full_name == "Nguyễn Văn An"
    assert result.identity.place_of_residence is None


def test_sex_is_case_insensitive_and_canonical() -> None:
    result = parse_payload(fields(sex="NỮ", id="001399012345"), today=TODAY)
    assert result.status is QrStatus.OK
    assert result.identity is not None and result.identity.sex == "Nữ"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"old": "12345"}, "old_id_format"),
        ({"old": "12345678a"}, "old_id_format"),
        ({"name": ""}, "name_missing"),
        ({"name": "  "}, "name_missing"),
        ({"dob": "1-1-1999"}, "dob_format"),
        ({"dob": "010119"}, "dob_format"),
        ({"dob": "31021999"}, "dob_impossible"),
        ({"dob": "00011999"}, "dob_impossible"),
        ({"dob": "01012030", "id": "001230012345"}, "dob_future"),
        ({"sex": "M"}, "sex_invalid"),
        ({"sex": ""}, "sex_invalid"),
        ({"issue": "2021-06-15"}, "issue_date_format"),
        ({"issue": "29022021"}, "issue_date_impossible"),
        ({"issue": "01012024"}, "issue_date_future"),
        ({"issue": "01011998"}, "issue_before_birth"),
    ],
)
def test_errors(changes: dict[str, str], code: str) -> None:
    result = parse_payload(fields(**changes), today=TODAY)
    assert result.status is QrStatus.INVALID
    assert code in codes(result.errors)
    assert all(f.message == MESSAGES[f.code] for f in result.errors + result.warnings)


def test_relational_errors_keep_identity_field_errors_do_not() -> None:
    between = parse_payload(fields(issue="01011998"), today=TODAY)
    assert between.identity is not None  # every field readable: officer sees the claim
    broken = parse_payload(fields(dob="31021999"), today=TODAY)
    assert broken.identity is None


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"id": "999099012345"}, "id_province_unknown"),
        ({"id": "001199012345"}, "id_sex_mismatch"),
        ({"id": "001098012345"}, "id_birth_year_mismatch"),
        ({"id": "001299012345"}, "id_birth_year_mismatch"),  # century digit says 2099
        ({"issue": "01012010"}, "issue_under_14"),
        ({"issue": "01012019"}, "issue_before_chip_cards"),
        ({"dob": "01031998", "id": "001098012345", "issue": "01022021"}, "card_expired"),
        ({"name": "Nguyễn Văn 2"}, "name_unusual_characters"),
        ({"dob": "01011899", "id": "001099012345", "issue": "01022021"}, "dob_before_1900"),
    ],
)
def test_warnings_keep_status_ok(changes: dict[str, str], code: str) -> None:
    result = parse_payload(fields(**changes), today=TODAY)
    assert code in codes(result.warnings), result
    assert result.status is QrStatus.OK
    assert result.identity is not None


def test_2021_card_issued_under_the_2023_law_is_odd() -> None:
    result = parse_payload(fields(issue="01082024"), today=date(2025, 1, 1))
    assert result.status is QrStatus.OK
    assert "issue_after_2024_law" in codes(result.warnings)


def test_card_not_expired_before_its_legal_expiry() -> None:
    # Born 1960, issued 2021 at 61: no expiry.
    result = parse_payload(fields(dob="01011960", id="001060012345"), today=TODAY)
    assert "card_expired" not in codes(result.warnings)


def test_damaged_utf8_is_invalid_and_never_shows_a_name() -> None:
    data = EXAMPLE.encode("utf-8").replace("Nguyễn".encode(), b"Nguy\xe1\xbb")
    result = parse_payload(data, today=TODAY)
    assert result.status is QrStatus.INVALID
    assert codes(result.errors) == ["damaged_text"]
    assert result.identity is None
    assert "\ufffd" in result.raw_text


def test_replacement_char_in_text_input_is_damage_too() -> None:
    result = parse_payload(fields(name="Nguy\ufffdn Văn An"), today=TODAY)
    assert result.status is QrStatus.INVALID and result.identity is None


def test_control_characters_rejected() -> None:
    result = parse_payload(fields(name="Nguyễn\x00Văn"), today=TODAY)
    assert result.status is QrStatus.INVALID
    assert "control_characters" in codes(result.errors)
    assert result.identity is None


FORMULAS = [
    '=HYPERLINK("http://x.example","An")',
    "+84 Nguyễn",
    "-1+1",
    "@SUM(A1)",
    "\t=cmd' /C calc'!A0",
    "\r=1+1",
    "  =1+1",
    "\u00a0@A1",  # any leading whitespace trimmed still leaves the formula
]


@pytest.mark.parametrize("value", FORMULAS)
@pytest.mark.parametrize("field", ["name", "residence"])
def test_name_or_residence_starting_like_a_formula_is_rejected(field: str, value: str) -> None:
    result = parse_payload(fields(**{field: value}), today=TODAY)
    assert result.status is QrStatus.INVALID and "formula_prefix" in codes(result.errors)
    assert result.identity is None  # never shown, stored or sent as a name/residence


@pytest.mark.parametrize(
    "changes",
    [{"name": "Nguyễn Văn-An"}, {"residence": "Số 1-3 Đường Lê Lợi"}, {"residence": ""}],
)
def test_formula_characters_inside_a_field_are_fine(changes: dict[str, str]) -> None:
    result = parse_payload(fields(**changes), today=TODAY)
    assert "formula_prefix" not in codes(result.errors)


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "https://dichvucong.gov.vn/",
        # The 6-field bug seen in public code: must not shift fields, must not be accepted.
        "001099012345|Nguyễn Văn A|15031999|Nam|Hà Nội|10052021",
        EXAMPLE + "|extra",
        "00109901234|123456789|Nguyễn Văn An|01011999|Nam||15062021",  # 11-digit ID
        "00109901234a|123456789|Nguyễn Văn An|01011999|Nam||15062021",
        "００１０９９０１２３４５||Nguyễn Văn An|01011999|Nam||15062021",  # full-width digits
        "CCCD2024;001099012345;NGUYỄN VĂN AN;CHU_HO=...",
    ],
)
def test_unrecognised_keeps_raw_text(payload: str) -> None:
    result = parse_payload(payload.encode("utf-8"), today=TODAY)
    assert result.status is QrStatus.UNRECOGNISED
    assert result.identity is None
    assert result.raw_text == payload
    assert codes(result.errors)[0] == "unrecognised_payload"


def test_unrecognised_damaged_bytes_flagged() -> None:
    # broken UTF-8 (a sequence cut short); bytes that are no UTF-8 at all are ISO-8859-1
    result = parse_payload(b"garbage \xe1\xbb| more", today=TODAY)
    assert result.status is QrStatus.UNRECOGNISED
    assert codes(result.errors) == ["unrecognised_payload", "damaged_text"]
    assert parse_payload(b"\xff\xfe garbage", today=TODAY).raw_text == "ÿþ garbage"


def test_non_bytes_inputs_never_raise() -> None:
    assert parse_payload(bytearray(EXAMPLE.encode()), today=TODAY).status is QrStatus.OK
    assert parse_payload(memoryview(EXAMPLE.encode()), today=TODAY).status is QrStatus.OK
    weird = parse_payload(12345, today=TODAY)  # type: ignore[arg-type]
    assert weird.status is QrStatus.UNRECOGNISED
    assert codes(weird.errors) == ["parser_failure"]


def test_synthetic_citizens_parse_ok_and_round_trip() -> None:
    for citizen in generate_many(2024, 200, today=TODAY):
        result = parse_payload(citizen.qr_payload().encode("utf-8"), today=TODAY)
        assert result.status is QrStatus.OK, result
        assert result.identity is not None
        assert not {"id_sex_mismatch", "id_birth_year_mismatch", "id_province_unknown"} & set(
            codes(result.warnings)
        )
        assert result.identity.to_json()["id_number"] == citizen.id_number
        assert result.identity.full_name == citizen.full_name
        assert result.identity.date_of_birth == citizen.date_of_birth
        assert result.identity.issue_date == citizen.issue_date
        assert result.identity.place_of_residence == citizen.place_of_residence


@pytest.mark.parametrize("name", sorted(variants(7)))
def test_variants_parse_ok(name: str) -> None:
    citizen = variants(7, today=TODAY)[name]
    result = parse_payload(citizen.qr_payload().encode("utf-8"), today=TODAY)
    assert result.status is QrStatus.OK
    assert result.identity is not None
    assert result.identity.full_name == citizen.full_name
    assert result.identity.old_id_number == citizen.old_id_number
    assert result.identity.place_of_residence == citizen.place_of_residence


def test_long_address_variant_has_every_diacritic() -> None:
    address = variants(7)["long_address"].place_of_residence or ""
    assert len(vietnamese_letters()) == 2 * (12 * 6 + 1)
    assert all(letter in address for letter in vietnamese_letters())


def test_id_structure_helpers() -> None:
    structure = idnumber.split_id("079305001234")
    assert structure.province_name == "Hồ Chí Minh"
    assert (structure.sex, structure.birth_year) == ("Nữ", 2005)
    assert idnumber.id_prefix("001", "Nam", 1999) == "001099"
    assert idnumber.id_prefix("001", "Nữ", 2100) == "001500"
    assert idnumber.document_number("001099012345") == "099012345"
    assert idnumber.card_access_number("001099012345") == "012345"
    assert len(idnumber.PROVINCE_CODES) == 63
    with pytest.raises(ValueError):
        idnumber.split_id("12345")
    with pytest.raises(ValueError):
        idnumber.sex_century_digit("Nam", 1899)
