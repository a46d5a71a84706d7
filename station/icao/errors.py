"""The chip area's errors. Every message names the step that failed and, when a
card answered, its status word: ``"BAC failed in EXTERNAL AUTHENTICATE: 6300"``.

``ChipError`` is the one type callers catch; subclasses say which part failed.
"""

from __future__ import annotations

from station.icao.apdu import sw_text


class ChipError(Exception):
    """A chip read failed. ``step`` names the step, ``sw`` the card's status word."""

    def __init__(self, step: str, detail: str = "", sw: int | None = None) -> None:
        text = step
        if detail:
            text += f": {detail}"
        if sw is not None:
            text += f": {sw_text(sw)}"
        super().__init__(text)
        self.step = step
        self.detail = detail
        self.sw = sw


class AccessError(ChipError):
    """BAC or PACE did not open the chip (wrong key, refused, bad cryptogram)."""


class SecureMessagingError(ChipError):
    """A protected response failed its check (MAC, missing objects, padding)."""


class FileReadError(ChipError):
    """Selecting or reading an elementary file failed."""


class LdsError(ChipError, ValueError):
    """A file's content is malformed. Names the file and the byte offset."""

    def __init__(self, file: str, offset: int, detail: str) -> None:
        super().__init__(f"parsing {file}", f"{detail} (offset {offset})")
        self.file = file
        self.offset = offset


class FaceImageError(LdsError):
    """DG2 parsed but its face image is refused (not JPEG or JPEG 2000, too many pixels)
    or does not decode: no face, never a failed read."""
