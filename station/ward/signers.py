"""The document signers the ward learns from its stations' records.

Every chip record carries its document signer certificate (``verification.signer.
certificate``, base64 DER from EF.SOD: the State's certificate, no personal data).
:func:`seen_signer` takes it out of a record as hostile input: size capped, parsed with
``cryptography``, named by the SHA-256 of the DER it actually holds (never by the
fingerprint the record claims), its text fields cut to length. A record without a
certificate (older stations) still counts under the fingerprint it names, without the
certificate's details. The outcomes kept are the record's Passive, Active and Chip
Authentication results, each one of the known words or ``other``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

MAX_DER = 16_384
MAX_TEXT = 300
PASSIVE = frozenset(
    {"ok", "hash-mismatch", "bad-signature", "untrusted-signer", "signer-expired",
     "signer-revoked", "not-checked"}
)  # fmt: skip
AUTH = frozenset({"ok", "failed", "not-supported", "not-checked", "skipped"})
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class SeenSigner:
    sha256: str
    der: bytes | None  # None: the record named the signer without its certificate
    subject: str
    issuer: str
    serial: str
    not_before: str  # ISO dates ("" when unknown)
    not_after: str
    key_type: str
    passive: str
    active: str
    chip_auth: str
    trust_path: str  # "csca" | "pinned-ds" | "" (as the station judged it)


def _word(value: object, known: frozenset[str]) -> str:
    return value if isinstance(value, str) and value in known else "other"


def _text(value: object) -> str:
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def key_type(cert: x509.Certificate) -> str:
    try:
        key = cert.public_key()
    except (ValueError, TypeError, NotImplementedError):
        return "unknown"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return "EdDSA"
    return type(key).__name__


def seen_signer(record: Mapping[str, Any]) -> SeenSigner | None:
    """The signer a chip record names, or None (no chip verification, or junk)."""
    verification = record.get("verification")
    if not isinstance(verification, Mapping):
        return None
    signer = verification.get("signer")
    if not isinstance(signer, Mapping):
        return None
    path = verification.get("trust_path")
    outcomes = (
        _word(verification.get("passive"), PASSIVE),
        _word(verification.get("active"), AUTH),
        _word(verification.get("chip_auth"), AUTH),
        path if path in ("csca", "pinned-ds") else "",
    )
    text = signer.get("certificate")
    parsed = _certificate(text) if isinstance(text, str) else None
    if parsed is not None:
        return SeenSigner(*parsed, *outcomes)
    claimed = signer.get("sha256")
    if not isinstance(claimed, str) or not _HEX64.fullmatch(claimed):
        return None
    return SeenSigner(
        claimed, None, _text(signer.get("subject")), _text(signer.get("issuer")),
        _text(signer.get("serial"))[:80], "", "", "", *outcomes,
    )  # fmt: skip


@functools.lru_cache(maxsize=128)
def _certificate(value: str) -> tuple[str, bytes, str, str, str, str, str, str] | None:
    """The fields of a base64 DER certificate (a few signers sign every card: each one
    is parsed once, not once per record), None when it is not one."""
    if len(value) > MAX_DER * 4 // 3 + 4:
        return None
    try:
        der = base64.b64decode(value, validate=True)
        cert = x509.load_der_x509_certificate(der)
        return (
            hashlib.sha256(der).hexdigest(), der, _text(cert.subject.rfc4514_string()),
            _text(cert.issuer.rfc4514_string()), format(cert.serial_number, "x")[:80],
            cert.not_valid_before_utc.date().isoformat(),
            cert.not_valid_after_utc.date().isoformat(), key_type(cert),
        )  # fmt: skip
    except (binascii.Error, ValueError, TypeError):
        return None


__all__ = ["AUTH", "MAX_DER", "PASSIVE", "SeenSigner", "key_type", "seen_signer"]
