"""The ward's trust bundle: the CSCAs, pinned document signers and CRLs the ward
approved, versioned and signed with the ward's key, installed on every station.

The bundle is one JSON document (published retained on ``<prefix>/trust/bundle``)::

    {"schema": "cccd-ward/trust-bundle/1", "version": 7, "issued_at": "2026-...",
     "cscas": [<base64 DER>, ...], "pinned_ds": [...], "crls": [...],
     "sig": "<base64 Ed25519>"}

``sig`` covers ``canonical_bytes`` of the document without ``sig`` (sorted keys, no
spaces, UTF-8), made with the ward's Ed25519 key: the same key that signs the acks, whose
public half the station pinned at enrolment. :func:`open_bundle` treats the payload as
hostile: size and counts capped, the signature checked before any certificate is parsed,
then every certificate and CRL parsed, and each CRL's signature checked against a CSCA of
the same bundle. Anything wrong refuses the whole bundle (:class:`BundleError`, a short
English reason); the installed trust stays as it was.

:func:`install_bundle` refuses a bundle whose version is older than the installed one (a
replayed old bundle would bring back a revoked signer), then writes it as
``<dir>/bundle.json`` atomically (temp file, fsync, rename, fsync of the folder): after a
power cut the old or the new bundle is there, never half of one. Each install and
refusal is a line in the station's audit log. :func:`load_installed` checks the file's
signature again on every load and :func:`with_bundle` adds it to a trust store: its CSCAs
as anchors of origin ``ward bundle vN``, its pinned document signers as
``TrustStore.pinned``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from station.audit import AuditLog
from station.files import write_atomically
from station.fingerprint import fingerprint
from station.icao import keys
from station.record import canonical_bytes
from station.verify.trust import (
    Anchor,
    Crl,
    TrustStore,
    TrustStoreError,
    parse_certificate,
    parse_crl,
    verify_issued_by,
)

log = logging.getLogger(__name__)

SCHEMA = "cccd-ward/trust-bundle/1"
FILE_NAME = "bundle.json"
MAX_BYTES = 1024 * 1024  # the broker's message_size_limit (station.sync.limits)
MAX_ITEMS = 2_000  # per list
MAX_DER = 16_384  # one certificate or CRL
KINDS = ("cscas", "pinned_ds", "crls")


class BundleError(ValueError):
    """A bundle that is refused (why, in a few English words; no data)."""


@dataclass(frozen=True)
class Bundle:
    version: int
    issued_at: str
    cscas: tuple[Anchor, ...]
    pinned: tuple[Anchor, ...]
    crls: tuple[Crl, ...]
    payload: bytes  # the signed document as received

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.payload)

    def describe(self) -> str:
        return (
            f"v{self.version}: {len(self.cscas)} CSCA, {len(self.pinned)} pinned DS, "
            f"{len(self.crls)} CRL"
        )


def seal_bundle(
    version: int,
    *,
    cscas: Sequence[bytes] = (),
    pinned_ds: Sequence[bytes] = (),
    crls: Sequence[bytes] = (),
    key: Ed25519PrivateKey,
    issued_at: datetime | None = None,
) -> bytes:
    """The signed bundle document (the ward's side)."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "version": version,
        "issued_at": (issued_at or datetime.now(UTC)).isoformat(timespec="seconds"),
    }
    for name, items in zip(KINDS, (cscas, pinned_ds, crls), strict=True):
        doc[name] = [base64.b64encode(der).decode("ascii") for der in items]
    sig = base64.b64encode(key.sign(canonical_bytes(doc))).decode("ascii")
    return json.dumps({**doc, "sig": sig}, separators=(",", ":")).encode("utf-8")


def open_bundle(payload: bytes, key: Ed25519PublicKey) -> Bundle:
    """Check and parse a bundle; :class:`BundleError` when anything is wrong."""
    doc = _signed_document(payload, key)
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**53:
        raise BundleError("bundle version is not a positive integer")
    issued = doc.get("issued_at")
    lists = {name: _der_list(doc.get(name), name) for name in KINDS}
    try:
        cscas = tuple(parse_certificate(d) for d in lists["cscas"])
        pinned = tuple(parse_certificate(d) for d in lists["pinned_ds"])
    except TrustStoreError as exc:
        raise BundleError(f"a certificate does not parse ({exc})") from None
    crls = tuple(checked_crl(der, cscas) for der in lists["crls"])
    origin = f"ward bundle v{version}"
    return Bundle(
        version=version,
        issued_at=issued if isinstance(issued, str) else "",
        cscas=tuple(replace(a, origin=origin) for a in cscas),
        pinned=tuple(replace(a, origin=origin) for a in pinned),
        crls=tuple(replace(c, origin=origin) for c in crls),
        payload=bytes(payload),
    )


