"""What can be recognised safely in a QR code that is not a 2021 CCCD's: the 2024 card's.

The QR on the back of the 2024 thẻ căn cước (Thông tư 16/2024/TT-BCA) has no public
specification: press summaries list the ID, name, birth date, sex, residence, issue date,
the old CMND, parents' names, but not the order or the separators. So the station keeps the
text raw and looks only for what it can check: a 12-digit number that passes the ID's
structure rules (a known province code, a sex/century digit) together with exactly one
date (``ddMMyyyy`` or ``dd/mm/yyyy``) in the past whose year is the one the ID encodes;
and, when exactly one other date on or after 2024-07-01 follows the birth, the issue date.
Anything ambiguous gives nothing: these are key candidates and values to compare with the
chip's signed data, never the truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from station.qr import idnumber
from station.qr.cardlaw import LAW_2023_FROM

_ID = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
_DATE = re.compile(r"(?<![0-9])([0-9]{2})/?([0-9]{2})/?([0-9]{4})(?![0-9])")


@dataclass(frozen=True)
class QrClues:
    """The values recognised in an undocumented QR payload."""

    id_number: str
    date_of_birth: date
    issue_date: date | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "id_number": self.id_number,
            "date_of_birth": self.date_of_birth.isoformat(),
            "issue_date": self.issue_date.isoformat() if self.issue_date else None,
        }


def _dates(text: str, today: date) -> set[date]:
    found = set()
    for day, month, year in _DATE.findall(text):
        try:
            value = date(int(year), int(month), int(day))
        except ValueError:
            continue
        if value <= today:
            found.add(value)
    return found


def _plausible_id(number: str, today: date) -> bool:
    structure = idnumber.split_id(number)
    return structure.province_name is not None and structure.birth_year <= today.year


def find_clues(text: str, today: date | None = None) -> QrClues | None:
    """The ID and birth date (and issue date) of ``text`` when they can be told apart
    unambiguously (see the module docstring), else None."""
    now = today or date.today()
    dates = _dates(text, now)
    pairs = {
        (number, born)
        for number in set(_ID.findall(text))
        if _plausible_id(number, now)
        for born in dates
        if born.year == idnumber.split_id(number).birth_year
    }
    if len(pairs) != 1:
        return None
    ((number, born),) = pairs
    issued = [d for d in dates if d >= LAW_2023_FROM and d > born]
    return QrClues(number, born, issued[0] if len(issued) == 1 else None)
