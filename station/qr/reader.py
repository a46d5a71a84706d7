"""Frame -> QR events: decode, de-duplicate, parse. What the station's camera loop calls.

``QrReader.process(frame, now)`` returns one ``QrResult`` per NEW card presentation in the
frame (see ``station.qr.decoder.QrTracker``), usually none; the caller turns each into a
record with ``station.record.qr_record`` and feeds it to the flow. ``now`` is monotonic
seconds supplied by the caller (fake clock in tests). ``visible`` tells whether a QR code
was in the last frame (the flow's "card left the camera's view").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from station.fingerprint import Pseudonym
from station.qr.decoder import Frame, QrDecoder, QrTracker
from station.qr.models import QrResult
from station.qr.payload import parse_payload

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
        self.unreadable = False  # a QR code in the last frame could not be decoded

    def process(self, frame: Frame, now: float) -> tuple[QrResult, ...]:
        """Results for the QR codes first seen in ``frame`` (empty tuple most of the time)."""
        payloads, self.unreadable = self.decoder.decode_with_errors(frame)
        self.visible = bool(payloads)
        events = self.tracker.update(payloads, now)
        if not events:
            return ()
        today = self._today()
        results = tuple(parse_payload(p, today=today) for p in events)
        for payload, result in zip(events, results, strict=True):
            log.info("QR event %s: %s", Pseudonym(payload), result.status)
        return results
