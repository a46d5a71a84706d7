"""Methods 4-7: what the citizen shows (portal lookup, VNeID, CT07, ID-number notice),
typed by the officer, checked with the QR parser's own rules.

The form's fields are put into the 7-field shape of the card's QR payload and run through
:func:`station.qr.payload.parse_payload`: the same date, name, sex, old-ID and ID-number
checks as a QR read. Stricter than a QR read in one way: what the ID number says about
sex, birth year and province must agree with the form (a disagreement is a typing
mistake, so it is an error here, not a warning). The issue date is optional (CT07 and the
ID-number notice have none); without it, the parser's issue-date warnings are dropped.
The record says which method and that it was entered, not read (``"source": "manual"``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from station.qr.models import QrStatus
from station.qr.payload import parse_payload
from station.record import qr_record
from station.ward.summary import MANUAL_METHODS, MANUAL_SOURCE

FORM_FIELDS = (
    "method", "id_number", "old_id_number", "full_name", "date_of_birth", "sex",
    "place_of_residence", "place_of_origin", "issue_date", "dossier",
)  # fmt: skip
STRICT = {"id_sex_mismatch", "id_birth_year_mismatch", "id_province_unknown"}
ISSUE_ONLY = {"issue_under_14", "issue_before_chip_cards", "issue_after_2024_law", "card_expired"}
FIELD_OF_CODE = {
    "dob": "date_of_birth",
    "issue": "issue_date",
    "old": "old_id_number",
    "name": "full_name",
    "sex": "sex",
    "id": "id_number",
    "card": "issue_date",
}
MAX_TEXT = 300
MESSAGES = {
    "id_format": "Số định danh phải có đúng 12 chữ số.",
    "method": "Hãy chọn phương thức (4 đến 7).",
    "bar": "Không dùng ký tự | trong các ô.",
    "too_long": f"Nội dung quá dài (tối đa {MAX_TEXT} ký tự).",
    "date": "Ngày không đúng (chọn ngày trên lịch).",
}


@dataclass(frozen=True)
class Checked:
    """The outcome: ``record`` is set only when nothing is wrong."""

    errors: dict[str, list[str]] = field(default_factory=dict)  # form field -> messages
    warnings: tuple[str, ...] = ()
    record: dict[str, Any] | None = None


def _ddmmyyyy(text: str) -> str | None:
    """``YYYY-MM-DD`` (a date input) -> ``ddMMyyyy``; None when it is not a date."""
    try:
        return date.fromisoformat(text).strftime("%d%m%Y")
    except ValueError:
        return None


def _add(errors: dict[str, list[str]], where: str, message: str) -> None:
    errors.setdefault(where, []).append(message)


def _field_of(code: str) -> str:
    return FIELD_OF_CODE.get(code.split("_", 1)[0], "id_number")


def _form_errors(values: dict[str, str], today: date) -> tuple[dict[str, list[str]], str]:
    """What is wrong before the QR rules apply, and the payload to check with them."""
    errors: dict[str, list[str]] = {}
    if not values["method"].isdigit() or int(values["method"]) not in MANUAL_METHODS:
        _add(errors, "method", MESSAGES["method"])
    for key, value in values.items():
        if "|" in value:
            _add(errors, key, MESSAGES["bar"])
        if len(value) > MAX_TEXT:
            _add(errors, key, MESSAGES["too_long"])
    dob = _ddmmyyyy(values["date_of_birth"])
    issue = _ddmmyyyy(values["issue_date"]) if values["issue_date"] else today.strftime("%d%m%Y")
    for key, parsed in (("date_of_birth", dob), ("issue_date", issue)):
        if parsed is None:
            _add(errors, key, MESSAGES["date"])
    payload = "|".join(
        (values["id_number"], values["old_id_number"], values["full_name"], dob or "",
         values["sex"], values["place_of_residence"], issue or "")
    )  # fmt: skip
    return errors, payload


def check(form: Mapping[str, str], *, station_id: str, user: str, today: date) -> Checked:
    """Validate the form; the record to store when it is right."""
    values = {k: " ".join(str(form.get(k, "")).split()) for k in FORM_FIELDS}
    errors, payload = _form_errors(values, today)
    if errors:
        return Checked(errors)
    result = parse_payload(payload, today=today)
    if result.status is QrStatus.UNRECOGNISED:
        return Checked({"id_number": [MESSAGES["id_format"]]})
    no_issue = not values["issue_date"]
    for finding in result.errors:
        _add(errors, _field_of(finding.code), finding.message)
    warnings = []
    for finding in result.warnings:
        if finding.code in STRICT:
            _add(errors, "id_number", finding.message)
        elif not (no_issue and finding.code in ISSUE_ONLY):
            warnings.append(finding.message)
    if errors or result.identity is None:
        return Checked(errors or {"id_number": [MESSAGES["id_format"]]}, tuple(warnings))
    record = qr_record(result, station_id=station_id, record_id=str(uuid.uuid4()))
    record.pop("qr_raw", None)
    citizen = dict(record["citizen"])
    if no_issue:
        citizen["issue_date"] = None
    citizen["place_of_origin"] = values["place_of_origin"] or None
    record.update(
        citizen=citizen,
        source=MANUAL_SOURCE,
        method=int(values["method"]),
        entered_by=user,
        warnings=[w for w in record["warnings"] if not (no_issue and w["code"] in ISSUE_ONLY)],
    )
    return Checked({}, tuple(warnings), record)


__all__ = ["FORM_FIELDS", "Checked", "check"]
