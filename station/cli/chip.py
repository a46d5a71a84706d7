"""`station read-chip` and `station readers`: the chip over PC/SC from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from station.cli import Subparsers
    from station.icao.access import AccessKeys


def register(subparsers: Subparsers) -> None:
    p = subparsers.add_parser("read-chip", help="read a CCCD chip in a PC/SC reader")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.add_argument("--reader", default=None, help="reader name (substring); default: config")
    key = p.add_mutually_exclusive_group(required=True)
    key.add_argument("--qr", help="the card's QR text (access key derived from it)")
    key.add_argument("--id", dest="id12", help="12-digit ID number (with --dob)")
    key.add_argument("--mrz-key", help="DOCNO,YYMMDD,YYMMDD (document number, birth, expiry)")
    p.add_argument("--dob", help="date of birth YYYY-MM-DD (with --id)")
    p.add_argument("--expiry", help="expiry date YYYY-MM-DD (with --id or --qr)")
    p.add_argument("--can", help="card access number for PACE (default: last 6 digits of the ID)")
    p.add_argument(
        "--access", choices=("auto", "pace", "bac"), default=None, help="access protocol"
    )
    p.add_argument("--files", default="", help="files to read, e.g. DG1,DG13,SOD (default: all)")
    p.add_argument("--save-dir", default=None, help="write the raw files (DG1.bin, ...) here")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a card")
    p.add_argument("--config", default=None, help="config file (default: built-in defaults)")
    p.set_defaults(func=_read_chip)
    r = subparsers.add_parser("readers", help="list PC/SC readers and whether a card is present")
    r.add_argument("--json", action="store_true", help="print JSON")
    r.set_defaults(func=_readers)


def _fail(message: str, status: int = 1) -> int:
    print(f"read-chip: {message}", file=sys.stderr)
    return status


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} must be YYYY-MM-DD") from None


def _keys_and_record(
    args: argparse.Namespace, station_id: str
) -> tuple[AccessKeys, dict[str, Any]]:
    from dataclasses import replace

    from station.icao.access import AccessKeys
    from station.qr.payload import parse_payload
    from station.record import qr_record

    expiry = _date(args.expiry, "--expiry")
    if args.qr is not None:
        result = parse_payload(args.qr)
        if result.identity is None:
            raise ValueError(f"QR text not usable ({result.status})")
        keys = AccessKeys.from_qr(result.identity, expiry=expiry)
        record = qr_record(result, station_id=station_id)
    elif args.id12 is not None:
        dob = _date(args.dob, "--dob")
        if dob is None or not (args.id12.isdigit() and len(args.id12) == 12):
            raise ValueError("--id needs 12 digits and --dob YYYY-MM-DD")
        keys = AccessKeys.from_id(args.id12, dob, expiry=expiry)
        record = qr_record(None, station_id=station_id)
    else:
        parts = [s.strip() for s in args.mrz_key.split(",")]
        if len(parts) != 3 or not all(parts):
            raise ValueError("--mrz-key must be DOCNO,YYMMDD,YYMMDD")
        keys = AccessKeys.from_mrz(*parts)
        record = qr_record(None, station_id=station_id)
    if args.can:
        keys = replace(keys, can=args.can, can_source="given-can")
    return keys, record


def _read_chip(args: argparse.Namespace) -> int:
    from pathlib import Path

    from station import config
    from station.icao.errors import ChipError
    from station.icao.reader import DEFAULT_FILES, ChipReader, file_names
    from station.ports import TransportError
    from station.record import with_chip

    try:
        cfg = config.load(args.config) if args.config else config.Config()
        keys, base = _keys_and_record(args, cfg.station.id)
        files = file_names(args.files) if args.files else DEFAULT_FILES
    except (ValueError, config.ConfigError) as exc:
        return _fail(str(exc), 2)
    try:
        from station.drivers.card_pcsc import PcscTransport

        transport = PcscTransport(args.reader if args.reader is not None else cfg.reader.name)
    except TransportError as exc:
        return _fail(str(exc))
    try:
        if not transport.wait_for_card(args.timeout):
            return _fail(f"no card on {transport.name} within {args.timeout:g} s")
        reader = ChipReader(transport, order=args.access or cfg.reader.access)
        result = reader.read(keys, files=files)
    except (ChipError, TransportError) as exc:
        return _fail(str(exc))
    finally:
        transport.close()
    if args.save_dir:
        out = Path(args.save_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, data in result.files.items():
            (out / f"{name}.bin").write_bytes(data)
    privacy = cfg.privacy
    record = with_chip(
        base, result, store_sensitive=privacy.store_sensitive, store_face=privacy.store_face
    )
    _print(record, args.json)
    return 0


def _print(record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return
    for key, value in (record.get("citizen") or {}).items():
        print(f"{key}: {value if value is not None else '-'}")
    chip = record["chip"]
    access, count = f"{chip['access']} ({chip['key_source']})", len(chip["files"])
    print(f"chip: {access}, {count} files, {chip['read_ms']} ms")


def _readers(args: argparse.Namespace) -> int:
    from station.drivers.card_pcsc import list_readers
    from station.ports import TransportError

    try:
        found = list_readers()
    except TransportError as exc:
        print(f"readers: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([{"name": n, "card_present": p} for n, p in found], ensure_ascii=False))
    elif not found:
        print("no PC/SC readers")
    else:
        for name, present in found:
            print(f"{name}\t{'card present' if present else 'empty'}")
    return 0
