"""The display refresh worker: latest screen wins, unchanged frames skipped, rate limited,
never blocked by a stuck bus, alive after a failing write."""

from __future__ import annotations

import threading

from PIL import Image

from station.display.render import render
from station.display.screens import IdleScreen, ReadingScreen
from station.runtime.refresh import RefreshWorker


class RecordingDisplay:
    """A display that records frames and can be made slow or failing."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_next = False
        self.closed = False

    def show(self, image: Image.Image) -> None:
        self.gate.wait(5)
        if self.fail_next:
            self.fail_next = False
            raise OSError("bus error")
        self.frames.append(image.tobytes())

    def close(self) -> None:
        self.closed = True


def test_worker_writes_latest_and_skips_unchanged() -> None:
    display = RecordingDisplay()
    worker = RefreshWorker(display, max_fps=60)
    display.gate.clear()  # the bus is stuck: submissions pile up
    worker.submit(IdleScreen(pending=1))
    for i in range(20):
        worker.submit(ReadingScreen(i / 100, 1000))
    display.gate.set()
    assert worker.wait_idle(5)
    last = render(ReadingScreen(19 / 100, 1000)).tobytes()
    assert display.frames[-1] == last
    assert len(display.frames) <= 3  # the first, maybe one in flight, the latest
    writes = worker.writes
    worker.submit(ReadingScreen(19 / 100, 1000))  # same pixels: no bus write
    assert worker.wait_idle(5)
    assert worker.writes == writes
    worker.close()
    assert display.closed


def test_submit_never_blocks_on_a_stuck_bus() -> None:
    display = RecordingDisplay()
    display.gate.clear()
    worker = RefreshWorker(display, max_fps=60)
    done = threading.Event()

    def burst() -> None:
        for i in range(100):
            worker.submit(ReadingScreen(i / 100, 1000))
        done.set()

    threading.Thread(target=burst).start()
    assert done.wait(2)  # returned while show() is blocked
    assert not worker.wait_idle(0.05)
    display.gate.set()
    assert worker.wait_idle(5)
    worker.close()


def test_worker_rate_limit_counts_writes() -> None:
    display = RecordingDisplay()
    now = [0.0]

    def clock() -> float:
        return now[0]

    worker = RefreshWorker(display, max_fps=2, clock=clock)
    worker.submit(ReadingScreen(1 / 100, 1000))
    assert worker.wait_idle(5)
    worker.submit(ReadingScreen(2 / 100, 1000))  # within 0.5 s of the first: must wait
    assert not worker.wait_idle(0.1)
    assert len(display.frames) == 1
    now[0] = 10.0  # the clock moves on: the write may happen
    worker.submit(ReadingScreen(3 / 100, 1000))
    assert worker.wait_idle(5)
    assert display.frames[-1] == render(ReadingScreen(3 / 100, 1000)).tobytes()
    assert len(display.frames) == 2
    worker.close()


def test_worker_survives_a_failing_write() -> None:
    display = RecordingDisplay()
    display.fail_next = True
    worker = RefreshWorker(display, max_fps=60)
    worker.submit(IdleScreen())
    assert worker.wait_idle(5)
    assert worker.failures == 1 and display.frames == []
    worker.submit(IdleScreen(pending=2))
    assert worker.wait_idle(5)
    assert len(display.frames) == 1
    worker.close()
