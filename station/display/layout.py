"""Drawing operations for one frame, and the page flow engine used by result pages.

``render`` first builds a ``Layout`` (a tuple of operations with absolute pixel
positions), then draws it. Tests measure every text operation's ink box against the
panel, so nothing can fall off the 128x64 screen unnoticed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

from station.display.fonts import Font, font
from station.display.screens import Face
from station.display.text import fit, width, words, wrap

W, H = 128, 64
MARGIN = 2
# Ink of DejaVu Sans over every Vietnamese letter reaches 2 px above the ascender
# line (stacked marks on capitals) and ascent+descent-1 below it.
TOP_INK = 2


def pitch(size: int) -> int:
    """Line pitch in pixels for a font size: ascent + descent."""
    ascent, descent = font(size).getmetrics()
    return int(ascent + descent)


def bottom_ink(size: int, bold: bool = False) -> int:
    """Lowest ink row (exclusive) below a line's top, over all Vietnamese letters."""
    ascent, descent = font(size, bold).getmetrics()
    return int(ascent + descent)


@dataclass(frozen=True)
class TextOp:
    x: int
    y: int  # top of the ascender line ("la" anchor)
    text: str
    size: int
    bold: bool = False
    fill: int = 1

    @property
    def font(self) -> Font:
        return font(self.size, self.bold)


@dataclass(frozen=True)
class BoxOp:
    box: tuple[int, int, int, int]  # inclusive corners
    fill: int | None = 1
    outline: int | None = None


@dataclass(frozen=True)
class LineOp:
    points: tuple[tuple[int, int], ...]
    width: int = 1
    fill: int = 1


@dataclass(frozen=True)
class EllipseOp:
    box: tuple[int, int, int, int]
    fill: int = 1


@dataclass(frozen=True)
class PolygonOp:
    points: tuple[tuple[int, int], ...]
    fill: int = 1


@dataclass(frozen=True)
class BitmapOp:
    x: int
    y: int
    face: Face


@dataclass(frozen=True)
class MatrixOp:
    """A QR code: ``rows`` of modules (1 = dark), ``scale`` px each, drawn dark on a lit
    square that includes ``quiet`` px of quiet zone (an OLED lights its pixels: the code
    must be dark on light to scan)."""

    x: int  # top left of the lit square
    y: int
    rows: tuple[bytes, ...]
    scale: int
    quiet: int

    @property
    def size(self) -> int:
        return len(self.rows) * self.scale + 2 * self.quiet


Op = TextOp | BoxOp | LineOp | EllipseOp | PolygonOp | BitmapOp | MatrixOp


@dataclass(frozen=True)
class Layout:
    ops: tuple[Op, ...]
    truncated: bool = False  # some text was cut and marked with an ellipsis


def dither(face: Face) -> Image.Image:
    """Floyd–Steinberg dithering of a grayscale thumbnail to 1 bit."""
    gray = Image.frombytes("L", (face.width, face.height), face.pixels)
    return gray.convert("1", dither=Image.Dither.FLOYDSTEINBERG)


def draw(layout: Layout) -> Image.Image:
    """Paint a layout on a fresh black 128x64 1-bit image."""
    image = Image.new("1", (W, H), 0)
    pen = ImageDraw.Draw(image)
    for op in layout.ops:
        if isinstance(op, TextOp):
            for dx, word in words(op.font, op.text):  # widened word spacing
                pen.text((op.x + dx, op.y), word, font=op.font, fill=op.fill, anchor="la")
        elif isinstance(op, BoxOp):
            pen.rectangle(op.box, fill=op.fill, outline=op.outline)
        elif isinstance(op, LineOp):
            pen.line(list(op.points), fill=op.fill, width=op.width, joint="curve")
        elif isinstance(op, EllipseOp):
            pen.ellipse(op.box, fill=op.fill)
        elif isinstance(op, PolygonOp):
            pen.polygon(list(op.points), fill=op.fill)
        elif isinstance(op, MatrixOp):
            _matrix(pen, op)
        else:
            image.paste(dither(op.face), (op.x, op.y))
    return image


