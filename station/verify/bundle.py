"""The ward's trust bundle: the CSCAs, pinned document signers and CRLs the ward
approved, versioned and signed with the ward's key, installed on every station.

The bundle is one JSON document (what the station installs as ``bundle.json``)::

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

**Transport.** A bundle with a large master list (the German one: 588 CSCAs, ~1.2 MB as
JSON) does not fit one MQTT message (the broker's ``message_size_limit``, 1 MiB), so every
bundle, small or large, travels the same way: :func:`split_bundle` cuts the document into
parts of at most :data:`PART_BYTES` and makes a signed *head*::

    {"schema": "cccd-ward/trust-head/1", "version": 7, "issued_at": "...",
     "size": 1234567, "sha256": "<hex of the whole document>",
     "parts": [{"size": 524288, "sha256": "<hex>"}, ...], "sig": "<base64 Ed25519>"}

The head is retained on ``<prefix>/trust/bundle``, part ``n`` on
``<prefix>/trust/bundle/<version>/<n>``. On the station a :class:`Collector` checks the
head (size, signature, then counts and sizes: at most :data:`MAX_PARTS` parts and
:data:`MAX_BYTES` in all, so a hostile head cannot make it hold more), asks for the parts
of the newest signed head only, keeps each part only when its size and SHA-256 are the
head's, and when every part is there checks the whole and installs it
(:func:`install_bundle`, which opens the document again: its own signature, its version
equal to the head's). Until then the installed trust stays; parts of any other version
are dropped unread; a newer head drops what was collected for an older one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
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
MAX_BYTES = 16 * 1024 * 1024  # a whole bundle (it travels in parts)
MAX_ITEMS = 4_000  # per list
MAX_DER = 16_384  # one certificate or CRL
KINDS = ("cscas", "pinned_ds", "crls")
HEAD_SCHEMA = "cccd-ward/trust-head/1"
PART_BYTES = 512 * 1024  # what the ward cuts a bundle into
MAX_PART_BYTES = 1_000_000  # one part must pass the broker (message_size_limit 1 MiB)
MAX_PARTS = 64  # MAX_PARTS * PART_BYTES > MAX_BYTES: the size cap is the binding one
MAX_HEAD_BYTES = 16_384  # a head with MAX_PARTS parts is ~6 KB
_HEX64 = re.compile(r"[0-9a-f]{64}")


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

    @property
    def sha256(self) -> str:
        """The whole SHA-256 (hex) of the document, as a head names it."""
        return hashlib.sha256(self.payload).hexdigest()

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


def _signed_document(
    payload: bytes, key: Ed25519PublicKey, schema: str = SCHEMA, limit: int = MAX_BYTES
) -> dict[str, Any]:
    what = "bundle" if schema == SCHEMA else "bundle head"
    if len(payload) > limit:
        raise BundleError(f"{what} larger than {limit} bytes")
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, huge ints
        raise BundleError(f"{what} is not JSON (truncated?)") from None
    if not isinstance(doc, dict) or doc.get("schema") != schema:
        raise BundleError(f"not a trust {what} (schema)")
    sig = doc.pop("sig", None)
    if not isinstance(sig, str) or not sig:
        raise BundleError(f"unsigned {what}")
    try:
        key.verify(base64.b64decode(sig, validate=True), canonical_bytes(doc))
    except (InvalidSignature, binascii.Error, ValueError, TypeError, RecursionError):
        raise BundleError(f"{what} signature does not verify with the ward key") from None
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
    directory: Path,
    payload: bytes,
    key: Ed25519PublicKey,
    *,
    audit: AuditLog | None = None,
    version: int | None = None,
) -> Installed:
    """Check ``payload`` and install it as ``<directory>/bundle.json`` unless it is older
    than (or another bundle of the same version as) the installed one; ``version``: the
    version its head announced (it must be the document's own)."""
    try:
        bundle = open_bundle(payload, key)
        if version is not None and bundle.version != version:
            raise BundleError(f"bundle v{bundle.version} under a head of v{version}")
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


# -- transport: a signed head and its parts ---------------------------------------------
@dataclass(frozen=True)
class Head:
    """A checked head: which bundle, and the size and SHA-256 of each of its parts."""

    version: int
    size: int
    sha256: str
    parts: tuple[tuple[int, str], ...]  # (size, sha256 hex) of part 0, 1, ...
    payload: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.payload)


