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

The analysis itself runs in a process of its own (``station.runtime.mrzproc``, started with
the worker, ``MrzProcess`` here): in a thread, its Python work shared the GIL with the
camera thread and slowed every frame's QR decode (``bench/qr.py``). The worker's thread only
hands the frame over (copied into a memfd, a small request on a pipe), waits for the
reading without holding the GIL, and keeps the tracker and the events as before. The
process is started as ``python -I -c`` (not ``multiprocessing``): nothing of the station's
main module is imported again in it, no helper process (resource tracker, fork server)
comes with it, and a memfd has no name in /dev/shm to leak; it needs only what the systemd
unit's sandbox allows (fork/exec, pipes, memfd_create: ``@system-service``). Every way out
of the station closes the request pipe, and the process ends on that: it never outlives
the station. When it dies or stops answering (``ANSWER_S``), the error is logged, the frame
is dropped and a new process is started, after a pause that doubles with each death in a
row (``RESTART_S`` up to ``RESTART_MAX_S``). After ``DOWN_AFTER`` deaths in a row (it does
not start, or dies on every frame) the worker tells the flow (``MrzState(ok=False)``): the
idle screen says the card's back cannot be read, the red LED is lit, and no QR waits for
an MRZ any more; 2021 cards are read from their QR as before. The first analysis a new
process answers tells the flow it serves again (``MrzState(ok=True)``).
"""

from __future__ import annotations

import logging
import mmap
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NamedTuple, NoReturn, Protocol

import numpy as np

import station
from station import flow
from station.fingerprint import fingerprint
from station.mrz.reader import MrzReading, MrzTracker
from station.ports import Frame
from station.qr.models import QrResult
from station.runtime.mrzproc import BOOT

log = logging.getLogger(__name__)

Post = Callable[[flow.Event], None]
Clock = Callable[[], float]
FULL_EVERY_S = 1.0  # at most one full-resolution capture a second
START_S = 60.0  # the process's start (interpreter, numpy, glyph model): seconds on a Pi
ANSWER_S = 20.0  # one analysis (a full-resolution frame on a Pi takes well under 1 s)
RESTART_S = 1.0  # pause before restarting a process that died, doubled each time in a row
RESTART_MAX_S = 60.0
STABLE_S = 60.0  # a process that lived this long resets the pause
DOWN_AFTER = 3  # deaths in a row (no analysis answered between them): the flow is told


class MrzProcessError(RuntimeError):
    """The MRZ process died, did not start or stopped answering (it has been stopped)."""


class Reader(Protocol):
    def read(self, frame: Frame) -> MrzReading: ...


class MrzProcess:
    """The MRZ worker process and its hand-over: ``read(frame)`` as ``MrzReader.read``, in
    another process. Used by one thread (the worker's); ``terminate`` from any thread."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._requests: Connection | None = None
        self._replies: Connection | None = None
        self._memfd = -1
        self._map: mmap.mmap | None = None
        self._ready = False
        self._seq = 0
        self.started_at = 0.0
        self.ready = threading.Event()  # the current process has loaded its model

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> None:
        """Start the process (it loads its model meanwhile); no-op when running. Raises
        ``MrzProcessError`` when it cannot be started."""
        if self._proc is not None:
            return
        self.started_at = time.monotonic()
        try:
            self._spawn()
        except OSError as exc:
            raise MrzProcessError(f"MRZ process, start: {exc}") from exc

    def _spawn(self) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        memfd = os.memfd_create("station-mrz-frame", os.MFD_CLOEXEC)
        flags = ["-I"] + (["-B"] if sys.flags.dont_write_bytecode else [])
        root = str(Path(station.__file__).resolve().parent.parent)
        args = [str(req_r), str(rep_w), str(memfd), root]
        try:
            self._proc = subprocess.Popen(
                [sys.executable, *flags, "-c", BOOT, *args],
                pass_fds=(req_r, rep_w, memfd),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        except OSError:
            for fd in (req_r, req_w, rep_r, rep_w, memfd):
                os.close(fd)
            raise
        finally:
            # Only the child holds these ends: its death is an EOF here, ours one there.
            if self._proc is not None:
                os.close(req_r)
                os.close(rep_w)
        self._requests = Connection(req_w, readable=False)
        self._replies = Connection(rep_r, writable=False)
        self._memfd = memfd
        self._ready = False
        log.info("MRZ process %d started", self._proc.pid)

    def read(self, frame: Frame) -> MrzReading:
        """The reading of ``frame`` by the process (started if needed); raises
        ``MrzProcessError`` (the process stopped) when it dies or does not answer."""
        self.await_ready()
        try:
            self._hand_over(frame)
        except OSError as exc:  # no memory for the memfd
            self._fail("hand-over", str(exc))
        self._seq += 1
        assert self._requests is not None
        try:
            self._requests.send((self._seq, frame.shape))
        except OSError as exc:
            self._fail("hand-over", type(exc).__name__)
        seq, reading, error = self._answer(ANSWER_S, "analysis")
        if seq != self._seq:
            self._fail("analysis", "an answer out of turn")
        if error is not None:
            raise RuntimeError(f"in the MRZ process:\n{error}")
        assert isinstance(reading, MrzReading)
        return reading

    def await_ready(self) -> None:
        """Start the process if needed and wait until it has loaded its model (without
        the GIL); raises ``MrzProcessError`` when it does not come up."""
        self.start()
        if not self._ready:
            ready = self._answer(START_S, "start")
            if ready[0] != "ready":
                self._fail("start", "an unexpected first answer")
            self._ready = True
            self.ready.set()

    def _hand_over(self, frame: Frame) -> None:
        """Copy ``frame`` to the start of the memfd (grown to fit: a full-resolution capture)."""
        size = int(frame.size)
        if self._map is None or len(self._map) < size:
            if self._map is not None:
                self._map.close()
            os.ftruncate(self._memfd, size)
            self._map = mmap.mmap(self._memfd, size)
        view = np.frombuffer(self._map, np.uint8, size).reshape(frame.shape)
        np.copyto(view, frame)
        del view

    def _answer(self, timeout: float, what: str) -> tuple[object, ...]:
        assert self._replies is not None
        try:
            if not self._replies.poll(timeout):  # waits without the GIL
                self._fail(what, f"no answer in {timeout:g} s")
            answer = self._replies.recv()
        except (EOFError, OSError) as exc:
            self._fail(what, f"the process ended ({type(exc).__name__})")
        if not isinstance(answer, tuple) or len(answer) < 2:
            self._fail(what, "a malformed answer")
        return answer

    def _fail(self, what: str, why: str) -> NoReturn:
        code = self.stop()
        raise MrzProcessError(f"MRZ process, {what}: {why}; exit status {code}")

    def terminate(self) -> None:
        """Ask the process to end now (SIGTERM); the owning thread then sees it gone."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()

    def stop(self) -> int | None:
        """End the process (closing the request pipe ends it; killed if it does not end in
        2 s), release the pipes and the memfd; the exit status (None if none was running)."""
        proc, self._proc = self._proc, None
        self.ready.clear()
        for conn in (self._requests, self._replies):
            if conn is not None:
                conn.close()
        self._requests = self._replies = None
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._memfd >= 0:
            os.close(self._memfd)
            self._memfd = -1
        if proc is None:
            return None
        try:
            return proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


class _Offer(NamedTuple):  # made on the camera thread: the cheapest record to make
    frame: Frame
    qr: tuple[bytes, ...]  # the QR payloads of the presentation in view
    full: bool


class MrzWorker:
    """Analyses the newest offered frame at most ``fps`` times a second (see the module doc)."""

    def __init__(
        self,
        post: Post,
        clock: Clock,
        *,
        fps: float,
        absent_s: float,
        parse: Callable[[tuple[bytes, ...]], QrResult | None] = lambda payloads: None,
    ) -> None:
        """``parse``: the QR code of another kind among the offered payloads (None for
        none), for the event (``CameraWorker._parse_other``); called only when an MRZ event
        is posted."""
        self._post = post
        self._parse = parse
        self._clock = clock
        self._period = 1.0 / fps
        self._tracker = MrzTracker(confirm=2, absent_frames=3, absent_s=absent_s)
        # The camera thread's offer takes the plain lock (C code: no Python frames of the
        # condition's own on its path); the worker waits on the condition over it.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._offer: _Offer | None = None
        self._stop = False
        self._idle = False  # waiting for an offer (the camera thread's notify wakes it)
        self._full_at = -1e9
        self.want_full = False
        self.analysed = 0
        self.restarts = 0  # processes started again after one died
        self.failures = 0  # deaths in a row, without an analysis answered since
        self.down = False  # the flow was told the MRZ cannot be read (MrzState)
        self.process = MrzProcess()
        self._thread = threading.Thread(target=self._run, name="mrz", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=0.5)  # idle: the thread ends the process itself
        if self._thread.is_alive():  # waiting for an analysis: end it now
            self.process.terminate()
            self._thread.join(timeout=5)

    def wait_ready(self, timeout: float) -> bool:
        """Whether the process has loaded its model within ``timeout`` seconds."""
        return self.process.ready.wait(timeout)

    def offer(self, frame: Frame, qr: tuple[bytes, ...] = (), *, full: bool = False) -> None:
        """Called from the camera thread: the newest frame replaces one not yet analysed,
        except a full-resolution capture, which waits to be analysed (the next low-resolution
        frame comes a camera frame later, mostly before the worker's next turn)."""
        with self._lock:
            if self._offer is not None and self._offer.full and not full:
                return
            self._offer = _Offer(frame, qr, full)
            if self._idle:  # not while it pauses for the rate: that would wake it for nothing
                self._cond.notify()

    def _next(self) -> _Offer | None:
        with self._cond:
            while self._offer is None and not self._stop:
                self._idle = True
                self._cond.wait()
                self._idle = False
            offer, self._offer = self._offer, None
            return None if self._stop else offer

    def _pause(self, seconds: float) -> None:
        with self._cond:
            if seconds > 0 and not self._stop:
                self._cond.wait_for(lambda: self._stop, seconds)

    def _run(self) -> None:
        process = self.process
        restart = RESTART_S  # the pause before the next restart
        try:
            process.await_ready()  # the glyph model loads there, off the camera thread
        except MrzProcessError as exc:
            if not self._stop:
                log.error("%s", exc)  # the first offer tries again
                self._failed()
        try:
            while True:
                offer = self._next()
                if offer is None:
                    return
                started = time.monotonic()
                try:
                    self._analyse(process, offer)
                except MrzProcessError as exc:
                    if self._stop:
                        return
                    if started - process.started_at >= STABLE_S:
                        restart = RESTART_S
                    log.error("%s; a new MRZ process in %g s", exc, restart)
                    self._failed()
                    self._pause(restart)
                    restart = min(2 * restart, RESTART_MAX_S)
                    self.restarts += 1
                    continue
                except Exception:  # a reader bug must not stop the counter: log, go on
                    log.exception("MRZ analysis failed")
                self._served()
                self.analysed += 1
                self._pause(self._period - (time.monotonic() - started))  # the bounded rate
        finally:
            process.stop()

    def _failed(self) -> None:
        """One more death in a row; the flow is told once they are ``DOWN_AFTER``."""
        self.failures += 1
        if self.failures >= DOWN_AFTER and not self.down:
            self.down = True
            log.error(
                "the MRZ process died %d times in a row: MRZ reading unavailable "
                "(QR reads go on); still restarting it",
                self.failures,
            )
            self._post(flow.MrzState(self._clock(), False))

    def _served(self) -> None:
        """A process answered an analysis (a reading, or the reader's error)."""
        self.failures = 0
        if self.down:
            self.down = False
            log.info("the MRZ process serves again")
            self._post(flow.MrzState(self._clock(), True))

    def _analyse(self, reader: Reader, offer: _Offer) -> None:
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
            self._post(flow.MrzSeen(now, event, self._parse(offer.qr)))
