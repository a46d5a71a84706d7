"""The MRZ worker: its hand-over from the camera thread, its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from station import flow
from station.mrz.reader import MrzReader
from station.runtime import vision
from station.runtime.mrzproc import BOOT as MrzBoot
from station.runtime.vision import MrzProcess, MrzProcessError, MrzWorker
from station.sim import backs
from station.sim.citizens import generate_many, mrz_lines
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]


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


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a container's init may not reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _back(size: tuple[int, int] = (640, 480), char_h: float = 16.0) -> np.ndarray:
    (citizen,) = generate_many(77, 1, today=date(2024, 6, 30))
    return backs.back_frame(mrz_lines(citizen), size, char_h, seed=5)


def test_the_process_reads_what_the_reader_reads_at_both_resolutions() -> None:
    """The hand-over is exact: the process's reading of a frame is the in-process reader's,
    also after a larger frame made the shared memory grow and a smaller one followed."""
    small, large = _back(), _back((1280, 960), 24.0)
    reader = MrzReader()
    expected = [reader.read(f) for f in (small, large, small)]
    assert expected[0].usable and expected[1].usable
    process = MrzProcess()
    try:
        got = [process.read(f) for f in (small, large, small)]
    finally:
        process.stop()
    assert got == expected


def test_the_process_runs_below_the_station_s_priority() -> None:
    """Background work: the camera thread gets the CPU first where both want it."""
    from station.runtime.mrzproc import NICE

    process = MrzProcess()
    try:
        process.await_ready()
        assert process.pid is not None
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, process.pid) == min(19, ours + NICE)
    finally:
        process.stop()


def test_stop_ends_the_process() -> None:
    worker = MrzWorker(lambda e: None, time.monotonic, fps=4.0, absent_s=1.0)
    worker.start()
    worker.offer(_back())
    wait_for(lambda: worker.analysed == 1, 60, what="the first analysis")
    pid = worker.process.pid
    assert pid is not None and _alive(pid)
    worker.stop()
    assert not _alive(pid) and worker.process.pid is None


def test_a_process_that_dies_is_replaced_and_the_mrz_still_read() -> None:
    posted: list[flow.Event] = []
    worker = MrzWorker(posted.append, time.monotonic, fps=10.0, absent_s=1.0)
    worker.start()
    try:
        assert worker.wait_ready(60)
        frame = _back()
        worker.offer(frame)
        wait_for(lambda: worker.analysed == 1, 60, what="the first analysis")
        first = worker.process.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: not _alive(first), 10, what="the kill")
        # Offered again and again, as the camera does: the next ones go to a new process.
        wait_for(lambda: bool(worker.offer(frame)) or len(posted) == 1, 60, what="an MRZ event")
        assert worker.restarts == 1 and worker.process.pid not in (None, first)
        (event,) = posted
        assert isinstance(event, flow.MrzSeen)
    finally:
        worker.stop()


def test_a_process_that_stops_answering_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vision, "ANSWER_S", 1.0)
    process = MrzProcess()
    try:
        process.read(_back())  # started and ready
        pid = process.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # hung
        with pytest.raises(MrzProcessError, match="no answer"):
            process.read(_back())
        assert not _alive(pid) and process.pid is None
    finally:
        process.stop()


def test_the_process_ends_when_the_station_is_killed(tmp_path: Path) -> None:
    """No orphan: the station killed with SIGKILL (no clean-up at all) closes the request
    pipe, and the process ends on it."""
    script = tmp_path / "station_like.py"
    script.write_text(
        "import os, signal, sys, numpy as np\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from station.runtime.vision import MrzProcess\n"
        "p = MrzProcess()\n"
        "p.read(np.zeros((48, 64), np.uint8))\n"
        "print(p.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    pid = int(done.stdout)
    wait_for(lambda: not _alive(pid), 30, what="the orphaned MRZ process to end")


FAILING_BOOT = "import sys; sys.exit(3)"  # a process that exits at once, before "ready"


def test_a_process_that_keeps_dying_is_reported_and_its_recovery_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process exits at once every time: after DOWN_AFTER deaths in a row the flow is
    told once (MrzState not ok), the worker keeps restarting it; once a process serves
    again (here: the real one), the flow is told it is back, once."""
    monkeypatch.setattr(vision, "BOOT", FAILING_BOOT)
    monkeypatch.setattr(vision, "RESTART_S", 0.05)
    monkeypatch.setattr(vision, "RESTART_MAX_S", 0.2)
    posted: list[flow.Event] = []
    worker = MrzWorker(posted.append, time.monotonic, fps=10.0, absent_s=1.0)
    frame = np.zeros((48, 64), np.uint8)
    worker.start()
    try:
        # the flag is set just before the event is posted (from the worker's thread): wait
        # for the event itself
        wait_for(lambda: bool(worker.offer(frame)) or bool(posted), 30, what="the MRZ down")
        assert worker.failures >= vision.DOWN_AFTER and worker.analysed == 0
        (down,) = posted
        assert isinstance(down, flow.MrzState) and not down.ok
        # It keeps restarting, and tells the flow only once.
        restarts = worker.restarts
        wait_for(lambda: bool(worker.offer(frame)) or worker.restarts > restarts + 2, 30)
        assert posted == [down]
        monkeypatch.setattr(vision, "BOOT", MrzBoot)  # the real process from the next start

        def recovered() -> bool:  # the event is posted just before `analysed` counts
            return len(posted) > 1 and worker.analysed >= 1

        wait_for(lambda: bool(worker.offer(frame)) or recovered(), 60, what="the recovery")
        assert worker.analysed >= 1 and worker.failures == 0
        assert [type(e) for e in posted] == [flow.MrzState, flow.MrzState]
        assert isinstance(posted[1], flow.MrzState) and posted[1].ok
    finally:
        worker.stop()


def test_one_death_is_not_reported() -> None:
    """A process that dies once and is replaced: the flow hears nothing of it."""
    posted: list[flow.Event] = []
    worker = MrzWorker(posted.append, time.monotonic, fps=10.0, absent_s=1.0)
    frame = np.zeros((48, 64), np.uint8)
    worker.start()
    try:
        assert worker.wait_ready(60)
        first = worker.process.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: bool(worker.offer(frame)) or worker.analysed >= 1, 60)
        assert worker.restarts == 1 and not worker.down and worker.failures == 0
        assert posted == []
    finally:
        worker.stop()
