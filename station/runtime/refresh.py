"""The display refresh worker: owns the panel from its own thread.

The flow hands it screen models and never waits for the bus; the worker renders them
(``station.display.render``) and writes the newest to the ``station.ports.Display``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from PIL import Image

from station.display.render import render
from station.display.screens import Screen
from station.ports import Display

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class RefreshWorker:
    """Writes the newest screen to a display from its own thread (latest wins).

    ``submit`` never blocks on the bus. The worker renders models, skips frames that
    equal the last one written and writes at most ``max_fps`` frames a second.
    """

    def __init__(
        self, display: Display, max_fps: float = 15.0, clock: Clock = time.monotonic
    ) -> None:
        self._display = display
        self._interval = 1.0 / max_fps
        self._clock = clock
        self._cond = threading.Condition()
        self._pending: Screen | Image.Image | None = None
        self._submitted = 0
        self._done = 0
        self._stop = False
        self._last: bytes | None = None
        self.writes = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="display", daemon=True)
        self._thread.start()

    def submit(self, screen: Screen | Image.Image) -> None:
        """Queue a screen model or image; an older one not yet written is dropped."""
        with self._cond:
            self._pending = screen
            self._submitted += 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything submitted so far has been handled (for tests and exit)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._done >= self._submitted, timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Write what is pending, stop the thread, close the display."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)
        try:
            self._display.close()
        except Exception:
            log.exception("display close failed")

    def _take(self) -> tuple[Screen | Image.Image | None, int]:
        with self._cond:
            self._cond.wait_for(lambda: self._pending is not None or self._stop)
            item, self._pending = self._pending, None
            return item, self._submitted

    def _run(self) -> None:
        next_write = self._clock()
        while True:
            item, seen = self._take()
            if item is None:
                return
            with self._cond:  # rate limit: newer submits replace the item meanwhile
                while (delay := next_write - self._clock()) > 0 and not self._stop:
                    self._cond.wait(delay)
                    if self._pending is not None:
                        item, self._pending = self._pending, None
                        seen = self._submitted
            if self._write(item):
                next_write = self._clock() + self._interval
            with self._cond:
                self._done = max(self._done, seen)
                self._cond.notify_all()

    def _write(self, item: Screen | Image.Image) -> bool:
        try:
            image = item if isinstance(item, Image.Image) else render(item)
            data = image.tobytes()
            if data == self._last:
                return False
            self._display.show(image)
            self._last = data
            self.writes += 1
            return True
        except Exception:
            self.failures += 1
            log.exception("display refresh failed")
            return False


__all__ = ["RefreshWorker"]
