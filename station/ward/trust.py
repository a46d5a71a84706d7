"""The ward's trust: what the admin installs and approves, and the bundle made of it.

- :func:`parse_upload`: a certificate file (PEM/DER), a CRL or an ICAO master list, read
  by the station's own trust-store code (``station.verify.store.import_file`` into a
  throw-away folder): a master list whose CMS signature does not verify is refused, as
  is a CRL that no installed (or uploaded) CSCA signed.
- :func:`pinned_item`: a document signer seen in the records, approved as "pinned DS"
  after the documented check (cards compared in person with the national database,
  method 4).
- :func:`make_bundle`: the approved set as a bundle signed with the ward key, version =
  the database's trust revision plus its offset (``bundle_version_offset``);
  :class:`BundleSender` (in the receiver) makes it once per revision and publishes it
  retained, cut in parts (:func:`station.verify.bundle.split_bundle`): the head on
  ``<prefix>/trust/bundle``, part N on ``<prefix>/trust/bundle/<version>/N``, again after
  each reconnect; it also keeps what is retained there the ward's, and continues the
  versions above a bundle of its own made with another database.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station.verify.bundle import (
    MAX_BYTES,
    BundleError,
    checked_crl,
    open_head,
    seal_bundle,
    split_bundle,
)
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
            f"Bộ tin cậy sẽ lớn hơn {MAX_BYTES // (1024 * 1024)} MB (giới hạn của trạm): "
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


Publish = tuple[str, bytes]  # (topic, payload), published retained


class BundleSender:
    """The receiver's part: make the bundle of a new revision, publish its head and parts,
    keep what is retained on the broker the ward's, and continue above its own bundle.

    The receiver subscribes to ``<prefix>/trust/bundle/#`` and hands every message to
    :meth:`heard` (only the SHA-256 of each topic's last payload is kept, for at most
    :data:`MAX_SEEN` topics). After each (re)connection it publishes a marker
    (:meth:`marker`, not retained); when the marker comes back, every retained message
    the broker holds under the bundle's topics has been seen (the broker delivers one
    client's messages in order), and only then does :meth:`due` publish. Then:

    - a retained head signed with the ward's own key whose version is not below the one
      the ward would publish, and which is not the ward's latest bundle, was made with
      another database (reset or restored): the versions continue above it
      (``continue_bundles_above``); the stations, holding it, accept the next one;
    - the newest bundle is published once per connection: parts first, then the head,
      then every retained part of another version is cleared (empty retained message);
    - afterwards, a head or part that is retained but is not the ward's (garbage written
      by someone with the ward's broker account, a broker restore) is published again,
      and a stray part cleared: logged, not within :data:`REPAIR_GRACE_S` of the ward's
      own publish of that topic (its echo may be on the way), and at most once per
      :data:`REPAIR_MIN_S` per topic, doubling while it keeps coming back (up to
      :data:`REPAIR_MAX_S`). The ward's own publish comes back equal to what it wants,
      so it never triggers another.

    When the marker does not come back within :data:`SYNC_S` (a broker ACL that does not
    let the ward read its bundle topics) the bundle is published all the same, and there
    is neither repair nor continuation (logged).
    """

    SYNC_S = 10.0
    REPAIR_GRACE_S = 2.0
    REPAIR_MIN_S = 5.0
    REPAIR_MAX_S = 600.0
    MAX_SEEN = 10_000

    def __init__(self, key: Ed25519PrivateKey, prefix: str = "cccd") -> None:
        self.key = key
        self.prefix = prefix
        self.head_topic = topic(prefix)
        self.marker_topic = f"{self.head_topic}/sync"
        self.published = 0  # version published on this connection (0: none yet)
        self.repairs = 0  # heads and parts published again or cleared (not the ward's)
        self._split: _Split | None = None  # the newest bundle, cut for publishing
        self.reset(0.0)
        self._warned = False

    # -- connection ------------------------------------------------------------------
    def reset(self, now: float) -> None:
        """A new connection: nothing seen yet, publish again once in step."""
        self.published = 0
        self.synced = False  # the marker came back: what is retained has been seen
        self._sync_by = now + self.SYNC_S
        self._nonce = secrets.token_hex(16).encode("ascii")
        self._seen: dict[str, str] = {}  # topic -> SHA-256 of its last payload
        self._head: bytes | None = None  # the last head heard, until looked at
        self._sent_at: dict[str, float] = {}
        self._repaired: dict[str, tuple[float, float]] = {}  # topic -> (at, delay)

    def marker(self) -> Publish:
        return self.marker_topic, self._nonce

    def heard(self, topic_: str, payload: bytes) -> None:
        """A message on ``<prefix>/trust/bundle`` or under it (the receiver's thread):
        only its SHA-256 is kept ("" for an empty, i.e. cleared, topic)."""
        if topic_ == self.marker_topic:
            if payload == self._nonce and not self.synced:
                self.synced = True
                log.info("ward sees its trust bundle topics (%d retained)", len(self._seen))
            return
        ours = self._split is not None and topic_ in self._split.topics
        if topic_ not in self._seen and len(self._seen) >= self.MAX_SEEN and not ours:
            return  # bounded: a flood of stray topics cannot hide the ward's own
        self._seen[topic_] = _sha256(payload) if payload else ""
        if topic_ == self.head_topic:
            self._head = payload

    # -- what to publish ---------------------------------------------------------------
    def current(self, db: WardDB) -> tuple[int, bytes] | None:
        """The newest bundle (made and stored first when the revision moved). Looked at
        every TRUST_CHECK_S: the bundle itself (up to 16 MiB) is loaded only when its
        version is not the one already cut (a version names one bundle: the first made)."""
        revision = db.trust_revision()
        target = revision + db.bundle_version_offset()
        version = db.latest_bundle_version()
        if revision > 0 and target > version:
            db.store_bundle(target, make_bundle(target, db.trust_items(), self.key))
            version = db.latest_bundle_version()
        if version == 0:
            return None
        if self._split is not None and self._split.version == version:
            return version, self._split.payload
        return db.latest_bundle()

    def due(self, db: WardDB, now: float) -> list[Publish]:
        """What to publish now (retained), in order."""
        if not self.synced:
            if now < self._sync_by:
                return []
            if not self._warned:
                self._warned = True
                log.warning(
                    "the ward cannot read back %s/# (broker ACL from before this version? "
                    "run deploy/mosquitto/make-certs.sh again): trust bundle published "
                    "without repair of what is retained or continuation of its versions",
                    self.head_topic,
                )
        if self.synced and self._head is not None:
            self._continue_above(db, self._head)
            self._head = None
        latest = self.current(db)
        if latest is None:
            return []  # nothing approved in this database: what is retained is left alone
        wanted = self._topics(*latest)
        if self.published != latest[0]:
            self.published = latest[0]
            head = wanted.pop(self.head_topic)
            out = [*wanted.items(), (self.head_topic, head)]
            return out + [(t, b"") for t in self._stray(wanted)]
        if not self.synced:
            return []
        out = []
        hashes = self._split.hashes if self._split is not None else {}
        for name, payload in sorted(wanted.items(), key=lambda t: t[0] == self.head_topic):
            if self._seen.get(name) != hashes[name] and self._may_repair(name, now):
                log.warning(
                    "retained %s is not the ward's (%s): published again",
                    name, (self._seen.get(name) or "nothing")[:16],
                )  # fmt: skip
                out.append((name, payload))
        for name in self._stray(wanted):
            if self._may_repair(name, now):
                log.info("retained %s is not part of trust bundle v%d: cleared", name, latest[0])
                out.append((name, b""))
        self.repairs += len(out)
        return out

    def sent(self, topic_: str, now: float) -> None:
        self._sent_at[topic_] = now
        if topic_ == self.head_topic:
            log.info("trust bundle v%d published", self.published)

    def _topics(self, version: int, payload: bytes) -> dict[str, bytes]:
        if self._split is None or (self._split.version, self._split.payload) != (version, payload):
            head, parts = split_bundle(payload, self.key)
            names = {f"{self.head_topic}/{version}/{n}": p for n, p in enumerate(parts)}
            topics = {**names, self.head_topic: head}
            hashes = {name: _sha256(data) for name, data in topics.items()}
            self._split = _Split(version, payload, topics, hashes)
        return dict(self._split.topics)

    def _stray(self, wanted: dict[str, bytes]) -> list[str]:
        """Retained parts (``.../V/N``) that are not the newest bundle's."""
        head = self.head_topic + "/"
        return [
            name
            for name, seen in self._seen.items()
            if seen and name not in wanted and _PART.fullmatch(name[len(head) :])
            and name.startswith(head)
        ]  # fmt: skip

    def _may_repair(self, name: str, now: float) -> bool:
        if now - self._sent_at.get(name, -1e9) < self.REPAIR_GRACE_S:
            return False
        last = self._repaired.get(name)
        if last is not None and now < last[0] + last[1]:
            return False
        delay = (
            self.REPAIR_MIN_S
            if last is None or now - last[0] > self.REPAIR_MAX_S + last[1]
            else min(last[1] * 2, self.REPAIR_MAX_S)
        )
        self._repaired[name] = (now, delay)
        return True

    def _continue_above(self, db: WardDB, payload: bytes) -> None:
        """A retained head of the ward's own key from another database: go above it."""
        if not payload:
            return
        try:
            head = open_head(payload, self.key.public_key())
        except BundleError:
            return  # not the ward's: garbage, repaired below
        latest = db.latest_bundle()
        if latest is not None and _sha256(latest[1]) == head.sha256:
            return  # the ward's latest bundle
        if head.version < db.trust_revision() + db.bundle_version_offset():
            return  # an older one of this database (its echo, or a replay)
        offset = db.continue_bundles_above(head.version)
        log.warning(
            "retained trust bundle v%d is the ward's own but not in this database (reset or "
            "restored?): bundle versions continue above it (offset %d)",
            head.version, offset,
        )  # fmt: skip


@dataclass(frozen=True)
class _Split:
    """A bundle cut for publishing: its topics' payloads (head and parts) and their SHA-256,
    computed once (what is retained is compared with them every TRUST_CHECK_S)."""

    version: int
    payload: bytes
    topics: dict[str, bytes]
    hashes: dict[str, str]


_PART = re.compile(r"[0-9]{1,20}/[0-9]{1,20}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = [
    "BundleSender",
    "Publish",
    "TrustError",
    "bundle_bytes",
    "make_bundle",
    "parse_upload",
    "pinned_item",
    "topic",
]
