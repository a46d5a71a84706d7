"""The ward receiver: verify, store exactly once, THEN acknowledge.

Subscribes to ``$share/<group>/<prefix>/+/records`` (MQTT 5 shared subscription:
several receivers split the load) and to every station's status and heartbeat.
Messages collected during one network-loop step are handled as a batch: each is
checked (:func:`station.sync.signing.open_envelope`), the good ones go into the ward
database (SQLite or PostgreSQL, :mod:`station.ward.db`) in one durable transaction,
exactly once by (station_id, record_id): a replay changes nothing. Only after the
commit one ack per station is published (replays are acked again so a station that
missed the first ack can delete its copy), and ``on_stored`` is told the newest
``seq`` (the console's live view). Rejected messages are logged with the reason and a
payload fingerprint and never stop the receiver. Retention deletes old records and
writes an audit line for each (``--retention-days``, else the console's setting).

Negative acknowledgements. The ack message to ``<prefix>/<station>/ack`` is
``{"ack": [ids], "refused": [{"record_id": id, "reason": word}]}`` ("ack" is
always present, possibly empty, so stations that predate "refused" still parse
it), signed with the ward's ack key (``ack_key``, made on first use; see
:func:`station.sync.signing.seal_ack`): stations act only on acks that key signed.
It always goes to the station named by the *topic*, which the broker ACL ties to
the sender's certificate, never to the station a record claims to be from. What is
refused, and what is not:

- Permanent, answered: a refusal of one item (:data:`PERMANENT`: "station
  mismatch", "forged", "unsigned", "malformed" (signed, but not a record the format
  allows: :func:`station.record.received_problem`), "too large", "revoked" (the
  station was revoked: its records are verified, then refused), "conflict"). A
  conflict is a record whose
  (station_id, record_id) the ward already holds with other content: it is never
  acknowledged (the station keeps it aside) and raised as an alert at the ward.
  The outcome depends only on the item's own bytes, the key enrolled for the
  sending station and what the ward holds, so sending the same bytes again can
  never succeed; the station sets the record aside until its admin
  fixes the cause (station id, enrolment) and requeues it. Exception: the ward
  already stored a byte-identical record under that id (its ack was lost, then
  the station was renamed or re-keyed): that is acked, not refused, so the
  station deletes a copy the ward has instead of keeping it aside forever.
- Envelope-level (:class:`EnvelopeError`: station not enrolled, topic/envelope
  mismatch, not JSON, over the size, depth or item bounds of
  :mod:`station.sync.limits`), NOT answered: the items are left unacknowledged and the
  station resends them after its ack timeout. "Not enrolled" is the normal state
  between installing a station and running ``station ward enroll``; it heals by
  itself once enrolled, and refusing would strand every record read meanwhile.
  With no enrolled key (or an envelope that contradicts its own topic) nothing in
  the message can be verified, so its record ids are claims the ward should not
  act on. The ward logs them and writes a "rejected" audit line.
- The ward's own failures (database errors: disk full, locked, I/O, connection
  lost) are NOT refusals: the batch is neither acked nor refused, the error is
  logged, the receiver reopens the database and keeps running, the stations resend.
- Enrolment and revocation take effect at the next message: the station's key and
  whether it is revoked are looked up in the database for every batch.
- One guard: every message is opened under ``except Exception`` (:func:`_open`), so
  whatever it holds (a nesting that would overflow the parser's stack, a lone
  surrogate, a number Python refuses) the worst outcome is "malformed", refused and
  logged; a fault while storing or answering leaves the batch unacknowledged (resent),
  never the receiver stopped. Strings from the network are logged with ``%r`` (a
  topic's station id is checked first) and record ids only once they are UUIDs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from station.audit import AuditLog
from station.config import valid_station_id
from station.fingerprint import fingerprint
from station.sync.errors import SyncError
from station.sync.limits import MAX_STATUS_BYTES, load_json
from station.sync.link import Link, LinkSettings
from station.sync.signing import (
    WARD_KEY_NAME,
    EnvelopeError,
    Opened,
    Rejected,
    load_ward_key,
    open_envelope,
    parse_public_key,
    seal_ack,
)
from station.ward.db import DatabaseError, StoreResult, WardDB, describe, is_postgres
from station.ward.trust import BundleSender
from station.ward.trust import topic as trust_topic

log = logging.getLogger(__name__)

RETENTION_CHECK_S = 3600.0
# Item-level refusals that resending cannot change (see the module docstring).
PERMANENT = frozenset(
    {"station mismatch", "forged", "unsigned", "conflict", "malformed", "too large", "revoked"}
)
DB_RETRY_S = 1.0  # wait this long before reopening a database that failed
TRUST_CHECK_S = 0.5  # how often the trust revision is looked at (a new bundle to publish)


def ack_key_file(db: str | Path, given: str | Path | None = None) -> Path:
    """The ward's ack key file: ``given``, else ``ward_ack_ed25519.key`` beside an SQLite
    database, or in the working folder for a PostgreSQL URL."""
    if given:
        return Path(given)
    if is_postgres(str(db)):
        return Path(WARD_KEY_NAME)
    return Path(db).with_name(WARD_KEY_NAME)


@dataclass
class WardStats:
    """Counters (mutated only by the receiver thread)."""

    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0  # records refused: their (station_id, record_id) holds other content
    rejected: int = 0
    refused_sent: int = 0  # negative acks sent (records the stations will set aside)
    db_errors: int = 0  # batches left unacknowledged because the database failed
    errors: int = 0  # batches or records left unacknowledged by a fault of the ward's own
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StationKey:
    """The key a station enrolled last, and whether it has been revoked since."""

    key: Ed25519PublicKey
    revoked: bool


class WardReceiver:
    """Runs in its own thread (``start``/``stop``) or in the caller's (``run``)."""

    def __init__(
        self,
        settings: LinkSettings,
        db_path: str | Path,
        *,
        prefix: str = "cccd",
        group: str = "ward",
        audit: AuditLog | None = None,
        retention_days: float | None = None,
        verify_threads: int = 2,
        on_stored: Callable[[int], None] | None = None,
        ack_key: Ed25519PrivateKey | str | Path | None = None,
    ) -> None:
        self.db_path = db_path  # an SQLite file or a postgresql:// URL
        self.on_stored = on_stored
        # the ward's ack-signing key; its public half goes to each station as mqtt.ward_key
        self._ack_key = (
            ack_key
            if isinstance(ack_key, Ed25519PrivateKey)
            else load_ward_key(ack_key_file(db_path, ack_key))
        )
        # the trust bundles: the same key signs
        self._bundles = BundleSender(self._ack_key, prefix)
        self._next_trust = 0.0
        self.prefix = prefix
        self.group = group
        self.audit = audit
        self.retention_days = retention_days
        self.verify_threads = verify_threads
        self.stats = WardStats()
        self._settings = settings
        self._batch: list[tuple[str, bytes]] = []
        self._keys: dict[str, tuple[str, Ed25519PublicKey]] = {}  # station -> (text, key)
        # Ed25519 verification releases the GIL: messages are opened on this pool.
        self._pool = ThreadPoolExecutor(verify_threads, thread_name_prefix="ward-verify")
        self._db: WardDB | None = None
        self._db_retry_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_purge = 0.0
        self.ready = threading.Event()  # set once subscribed

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> WardReceiver:
        self._thread = threading.Thread(target=self.run, name="ward", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """The receiver's thread (``start``) is running."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> WardReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self) -> None:
        """Serve until :meth:`stop` (or the stop event) is set."""
        self._db = WardDB(self.db_path)  # fails at start, with a clear message, if it cannot
        link = Link(
            self._settings,
            on_connect=self._subscribe_on,
            on_message=self._collect,
            on_subscribed=self._subscribed,
        )
        self._link = link
        try:
            while not self._stop.is_set():
                link.step(0.05)
                batch, self._batch = self._batch, []
                db = self._open_db()
                if db is None:
                    if batch:
                        self._db_failed(None, len(batch), "messages")
                    continue
                try:
                    if batch:
                        self.handle_batch(db, link, batch)
                    self._maybe_purge(db)
                    self._maybe_publish_trust(db, link)
                except DatabaseError as exc:  # e.g. a key lookup: retried like any DB failure
                    self._db_failed(exc, len(batch), "messages")
                except Exception:  # a fault of the ward's own: never the end of the receiver
                    self.stats.errors += 1
                    log.exception("%d messages not handled (left unacknowledged)", len(batch))
        finally:
            link.close()
            if self._db is not None:
                self._db.close()
            self._pool.shutdown()

    def _open_db(self) -> WardDB | None:
        """The database, reopened (at most every DB_RETRY_S) after its connection broke."""
        if self._db is not None and not self._db.broken:
            return self._db
        if self._db is not None:
            self._db.close()
            self._db = None
        if time.monotonic() < self._db_retry_at:
            return None
        try:
            self._db = WardDB(self.db_path)
            log.info("ward database %s reopened", describe(self.db_path))
        except DatabaseError as exc:
            self._db_retry_at = time.monotonic() + DB_RETRY_S
            log.error("ward database %s unavailable: %s", describe(self.db_path), exc)
        return self._db

    # -- link callbacks ----------------------------------------------------------------
    def _subscribe_on(self, session_present: bool) -> None:
        p = self.prefix
        self._bundles.reset(time.monotonic())  # publish the newest bundle on this connection
        self._next_trust = 0.0
        self._link.subscribe(
            [
                (f"$share/{self.group}/{p}/+/records", 1),
                (f"{p}/+/status", 1),
                (f"{p}/+/heartbeat", 0),
                (f"{trust_topic(p)}/#", 1),  # the bundle's head and parts, and the marker
            ]
        )

    def _maybe_publish_trust(self, db: WardDB, link: Link) -> None:
        """Publish (retained) the newest trust bundle once per connection and version, and
        repair what is retained when it is not the ward's (:class:`BundleSender`)."""
        now = time.monotonic()
        if now < self._next_trust or not link.connected:
            return
        self._next_trust = now + TRUST_CHECK_S
        for name, payload in self._bundles.due(db, now):
            if link.publish(name, payload, retain=True):
                self._bundles.sent(name, now)

    def _subscribed(self) -> None:
        log.info("ward receiver subscribed to %s/+/records (group %s)", self.prefix, self.group)
        self._link.publish(*self._bundles.marker())  # back once the retained ones were sent
        self.ready.set()

    def _collect(self, topic: str, payload: bytes) -> None:
        head = self._bundles.head_topic
        if topic == head or topic.startswith(head + "/"):
            self._bundles.heard(topic, payload)
            return
        self._batch.append((topic, payload))

    # -- batch handling ----------------------------------------------------------------
    def _split(self, topic: str) -> tuple[str, str] | None:
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head) :].split("/")
        if len(parts) != 2 or not valid_station_id(parts[0]):
            log.warning("ignoring a message on topic %r", topic[:200])
            return None
        return parts[0], parts[1]

    def handle_batch(self, db: WardDB, link: Link, batch: list[tuple[str, bytes]]) -> None:
        """The messages of one network step: checked, stored, then answered.

        Every message is opened under one guard (:func:`_open`): whatever it holds, the
        worst outcome is "malformed", refused and logged. Only the database's failures
        (:class:`DatabaseError`) leave this method, for the caller to retry.
        """
        messages: list[tuple[str, bytes]] = []
        for topic, payload in batch:
            where = self._split(topic)
            if where is None:
                continue
            station, kind = where
            if kind == "records":
                messages.append((station, payload))
            elif kind in ("status", "heartbeat"):
                self._status(db, station, kind, payload)
        if not messages:
            return
        keys = {station: self._key(db, station) for station in {s for s, _ in messages}}
        opened = self._pool.map(lambda m: _open(m, keys), messages)
        good: dict[str, list[Opened]] = {}  # by topic station
        refused: dict[str, list[Rejected]] = {}
        for (station, payload), (ok, bad) in zip(messages, opened, strict=True):
            good.setdefault(station, []).extend(ok)
            self._reject(station, payload, bad)
            refused.setdefault(station, []).extend(
                r for r in bad if r.record_id and r.reason in PERMANENT
            )
        result = self._store(db, [i for items in good.values() for i in items])
        stored = set() if result is None else {id(i) for i in result.stored}
        conflicts = set() if result is None else {id(i) for i in result.conflicts}
        for station in good:
            ids = [i.record_id for i in good[station] if id(i) in stored]
            have, refuse = self._already_stored(db, refused[station])
            refuse += [
                {"record_id": i.record_id, "reason": "conflict"}
                for i in good[station]
                if id(i) in conflicts
            ]
            if ids or have or refuse:
                self._answer(link, station, ids + have, refuse)

    def _store(self, db: WardDB, good: list[Opened]) -> StoreResult | None:
        """Store ``good`` durably; None (nothing may be acked) when the database failed."""
        if not good:
            return StoreResult()
        result: StoreResult | None
        try:
            result = db.store_many(good)
        except DatabaseError as exc:
            self._db_failed(exc, len(good), "records")
            return None
        except Exception:  # the ward's fault: find the record, store the others
            log.exception("storing %d records failed; storing them one by one", len(good))
            result = self._store_each(db, good)
        if result is not None:
            self._stored(result)
        return result

    def _store_each(self, db: WardDB, good: list[Opened]) -> StoreResult | None:
        """Each record alone: the one that fails is left unacknowledged (resent later)."""
        result = StoreResult()
        for item in good:
            try:
                one = db.store_many([item])
            except DatabaseError as exc:
                self._db_failed(exc, len(good), "records")
                return None
            except Exception:
                self.stats.errors += 1
                log.exception("record %s not stored (left unacknowledged)", item.record_id)
                continue
            result.new.extend(one.new)
            result.duplicates.extend(one.duplicates)
            result.conflicts.extend(one.conflicts)
        return result

    def _stored(self, result: StoreResult) -> None:
        new = [item for _, item in result.new]
        self.stats.stored += len(new)
        self.stats.duplicates += len(result.duplicates)
        self.stats.conflicts += len(result.conflicts)
        if self.audit is not None and (new or result.conflicts):
            self.audit.write_many(
                [("stored", i.record_id, fingerprint(i.canonical), "signature ok") for i in new]
                + [
                    ("rejected", i.record_id, fingerprint(i.canonical), "conflict")
                    for i in result.conflicts
                ]
            )
        if result.duplicates:
            log.info("ignored %d replayed records (acked again)", len(result.duplicates))
        for item in result.conflicts:
            log.warning(
                "record %s from station %r conflicts with the stored one (content %s): "
                "refused, alert raised",
                item.record_id,
                str(item.record.get("station_id")),
                fingerprint(item.canonical),
            )
        if result.new and self.on_stored is not None:
            self.on_stored(max(seq for seq, _ in result.new))

    def _already_stored(
        self, db: WardDB, refused: list[Rejected]
    ) -> tuple[list[str], list[dict[str, str]]]:
        """Split refusals into ids the ward already holds byte-identical, and the rest."""
        have = [
            r.record_id
            for r in refused
            if r.canonical and db.holds_identical(r.record_id, r.canonical)
        ]
        rest = [
            {"record_id": r.record_id, "reason": r.reason}
            for r in refused
            if r.record_id not in have
        ]
        if have:
            log.info("%d refused records are already stored unchanged: acked again", len(have))
        return have, rest

    def _db_failed(self, exc: DatabaseError | None, count: int, what: str) -> None:
        """A ward-side failure: no ack and no refusal, so the stations resend later."""
        self.stats.db_errors += 1
        log.error(
            "ward database %s failed (%s): %d %s not acknowledged, the stations will resend",
            describe(self.db_path),
            exc or "unavailable",
            count,
            what,
        )

    def _answer(
        self, link: Link, station: str, ids: list[str], refused: list[dict[str, str]]
    ) -> None:
        """One ack message to the sending station (the topic's, which the ACL vouches for)."""
        doc: dict[str, object] = {"ack": ids}
        if refused:
            doc["refused"] = refused
            self.stats.refused_sent += len(refused)
        link.publish(f"{self.prefix}/{station}/ack", seal_ack(doc, station, self._ack_key))

    def _reject(self, station: str, payload: bytes, bad: list[Rejected]) -> None:
        for r in bad:
            self.stats.rejected += 1
            self.stats.reasons[r.reason] = self.stats.reasons.get(r.reason, 0) + 1
            log.warning(
                "rejected %s from station %r (payload %s): %s",
                f"record {r.record_id}" if r.record_id else "message",
                station,
                fingerprint(payload),
                r.detail,
            )
        if bad and self.audit is not None:
            self.audit.write_many(
                ("rejected", r.record_id, fingerprint(payload), r.reason) for r in bad
            )

    def _key(self, db: WardDB, station: str) -> StationKey | None:
        """The key enrolled now (enrolled, re-keyed or revoked since the last batch?)."""
        found = db.station_key(station)
        if found is None:
            self._keys.pop(station, None)
            return None
        text, revoked = found
        cached = self._keys.get(station)
        if cached is not None and cached[0] == text:
            return StationKey(cached[1], revoked)
        try:
            key = parse_public_key(text)
        except SyncError:
            log.error("enrolled key of station %r is unusable", station)
            return None
        self._keys[station] = (text, key)
        return StationKey(key, revoked)

    def _status(self, db: WardDB, station: str, kind: str, payload: bytes) -> None:
        if db.public_key(station) is None:
            return  # only enrolled stations are tracked
        try:
            doc = load_json(payload, MAX_STATUS_BYTES) if payload else {"state": "offline"}
        except ValueError as exc:
            log.warning("malformed %s message from station %r: %s", kind, station, exc)
            return
        if isinstance(doc, dict):
            if kind == "heartbeat":
                doc = {**doc, "state": "online"}
            db.update_status(station, doc)

    def _maybe_purge(self, db: WardDB) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + RETENTION_CHECK_S
        days = self.retention_days if self.retention_days is not None else retention_setting(db)
        if days is None:
            return
        gone = db.purge_older_than(time.time() - days * 86400)
        if gone:
            log.info("retention: deleted %d records older than %g days", len(gone), days)
            if self.audit is not None:
                self.audit.write_many(("deleted", rid, fp, "retention") for rid, fp in gone)


def retention_setting(db: WardDB) -> float | None:
    """Days to keep records as set on the console's retention page (None: keep all)."""
    try:
        days = float(db.setting("retention_days", ""))
    except ValueError:
        return None
    return days if days > 0 else None


def _open(
    message: tuple[str, bytes], keys: dict[str, StationKey | None]
) -> tuple[list[Opened], list[Rejected]]:
    """One message opened under the one guard: any exception is "malformed", never the
    end of the receiver. A revoked station's records are checked, then refused."""
    station, payload = message
    found = keys.get(station)
    try:
        good, bad = open_envelope(payload, station, lambda _: found.key if found else None)
    except EnvelopeError as exc:
        return [], [Rejected(str(exc).split(":")[0], str(exc))]
    except Exception as exc:  # the guard: what a message holds must not stop the receiver
        log.debug("message from station %r raised while opened", station, exc_info=True)
        return [], [Rejected("malformed", f"unreadable message ({type(exc).__name__})")]
    if found is not None and found.revoked:
        revoked = [Rejected("revoked", "station revoked", i.record_id, i.canonical) for i in good]
        return [], revoked + bad
    return good, bad


__all__ = ["StationKey", "WardReceiver", "WardStats", "ack_key_file"]
