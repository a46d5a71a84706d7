"""Frame -> QR events: decode, de-duplicate, parse. What the station's camera loop calls.

``QrReader.process(frame, now)`` returns one ``QrResult`` per NEW card presentation in the
frame (see ``station.qr.decoder.QrTracker``), usually none; the caller turns each into a
record with ``station.record.qr_record`` and feeds it to the flow. ``now`` is monotonic
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
from station.qr.models import QrResult, QrStatus
from station.qr.payload import decode_text, looks_like_cccd, parse_payload, split_fields

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
        payloads, self.unreadable = self.decoder.decode_with_errors(frame)
        self.visible = bool(payloads)
        events = self.tracker.update(payloads, now)
        results: tuple[QrResult, ...] = ()
        if events:
            today = self._today()
            results = tuple(parse_payload(p, today=today) for p in events)
            for payload, result in zip(events, results, strict=True):
                log.info("QR event %s: %s", Pseudonym(payload), result.status)
                if not _failed(result):  # the parse decided the shape: not done twice
                    self._remember(payload, result.status is not QrStatus.UNRECOGNISED)
        self.cccd_visible = any(self._cccd_shaped(p) for p in payloads)
        return results

    def _cccd_shaped(self, payload: bytes) -> bool:
        shaped = self._shapes.get(payload)
        if shaped is None:
            shaped = looks_like_cccd(split_fields(decode_text(payload)))
            self._remember(payload, shaped)
        return shaped

    def _remember(self, payload: bytes, shaped: bool) -> None:
        if len(self._shapes) > 64:
            self._shapes.clear()
        self._shapes[payload] = shaped


def _failed(result: QrResult) -> bool:
    """The parser itself failed (a bug caught by ``parse_payload``): the shape is unknown."""
    return any(e.code == "parser_failure" for e in result.errors)
