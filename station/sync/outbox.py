"""The durable, encrypted outbox: the ONLY buffer between a read and the ward.

Layout: the store path is a folder of small tinydb databases ("segments",
``seg-00000001.tdb``), each holding at most ``segment_size`` records and written
through :class:`~station.sync.storage.EncryptedAtomicStorage` (AES-GCM, temp
file + fsync + rename + folder fsync). Appending rewrites only the newest
segment, so append latency does not grow with the backlog; a fully delivered
segment is simply unlinked. A segment that fails to decrypt or parse is moved to
``corrupt/`` with an ERROR log line and the rest of the store loads.

One thread owns all files and the in-memory index; every public method hands a
call to that thread and waits for its result, so the app loop, the publisher and
the CLI can share one ``Outbox``. :meth:`Outbox.append` returns only after the
record is on disk; it raises :class:`StoreFull` when ``max_records`` wait or the
disk has less than ``min_free_mb`` free (stored records are never dropped).

Refused records: when the ward answers that it will never accept a record
(e.g. "station mismatch", "forged"; see :mod:`station.ward.receiver`),
:meth:`Outbox.mark_refused` marks its document ``"refused": <reason>`` in the
same atomic segment rewrite as every other change. A refused record is kept on
disk, is not sent and does not count as pending (store-full, sync screen);
:meth:`Outbox.requeue` (``station outbox requeue``) makes it pending again once
the admin fixed the cause. :func:`read_summary` counts both kinds read-only
(doctor, ``station outbox status``), safe while the station runs.

Every ``Outbox`` holds a shared ``flock`` on ``<store>/.lock``; the admin's
requeue opens it with ``exclusive=True`` and is refused while the station runs
(two processes rewriting the same segment would lose each other's writes).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tinydb import TinyDB

from station.audit import AuditLog
from station.config import OUTBOX_KEY, Config
from station.fingerprint import fingerprint
from station.record import canonical_bytes
from station.sync.errors import StoreError, StoreFull
from station.sync.signing import seal_item, station_signing_key
from station.sync.storage import (
    EncryptedAtomicStorage,
    StoreCorrupt,
    load_or_create_key,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
SEGMENT_SIZE = 32
_SEG_PREFIX, _SEG_SUFFIX = "seg-", ".tdb"
_LOCK_NAME = ".lock"
_REASON_RE = re.compile(r"[^a-z0-9 _-]")


def clean_reason(text: object) -> str:
    """A refusal reason as a short lowercase word or two (it arrives from the network)."""
    word = _REASON_RE.sub("", str(text).lower())[:32].strip()
    return word or "unspecified"


def is_full(pending: int, max_records: int) -> bool:
    """The store-full rule: new reads are refused once ``max_records`` records wait (records
    the ward refused are kept aside and do not count)."""
    return pending >= max_records


class OutboxBusy(StoreError):
    """The outbox is open in another process (the station is running)."""


@dataclass(frozen=True)
class _Entry:
    segment: int
    doc_id: int
    stored_at: float
    fingerprint: str
    refused: str = ""  # the ward's reason; "" = pending


class Outbox:
    """Thread-owned durable queue of records waiting for the ward's acknowledgement."""

    def __init__(
        self,
        path: str | Path,
        *,
        key_file: str | Path,
        signing_key: Ed25519PrivateKey,
        max_records: int = 10_000,
        min_free_mb: int = 50,
        segment_size: int = SEGMENT_SIZE,
        audit: AuditLog | None = None,
        exclusive: bool = False,
        create_key: bool = True,
    ) -> None:
        self.path = Path(path)
        self.create_key = create_key
        self.exclusive = exclusive
        self._lock_fd = -1
        self.key_file = Path(key_file)
        self.max_records = max_records
        self.min_free_bytes = min_free_mb * 1024 * 1024
        self.segment_size = segment_size
        self.audit = audit
        self._signing_key = signing_key
        self.quarantined: list[Path] = []
        self._index: dict[str, _Entry] = {}  # pending records, oldest first
        self._refused: dict[str, _Entry] = {}
        self._live: dict[int, int] = {}  # segment -> records still in it
        self._cache: dict[int, dict[int, dict[str, Any]]] = {}
        self._head = 1
        self._key = b""
        self._appended = 0
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None]
        self._calls = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="outbox", daemon=True)
        self._thread.start()
        try:
            self._call(self._open)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_config(
        cls, cfg: Config, *, audit: AuditLog | None = None, exclusive: bool = False
    ) -> Outbox:
        """The station's outbox: ``store.path`` (a folder), key ``<data_dir>/outbox.key``
        (its unsealed copy when the keys are sealed: ``Config.key_file``).

        Records are signed with the station key (made on first use) when stored;
        deletions go to ``audit`` (default: ``station.audit_log``, see ``cfg.audit_path``).
        A sealed key is never made anew: a missing one is an error.
        """
        return cls(
            cfg.store_path,
            key_file=cfg.key_file(OUTBOX_KEY),
            create_key=not cfg.key_sealed(OUTBOX_KEY),
            signing_key=station_signing_key(cfg),
            max_records=cfg.store.max_records,
            min_free_mb=cfg.store.min_free_mb,
            audit=audit if audit is not None else AuditLog(cfg.audit_path),
            exclusive=exclusive,
        )

    # -- public API (any thread) -------------------------------------------------------
    def append(self, record: Mapping[str, Any]) -> None:
        """Store ``record`` durably; returns once it is fsynced. Raises StoreFull."""
        self._call(lambda: self._append(dict(record)))

    def pending_count(self) -> int:
        return self._call(lambda: len(self._index))

    def oldest_pending_age(self, now: float | None = None) -> float | None:
        """Seconds since the oldest waiting record was stored (None when empty)."""
        return self._call(lambda: self._oldest_age(time.time() if now is None else now))

    def next_batch(self, limit: int, exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Up to ``limit`` waiting records, oldest first, skipping ids in ``exclude``."""
        skip = set(exclude)
        return self._call(lambda: self._next_batch(limit, skip))

    def next_payloads(self, limit: int, exclude: Iterable[str] = ()) -> list[tuple[str, bytes]]:
        """Like :meth:`next_batch` but (record_id, signed item) pairs (see signing)."""
        skip = set(exclude)
        return self._call(lambda: self._next_docs(limit, skip, lambda d: d["item"].encode()))

    def mark_delivered(self, record_ids: Iterable[str]) -> int:
        """Delete acknowledged records (unknown ids are ignored); returns how many."""
        ids = list(record_ids)
        return self._call(lambda: self._delete(ids))

    def mark_refused(self, refusals: Iterable[tuple[str, str]]) -> int:
        """Keep (record_id, reason) records on disk but stop sending them; returns how many.

        Ids that are not pending (unknown, delivered, already refused) are ignored.
        """
        items = [(str(rid), clean_reason(why)) for rid, why in refusals]
        return self._call(lambda: self._refuse(items))

    def requeue(self, reason: str | None = None) -> int:
        """Make refused records (only those with ``reason``, if given) pending again."""
        return self._call(lambda: self._requeue(reason))

    def refused_count(self) -> int:
        return self._call(lambda: len(self._refused))

    def refused(self) -> dict[str, str]:
        """record_id -> the ward's reason, for every refused record."""
        return self._call(lambda: {rid: e.refused for rid, e in self._refused.items()})

    def record_ids(self) -> list[str]:
        """Ids of the pending records (not the refused ones), oldest first."""
        return self._call(lambda: list(self._index))

    @property
    def append_seq(self) -> int:
        """Increments on every append (lets a poller notice new records cheaply)."""
        return self._appended

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._calls.put(None)
        self._thread.join(10)

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- owner thread ------------------------------------------------------------------
    def _call(self, fn: Callable[[], T]) -> T:
        if self._closed:
            raise StoreError("outbox is closed")
        fut: Future[T] = Future()
        self._calls.put((fn, fut))
        return fut.result()

    def _serve(self) -> None:
        while True:
            item = self._calls.get()
            if item is None:
                if self._lock_fd >= 0:
                    os.close(self._lock_fd)  # releases the flock
                return
            fn, fut = item
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the caller, never lost
                fut.set_exception(exc)

    def _seg_path(self, n: int) -> Path:
        return self.path / f"{_SEG_PREFIX}{n:08d}{_SEG_SUFFIX}"

    def _db(self, n: int, *, sync_dir: bool = True) -> TinyDB:
        self._cache.pop(n, None)  # any handle may write: forget the decoded copy
        return TinyDB(
            self._seg_path(n), key=self._key, sync_dir=sync_dir, storage=EncryptedAtomicStorage
        )

    def _segment_docs(self, n: int) -> dict[int, dict[str, Any]]:
        """Decoded documents of segment ``n`` (a few recent segments stay cached)."""
        docs = self._cache.get(n)
        if docs is None:
            docs = {d.doc_id: d for d in self._db(n).all()}
            if len(self._cache) >= 8:
                self._cache.pop(next(iter(self._cache)))
            self._cache[n] = docs
        return docs

    def _open(self) -> None:
        # A lost plain key: a new one, the unreadable segments moved aside, the station
        # serves on. A sealed key that was not unsealed must not be replaced: it exists.
        stored = self.path.is_dir() and any(self.path.glob(f"{_SEG_PREFIX}*{_SEG_SUFFIX}"))
        try:
            self._key = load_or_create_key(self.key_file, create=self.create_key)
        except StoreError:
            if stored and not self.key_file.exists():
                raise StoreError(
                    f"outbox key {self.key_file} is missing but {self.path} holds records: "
                    "no new key is made (unseal it: station keys unseal)"
                ) from None
            raise
        if self.path.exists() and not self.path.is_dir():
            self._quarantine(self.path, "not a store folder")
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock()
        for tmp in self.path.glob(".*.tmp"):  # a write cut short: the old file is intact
            tmp.unlink()
        segments = sorted(
            int(p.name[len(_SEG_PREFIX) : -len(_SEG_SUFFIX)])
            for p in self.path.glob(f"{_SEG_PREFIX}*{_SEG_SUFFIX}")
            if p.name[len(_SEG_PREFIX) : -len(_SEG_SUFFIX)].isdigit()
        )
        for n in segments:
            self._load_segment(n)
        self._head = segments[-1] if segments else 1
        log.info(
            "outbox %s: %d records waiting, %d refused by the ward, in %d segments",
            self.path,
            len(self._index),
            len(self._refused),
            len(self._live),
        )

    def _lock(self) -> None:
        """Shared flock for a normal open; exclusive (and not waiting) for the admin's."""
        fd = os.open(self.path / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB if self.exclusive else fcntl.LOCK_SH)
        except BlockingIOError:
            os.close(fd)
            raise OutboxBusy(
                f"outbox {self.path} is in use (is the station running? "
                "sudo systemctl stop station, then try again)"
            ) from None
        self._lock_fd = fd

    def _load_segment(self, n: int) -> None:
        try:
            docs = self._db(n).all()
        except StoreCorrupt as exc:
            self._quarantine(self._seg_path(n), str(exc))
            return
        entries = []
        for doc in docs:
            try:
                entries.append((str(doc["record_id"]), float(doc["stored_at"]), doc))
            except (KeyError, TypeError, ValueError):
                log.error("outbox segment %d: skipping a malformed entry", n)
        for record_id, stored_at, doc in entries:
            refused = str(doc.get("refused") or "")
            entry = _Entry(n, doc.doc_id, stored_at, str(doc.get("fp", "")), refused)
            (self._refused if refused else self._index)[record_id] = entry
        if entries:
            self._live[n] = len(entries)

    def _quarantine(self, path: Path, why: str) -> None:
        target_dir = self.path.parent / f"{self.path.name}.corrupt"
        target_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = target_dir / f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}"
        path.replace(target)
        self.quarantined.append(target)
        log.error("OUTBOX FILE UNREADABLE, MOVED ASIDE: %s -> %s (%s)", path, target, why)

    def is_full(self, pending: int) -> bool:
        """Whether ``pending`` waiting records leave no room for a new read."""
        return is_full(pending, self.max_records)

    def is_full_now(self) -> bool:
        """Whether a new read would be refused now: too many waiting, or too little disk."""
        if self.is_full(self.pending_count()):
            return True
        try:
            return shutil.disk_usage(self.path).free < self.min_free_bytes
        except OSError:
            return False  # the append itself reports a store that cannot be used

    def _check_room(self) -> None:
        if self.is_full(len(self._index)):
            raise StoreFull(f"outbox full: {len(self._index)} records wait (store.max_records)")
        free = shutil.disk_usage(self.path).free
        if free < self.min_free_bytes:
            raise StoreFull(
                f"outbox refused: {free // (1024 * 1024)} MB free on disk (store.min_free_mb)"
            )

    def _append(self, record: dict[str, Any]) -> None:
        record_id = record.get("record_id")
        if not isinstance(record_id, str) or not record_id:
            raise StoreError("outbox append: record has no record_id")
        if record_id in self._index or record_id in self._refused:
            return  # idempotent: already stored
        self._check_room()
        if self._live.get(self._head, 0) >= self.segment_size:
            self._head += 1
        try:
            canonical = canonical_bytes(record)
            item = seal_item(record, self._signing_key, canonical=canonical)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"outbox append: record is not JSON data ({exc})") from exc
        fp = fingerprint(canonical)
        now = time.time()
        doc = {"record_id": record_id, "stored_at": now, "fp": fp, "item": item.decode()}
        doc_id = self._db(self._head).insert(doc)
        self._index[record_id] = _Entry(self._head, doc_id, now, fp)
        self._live[self._head] = self._live.get(self._head, 0) + 1
        self._appended += 1

    def _oldest_age(self, now: float) -> float | None:
        first = next(iter(self._index.values()), None)
        return None if first is None else max(0.0, now - first.stored_at)

    def _next_batch(self, limit: int, skip: set[str]) -> list[dict[str, Any]]:
        pairs = self._next_docs(limit, skip, lambda d: json.loads(d["item"])["record"])
        return [record for _, record in pairs]

    def _next_docs(
        self, limit: int, skip: set[str], extract: Callable[[dict[str, Any]], T]
    ) -> list[tuple[str, T]]:
        wanted: list[tuple[str, _Entry]] = []
        for record_id, entry in self._index.items():
            if len(wanted) >= limit:
                break
            if record_id not in skip:
                wanted.append((record_id, entry))
        out = []
        for record_id, entry in wanted:
            doc = self._segment_docs(entry.segment).get(entry.doc_id)
            if doc is not None:
                out.append((record_id, extract(doc)))
        return out

    def _delete(self, ids: list[str]) -> int:
        by_segment: dict[int, list[tuple[str, _Entry]]] = {}
        for record_id in dict.fromkeys(ids):
            entry = self._index.get(record_id) or self._refused.get(record_id)
            if entry is not None:
                by_segment.setdefault(entry.segment, []).append((record_id, entry))
        deleted: list[tuple[str, str]] = []
        for seg, items in by_segment.items():
            if len(items) >= self._live.get(seg, 0) and seg != self._head:
                self._seg_path(seg).unlink(missing_ok=True)  # losing this is harmless
                self._cache.pop(seg, None)
                self._live.pop(seg, None)
            else:
                self._db(seg, sync_dir=False).remove(doc_ids=[e.doc_id for _, e in items])
                self._live[seg] -= len(items)
            for record_id, entry in items:
                self._index.pop(record_id, None)
                self._refused.pop(record_id, None)
                deleted.append((record_id, entry.fingerprint))
        if deleted and self.audit is not None:
            self.audit.write_many(("deleted", rid, fp, "delivered") for rid, fp in deleted)
        return len(deleted)

    def _set_refused(self, entries: list[tuple[str, _Entry]]) -> None:
        """Write each entry's ``refused`` field: one atomic rewrite per segment touched."""
        by_segment: dict[int, list[_Entry]] = {}
        for _, entry in entries:
            by_segment.setdefault(entry.segment, []).append(entry)
        for seg, items in by_segment.items():
            db = self._db(seg)
            for reason in {e.refused for e in items}:
                ids = [e.doc_id for e in items if e.refused == reason]
                if reason:
                    db.update({"refused": reason, "refused_at": time.time()}, doc_ids=ids)
                else:
                    db.update(_drop_refusal, doc_ids=ids)

    def _refuse(self, items: list[tuple[str, str]]) -> int:
        changed = [
            (rid, replace(self._index[rid], refused=why))
            for rid, why in dict(items).items()
            if rid in self._index
        ]
        if not changed:
            return 0
        self._set_refused(changed)  # on disk first: a crash leaves them pending, not lost
        for rid, entry in changed:
            del self._index[rid]
            self._refused[rid] = entry
            log.warning("the ward refused record %s (%s): kept, not resent", rid, entry.refused)
        if self.audit is not None:
            self.audit.write_many(
                ("refused", rid, e.fingerprint, f"refused:{e.refused}") for rid, e in changed
            )
        return len(changed)

    def _requeue(self, reason: str | None) -> int:
        changed = [
            (rid, replace(e, refused=""))
            for rid, e in self._refused.items()
            if reason is None or e.refused == reason
        ]
        if not changed:
            return 0
        self._set_refused(changed)
        for rid, entry in changed:
            del self._refused[rid]
            self._index[rid] = entry
        # back in store order, so the oldest waiting record is first again
        self._index = dict(sorted(self._index.items(), key=lambda kv: _order(kv[1])))
        if self.audit is not None:
            self.audit.write_many(
                ("requeued", rid, e.fingerprint, "requeued by admin") for rid, e in changed
            )
        log.warning("requeued %d records refused by the ward", len(changed))
        return len(changed)


