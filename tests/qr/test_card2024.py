"""The 2024 card's QR: kept raw, an ID and birth date recognised only when unambiguous."""

from __future__ import annotations

import random
from datetime import date

import pytest

from station.icao.access import AccessKeys
from station.qr.card2024 import find_clues
from station.qr.models import QrStatus
from station.qr.payload import parse_payload
from station.sim.citizens import generate

TODAY = date(2026, 11, 26)


def test_a_synthetic_2024_payload_gives_its_id_and_birth_date() -> None:
    citizen = generate(random.Random(24), today=TODAY, generation=2024)
    result = parse_payload(citizen.qr_payload_2024(), today=TODAY)
    assert result.status is QrStatus.UNRECOGNISED and result.identity is None
    assert result.raw_text == citizen.qr_payload_2024()
    assert result.clues is not None
    assert (result.clues.id_number, result.clues.date_of_birth, result.clues.issue_date) == (
        citizen.id_number,
        citizen.date_of_birth,
        citizen.issue_date,
    )


@pytest.mark.parametrize(
    "text",
    [
        "https://example.org/079099012345",  # an ID, no birth date
        "079099012345;15/03/1998",  # the year is not the one the ID encodes
        "079099012345|15031999|001199012345|01012011",  # two ID/birth pairs: ambiguous
        "999099012345|15031999",  # province code 999 does not exist
        "079099012345|15032099",  # a birth in the future
        "0790990123456|15031999",  # 13 digits
    ],
)
def test_ambiguous_or_unchecked_values_give_nothing(text: str) -> None:
    assert find_clues(text, TODAY) is None


def test_clue_keys_follow_the_2023_law() -> None:
    citizen = generate(random.Random(5), today=TODAY, generation=2024)
    clues = find_clues(citizen.qr_payload_2024(), TODAY)
    assert clues is not None
    keys = AccessKeys.from_clues(clues)
    assert keys.can == citizen.id_number[-6:] and keys.can_source == "qr2024-can"
    first = keys.bac[0]
    assert first.key.document_number == citizen.id_number[-9:]
    expected = "<<<<<<" if citizen.expiry_date is None else f"{citizen.expiry_date:%y%m%d}"
    assert (first.source, first.key.date_of_expiry) == ("qr2024-computed", expected)
    milestones = {c.key.date_of_expiry for c in keys.bac if c.source == "qr2024-milestone"}
    born = citizen.date_of_birth
    assert {f"{born.year + a:04d}"[2:] + f"{born:%m%d}" for a in (14, 25, 40, 60)} >= milestones
    assert len({c.key for c in keys.bac}) == len(keys.bac)
