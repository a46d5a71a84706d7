"""Passive Authentication (ICAO 9303-11 section 5.1): data group hashes against EF.SOD,
the SOD's signature, the document signer's chain to a trust anchor, its validity and
its revocation status, and whether the anchor's CRL is current.

``passive_authenticate`` never raises on bad card data: a malformed SOD is a
``bad-signature`` result with the reason in ``findings``.

The rules that are decisions, not plain PKIX:

- A document signer that names an installed anchor as its issuer (same name, and the
  same key identifier when both carry one) but whose signature does not verify with
  that anchor's key is a forgery: ``bad-signature``. One that names no installed anchor
  (or an anchor key that is not installed: another key identifier, as after a CSCA key
  change) is ``untrusted-signer``.
- Validity is judged at the card's issue date when it is known (``issued``: DG13's
  signed issue date): a signer is fine when its certificate had begun by the read date
  and the card was not issued after the signer's key period ended (the private key usage
  period when the certificate has one, else its validity). A signer certificate that
  expired after the card was issued is normal: ICAO lets the key period end long before
  the card does, and a CCCD issued after 60 never expires. Without an issue date the
  certificate must be valid at the read date. A problem is ``signer-expired``.
- A signer on its anchor's CRL with a revocation date on or before the read date is
  ``signer-revoked`` (the key may have been used to backdate cards).

How the signer was trusted is the result's ``trust_path``: ``"csca"`` when it chains to
an installed CSCA, ``"pinned-ds"`` when it chains to none but is itself a document
signer the ward approved after an in-person check (``TrustStore.pinned``, byte for byte
the same certificate), None when it is not trusted.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Literal

from asn1crypto import x509
from cryptography import x509 as cx509

from station.icao import keys
from station.verify.sod import Sod, SodError, check_signature, parse_sod
from station.verify.trust import Anchor, TrustStore, verify_issued_by

log = logging.getLogger(__name__)


class Passive(StrEnum):
    OK = "ok"
    HASH_MISMATCH = "hash-mismatch"
    BAD_SIGNATURE = "bad-signature"
    UNTRUSTED_SIGNER = "untrusted-signer"
    SIGNER_EXPIRED = "signer-expired"
    SIGNER_REVOKED = "signer-revoked"
    NOT_CHECKED = "not-checked"


class CrlState(StrEnum):
    """The trust anchor's CRL at the read date (None in a result: no anchor found)."""

    CURRENT = "current"
    MISSING = "missing"  # no CRL of the anchor installed: a revoked signer would pass
    EXPIRED = "expired"  # every installed CRL is past its next update


# Most severe first: the reported value is the first problem found in this order.
SEVERITY = (
    Passive.BAD_SIGNATURE,
    Passive.HASH_MISMATCH,
    Passive.SIGNER_REVOKED,
    Passive.UNTRUSTED_SIGNER,
    Passive.SIGNER_EXPIRED,
)


TrustPath = Literal["csca", "pinned-ds"]


@dataclass(frozen=True)
class Signer:
    subject: str
    issuer: str
    serial: str  # hex, lower case
    sha256: str
    der: bytes = field(default=b"", repr=False)  # the certificate (EF.SOD; no personal data)

    @classmethod
    def of(cls, cert: x509.Certificate) -> Signer:
        subject, issuer = _names(cert)
        return cls(
            subject=subject,
            issuer=issuer,
            serial=format(int(cert.serial_number), "x"),
            sha256=hashlib.sha256(cert.dump()).hexdigest(),
            der=cert.dump(),
        )

    def to_json(self) -> dict[str, str]:
        """The record's ``verification.signer``: names, serial, fingerprint and the
        certificate itself (base64 DER), so the ward learns every signer its stations
        see (station.ward.signers)."""
        out = {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "sha256": self.sha256,
        }
        if self.der:
            out["certificate"] = base64.b64encode(self.der).decode("ascii")
        return out


