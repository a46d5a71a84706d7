"""What the officer reads of a record: fields in the order of the TTHC forms, the verdict
in plain Vietnamese with its reason, the checks, the method. Shared by the pages and the
printed sheet; pure (no web or database code).

The verdict's reason is the station's own (``station.verify.verdict``), computed again
from the record's ``verification`` object, so the console says what the OLED said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from station.verify.passive import Passive
from station.verify.verdict import Auth, Verification
from station.ward.db import RecordRow
from station.ward.summary import METHODS, citizen_of

# (record key, label) in the order the TTHC forms ask for them.
FIELDS: tuple[tuple[str, str], ...] = (
    ("full_name", "Họ, chữ đệm và tên"),
    ("date_of_birth", "Ngày, tháng, năm sinh"),
    ("sex", "Giới tính"),
    ("id_number", "Số định danh cá nhân"),
    ("old_id_number", "Số CMND cũ"),
    ("nationality", "Quốc tịch"),
    ("ethnicity", "Dân tộc"),
    ("religion", "Tôn giáo"),
    ("place_of_origin", "Quê quán"),
    ("place_of_residence", "Nơi thường trú"),
    ("issue_date", "Ngày cấp"),
    ("expiry_date", "Có giá trị đến"),
    ("identifying_marks", "Đặc điểm nhận dạng"),
    ("father_name", "Họ tên cha"),
    ("mother_name", "Họ tên mẹ"),
    ("spouse_name", "Họ tên vợ/chồng"),
)
DATE_FIELDS = frozenset({"date_of_birth", "issue_date", "expiry_date"})
LEVEL_TITLES = {
    "verified": ("ok", "Hợp lệ"),
    "signed-untrusted": ("warn", "Cần xem lại"),
    "qr-only": ("warn", "Chỉ đọc được mã QR"),
    "failed": ("bad", "Không hợp lệ"),
    "manual": ("info", "Nhập tay, không đọc từ thẻ"),
}
STATUS_TITLES = {
    "invalid": ("bad", "Dữ liệu mã QR không hợp lệ"),
    "unrecognised": ("bad", "Mã QR không phải của thẻ CCCD"),
    "no-qr": ("warn", "Không đọc được mã QR"),
}
CHECK_WORDS = {
    "ok": "Đạt",
    "failed": "Không đạt",
    "not-supported": "Thẻ không hỗ trợ",
    "not-checked": "Chưa kiểm tra",
    "skipped": "Không cần (CA đã đạt)",
    "other": "Khác",  # a word the ward does not know (counted on the signers page)
    "hash-mismatch": "Dữ liệu bị sửa (sai mã băm)",
    "bad-signature": "Chữ ký số sai",
    "untrusted-signer": "Chưa có chứng thư gốc tin cậy",
    "signer-expired": "Chứng thư ký đã hết hạn",
    "signer-revoked": "Chứng thư ký bị thu hồi",
}


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    value: str


@dataclass(frozen=True)
class Verdict:
    tone: str  # ok | warn | bad | info (CSS class)
    title: str
    reason: str


@dataclass(frozen=True)
class Check:
    label: str
    value: str
    tone: str


@dataclass(frozen=True)
class View:
    row: RecordRow
    fields: tuple[Field, ...]
    verdict: Verdict
    checks: tuple[Check, ...]
    notes: tuple[str, ...]  # the record's warnings and errors (Vietnamese)
    method: str
    read_at: str
    received_at: str
    has_face: bool

    @property
    def copy_all(self) -> str:
        """Every field as "label: value" lines, in the TTHC order."""
        return "\n".join(f"{f.label}: {f.value}" for f in self.fields)

    @property
    def name(self) -> str:
        return next((f.value for f in self.fields if f.key == "full_name"), "")


def vn_date(value: object) -> str:
    """ISO date -> dd/mm/yyyy (other text as it is)."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    return "" if value is None else str(value)


def vn_time(value: str | float) -> str:
    """An ISO timestamp or epoch seconds -> "dd/mm/yyyy HH:MM:SS" in the server's zone."""
    try:
        when = (
            datetime.fromtimestamp(value)
            if isinstance(value, float)
            else datetime.fromisoformat(value)
        )
    except (ValueError, OverflowError, OSError):
        return str(value)
    return when.astimezone().strftime("%d/%m/%Y %H:%M:%S")


