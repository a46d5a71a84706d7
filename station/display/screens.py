"""Screen models: what the OLED shows, as plain frozen data (drawn by ``render``).

Models hold only what a screen needs; the flow builds them from its state. Result
screens carry the citizen's data while the result is shown and are dropped with it.
Every Vietnamese text the officer or citizen reads lives here or in the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal


class Verdict(StrEnum):
    VERIFIED = "verified"
    ATTENTION = "attention"
    FAILED = "failed"


VERDICT_WORDS = {
    Verdict.VERIFIED: "Hợp lệ",
    Verdict.ATTENTION: "Cần xem lại",
    Verdict.FAILED: "Không hợp lệ",
}


class SyncLink(StrEnum):
    CONNECTING = "connecting"  # until the first connection attempt has an answer
    ONLINE = "online"
    OFFLINE = "offline"
    DISABLED = "disabled"


class ErrorKind(StrEnum):
    CARD_MOVED = "card-moved"
    CARD_LOST = "card-lost"
    QR_UNREADABLE = "qr-unreadable"
    NO_QR_CHIP = "no-qr-chip"
    QR_OTHER = "qr-other"
    QR_INVALID = "qr-invalid"
    CHIP_LOCKED = "chip-locked"
    CHIP_NOT_GENUINE = "chip-not-genuine"
    CHIP_MISMATCH = "chip-mismatch"
    CHIP_FAILED = "chip-failed"
    READER_UNPLUGGED = "reader-unplugged"
    CAMERA_FAILED = "camera-failed"
    MRZ_FAILED = "mrz-failed"
    STORE_FULL = "store-full"
    STORE_FAILED = "store-failed"
    CLOCK_NOT_SET = "clock-not-set"
    STATION_STOPPED = "station-stopped"


@dataclass(frozen=True)
class Message:
    """An error screen's text: a short title (what happened) and what to do."""

    title: str
    todo: str


MESSAGES: dict[ErrorKind, Message] = {
    ErrorKind.CARD_MOVED: Message(
        "Thẻ bị dịch ra", "Đặt lại thẻ lên đầu đọc và giữ yên. Máy sẽ tự đọc tiếp."
    ),
    ErrorKind.CARD_LOST: Message(
        "Chưa đọc xong chip", "Thẻ bị lấy ra khi đang đọc. Đặt lại thẻ để đọc lại."
    ),
    ErrorKind.QR_UNREADABLE: Message(
        "Không đọc được QR", "Đặt thẻ thẳng, giữ yên. Lau ống kính camera nếu bị mờ."
    ),
    ErrorKind.NO_QR_CHIP: Message(
        "Không thấy mã QR", "Lật thẻ: mặt có mã QR hướng lên trên (thẻ mẫu 2024: mặt sau)."
    ),
    ErrorKind.QR_OTHER: Message(
        "Mã QR lạ", "Không phải QR của CCCD (thẻ mẫu 2024?). Kiểm tra thẻ bằng mắt."
    ),
    ErrorKind.QR_INVALID: Message(
        "Mã QR sai dữ liệu", "Thông tin trong QR không hợp lệ. Kiểm tra thẻ bằng mắt."
    ),
    ErrorKind.CHIP_LOCKED: Message(
        "Chip từ chối mở", "Khóa từ mã QR không mở được chip. Kiểm tra thẻ bằng mắt."
    ),
    ErrorKind.CHIP_NOT_GENUINE: Message(
        "Chip không thật", "Chữ ký chip không hợp lệ. Không nhận thẻ; báo lãnh đạo."
    ),
    ErrorKind.CHIP_MISMATCH: Message(
        "QR không khớp chip", "Dữ liệu in và dữ liệu chip không khớp. Báo lãnh đạo."
    ),
    ErrorKind.CHIP_FAILED: Message(
        "Đọc chip bị lỗi", "Nhấc thẻ ra rồi đặt lại, giữ yên cho đến khi có tiếng bíp."
    ),
    ErrorKind.READER_UNPLUGGED: Message(
        "Mất đầu đọc chip", "Cắm lại dây đầu đọc chip. Trong lúc đó chỉ đọc được mã QR."
    ),
    ErrorKind.CAMERA_FAILED: Message(
        "Camera không chạy", "Kiểm tra dây camera. Nếu vẫn lỗi, tắt và bật lại máy."
    ),
    ErrorKind.MRZ_FAILED: Message(
        "Lỗi đọc mã MRZ", "Trong lúc đó chỉ đọc được mã QR. Báo kỹ thuật."
    ),
    ErrorKind.STORE_FULL: Message(
        "Bộ nhớ đầy", "Không đọc thêm được. Nối mạng để gửi hồ sơ về phường."
    ),
    ErrorKind.STORE_FAILED: Message(
        "Không lưu được", "Hồ sơ chưa được lưu. Đọc lại thẻ; nếu vẫn lỗi, báo kỹ thuật."
    ),
    ErrorKind.CLOCK_NOT_SET: Message(
        "Đồng hồ chưa đúng", "Nối mạng để máy tự chỉnh giờ, rồi đọc lại."
    ),
    ErrorKind.STATION_STOPPED: Message(
        "Trạm đã dừng", "Máy không đọc thẻ. Bật lại dịch vụ hoặc khởi động lại máy."
    ),
}


