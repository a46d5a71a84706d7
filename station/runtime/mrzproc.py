"""The MRZ worker process: reads the MRZ of the frames the station hands over.

Started by ``station.runtime.vision`` (never by hand) as ``python -I -c BOOT REQ REP MEM
ROOT``: ``REQ`` is the read end of the request pipe, ``REP`` the write end of the reply
pipe (both ``multiprocessing.connection.Connection`` framing), ``MEM`` a memfd holding the
frame to analyse, ``ROOT`` the folder the station package is imported from. It is a
process of its own so that the MRZ's Python work does not share the camera thread's GIL.

Protocol: one ``("ready", pid)`` reply once the glyph model is loaded; then for each request
``(seq, (height, width))`` (the frame is at the start of the memfd, written by the station
before the request and left alone until the reply) one reply ``(seq, MrzReading, None)``,
or ``(seq, None, traceback text)`` when the reader raised. ``None`` or the end of the
request pipe (the station stopped or died) ends the process, so it never outlives the
station: every way out of the station closes its end.
"""

from __future__ import annotations

import mmap
import os
import signal
import sys
import traceback
from multiprocessing.connection import Connection

import numpy as np

from station.mrz.reader import MrzReader, MrzReading


def serve(requests: Connection, replies: Connection, memfd: int) -> None:
    """Answer requests until the station closes the request pipe or sends ``None``."""
    reader = MrzReader()
    replies.send(("ready", os.getpid()))
    mapped: mmap.mmap | None = None
    try:
        while True:
            try:
                request = requests.recv()
            except (EOFError, OSError):
                return
            if request is None:
                return
            seq, (height, width) = request
            size = os.fstat(memfd).st_size
            if mapped is None or len(mapped) != size:
                if mapped is not None:
                    mapped.close()
                mapped = mmap.mmap(memfd, size, prot=mmap.PROT_READ)
            frame = np.frombuffer(mapped, np.uint8, height * width).reshape(height, width)
            reply: tuple[int, MrzReading | None, str | None]
            try:
                reply = (seq, reader.read(frame), None)
            except Exception:  # reported to the station, which logs it; go on
                reply = (seq, None, traceback.format_exc())
            del frame  # no view of the mapping may outlive a remap
            try:
                replies.send(reply)
            except OSError:  # the station is gone
                return
    finally:
        if mapped is not None:
            mapped.close()


# Niceness added at start: the MRZ is background work; the camera thread, the chip reader
# and the display (the station's process) get the CPU first where both want it (a 2-core
# machine, or the Pi busy), while an idle core still runs the MRZ at full speed.
NICE = 10


def main() -> None:
    os.nice(NICE)
    # Ctrl-C in a terminal reaches the whole process group: the station decides when this
    # process ends (it closes the request pipe), not the keyboard.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests_fd, replies_fd, memfd = (int(arg) for arg in sys.argv[1:4])
    requests = Connection(requests_fd, writable=False)
    replies = Connection(replies_fd, readable=False)
    serve(requests, replies, memfd)


# What the station runs with ``python -I -c``: the station's own code, whatever the cwd.
BOOT = (
    "import sys; sys.path.insert(0, sys.argv[4]); from station.runtime.mrzproc import main; main()"
)
