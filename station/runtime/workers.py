"""The station's device threads: camera -> QR (and MRZ) events, and the chip reader.

Each worker owns its device and runs in its own thread; results enter the event loop
only through ``post`` (a thread-safe call supplied by ``station.runtime.app``). Nothing here
decides what happens next: that is ``station.flow``'s job.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from station import flow
from station.ports import Camera, CameraError, Frame
from station.qr.models import QrResult

if TYPE_CHECKING:
    from station.config import CameraSection, Config
    from station.icao.reader import ChipReader, ReadProgress
    from station.icao.result import ChipRead
    from station.mrz.td1 import ParsedMrz
    from station.ports import CardTransport
    from station.runtime.wiring import ReaderOpener
    from station.verify.trust import TrustStore

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class QrSighted(NamedTuple):
    """A QR payload first seen by the camera, parsed where the event is handled (the app's
    loop, ``event()``), not on the camera thread: the parse (text, fields, dates, the ID's
    structure) costs the camera more than the rest of its per-frame work, run cold after
    every frame's decode (``bench/qr.py``), and zxing-cpp lets go of the GIL while it
    decodes the next frame. A named tuple: made on the camera thread, it is the cheapest
    record to make there."""

    now: float
    payload: bytes
    parse: Callable[[bytes], QrResult]

    def event(self) -> flow.QrSeen:
        return flow.QrSeen(self.now, self.parse(self.payload))


Posted = flow.Event | QrSighted
Post = Callable[[Posted], None]


class CameraWorker:
    """Captures frames, decodes QR codes, posts QrSighted / QrVisible / CameraState; offers
    the frames without a 2021 QR to the MRZ worker (``station.runtime.vision``), if enabled,
    with the payloads of this presentation (the MRZ worker attaches the newest one that is
    not a readable 2021 CCCD's to its event)."""

    OTHERS = 4  # payloads of one presentation kept for the MRZ worker

    RETRY_S = 2.0
    UNREADABLE_FRAMES = 3  # consecutive frames with an undecodable QR before telling the flow

    def __init__(self, camera: Camera, post: Post, clock: Clock, section: CameraSection) -> None:
        from station.qr.decoder import QrTracker
        from station.qr.reader import QrReader
        from station.runtime.vision import MrzWorker

        self._camera = camera
        self._post = post
        self._clock = clock
        tracker = QrTracker(absent_frames=section.qr_absent_frames, absent_s=section.qr_absent_s)
        self._qr = QrReader(tracker=tracker)
        self.mrz: MrzWorker | None = None
        if section.mrz:
            self.mrz = MrzWorker(
                post,
                clock,
                fps=section.mrz_fps,
                absent_s=section.qr_absent_s,
                parse=self._parse_other,
            )
        self._seen: tuple[bytes, ...] = ()  # this presentation's QR payloads, still in view
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="camera", daemon=True)
        self.frames = 0

    def start(self) -> None:
        if self.mrz is not None:
            self.mrz.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._camera.close()
        self._thread.join(timeout=5)
        if self.mrz is not None:
            self.mrz.stop()

    def _open(self) -> bool:
        try:
            self._camera.start()
            return True
        except CameraError as exc:
            log.error("camera failed to start: %s", exc)
            return False

    def _run(self) -> None:
        ok = self._open()
        if not ok:
            self._post(flow.CameraState(self._clock(), False))
        visible = False
        unreadable = 0
        while not self._stop.is_set():
            if not ok:
                if self._stop.wait(self.RETRY_S):
                    break
                self._camera.close()
                ok = self._open()
                if ok:
                    self._post(flow.CameraState(self._clock(), True))
                continue
            try:
                frame = self._camera.capture_gray()
            except CameraError as exc:
                if self._stop.is_set():
                    break
                log.error("camera stopped delivering frames: %s", exc)
                self._post(flow.CameraState(self._clock(), False))
                ok = False
                continue
            self.frames += 1
            visible, unreadable = self._frame(frame, visible, unreadable)

    def _frame(self, frame: Frame, visible: bool, unreadable: int) -> tuple[bool, int]:
        """One frame: QR events, then the frame for the MRZ path when no 2021 QR is in it."""
        now = self._clock()
        payloads = self._qr.sight(frame, now)
        if self._qr.visible != visible:
            visible = self._qr.visible
            self._post(flow.QrVisible(now, visible))
        for payload in payloads:
            self._post(QrSighted(now, payload, self._qr.parse))
        if payloads:
            self._seen = (*self._seen, *payloads)[-self.OTHERS :]
        elif self._seen and not len(self._qr.tracker):
            self._seen = ()  # gone from view
        unreadable = unreadable + 1 if self._qr.unreadable else 0
        if unreadable == self.UNREADABLE_FRAMES:  # once per damaged presentation
            log.warning("a QR code is in view but cannot be decoded (%d frames)", unreadable)
            self._post(flow.QrUnreadable(now))
        if self.mrz is not None and not self._qr.cccd_visible:
            self._offer_mrz(frame)
        return visible, unreadable

    def _offer_mrz(self, frame: Frame) -> None:
        assert self.mrz is not None
        if self.mrz.want_full:
            self.mrz.want_full = False
            try:
                frame, full = self._camera.capture_full_gray(), True
            except CameraError as exc:
                log.warning("full-resolution capture failed: %s", exc)
                full = False
            self.mrz.offer(frame, self._seen, full=full)
            return
        self.mrz.offer(frame, self._seen)

    def _parse_other(self, payloads: tuple[bytes, ...]) -> QrResult | None:
        """For the MRZ worker's event: the newest of ``payloads`` that does not give a 2021
        CCCD's identity (a 2024 card's QR, another kind, a damaged or invalid one)."""
        for payload in reversed(payloads):
            result = self._qr.parse(payload, event=False)
            if result.identity is None:
                return result
        return None


