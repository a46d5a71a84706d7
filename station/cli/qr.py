"""`station scan-qr` and `station parse-qr`: the QR path from image files or text.

Both print records (``station.record.qr_record``); ``--json`` prints one JSON object per
line. Exit status: 0 when every input gave status "ok", 1 otherwise, 2 for usage errors.
This is the administrator's tool: it prints the card data on stdout by design (never to
the logs).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from station.cli import Subparsers
    from station.qr.decoder import QrDecoder
    from station.qr.models import QrResult

LABELS = (
    ("id_number", "Số định danh / ID number"),
    ("old_id_number", "Số CMND cũ / old ID"),
    ("full_name", "Họ và tên / full name"),
    ("date_of_birth", "Ngày sinh / date of birth"),
    ("sex", "Giới tính / sex"),
    ("place_of_residence", "Nơi thường trú / residence"),
    ("issue_date", "Ngày cấp / issue date"),
)


def register(sub: Subparsers) -> None:
    scan = sub.add_parser("scan-qr", help="decode and validate the CCCD QR code in image files")
    scan.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG file")
    _common(scan)
    scan.set_defaults(func=_scan)
    parse = sub.add_parser("parse-qr", help="validate a CCCD QR payload (stdin when TEXT omitted)")
    parse.add_argument("text", nargs="?", metavar="TEXT", help="the payload; default: stdin")
    _common(parse)
    parse.set_defaults(func=_parse)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON record per line")
    parser.add_argument(
        "--station-id", default=None, help="station id put in the records (default: host name)"
    )


def _station_id(args: argparse.Namespace) -> str:
    from station.config import StationSection

    return str(args.station_id) if args.station_id else StationSection().id


def _scan(args: argparse.Namespace) -> int:
    from station.qr.decoder import DecoderOptions, QrDecoder

    # Files are not time-critical: search harder than the camera loop does.
    decoder = QrDecoder(DecoderOptions(try_invert=True, try_downscale=True))
    station_id = _station_id(args)
    all_ok = True
    for path in args.images:
        result = _scan_file(path, decoder)
        record = _record(result, station_id, file=path)
        all_ok &= record["status"] == "ok"
        _emit(record, args.json)
    return 0 if all_ok else 1


def _scan_file(path: str, decoder: QrDecoder) -> QrResult:
    """The best QR result in an image file (a CCCD payload wins over other codes)."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from station.qr.models import Finding, QrResult, QrStatus
    from station.qr.payload import parse_payload

    try:
        with Image.open(path) as image:
            frame = np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        finding = Finding("image_unreadable", f"{UNREADABLE_VI}{_why_unreadable(exc)}.")
        return QrResult(QrStatus.NO_QR, None, "", errors=(finding,))
    results = [parse_payload(p) for p in decoder.decode(frame)]
    if not results:
        finding = Finding("no_qr_found", "Không tìm thấy mã QR trong ảnh.")
        return QrResult(QrStatus.NO_QR, None, "", errors=(finding,))
    rank = {QrStatus.OK: 0, QrStatus.INVALID: 1, QrStatus.UNRECOGNISED: 2}
    return min(results, key=lambda r: rank.get(r.status, 3))


