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


# What the officer reads, by the verdict's reason code: plain words, no protocol names
# (PA, AA, CA, CSCA stay in the record and the admin tools).
OFFICER_REASONS = {
    "verified": "Thẻ thật, dữ liệu khớp",
    "hash-mismatch": "Dữ liệu chip bị sửa",
    "bad-signature": "Chữ ký trên chip sai",
    "signer-revoked": "Chữ ký của thẻ đã bị thu hồi",
    "active-failed": "Chip giả hoặc bị sao chép",
    "chip-auth-failed": "Chip giả hoặc bị sao chép",
    "clone-suspected": "Nghi chip bị sao chép",
    "qr-chip-mismatch": "QR không khớp chip",
    "untrusted-signer": "Chưa cài chứng thư gốc của Bộ Công an",
    "signer-expired": "Chữ ký của thẻ đã hết hạn",
    "dg-missing": "Chip thiếu dữ liệu",
    "no-chip-proof": "Chưa xác minh được chip thật",
    "check-skipped": "Chưa kiểm tra đủ",
    "no-qr-compare": "Chưa so với mã QR",
    "group-unparsed": "Chip có dữ liệu hỏng",
    "qr-only": "Chỉ đọc được mã QR",
}
# A verified card whose signer the ward approved itself ("pinned DS", trust_path
# "pinned-ds"): always said so, on the verdict page and on the checks page. The verdict
# page's reason keeps the three words on one line of their own.
PINNED_DS = "DS được ghim"
PINNED_REASON = "Thẻ thật,\n" + PINNED_DS
_PASSIVE_DETAIL = {
    "ok": "",
    "hash-mismatch": "dữ liệu bị sửa",
    "bad-signature": "chữ ký sai",
    "untrusted-signer": "chưa cài chứng thư gốc của Bộ Công an",
    "signer-expired": "chữ ký đã hết hạn",
    "signer-revoked": "chữ ký bị thu hồi",
    "not-checked": "chưa kiểm tra",
}
_ADVICE = {
    "qr-chip-mismatch": ErrorKind.CHIP_MISMATCH,
    "hash-mismatch": ErrorKind.CHIP_NOT_GENUINE,
    "bad-signature": ErrorKind.CHIP_NOT_GENUINE,
    "signer-revoked": ErrorKind.CHIP_NOT_GENUINE,
    "active-failed": ErrorKind.CHIP_NOT_GENUINE,
    "chip-auth-failed": ErrorKind.CHIP_NOT_GENUINE,
    "clone-suspected": ErrorKind.CHIP_NOT_GENUINE,
}
# What a missing data group holds, for the officer (DG14/DG15: the chip's keys).
_DG_WORDS = {1: "vùng đọc máy", 2: "ảnh", 13: "thông tin", 14: "khóa chip", 15: "khóa chip"}
# The trust anchor's revocation list ("danh sách thu hồi"): installed and current or not.
_CRL_DETAIL = {"missing": "chưa cài", "expired": "quá hạn"}


def _extra_checks(v: Verification) -> list[Check]:
    """Lines for a data group the chip did not give and for the anchor's CRL."""
    out = []
    if v.missing:
        words = dict.fromkeys(_DG_WORDS.get(n, "một phần") for n in v.missing)
        out.append(Check("Đủ dữ liệu", False, "thiếu " + ", ".join(words)))
    if v.crl is not None:
        crl = v.crl.value
        out.append(
            Check("DS thu hồi", True if crl == "current" else None, _CRL_DETAIL.get(crl, ""))
        )
    return out


def _genuine_check(active: str, chip_auth: str, missing: tuple[int, ...] = ()) -> Check:
    """One line for both proofs that the chip is not a copy (Active / Chip Authentication);
    a chip that leaves out the files holding its keys is a suspected copy."""
    from station.verify.verdict import CLONE_TELLS

    if CLONE_TELLS.intersection(missing):
        return Check("Chip thật", False, "nghi bị sao chép")
    if "failed" in (active, chip_auth):
        return Check("Chip thật", False, "chip giả hoặc bị sao chép")
    if "ok" in (active, chip_auth):
        return Check("Chip thật", True)
    if "not-supported" in (active, chip_auth):
        return Check("Chip thật", None, "không kiểm tra được")
    return Check("Chip thật", None, "chưa kiểm tra")


