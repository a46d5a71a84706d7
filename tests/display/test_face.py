"""Face thumbnails from DG2 images (JPEG and JPEG 2000), dithered on the page."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from station.display.face import face_thumbnail
from station.display.layout import dither

from .catalogue import synthetic_face


@pytest.mark.parametrize("fmt", ["JPEG", "JPEG2000"])
def test_thumbnail_fits_the_panel(fmt: str) -> None:
    with Image.open(io.BytesIO(synthetic_face())) as img:
        out = io.BytesIO()
        img.save(out, format=fmt)
    face = face_thumbnail(out.getvalue())
    assert face is not None
    assert face.width <= 48 and face.height <= 64 and len(face.pixels) == face.width * face.height
    assert face.height == 64  # portrait: the height is the limit
    bits = dither(face)
    assert bits.mode == "1" and 0 < bits.convert("L").histogram()[255] < face.width * face.height


def test_undecodable_face_is_skipped() -> None:
    assert face_thumbnail(b"\xff\xd8 not a jpeg") is None
