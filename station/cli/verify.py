"""`station verify DIR [--qr TEXT] [--at DATE] [--json]`: verify a saved card dump offline.

DIR holds the raw files written by ``station read-chip --save-dir`` (``DG1.bin``,
``EF.SOD.bin``, ...; ``EF_DG1.bin`` style names are accepted too). Passive
Authentication and the QR comparison run; Active and Chip Authentication need the
card itself, so an offline verdict is never "verified". Prints the verdict (JSON with
``--json``); exit status 0 only when verified, 1 otherwise, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from station.cli.trust import add_store_options, resolve_trust_dir

if TYPE_CHECKING:
    from station.cli import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser("verify", help="verify a saved chip dump (Passive Authentication, QR match)")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--qr", default=None, help="the card's QR text, to compare with the chip")
    p.add_argument("--at", default=None, help="verification date YYYY-MM-DD (default: now)")
    p.add_argument("--json", action="store_true")
    add_store_options(p)
    p.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from station.config import ConfigError
    from station.icao.result import ChipRead
    from station.verify.chip import load_dump, verify_chip
    from station.verify.trust import TrustStore

    try:
        at = datetime.fromisoformat(args.at).replace(tzinfo=UTC) if args.at else None
        store = TrustStore.load(resolve_trust_dir(args))
        files = load_dump(args.dir)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not files:
        print(f"error: no card files in {args.dir}", file=sys.stderr)
        return 2
    try:  # no card: Active and Chip Authentication cannot run (no session)
        read = ChipRead.from_files(files, access="offline", key_source="dump")
    except ValueError as exc:  # LdsError: a malformed DG1, DG2 or DG13
        print(f"error: {args.dir}: {exc}", file=sys.stderr)
        return 2
    qr = _qr(args.qr)
    result = verify_chip(read, qr, store, at=at)
    if args.json:
        out = {"verification": result.to_json(), "reason": result.reason_vi,
               "findings": list(result.findings)}  # fmt: skip
        print(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        print(f"{result.level.value.upper()}: {result.reason_vi}")
        for key, value in result.to_json().items():
            if key != "level":
                print(f"  {key}: {value}")
        for finding in result.findings:
            print(f"  - {finding}")
    return 0 if result.level.value == "verified" else 1


def _qr(text: str | None):  # type: ignore[no-untyped-def]
    if text is None:
        return None
    from station.qr.payload import parse_payload

    return parse_payload(text).identity