GROUP_WORDS = {
    "DG1": "Dòng MRZ",
    "DG2": "Ảnh",
    "DG13": "Thông tin",
    "DG14": "Khóa CA",
    "DG15": "Khóa AA",
    "EF.COM": "Mục lục",
}


def _group_label(name: str) -> str:
    """A data group as the officer reads it, with its name: "Ảnh (DG2)"."""
    words = GROUP_WORDS.get(name)
    return f"{words} ({name})" if words else f"Dữ liệu {name}"


def outcome_from_verification(v: Verification) -> Outcome:
    """Verdict, one-line reason and per-check lines for the result pages."""
    from station.verify.verdict import Level

    verdict = {
        Level.VERIFIED: Verdict.VERIFIED,
        Level.FAILED: Verdict.FAILED,
    }.get(v.level, Verdict.ATTENTION)
    passive = v.passive.value
    pinned = v.trust_path == "pinned-ds"
    signature = ", ".join(
        filter(None, (PINNED_DS if pinned else "", _PASSIVE_DETAIL.get(passive, passive)))
    )
    checks = [
        Check("Chữ ký số", True if passive == "ok" else (None if passive in (
            "not-checked", "untrusted-signer", "signer-expired") else False), signature),
        _genuine_check(v.active.value, v.chip_auth.value, v.missing),
    ]  # fmt: skip
    checks += _extra_checks(v)
    if v.qr_chip_match is not None:
        detail = ", ".join(_field_words(m) for m in v.mismatches) + " khác"
        checks.append(Check("QR khớp chip", v.qr_chip_match, "" if v.qr_chip_match else detail))
    checks += [Check(_group_label(name), False, "hỏng, không đọc được") for name in v.unparsed]
    reason = OFFICER_REASONS.get(v.reason_code, v.reason_vi)
    if pinned and v.reason_code == "verified":
        reason = PINNED_REASON
    return Outcome(verdict, reason, tuple(checks), _ADVICE.get(v.reason_code))


# The record's field names as the officer reads them (QR/chip mismatches).
FIELD_NAMES = {
    "id_number": "số định danh",
    "full_name": "họ tên",
    "date_of_birth": "ngày sinh",
    "sex": "giới tính",
    "old_id_number": "số CMND cũ",
    "issue_date": "ngày cấp",
    "place_of_residence": "nơi thường trú",
    "expiry_date": "ngày hết hạn",
}


def _field_words(mismatch: str) -> str:
    """A mismatched field as the officer reads it; the MRZ's marked as such."""
    name = mismatch.removeprefix("mrz.")
    words = FIELD_NAMES.get(name, name)
    return words if name == mismatch else f"{words} (MRZ)"


QR_ONLY_REASONS = {
    "disabled": "Chỉ đọc mã QR",
    "no-chip": "Không thấy chip, chỉ có QR",
    "chip-error": "Chip lỗi, chỉ có QR",
    "reader-gone": "Mất đầu đọc, chỉ có QR",
    "timeout": "Đọc chip quá lâu",
    "verify-error": "Chưa kiểm tra được chip",
    "mrz-disabled": "Chỉ đọc dòng MRZ",
    "mrz-reader-gone": "Mất đầu đọc, chỉ có MRZ",
}


def qr_only_outcome(why: str) -> Outcome:
    """The outcome when the chip gave nothing usable (``why`` is a QR_ONLY_REASONS key)."""
    detail = QR_ONLY_REASONS[why]
    return Outcome(Verdict.ATTENTION, detail, (Check("Chip", None, detail),))


__all__ = [
    "FIELD_NAMES",
    "OFFICER_REASONS",
    "PINNED_DS",
    "PINNED_REASON",
    "QR_ONLY_REASONS",
    "outcome_from_verification",
    "person_from_chip",
    "person_from_qr",
    "qr_only_outcome",
]
