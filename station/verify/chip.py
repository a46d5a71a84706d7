"""One entry point from a chip read to a verdict: ``verify_chip``.

    store = TrustStore.load(cfg.trust_dir)
    verification = verify_chip(read, qr_identity, store)
    record["verification"] = verification.to_json()

Active and Chip Authentication run only on a live card (``sender``), and only with a
DG15 / DG14 whose hash the SOD covers (an uncovered key proves nothing). AA runs
first (under the access session), then CA, which leaves CA's session installed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from station.icao.errors import ChipError
from station.ports import TransportError
from station.qr.models import QrIdentity
from station.verify.active import AuthOutcome, active_authenticate
from station.verify.agreement import compare
from station.verify.chipauth import SmChannel, chip_authenticate
from station.verify.passive import PassiveResult, passive_authenticate
from station.verify.securityinfo import ca_options
from station.verify.trust import TrustStore
from station.verify.verdict import Auth, Verification

log = logging.getLogger(__name__)


class ChipReadLike(Protocol):
    """What ``verify_chip`` needs of ``station.icao.result.ChipRead``."""

    @property
    def files(self) -> Mapping[str, bytes]: ...

    @property
    def citizen(self) -> Mapping[str, Any]: ...

    @property
    def session(self) -> SmChannel | None: ...


def data_groups(files: Mapping[str, bytes]) -> dict[int, bytes]:
    """{number: bytes} of the "DGn" entries of a read result's files."""
    out = {}
    for name, data in files.items():
        match = re.fullmatch(r"DG(\d{1,2})", name)
        if match:
            out[int(match.group(1))] = data
    return out


def verify_chip(
    read: ChipReadLike,
    qr: QrIdentity | None,
    store: TrustStore,
    *,
    at: datetime | None = None,
) -> Verification:
    """Passive (+ Active + Chip) Authentication and QR agreement -> the verdict. AA and CA
    run over ``read.session`` (the card still in the field); without one they are
    not checked."""
    when = at or datetime.now(UTC)
    sender = read.session
    dgs = data_groups(read.files)
    passive = passive_authenticate(dgs, read.files.get("EF.SOD"), store, when)
    active = _active(passive, dgs, sender)
    chip_auth = _chip_auth(passive, dgs, sender)
    try:
        chip_fields = read.citizen
    except (ValueError, ChipError) as exc:
        log.warning("chip citizen fields unreadable: %s", exc)
        chip_fields = {}
    agreement = compare(qr, chip_fields)
    verification = Verification(
        passive=passive.status,
        active=active.status,
        chip_auth=chip_auth.status,
        qr_chip_match=agreement.match,
        mismatches=agreement.mismatches,
        signer=passive.signer,
        findings=(
            *passive.findings,
            f"active authentication: {active.detail}",
            f"chip authentication: {chip_auth.detail}",
        ),
    )
    log.info(
        "verification: %s (passive %s, AA %s, CA %s, QR match %s)",
        verification.level.value,
        passive.status.value,
        active.status.value,
        chip_auth.status.value,
        agreement.match,
    )
    return verification


def _active(passive: PassiveResult, dgs: dict[int, bytes], sender: SmChannel | None) -> AuthOutcome:
    if 15 not in dgs:
        return AuthOutcome(Auth.NOT_SUPPORTED, "no DG15 read")
    if not passive.covers(15):
        return AuthOutcome(Auth.NOT_CHECKED, "DG15 is not covered by a valid EF.SOD")
    if sender is None:
        return AuthOutcome(Auth.NOT_CHECKED, "no card present (offline verification)")
    dg14 = dgs.get(14) if passive.covers(14) else None
    try:
        return active_authenticate(sender, dgs[15], dg14)
    except (ChipError, TransportError, ValueError) as exc:
        return AuthOutcome(Auth.FAILED, f"AA failed: {exc}")


def _chip_auth(
    passive: PassiveResult, dgs: dict[int, bytes], sender: SmChannel | None
) -> AuthOutcome:
    if 14 not in dgs:
        return AuthOutcome(Auth.NOT_SUPPORTED, "no DG14 read")
    try:
        supported = bool(ca_options(dgs[14]))
    except ValueError as exc:
        return AuthOutcome(Auth.FAILED, str(exc))
    if not supported:
        return AuthOutcome(Auth.NOT_SUPPORTED, "DG14 offers no Chip Authentication key")
    if not passive.covers(14):
        return AuthOutcome(Auth.NOT_CHECKED, "DG14 is not covered by a valid EF.SOD")
    if sender is None:
        return AuthOutcome(Auth.NOT_CHECKED, "no card present (offline verification)")
    try:
        return chip_authenticate(sender, dgs[14])
    except (ChipError, TransportError, ValueError) as exc:
        return AuthOutcome(Auth.FAILED, f"CA failed: {exc}")


_NOT_RAW = (".json", ".txt", ".md", ".png", ".jpg", ".jpeg", ".jp2", ".pem", ".log")
_DUMP_NAME = re.compile(r"^(?:EF[._-]?)?(DG\d{1,2}|SOD|COM|CARDACCESS)", re.IGNORECASE)


def load_dump(directory: Path | str) -> dict[str, bytes]:
    """Raw files of a saved card dump by read-result name ("DG1", "EF.SOD", ...).

    Accepts ``DG1.bin``, ``EF.SOD.bin``, ``EF_SOD.bin``, ``EF_DG15_not_in_sod.bin`` ...
    """
    out: dict[str, bytes] = {}
    for path in sorted(Path(directory).iterdir()):
        match = _DUMP_NAME.match(path.name)
        if not path.is_file() or not match or path.suffix.lower() in _NOT_RAW:
            continue
        key = match.group(1).upper()
        name = {"SOD": "EF.SOD", "COM": "EF.COM", "CARDACCESS": "EF.CardAccess"}.get(key, key)
        out[name] = path.read_bytes()
    return out
