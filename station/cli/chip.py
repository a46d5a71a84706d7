"""`station read-chip` and `station readers`: the chip over PC/SC from the command line.

``read-chip`` gives the counter's verdict: after the read, Passive, Active and Chip
Authentication run on the live card and the chip is compared with the QR / MRZ given; the
record's ``verification`` holds it (with its findings). Exit status 0 when the card was
read and verified, 1 when it could not be read or is not verified (the record is printed
either way), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from station.cli._common import bounded, iso_date

if TYPE_CHECKING:
    from station.cli import Subparsers
    from station.config import Config
    from station.icao.access import AccessKeys
    from station.mrz.td1 import ParsedMrz
    from station.ports import CardTransport
    from station.qr.models import QrResult
    from station.verify.trust import TrustStore


def register(subparsers: Subparsers) -> None:
    p = subparsers.add_parser("read-chip", help="read a CCCD chip in a PC/SC reader")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.add_argument("--reader", default=None, help="reader name (substring); default: config")
    key = p.add_mutually_exclusive_group(required=True)
    key.add_argument("--qr", help="the card's QR text (access key derived from it)")
    key.add_argument("--id", dest="id12", help="12-digit ID number (with --dob)")
    key.add_argument("--mrz-key", help="DOCNO,YYMMDD,YYMMDD (document number, birth, expiry)")
    key.add_argument(
        "--mrz", metavar="L1|L2|L3", help="the card's MRZ as printed (every check must pass)"
    )
    p.add_argument(
        "--dob", type=iso_date("--dob"), metavar="YYYY-MM-DD", help="date of birth (with --id)"
    )
    p.add_argument(
        "--expiry",
        type=iso_date("--expiry"),
        metavar="YYYY-MM-DD",
        help="expiry date (with --id or --qr; default: from the card laws)",
    )
    p.add_argument(
        "--can", metavar="DIGITS", help="card access number for PACE (default: last 6 ID digits)"
    )
    p.add_argument(
        "--access",
        choices=("auto", "pace", "bac"),
        default=None,
        help="access protocol (default: reader.access of the config, 'auto')",
    )
    p.add_argument(
        "--files",
        default="",
        help="files to read, e.g. DG1,DG13,SOD (default: all the record needs; the face DG2 "
        "only with privacy.store_face or show_face)",
    )
    p.add_argument(
        "--save-dir", default=None, metavar="DIR", help="write the raw files (DG1.bin, ...) here"
    )
    p.add_argument(
        "--timeout",
        type=bounded(float, 0.1, 3600),
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for a card (default 10)",
    )
    p.add_argument(
        "--config",
        default=None,
        help="config file (default: /etc/station/station.toml if it exists, else built-in "
        "defaults)",
    )
    p.add_argument("--trust-dir", default=None, help="trust store folder (default: trust.dir)")
    p.set_defaults(func=_read_chip)
    r = subparsers.add_parser("readers", help="list PC/SC readers and whether a card is present")
    r.add_argument("--json", action="store_true", help="print JSON (name, card_present)")
    r.set_defaults(func=_readers)


@dataclass(frozen=True)
class _Printed:
    """What the command line says the card shows: keys, the record's start, what to compare."""

    keys: AccessKeys
    record: dict[str, Any]
    qr: QrResult | None = None
    mrz: ParsedMrz | None = None


def _from_mrz(text: str, station_id: str) -> _Printed:
    from station.icao.access import AccessKeys
    from station.mrz.td1 import parse_text
    from station.record import qr_record

    parsed = parse_text(text)
    if not parsed.ok:
        raise ValueError(f"--mrz does not pass its checks: {'; '.join(parsed.failures)}")
    keys = AccessKeys.from_mrz(*parsed.access_key(), source="mrz-text")
    return _Printed(keys, qr_record(None, station_id=station_id, mrz=parsed), mrz=parsed)


def _printed(args: argparse.Namespace, station_id: str) -> _Printed:
    from dataclasses import replace

    from station.icao.access import AccessKeys
    from station.qr.payload import parse_payload
    from station.record import qr_record

    expiry: date | None = args.expiry
    if args.mrz is not None:
        printed = _from_mrz(args.mrz, station_id)
    elif args.qr is not None:
        result = parse_payload(args.qr)
        if result.identity is None and result.clues is None:
            raise ValueError(
                f"--qr: not a usable CCCD QR payload ({result.status}); "
                "check it with `station parse-qr`, or give --id and --dob"
            )
        keys = AccessKeys.for_card(result, None)
        if result.identity is not None:
            keys = AccessKeys.from_qr(result.identity, expiry=expiry)
        printed = _Printed(keys, qr_record(result, station_id=station_id), qr=result)
    elif args.id12 is not None:
        dob: date | None = args.dob
        if dob is None or not (args.id12.isdigit() and len(args.id12) == 12):
            raise ValueError("--id needs the 12 digits of the ID number and --dob YYYY-MM-DD")
        keys = AccessKeys.from_id(args.id12, dob, expiry=expiry)
        printed = _Printed(keys, qr_record(None, station_id=station_id))
    else:
        parts = [s.strip() for s in args.mrz_key.split(",")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                "--mrz-key must be DOCNO,YYMMDD,YYMMDD (document number, birth, expiry)"
            )
        printed = _Printed(AccessKeys.from_mrz(*parts), qr_record(None, station_id=station_id))
    if args.can:
        keys = replace(printed.keys, can=args.can, can_source="given-can")
        printed = replace(printed, keys=keys)
    return printed


