"""Property-based tests of the payload parser: any input gets a status, never an exception."""

from __future__ import annotations

import random
import unicodedata
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from station.qr.idnumber import is_id_number
from station.qr.models import QrStatus
from station.qr.payload import MESSAGES, parse_payload
from station.record import qr_record, to_json_line
from station.sim.citizens import generate

TODAY = date(2024, 6, 30)
SETTINGS = settings(max_examples=300, deadline=None)

# Text drawn from what a payload is made of, so that broken payloads reach every check.
payload_chars = st.sampled_from(
    list("0123456789|| ,/-.") + list("NguyễnVănAĐườngLêLợiNamNữ") + ["\ufffd", "\x00", "\u0301"]
)
citizens = st.integers(min_value=0, max_value=2**32).map(
    lambda seed: generate(random.Random(seed), today=TODAY)
)


def assert_well_formed(data: bytes | str) -> None:
    result = parse_payload(data, today=TODAY)
    assert isinstance(result.status, QrStatus)
    assert result.status is not QrStatus.NO_QR
    for finding in result.errors + result.warnings:
        assert finding.message == MESSAGES[finding.code]
    if result.status is QrStatus.OK:
        assert result.identity is not None and result.errors == ()
    if result.status is QrStatus.UNRECOGNISED:
        assert result.identity is None and result.errors
    if result.status is QrStatus.INVALID:
        assert result.errors
    if result.identity is not None:
        assert "\ufffd" not in result.identity.full_name
    # Whatever the outcome, it makes a record that serialises.
    to_json_line(qr_record(result, station_id="test"))


@SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes(data: bytes) -> None:
    assert_well_formed(data)


@SETTINGS
@given(st.text(max_size=300))
def test_any_text(text: str) -> None:
    assert_well_formed(text)


@SETTINGS
@given(st.text(payload_chars, max_size=200))
def test_payload_like_text(text: str) -> None:
    assert_well_formed(text)


@SETTINGS
@given(citizens)
def test_generated_citizens_round_trip(citizen: object) -> None:
    payload = citizen.qr_payload()  # type: ignore[attr-defined]
    for form in ("NFC", "NFD"):
        data = unicodedata.normalize(form, payload).encode("utf-8")
        result = parse_payload(data, today=TODAY)
        assert result.status is QrStatus.OK, result
        assert result.identity is not None
        assert result.identity.to_json() == {
            "id_number": citizen.id_number,  # type: ignore[attr-defined]
            "old_id_number": citizen.old_id_number,  # type: ignore[attr-defined]
            "full_name": citizen.full_name,  # type: ignore[attr-defined]
            "date_of_birth": citizen.date_of_birth.isoformat(),  # type: ignore[attr-defined]
            "sex": citizen.sex,  # type: ignore[attr-defined]
            "place_of_residence": citizen.place_of_residence,  # type: ignore[attr-defined]
            "issue_date": citizen.issue_date.isoformat(),  # type: ignore[attr-defined]
        }


@SETTINGS
@given(citizens, st.integers(min_value=0, max_value=6), st.text(payload_chars, max_size=30))
def test_one_field_broken_keeps_the_shape(citizen: object, index: int, junk: str) -> None:
    fields = citizen.qr_payload().split("|")  # type: ignore[attr-defined]
    fields[index] = junk.replace("|", "")
    result = parse_payload("|".join(fields), today=TODAY)
    if index == 0 and not is_id_number(unicodedata.normalize("NFC", fields[0]).strip()):
        assert result.status is QrStatus.UNRECOGNISED
    else:
        assert result.status in (QrStatus.OK, QrStatus.INVALID)


@SETTINGS
@given(citizens, st.data())
def test_truncated_or_corrupted_bytes(citizen: object, data: st.DataObject) -> None:
    raw = bytearray(citizen.qr_payload().encode("utf-8"))  # type: ignore[attr-defined]
    cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
    flips = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw) - 1), max_size=4))
    for position in flips:
        raw[position] ^= 0xA5
    assert_well_formed(bytes(raw[:cut]))
    assert_well_formed(bytes(raw))