def fields_of(record: Mapping[str, Any]) -> tuple[Field, ...]:
    citizen = citizen_of(record)
    out = []
    for key, label in FIELDS:
        value = citizen.get(key)
        if value is None or value == "" or not isinstance(value, str | int):
            continue
        out.append(Field(key, label, vn_date(value) if key in DATE_FIELDS else str(value)))
    return tuple(out)


def _verification(record: Mapping[str, Any]) -> Verification | None:
    v = record.get("verification")
    if not isinstance(v, Mapping):
        return None
    try:
        return Verification(
            Passive(str(v.get("passive"))), Auth(str(v.get("active"))),
            Auth(str(v.get("chip_auth"))),
            v.get("qr_chip_match") if isinstance(v.get("qr_chip_match"), bool) else None,
            tuple(str(m) for m in v.get("mismatches") or ()),
        )  # fmt: skip
    except ValueError:  # a value this version does not know
        return None


def _messages(record: Mapping[str, Any], key: str) -> list[str]:
    items = record.get(key)
    if not isinstance(items, list):
        return []
    return [str(i.get("message")) for i in items if isinstance(i, Mapping) and i.get("message")]


def verdict_of(row: RecordRow) -> Verdict:
    record = row.record
    if row.level == "manual":
        tone, title = LEVEL_TITLES["manual"]
        return Verdict(tone, title, f"Phương thức {row.method}: {METHODS[row.method]}")
    if row.status in STATUS_TITLES:
        tone, title = STATUS_TITLES[row.status]
        errors = _messages(record, "errors")
        return Verdict(tone, title, errors[0] if errors else "Hãy đối chiếu trực tiếp với thẻ.")
    tone, title = LEVEL_TITLES.get(row.level, LEVEL_TITLES["qr-only"])
    verification = _verification(record)
    if verification is not None:
        reason = verification.reason_vi
    else:
        warnings = _messages(record, "warnings")
        reason = warnings[0] if warnings else "Chip chưa được đọc hoặc chưa kiểm tra."
    return Verdict(tone, title, reason)


def checks_of(record: Mapping[str, Any]) -> tuple[Check, ...]:
    v = record.get("verification")
    if not isinstance(v, Mapping):
        return ()

    def word(value: object) -> Check:
        text = str(value)
        tone = {"ok": "ok", "skipped": "info", "not-supported": "warn", "not-checked": "warn"}
        return Check("", CHECK_WORDS.get(text, text), tone.get(text, "bad"))

    out = []
    for key, label in (
        ("passive", "Chữ ký số của dữ liệu chip (PA)"),
        ("active", "Chip thật: xác thực chủ động (AA)"),
        ("chip_auth", "Chip thật: xác thực chip (CA)"),
    ):
        c = word(v.get(key))
        out.append(Check(label, c.value, c.tone))
    match = v.get("qr_chip_match")
    mismatches = ", ".join(str(m) for m in v.get("mismatches") or ())
    out.append(
        Check(
            "Mã QR khớp với chip",
            {True: "Khớp", False: f"Không khớp ({mismatches})", None: "Chưa so khớp"}[
                match if isinstance(match, bool) else None
            ],
            {True: "ok", False: "bad"}.get(match, "warn") if isinstance(match, bool) else "warn",
        )
    )
    signer = v.get("signer")
    if isinstance(signer, Mapping) and signer.get("subject"):
        out.append(Check("Chứng thư ký (DS)", str(signer["subject"]), "info"))
    path = TRUST_PATHS.get(str(v.get("trust_path")))
    if path is not None:
        out.append(Check("Tin cậy qua", path, "ok"))
    return tuple(out)


TRUST_PATHS = {
    "csca": "CSCA (chứng thư gốc)",
    "pinned-ds": "DS được ghim (phường đã đối chiếu, cách 4)",
}


def view_of(row: RecordRow) -> View:
    record = row.record
    chip = record.get("chip")
    return View(
        row=row,
        fields=fields_of(record),
        verdict=verdict_of(row),
        checks=checks_of(record),
        notes=tuple(_messages(record, "errors") + _messages(record, "warnings")),
        method=f"{row.method}. {METHODS.get(row.method, '')}",
        read_at=vn_time(row.read_at) if row.read_at else "",
        received_at=vn_time(row.received_at),
        has_face=isinstance(chip, Mapping) and isinstance(chip.get("face"), Mapping),
    )


__all__ = ["FIELDS", "Check", "Field", "Verdict", "View", "view_of", "vn_date", "vn_time"]
