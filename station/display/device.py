"""The display port, the simulated panel, the terminal view and the refresh worker.

``Display`` is what the station draws on: ``show(image)`` (a 128x64 mode "1"
image) and ``close()``. ``station.drivers.display_luma.LumaDisplay`` drives a real
SSD1306/SH1106; ``SimDisplay`` keeps frames in luma.core's ``dummy`` device and can
save PNGs and echo frames as Unicode half-blocks. ``RefreshWorker`` owns the bus
from its own thread: the flow hands it screens and never waits for the panel.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from station.config import DisplaySection
from station.display.render import render
from station.display.screens import Screen

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class Display(Protocol):
    def show(self, image: Image.Image) -> None: ...

    def close(self) -> None: ...


def to_halfblocks(image: Image.Image) -> str:
    """Two pixel rows per character (▀ ▄ █ and space): 128x64 becomes 128x32 text."""
    mono = image.convert("1")
    w, h = mono.size
    px = mono.load()
    assert px is not None
    glyphs = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}
    lines = []
    for y in range(0, h, 2):
        row = []
        for x in range(w):
            top = bool(px[x, y])
            bottom = bool(px[x, y + 1]) if y + 1 < h else False
            row.append(glyphs[(top, bottom)])
        lines.append("".join(row))
    return "\n".join(lines)


class SimDisplay:
    """A panel that exists only in memory (luma.core ``dummy``), optionally as PNGs/text."""

    def __init__(
        self,
        width: int = 128,
        height: int = 64,
        png_dir: str | Path | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        from luma.core.device import dummy

        self._device: Any = dummy(width=width, height=height, mode="1")
        self._png_dir = Path(png_dir) if png_dir else None
        if self._png_dir is not None:
            self._png_dir.mkdir(parents=True, exist_ok=True)
        self._echo = echo
        self._closed = False
        self.frames = 0

    @classmethod
    def from_section(
        cls, section: DisplaySection, echo: Callable[[str], None] | None = None
    ) -> SimDisplay:
        """The sim panel for ``[display]``: PNGs to ``png_dir``; ``echo`` (e.g. ``print``)
        receives half-block frames when ``terminal`` is on."""
        return cls(png_dir=section.png_dir or None, echo=echo if section.terminal else None)

    @property
    def image(self) -> Image.Image | None:
        """The last frame shown (a copy), or None before the first."""
        img = self._device.image
        return None if img is None else img.copy()

    def show(self, image: Image.Image) -> None:
        self._device.display(image.convert("1"))
        self.frames += 1
        if self._png_dir is not None:
            self._device.image.save(self._png_dir / f"screen-{self.frames:05d}.png")
        if self._echo is not None:
            self._echo(to_halfblocks(self._device.image))

    def close(self) -> None:
        """Safe to call twice (the refresh worker and the device owner both may)."""
        if not self._closed:
            self._closed = True
            self._device.cleanup()


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


__all__ = ["Display", "RefreshWorker", "SimDisplay", "to_halfblocks"]
