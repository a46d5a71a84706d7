"""One entry point from a chip read to a verdict: ``verify_chip``.

    store = TrustStore.load(cfg.trust_dir)
    verification = verify_chip(read, qr_identity, store)
    record["verification"] = verification.to_json()

Active and Chip Authentication count only on a live card, and only with a DG15 / DG14
whose hash the SOD covers (an uncovered key proves nothing). The chip reader runs Chip
Authentication itself, right after DG14 and before the other groups (``read.chip_auth``),
and reads DG15 only when CA did not pass: CA supersedes AA for clone detection (ICAO
9303-11), so a chip that passed CA is not asked for AA, and the verdict says so
(``active`` "skipped" with the ``active_skipped`` note "chip-auth"). AA runs here,
over ``read.session``, when DG15 was read. The protocols and their APDUs are
`station.icao.active` / `station.icao.chipauth`; here their outcome becomes an ``Auth``
status.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

from station.icao import active, chipauth, keys
from station.icao.errors import ChipError, LdsError
from station.icao.result import ChipRead
from station.mrz.td1 import ParsedMrz
from station.ports import TransportError
from station.qr.card2024 import QrClues
from station.qr.models import QrIdentity
from station.verify.active import check_response
from station.verify.agreement import compare_printed
from station.verify.passive import PassiveResult, passive_authenticate
from station.verify.trust import TrustStore
from station.verify.verdict import Auth, AuthOutcome, Verification

log = logging.getLogger(__name__)


def data_groups(files: Mapping[str, bytes]) -> dict[int, bytes]:
    """{number: bytes} of the "DGn" entries of a read result's files."""
    out = {}
    for name, data in files.items():
        match = re.fullmatch(r"DG(\d{1,2})", name)
        if match:
            out[int(match.group(1))] = data
    return out


def verify_chip(
    read: ChipRead,
    qr: QrIdentity | None,
    store: TrustStore,
    *,
    at: datetime | None = None,
    clues: QrClues | None = None,
    mrz: ParsedMrz | None = None,
) -> Verification:
    """Passive (+ Active + Chip) Authentication and agreement with what the card shows (the
    2021 QR ``qr``, a 2024 QR's ``clues``, the ``mrz``) -> the verdict. AA and CA run over
    ``read.session`` (the card still in the field); without one they are not checked."""
    when = at or datetime.now(UTC)
    passive = passive_authenticate(
        data_groups(read.files), read.files.get("EF.SOD"), store, when, issued=_issued(read)
    )
    missing = not_given(passive, read)
    chip_auth = _chip_auth(passive, read)
    skipped = (
        chip_auth.status is Auth.OK and read.chip_auth is not None and read.chip_auth.aa_skipped
    )
    active_outcome = AuthOutcome(Auth.SKIPPED, AA_SKIPPED) if skipped else _active(passive, read)
    agreement = compare_printed(qr, read.citizen, clues=clues, mrz=mrz)
    unparsed = read.parse_problems()
    verification = Verification(
        passive=passive.status,
        active=active_outcome.status,
        chip_auth=chip_auth.status,
        qr_chip_match=agreement.match,
        mismatches=agreement.mismatches,
        signer=passive.signer,
        trust_path=passive.trust_path,
        findings=(
            *passive.findings,
            *(_not_given_finding(n, read) for n in missing),
            f"active authentication: {active_outcome.detail}",
            f"chip authentication: {chip_auth.detail}",
            *(f"{name} not parsed: {why}" for name, why in unparsed.items()),
        ),
        missing=missing,
        crl=passive.crl,
        unparsed=tuple(unparsed),
        active_skipped="chip-auth" if skipped else None,
    )
    log.info(
        "verification: %s (passive %s, AA %s, CA %s, QR match %s)",
        verification.level.value,
        passive.status.value,
        active_outcome.status.value,
        chip_auth.status.value,
        agreement.match,
    )
    return verification


