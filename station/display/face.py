"""Face thumbnail for the OLED: decode DG2's image, grayscale, fit the panel height.

Only used when ``privacy.show_face`` is on. Dithering (Floyd–Steinberg) happens
when the page is drawn; the ``Face`` model keeps the grayscale pixels.
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageOps, UnidentifiedImageError

from station.display.screens import Face

log = logging.getLogger(__name__)


def face_thumbnail(data: bytes, max_width: int = 48, max_height: int = 64) -> Face | None:
    """A grayscale thumbnail from JPEG / JPEG 2000 bytes; None when it cannot be decoded."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            gray = ImageOps.autocontrast(img.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        log.warning("face image not shown: cannot decode (%s)", type(exc).__name__)
        return None
    gray.thumbnail((max_width, max_height), Image.Resampling.LANCZOS)
    return Face(gray.width, gray.height, gray.tobytes())


__all__ = ["face_thumbnail"]
