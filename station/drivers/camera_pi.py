"""Raspberry Pi camera via picamera2 (imported here only, when this adapter is chosen).

Frames come from the low-resolution YUV420 stream: its first ``height`` rows are
the Y (luminance) plane, a ready grayscale image, so no colour conversion is done.
``capture_full_gray`` takes one frame of the main stream (YUV420 too, twice the low-res
size at least): for an MRZ whose characters are too small in the low-res frame.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from station.ports import CameraError, Frame

log = logging.getLogger(__name__)


class PiCamera:
    def __init__(self, width: int, height: int, fps: float) -> None:
        self._size = (width, height)
        self._fps = fps
        self._cam: Any = None
        self._main = (0, 0)

    def start(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:  # off the Pi, or python3-picamera2 not installed
            raise CameraError(
                "picamera2 is not available (install python3-picamera2; "
                "the venv must use --system-site-packages)"
            ) from exc
        try:
            cam = Picamera2()
            # The main stream must be at least as large as lores.
            main_size = (max(self._size[0], 1280), max(self._size[1], 960))
            config = cam.create_video_configuration(
                main={"size": main_size, "format": "YUV420"},
                lores={"size": self._size, "format": "YUV420"},
                controls={"FrameRate": self._fps},
            )
            cam.configure(config)
            cam.start()
        except Exception as exc:  # libcamera raises plain RuntimeError/IndexError
            raise CameraError(f"camera failed to start: {exc}") from exc
        self._cam = cam
        self._main = main_size
        log.info("camera started: lores %dx%d at %.1f fps", *self._size, self._fps)

    def capture_gray(self) -> Frame:
        return self._capture("lores", self._size)

    def capture_full_gray(self) -> Frame:
        return self._capture("main", self._main)

    def _capture(self, stream: str, size: tuple[int, int]) -> Frame:
        """The Y plane (grayscale) of the next frame of picamera2's ``stream``."""
        if self._cam is None:
            raise CameraError("camera not started")
        try:
            yuv = self._cam.capture_array(stream)
        except Exception as exc:
            raise CameraError(f"camera stopped delivering frames: {exc}") from exc
        width, height = size
        return np.ascontiguousarray(yuv[:height, :width], dtype=np.uint8)

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            try:
                cam.stop()
                cam.close()
            except Exception:  # closing a failed camera must not crash shutdown
                log.warning("camera did not close cleanly", exc_info=True)