def split_bundle(
    payload: bytes,
    key: Ed25519PrivateKey,
    part_bytes: int = PART_BYTES,
    *,
    version: int | None = None,
) -> tuple[bytes, list[bytes]]:
    """The ward's side: the signed head of the bundle document ``payload`` (made by
    :func:`seal_bundle`; its version, unless ``version`` is given) and its parts, in
    order. Deterministic (Ed25519 signatures are), so every receiver of one ward makes
    the same bytes."""
    inner = json.loads(payload) if version is None else {"version": version}
    parts = [payload[i : i + part_bytes] for i in range(0, len(payload), part_bytes)]
    doc: dict[str, Any] = {
        "schema": HEAD_SCHEMA,
        "version": inner["version"],
        "issued_at": inner.get("issued_at", ""),
        "size": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "parts": [{"size": len(p), "sha256": hashlib.sha256(p).hexdigest()} for p in parts],
    }
    sig = base64.b64encode(key.sign(canonical_bytes(doc))).decode("ascii")
    return json.dumps({**doc, "sig": sig}, separators=(",", ":")).encode("utf-8"), parts


def open_head(payload: bytes, key: Ed25519PublicKey) -> Head:
    """Check a head: its size first, its signature, then every count and size (a head
    the ward signed is still capped: :data:`MAX_PARTS`, :data:`MAX_BYTES`)."""
    doc = _signed_document(payload, key, HEAD_SCHEMA, MAX_HEAD_BYTES)
    version, size, whole = doc.get("version"), doc.get("size"), doc.get("sha256")
    if not _count(version, 2**53 - 1):
        raise BundleError("bundle head version is not a positive integer")
    if not _count(size, MAX_BYTES):
        raise BundleError(f"bundle head size is not 1..{MAX_BYTES} bytes")
    if not isinstance(whole, str) or not _HEX64.fullmatch(whole):
        raise BundleError("bundle head sha256 is not 64 hex digits")
    listed = doc.get("parts")
    if not isinstance(listed, list) or not 1 <= len(listed) <= MAX_PARTS:
        raise BundleError(f"bundle head does not list 1..{MAX_PARTS} parts")
    parts = []
    for item in listed:
        part_size = item.get("size") if isinstance(item, dict) else None
        part_sha = item.get("sha256") if isinstance(item, dict) else None
        if not _count(part_size, MAX_PART_BYTES) or not (
            isinstance(part_sha, str) and _HEX64.fullmatch(part_sha)
        ):
            raise BundleError("bundle head lists a part without a size or sha256")
        parts.append((int(part_size), str(part_sha)))  # type: ignore[arg-type]
    if sum(n for n, _ in parts) != size:
        raise BundleError("bundle head: the parts' sizes do not add up to its size")
    return Head(int(version), int(size), whole, tuple(parts), bytes(payload))  # type: ignore[arg-type]


