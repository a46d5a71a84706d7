"""The one record format used by the CLI, the store and MQTT.

A record is a JSON object; ``SCHEMA`` names its version. Builders here are the
only place that decides which keys exist, so consumers (ward server, CLI, tests)
can rely on them. See README "Record format".
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from station.mrz.td1 import ParsedMrz
from station.qr.models import Finding, QrResult, QrStatus

SCHEMA = "cccd-station/record/1"
QR_MRZ_MISMATCH = Finding(
    "qr_mrz_mismatch", "Số định danh trong mã QR và trong dòng MRZ khác nhau. Kiểm tra thẻ."
)

# Chip fields that are sensitive personal data (Decree 13/2023): kept out of
# stored/sent records unless the config asks for them.
SENSITIVE_FIELDS = ("ethnicity", "religion")

# What a record from a station may hold (checked at the ward, :func:`received_problem`).
RECORD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# What the camera read ("qr", "mrz" or both), and "+chip" when a chip read was added.
CAMERA_SOURCES = ("qr", "mrz", "qr+mrz")
STATION_SOURCES = (*CAMERA_SOURCES, *(f"{source}+chip" for source in CAMERA_SOURCES))
STATION_STATUSES = frozenset(str(s) for s in QrStatus)
STATION_LEVELS = ("verified", "signed-untrusted", "qr-only", "failed")
MAX_TEXT = 8192  # characters in one string (an unrecognised QR's text fits), the face aside
MAX_KEY = 64  # characters in one object key
MAX_ID_NUMBER = 32  # an indexed column: well past the 12 digits, far below index limits
MAX_RECORD_DEPTH = 8  # the record object is level 1
FACE_PATH = ("chip", "face", "data_b64")  # the one string bounded only by the item size
MAX_INT = 2**53  # what every JSON reader (the console's browser too) holds exactly


def new_record_id() -> str:
    """A random UUID (version 4, RFC 4122 variant) as text, what ``str(uuid.uuid4())`` gives,
    without building the UUID object (a record is made for every card the camera sees)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def now_local() -> datetime:
    """Current time with the local UTC offset (records carry ISO 8601 with offset)."""
    return datetime.now().astimezone()


def iso_local(epoch: float) -> str:
    """Epoch seconds as ISO 8601 with the local UTC offset: how every tool prints a time."""
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def mrz_json(mrz: ParsedMrz) -> dict[str, Any]:
    """The record's ``mrz``: the checked fields only (the name line has no check digit and
    is not kept), dates as YYYY-MM-DD (expiry None = no expiry)."""
    birth, expiry = mrz.birth_date(), mrz.expiry_date()
    return {
        "layout": mrz.layout,
        "document_number": mrz.document_number,
        "id_number": mrz.id_number,
        "date_of_birth": birth.isoformat() if birth else None,
        "sex": {"M": "Nam", "F": "Nữ"}.get(mrz.sex),
        "date_of_expiry": expiry.isoformat() if expiry else None,
    }


def _with_mrz(record: dict[str, Any], result: QrResult | None, mrz: ParsedMrz) -> None:
    fields = mrz_json(mrz)
    record["mrz"] = fields
    had_qr = result is not None and result.status is not QrStatus.NO_QR
    record["source"] = "qr+mrz" if had_qr else "mrz"
    if record["citizen"] is None:
        record["citizen"] = {
            "id_number": fields["id_number"], "date_of_birth": fields["date_of_birth"],
            "sex": fields["sex"], "expiry_date": fields["date_of_expiry"],
        }  # fmt: skip
    clues = result.clues if result is not None else None
    if clues is not None and mrz.id_number is not None and clues.id_number != mrz.id_number:
        record["warnings"].append(QR_MRZ_MISMATCH.to_json())


def qr_record(
    result: QrResult | None,
    *,
    station_id: str,
    read_at: datetime | None = None,
    record_id: str | None = None,
    clock_synced: bool | None = None,
    mrz: ParsedMrz | None = None,
) -> dict[str, Any]:
    """A record for what the camera read. ``result`` None (or ``NO_QR``) means no QR code
    was found; ``mrz`` adds the MRZ's checked fields (``source`` "mrz" or "qr+mrz").

    ``clock_synced`` says whether the station's clock was synchronised when ``read_at``
    was taken (a Pi has no RTC); None = unknown.
    """
    status = result.status if result is not None else QrStatus.NO_QR
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "record_id": record_id or new_record_id(),
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
        if result.clues is not None:
            record["qr_clues"] = result.clues.to_json()
    if mrz is not None:
        _with_mrz(record, result, mrz)
    return record