def _names(cert: x509.Certificate) -> tuple[str, str]:
    """(subject, issuer) as RFC 4514 strings ("CN=...,O=...,C=VN"); asn1crypto's
    human-friendly form when ``cryptography`` cannot load the certificate."""
    try:
        loaded = cx509.load_der_x509_certificate(cert.dump())
        return loaded.subject.rfc4514_string(), loaded.issuer.rfc4514_string()
    except (ValueError, cx509.InvalidVersion):  # a version field cryptography refuses
        return str(cert.subject.human_friendly), str(cert.issuer.human_friendly)


@dataclass(frozen=True)
class PassiveResult:
    status: Passive
    problems: frozenset[Passive] = frozenset()
    findings: tuple[str, ...] = ()  # English, one per problem, for logs and the admin tool
    dg_status: Mapping[int, str] = field(default_factory=dict)  # ok | mismatch | not-in-sod
    signer: Signer | None = None
    anchor: str | None = None  # sha256 of the trust anchor the signer chains to
    sod: Sod | None = None
    crl: CrlState | None = None  # the anchor's CRL (None: the signer chains to no anchor)
    trust_path: TrustPath | None = None

    def covers(self, dg: int) -> bool:
        """True when ``dg`` was read and its hash matches the (validly signed) SOD."""
        return self.dg_status.get(dg) == "ok" and Passive.BAD_SIGNATURE not in self.problems


def not_checked(reason: str) -> PassiveResult:
    return PassiveResult(Passive.NOT_CHECKED, findings=(reason,))


def passive_authenticate(
    dgs: Mapping[int, bytes],
    sod_bytes: bytes | None,
    store: TrustStore,
    at: datetime,
    *,
    issued: date | None = None,
) -> PassiveResult:
    """Check read data groups (number -> full bytes) against EF.SOD and the trust store,
    at the read date ``at``; ``issued`` is the card's issue date when known (see the
    module doc for how the signer's validity is judged)."""
    if not sod_bytes:
        return not_checked("EF.SOD was not read")
    try:
        sod = parse_sod(sod_bytes)
    except SodError as exc:
        return PassiveResult(Passive.BAD_SIGNATURE, frozenset({Passive.BAD_SIGNATURE}), (str(exc),))
    problems: dict[Passive, str] = {}
    dg_status = _check_hashes(dgs, sod, problems)
    signer = anchor = crl_state = trust_path = None
    try:
        reason = check_signature(sod)
        if reason is not None:
            problems[Passive.BAD_SIGNATURE] = f"EF.SOD: {reason}"
        if sod.signer_cert is not None:
            signer = Signer.of(sod.signer_cert)
            anchor = _chain(sod.signer_cert, store, problems)
            trust_path = _trust_path(anchor, signer, store, problems)
            _validity(sod.signer_cert, at, issued, problems)
            if anchor is not None:
                crl_state = _revocation(sod.signer_cert, anchor, store, at, problems)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        # asn1crypto parses lazily: a malformed certificate surfaces only here
        problems[Passive.BAD_SIGNATURE] = f"EF.SOD's signer certificate is malformed: {exc}"
    status = next((p for p in SEVERITY if p in problems), Passive.OK)
    log.info("passive authentication of SOD %s: %s", sod.pseudonym, status.value)
    notes = []
    if anchor is not None and crl_state is not CrlState.CURRENT:
        notes.append(
            f"no current CRL of the trust anchor {anchor.subject} ({crl_state}): "
            "a revoked document signer would not be noticed"
        )
    return PassiveResult(
        status=status,
        problems=frozenset(problems),
        findings=(*problems.values(), *notes),
        dg_status=dg_status,
        signer=signer,
        anchor=anchor.fingerprint if anchor else None,
        sod=sod,
        crl=crl_state,
        trust_path=trust_path,
    )


def _trust_path(
    anchor: Anchor | None, signer: Signer, store: TrustStore, problems: dict[Passive, str]
) -> TrustPath | None:
    """ "csca" when chained; "pinned-ds" when the signer is pinned and chains to no
    installed anchor (its ``untrusted-signer`` problem is then lifted)."""
    if anchor is not None:
        return "csca"
    if Passive.UNTRUSTED_SIGNER in problems and store.is_pinned(signer.sha256):
        del problems[Passive.UNTRUSTED_SIGNER]
        return "pinned-ds"
    return None