def _matrix(pen: ImageDraw.ImageDraw, op: MatrixOp) -> None:
    pen.rectangle((op.x, op.y, op.x + op.size - 1, op.y + op.size - 1), fill=1)
    for r, row in enumerate(op.rows):
        for c, dark in enumerate(row):
            if dark:
                x, y = op.x + op.quiet + c * op.scale, op.y + op.quiet + r * op.scale
                pen.rectangle((x, y, x + op.scale - 1, y + op.scale - 1), fill=0)


def text_box(op: TextOp) -> tuple[int, int, int, int]:
    """The ink box of a text operation (exclusive right/bottom), as Pillow draws it."""
    probe = ImageDraw.Draw(Image.new("1", (1, 1)))
    boxes = [
        probe.textbbox((op.x + dx, op.y), word, font=op.font, anchor="la")
        for dx, word in words(op.font, op.text)
    ] or [probe.textbbox((op.x, op.y), op.text, font=op.font, anchor="la")]
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
    return int(left), int(top), int(right), int(bottom)


@dataclass(frozen=True)
class Block:
    """A run of text in the page flow: wrapped, never cut (it continues on the next page)."""

    text: str
    size: int = 10
    bold: bool = False
    keep_with_next: bool = False  # a label: never the last line of a page


@dataclass
class _Pager:
    indicator_width: int
    pages: list[list[Op]] = field(default_factory=lambda: [[]])
    y: int = TOP_INK

    def room_for(self, size: int, bold: bool, lines: int) -> bool:
        return self.y + (lines - 1) * pitch(size) + bottom_ink(size, bold) <= H

    def new_page(self) -> None:
        self.pages.append([])
        self.y = TOP_INK

    def limit(self) -> int:
        first = not self.pages[-1] or self.y == TOP_INK
        return W - 2 * MARGIN - (self.indicator_width if first else 0)


def flow(blocks: Sequence[Block], indicator_width: int) -> list[list[Op]]:
    """Lay blocks top to bottom; continue on new pages when the panel is full."""
    pager = _Pager(indicator_width)
    for block in blocks:
        need = 2 if block.keep_with_next else 1
        if not pager.room_for(block.size, block.bold, need) and pager.pages[-1]:
            pager.new_page()
        f = font(block.size, block.bold)
        remaining = wrap(f, block.text, W - 2 * MARGIN, pager.limit())
        while remaining:
            if not pager.room_for(block.size, block.bold, 1):
                pager.new_page()
                remaining = wrap(f, " ".join(remaining), W - 2 * MARGIN, pager.limit())
            line = remaining.pop(0)
            pager.pages[-1].append(TextOp(MARGIN, pager.y, line, block.size, block.bold))
            pager.y += pitch(block.size)
    return [page for page in pager.pages if page]


def fitted_lines(
    text: str, size: int, x: int, y: int, limit: int, max_lines: int, bold: bool = False
) -> tuple[list[Op], bool]:
    """Text wrapped into at most ``max_lines`` at (x, y); True when it had to be cut."""
    fitted = fit(font(size, bold), text, limit, max_lines)
    ops: list[Op] = [
        TextOp(x, y + i * pitch(size), line, size, bold) for i, line in enumerate(fitted.lines)
    ]
    return ops, fitted.truncated


def right_aligned(text: str, size: int, y: int, bold: bool = False, fill: int = 1) -> TextOp:
    return TextOp(W - MARGIN - width(font(size, bold), text), y, text, size, bold, fill)


__all__ = [
    "MARGIN",
    "TOP_INK",
    "BitmapOp",
    "Block",
    "BoxOp",
    "EllipseOp",
    "H",
    "Layout",
    "LineOp",
    "Op",
    "PolygonOp",
    "TextOp",
    "W",
    "dither",
    "draw",
    "fitted_lines",
    "flow",
    "pitch",
    "right_aligned",
    "text_box",
]
