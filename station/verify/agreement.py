"""Printed / chip agreement: what the card shows and the signed chip data must say the same.

Compared fields (record names): from a 2021 QR id_number, full_name (NFC, case-insensitive,
spaces collapsed), date_of_birth, sex, old_id_number, issue_date, place_of_residence; from a
2024 QR the values recognised in it (id_number, date_of_birth, issue_date); from the MRZ
the checked fields (id_number, date_of_birth, sex, expiry_date; listed as ``mrz.<field>``
when they differ). A field the chip data does not contain at all (key absent: not read) is
not compared; a field present on one side and empty on the other is a mismatch. Nothing is
resolved silently: every differing field is listed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from station.mrz.td1 import ParsedMrz
from station.qr.card2024 import QrClues
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
MRZ_FIELDS = ("id_number", "date_of_birth", "sex", "expiry_date")
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
    if name in ("date_of_birth", "issue_date", "expiry_date"):
        return date_key(value)
    if name == "sex":
        text = text_key(value)
        return _SEX.get(text, text)
    if name in ("id_number", "old_id_number"):
        return "".join(str(value or "").split())
    return text_key(value)


def _against(
    printed: Mapping[str, object], fields: tuple[str, ...], chip: Mapping[str, object], prefix: str
) -> Agreement:
    compared = tuple(name for name in fields if name in chip and name in printed)
    if not all(name in compared for name in REQUIRED if name in printed):
        return Agreement(None, compared=compared)
    mismatches = tuple(
        prefix + name
        for name in compared
        if _key(name, printed.get(name)) != _key(name, chip[name])
    )
    return Agreement(not mismatches, mismatches, compared)


def compare(qr: QrIdentity | None, chip: Mapping[str, object]) -> Agreement:
    """Compare a QR identity with the chip's citizen fields (record field names)."""
    if qr is None:
        return Agreement(None)
    return _against(qr.to_json(), FIELDS, chip, "")


def mrz_fields(mrz: ParsedMrz) -> dict[str, object]:
    """The MRZ's checked fields by record name (the name line is not among them)."""
    out: dict[str, object] = {"date_of_birth": mrz.birth_date(), "expiry_date": mrz.expiry_date()}
    if mrz.id_number is not None:
        out["id_number"] = mrz.id_number
    if mrz.sex in "MF":
        out["sex"] = mrz.sex
    return out


def compare_printed(
    qr: QrIdentity | None,
    chip: Mapping[str, object],
    *,
    clues: QrClues | None = None,
    mrz: ParsedMrz | None = None,
) -> Agreement:
    """Every printed source against the chip: True when each comparable one agrees, False
    when any field differs (all listed), None when nothing could be compared."""
    parts = [compare(qr, chip)]
    if clues is not None:
        found = {k: v for k, v in clues.to_json().items() if v is not None}
        parts.append(_against(found, ("id_number", "date_of_birth", "issue_date"), chip, ""))
    if mrz is not None and mrz.ok:
        parts.append(_against(mrz_fields(mrz), MRZ_FIELDS, chip, "mrz."))
    matched = [p.match for p in parts if p.match is not None]
    mismatches = tuple(m for p in parts for m in p.mismatches)
    compared = tuple(dict.fromkeys(c for p in parts for c in p.compared))
    return Agreement(all(matched) if matched else None, mismatches, compared)
