"""The simulated OLED: frames kept in luma.core's ``dummy`` device, saved as PNGs and
echoed to a terminal: as Unicode half-blocks (128 columns) when the terminal is that
wide, else as Braille patterns (2x4 pixels a character: 64 columns x 16 rows, the panel's
proportions kept).

The port is ``station.ports.Display``; the real panel is ``station.drivers.display_luma``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image


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


# Braille dot bits by (x, y) inside a 2x4 cell (Unicode U+2800 block).
_BRAILLE = {(0, 0): 0x01, (0, 1): 0x02, (0, 2): 0x04, (1, 0): 0x08, (1, 1): 0x10,
            (1, 2): 0x20, (0, 3): 0x40, (1, 3): 0x80}  # fmt: skip
HALFBLOCK_COLUMNS = 128


def to_braille(image: Image.Image) -> str:
    """Eight pixels per character (2 wide, 4 tall): 128x64 becomes 64x16 text."""
    mono = image.convert("1")
    w, h = mono.size
    px = mono.load()
    assert px is not None
    lines = []
    for y in range(0, h, 4):
        row = []
        for x in range(0, w, 2):
            bits = sum(
                bit
                for (dx, dy), bit in _BRAILLE.items()
                if x + dx < w and y + dy < h and px[x + dx, y + dy]
            )
            row.append(chr(0x2800 + bits))
        lines.append("".join(row))
    return "\n".join(lines)


def terminal_text(image: Image.Image, columns: int) -> str:
    """The panel as text that fits ``columns`` (half-blocks when 128 fit, else Braille)."""
    return to_halfblocks(image) if columns >= HALFBLOCK_COLUMNS else to_braille(image)


class SimDisplay:
    """A panel that exists only in memory (luma.core ``dummy``), optionally as PNGs/text."""

    def __init__(
        self,
        width: int = 128,
        height: int = 64,
        png_dir: str | Path | None = None,
        echo: Callable[[str], None] | None = None,
        columns: int = HALFBLOCK_COLUMNS,
    ) -> None:
        """``echo`` gets every new frame as text fitting ``columns`` terminal columns."""
        from luma.core.device import dummy

        self._device: Any = dummy(width=width, height=height, mode="1")
        self._png_dir = Path(png_dir) if png_dir else None
        if self._png_dir is not None:
            self._png_dir.mkdir(parents=True, exist_ok=True)
        self._echo = echo
        self._columns = columns
        self._closed = False
        self.frames = 0

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
            self._echo(terminal_text(self._device.image, self._columns))

    def close(self) -> None:
        """Safe to call twice (the refresh worker and the device owner both may)."""
        if not self._closed:
            self._closed = True
            self._device.cleanup()


__all__ = ["SimDisplay", "terminal_text", "to_braille", "to_halfblocks"]
