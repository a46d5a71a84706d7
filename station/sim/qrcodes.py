"""QR codes for the synthetic cards: segno, error level M, the payload as bytes (UTF-8 for
text, like a real 2021 card)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
import segno
from PIL import Image

QUIET_MODULES = 4


@lru_cache(maxsize=256)
def _qr_rows(data: bytes) -> tuple[bytes, ...]:
    """Memoised segno encoding (pure; mask selection is the slow part)."""
    code = segno.make(data, error="m", boost_error=False, micro=False)
    return tuple(bytes(row) for row in code.matrix)


def qr_matrix(payload: str | bytes) -> npt.NDArray[np.bool_]:
    """The QR modules (True = dark) for ``payload``, error level M, UTF-8 byte mode."""
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    return np.array([list(row) for row in _qr_rows(data)], dtype=bool)


def qr_image(payload: str | bytes, module_px: int, *, quiet: int = QUIET_MODULES) -> Image.Image:
    """A clean black-on-white QR image with a quiet zone of ``quiet`` modules."""
    modules = np.pad(qr_matrix(payload), quiet, constant_values=False)
    pixels = np.where(modules, 20, 245).astype(np.uint8)
    pixels = np.repeat(np.repeat(pixels, module_px, axis=0), module_px, axis=1)
    return Image.fromarray(pixels, mode="L")
