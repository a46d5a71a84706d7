"""The chip's face image, when the station was configured to send it (``privacy.store_face``).

Only JPEG and JPEG 2000 are opened (what ICAO allows in DG2), the pixel count is checked
before decoding, and any decoder failure means "no face": a hostile image never breaks a
page or the printed sheet. Browsers cannot show JPEG 2000, so the face is served as PNG.
"""

from __future__ import annotations

import base64
import io

from station.ward.db import RecordRow

MAX_FACE_PIXELS = 2_000_000


def face_png(row: RecordRow) -> bytes | None:
    """The chip's face image as PNG (JPEG or JPEG 2000 in the record), or None."""
    from PIL import Image

    chip = row.record.get("chip")
    face = chip.get("face") if isinstance(chip, dict) else None
    data = face.get("data_b64") if isinstance(face, dict) else None
    if not isinstance(data, str):
        return None
    try:
        image = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
        if image.format not in ("JPEG", "JPEG2000"):
            return None
        if image.width * image.height > MAX_FACE_PIXELS:
            return None
        out = io.BytesIO()
        image.convert("RGB").save(out, "PNG")
        return out.getvalue()
    except Exception:  # any decoder failure means "no face", never a failed page
        return None


__all__ = ["MAX_FACE_PIXELS", "face_png"]
