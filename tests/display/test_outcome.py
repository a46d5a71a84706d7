"""Verification -> what the officer sees; every reason fits the verdict page uncut."""

from __future__ import annotations

from datetime import date

import pytest

from station.display.layout import TextOp
from station.display.outcome import (
    OFFICER_REASONS,
    PINNED_DS,
    PINNED_REASON,
    QR_ONLY_REASONS,
    outcome_from_verification,
    person_from_qr,
    qr_only_outcome,
)
from station.display.render import result_pages
from station.display.screens import Check, ErrorKind, Person, ResultScreen, Verdict
from station.qr.models import QrIdentity
from station.verify.passive import CrlState, Passive
from station.verify.verdict import REASONS, Auth, Verification

PERSON = Person("Lê Văn An", date(1990, 1, 2), "Nam", "001090012345")


@pytest.mark.parametrize(
    "reason",
    sorted(
        {*REASONS.values(), *OFFICER_REASONS.values(), *QR_ONLY_REASONS.values(), PINNED_REASON}
    ),
)
@pytest.mark.parametrize("verdict", list(Verdict))
def test_every_reason_fits_the_verdict_page(reason: str, verdict: Verdict) -> None:
    page = result_pages(ResultScreen(verdict, reason, PERSON))[0]
    assert not page.truncated, reason


def test_verified() -> None:
    v = Verification(Passive.OK, Auth.OK, Auth.NOT_SUPPORTED, True)
    out = outcome_from_verification(v)
    assert out.verdict is Verdict.VERIFIED and out.advice is None
    assert out.reason == OFFICER_REASONS["verified"]
    assert [c.ok for c in out.checks] == [True, True, True]  # AA or CA proves the chip


def test_mismatch_is_failed_with_advice() -> None:
    v = Verification(Passive.OK, Auth.OK, Auth.NOT_SUPPORTED, False, mismatches=("date_of_birth",))
    out = outcome_from_verification(v)
    assert out.verdict is Verdict.FAILED and out.advice is ErrorKind.CHIP_MISMATCH
    assert out.checks[-1].ok is False and out.checks[-1].detail == "ngày sinh khác"
    assert out.reason == "QR không khớp chip"


def test_clone_is_failed_not_genuine() -> None:
    v = Verification(Passive.OK, Auth.FAILED, Auth.NOT_SUPPORTED, True)
    out = outcome_from_verification(v)
    assert out.verdict is Verdict.FAILED and out.advice is ErrorKind.CHIP_NOT_GENUINE


def test_untrusted_signer_needs_attention() -> None:
    v = Verification(Passive.UNTRUSTED_SIGNER, Auth.OK, Auth.NOT_SUPPORTED, True)
    out = outcome_from_verification(v)
    assert out.verdict is Verdict.ATTENTION and out.checks[0].ok is None
    assert out.reason == "Chưa cài chứng thư gốc của Bộ Công an"


JARGON = ("PA", "AA", "CA", "CSCA", "SOD", "DG", "RSA", "ECDSA", "BAC", "PACE")


@pytest.mark.parametrize("passive", list(Passive))
@pytest.mark.parametrize("auth", list(Auth))
@pytest.mark.parametrize("match", [True, False, None])
def test_the_officer_reads_no_protocol_names(passive: Passive, auth: Auth, match: bool) -> None:
    """Technical names stay in the record and the admin tools."""
    mismatches = ("full_name", "sex") if match is False else ()
    out = outcome_from_verification(Verification(passive, auth, auth, match, mismatches))
    texts = [out.reason] + [f"{c.label} {c.detail}" for c in out.checks]
    for text in texts:
        words = set(text.replace("(", " ").replace(")", " ").replace(",", " ").split())
        assert not words & set(JARGON), text
        assert "_" not in text, text  # no record field names


def test_qr_only_and_person_from_qr() -> None:
    out = qr_only_outcome("no-chip")
    assert out.verdict is Verdict.ATTENTION and out.reason == QR_ONLY_REASONS["no-chip"]
    ident = QrIdentity(
        "001090012345", None, "Lê Văn An", date(1990, 1, 2), "Nam", None, date(2021, 5, 1)
    )
    assert person_from_qr(ident) == PERSON


def test_suspected_clone_is_failed_and_says_what_is_missing() -> None:
    v = Verification(
        Passive.OK, Auth.NOT_SUPPORTED, Auth.NOT_SUPPORTED, True, missing=(14, 15),
        crl=CrlState.CURRENT,
    )  # fmt: skip
    out = outcome_from_verification(v)
    assert out.verdict is Verdict.FAILED and out.advice is ErrorKind.CHIP_NOT_GENUINE
    assert out.reason == "Nghi chip bị sao chép"
    assert Check("Đủ dữ liệu", False, "thiếu khóa chip") in out.checks
    assert Check("Chip thật", False, "nghi bị sao chép") in out.checks


def test_crl_state_is_on_the_checks_page() -> None:
    for crl, expected in (
        (CrlState.CURRENT, Check("DS thu hồi", True)),
        (CrlState.MISSING, Check("DS thu hồi", None, "chưa cài")),
        (CrlState.EXPIRED, Check("DS thu hồi", None, "quá hạn")),
    ):
        v = Verification(Passive.OK, Auth.OK, Auth.OK, True, crl=crl)
        assert expected in outcome_from_verification(v).checks
    untrusted = Verification(Passive.UNTRUSTED_SIGNER, Auth.OK, Auth.OK, True)
    assert all(c.label != "DS thu hồi" for c in outcome_from_verification(untrusted).checks)


def test_pinned_ds_is_said_on_the_verdict_and_the_checks_page() -> None:
    """A signer the ward approved itself is "verified", always shown as a pinned DS."""
    pinned = Verification(Passive.OK, Auth.OK, Auth.OK, True, trust_path="pinned-ds")
    out = outcome_from_verification(pinned)
    assert out.verdict is Verdict.VERIFIED and out.reason == PINNED_REASON
    assert out.checks[0] == Check("Chữ ký số", True, PINNED_DS)
    pages = result_pages(ResultScreen(out.verdict, out.reason, PERSON, out.checks))
    assert not any(page.truncated for page in pages)
    texts = [" ".join(op.text for op in page.ops if isinstance(op, TextOp)) for page in pages]
    assert PINNED_DS in texts[0]  # the verdict page
    assert f"✓ Chữ ký số: {PINNED_DS}" in texts[-1]  # the checks page
    chained = Verification(Passive.OK, Auth.OK, Auth.OK, True, trust_path="csca")
    out = outcome_from_verification(chained)
    assert out.reason == OFFICER_REASONS["verified"] and out.checks[0] == Check("Chữ ký số", True)
    assert PINNED_DS not in out.reason + " ".join(c.detail for c in out.checks)


def test_a_pinned_ds_card_that_is_not_verified_still_says_pinned() -> None:
    """The verdict page gives what went wrong; the checks page still names the pin."""
    v = Verification(
        Passive.OK, Auth.NOT_SUPPORTED, Auth.NOT_SUPPORTED, True, trust_path="pinned-ds"
    )
    out = outcome_from_verification(v)
    assert out.verdict is Verdict.ATTENTION and out.reason == OFFICER_REASONS["no-chip-proof"]
    assert out.checks[0] == Check("Chữ ký số", True, PINNED_DS)
    expired = Verification(Passive.SIGNER_EXPIRED, Auth.OK, Auth.OK, True, trust_path="pinned-ds")
    assert outcome_from_verification(expired).checks[0] == Check(
        "Chữ ký số", None, f"{PINNED_DS}, chữ ký đã hết hạn"
    )
