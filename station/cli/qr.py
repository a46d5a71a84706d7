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
        finding = Finding("image_unreadable", f"Không đọc được tệp ảnh ({type(exc).__name__}).")
        return QrResult(QrStatus.NO_QR, None, "", errors=(finding,))
    results = [parse_payload(p) for p in decoder.decode(frame)]
    if not results:
        finding = Finding("no_qr_found", "Không tìm thấy mã QR trong ảnh.")
        return QrResult(QrStatus.NO_QR, None, "", errors=(finding,))
    rank = {QrStatus.OK: 0, QrStatus.INVALID: 1, QrStatus.UNRECOGNISED: 2}
    return min(results, key=lambda r: rank.get(r.status, 3))


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
        lines.extend(f"  {label}: {f['message']} [{f['code']}]" for f in record[kind])
    return lines