def _count(value: object, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= most


class Collector:
    """The station's side: the parts of the newest signed head, then the install.

    Fed every message of the bundle's topics (:meth:`head`, :meth:`part`);
    :attr:`wanted` is the version whose parts it waits for (None: none), so the caller
    subscribes to those parts only. Memory is bounded by the head's checked sizes
    (at most :data:`MAX_BYTES`); nothing is installed until every part is there and
    the whole checks; each refusal is logged and audited (``trust-bundle-refused``)."""

    def __init__(
        self, directory: Path, key: Ed25519PublicKey, *, audit: AuditLog | None = None
    ) -> None:
        self.directory = directory
        self.key = key
        self.audit = audit
        self._head: Head | None = None  # the head being collected
        self._parts: dict[int, bytes] = {}
        self.installed: Bundle | None = None  # the last bundle this collector installed

    @property
    def wanted(self) -> int | None:
        return None if self._head is None else self._head.version

    @property
    def progress(self) -> tuple[int, int, int] | None:
        """(version, parts held, parts listed) of the collection under way."""
        if self._head is None:
            return None
        return self._head.version, len(self._parts), len(self._head.parts)

    def head(self, payload: bytes) -> None:
        if not payload:
            return  # a cleared topic: nothing retained
        try:
            head = open_head(payload, self.key)
        except BundleError as exc:
            self._refused(payload, exc)
            return
        if self._head is not None and self._head.payload == head.payload:
            return  # the same head again (a reconnect): keep what was collected
        if self._head is not None and head.version < self._head.version:
            log.info("trust bundle head v%d ignored: v%d is being collected", head.version,
                     self._head.version)  # fmt: skip
            return  # a replayed older head does not interrupt a newer one
        current = load_installed(self.directory, self.key)
        if current is not None and current.sha256 == head.sha256:
            self._drop()
            return  # installed already
        if current is not None and head.version <= current.version:
            self._drop()
            self._refused(payload, BundleError(
                f"bundle v{head.version} is not newer than the installed v{current.version}"
            ))  # fmt: skip
            return
        if self._head is not None:
            log.info("trust bundle v%d replaces v%d being collected", head.version,
                     self._head.version)  # fmt: skip
        self._head, self._parts = head, {}
        log.info("trust bundle v%d announced: %d parts, %d bytes", head.version,
                 len(head.parts), head.size)  # fmt: skip

    def part(self, version: int, index: int, payload: bytes) -> Installed | None:
        """A part; the install's outcome once it was the last one missing."""
        head = self._head
        if head is None or version != head.version or not payload:
            return None  # another version's (dropped unread), or a cleared topic
        if not 0 <= index < len(head.parts) or index in self._parts:
            return None
        size, sha = head.parts[index]
        if len(payload) != size or hashlib.sha256(payload).hexdigest() != sha:
            self._refused(payload, BundleError(
                f"part {index} of bundle v{version} is not the one its head lists"
            ))  # fmt: skip
            return None  # the old trust stays; the ward republishes a good copy
        self._parts[index] = payload
        if len(self._parts) < len(head.parts):
            return None
        whole = b"".join(self._parts[n] for n in range(len(head.parts)))
        self._drop()
        if len(whole) != head.size or hashlib.sha256(whole).hexdigest() != head.sha256:
            self._refused(whole, BundleError(f"bundle v{version}: the whole does not match"))
            return None
        try:
            done = install_bundle(self.directory, whole, self.key, audit=self.audit,
                                  version=version)  # fmt: skip
        except BundleError:
            return None  # logged and audited by install_bundle
        self.installed = done.bundle
        return done

    def _drop(self) -> None:
        self._head, self._parts = None, {}

    def _refused(self, payload: bytes, exc: BundleError) -> None:
        log.warning("trust bundle %s refused: %s", fingerprint(payload), exc)
        if self.audit is not None:
            self.audit.write("trust-bundle-refused", "", fingerprint(payload), str(exc))


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
    "HEAD_SCHEMA",
    "KINDS",
    "MAX_BYTES",
    "MAX_HEAD_BYTES",
    "MAX_PARTS",
    "MAX_PART_BYTES",
    "PART_BYTES",
    "SCHEMA",
    "Bundle",
    "BundleError",
    "Collector",
    "Head",
    "Installed",
    "checked_crl",
    "install_bundle",
    "load_installed",
    "open_bundle",
    "open_head",
    "seal_bundle",
    "split_bundle",
    "with_bundle",
]