def _issued(read: ChipRead) -> date | None:
    """The card's issue date from DG13 (signed data; its hash is checked by PA)."""
    text = read.citizen.get("issue_date")
    try:
        return date.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def not_given(passive: PassiveResult, read: ChipRead) -> tuple[int, ...]:
    """Data groups the SOD lists that the reader asked for and the chip did not give
    (refused, absent or left out of EF.COM: ``read.unreadable``)."""
    if passive.sod is None:
        return ()
    listed = passive.sod.dg_hashes
    return tuple(n for n in sorted(listed) if f"DG{n}" in read.unreadable)


def _not_given_finding(number: int, read: ChipRead) -> str:
    why = read.unreadable[f"DG{number}"]
    return f"DG{number} is listed in EF.SOD but the chip did not give it ({why})"


UNCOVERED = "DG14 is not covered by a valid EF.SOD"
AA_SKIPPED = (
    "not needed: Chip Authentication passed (ICAO 9303-11: CA supersedes AA), DG15 not read"
)


def _active(passive: PassiveResult, read: ChipRead) -> AuthOutcome:
    """INTERNAL AUTHENTICATE with DG15's key; the answer checked (ISO 9796-2 / ECDSA)."""
    if read.chip_auth is not None and read.chip_auth.aa_skipped:  # CA passed, not covered
        return AuthOutcome(Auth.NOT_CHECKED, "DG15 not read (CA passed on the chip), " + UNCOVERED)
    if "DG15" not in read.files:
        return AuthOutcome(Auth.NOT_SUPPORTED, "no DG15 read")
    if not passive.covers(15):
        return AuthOutcome(Auth.NOT_CHECKED, "DG15 is not covered by a valid EF.SOD")
    if read.session is None:
        return AuthOutcome(Auth.NOT_CHECKED, "no card present (offline verification)")
    try:
        key = read.aa_public_key
    except ValueError as exc:  # LdsError, KeyLoadError
        return AuthOutcome(Auth.FAILED, str(exc))
    assert key is not None  # DG15 was read
    try:
        answer = active.authenticate(read.session, key)
    except active.ActiveAuthError as exc:
        return AuthOutcome(Auth.FAILED, str(exc))
    except (ChipError, TransportError) as exc:
        return AuthOutcome(Auth.FAILED, f"{active.STEP}: {exc}")
    ok, detail = check_response(key, answer.challenge, answer.signature, _aa_hash(passive, read))
    log.info("active authentication: %s (%s)", "ok" if ok else "failed", keys.key_description(key))
    return AuthOutcome(Auth.OK if ok else Auth.FAILED, detail)


def _aa_hash(passive: PassiveResult, read: ChipRead) -> str | None:
    """The hash DG14's ActiveAuthenticationInfo names, when the SOD covers DG14."""
    if not passive.covers(14):
        return None
    try:
        infos = read.security_infos
    except LdsError:
        return None
    return infos.aa_hash if infos is not None else None


def _chip_auth(passive: PassiveResult, read: ChipRead) -> AuthOutcome:
    """Chip Authentication with DG14's first option; CA's session stays installed."""
    try:
        infos = read.security_infos
    except LdsError as exc:
        return AuthOutcome(Auth.FAILED, str(exc))
    if infos is None:
        return AuthOutcome(Auth.NOT_SUPPORTED, "no DG14 read")
    options = infos.ca_options()
    if not options:
        return AuthOutcome(Auth.NOT_SUPPORTED, "DG14 offers no Chip Authentication key")
    if not passive.covers(14):
        return AuthOutcome(Auth.NOT_CHECKED, UNCOVERED)
    if read.chip_auth is not None:  # run by the reader, right after DG14
        ran = read.chip_auth
        return AuthOutcome(Auth.OK if ran.ok else Auth.FAILED, ran.detail)
    if read.session is None:
        return AuthOutcome(Auth.NOT_CHECKED, "no card present (offline verification)")
    try:
        result = chipauth.establish(read.session, options[0])
    except chipauth.ChipAuthError as exc:
        return AuthOutcome(Auth.FAILED, str(exc))
    except (ChipError, TransportError) as exc:
        return AuthOutcome(Auth.FAILED, f"CA failed: {exc}")
    return AuthOutcome(Auth.OK, result.detail)


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
