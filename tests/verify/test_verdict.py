"""The verdict rules, exhaustively, and QR/chip agreement."""

from __future__ import annotations

import itertools
import unicodedata
from datetime import date

import pytest

from station.qr.models import QrIdentity
from station.verify.agreement import compare
from station.verify.passive import Passive
from station.verify.verdict import REASONS, Auth, Level, Verification

QR = QrIdentity(
    id_number="001099012345",
    old_id_number=None,
    full_name="Nguyễn Văn An",
    date_of_birth=date(1999, 3, 15),
    sex="Nam",
    place_of_residence="Số 1 Đường Lê Lợi, Phường Bến Nghé",
    issue_date=date(2021, 5, 10),
)
CHIP = {
    "id_number": "001099012345",
    "full_name": "NGUYỄN VĂN AN",
    "date_of_birth": "1999-03-15",
    "sex": "Nam",
    "old_id_number": "",
    "issue_date": "2021-05-10",
    "place_of_residence": "Số 1 Đường Lê Lợi,  Phường Bến Nghé",
    "nationality": "Việt Nam",
}


MISSING = ((), (2,), (14,), (2, 15), (14, 15))


def _all_verdicts():
    for p, a, c, m, gone in itertools.product(Passive, Auth, Auth, (True, False, None), MISSING):
        yield Verification(p, a, c, m, ("full_name",) if m is False else (), missing=gone)


PASSING_AUTH = (Auth.OK, Auth.NOT_SUPPORTED, Auth.SKIPPED)


def test_verified_only_when_everything_passed_and_nothing_skipped() -> None:
    count = 0
    for v in _all_verdicts():
        expected = (
            v.passive is Passive.OK
            and not v.missing
            and v.qr_chip_match is True
            and Auth.OK in (v.active, v.chip_auth)
            and all(x in PASSING_AUTH for x in (v.active, v.chip_auth))
        )
        assert (v.level is Level.VERIFIED) == expected, v
        count += expected
    # (ok, ok), (ok, not-supported), (not-supported, ok), (ok, skipped), (skipped, ok)
    assert count == 5


def test_failed_when_anything_is_provably_wrong() -> None:
    for v in _all_verdicts():
        wrong = (
            v.passive in (Passive.HASH_MISMATCH, Passive.BAD_SIGNATURE, Passive.SIGNER_REVOKED)
            or Auth.FAILED in (v.active, v.chip_auth)
            or v.qr_chip_match is False
            or bool({14, 15} & set(v.missing))  # clone suspected
        )
        assert (v.level is Level.FAILED) == wrong, v
        if not wrong and v.passive is Passive.NOT_CHECKED:
            assert v.level is Level.QR_ONLY
        assert v.reason_vi in REASONS.values() and len(v.reason_vi) <= 26


def test_to_json_shape() -> None:
    v = Verification(Passive.UNTRUSTED_SIGNER, Auth.OK, Auth.NOT_SUPPORTED, True)
    assert v.to_json() == {
        "level": "signed-untrusted",
        "passive": "untrusted-signer",
        "active": "ok",
        "chip_auth": "not-supported",
        "qr_chip_match": True,
        "mismatches": [],
        "signer": None,
        "missing": [],
        "crl": None,
        "trust_path": None,
    }


def test_agreement_normalises_case_nfc_and_spaces() -> None:
    decomposed = dict(CHIP, full_name=unicodedata.normalize("NFD", "nguyễn văn an"))
    result = compare(QR, decomposed)
    assert result.match is True and result.mismatches == ()
    assert compare(QR, dict(CHIP, date_of_birth="15/03/1999")).match is True


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id_number", "001099012346"),
        ("full_name", "Nguyễn Văn Ân"),
        ("date_of_birth", "1999-03-16"),
        ("sex", "Nữ"),
        ("old_id_number", "123456789"),
        ("issue_date", "2021-05-11"),
        ("place_of_residence", ""),
    ],
)
def test_each_field_mismatch_is_listed(field: str, value: str) -> None:
    result = compare(QR, dict(CHIP, **{field: value}))
    assert result.match is False and result.mismatches == (field,)


def test_nothing_to_compare_is_null() -> None:
    assert compare(None, CHIP).match is None
    assert compare(QR, {"sex": "Nam"}).match is None  # MRZ-only read: no ID to compare
