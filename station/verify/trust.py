"""The trust store: a folder of CSCA certificates (trust anchors) and CRLs.

Layout: ``<dir>/certs/<sha256>.der`` and ``<dir>/crls/<sha256>.der``, one DER object
per file, named by its SHA-256 fingerprint. ``import_file`` takes PEM/DER certificates,
CRLs and ICAO master lists (``station.verify.masterlist``); ``TrustStore.load`` reads the
folder and keeps going past anything unusable, recording which file and why.

Each anchor says where it came from (``origin``: ``local`` for ``station trust import``,
``ward bundle vN`` for the ward's signed bundle, ``station.verify.bundle``). ``pinned``
are document signer certificates the ward approved one by one (no CSCA to chain to):
they are trusted as themselves, byte for byte, never as issuers of anything.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from asn1crypto import crl, pem, x509

from station.icao import keys
from station.verify.asn1 import same_name
from station.verify.signature import signature_spec, verify_signature

log = logging.getLogger(__name__)


class TrustStoreError(ValueError):
    """A trust store operation failed (which file, why)."""


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class Anchor:
    """One trusted CSCA certificate (or, in ``TrustStore.pinned``, document signer)."""

    der: bytes
    cert: x509.Certificate
    origin: str = "local"

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.der)

    @property
    def subject(self) -> str:
        return str(self.cert.subject.human_friendly)

    @property
    def not_before(self) -> datetime:
        value: datetime = self.cert.not_valid_before
        return value

    @property
    def not_after(self) -> datetime:
        value: datetime = self.cert.not_valid_after
        return value

    def public_key(self) -> keys.PublicKey:
        """The anchor's key; ``keys.KeyLoadError`` says why it cannot be used."""
        return keys.load_spki(self.cert.public_key.dump())

    def key_description(self) -> str:
        try:
            return keys.key_description(self.public_key())
        except keys.KeyLoadError as exc:
            return f"unusable key: {exc}"


@dataclass(frozen=True)
class Crl:
    der: bytes
    crl: crl.CertificateList
    origin: str = "local"

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.der)

    @property
    def issuer(self) -> x509.Name:
        return self.crl.issuer

    @property
    def this_update(self) -> datetime:
        value: datetime = self.crl["tbs_cert_list"]["this_update"].native
        return value

    @property
    def next_update(self) -> datetime | None:
        value: datetime | None = self.crl["tbs_cert_list"]["next_update"].native
        return value

    def revocation_of(self, serial: int) -> datetime | None:
        """When ``serial`` was revoked according to this CRL, or None."""
        for entry in self.crl["tbs_cert_list"]["revoked_certificates"]:
            if entry["user_certificate"].native == serial:
                when: datetime = entry["revocation_date"].native
                return when
        return None

    def expired(self, at: datetime) -> bool:
        return self.next_update is not None and self.next_update < at


@dataclass(frozen=True)
class TrustStore:
    anchors: tuple[Anchor, ...] = ()
    crls: tuple[Crl, ...] = ()
    problems: tuple[str, ...] = field(default=())
    pinned: tuple[Anchor, ...] = ()  # document signers trusted as themselves

    def is_pinned(self, sha256: str) -> bool:
        return any(p.fingerprint == sha256 for p in self.pinned)

    @classmethod
    def load(cls, directory: Path | str) -> TrustStore:
        """Read a trust store folder (missing folder = empty store)."""
        root = Path(directory)
        anchors: list[Anchor] = []
        crls: list[Crl] = []
        problems: list[str] = []
        for path in sorted((root / "certs").glob("*.der")):
            try:
                anchors.append(parse_certificate(path.read_bytes()))
            except (OSError, TrustStoreError) as exc:
                problems.append(f"{path.name}: {exc}")
        for path in sorted((root / "crls").glob("*.der")):
            try:
                crls.append(parse_crl(path.read_bytes()))
            except (OSError, TrustStoreError) as exc:
                problems.append(f"{path.name}: {exc}")
        for problem in problems:
            log.warning("trust store: skipped %s", problem)
        log.info("trust store %s: %d anchors, %d CRLs", root, len(anchors), len(crls))
        return cls(tuple(anchors), tuple(crls), tuple(problems))

    @classmethod
    def from_der(cls, certs: list[bytes], crls: list[bytes] | None = None) -> TrustStore:
        """An in-memory store (tests, tools)."""
        return cls(
            tuple(parse_certificate(d) for d in certs),
            tuple(parse_crl(d) for d in crls or []),
        )

    def candidates_for(self, cert: x509.Certificate) -> list[Anchor]:
        """Anchors named as ``cert``'s issuer (key identifiers must agree when both exist)."""
        aki = cert.authority_key_identifier
        out = []
        for anchor in self.anchors:
            if not same_name(anchor.cert.subject, cert.issuer):
                continue
            ski = anchor.cert.key_identifier
            if aki is not None and ski is not None and aki != ski:
                continue
            out.append(anchor)
        return out

    def crls_for(self, issuer: x509.Name) -> list[Crl]:
        return [c for c in self.crls if same_name(c.issuer, issuer)]


def parse_certificate(der: bytes) -> Anchor:
    try:
        cert = x509.Certificate.load(der)
        # parse what the store uses, so garbage fails here (a full .native is 5x slower)
        _ = (cert.subject.human_friendly, cert.not_valid_after, cert.public_key["algorithm"])
    except (ValueError, TypeError) as exc:
        raise TrustStoreError(f"not a DER certificate: {exc}") from exc
    return Anchor(der, cert)


def parse_crl(der: bytes) -> Crl:
    try:
        value = crl.CertificateList.load(der)
        value.native  # noqa: B018
    except (ValueError, TypeError) as exc:
        raise TrustStoreError(f"not a DER CRL: {exc}") from exc
    return Crl(der, value)


def verify_issued_by(
    cert: x509.Certificate | crl.CertificateList, issuer_key: keys.PublicKey
) -> bool:
    """True when ``cert`` (a certificate or a CRL) carries a valid signature by ``issuer_key``."""
    if isinstance(cert, crl.CertificateList):
        tbs, algorithm, signature = (
            cert["tbs_cert_list"],
            cert["signature_algorithm"],
            cert["signature"],
        )
    else:
        tbs, algorithm, signature = (
            cert["tbs_certificate"],
            cert["signature_algorithm"],
            cert["signature_value"],
        )
    try:
        spec = signature_spec(algorithm)
    except keys.KeyLoadError:
        return False
    return verify_signature(issuer_key, spec, tbs.dump(), signature.native)


def pem_or_der_objects(data: bytes) -> list[tuple[str, bytes]]:
    """Split a file into (PEM type or "DER", DER bytes) objects."""
    if pem.detect(data):
        return [(kind, der) for kind, _headers, der in pem.unarmor(data, multiple=True)]
    return [("DER", data)]
