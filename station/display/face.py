"""Face thumbnail for the OLED: decode DG2's image, grayscale, fit the panel height.

Only used when ``privacy.show_face`` is on. Dithering (Floyd–Steinberg) happens
when the page is drawn; the ``Face`` model keeps the grayscale pixels. Decoding is
``station.icao.lds.open_face`` (JPEG / JPEG 2000 only, size checked from the header, decoded
at thumbnail scale); whatever goes wrong in it is "no face", never an error of the read.
"""

from __future__ import annotations

import logging

from PIL import Image, ImageOps

from station.display.screens import Face
from station.icao.lds import open_face

log = logging.getLogger(__name__)


def face_thumbnail(data: bytes, max_width: int = 48, max_height: int = 64) -> Face | None:
    """A grayscale thumbnail from JPEG / JPEG 2000 bytes; None when it cannot be decoded."""
    try:
        with open_face(data, (max_width, max_height)) as img:
            gray = ImageOps.autocontrast(img.convert("L"))
        gray.thumbnail((max_width, max_height), Image.Resampling.LANCZOS)
    except Exception as exc:  # any decoder failure (bombs included) means: no face shown
        log.warning("face image not shown: cannot decode (%s)", type(exc).__name__)
        return None
    return Face(gray.width, gray.height, gray.tobytes())


__all__ = ["face_thumbnail"]