def _signed_document(payload: bytes, key: Ed25519PublicKey) -> dict[str, Any]:
    if len(payload) > MAX_BYTES:
        raise BundleError(f"bundle larger than {MAX_BYTES} bytes")
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, huge ints
        raise BundleError("bundle is not JSON (truncated?)") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise BundleError("not a trust bundle (schema)")
    sig = doc.pop("sig", None)
    if not isinstance(sig, str) or not sig:
        raise BundleError("unsigned bundle")
    try:
        key.verify(base64.b64decode(sig, validate=True), canonical_bytes(doc))
    except (InvalidSignature, binascii.Error, ValueError, TypeError, RecursionError):
        raise BundleError("bundle signature does not verify with the ward key") from None
    return doc


def _der_list(value: object, name: str) -> list[bytes]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise BundleError(f"bundle {name} is not a list of at most {MAX_ITEMS}")
    out = []
    for item in value:
        if not isinstance(item, str) or len(item) > MAX_DER * 4 // 3 + 4:
            raise BundleError(f"bundle {name}: an item is not base64 of at most {MAX_DER} bytes")
        try:
            out.append(base64.b64decode(item, validate=True))
        except (binascii.Error, ValueError):
            raise BundleError(f"bundle {name}: an item is not base64") from None
    return out


def checked_crl(der: bytes, cscas: tuple[Anchor, ...]) -> Crl:
    """A CRL of the bundle: it parses and one of the bundle's CSCAs signed it."""
    try:
        crl = parse_crl(der)
    except TrustStoreError as exc:
        raise BundleError(f"bad CRL: it does not parse ({exc})") from None
    for anchor in cscas:
        if anchor.cert.subject != crl.issuer:
            continue
        try:
            if verify_issued_by(crl.crl, anchor.public_key()):
                return crl
        except keys.KeyLoadError:
            continue
    raise BundleError(f"bad CRL {crl.fingerprint[:16]}: no CSCA of the bundle signed it")


@dataclass(frozen=True)
class Installed:
    bundle: Bundle
    changed: bool  # False: this very bundle was installed already


def install_bundle(
    directory: Path, payload: bytes, key: Ed25519PublicKey, *, audit: AuditLog | None = None
) -> Installed:
    """Check ``payload`` and install it as ``<directory>/bundle.json`` unless it is older
    than (or another bundle of the same version as) the installed one."""
    try:
        bundle = open_bundle(payload, key)
        current = load_installed(directory, key)
        if current is not None and current.payload == bundle.payload:
            return Installed(current, changed=False)
        if current is not None and bundle.version <= current.version:
            raise BundleError(
                f"bundle v{bundle.version} is not newer than the installed v{current.version}"
            )
        directory.mkdir(parents=True, exist_ok=True)
        write_atomically(directory / FILE_NAME, bundle.payload, mode=0o644)
    except BundleError as exc:
        log.warning("trust bundle %s refused: %s", fingerprint(payload), exc)
        if audit is not None:
            audit.write("trust-bundle-refused", "", fingerprint(payload), str(exc))
        raise
    log.info("trust bundle %s installed: %s", bundle.fingerprint, bundle.describe())
    if audit is not None:
        audit.write("trust-bundle", "", bundle.fingerprint, f"installed {bundle.describe()}")
    return Installed(bundle, changed=True)


def load_installed(directory: Path, key: Ed25519PublicKey | None) -> Bundle | None:
    """The installed bundle, its signature checked again (None: none installed, no
    ward key, or a file that does not check: logged)."""
    path = directory / FILE_NAME
    if key is None:
        return None
    try:
        return open_bundle(path.read_bytes(), key)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.error("trust bundle %s unreadable: %s", path, exc.strerror)
    except BundleError as exc:
        log.error("trust bundle %s ignored: %s", path, exc)
    return None


def with_bundle(store: TrustStore, bundle: Bundle | None) -> TrustStore:
    """``store`` plus the bundle's CSCAs, CRLs and pinned document signers."""
    if bundle is None:
        return store
    have = {a.fingerprint for a in store.anchors}
    have_crls = {c.fingerprint for c in store.crls}
    return replace(
        store,
        anchors=(*store.anchors, *(a for a in bundle.cscas if a.fingerprint not in have)),
        crls=(*store.crls, *(c for c in bundle.crls if c.fingerprint not in have_crls)),
        pinned=bundle.pinned,
    )


__all__ = [
    "FILE_NAME",
    "KINDS",
    "MAX_BYTES",
    "SCHEMA",
    "Bundle",
    "BundleError",
    "Installed",
    "checked_crl",
    "install_bundle",
    "load_installed",
    "open_bundle",
    "seal_bundle",
    "with_bundle",
]
