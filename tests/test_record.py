"""The record builder: a QR-only record after a failed chip says why, at level qr-only."""

from __future__ import annotations

import uuid

import pytest

from station.qr.payload import parse_payload
from station.record import CHIP_NOT_VERIFIED, build_record, qr_only_verification
from station.sim.citizens import generate_many
from station.verify.passive import Passive
from station.verify.verdict import Auth, Verification

QR = parse_payload(generate_many(3, 1)[0].qr_payload())


@pytest.mark.parametrize("code", sorted(CHIP_NOT_VERIFIED))
def test_chip_failure_gives_level_qr_only_and_the_reason_as_a_warning(code: str) -> None:
    record = build_record(QR, station_id="st-1", chip_failure=code)
    assert record["verification"] == qr_only_verification()
    assert record["verification"]["level"] == "qr-only"
    assert record["warnings"][-1] == {"code": code, "message": CHIP_NOT_VERIFIED[code]}
    assert record["source"] == "qr" and record["status"] == "ok"


def test_qr_only_verification_has_the_keys_of_a_real_one() -> None:
    real = Verification(Passive.NOT_CHECKED, Auth.NOT_CHECKED, Auth.NOT_CHECKED, None).to_json()
    assert real == qr_only_verification()


def test_a_verified_read_carries_no_failure_warning() -> None:
    verification = Verification(Passive.OK, Auth.OK, Auth.OK, True)
    record = build_record(QR, station_id="st-1", verification=verification)
    assert record["verification"]["level"] == "verified"
    assert not [w for w in record["warnings"] if w["code"] in CHIP_NOT_VERIFIED]


def test_no_qr_no_chip_attempt_no_verification() -> None:
    record = build_record(None, station_id="st-1")
    assert "verification" not in record


def test_readme_documents_every_warning_code() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for code in CHIP_NOT_VERIFIED:
        assert f"| `{code}` |" in readme, code


def test_record_ids_are_random_version_4_uuids() -> None:
    from station.record import RECORD_ID, new_record_id

    ids = [new_record_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert RECORD_ID.fullmatch(text) and str(parsed) == text
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