def _read_chip(args: argparse.Namespace) -> int:
    from station.cli._common import USAGE, CliError, load_config
    from station.icao.errors import ChipError
    from station.icao.reader import file_names, wanted_files
    from station.ports import TransportError

    cfg = load_config(args.config)
    try:
        printed = _printed(args, cfg.station.id)
        face = cfg.privacy.store_face or cfg.privacy.show_face
        files = file_names(args.files) if args.files else wanted_files(face=face)
    except ValueError as exc:
        raise CliError(str(exc), USAGE) from None
    store = _trust(args, cfg)
    try:
        from station.drivers.card_pcsc import PcscTransport

        transport = PcscTransport(args.reader if args.reader is not None else cfg.reader.name)
    except TransportError as exc:
        raise CliError(f"{exc} (list the readers with `station readers`)") from None
    try:
        if not transport.wait_for_card(args.timeout):
            raise CliError(f"no card on {transport.name} within {args.timeout:g} s")
        record, verified = _read_and_verify(args, cfg, transport, printed, files, store)
    except (ChipError, TransportError) as exc:
        raise CliError(str(exc)) from None
    finally:
        transport.close()
    _print(record, args.json)
    return 0 if verified else 1


def _trust(args: argparse.Namespace, cfg: Config) -> TrustStore:
    from station.verify.trust import TrustStore

    return TrustStore.load(Path(args.trust_dir) if args.trust_dir else cfg.trust_dir)


def _read_and_verify(
    args: argparse.Namespace,
    cfg: Config,
    transport: CardTransport,
    printed: _Printed,
    files: Sequence[str],
    store: TrustStore,
) -> tuple[dict[str, Any], bool]:
    """The read, the verdict over the still open session, the record; and 'verified'."""
    from station.icao.reader import ChipReader
    from station.record import with_chip
    from station.verify.chip import verify_chip

    reader = ChipReader(transport, order=args.access or cfg.reader.access)
    # DG15 when asked for by name (--files), else only when Chip Authentication did not pass
    result = reader.read(printed.keys, files=files, dg15_if_needed=not args.files)
    qr = printed.qr
    verification = verify_chip(
        result, qr.identity if qr else None, store,
        clues=qr.clues if qr else None, mrz=printed.mrz,
    )  # fmt: skip
    if args.save_dir:
        _save(Path(args.save_dir), result.files)
    privacy = cfg.privacy
    record = with_chip(
        printed.record, result, store_sensitive=privacy.store_sensitive,
        store_face=privacy.store_face,
    )  # fmt: skip
    record["verification"] = {**verification.to_json(), "findings": list(verification.findings)}
    return record, verification.level.value == "verified"


def _save(out: Path, files: Mapping[str, bytes]) -> None:
    from station.cli._common import CliError

    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / f"{name}.bin").write_bytes(data)
    except OSError as exc:
        raise CliError(f"--save-dir {out}: cannot write the files: {exc.strerror}") from None


def _print(record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return
    for key, value in (record.get("citizen") or {}).items():
        print(f"{key}: {value if value is not None else '-'}")
    chip = record["chip"]
    access, count = f"{chip['access']} ({chip['key_source']})", len(chip["files"])
    print(f"chip: {access}, {count} files, {chip['read_ms']} ms")
    verification = record["verification"]
    print(f"verification: {verification['level']}")
    for key in ("passive", "active", "chip_auth", "qr_chip_match", "mismatches", "unparsed"):
        if key in verification:
            print(f"  {key}: {verification[key]}")
    for finding in verification.get("findings", []):
        print(f"  - {finding}")


def _readers(args: argparse.Namespace) -> int:
    from station.cli._common import CliError
    from station.drivers.card_pcsc import list_readers
    from station.ports import TransportError

    try:
        found = list_readers()
    except TransportError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps([{"name": n, "card_present": p} for n, p in found], ensure_ascii=False))
    elif not found:
        print("no PC/SC readers")
    else:
        for name, present in found:
            print(f"{name}\t{'card present' if present else 'empty'}")
    return 0