class _Cancelled(Exception):
    pass


@dataclass(frozen=True)
class _ReadJob:
    job: int
    qr: QrResult
    mrz: ParsedMrz | None = None


class ChipWorker:
    """Owns the card reader: watches the field, reads chips and verifies them.

    PC/SC handles are not shared between threads, so presence polling, reading and
    Active/Chip Authentication all run here, one at a time. A read job reads the chip
    (``ChipDone``) and verifies it at once over the read's open session (``Verified``),
    while the card is still in the field. An unplugged reader is reopened every
    ``RETRY_S`` seconds (``ReaderState`` events tell the flow).
    """

    RETRY_S = 2.0
    POLL_S = 0.05  # how long a field watch blocks: the latency of a new chip job
    CARD_WAIT_S = 2.0

    def __init__(
        self,
        open_reader: ReaderOpener,
        post: Post,
        clock: Clock,
        cfg: Config,
    ) -> None:
        self._open_reader = open_reader
        self._post = post
        self._clock = clock
        self._cfg = cfg
        self._jobs: queue.SimpleQueue[_ReadJob | None] = queue.SimpleQueue()
        self._cancelled = -1
        self._transport: CardTransport | None = None
        self._reader: ChipReader | None = None  # one per transport: it learns the card's limits
        self._present = False
        from station.runtime.trust import TrustCache

        self._trust = TrustCache(cfg)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chip", daemon=True)

    # -- called from the event loop -------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def read(self, job: int, qr: QrResult, mrz: ParsedMrz | None = None) -> None:
        self._jobs.put(_ReadJob(job, qr, mrz))

    def cancel(self, job: int) -> None:
        self._cancelled = max(self._cancelled, job)

    def stop(self) -> None:
        self._stop.set()
        self._jobs.put(None)
        self._thread.join(timeout=5)
        if self._transport is not None:
            self._transport.close()

    # -- the worker thread ----------------------------------------------------------
    def _run(self) -> None:
        connected: bool | None = None
        while not self._stop.is_set():
            if self._transport is None:
                self._transport = self._connect()
                now_connected = self._transport is not None
                if now_connected != connected:
                    connected = now_connected
                    self._post(flow.ReaderState(self._clock(), connected))
                if not connected:
                    self._stop.wait(self.RETRY_S)
                    continue
            try:
                job = self._jobs.get(timeout=0.0) if not self._jobs.empty() else None
            except queue.Empty:
                job = None
            if job is None:
                self._watch_field()
            else:
                self._do_read(job)

    def _connect(self) -> CardTransport | None:
        try:
            return self._open_reader()
        except Exception as exc:  # any adapter failure means "no reader"
            log.warning("card reader unavailable: %s", exc)
            return None

    def _reader_lost(self, exc: Exception) -> None:
        log.error("card reader lost: %s", exc)
        if self._transport is not None:
            try:
                self._transport.close()
            except Exception:
                log.debug("closing the lost reader failed", exc_info=True)
        self._transport = None
        self._reader = None
        self._present = False

    def _watch_field(self) -> None:
        from station.ports import TransportError

        assert self._transport is not None
        try:
            if self._present:
                changed = self._transport.wait_for_removal(self.POLL_S)
            else:
                changed = self._transport.wait_for_card(self.POLL_S)
        except TransportError as exc:
            self._reader_lost(exc)
            return
        if changed:
            self._present = not self._present
            if self._reader is not None:
                self._reader.card_changed()  # a new card has no earlier session to reset
            now = self._clock()
            self._post(flow.CardPresent(now) if self._present else flow.CardGone(now))

    def _do_read(self, job: _ReadJob) -> None:
        from station.icao.errors import AccessError, ChipError, LdsError
        from station.ports import CardRemovedError, TransportError

        assert self._transport is not None
        failure: flow.ChipFailure | None = None
        reason = ""
        try:
            if not self._transport.wait_for_card(self.CARD_WAIT_S):
                failure = flow.ChipFailure.NO_CHIP
            else:
                self._present = True
                self._read_and_verify(job)
                return
        except _Cancelled:
            log.info("chip read %d cancelled", job.job)
            return
        except CardRemovedError as exc:
            log.warning("chip read %d: card removed (%s)", job.job, exc)
            self._present = False
            failure = flow.ChipFailure.REMOVED
        except AccessError as exc:
            log.warning("chip read %d: %s", job.job, exc)
            failure = flow.ChipFailure.ACCESS_DENIED
        except TransportError as exc:
            self._reader_lost(exc)
            failure = flow.ChipFailure.READER_GONE
        except (ChipError, ValueError) as exc:
            log.warning("chip read %d failed: %s", job.job, exc)
            failure = flow.ChipFailure.ERROR
            reason = "chip_unparseable" if isinstance(exc, LdsError) else ""
        self._post(flow.ChipFailed(self._clock(), job.job, failure, reason))

    def _read_and_verify(self, job: _ReadJob) -> None:
        """Keys from what the camera read (MRZ first), the read, then the verdict."""
        from station.display.face import face_thumbnail
        from station.display.outcome import person_from_chip
        from station.icao.access import AccessKeys
        from station.icao.errors import AccessError
        from station.icao.reader import ChipReader, wanted_files

        assert self._transport is not None
        keys = AccessKeys.for_card(job.qr, job.mrz, pace_password=self._cfg.reader.pace_password)
        if not keys.bac and keys.can is None:
            raise AccessError("deriving the key", "neither the QR code nor an MRZ gives one")
        if self._reader is None or self._reader.transport is not self._transport:
            cfg = self._cfg.reader
            self._reader = ChipReader(self._transport, order=cfg.access, timeout_s=cfg.timeout_s)
        privacy = self._cfg.privacy
        files = wanted_files(face=privacy.store_face or privacy.show_face)
        chip = self._reader.read(keys, files=files, progress=self._progress(job.job))
        face = None
        if privacy.show_face and chip.face is not None:
            face = face_thumbnail(chip.face.data)
        person = person_from_chip(chip, job.qr.identity)
        self._post(flow.ChipDone(self._clock(), job.job, chip, person, face))
        if self._cancelled < job.job and not self._stop.is_set():
            self._verify(job, chip)

    def _progress(self, job: int) -> Callable[[ReadProgress], None]:
        def report(p: ReadProgress) -> None:
            if self._cancelled >= job or self._stop.is_set():
                raise _Cancelled
            self._post(flow.ChipProgress(self._clock(), job, p.fraction, p.file_read, p.file))

        return report

    def _trust_store(self) -> TrustStore:
        """The trust store (local folder + ward bundle), reloaded when either changed."""
        return self._trust.store()

    def _verify(self, job: _ReadJob, chip: ChipRead) -> None:
        """PA, then AA and CA over the read's session (the card is still here), and the
        agreement with what the camera read (QR, a 2024 QR's clues, the MRZ)."""
        from station.display.outcome import outcome_from_verification
        from station.verify.chip import verify_chip

        qr = job.qr
        try:
            verification = verify_chip(
                chip, qr.identity, self._trust_store(), clues=qr.clues, mrz=job.mrz
            )
        except Exception:  # a verifier bug must not stop the counter: show "not verified"
            log.exception("verification %d crashed", job.job)
            self._post(flow.Verified(self._clock(), job.job, None, None))
            return
        outcome = outcome_from_verification(verification)
        self._post(flow.Verified(self._clock(), job.job, outcome, verification))
