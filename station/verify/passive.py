"""Passive Authentication (ICAO 9303-11 section 5.1): data group hashes against EF.SOD,
the SOD's signature, the document signer's chain to a trust anchor, its validity at
the read date and its revocation status.

``passive_authenticate`` never raises on bad card data: a malformed SOD is a
``bad-signature`` result with the reason in ``findings``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

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


# Most severe first: the reported value is the first problem found in this order.
SEVERITY = (
    Passive.BAD_SIGNATURE,
    Passive.HASH_MISMATCH,
    Passive.SIGNER_REVOKED,
    Passive.UNTRUSTED_SIGNER,
    Passive.SIGNER_EXPIRED,
)


@dataclass(frozen=True)
class Signer:
    subject: str
    issuer: str
    serial: str  # hex, lower case
    sha256: str

    @classmethod
    def of(cls, cert: x509.Certificate) -> Signer:
        subject, issuer = _names(cert)
        return cls(
            subject=subject,
            issuer=issuer,
            serial=format(int(cert.serial_number), "x"),
            sha256=hashlib.sha256(cert.dump()).hexdigest(),
        )

    def to_json(self) -> dict[str, str]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "sha256": self.sha256,
        }


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

    def covers(self, dg: int) -> bool:
        """True when ``dg`` was read and its hash matches the (validly signed) SOD."""
        return self.dg_status.get(dg) == "ok" and Passive.BAD_SIGNATURE not in self.problems


def not_checked(reason: str) -> PassiveResult:
    return PassiveResult(Passive.NOT_CHECKED, findings=(reason,))


def passive_authenticate(
    dgs: Mapping[int, bytes], sod_bytes: bytes | None, store: TrustStore, at: datetime
) -> PassiveResult:
    """Check read data groups (number -> full bytes) against EF.SOD and the trust store."""
    if not sod_bytes:
        return not_checked("EF.SOD was not read")
    try:
        sod = parse_sod(sod_bytes)
    except SodError as exc:
        return PassiveResult(Passive.BAD_SIGNATURE, frozenset({Passive.BAD_SIGNATURE}), (str(exc),))
    problems: dict[Passive, str] = {}
    dg_status = _check_hashes(dgs, sod, problems)
    signer = anchor = None
    try:
        reason = check_signature(sod)
        if reason is not None:
            problems[Passive.BAD_SIGNATURE] = f"EF.SOD: {reason}"
        if sod.signer_cert is not None:
            signer = Signer.of(sod.signer_cert)
            anchor = _chain(sod.signer_cert, store, problems)
            _validity(sod.signer_cert, at, problems)
            if anchor is not None:
                _revocation(sod.signer_cert, anchor, store, at, problems)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        # asn1crypto parses lazily: a malformed certificate surfaces only here
        problems[Passive.BAD_SIGNATURE] = f"EF.SOD's signer certificate is malformed: {exc}"
    status = next((p for p in SEVERITY if p in problems), Passive.OK)
    log.info("passive authentication of SOD %s: %s", sod.fingerprint, status.value)
    return PassiveResult(
        status=status,
        problems=frozenset(problems),
        findings=tuple(problems.values()),
        dg_status=dg_status,
        signer=signer,
        anchor=anchor.fingerprint if anchor else None,
        sod=sod,
    )


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
    candidates = store.candidates_for(cert)
    for anchor in candidates:
        try:
            key = anchor.public_key()
        except keys.KeyLoadError as exc:
            log.warning("trust anchor %s unusable: %s", anchor.fingerprint[:16], exc)
            continue
        if verify_issued_by(cert, key):
            return anchor
    issuer = cert.issuer.human_friendly
    if candidates:
        problems[Passive.UNTRUSTED_SIGNER] = (
            f"document signer's signature does not verify with the {len(candidates)} "
            f"installed anchor(s) named {issuer}"
        )
    else:
        problems[Passive.UNTRUSTED_SIGNER] = f"no installed trust anchor named {issuer}"
    return None


def _validity(cert: x509.Certificate, at: datetime, problems: dict[Passive, str]) -> None:
    start, end = cert.not_valid_before, cert.not_valid_after
    if not start <= at <= end:
        problems[Passive.SIGNER_EXPIRED] = (
            f"document signer valid {start:%Y-%m-%d} to {end:%Y-%m-%d}, read on {at:%Y-%m-%d}"
        )


def _revocation(
    cert: x509.Certificate,
    anchor: Anchor,
    store: TrustStore,
    at: datetime,
    problems: dict[Passive, str],
) -> None:
    key = anchor.public_key()
    for crl in store.crls_for(anchor.cert.subject):
        if not verify_issued_by(crl.crl, key):
            log.warning(
                "CRL %s not signed by anchor %s: ignored",
                crl.fingerprint[:16],
                anchor.fingerprint[:16],
            )
            continue
        when = crl.revocation_of(int(cert.serial_number))
        if when is not None and when <= at:
            problems[Passive.SIGNER_REVOKED] = f"document signer revoked on {when:%Y-%m-%d}"
            return
