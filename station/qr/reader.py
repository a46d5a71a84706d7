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
import re
from collections.abc import Callable
from datetime import date

from station.fingerprint import Pseudonym
from station.qr.decoder import Frame, QrDecoder, QrTracker
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
            shaped = _cccd_bytes(payload)
            if shaped is None:
                shaped = looks_like_cccd(split_fields(decode_text(payload)))
            if len(self._shapes) > 64:
                self._shapes.clear()
            self._shapes[payload] = shaped
        return shaped


# The 2021 shape read off the bytes where they decide it. ``|`` and ASCII digits are one
# byte each in UTF-8 and ISO-8859-1 alike (no byte of a multi-byte UTF-8 sequence is
# ASCII), a decoding error never swallows one, and NFC neither makes nor removes a ``|``.
# Yes: an optional UTF-8 BOM, the ID's 12 ASCII digits between ASCII whitespace (what
# ``bytes.strip`` trims, a subset of what ``str.strip`` trims), ``FIELD_COUNT`` fields.
_SPACE = rb"[ \t\n\r\x0b\x0c]*"
_CCCD_SHAPE = re.compile(
    rb"(?:\xef\xbb\xbf)?"
    + _SPACE
    + rb"[0-9]{12}"
    + _SPACE
    + rb"(?:\|[^|]*){%d}" % (FIELD_COUNT - 1)
)


def _cccd_bytes(payload: bytes) -> bool | None:
    """``looks_like_cccd`` of the decoded text, read off the bytes where they decide it:
    True for the shape above; False for another number of fields (a 2024 card's QR, a
    URL); None where the text decides (Unicode spaces, a BOM in another place...). The
    camera thread runs it on each new payload, cold: a regex call and a count."""
    if _CCCD_SHAPE.fullmatch(payload) is not None:
        return True
    if payload.count(b"|") != FIELD_COUNT - 1:
        return False
    return None
