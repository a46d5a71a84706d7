"""The camera's second path: the MRZ, read in its own thread so the QR path keeps its speed.

The camera worker decodes every frame for QR codes; a frame that holds no 2021 CCCD QR
(a 2024 card's back, a card's back, nothing decodable) is offered to ``MrzWorker`` (latest
wins, no queue). The worker analyses at most ``camera.mrz_fps`` frames a second with
``station.mrz.reader.MrzReader`` and turns readings into ``MrzSeen`` events with
``MrzTracker`` (the same checked lines in two consecutive analyses; one event per card).
A QR of another kind decoded while the MRZ was being read goes with the event.

When the MRZ is found but its characters are smaller than the reader needs (``too_small``),
the worker asks for one full-resolution capture (``want_full``): the camera worker takes it
with ``Camera.capture_full_gray`` (picamera2's main stream) and offers it next; it is not
replaced by later low-resolution frames before it is analysed. A too-small
reading is not fed to the tracker, so full-resolution readings confirm each other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from station import flow
from station.fingerprint import fingerprint
from station.mrz.reader import MrzReader, MrzTracker
from station.ports import Frame
from station.qr.models import QrResult

log = logging.getLogger(__name__)

Post = Callable[[flow.Event], None]
Clock = Callable[[], float]
FULL_EVERY_S = 1.0  # at most one full-resolution capture a second


@dataclass(frozen=True)
class _Offer:
    frame: Frame
    other_qr: QrResult | None
    full: bool


class MrzWorker:
    """Analyses the newest offered frame at most ``fps`` times a second (see the module doc)."""

    def __init__(self, post: Post, clock: Clock, *, fps: float, absent_s: float) -> None:
        self._post = post
        self._clock = clock
        self._period = 1.0 / fps
        self._tracker = MrzTracker(confirm=2, absent_frames=3, absent_s=absent_s)
        self._cond = threading.Condition()
        self._offer: _Offer | None = None
        self._stop = False
        self._full_at = -1e9
        self.want_full = False
        self.analysed = 0
        self._thread = threading.Thread(target=self._run, name="mrz", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def offer(self, frame: Frame, other_qr: QrResult | None = None, *, full: bool = False) -> None:
        """Called from the camera thread: the newest frame replaces one not yet analysed,
        except a full-resolution capture, which waits to be analysed (the next low-resolution
        frame comes a camera frame later, mostly before the worker's next turn)."""
        with self._cond:
            if self._offer is not None and self._offer.full and not full:
                return
            self._offer = _Offer(frame, other_qr, full)
            self._cond.notify()

    def _next(self) -> _Offer | None:
        with self._cond:
            while self._offer is None and not self._stop:
                self._cond.wait()
            offer, self._offer = self._offer, None
            return None if self._stop else offer

    def _run(self) -> None:
        reader = MrzReader()  # the glyph model loads here, off the camera thread
        while True:
            offer = self._next()
            if offer is None:
                return
            started = time.monotonic()
            try:
                self._analyse(reader, offer)
            except Exception:  # a reader bug must not stop the counter: log, go on
                log.exception("MRZ analysis failed")
            self.analysed += 1
            pause = self._period - (time.monotonic() - started)  # the bounded rate
            with self._cond:
                if pause > 0 and not self._stop:
                    self._cond.wait_for(lambda: self._stop, pause)

    def _analyse(self, reader: MrzReader, offer: _Offer) -> None:
        reading = reader.read(offer.frame)
        now = self._clock()
        if reading.too_small and not offer.full:
            if now - self._full_at >= FULL_EVERY_S:
                self._full_at = now
                self.want_full = True
            return
        event = self._tracker.update(reading, now)
        if event is not None:
            log.info("MRZ event %s (%s)", fingerprint("".join(event.lines[:2])), event.layout)
            self._post(flow.MrzSeen(now, event, offer.other_qr))
