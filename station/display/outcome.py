"""What the officer sees from a read: ``Person`` from the chip or the QR, and an
``Outcome`` (verdict, short reason, checks) from ``station.verify``'s Verification.

Kept out of the flow so ``station.flow`` stays independent of the chip and verify
packages: the app calls these when it feeds ``ChipDone`` / ``Verified`` events.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from station.display.screens import Check, ErrorKind, Outcome, Person, Verdict
from station.qr.models import QrIdentity

if TYPE_CHECKING:
    from station.icao.result import ChipRead
    from station.verify.verdict import Verification


def person_from_qr(identity: QrIdentity) -> Person:
    return Person(
        identity.full_name,
        identity.date_of_birth,
        identity.sex,
        identity.id_number,
        identity.place_of_residence,
    )


def person_from_chip(read: ChipRead, qr: QrIdentity | None) -> Person | None:
    """The chip's DG13 view of the citizen (QR values fill what the chip lacks)."""
    citizen = read.citizen
    name = citizen.get("full_name") or (qr.full_name if qr else None)
    id_number = citizen.get("id_number") or (qr.id_number if qr else None)
    dob_text = citizen.get("date_of_birth")
    try:
        dob = date.fromisoformat(dob_text) if dob_text else (qr.date_of_birth if qr else None)
    except ValueError:
        dob = qr.date_of_birth if qr else None
    sex = citizen.get("sex") or (qr.sex if qr else "")
    if not name or not id_number or dob is None:
        return None
    residence = citizen.get("place_of_residence") or (qr.place_of_residence if qr else None)
    return Person(name, dob, sex, id_number, residence, citizen.get("place_of_origin"))


_PASSIVE_DETAIL = {
    "ok": "",
    "hash-mismatch": "dữ liệu bị sửa",
    "bad-signature": "chữ ký sai",
    "untrusted-signer": "chưa có chứng thư gốc",
    "signer-expired": "chứng thư hết hạn",
    "signer-revoked": "chứng thư bị thu hồi",
    "not-checked": "chưa kiểm tra",
}
_AUTH_DETAIL = {"ok": "", "failed": "sai", "not-supported": "không hỗ trợ", "not-checked": ""}
_ADVICE = {
    "qr-chip-mismatch": ErrorKind.CHIP_MISMATCH,
    "hash-mismatch": ErrorKind.CHIP_NOT_GENUINE,
    "bad-signature": ErrorKind.CHIP_NOT_GENUINE,
    "signer-revoked": ErrorKind.CHIP_NOT_GENUINE,
    "active-failed": ErrorKind.CHIP_NOT_GENUINE,
    "chip-auth-failed": ErrorKind.CHIP_NOT_GENUINE,
}


def _auth_check(label: str, value: str) -> Check:
    ok = {"ok": True, "failed": False}.get(value)
    return Check(label, ok, _AUTH_DETAIL.get(value, value))


def outcome_from_verification(v: Verification) -> Outcome:
    """Verdict, one-line reason and per-check lines for the result pages."""
    from station.verify.verdict import Level

    verdict = {
        Level.VERIFIED: Verdict.VERIFIED,
        Level.FAILED: Verdict.FAILED,
    }.get(v.level, Verdict.ATTENTION)
    passive = v.passive.value
    checks = [
        Check("Chữ ký chip", True if passive == "ok" else (None if passive in (
            "not-checked", "untrusted-signer", "signer-expired") else False),
            _PASSIVE_DETAIL.get(passive, passive)),
        _auth_check("Chip thật (AA)", v.active.value),
        _auth_check("Chip thật (CA)", v.chip_auth.value),
    ]  # fmt: skip
    if v.qr_chip_match is not None:
        detail = ", ".join(v.mismatches) if v.mismatches else ""
        checks.append(Check("QR khớp chip", v.qr_chip_match, detail))
    return Outcome(verdict, v.reason_vi, tuple(checks), _ADVICE.get(v.reason_code))


QR_ONLY_REASONS = {
    "disabled": "Chỉ đọc mã QR",
    "no-chip": "Không thấy chip, chỉ có QR",
    "chip-error": "Chip lỗi, chỉ có QR",
    "reader-gone": "Mất đầu đọc, chỉ có QR",
    "timeout": "Đọc chip quá lâu",
    "verify-error": "Chưa kiểm tra được chip",
}


def qr_only_outcome(why: str) -> Outcome:
    """The outcome when the chip gave nothing usable (``why`` is a QR_ONLY_REASONS key)."""
    detail = QR_ONLY_REASONS[why]
    return Outcome(Verdict.ATTENTION, detail, (Check("Chip", None, detail),))


__all__ = [
    "QR_ONLY_REASONS",
    "outcome_from_verification",
    "person_from_chip",
    "person_from_qr",
    "qr_only_outcome",
]
