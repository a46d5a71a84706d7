"""Frame -> QR events: decode, de-duplicate, parse. What the station's camera loop calls.

``QrReader.process(frame, now)`` returns one ``QrResult`` per NEW card presentation in the
frame (see ``station.qr.decoder.QrTracker``), usually none; the caller turns each into a
record with ``station.record.qr_record`` and feeds it to the flow. It is ``sight`` (decode
and de-duplicate: the new payloads) then ``parse`` of each: the station's camera thread
only sights, and the payload is parsed where its event is handled. ``now`` is monotonic
seconds supplied by the caller (fake clock in tests). ``visible`` tells whether a QR code
was in the last frame (the flow's "card left the camera's view"); ``cccd_visible`` whether
one of them has the 2021 CCCD's shape (then the MRZ path has nothing to add).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from station.fingerprint import Pseudonym
from station.qr.decoder import Frame, QrDecoder, QrTracker
from station.qr.idnumber import is_id_number
from station.qr.models import QrResult
from station.qr.payload import (
    FIELD_COUNT,
    decode_text,
    looks_like_cccd,
    parse_payload,
    split_fields,
)

log = logging.getLogger(__name__)


class QrReader:
    """Decoder + tracker + parser for one camera; not thread-safe (one camera thread)."""

    def __init__(
        self,
        decoder: QrDecoder | None = None,
        tracker: QrTracker | None = None,
        *,
        today: Callable[[], date] = date.today,
    ) -> None:
        # `is None`, not `or`: an empty tracker is falsy (it has __len__)
        self.decoder = decoder if decoder is not None else QrDecoder()
        self.tracker = tracker if tracker is not None else QrTracker()
        self._today = today
        self.visible = False
        self.cccd_visible = False  # a 2021 CCCD's QR was in the last frame
        self.unreadable = False  # a QR code in the last frame could not be decoded
        self._shapes: dict[bytes, bool] = {}  # payload -> has the 2021 shape (a few cards)

    def process(self, frame: Frame, now: float) -> tuple[QrResult, ...]:
        """Results for the QR codes first seen in ``frame`` (empty tuple most of the time)."""
        return tuple(self.parse(p) for p in self.sight(frame, now))

    def sight(self, frame: Frame, now: float) -> tuple[bytes, ...]:
        """The payloads first seen in ``frame``, not parsed: the camera thread's share of
        ``process`` (the station parses them where the event is handled, see
        ``station.runtime.workers.QrSighted``). Sets ``visible``, ``unreadable`` and
        ``cccd_visible`` for this frame."""
        payloads, self.unreadable = self.decoder.decode_with_errors(frame)
        self.visible = bool(payloads)
        self.cccd_visible = any(self._cccd_shaped(p) for p in payloads)
        return self.tracker.update(payloads, now)

    def parse(self, payload: bytes, *, event: bool = True) -> QrResult:
        """The payload parsed and checked (``parse_payload``, never raises); ``event``: it is
        a new sighting, logged by its keyed fingerprint. Safe from any thread."""
        result = parse_payload(payload, today=self._today())
        if event:
            log.info("QR event %s: %s", Pseudonym(payload), result.status)
        return result

    def _cccd_shaped(self, payload: bytes) -> bool:
        shaped = self._shapes.get(payload)
        if shaped is None:
            shaped = _cccd_bytes(payload) or looks_like_cccd(split_fields(decode_text(payload)))
            if len(self._shapes) > 64:
                self._shapes.clear()
            self._shapes[payload] = shaped
        return shaped


_BOM = "\ufeff".encode()


def _cccd_bytes(payload: bytes) -> bool:
    """The 2021 shape read off the bytes (``|`` and ASCII digits are single bytes in UTF-8
    and ISO-8859-1 alike): True only where ``looks_like_cccd`` of the decoded text is True
    too (``bytes.strip`` trims ASCII whitespace, a subset of what ``str.strip`` trims); a
    False is decided by the text."""
    fields = payload.removeprefix(_BOM).split(b"|")
    return len(fields) == FIELD_COUNT and is_id_number(fields[0].strip().decode("latin-1"))
