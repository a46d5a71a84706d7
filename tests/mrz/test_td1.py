"""TD1 parsing: check digits against ICAO's examples, the Vietnamese layout, correction."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.icao import mrz as icao_mrz
from station.mrz.td1 import (
    CHARSET,
    ICAO,
    VN,
    check_digit,
    correct_line,
    layout_for_head,
    name_plausible,
    parse_lines,
    parse_text,
)
from station.sim.backs import ICAO_SPECIMEN

# shared/domain/cccd.md's synthetic example
VN_LINES = (
    "IDVNM0990123459001099012345<<0",
    "9903159M3903157VNM<<<<<<<<<<<0",
    "NGUYEN<<VAN<A<<<<<<<<<<<<<<<<<",
)


def test_check_digits_of_the_icao_examples() -> None:
    # ICAO 9303-11 appendix D: MRZ_information L898902C<3 690806 1 940623 6
    assert (check_digit("L898902C<"), check_digit("690806"), check_digit("940623")) == (
        "3",
        "1",
        "6",
    )
    assert check_digit("D23145890") == "7" and check_digit("740812") == "2"
    assert icao_mrz.check_digit is check_digit  # one implementation
    with pytest.raises(ValueError):
        check_digit("a")


def test_the_vietnamese_example_parses_with_every_check() -> None:
    parsed = parse_lines(VN_LINES)
    assert parsed.ok and parsed.layout == "VN" and parsed.reason == ""
    assert dict(parsed.checks) == dict.fromkeys(
        ("document_number", "id_number", "date_of_birth", "date_of_expiry", "composite"), True
    )
    assert parsed.id_number == "001099012345" and parsed.document_number == "099012345"
    assert parsed.access_key() == ("099012345", "990315", "390315")
    assert parsed.birth_date() == date(1999, 3, 15) and parsed.expiry_date() == date(2039, 3, 15)
    assert parsed.name_unverified == ("NGUYEN", "VAN A") and parsed.name_plausible
    fields = parsed.to_json()["fields"]
    assert fields["name_unverified"] == {"surname": "NGUYEN", "given_names": "VAN A"}
    assert parse_text("|".join(VN_LINES)).lines == VN_LINES
    assert parse_text("".join(VN_LINES)).ok


def test_the_icao_specimen_parses_with_the_generic_layout() -> None:
    parsed = parse_lines(ICAO_SPECIMEN)
    assert parsed.ok and parsed.layout == "ICAO" and parsed.id_number is None
    assert parsed.access_key() == ("D23145890", "740812", "120415")
    assert icao_mrz.parse_td1("".join(ICAO_SPECIMEN)).valid
    assert not parse_lines(ICAO_SPECIMEN, VN).ok  # not a Vietnamese card


def test_no_expiry_is_six_fillers() -> None:
    text = icao_mrz.make_td1(
        document_number="099012345", optional_data="001099012345<<0", date_of_birth="990315",
        sex="M", date_of_expiry="", surname="NGUYEN", given_names="VAN A",
    )  # fmt: skip
    parsed = parse_text(text)
    assert parsed.ok and parsed.date_of_expiry == "" and parsed.expiry_date() is None
    assert parsed.access_key()[2] == "<<<<<<"


@pytest.mark.parametrize(
    ("line", "position", "char", "why"),
    [
        (0, 7, "8", "document_number check digit"),
        (0, 16, "2", "id_number check digit"),
        (1, 2, "1", "date_of_birth check digit"),
        (1, 10, "9", "date_of_expiry check digit"),
        (0, 20, "8", "the ID's birth year disagrees"),
        (1, 7, "F", "the ID's sex digit disagrees"),
        (1, 20, "K", "not in <"),  # '<' read as K: invisible to the composite check digit
        (0, 27, "K", "not in <"),
    ],
)
def test_a_wrong_character_never_passes(line: int, position: int, char: str, why: str) -> None:
    lines = list(VN_LINES)
    lines[line] = lines[line][:position] + char + lines[line][position + 1 :]
    parsed = parse_lines(lines, correct=False)
    assert not parsed.ok
    assert any(why in failure for failure in parsed.failures), parsed.failures


def test_document_number_must_end_the_id() -> None:
    lines = list(VN_LINES)
    lines[0] = "IDVNM0990123459001199012345<<0"  # ID changed, its check no longer the same
    parsed = parse_lines(lines, correct=False)
    assert not parsed.ok and "last 9 digits" in parsed.reason


def test_correction_only_where_the_class_decides() -> None:
    assert correct_line("O9OI2345B", "d" * 9) == ("090123458", 4)
    assert correct_line("NGUY3N", "n" * 6) == ("NGUY3N", 0)  # 3 has no letter look-alike
    assert correct_line("KK", "ff") == ("<<", 2)
    assert correct_line("1DVNM", "IDVNM") == ("IDVNM", 1)
    assert correct_line("XDVNM", "IDVNM") == ("XDVNM", 0)  # not a known look-alike
    read = ["1DVNMO99O1234590010990123 45KK0", VN_LINES[1].replace("0", "O", 1), VN_LINES[2]]
    parsed = parse_lines(read)
    assert parsed.ok and parsed.lines == VN_LINES and parsed.corrections == 6


@settings(max_examples=300, deadline=None)
@given(
    line=st.integers(0, 1),
    position=st.integers(0, 29),
    char=st.sampled_from(CHARSET),
    correct=st.booleans(),
)
def test_one_misread_character_is_never_a_wrong_usable_key(
    line: int, position: int, char: str, correct: bool
) -> None:
    """Any single substitution in the checked lines is caught, corrected back, or outside
    the key (a misread literal makes it an ICAO document: the same key)."""
    lines = list(VN_LINES)
    lines[line] = lines[line][:position] + char + lines[line][position + 1 :]
    parsed = parse_lines(lines, correct=correct)
    assert not parsed.ok or parsed.access_key() == parse_lines(VN_LINES).access_key()
    if parsed.ok and parsed.layout == "VN":
        assert parsed.lines == VN_LINES


def test_malformed_input_is_a_reason_not_an_exception() -> None:
    assert parse_lines(["IDVNM"]).reason == "1 lines, a TD1 MRZ has 3"
    short = parse_lines([VN_LINES[0][:29], VN_LINES[1], VN_LINES[2]])
    assert not short.ok and "29 characters" in short.reason
    assert not parse_text("ÄÖ|x|y").ok
    assert ICAO.allowed(1, 7) == "MF<" and VN.allowed(0, 0) == "I"


def test_name_plausibility_is_a_heuristic() -> None:
    assert name_plausible("TRAN<<THI<NGOC<ANH<<<<<<<<<<<<")
    assert not name_plausible("TRAN<<THI<NGDC<ANH<<<<<<<<<<<<")  # O read as D
    assert not name_plausible("ERIKSSON<<ANNA<MARIA<<<<<<<<<<")  # foreign names fail it


def test_the_layout_is_vietnamese_with_at_most_one_look_alike_in_idvnm() -> None:
    assert layout_for_head("IDVNM") is VN
    assert layout_for_head("IOVNM") is VN  # a thin D read as O
    assert layout_for_head("LDVNM") is VN
    assert layout_for_head("IOVHM") is ICAO  # two look-alikes: another document's header
    assert layout_for_head("I<UTO") is ICAO and layout_for_head("") is ICAO
    # a typed MRZ follows the same rule
    assert parse_lines(["IOVNM" + VN_LINES[0][5:], *VN_LINES[1:]]).layout == "VN"
    assert parse_lines(["IOVHM" + VN_LINES[0][5:], *VN_LINES[1:]]).layout == "ICAO"