class ChipPart(Protocol):
    """What a chip read gives the record (``station.icao.result.ChipRead``)."""

    @property
    def citizen(self) -> Mapping[str, Any]:
        """The chip's citizen fields: QR field names plus nationality, ethnicity, religion,
        place_of_origin, identifying_marks, expiry_date, father/mother/spouse_name."""
        ...

    def chip_json(self, *, store_face: bool = False) -> dict[str, Any]:
        """The record's ``chip`` object (files, access protocol, key source, ...)."""
        ...


class VerificationPart(Protocol):
    """What a verification gives the record (``station.verify.verdict.Verification``)."""

    def to_json(self) -> dict[str, Any]: ...


def with_chip(
    record: Mapping[str, Any],
    chip: ChipPart,
    *,
    store_sensitive: bool = False,
    store_face: bool = False,
) -> dict[str, Any]:
    """Extend a QR record with what the chip gave; the chip's values win for fields it has.

    The one place that applies the privacy options (Decree 13/2023): ``SENSITIVE_FIELDS``
    are dropped unless ``store_sensitive``, the face image unless ``store_face``.
    """
    out = dict(record)
    citizen = dict(out.get("citizen") or {})
    for key, value in chip.citizen.items():
        if key in SENSITIVE_FIELDS and not store_sensitive:
            continue
        if value is not None or key not in citizen:
            citizen[key] = value
    out["citizen"] = citizen
    out["source"] = f"{out.get('source', 'qr')}+chip"
    out["chip"] = chip.chip_json(store_face=store_face)
    return out


# Why a record holds no verified chip data although the QR was read: the warning code (a
# stable English identifier) and the Vietnamese message. With one of these the record gets
# ``verification.level`` ``qr-only``, so the ward can tell "chip failed" from "no chip".
CHIP_NOT_VERIFIED = {
    "chip_refused_keys": "Chip từ chối mọi khóa mở từ mã QR; chỉ lưu dữ liệu mã QR.",
    "card_removed": "Thẻ bị lấy ra khi đang đọc chip; chỉ lưu dữ liệu mã QR.",
    "chip_unparseable": "Một tệp dữ liệu trong chip bị hỏng; chỉ lưu dữ liệu mã QR.",
    "chip_read_error": "Đọc chip bị lỗi; chỉ lưu dữ liệu mã QR.",
    "reader_error": "Đầu đọc chip lỗi hoặc bị rút; chỉ lưu dữ liệu mã QR.",
    "chip_timeout": "Đọc chip quá lâu; chỉ lưu dữ liệu mã QR.",
    "verification_error": "Không kiểm tra được chip; dữ liệu chip chưa được xác thực.",
    "no_chip": "Không thấy chip trên đầu đọc; chỉ lưu dữ liệu mã QR.",
    "reader_disabled": "Trạm chỉ đọc mã QR (tắt đọc chip).",
}


def qr_only_verification() -> dict[str, Any]:
    """The ``verification`` object of a read whose chip was not verified (same keys as
    ``station.verify.verdict.Verification.to_json``); the reason is a warning."""
    return {
        "level": "qr-only",
        "passive": "not-checked",
        "active": "not-checked",
        "chip_auth": "not-checked",
        "qr_chip_match": None,
        "mismatches": [],
        "signer": None,
        "missing": [],
        "crl": None,
        "trust_path": None,
    }


def build_record(
    qr: QrResult | None,
    *,
    station_id: str,
    chip: ChipPart | None = None,
    verification: VerificationPart | None = None,
    chip_failure: str | None = None,
    store_sensitive: bool = False,
    store_face: bool = False,
    clock_synced: bool | None = None,
    mrz: ParsedMrz | None = None,
) -> dict[str, Any]:
    """The whole record of one read: the QR and MRZ part, the chip part, the verdict.

    ``chip_failure`` (a ``CHIP_NOT_VERIFIED`` code) says why there is no verdict: the
    record then gets level ``qr-only`` and that code as a warning.
    """
    record = qr_record(qr, station_id=station_id, clock_synced=clock_synced, mrz=mrz)
    if chip is not None:
        record = with_chip(record, chip, store_sensitive=store_sensitive, store_face=store_face)
    if verification is not None:
        record["verification"] = verification.to_json()
    elif chip_failure is not None:
        record["verification"] = qr_only_verification()
        message = CHIP_NOT_VERIFIED[chip_failure]
        record["warnings"] = [*record["warnings"], {"code": chip_failure, "message": message}]
    return record