def _check_hashes(
    dgs: Mapping[int, bytes], sod: Sod, problems: dict[Passive, str]
) -> dict[int, str]:
    status: dict[int, str] = {}
    for number, data in sorted(dgs.items()):
        expected = sod.dg_hashes.get(number)
        if expected is None:
            status[number] = "not-in-sod"
        elif hashlib.new(sod.hash_alg, data).digest() == expected:
            status[number] = "ok"
        else:
            status[number] = "mismatch"
    bad = [f"DG{n} {s}" for n, s in status.items() if s != "ok"]
    if bad:
        problems[Passive.HASH_MISMATCH] = "data groups not matching EF.SOD: " + ", ".join(bad)
    return status


def _chain(
    cert: x509.Certificate, store: TrustStore, problems: dict[Passive, str]
) -> Anchor | None:
    usable = 0
    for anchor in store.candidates_for(cert):
        try:
            key = anchor.public_key()
        except keys.KeyLoadError as exc:
            log.warning("trust anchor %s unusable: %s", anchor.fingerprint[:16], exc)
            continue
        usable += 1
        if verify_issued_by(cert, key):
            return anchor
    issuer = cert.issuer.human_friendly
    if usable:  # it claims an installed anchor as its issuer, and that anchor did not sign it
        problems[Passive.BAD_SIGNATURE] = (
            f"forged document signer: it names the installed trust anchor {issuer} as its "
            f"issuer, but its signature does not verify with that anchor's key "
            f"({usable} anchor(s) tried)"
        )
    else:
        problems[Passive.UNTRUSTED_SIGNER] = f"no installed trust anchor named {issuer}"
    return None


def _validity(
    cert: x509.Certificate, at: datetime, issued: date | None, problems: dict[Passive, str]
) -> None:
    start, end = cert.not_valid_before, cert.not_valid_after
    span = f"document signer valid {start:%Y-%m-%d} to {end:%Y-%m-%d}"
    if at < start:
        problems[Passive.SIGNER_EXPIRED] = f"{span}: not yet valid when read on {at:%Y-%m-%d}"
        return
    if issued is None:
        if at > end:
            problems[Passive.SIGNER_EXPIRED] = f"{span}, read on {at:%Y-%m-%d} (no issue date)"
        return
    key_end = _key_usage_end(cert) or end
    if datetime.combine(issued, time.min, UTC) > key_end:
        problems[Passive.SIGNER_EXPIRED] = (
            f"card issued {issued:%Y-%m-%d}, after its signer's key period ended "
            f"{key_end:%Y-%m-%d} ({span})"
        )


def _key_usage_end(cert: x509.Certificate) -> datetime | None:
    """The end of the certificate's private key usage period (RFC 5280 4.2.1.4), if any."""
    period = cert.private_key_usage_period_value
    if period is None:
        return None
    value: datetime | None = period["not_after"].native
    return value


def _revocation(
    cert: x509.Certificate,
    anchor: Anchor,
    store: TrustStore,
    at: datetime,
    problems: dict[Passive, str],
) -> CrlState:
    """Revocation of the signer by the anchor's CRLs; how current those CRLs are."""
    key = anchor.public_key()
    state = CrlState.MISSING
    for crl in store.crls_for(anchor.cert.subject):
        if not verify_issued_by(crl.crl, key):
            log.warning(
                "CRL %s not signed by anchor %s: ignored",
                crl.fingerprint[:16],
                anchor.fingerprint[:16],
            )
            continue
        if state is not CrlState.CURRENT:
            state = CrlState.EXPIRED if crl.expired(at) else CrlState.CURRENT
        when = crl.revocation_of(int(cert.serial_number))
        if when is not None and when <= at:
            problems[Passive.SIGNER_REVOKED] = f"document signer revoked on {when:%Y-%m-%d}"
    return state
