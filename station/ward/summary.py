"""What the ward indexes of a record, and the seven methods of the ward letter.

The ward letter (69/UBND-VP, implementing Decree 104/2022/NĐ-CP) lists seven ways an
officer may take a citizen's information instead of asking for papers. Methods 1-3 come
from the stations: the card itself (the station saw it but could read no usable QR
code: the officer compares the card by eye), its QR code read by the device, its chip
read by the device. Methods 4-7 are entered by hand at the console from what the citizen
shows (``"source": "manual"``, ``"method": N`` in the record).

A record's *level* is its verification level when the chip was verified
(``verified`` | ``signed-untrusted`` | ``qr-only`` | ``failed``), ``qr-only`` for a station
record without a verification block, and ``manual`` for an entry typed at the console.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from station.ward.fold import fold

METHODS: dict[int, str] = {
    1: "Thẻ căn cước/CCCD (đối chiếu trực tiếp)",
    2: "Thiết bị đọc mã QR trên thẻ",
    3: "Thiết bị đọc chip trên thẻ",
    4: "Tra cứu Cơ sở dữ liệu quốc gia về dân cư",
    5: "Ứng dụng VNeID",
    6: "Giấy xác nhận thông tin về cư trú (CT07)",
    7: "Giấy thông báo số định danh cá nhân",
}
MANUAL_METHODS = (4, 5, 6, 7)
LEVELS = ("verified", "signed-untrusted", "qr-only", "failed", "manual")
MANUAL_SOURCE = "manual"


@dataclass(frozen=True)
class Summary:
    """The indexed columns of one stored record."""

    method: int
    level: str
    status: str
    id_number: str | None
    name_folded: str


def method_of(record: Mapping[str, Any]) -> int:
    if record.get("source") == MANUAL_SOURCE:
        method = record.get("method")
        return method if isinstance(method, int) and method in MANUAL_METHODS else 4
    source = record.get("source")
    if isinstance(source, str) and source.endswith("+chip"):  # qr+chip, mrz+chip, qr+mrz+chip
        return 3
    return 2 if record.get("status") in ("ok", "invalid") else 1


def level_of(record: Mapping[str, Any]) -> str:
    if record.get("source") == MANUAL_SOURCE:
        return "manual"
    verification = record.get("verification")
    level = verification.get("level") if isinstance(verification, Mapping) else None
    return level if isinstance(level, str) and level in LEVELS else "qr-only"


def citizen_of(record: Mapping[str, Any]) -> Mapping[str, Any]:
    citizen = record.get("citizen")
    return citizen if isinstance(citizen, Mapping) else {}


def summarize(record: Mapping[str, Any]) -> Summary:
    citizen = citizen_of(record)
    id_number = citizen.get("id_number")
    name = citizen.get("full_name")
    return Summary(
        method=method_of(record),
        level=level_of(record),
        status=str(record.get("status") or ""),
        id_number=id_number if isinstance(id_number, str) and id_number else None,
        name_folded=fold(name) if isinstance(name, str) else "",
    )


__all__ = [
    "LEVELS",
    "MANUAL_METHODS",
    "MANUAL_SOURCE",
    "METHODS",
    "Summary",
    "citizen_of",
    "level_of",
    "method_of",
    "summarize",
]