def mask_id(id_number: str, keep_head: int = 4, keep_tail: int = 2) -> str:
    """``001090012345`` -> ``0010******45``; short strings are masked entirely."""
    if len(id_number) <= keep_head + keep_tail:
        return "*" * len(id_number)
    hidden = len(id_number) - keep_head - keep_tail
    return id_number[:keep_head] + "*" * hidden + id_number[-keep_tail:]


@dataclass(frozen=True)
class Denied:
    """The broker refuses this station's records (MQTT 5 reason code on each publish):
    its ``station.id`` and who the broker takes it for (its certificate's name; "" when
    unknown). Different ids are the usual cause: the ACL drops the topic."""

    station_id: str
    identity: str = ""

    @property
    def clash(self) -> bool:
        return bool(self.identity) and self.identity != self.station_id


@dataclass(frozen=True)
class IdleScreen:
    """Waiting for a card: how to place it, and the officer's sync/queue line."""

    sync: SyncLink = SyncLink.CONNECTING
    pending: int = 0
    chip: bool = True  # the reader is enabled: tell the citizen to place it over the reader
    refused: int = 0  # records the ward refused: the footer asks for the admin instead
    stale_min: int = 0  # the oldest record has waited this many minutes (past the alert age)
    denied: Denied | None = None  # the broker refuses every record: call IT, naming both ids
    # URL of the citizen lookup shown as a QR code ('' = none; not drawn while an alert shows)
    portal: str = ""


@dataclass(frozen=True)
class QrSeenScreen:
    """The QR (``seen`` "qr") or the MRZ ("mrz") was read; next the chip (or straight to the
    result when ``chip`` is off). "looking": a QR that opens no chip by itself was seen, the
    MRZ is being read."""

    chip: bool = True
    seen: Literal["qr", "mrz", "looking"] = "qr"


@dataclass(frozen=True)
class ReadingScreen:
    """Reading the chip: ``fraction`` of the files read (0..1) and bytes so far."""

    fraction: float = 0.0
    bytes_read: int = 0


@dataclass(frozen=True)
class VerifyingScreen:
    """Checking signatures and comparing QR with chip."""


@dataclass(frozen=True)
class ErrorScreen:
    """Something went wrong: the title says what, the body what to do."""

    kind: ErrorKind


@dataclass(frozen=True)
class Person:
    """The citizen as shown (chip data when read, else the QR's)."""

    full_name: str
    date_of_birth: date
    sex: str
    id_number: str
    residence: str | None = None
    origin: str | None = None


@dataclass(frozen=True)
class Check:
    """One verification step for the detail page; ``ok`` None = not done."""

    label: str
    ok: bool | None
    detail: str = ""


@dataclass(frozen=True)
class Face:
    """A grayscale ("L") thumbnail as raw bytes, dithered when drawn."""

    width: int
    height: int
    pixels: bytes


@dataclass(frozen=True)
class ResultScreen:
    """The verdict and the result pages; ``page`` is taken modulo the page count."""

    verdict: Verdict
    reason: str
    person: Person | None
    checks: tuple[Check, ...] = ()
    face: Face | None = None
    page: int = 0
    reveal_id: bool = False
    advice: ErrorKind | None = None  # a failed check's "what to do" page, after the verdict


@dataclass(frozen=True)
class Outcome:
    """A verification turned into what the officer sees (built in station.display.outcome)."""

    verdict: Verdict
    reason: str
    checks: tuple[Check, ...] = ()
    advice: ErrorKind | None = None


Screen = IdleScreen | QrSeenScreen | ReadingScreen | VerifyingScreen | ErrorScreen | ResultScreen

__all__ = [
    "MESSAGES",
    "VERDICT_WORDS",
    "Check",
    "Denied",
    "ErrorKind",
    "ErrorScreen",
    "Face",
    "IdleScreen",
    "Message",
    "Outcome",
    "Person",
    "QrSeenScreen",
    "ReadingScreen",
    "ResultScreen",
    "Screen",
    "SyncLink",
    "Verdict",
    "VerifyingScreen",
    "mask_id",
]
