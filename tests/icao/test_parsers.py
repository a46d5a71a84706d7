"""LDS parsers: synthetic files, conformance data made by others, and fuzzing."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.icao import lds, mrz
from station.icao.errors import LdsError
from station.icao.tlv import TlvError, parse_all, tlv, walk
from station.sim.emulator import files as card_files
from tests.icao.support import reference_dir

REF = reference_dir()
needs_reference = pytest.mark.skipif(not REF.is_dir(), reason=f"{REF} missing")


def test_td1_check_digits_and_example_from_domain_notes() -> None:
    text = (
        "IDVNM0990123459001099012345<<09903159M3903157VNM<<<<<<<<<<<0NGUYEN<<VAN<A<<<<<<<<<<<<<<<<<"
    )
    parsed = mrz.parse(text)
    assert parsed.document_number == "099012345" and parsed.date_of_expiry == "390315"
    assert (parsed.surname, parsed.given_names) == ("NGUYEN", "VAN A")
    assert parsed.valid
    broken = mrz.parse(text[:14] + "8" + text[15:])
    assert "document_number" in broken.check_errors


@pytest.mark.parametrize("shape", ["separate", "nested"])
def test_dg13_both_parent_shapes(citizens: Any, shape: Any) -> None:
    citizen = citizens[0]
    parsed = lds.load("DG13", card_files.dg13(citizen, shape))
    assert parsed.parents() == (citizen.father_name, citizen.mother_name)
    assert parsed.text(2) == citizen.full_name and parsed.text(6) == citizen.ethnicity
    assert "16" in parsed.unknown_fields()


def test_dg13_unknown_and_undecodable_fields_kept_raw() -> None:
    odd = tlv(0x30, tlv(0x02, b"\x11") + tlv(0x04, b"\x01\x02"))
    field1 = tlv(0x30, tlv(0x02, b"\x01") + tlv(0x0C, b"001099012345"))
    body = tlv(0x02, b"\x01") + card_files.DG13_OID + tlv(0x31, field1 + odd)
    parsed = lds.load("DG13", tlv(0x6D, tlv(0x30, body)))
    assert parsed.text(1) == "001099012345"
    assert parsed.unknown_fields() == {"17": "04020102"}


def test_dg2_jpeg2000_face(citizens: Any) -> None:
    image = card_files.face_jpeg2000(citizens[1].id_number)
    faces = lds.load("DG2", card_files.dg2(image, True))
    assert faces[0].format == "jpeg2000" and faces[0].data == image
    assert (faces[0].width, faces[0].height) == (300, 400)


def test_errors_name_file_and_offset() -> None:
    with pytest.raises(
        LdsError, match=r"parsing DG1: tag 5F1F declares 16 bytes, only 2 present \(offset 2\)"
    ) as info:
        lds.load("DG1", bytes.fromhex("6105") + b"\x5f\x1f\x10AB")
    assert info.value.file == "DG1"
    with pytest.raises(LdsError, match="outer tag 61, expected 6D"):
        lds.load("DG13", bytes.fromhex("6100"))


@needs_reference
@pytest.mark.parametrize("dataset", ["bsi-tr03105-5", "etsi-tr103200"])
def test_reference_td3_dg1_dg14_sod(dataset: str) -> None:
    folder = REF / dataset
    parsed = lds.load("DG1", (folder / "EF_DG1.bin").read_bytes())
    assert parsed.kind == "TD3" and parsed.valid
    assert (parsed.surname, parsed.given_names) == ("MUSTERMANN", "ERIKA")
    assert parsed.document_number == "C11T002JM"
    dg14 = lds.load("DG14", (folder / "EF_DG14.bin").read_bytes())
    assert [option.agreement for option in dg14.ca_options()] == ["ecdh"]
    sod = (folder / "EF_SOD.bin").read_bytes()
    outer = lds.load("EF.SOD", sod)
    assert outer.tag == 0x77 and len(sod) in (1934, 1940)
    content_info = outer.child(0x30)
    assert content_info.child(0x06).value == bytes.fromhex("2A864886F70D010702")  # signedData


NAMES = ["EF.COM", "DG1", "DG2", "DG13", "DG14", "DG15", "EF.SOD"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), data=st.binary(max_size=400))
def test_fuzz_random_bytes_only_lds_error(name: str, data: bytes) -> None:
    with contextlib.suppress(LdsError):
        lds.load(name, data)


def _mutations() -> st.SearchStrategy[tuple[str, bytes]]:
    from station.sim.citizens import generate_many

    c = generate_many(3, 1)[0]
    seeds = {
        "EF.COM": card_files.ef_com([1, 2, 13]),
        "DG1": card_files.dg1(c),
        "DG13": card_files.dg13(c, "nested"),
        "DG2": card_files.dg2(card_files.face_jpeg(c.id_number, quality=10), False),
    }

    @st.composite
    def mutate(draw: st.DrawFn) -> tuple[str, bytes]:
        name = draw(st.sampled_from(sorted(seeds)))
        data = bytearray(seeds[name])
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(data)))
        return name, bytes(data[: cut or len(data)])

    return mutate()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_mutations())
def test_fuzz_mutated_files_only_lds_error(case: tuple[str, bytes]) -> None:
    name, data = case
    with contextlib.suppress(LdsError):
        lds.load(name, data)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_fuzz_tlv_only_tlv_error(data: bytes) -> None:
    try:
        for item in walk(data):
            assert item.end <= len(data) + item.offset
        parse_all(data)
    except TlvError:
        pass


def test_tlv_never_trusts_a_length() -> None:
    with pytest.raises(TlvError, match="declares 4294967295 bytes"):
        parse_all(bytes.fromhex("7584FFFFFFFF00"))
    with pytest.raises(TlvError, match="nesting too deep"):
        list(walk(bytes.fromhex("30") * 1 + _deep(40)))


def _deep(levels: int) -> bytes:
    inner = b""
    for _ in range(levels):
        inner = tlv(0x30, inner)
    return inner[1:]


def test_reference_folder_location() -> None:
    assert REF.name == "reference" and REF.parent.name == "data" and REF.is_dir()
    assert isinstance(REF, Path)
