"""The ward's trust: what the admin installs and approves, and the bundle made of it.

- :func:`parse_upload`: a certificate file (PEM/DER), a CRL or an ICAO master list, read
  by the station's own trust-store code (``station.verify.store.import_file`` into a
  throw-away folder): a master list whose CMS signature does not verify is refused, as
  is a CRL that no installed (or uploaded) CSCA signed.
- :func:`pinned_item`: a document signer seen in the records, approved as "pinned DS"
  after the documented check (cards compared in person with the national database,
  method 4).
- :func:`make_bundle`: the approved set as a bundle signed with the ward key, version =
  the database's trust revision; :class:`BundleSender` (in the receiver) makes it once
  per revision and publishes it retained on ``<prefix>/trust/bundle``, again after each
  reconnect.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station.verify.bundle import MAX_BYTES, BundleError, checked_crl, seal_bundle
from station.verify.store import import_file
from station.verify.trust import TrustStore, TrustStoreError, parse_certificate
from station.ward.db import TrustItem, WardDB

log = logging.getLogger(__name__)

MAX_UPLOAD = 4_000_000


class TrustError(ValueError):
    """An upload or approval refused; the message is Vietnamese, for the admin."""


def topic(prefix: str) -> str:
    return f"{prefix}/trust/bundle"


def parse_upload(
    data: bytes, name: str, user: str, installed: list[TrustItem]
) -> tuple[list[TrustItem], str]:
    """The CSCAs and CRLs a file holds, and a line saying what it was."""
    if not data or len(data) > MAX_UPLOAD:
        raise TrustError(f"Tệp rỗng hoặc lớn hơn {MAX_UPLOAD // 1_000_000} MB.")
    safe = "".join(c for c in Path(name).name if c.isalnum() or c in "._-")[:80] or "upload"
    with tempfile.TemporaryDirectory(prefix="ward-trust-") as tmp:
        source = Path(tmp) / "in" / safe
        source.parent.mkdir()
        source.write_bytes(data)
        try:
            report = import_file(Path(tmp) / "store", source)
        except TrustStoreError as exc:
            raise TrustError(f"Không đọc được tệp ({exc}).") from None
        store = TrustStore.load(Path(tmp) / "store")
    now = time.time()
    source_text = f"{safe}" + (
        f" (danh sách ICAO, ký bởi {report.master_list.signer_subject})"
        if report.master_list
        else ""
    )
    items = [
        TrustItem(a.fingerprint, "csca", a.der, a.subject, user, now, source_text)
        for a in store.anchors
    ]
    cscas = tuple(parse_certificate(t.der) for t in [*installed, *items] if t.kind == "csca")
    for crl in store.crls:
        try:
            checked_crl(crl.der, cscas)
        except BundleError:
            raise TrustError(
                "Danh sách thu hồi (CRL) không do CSCA nào đã cài ký: hãy cài CSCA trước."
            ) from None
        items.append(
            TrustItem(crl.fingerprint, "crl", crl.der, str(crl.issuer.human_friendly), user,
                      now, source_text)
        )  # fmt: skip
    if not items:
        raise TrustError("Tệp không chứa chứng thư hay CRL nào dùng được.")
    if bundle_bytes([*installed, *items]) > MAX_BYTES:
        raise TrustError(
            f"Bộ tin cậy sẽ lớn hơn {MAX_BYTES // 1024} KB (giới hạn một tin MQTT): "
            "chỉ cài CSCA cần dùng, không cả danh sách."
        )
    return items, f"{len(store.anchors)} CSCA, {len(store.crls)} CRL từ {source_text}"


def bundle_bytes(items: list[TrustItem]) -> int:
    """About how large the bundle of ``items`` is (base64 and JSON quoting, the header)."""
    return 512 + sum((len(t.der) + 2) // 3 * 4 + 3 for t in items)


def pinned_item(db: WardDB, sha256: str, user: str) -> TrustItem:
    der = db.signer_der(sha256)
    if der is None:
        raise TrustError("Trạm chưa gửi chứng thư này (chỉ có dấu vân tay): chưa thể duyệt.")
    subject = next((s.subject for s in db.signers() if s.sha256 == sha256), "")
    return TrustItem(sha256, "pinned-ds", der, subject, user, time.time(), "đối chiếu CSDLQG")


def make_bundle(version: int, items: list[TrustItem], key: Ed25519PrivateKey) -> bytes:
    by_kind = {k: [t.der for t in items if t.kind == k] for k in ("csca", "pinned-ds", "crl")}
    return seal_bundle(
        version, cscas=by_kind["csca"], pinned_ds=by_kind["pinned-ds"], crls=by_kind["crl"],
        key=key,
    )  # fmt: skip


@dataclass
class BundleSender:
    """The receiver's part: make the bundle of a new revision, publish what is newest."""

    key: Ed25519PrivateKey
    published: int = 0  # version published on this connection (0: none yet)

    def due(self, db: WardDB) -> tuple[int, bytes] | None:
        """The bundle to publish now, if any (made and stored when the revision moved)."""
        revision = db.trust_revision()
        latest = db.latest_bundle()
        if revision > (latest[0] if latest else 0):
            db.store_bundle(revision, make_bundle(revision, db.trust_items(), self.key))
            latest = db.latest_bundle()
        if latest is None or latest[0] <= self.published:
            return None
        return latest

    def sent(self, version: int) -> None:
        self.published = version
        log.info("trust bundle v%d published", version)


__all__ = [
    "BundleSender",
    "TrustError",
    "bundle_bytes",
    "make_bundle",
    "parse_upload",
    "pinned_item",
    "topic",
]
