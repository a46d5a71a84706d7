"""A synthetic portrait (no real face): a few shapes plus noise, encoded as JPEG or
JPEG 2000 at about the size a CCCD's DG2 holds (~15-20 KB)."""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 300, 400


def draw_face(seed: str) -> Image.Image:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    tone = 150 + digest[8] % 80
    img = Image.new("RGB", (WIDTH, HEIGHT), (200, 215, 235))
    draw = ImageDraw.Draw(img)
    draw.ellipse((40, 300, 260, 520), fill=(digest[9] % 90, 60, 110))
    draw.ellipse((85, 90, 215, 270), fill=(tone + 20, tone - 10, tone - 40))
    draw.ellipse((80, 60, 220, 150 + digest[10] % 20), fill=(30, 25, 20))
    draw.ellipse((115, 160, 140, 175), fill=(40, 30, 30))
    draw.ellipse((160, 160, 185, 175), fill=(40, 30, 30))
    draw.arc((120, 200, 180, 240), 20, 160, fill=(150, 60, 60), width=3)
    noisy = np.asarray(img).astype(np.int16) + rng.integers(-18, 18, (HEIGHT, WIDTH, 1))
    out = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    return out.filter(ImageFilter.GaussianBlur(0.6))


def face_jpeg(seed: str, quality: int = 75) -> bytes:
    buf = io.BytesIO()
    draw_face(seed).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def face_jpeg2000(seed: str) -> bytes:
    buf = io.BytesIO()
    draw_face(seed).save(buf, "JPEG2000", quality_mode="rates", quality_layers=[20])
    return buf.getvalue()


def bomb_png(width: int = 9000, height: int = 9000) -> bytes:
    """A valid one-colour grayscale PNG of ``width`` x ``height`` pixels that is small on
    the wire (9000 x 9000: ~80 KB) and ~81 MB once decoded: what a hostile chip puts in
    DG2 to exhaust the station's memory."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    packer = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte 0 + black pixels
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def sized_jpeg(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) claims ``width`` x ``height``."""
    buf = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    at = data.find(b"\xff\xc0")
    data[at + 5 : at + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)
