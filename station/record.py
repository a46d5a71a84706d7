"""The one record format used by the CLI, the store and MQTT.

A record is a JSON object; ``SCHEMA`` names its version. Builders here are the
only place that decides which keys exist, so consumers (ward server, CLI, tests)
can rely on them. See README "Record format".
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from station.models import QrResult, QrStatus

SCHEMA = "cccd-station/record/1"

# Chip fields that are sensitive personal data (Decree 13/2023): kept out of
# stored/sent records unless the config asks for them.
SENSITIVE_FIELDS = ("ethnicity", "religion")


def now_local() -> datetime:
    """Current time with the local UTC offset (records carry ISO 8601 with offset)."""
    return datetime.now().astimezone()


def qr_record(
    result: QrResult | None,
    *,
    station_id: str,
    read_at: datetime | None = None,
    record_id: str | None = None,
    clock_synced: bool | None = None,
) -> dict[str, Any]:
    """A record for a QR-only read. ``result`` None means no QR code was found.

    ``clock_synced`` says whether the station's clock was synchronised when ``read_at``
    was taken (a Pi has no RTC); None = unknown.
    """
    status = result.status if result is not None else QrStatus.NO_QR
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "record_id": record_id or str(uuid.uuid4()),
        "station_id": station_id,
        "read_at": (read_at or now_local()).isoformat(timespec="seconds"),
        "clock_synced": clock_synced,
        "source": "qr",
        "status": str(status),
        "citizen": None,
        "warnings": [],
        "errors": [],
    }
    if result is not None:
        if result.identity is not None:
            record["citizen"] = result.identity.to_json()
        record["warnings"] = [w.to_json() for w in result.warnings]
        record["errors"] = [e.to_json() for e in result.errors]
        if status is QrStatus.UNRECOGNISED:
            record["qr_raw"] = result.raw_text
    return record


def with_chip(
    record: Mapping[str, Any],
    *,
    chip_citizen: Mapping[str, Any],
    chip: Mapping[str, Any],
    store_sensitive: bool = False,
) -> dict[str, Any]:
    """Extend a QR record with what the chip gave (issue "chip").

    ``chip_citizen`` holds the chip's citizen fields (QR field names plus
    nationality, ethnicity, religion, place_of_origin, identifying_marks,
    expiry_date, father_name, mother_name, spouse_name); the chip's values win
    for fields it has. Sensitive fields are dropped unless ``store_sensitive``.
    """
    out = dict(record)
    citizen = dict(out.get("citizen") or {})
    for key, value in chip_citizen.items():
        if key in SENSITIVE_FIELDS and not store_sensitive:
            continue
        if value is not None or key not in citizen:
            citizen[key] = value
    out["citizen"] = citizen
    out["source"] = "qr+chip"
    out["chip"] = dict(chip)
    return out


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    """Deterministic UTF-8 JSON (sorted keys, no spaces): what signatures cover."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def to_json_line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=False)
