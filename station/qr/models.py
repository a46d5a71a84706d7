"""Plain data shared by the whole station: what a QR read yields.

Messages in ``Finding`` are Vietnamese (they are shown to the officer);
``code`` is a stable English identifier for programs and logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.qr.card2024 import QrClues


class QrStatus(StrEnum):
    OK = "ok"
    INVALID = "invalid"
    UNRECOGNISED = "unrecognised"
    NO_QR = "no-qr"


@dataclass(frozen=True)
class Finding:
    """A warning or an error about a read: stable code + Vietnamese message."""

    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class QrIdentity:
    """The seven fields of a 2021 CCCD QR payload, validated and normalised (NFC)."""

    id_number: str
    old_id_number: str | None
    full_name: str
    date_of_birth: date
    sex: str  # "Nam" or "Nữ"
    place_of_residence: str | None
    issue_date: date

    def to_json(self) -> dict[str, str | None]:
        return {
            "id_number": self.id_number,
            "old_id_number": self.old_id_number,
            "full_name": self.full_name,
            "date_of_birth": self.date_of_birth.isoformat(),
            "sex": self.sex,
            "place_of_residence": self.place_of_residence,
            "issue_date": self.issue_date.isoformat(),
        }


@dataclass(frozen=True)
class QrResult:
    """Outcome of parsing one QR payload. ``identity`` is set only when status is OK
    (or INVALID with enough fields to show, see ``station.qr.payload``); ``clues`` only for
    an unrecognised payload in which an ID and a birth date could be recognised (the 2024
    card's QR, ``station.qr.card2024``)."""

    status: QrStatus
    identity: QrIdentity | None
    raw_text: str
    warnings: tuple[Finding, ...] = field(default=())
    errors: tuple[Finding, ...] = field(default=())
    clues: QrClues | None = None


NO_QR = QrResult(QrStatus.NO_QR, None, "")  # nothing was read from a QR code
