"""The MRZ worker's hand-over from the camera thread."""

from __future__ import annotations

import threading

import numpy as np

from station import flow
from station.runtime.vision import MrzWorker
from tests.support import wait_for


def test_a_full_resolution_capture_is_not_replaced_before_it_is_analysed() -> None:
    """The camera offers the full-resolution capture, then its next low-resolution frames
    before the worker's turn: the worker analyses the capture (else a too-small MRZ would
    be read only when the worker happened to be free at that moment)."""
    posted: list[flow.Event] = []
    worker = MrzWorker(posted.append, lambda: 0.0, fps=4.0, absent_s=1.0)
    seen: list[tuple[int, int]] = []
    done = threading.Event()
    worker._analyse = lambda reader, offer: (seen.append(offer.frame.shape), done.set())  # type: ignore[method-assign]
    full, low = np.zeros((960, 1280), np.uint8), np.zeros((480, 640), np.uint8)
    worker.offer(full, full=True)
    worker.offer(low)
    worker.offer(low)
    worker.start()
    try:
        wait_for(done.is_set, 30, what="an analysis")
    finally:
        worker.stop()
    assert seen[0] == (960, 1280)