# English for the admin (the records keep the Vietnamese message and the stable code).
ENGLISH = {
    "unrecognised_payload": "not the QR code of a 2021 chip CCCD",
    "damaged_text": "the QR data is damaged (unreadable characters); scan again",
    "control_characters": "the QR data holds invalid control characters",
    "old_id_format": "the old ID number is invalid (9 or 12 digits)",
    "name_missing": "the full name is missing",
    "name_unusual_characters": "unusual characters in the name: compare with the card",
    "dob_format": "the date of birth is not ddMMyyyy (8 digits)",
    "dob_impossible": "the date of birth does not exist",
    "dob_future": "the date of birth is in the future",
    "dob_before_1900": "date of birth before 1900: compare with the card",
    "sex_invalid": "sex must be Nam or Nữ",
    "issue_date_format": "the issue date is not ddMMyyyy (8 digits)",
    "issue_date_impossible": "the issue date does not exist",
    "issue_date_future": "the issue date is in the future",
    "issue_before_birth": "issued before the date of birth",
    "issue_under_14": "issued before the age of 14: compare with the card",
    "issue_before_chip_cards": "issued before 2021 (before chip cards existed)",
    "issue_after_2024_law": "issued from 2024-07-01: 2021 cards are no longer issued",
    "card_expired": "the card has expired by law: the citizen must renew it",
    "id_province_unknown": "the ID's province code is none of the 63 provinces",
    "id_sex_mismatch": "the ID number does not match the sex on the card",
    "id_birth_year_mismatch": "the ID number does not match the birth year on the card",
    "parser_failure": "internal error while reading the QR code; scan again",
    "no_qr_found": "no QR code found in the image",
    "qr_unreadable": "a QR code is in view but cannot be decoded (blurred, dirty or covered)",
}
UNREADABLE_VI = "Không đọc được tệp ảnh: "
UNREADABLE_EN = "cannot read the image file: "
# Why an image file could not be opened (Vietnamese -> English); no Python class names.
UNREADABLE_WHY = {
    "không có tệp này": "no such file",
    "đây là thư mục, không phải tệp": "it is a folder, not a file",
    "không có quyền đọc": "permission denied",
    "không phải ảnh PNG hay JPEG": "not a PNG or JPEG image",
}


def _why_unreadable(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "không có tệp này"
    if isinstance(exc, IsADirectoryError):
        return "đây là thư mục, không phải tệp"
    if isinstance(exc, PermissionError):
        return "không có quyền đọc"
    if isinstance(exc, OSError) and exc.strerror:
        return f"lỗi đọc ({exc.strerror})"
    return "không phải ảnh PNG hay JPEG"


def _english(code: str, message: str) -> str | None:
    if code == "image_unreadable" and message.startswith(UNREADABLE_VI):
        why = message.removeprefix(UNREADABLE_VI).removesuffix(".")
        return UNREADABLE_EN + UNREADABLE_WHY.get(why, why.replace("lỗi đọc", "read error"))
    return ENGLISH.get(code)


def _parse(args: argparse.Namespace) -> int:
    from station.qr.payload import parse_payload

    # Raw bytes either way: argv keeps undecodable bytes as surrogates (os.fsencode undoes it).
    data = os.fsencode(args.text) if args.text is not None else sys.stdin.buffer.read()
    data = data.rstrip(b"\r\n")
    record = _record(parse_payload(data), _station_id(args))
    _emit(record, args.json)
    return 0 if record["status"] == "ok" else 1


def _record(result: QrResult, station_id: str, **extra: str) -> dict[str, Any]:
    from station.record import qr_record

    record = qr_record(result, station_id=station_id)
    record.update(extra)
    return record


def _emit(record: dict[str, Any], as_json: bool) -> None:
    from station.record import to_json_line

    if as_json:
        print(to_json_line(record), flush=True)
        return
    print("\n".join(summary_lines(record)), flush=True)


def summary_lines(record: dict[str, Any]) -> Sequence[str]:
    """A readable Vietnamese/English summary of one record."""
    head = f"{record['file']}: " if "file" in record else ""
    lines = [f"{head}{record['status']}"]
    citizen = record.get("citizen") or {}
    for key, label in LABELS:
        if key in citizen:
            lines.append(f"  {label:30} {citizen[key] if citizen[key] is not None else '-'}")
    if "qr_raw" in record:
        lines.append(f"  {'Nội dung QR / raw QR text':30} {record['qr_raw']!r}")
    for kind, label in (("errors", "Lỗi / error"), ("warnings", "Cảnh báo / warning")):
        lines.extend(f"  {label}: {_both(f)} [{f['code']}]" for f in record[kind])
    return lines


def _both(found: dict[str, str]) -> str:
    """A finding's Vietnamese message and its English, for the admin's terminal."""
    message = found["message"]
    english = _english(found["code"], message)
    return f"{message} / {english}" if english else message
