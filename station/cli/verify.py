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
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from station.cli._common import USAGE, CliError, iso_date
from station.cli.trust import add_store_options, resolve_trust_dir

if TYPE_CHECKING:
    from station.cli import Subparsers
    from station.qr.models import QrIdentity


def register(sub: Subparsers) -> None:
    p = sub.add_parser("verify", help="verify a saved chip dump (Passive Authentication, QR match)")
    p.add_argument(
        "dir", metavar="DIR", help="folder of raw chip files (read-chip --save-dir; EF_SOD.bin ...)"
    )
    p.add_argument(
        "--qr", default=None, metavar="TEXT", help="the card's QR text, to compare with the chip"
    )
    p.add_argument(
        "--at",
        type=iso_date("--at"),
        default=None,
        metavar="YYYY-MM-DD",
        help="check the signer's validity on this day (default: today)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_store_options(p)
    p.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, time

    from station.icao.result import ChipRead
    from station.verify.chip import verify_chip
    from station.verify.trust import TrustStore

    at = None if args.at is None else datetime.combine(args.at, time(0), tzinfo=UTC)
    qr = _qr(args.qr)  # a usage error before any file is read
    store = TrustStore.load(resolve_trust_dir(args))
    files = _dump(args.dir)
    try:  # no card: Active and Chip Authentication cannot run (no session)
        read = ChipRead.from_files(files, access="offline", key_source="dump")
    except ValueError as exc:  # LdsError: a malformed DG1 or DG13
        raise CliError(f"{args.dir}: {exc}") from None
    result = verify_chip(read, qr, store, at=at)
    if args.json:
        out = {"verification": result.to_json(), "reason": result.reason_vi,
               "findings": list(result.findings)}  # fmt: skip
        print(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        reason = f"{result.reason_vi} / {result.reason_code.replace('-', ' ')}"
        print("\n".join(_text(result.to_json(), reason, result.findings)))
    return 0 if result.level.value == "verified" else 1


def _dump(directory: str) -> dict[str, bytes]:
    from station.verify.chip import load_dump

    path = Path(directory)
    if not path.is_dir():
        what = "no such folder" if not path.exists() else "not a folder"
        raise CliError(f"DIR {directory}: {what} (give the folder of read-chip --save-dir)", USAGE)
    try:
        files = load_dump(path)
    except OSError as exc:
        raise CliError(f"cannot read {directory}: {exc.strerror}") from None
    if not files:
        raise CliError(
            f"no card files in {directory} (expected DG1.bin, EF.SOD.bin or EF_SOD.bin ...)", USAGE
        )
    return files


def _qr(text: str | None) -> QrIdentity | None:
    if text is None:
        return None
    from station.qr.payload import parse_payload

    result = parse_payload(text)
    if result.identity is None:
        raise CliError(
            f"--qr: not a usable CCCD QR payload ({result.status}); "
            "check it with `station parse-qr`",
            USAGE,
        )
    return result.identity


def _text(v: dict[str, Any], reason: str, findings: Sequence[str]) -> list[str]:
    """The verdict for a terminal: one line per check, words instead of Python values."""
    lines = [f"{str(v['level']).upper()}: {reason}"]
    lines += [f"  {label:22} {v[key]}" for key, label in _CHECKS]
    match = {True: "yes", False: "NO", None: "not compared (no --qr)"}[v["qr_chip_match"]]
    lines.append(f"  {'QR matches chip':22} {match}")
    if v["mismatches"]:
        lines.append(f"  {'fields that differ':22} {', '.join(v['mismatches'])}")
    if v.get("missing"):
        lines.append(f"  {'not given by the chip':22} {', '.join(v['missing'])} (listed in EF.SOD)")
    crl = {"current": "current", "missing": "NONE installed: a revoked signer would pass",
           "expired": "EXPIRED (past its next update)", None: "-"}[v.get("crl")]  # fmt: skip
    lines.append(f"  {'trust anchor CRL':22} {crl}")
    signer = v.get("signer")
    if signer:
        lines.append(f"  {'document signer':22} {signer['subject']}")
        lines.append(f"  {'issued by':22} {signer['issuer']}")
        lines.append(f"  {'signer serial':22} {signer['serial']}")
        lines.append(f"  {'signer SHA-256':22} {signer['sha256']}")
    else:
        lines.append(f"  {'document signer':22} none found")
    lines += [f"  - {finding}" for finding in findings]
    return lines


_CHECKS = (
    ("passive", "passive authentication"),
    ("active", "active authentication"),
    ("chip_auth", "chip authentication"),
)
