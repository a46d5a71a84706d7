"""Records as CSV or JSON lines, the same for ``station ward export`` and the console.

CSV: UTF-8 with a byte-order mark (so spreadsheet programs show Vietnamese), one row per
record with its verification level, each check, the warnings and errors (codes), the chip
fields and the citizen's fields. Every cell of every column that begins with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return gets a leading apostrophe: a forged name such as
``=HYPERLINK(...)`` stays text in the officer's spreadsheet instead of becoming a formula.

JSON: one object per line, the record as the station signed it plus a ``"ward"`` object
(seq, level, method, received_at, dossier, entered_by).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from station.record import iso_local
from station.ward.db import RecordRow
from station.ward.summary import citizen_of

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CITIZEN_FIELDS = (
    "id_number", "old_id_number", "full_name", "date_of_birth", "sex", "nationality",
    "ethnicity", "religion", "place_of_origin", "place_of_residence", "issue_date",
    "expiry_date", "father_name", "mother_name", "spouse_name", "identifying_marks",
)  # fmt: skip
CSV_FIELDS = (
    "record_id", "station_id", "method", "source", "status", "level", "read_at",
    "received_at", "dossier", "entered_by", "passive", "active", "chip_auth",
    "qr_chip_match", "mismatches", "signer_subject", "warnings", "errors", "chip_access",
    "chip_key_source", "chip_files", "chip_read_ms", "pace_fallback", *CITIZEN_FIELDS,
)  # fmt: skip


def neutralise(value: object) -> str:
    """The cell's text, with a leading apostrophe if a spreadsheet could take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _codes(items: object) -> str:
    if not isinstance(items, list):
        return ""
    return "; ".join(str(i.get("code", "")) for i in items if isinstance(i, Mapping))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def csv_row(row: RecordRow) -> dict[str, str]:
    """The CSV cells of one record (not yet neutralised)."""
    rec = row.record
    verification = _mapping(rec.get("verification"))
    chip = _mapping(rec.get("chip"))
    signer = _mapping(verification.get("signer"))
    citizen = citizen_of(rec)
    cells: dict[str, object] = {
        "record_id": row.record_id, "station_id": row.station_id, "method": row.method,
        "source": rec.get("source"), "status": row.status, "level": row.level,
        "read_at": row.read_at, "received_at": iso_local(row.received_at),
        "dossier": row.dossier, "entered_by": row.entered_by,
        "passive": verification.get("passive"), "active": verification.get("active"),
        "chip_auth": verification.get("chip_auth"),
        "qr_chip_match": verification.get("qr_chip_match"),
        "mismatches": verification.get("mismatches"), "signer_subject": signer.get("subject"),
        "warnings": _codes(rec.get("warnings")), "errors": _codes(rec.get("errors")),
        "chip_access": chip.get("access"), "chip_key_source": chip.get("key_source"),
        "chip_files": chip.get("files"), "chip_read_ms": chip.get("read_ms"),
        "pace_fallback": chip.get("pace_fallback"),
        **{k: citizen.get(k) for k in CITIZEN_FIELDS},
    }  # fmt: skip
    return {k: _text(v) for k, v in cells.items()}


class _Lines:
    """A file-like sink for csv.writer that hands back what was written."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def take(self) -> str:
        text, self.parts = "".join(self.parts), []
        return text


def csv_chunks(rows: Iterable[RecordRow]) -> Iterator[str]:
    """The whole CSV file: BOM and header first, then one chunk per record."""
    sink = _Lines()
    writer = csv.writer(sink)
    writer.writerow(CSV_FIELDS)
    yield BOM + sink.take()
    for row in rows:
        cells = csv_row(row)
        writer.writerow([neutralise(cells[k]) for k in CSV_FIELDS])
        yield sink.take()


def json_line(row: RecordRow) -> str:
    ward: dict[str, Any] = {
        "seq": row.seq, "level": row.level, "method": row.method,
        "received_at": iso_local(row.received_at), "dossier": row.dossier,
        "entered_by": row.entered_by,
    }  # fmt: skip
    return json.dumps({**row.record, "ward": ward}, ensure_ascii=False) + "\n"


def json_chunks(rows: Iterable[RecordRow]) -> Iterator[str]:
    for row in rows:
        yield json_line(row)


__all__ = ["BOM", "CSV_FIELDS", "csv_chunks", "csv_row", "json_chunks", "json_line", "neutralise"]
