"""QR / chip agreement: the printed QR and the signed chip data must say the same thing.

Compared fields (record names): id_number, full_name (NFC, case-insensitive, spaces
collapsed), date_of_birth, sex, old_id_number, issue_date, place_of_residence.
A field the chip data does not contain at all (key absent: not read) is not compared;
a field present on one side and empty on the other is a mismatch. Nothing is resolved
silently: every differing field is listed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from station.qr.models import QrIdentity

FIELDS = (
    "id_number",
    "full_name",
    "date_of_birth",
    "sex",
    "old_id_number",
    "issue_date",
    "place_of_residence",
)
REQUIRED = ("id_number", "date_of_birth")  # without these no agreement can be claimed
_SEX = {"nam": "M", "m": "M", "male": "M", "nữ": "F", "nu": "F", "f": "F", "female": "F"}


@dataclass(frozen=True)
class Agreement:
    match: bool | None  # None: nothing (or not enough) to compare
    mismatches: tuple[str, ...] = ()
    compared: tuple[str, ...] = ()


def text_key(value: object) -> str:
    """NFC, case-folded, whitespace-collapsed text; '' for None."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    return " ".join(text.casefold().split())


def date_key(value: object) -> str:
    """ISO date text from a date, 'YYYY-MM-DD', 'dd/mm/yyyy' or 'ddmmyyyy'; raw text otherwise."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d%m%Y"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return text_key(text)


def _key(name: str, value: object) -> str:
    if name in ("date_of_birth", "issue_date"):
        return date_key(value)
    if name == "sex":
        text = text_key(value)
        return _SEX.get(text, text)
    if name in ("id_number", "old_id_number"):
        return "".join(str(value or "").split())
    return text_key(value)


def compare(qr: QrIdentity | None, chip: Mapping[str, object]) -> Agreement:
    """Compare a QR identity with the chip's citizen fields (record field names)."""
    if qr is None:
        return Agreement(None)
    printed = qr.to_json()
    compared = tuple(name for name in FIELDS if name in chip)
    if not all(name in compared for name in REQUIRED):
        return Agreement(None, compared=compared)
    mismatches = tuple(
        name for name in compared if _key(name, printed.get(name)) != _key(name, chip[name])
    )
    return Agreement(not mismatches, mismatches, compared)
