"""`station scan-mrz [--json] IMAGE...`: the MRZ path from image files, like ``scan-qr``.

One result per image: the three lines as read, the layout (a Vietnamese card or another
ICAO TD1 document), every check and whether it passed, the fields (the name marked
unverified: no check digit covers it). ``--json``: one JSON object per line, with
``"file"``. Exit status 0 only when every image gave a fully checked MRZ, 1 otherwise, 2 for
usage errors. This is the administrator's tool: it prints the card data on stdout by design
(never to the logs).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from station.cli import Subparsers
    from station.mrz.reader import MrzReader


def register(sub: Subparsers) -> None:
    scan = sub.add_parser("scan-mrz", help="read and check the MRZ (3 lines) in image files")
    scan.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG file")
    scan.add_argument("--json", action="store_true", help="one JSON object per line")
    scan.set_defaults(func=_scan)


def _scan(args: argparse.Namespace) -> int:
    from station.mrz.reader import MrzReader

    reader = MrzReader()
    all_ok = True
    for path in args.images:
        result = scan_file(path, reader)
        all_ok &= bool(result["ok"])
        print(json.dumps(result, ensure_ascii=False) if args.json else summary(result), flush=True)
    return 0 if all_ok else 1


def scan_file(path: str, reader: MrzReader) -> dict[str, Any]:
    """The result for one image file (never raises for a bad file: ``reason`` says why)."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from station.cli.qr import UNREADABLE_EN, UNREADABLE_WHY, _why_unreadable

    try:
        with Image.open(path) as image:
            frame = np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        why = _why_unreadable(exc)
        reason = UNREADABLE_EN + UNREADABLE_WHY.get(why, why)
        return {"file": path, "ok": False, "found": False, "reason": reason}
    reading = reader.read(frame)
    if reading.parsed is None:
        return {"file": path, "ok": False, "found": False, "reason": reading.reason}
    out = {"file": path, "found": True, **reading.parsed.to_json()}
    out.update(ok=reading.usable, reason=reading.reason, char_h=round(reading.char_h, 1))
    return out


def summary(result: dict[str, Any]) -> str:
    """A readable summary of one result."""
    head = f"{result['file']}: {'ok' if result['ok'] else 'NOT OK'}"
    if result.get("reason"):
        head += f" ({result['reason']})"
    if not result.get("found"):
        return head
    lines = [head, *(f"  {line}" for line in result["lines"])]
    checks = ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in result["checks"].items())
    lines.append(f"  layout {result['layout']}; checks: {checks}")
    fields = result["fields"]
    for key in ("document_number", "id_number", "date_of_birth", "sex", "date_of_expiry"):
        if fields.get(key) is not None:
            lines.append(f"  {key}: {fields[key]}")
    name = fields["name_unverified"]
    lines.append(
        f"  name (not covered by a check digit): {name['surname']} / {name['given_names']}"
    )
    return "\n".join(lines)
