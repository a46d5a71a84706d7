"""The verdict: the record's ``"verification"`` object and what the officer sees.

Levels: ``verified`` only when every check ran and passed: Passive Authentication ok,
the chip proved its key (Chip or Active Authentication ok, and neither of them failed
or was skipped while possible), QR and chip agree. ``failed`` when something is
provably wrong (altered data, bad or revoked signature, failed AA/CA, QR/chip
mismatch, a suspected clone). ``qr-only`` when the chip was not verified at all.
Everything else is ``signed-untrusted``: genuine-looking but not proven (untrusted
signer, a card issued after its signer's key period, a data group the SOD lists that
the chip did not give, a skipped check, DG1 or DG13 whose hashed bytes do not parse).

``unparsed``: groups read (and hash-checked by Passive Authentication) whose structure
does not parse. For DG1 or DG13, the identity groups, that is ``group-unparsed``; for any
other group (the face in DG2, say) it is a note and the level is unaffected.

``missing``: data groups the SOD lists that the chip did not give although the station
asked for them (refused, absent; or left out of EF.COM, when the SOD's own list could not
be used to decide what to read). A genuine chip gives every file
its SOD lists (DG3, behind Extended Access Control, is never asked for). A missing DG14
or DG15 is ``clone-suspected``: a copy of the signed files cannot hold the chip's
private keys, so a clone leaves out the files that would let the station test them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from station.verify.passive import CrlState, Passive, Signer, TrustPath


class Level(StrEnum):
    VERIFIED = "verified"
    SIGNED_UNTRUSTED = "signed-untrusted"
    QR_ONLY = "qr-only"
    FAILED = "failed"


class Auth(StrEnum):
    OK = "ok"
    FAILED = "failed"
    NOT_SUPPORTED = "not-supported"
    SKIPPED = "skipped"  # not run: the other proof passed (AA after a passed CA)
    NOT_CHECKED = "not-checked"


@dataclass(frozen=True)
class AuthOutcome:
    """How Active or Chip Authentication ended, and why (English, for the findings)."""

    status: Auth
    detail: str


# DG14 (Chip Authentication key) and DG15 (Active Authentication key): a chip that
# leaves out either one while its SOD lists it is suspected to be a copy.
CLONE_TELLS = frozenset({14, 15})

# DG1 (MRZ) and DG13 (the card's identity fields): the groups the identity comes from. One
# of them unparsed lowers the verdict; any other group that does not parse (DG2's face,
# DG14/DG15, whose failures show as CA/AA) is only a note on the checks page.
IDENTITY_GROUPS = frozenset({"DG1", "DG13"})

_FAILING_PASSIVE = (Passive.HASH_MISMATCH, Passive.BAD_SIGNATURE, Passive.SIGNER_REVOKED)

# (code, Vietnamese one-liner for the OLED), most important first.
REASONS = {
    "verified": "Thẻ thật, dữ liệu khớp",
    "hash-mismatch": "Dữ liệu chip bị sửa",
    "bad-signature": "Chữ ký số sai",
    "signer-revoked": "Chứng thư ký bị thu hồi",
    "active-failed": "Chip không xác thực (AA)",
    "chip-auth-failed": "Chip không xác thực (CA)",
    "clone-suspected": "Nghi chip bị sao chép",
    "qr-chip-mismatch": "QR và chip không khớp",
    "untrusted-signer": "Chưa có chứng thư gốc",
    "signer-expired": "Chứng thư ký hết hạn",
    "dg-missing": "Chip thiếu dữ liệu",
    "no-chip-proof": "Chưa xác thực được chip",
    "check-skipped": "Chưa kiểm tra đủ",
    "no-qr-compare": "Chưa so khớp với QR",
    "group-unparsed": "Có nhóm dữ liệu hỏng",
    "qr-only": "Chỉ đọc được mã QR",
}


@dataclass(frozen=True)
class Verification:
    passive: Passive
    active: Auth
    chip_auth: Auth
    qr_chip_match: bool | None
    mismatches: tuple[str, ...] = ()
    signer: Signer | None = None
    findings: tuple[str, ...] = ()  # English details (admin tool, logs); no personal data
    missing: tuple[int, ...] = ()  # data groups the SOD lists that the chip did not give
    crl: CrlState | None = None  # the trust anchor's CRL (None: no anchor found)
    trust_path: TrustPath | None = None  # how the signer was trusted (see passive)
    unparsed: tuple[str, ...] = ()  # groups read that could not be parsed (hashes still checked)
    # why Active Authentication did not run although the chip may support it: "chip-auth"
    # (Chip Authentication passed, which supersedes AA: DG15 was not read)
    active_skipped: str | None = None

    @property
    def reason_code(self) -> str:
        return _reason(self)

    @property
    def level(self) -> Level:
        code = self.reason_code
        if code == "verified":
            return Level.VERIFIED
        if code in (
            "hash-mismatch",
            "bad-signature",
            "signer-revoked",
            "active-failed",
            "chip-auth-failed",
            "clone-suspected",
            "qr-chip-mismatch",
        ):
            return Level.FAILED
        if self.passive is Passive.NOT_CHECKED:
            return Level.QR_ONLY
        return Level.SIGNED_UNTRUSTED

    @property
    def reason_vi(self) -> str:
        """One short Vietnamese line for the OLED."""
        return REASONS[self.reason_code]

    def to_json(self) -> dict[str, Any]:
        """The record's ``"verification"`` object."""
        return {
            "level": self.level.value,
            "passive": self.passive.value,
            "active": self.active.value,
            "chip_auth": self.chip_auth.value,
            "qr_chip_match": self.qr_chip_match,
            "mismatches": list(self.mismatches),
            "signer": None if self.signer is None else self.signer.to_json(),
            "missing": [f"DG{n}" for n in self.missing],
            "crl": None if self.crl is None else self.crl.value,
            "trust_path": self.trust_path,
            **({"unparsed": list(self.unparsed)} if self.unparsed else {}),
            **({"active_skipped": self.active_skipped} if self.active_skipped else {}),
        }


def _reason(v: Verification) -> str:
    if v.passive in _FAILING_PASSIVE:
        return v.passive.value
    if v.active is Auth.FAILED:
        return "active-failed"
    if v.chip_auth is Auth.FAILED:
        return "chip-auth-failed"
    if CLONE_TELLS.intersection(v.missing):
        return "clone-suspected"
    if v.qr_chip_match is False:
        return "qr-chip-mismatch"
    if v.passive is Passive.NOT_CHECKED:
        return "qr-only"
    if v.passive is not Passive.OK:
        return v.passive.value
    if v.missing:
        return "dg-missing"
    if Auth.OK not in (v.active, v.chip_auth):
        return "no-chip-proof"
    if Auth.NOT_CHECKED in (v.active, v.chip_auth):
        return "check-skipped"
    if IDENTITY_GROUPS.intersection(v.unparsed):
        return "group-unparsed"
    if v.qr_chip_match is None:
        return "no-qr-compare"
    return "verified"