def valid_record_id(value: object) -> bool:
    """A record id as stations make them: a UUID in its lowercase canonical form."""
    return isinstance(value, str) and RECORD_ID.fullmatch(value) is not None


_OPTIONAL_OBJECTS = ("chip", "verification")
_TOP_KEYS = frozenset(
    {
        *("schema", "record_id", "station_id", "read_at", "clock_synced", "source", "status"),
        *("citizen", "warnings", "errors", "chip", "verification", "qr_raw"),
    }
)


def _where(path: tuple[str, ...]) -> str:
    """Where in a record a problem is, for logs: a top-level key the format names (keys
    that came with the record are never repeated: they could hold anything)."""
    return path[0] if path and path[0] in _TOP_KEYS else "the record"


def received_problem(record: Mapping[str, Any]) -> str | None:
    """Why a record sent by a station is not one this format allows; None when it is.

    The ward stores nothing before this says None (after the signature): the keys it
    reads have the types it expects, a station cannot pass a record off as one typed at
    the console (``source`` "manual"), and every value is bounded (strings by
    :data:`MAX_TEXT`, no NUL, integers by :data:`MAX_INT`, nesting by
    :data:`MAX_RECORD_DEPTH`), so one record cannot grow the database without bound or
    break an index. Unknown keys are allowed (a newer station may add some).
    """
    if record.get("schema") != SCHEMA:
        return "not a cccd-station/record/1 record"
    if not valid_record_id(record.get("record_id")):
        return "record_id is not a UUID"
    if record.get("source") not in STATION_SOURCES:
        return "source is not one a station writes (qr, mrz, qr+mrz, each +chip)"
    if record.get("status") not in STATION_STATUSES:
        return "unknown status"
    if not all(isinstance(record.get(k), str) for k in ("station_id", "read_at")):
        return "station_id or read_at is not text"
    if not all(isinstance(record.get(k), list) for k in ("warnings", "errors")):
        return "warnings or errors is not a list"
    if any(not isinstance(record.get(k, {}), dict) for k in _OPTIONAL_OBJECTS):
        return "chip or verification is not an object"
    verification = record.get("verification", {})
    if "level" in verification and verification["level"] not in STATION_LEVELS:
        return "unknown verification level"
    return _citizen_problem(record.get("citizen")) or _bounds_problem(record)


def _citizen_problem(citizen: object) -> str | None:
    if citizen is None:
        return None
    if not isinstance(citizen, dict):
        return "citizen is not an object"
    if any(v is not None and not isinstance(v, str) for v in citizen.values()):
        return "a citizen field is not text"
    id_number = citizen.get("id_number")
    if isinstance(id_number, str) and len(id_number) > MAX_ID_NUMBER:
        return "id_number too long"
    return None


def _bounds_problem(record: Mapping[str, Any]) -> str | None:
    """Depth, string, key and number bounds of the whole record (no recursion)."""
    stack: list[tuple[object, tuple[str, ...]]] = [(record, ())]
    while stack:
        value, path = stack.pop()
        if len(path) >= MAX_RECORD_DEPTH:
            return f"nested more than {MAX_RECORD_DEPTH} deep"
        if isinstance(value, str):
            if len(value) > MAX_TEXT and path != FACE_PATH:
                return f"a text of {len(value)} characters in {_where(path)}"
            if "\x00" in value:
                return f"a NUL character in {_where(path)}"
        elif isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > MAX_INT:
                return f"a number out of range in {_where(path)}"
        elif isinstance(value, dict):
            for key, item in value.items():
                if len(key) > MAX_KEY or "\x00" in key:
                    return f"a key of {len(key)} characters in {_where(path)}"
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, "[]")) for item in value)
    return None


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    """Deterministic UTF-8 JSON (sorted keys, no spaces): what signatures cover."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def to_json_line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=False)