def outbox_in_use(store: Path) -> bool:
    """Whether a station (any process) has the outbox open: its ``.lock`` is held."""
    lock = store / _LOCK_NAME
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases a lock taken here
    return False


def _order(entry: _Entry) -> tuple[int, int]:
    return entry.segment, entry.doc_id


def _drop_refusal(doc: dict[str, Any]) -> None:
    doc.pop("refused", None)
    doc.pop("refused_at", None)


@dataclass
class OutboxSummary:
    """What the outbox holds, read without opening it for writing (no personal data)."""

    pending: int = 0
    oldest_stored_at: float | None = None
    refused: dict[str, int] = field(default_factory=dict)  # reason -> count
    refused_stations: set[str] = field(default_factory=set)  # station ids they name

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())


def read_summary(store: Path, key: bytes) -> OutboxSummary:
    """Count pending and refused records in every segment (read-only; may raise StoreError)."""
    out = OutboxSummary()
    for seg in sorted(store.glob(f"{_SEG_PREFIX}*{_SEG_SUFFIX}")):
        data = EncryptedAtomicStorage(seg, key).read() or {}
        for table in data.values():
            for doc in table.values():
                if not isinstance(doc, dict) or "record_id" not in doc:
                    continue
                refused = doc.get("refused")
                if refused:
                    reason = clean_reason(refused)
                    out.refused[reason] = out.refused.get(reason, 0) + 1
                    out.refused_stations.add(_station_of(doc))
                    continue
                out.pending += 1
                stamp = float(doc.get("stored_at", 0.0))
                if out.oldest_stored_at is None or stamp < out.oldest_stored_at:
                    out.oldest_stored_at = stamp
    return out


def _station_of(doc: dict[str, Any]) -> str:
    """The station id a stored record names (not personal data)."""
    try:
        return str(json.loads(doc["item"])["record"]["station_id"])
    except (KeyError, TypeError, ValueError):
        return "?"


__all__ = [
    "Outbox",
    "OutboxBusy",
    "OutboxSummary",
    "StoreError",
    "StoreFull",
    "clean_reason",
    "is_full",
    "outbox_in_use",
    "read_summary",
]
