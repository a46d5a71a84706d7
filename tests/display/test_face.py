"""Face thumbnails from DG2 images (JPEG and JPEG 2000), dithered on the page."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from station.display.face import face_thumbnail
from station.display.layout import dither
from station.icao import lds
from station.sim.emulator.face import sized_jpeg

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


def _encoded(fmt: str) -> bytes:
    with Image.open(io.BytesIO(synthetic_face())) as img:
        out = io.BytesIO()
        img.save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "BMP", "TIFF", "WEBP"])
def test_only_jpeg_and_jpeg2000_are_opened(fmt: str) -> None:
    assert face_thumbnail(_encoded(fmt)) is None  # a fine image, of a format DG2 never holds


def test_oversized_images_are_refused_from_their_header() -> None:
    assert face_thumbnail(sized_jpeg(9000, 9000)) is None  # over MAX_FACE_PIXELS
    assert face_thumbnail(sized_jpeg(20000, 20000)) is None  # Pillow's own bomb error
    with pytest.raises(Exception, match=r"pixels|bomb"):
        lds.open_face(sized_jpeg(20000, 20000))


def test_a_9000_pixel_png_costs_no_memory(tmp_path: Path) -> None:
    # Its own interpreter, so the peak resident size is this decode's alone: decoded,
    # the 80 KB PNG would need ~81 MB as grayscale and ~490 MB on the way to a thumbnail.
    # (VmHWM: the peak of this process's own memory; ru_maxrss would count the forking
    # parent's, which Linux carries over exec)
    script = (
        "import re\n"
        "from station.sim.emulator.face import bomb_png\n"
        "from station.display.face import face_thumbnail\n"
        "data = bomb_png()\n"
        "assert face_thumbnail(data) is None\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)) // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert int(done.stdout.split()[-1]) < 120, done.stdout  # MB; a bare interpreter: ~45


@pytest.mark.parametrize("fmt", ["JPEG", "JPEG2000"])
def test_large_faces_are_decoded_at_thumbnail_scale(fmt: str) -> None:
    big = Image.new("L", (2400, 3200), 90)
    out = io.BytesIO()
    big.save(out, format=fmt)
    with lds.open_face(out.getvalue(), (48, 64)) as img:
        assert img.info["face_size"] == (2400, 3200)
        assert 48 <= img.width <= 2400 // 8 and 64 <= img.height <= 3200 // 8
