"""The simulated cameras: a scene that tests and the demo put cards in, and image replay.

The port is ``station.ports.Camera``; the Raspberry Pi adapter lives in ``camera_pi.py``
and is imported only when chosen.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from station.ports import CameraError, Frame


class Scene:
    """What a simulated camera sees: a frame that tests or the demo swap in and out.

    Thread-safe; ``set(frame)`` puts a card in view, ``clear()`` takes it away;
    ``set(frame, full=hires)`` gives the same view at the sensor's full resolution too.
    A ``fail()`` makes the next captures raise CameraError (a camera failure).
    """

    def __init__(self, width: int, height: int, background: int = 40) -> None:
        self._lock = threading.Lock()
        self._empty = np.full((height, width), background, dtype=np.uint8)
        self._frame: Frame = self._empty
        self._full: Frame | None = None
        self._failing = False
        self.size = (width, height)
        self.full_captures = 0

    def set(self, frame: Frame, full: Frame | None = None) -> None:
        with self._lock:
            self._frame, self._full = frame, full

    def clear(self) -> None:
        with self._lock:
            self._frame, self._full = self._empty, None

    def fail(self, failing: bool = True) -> None:
        with self._lock:
            self._failing = failing

    def current(self, *, full: bool = False) -> Frame:
        with self._lock:
            if self._failing:
                raise CameraError("simulated camera failure")
            if full:
                self.full_captures += 1
                return self._full if self._full is not None else self._frame
            return self._frame


class SimCamera:
    """A camera that returns whatever its Scene currently shows, paced at ``fps``."""

    def __init__(self, scene: Scene, fps: float = 10.0) -> None:
        self.scene = scene
        self._period = 1.0 / fps
        self._stop = threading.Event()
        self._started = False

    def start(self) -> None:
        self._started = True
        self._stop.clear()

    def capture_gray(self) -> Frame:
        if not self._started:
            raise CameraError("camera not started")
        # Pace like a real sensor; wait() returns early when closed.
        if self._stop.wait(self._period):
            raise CameraError("camera closed")
        return self.scene.current()

    def capture_full_gray(self) -> Frame:
        if not self._started:
            raise CameraError("camera not started")
        return self.scene.current(full=True)

    def close(self) -> None:
        self._started = False
        self._stop.set()


class ReplayCamera:
    """Replays image files (PNG/JPEG) as grayscale frames, in order, looping, paced at
    ``fps`` like a real sensor (a replay must not keep a core busy decoding)."""

    def __init__(self, paths: Sequence[Path], fps: float = 10.0) -> None:
        if not paths:
            raise CameraError("no images to replay")
        self._paths = list(paths)
        self._frames: list[Frame] = []
        self._index = 0
        self._period = 1.0 / fps
        self._stop = threading.Event()

    @classmethod
    def from_dir(cls, folder: Path, fps: float = 10.0) -> ReplayCamera:
        try:
            names = sorted(folder.iterdir())
        except OSError as exc:
            raise CameraError(f"camera.sim_images {folder}: {exc.strerror}") from exc
        paths = [p for p in names if p.suffix.lower() in {".png", ".jpg", ".jpeg"}]
        return cls(paths, fps)

    def start(self) -> None:
        from PIL import Image

        frames = []
        for path in self._paths:
            try:
                with Image.open(path) as img:
                    frames.append(np.asarray(img.convert("L"), dtype=np.uint8))
            except OSError as exc:
                raise CameraError(f"cannot read frame {path.name}: {exc}") from exc
        self._frames = frames
        self._stop.clear()

    def capture_gray(self) -> Frame:
        if not self._frames:
            raise CameraError("camera not started")
        if self._stop.wait(self._period):
            raise CameraError("camera closed")
        frame = self._frames[self._index % len(self._frames)]
        self._index += 1
        return frame

    def capture_full_gray(self) -> Frame:
        return self.capture_gray()  # image files have one resolution

    def close(self) -> None:
        self._frames = []
        self._stop.set()
