"""QR decoding of grayscale camera frames (zxing-cpp) and de-duplication of sightings.

``QrDecoder.decode(frame)`` returns the payload bytes of every QR code in a uint8 H x W
frame. A code carrying ECI designators (ISO/IEC 18004 7.4.2) says its character sets: its
segments are transcoded to UTF-8 here (``eci_bytes``). Without one the raw bytes are
returned and ``station.qr.payload`` decides (UTF-8 when valid, else ISO-8859-1, the
standard's default for byte mode), never zxing's character-set guess. Only QR codes are
searched for.

Decoder options were chosen on generated card frames (``bench/qr.py``, 640x480 and
1280x720, 3-6 px per module, rotation, blur, noise, perspective, glare): the LocalAverage
binarizer decodes ~98% of them where GlobalHistogram decodes ~88%; ``try_invert`` (light
on dark codes) and ``try_downscale`` (large modules) roughly double the cost of every frame,
with or without a code, and found nothing more, so both are off by default. ``try_rotate``
changes nothing for QR codes (they are found in any orientation).

``QrTracker`` turns per-frame sightings into events: a payload seen in consecutive frames
is ONE event, emitted on first sight; the same payload is emitted again only after it has
been absent for at least ``absent_frames`` frames AND ``absent_s`` seconds. It is pure: the
caller passes ``now`` (monotonic seconds), so tests drive it with a fake clock. It keeps
the payloads' ``hash()``, not the payloads: Python's SipHash under the process's random
key, one C call where the payload's hash is cached for the next lookup (the shape check's),
and a 64-bit collision between two cards within a second is beyond any counter's traffic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import zxingcpp

from station.qr.payload import decode_text

Frame = npt.NDArray[np.uint8]


class QrDecodeError(ValueError):
    """A frame that cannot be handed to the decoder (wrong type, shape or dtype)."""


@dataclass(frozen=True)
class DecoderOptions:
    """zxing-cpp options (see the module docstring for why these defaults)."""

    binarizer: str = "LocalAverage"  # or "GlobalHistogram", "FixedThreshold", "BoolCast"
    try_invert: bool = False
    try_downscale: bool = False
    try_rotate: bool = False


class QrDecoder:
    """Finds QR codes in grayscale frames; holds only its (immutable) options."""

    def __init__(self, options: DecoderOptions | None = None) -> None:
        self.options = options or DecoderOptions()
        try:
            binarizer = getattr(zxingcpp.Binarizer, self.options.binarizer)
        except AttributeError:
            raise ValueError(f"unknown zxing-cpp binarizer {self.options.binarizer!r}") from None
        self._kwargs: dict[str, Any] = {
            "formats": zxingcpp.BarcodeFormat.QRCode,
            "try_rotate": self.options.try_rotate,
            "try_downscale": self.options.try_downscale,
            "try_invert": self.options.try_invert,
            "binarizer": binarizer,
            # Hex of the bytes with the ECI designators (symbology identifier first).
            "text_mode": zxingcpp.TextMode.HexECI,
            # Also report codes found but not decodable (checksum errors): the officer is
            # told the QR is unreadable instead of nothing happening.
            "return_errors": True,
        }

    def zxing_kwargs(self) -> dict[str, Any]:
        """The keyword arguments passed to ``zxingcpp.read_barcodes`` (for benchmarks)."""
        return dict(self._kwargs)

    def decode(self, frame: Frame) -> tuple[bytes, ...]:
        """Raw payload bytes of every QR code in ``frame`` (empty when none)."""
        return self.decode_with_errors(frame)[0]

    def decode_with_errors(self, frame: Frame) -> tuple[tuple[bytes, ...], bool]:
        """Payloads of the readable QR codes, and whether a QR code was found that could
        not be decoded (damaged, smudged, partly covered)."""
        check_frame(frame)
        results = zxingcpp.read_barcodes(frame, **self._kwargs)
        # The hex text is made and read only for a code with ECI designators (``]Q2``).
        payloads = tuple(
            eci_bytes(r.text, r.bytes) if r.symbology_identifier == ECI_SYMBOLOGY else r.bytes
            for r in results
            if r.valid
        )
        return payloads, len(payloads) < len(results)


# ECI assignment number -> Python codec (AIM ECI specification; the ones QR codes use).
ECI_CODECS: dict[int, str] = {
    0: "cp437", 1: "latin-1", 2: "cp437", 3: "latin-1", 4: "iso8859-2", 5: "iso8859-3",
    6: "iso8859-4", 7: "iso8859-5", 8: "iso8859-6", 9: "iso8859-7", 10: "iso8859-8",
    11: "iso8859-9", 12: "iso8859-10", 13: "iso8859-11", 15: "iso8859-13", 16: "iso8859-14",
    17: "iso8859-15", 18: "iso8859-16", 20: "shift_jis", 21: "cp1250", 22: "cp1251",
    23: "cp1252", 24: "cp1256", 25: "utf-16-be", 26: "utf-8", 27: "ascii", 28: "big5",
    29: "gb18030", 30: "euc_kr", 170: "ascii",
}  # fmt: skip
BINARY_ECI = 899
ECI_SYMBOLOGY = "]Q2"  # ISO/IEC 18004 symbology identifier: QR Code model 2 with ECI
_DESIGNATOR = re.compile(rb"\\(\d{6})|\\\\")


def eci_bytes(hex_eci: str, raw: bytes) -> bytes:
    """The payload as UTF-8 when the code carries ECI designators (zxing's HexECI text:
    ``]Q2`` then the data with ``\\nnnnnn`` designators and doubled backslashes), else
    ``raw``. An unknown ECI's segment becomes U+FFFD (reported as damaged text); binary
    (899) and a segment before any designator follow the no-ECI rule of the payload."""
    try:
        data = bytes.fromhex(hex_eci)
    except ValueError:
        return raw
    if not data.startswith(ECI_SYMBOLOGY.encode()):
        return raw
    pieces: list[str] = []
    codec: int | None = None
    segment = bytearray()
    position = 3
    for match in _DESIGNATOR.finditer(data, 3):
        segment += data[position : match.start()]
        position = match.end()
        if match.group(1) is None:  # a doubled backslash: one data byte
            segment += b"\\"
            continue
        pieces.append(_transcoded(bytes(segment), codec))
        segment, codec = bytearray(), int(match.group(1))
    segment += data[position:]
    pieces.append(_transcoded(bytes(segment), codec))
    return "".join(pieces).encode("utf-8")


def _transcoded(segment: bytes, eci: int | None) -> str:
    if not segment:
        return ""
    if eci is None or eci == BINARY_ECI:
        return decode_text(segment)
    codec = ECI_CODECS.get(eci)
    return segment.decode(codec, errors="replace") if codec else "\ufffd"


_UINT8 = np.dtype(np.uint8)


def check_frame(frame: Frame) -> None:
    """Raise QrDecodeError unless ``frame`` is a non-empty 2-D uint8 numpy array."""
    if type(frame) is np.ndarray and frame.dtype is _UINT8 and frame.ndim == 2 and frame.size:
        return  # a camera frame: the tests below cost the camera thread more, run cold
    if not isinstance(frame, np.ndarray):
        raise QrDecodeError(f"QR decode: frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8 or frame.ndim != 2 or 0 in frame.shape:
        raise QrDecodeError(
            f"QR decode: frame must be 2-D uint8 grayscale, got {frame.dtype} {frame.shape}"
        )


class _Sighting(NamedTuple):
    last_frame: int
    last_seen: float


class QrTracker:
    """One event per card presentation (see the module docstring)."""

    def __init__(self, *, absent_frames: int = 5, absent_s: float = 1.0) -> None:
        if absent_frames < 1 or absent_s < 0:
            raise ValueError("absent_frames must be >= 1 and absent_s >= 0")
        self.absent_frames = absent_frames
        self.absent_s = absent_s
        self._frame = 0
        self._seen: dict[int, _Sighting] = {}

    def update(self, payloads: Iterable[bytes], now: float) -> tuple[bytes, ...]:
        """Feed one frame's payloads; returns those that are new events (first sight).
        ``now`` never decreases from one call to the next (a monotonic clock)."""
        self._frame += 1
        events: list[bytes] = []
        seen = self._seen
        for payload in dict.fromkeys(payloads):  # de-duplicate, keep order
            key = hash(payload)
            sighting = seen.pop(key, None)  # put back at the end: the newest sighting
            if sighting is None or self._gone(sighting, now, missed_now=False):
                events.append(payload)
            seen[key] = _Sighting(self._frame, now)
        if seen:
            self._forget(now)
        return tuple(events)

    def reset(self) -> None:
        """Forget every payload: the next sighting of any code is an event again."""
        self._seen.clear()

    def _gone(self, sighting: _Sighting, now: float, *, missed_now: bool) -> bool:
        """Absent long enough; ``missed_now``: the current frame counts as a miss too."""
        missed = self._frame - sighting.last_frame - (0 if missed_now else 1)
        return missed >= self.absent_frames and now - sighting.last_seen >= self.absent_s

    def _forget(self, now: float) -> None:
        """Drop the sightings gone from view. ``_seen`` is in the order of last sight
        (``update`` puts each one back at the end) and frame numbers and times grow along
        it, so the first one still in view ends the search: a frame costs a test or two,
        not one per payload remembered (a busy counter remembers each card for a second)."""
        gone: list[int] = []
        for key, sighting in self._seen.items():
            if not self._gone(sighting, now, missed_now=True):
                break
            gone.append(key)
        for key in gone:
            del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)
