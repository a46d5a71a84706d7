"""DejaVu Sans, found on the system, loaded once per size.

The OLED needs a font with every Vietnamese letter; Pillow's built-in bitmap font
has none. DejaVu Sans (Debian ``fonts-dejavu-core``) has them all. The folder can
be forced with the ``STATION_FONT_DIR`` environment variable.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from PIL import ImageFont

REGULAR = "DejaVuSans.ttf"
BOLD = "DejaVuSans-Bold.ttf"
SEARCH_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    "/usr/share/fonts/truetype",
    "/usr/share/fonts",
)
# A code point DejaVu Sans has no glyph for (Supplementary Private Use Area-A):
# drawing it gives the font's .notdef box.
NOTDEF_PROBE = "\U000f0000"

Font = ImageFont.FreeTypeFont


class FontError(RuntimeError):
    """The Vietnamese-capable font cannot be found or lacks a glyph."""


def _candidates(name: str) -> list[Path]:
    dirs: list[str] = []
    forced = os.environ.get("STATION_FONT_DIR")
    if forced:
        dirs.append(forced)
    dirs.extend(SEARCH_DIRS)
    return [Path(d) / name for d in dirs]


@functools.lru_cache(maxsize=4)
def font_path(bold: bool = False) -> Path:
    """Where DejaVu Sans (or its bold face) lives; FontError names the places looked at."""
    name = BOLD if bold else REGULAR
    candidates = _candidates(name)
    for path in candidates:
        if path.is_file():
            return path
    for root in ("/usr/share/fonts", "/usr/local/share/fonts"):
        if Path(root).is_dir():
            found = sorted(Path(root).rglob(name))
            if found:
                return found[0]
    looked = ", ".join(str(p.parent) for p in candidates)
    raise FontError(
        f"font {name} not found (looked in {looked}); "
        "install the Debian package fonts-dejavu-core or set STATION_FONT_DIR"
    )


@functools.lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> Font:
    """DejaVu Sans at ``size`` pixels (cached)."""
    return ImageFont.truetype(str(font_path(bold)), size)


def _mask_signature(f: Font, text: str) -> tuple[tuple[int, int], bytes]:
    mask = f.getmask(text, mode="1")
    return mask.size, bytes(mask)


def missing_glyphs(f: Font, text: str) -> list[str]:
    """Characters of ``text`` that ``f`` draws as its .notdef box (or not at all)."""
    notdef = _mask_signature(f, NOTDEF_PROBE)
    missing: list[str] = []
    for ch in dict.fromkeys(text):
        if ch.isspace():
            continue
        sig = _mask_signature(f, ch)
        if sig == notdef or sig[0][0] == 0 or not any(sig[1]):
            missing.append(ch)
    return missing


__all__ = ["BOLD", "REGULAR", "Font", "FontError", "font", "font_path", "missing_glyphs"]
