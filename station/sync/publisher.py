"""The publisher: sends what waits in the outbox, deletes it on the ward's ack.

Topics (``P`` = mqtt.topic_prefix, ``S`` = station id):

- ``P/S/records`` station -> ward, QoS 1, envelopes of up to ``batch_records``
  records, each signed when it was stored (:mod:`station.sync.signing`);
- ``P/S/ack`` ward -> station, QoS 1, ``{"ack": [record_id, ...]}``, optionally
  with ``"refused": [{"record_id": ..., "reason": "station mismatch"}, ...]`` for
  records the ward will never accept, signed by the ward's key
  (:func:`station.sync.signing.open_ack`). Only an ack whose signature verifies with
  the pinned ``mqtt.ward_key`` is acted on, and only for records in flight: without a
  pinned key nothing is ever deleted (the records wait, ``station doctor`` says why);
- ``P/S/status`` retained ``{"state": "online"|"offline", ...}`` (offline is the
  Last Will and is also sent on a clean stop);
- ``P/S/heartbeat`` ``{"pending", "refused", "oldest_pending_age_s", "uptime_s", "version"}``;
- ``P/trust/bundle`` ward -> every station, retained: the signed head of the ward's
  trust bundle, and ``P/trust/bundle/V/N`` its parts (retained too); each message is
  handed as it came to ``on_trust`` (``station.runtime.trust.BundleFeed``: "" for the
  head, "V/N" for a part), which answers the version whose parts it wants: the
  publisher subscribes to ``P/trust/bundle/V/+`` for that version only (and drops the
  previous one). Being retained, a station that was off gets the newest bundle when it
  connects.

The outbox is the only buffer. At most ``inflight`` records are sent and not yet
acknowledged; a record is deleted only when the ward acks it (a PUBACK only means
the broker has it), and resent when no ack came within ``ack_timeout_s`` or when
the broker lost our session. A refused record is not resent: the outbox keeps it
in a "refused" state (:meth:`Outbox.mark_refused`) until the admin requeues it
(``station outbox requeue``). The publisher runs in its own thread and reports a
:class:`SyncState` through a callback (called from that thread: hand it to your
event loop).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from station import __version__
from station.config import Config
from station.sync.errors import SyncError
from station.sync.limits import MAX_ITEM_BYTES, batches
from station.sync.link import Link, LinkSettings, client_identity
from station.sync.outbox import Outbox, clean_reason
from station.sync.signing import EnvelopeError, batch_payload, open_ack, parse_public_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncState:
    """What the idle screen shows about sync."""

    connected: bool
    pending: int
    last_sync_at: float | None  # epoch seconds of the last ward ack, None = never
    oldest_pending_age_s: float | None = None
    refused: int = 0  # records the ward refused, kept until `station outbox requeue`
    connecting: bool = False  # not connected, and the first attempt has had no answer yet
    stale_min: int = 0  # minutes the oldest record has waited, once past the alert age; else 0
    denied: str = ""  # the broker's reason when it refuses our records (MQTT 5 PUBACK)
    identity: str = ""  # who the broker takes us for (certificate CN / user name)


def topics(prefix: str, station_id: str) -> dict[str, str]:
    base = f"{prefix}/{station_id}"
    return {k: f"{base}/{k}" for k in ("records", "ack", "status", "heartbeat")}


class Publisher:
    """Outbox -> broker -> ward, with end-to-end acknowledgement. ``start()``/``stop()``."""

    def __init__(
        self,
        outbox: Outbox,
        settings: LinkSettings,
        *,
        station_id: str,
        topic_prefix: str = "cccd",
        inflight: int = 400,
        batch_records: int = 50,
        ack_timeout_s: float = 30.0,
        heartbeat_s: float = 60.0,
        on_state: Callable[[SyncState], None] | None = None,
        ward_key: Ed25519PublicKey | None = None,
        alert_age_s: float = 24 * 3600.0,
        identity: str = "",
        on_trust: Callable[[str, bytes], int | None] | None = None,
    ) -> None:
        if not station_id or any(c in station_id for c in "/+#"):
            raise ValueError(f"station id {station_id!r} cannot be used in an MQTT topic")
        self.outbox = outbox
        self.station_id = station_id
        self.topics = topics(topic_prefix, station_id)
        self.trust_topic = f"{topic_prefix}/trust/bundle"
        self._on_trust = on_trust
        self._parts_filter: str | None = None  # the bundle parts subscribed to
        self.inflight_max = inflight
        self.batch_records = batch_records
        self.ack_timeout_s = ack_timeout_s
        self.heartbeat_s = heartbeat_s
        self._on_state = on_state
        self.ward_key = ward_key  # acks not signed by it are ignored (None: all are)
        self.acks_ignored = 0  # ack messages (or ids in them) not acted on
        self.alert_age_s = alert_age_s
        self.identity = identity
        self.denied = ""  # the broker's reason for refusing our last records publish
        self._link = Link(
            settings,
            on_connect=self._connected,
            on_message=self._message,
            will=(self.topics["status"], self._status("offline")),
            max_inflight=inflight,
            on_publish_result=self._published,
        )
        self._inflight: dict[str, float] = {}  # record_id -> monotonic send time
        self._acked: list[str] = []
        self._refusals: list[tuple[str, str]] = []  # (record_id, reason) from the ward
        self.refused_total = 0  # records moved to the refused state by this publisher
        self._maybe_more = True
        self._seen_seq = -1
        self._started = time.monotonic()
        self._next_heartbeat = 0.0
        self._next_refresh = 0.0
        self._last_sync: float | None = None
        self._state: SyncState | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)

    @classmethod
    def from_config(
        cls,
        cfg: Config,
        outbox: Outbox,
        *,
        on_state: Callable[[SyncState], None] | None = None,
        on_trust: Callable[[str, bytes], int | None] | None = None,
    ) -> Publisher:
        """The station's publisher (records were signed by the outbox when stored)."""
        m = cfg.mqtt
        return cls(
            outbox,
            LinkSettings.from_config(cfg),
            station_id=cfg.station.id,
            topic_prefix=m.topic_prefix,
            inflight=m.inflight,
            batch_records=m.batch_records,
            ack_timeout_s=m.ack_timeout_s,
            heartbeat_s=m.heartbeat_s,
            on_state=on_state,
            ward_key=ward_key_of(cfg),
            alert_age_s=cfg.store.alert_age_h * 3600.0,
            identity=client_identity(m.cert_file, m.username),
            on_trust=on_trust,
        )

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> Publisher:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Send status offline, disconnect, join the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> Publisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def state(self) -> SyncState | None:
        return self._state

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    # -- thread ------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                busy = bool(self._inflight) or self._maybe_more
                try:
                    self._link.step(0.02 if busy else 0.1)
                    self._pump()
                except Exception:  # e.g. a disk error in the outbox: keep trying
                    log.exception("publisher step failed; retrying in 1 s")
                    self._stop.wait(1.0)
        finally:
            self._link.close(last=(self.topics["status"], self._status("offline")))
            self._report(force=True)

    def _pump(self) -> None:
        now = time.monotonic()
        delivered = refused = 0
        acked, self._acked = self._acked, []
        refusals, self._refusals = self._refusals, []
        if acked or refusals:
            self._maybe_more = True
        if self._link.connected:
            self._expire(now)
            # refill the window first, then delete / set aside
            self._fill(also_skip=[*acked, *(rid for rid, _ in refusals)])
            if now >= self._next_heartbeat:
                self._heartbeat(now)
        if acked:
            delivered = self.outbox.mark_delivered(acked)
            if delivered:
                self._last_sync = time.time()
        if refusals:
            refused = self.outbox.mark_refused(refusals)
            self.refused_total += refused
        counts_changed = delivered or refused
        if now >= self._next_refresh or counts_changed or self._seen_seq != self.outbox.append_seq:
            self._report()
            self._next_refresh = now + 1.0

    def _expire(self, now: float) -> None:
        for record_id, sent in list(self._inflight.items()):
            if now - sent < self.ack_timeout_s:
                break
            del self._inflight[record_id]
            self._maybe_more = True

    def _fill(self, also_skip: list[str]) -> None:
        free = self.inflight_max - len(self._inflight)
        seq = self.outbox.append_seq
        if free <= 0 or not (self._maybe_more or seq != self._seen_seq):
            return
        self._seen_seq = seq
        batch = self.outbox.next_payloads(free, exclude=[*self._inflight, *also_skip])
        self._maybe_more = len(batch) >= free
        now = time.monotonic()
        groups = batches([item for _, item in batch], self.batch_records)
        self._set_aside_too_large(batch, groups)
        for group in groups:
            chunk = [batch[i] for i in group]
            payload = batch_payload(self.station_id, [item for _, item in chunk])
            if not self._link.publish(self.topics["records"], payload):
                self._maybe_more = True
                return
            for record_id, _ in chunk:
                self._inflight[record_id] = now

    def _set_aside_too_large(self, batch: list[tuple[str, bytes]], groups: list[list[int]]) -> None:
        """Records no message may carry (the ward and the broker refuse them) are kept
        aside as refused, as if the ward had said so, instead of being resent forever."""
        sent = {i for group in groups for i in group}
        large = [(rid, "too large") for i, (rid, _) in enumerate(batch) if i not in sent]
        for record_id, _ in large:
            log.warning(
                "record %s is over %d bytes: kept aside, not sent", record_id, MAX_ITEM_BYTES
            )
        if large:
            self.outbox.mark_refused(large)

    def _heartbeat(self, now: float) -> None:
        self._next_heartbeat = now + self.heartbeat_s
        age = self.outbox.oldest_pending_age()
        beat = {
            "pending": self.outbox.pending_count(),
            "refused": self.outbox.refused_count(),
            "oldest_pending_age_s": None if age is None else round(age, 1),
            "uptime_s": round(now - self._started, 1),
            "version": __version__,
            "at": time.time(),
        }
        self._link.publish(self.topics["heartbeat"], json.dumps(beat).encode(), qos=0)

    def _report(self, *, force: bool = False) -> None:
        if self._on_state is None and not force:
            return
        age = self.outbox.oldest_pending_age()
        state = SyncState(
            connected=self._link.connected,
            pending=self.outbox.pending_count(),
            last_sync_at=self._last_sync,
            oldest_pending_age_s=age,
            refused=self.outbox.refused_count(),
            connecting=not self._link.connected and not self._link.answered,
            stale_min=max(1, int(age // 60)) if age is not None and age >= self.alert_age_s else 0,
            denied=self.denied,
            identity=self.identity,
        )
        old = self._state
        changed = old is None or _shown(state) != _shown(old)
        self._state = state
        if changed and self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:
                log.exception("sync state callback failed")

    # -- link callbacks (publisher thread) -------------------------------------------------
    def _status(self, state: str) -> bytes:
        doc = {"state": state, "station_id": self.station_id, "version": __version__}
        return json.dumps(doc).encode()

    def _connected(self, session_present: bool) -> None:
        wanted = [(self.topics["ack"], 1)]
        if self._on_trust is not None:
            wanted.append((self.trust_topic, 1))
        if self._parts_filter is not None:  # again: its retained parts are sent again
            wanted.append((self._parts_filter, 1))
        self._link.subscribe(wanted)
        self._link.publish(self.topics["status"], self._status("online"), retain=True)
        self._next_heartbeat = 0.0
        if not session_present and self._inflight:
            log.info("broker lost our session: resending %d records", len(self._inflight))
            self._inflight.clear()
        self._maybe_more = True

    def _want_parts(self, version: int | None) -> None:
        """Subscribe to the parts of bundle ``version`` only (None: to none)."""
        wanted = None if version is None else f"{self.trust_topic}/{version}/+"
        if wanted == self._parts_filter:
            return
        if self._parts_filter is not None:
            self._link.unsubscribe([self._parts_filter])
        if wanted is not None:
            self._link.subscribe([(wanted, 1)])
        self._parts_filter = wanted

    def _message(self, topic: str, payload: bytes) -> None:
        if self._on_trust is not None and (
            topic == self.trust_topic or topic.startswith(self.trust_topic + "/")
        ):
            try:
                wanted = self._on_trust(topic[len(self.trust_topic) + 1 :], payload)
                self._want_parts(wanted)
            except Exception:  # a bundle must never stop the records
                log.exception("trust bundle handler failed")
            return
        if topic != self.topics["ack"]:
            return
        if self.ward_key is None:
            self._ignore("mqtt.ward_key is not set, so no ack can be verified")
            return
        try:
            ack = open_ack(payload, self.station_id, self.ward_key)
        except EnvelopeError as exc:
            self._ignore(str(exc))
            return
        strays = 0
        for record_id in ack.ack:
            if self._inflight.pop(record_id, None) is None:
                strays += 1  # not sent by us, or already acked / expired: nothing to do
            else:
                self._acked.append(record_id)
        for record_id, reason in ack.refused:
            if self._inflight.pop(record_id, None) is None:
                strays += 1
            else:
                self._refusals.append((record_id, clean_reason(reason)))
        if strays:
            self.acks_ignored += strays
            log.debug("ack named %d records not in flight: ignored", strays)

    def _published(self, topic: str, refusal: str | None) -> None:
        """The broker's answer to a QoS 1 publish (MQTT 5 PUBACK reason code)."""
        if topic != self.topics["records"] or (refusal or "") == self.denied:
            return
        self.denied = refusal or ""
        if refusal is None:
            log.info("the broker accepts this station's records again")
            return
        clash = self.identity and self.identity != self.station_id
        log.warning(
            "the broker refused records on %s (%s)%s",
            topic,
            refusal,
            f": station.id is {self.station_id!r} but the broker knows this station as "
            f"{self.identity!r} (its certificate)"
            if clash
            else "",
        )

    def _ignore(self, why: str) -> None:
        self.acks_ignored += 1
        if self.acks_ignored == 1 or self.acks_ignored % 100 == 0:
            log.warning("ignoring an ack message (%d so far): %s", self.acks_ignored, why)


def _shown(state: SyncState) -> tuple[object, ...]:
    """What of a sync state the idle screen shows (a change is reported at once)."""
    return (
        state.connected, state.connecting, state.pending, state.last_sync_at, state.refused,
        state.stale_min, state.denied,
    )  # fmt: skip


def ward_key_of(cfg: Config) -> Ed25519PublicKey | None:
    """The pinned ward key (``mqtt.ward_key``), None when not set; SyncError when unusable."""
    text = cfg.mqtt.ward_key.strip()
    if not text:
        return None
    try:
        return parse_public_key(text)
    except SyncError as exc:
        raise SyncError(f"mqtt.ward_key: {exc}") from None


__all__ = ["Publisher", "SyncState", "topics", "ward_key_of"]
