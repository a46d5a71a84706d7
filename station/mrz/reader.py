"""Frame -> checked MRZ: ``MrzReader.read(frame)``, and ``MrzTracker`` for camera sightings.

    reader = MrzReader()                   # loads the glyph model once (~10 ms)
    reading = reader.read(gray_frame)      # uint8 H x W
    if reading.usable: reading.parsed.access_key()   # (document number, birth, expiry)

A block that reads as nothing is read once more the other way up (a card lying upside
down costs only the OCR, not the search). A reading is usable only when the MRZ was found,
every check digit passes, the layout holds
(``station.mrz.td1``) and every character of the two checked lines looks like a glyph at all
(template correlation >= ``MIN_SCORE``). The layout (Vietnamese or any ICAO TD1) is decided
from an unrestricted reading of the first five characters. The name line is read too, but
no check digit covers it: ``name_plausible`` only says it is made of plausible Vietnamese
syllables, read with a clear margin when the characters are small. The station takes the
name from the chip.

``MrzTracker`` turns usable readings of consecutive analysed frames into events: the same
two checked lines in ``confirm`` consecutive analyses make ONE event, emitted again only
after they were not read for ``absent_frames`` analyses AND ``absent_s`` seconds (the caller
passes ``now``, so tests use a fake clock). It keeps digests, not MRZ text.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import numpy as np

from station.mrz.glyphs import PITCH_OVER_CAP, GlyphModel, model
from station.mrz.locate import Frame, MrzGeometry, find_mrz
from station.mrz.ocr import Decoded, LineScores, decode, score_line
from station.mrz.td1 import ICAO, VN, Layout, ParsedMrz, name_plausible, parse_lines

log = logging.getLogger(__name__)

MIN_SCORE = 0.50  # template correlation every character of lines 1-2 must reach
SMALL_CHAR_H = 11.0  # px: below this the name line must be read with a clear margin
NAME_MIN_MARGIN_SMALL = 10.0
MIN_CHAR_H = 12.0  # px: what the reader was measured to need (bench/mrz.py)
VN_TIED = tuple((5 + i, 18 + i) for i in range(9))  # document number = last 9 digits of the ID


@dataclass(frozen=True)
class MrzReading:
    """One frame's result. ``parsed`` is None when no MRZ was found."""

    parsed: ParsedMrz | None
    reason: str = ""  # '' when usable; English, no MRZ data
    char_h: float = 0.0  # measured character height in frame pixels
    name_plausible: bool = False

    @property
    def usable(self) -> bool:
        return self.parsed is not None and self.parsed.ok and not self.reason

    @property
    def too_small(self) -> bool:
        """Found, not usable, and the characters are smaller than the reader needs: a
        full-resolution capture may read it."""
        return self.parsed is not None and not self.usable and 0 < self.char_h < MIN_CHAR_H


def _layout(scores: LineScores) -> Layout:
    head = decode(scores, "n" * 30).text[:5]
    return VN if head == "IDVNM" else ICAO


class MrzReader:
    """Locate + read + parse; holds only the (immutable) glyph model. Thread-compatible."""

    def __init__(self, glyphs: GlyphModel | None = None) -> None:
        self.glyphs = glyphs or model()

    def read(self, frame: Frame, layout: Layout | None = None) -> MrzReading:
        """The MRZ in ``frame``; ``layout`` forces VN or ICAO (default: from line 1)."""
        geometry = find_mrz(frame)
        if geometry is None:
            return MrzReading(None, "MRZ not found")
        reading = self._read(geometry, layout)
        if reading.usable:
            return reading
        turned = self._read(geometry.turned(), layout)  # the card may lie upside down
        return turned if turned.usable else reading

    def _read(self, geometry: MrzGeometry, layout: Layout | None) -> MrzReading:
        scores = [score_line(line, self.glyphs) for line in geometry.lines]
        return judge(geometry, scores, layout)


def judge(
    geometry: MrzGeometry, scores: list[LineScores], layout: Layout | None = None
) -> MrzReading:
    """The reading of a located MRZ from its lines' scores (``station.mrz.ocr``)."""
    chosen = layout or _layout(scores[0])
    tied = VN_TIED if chosen is VN else ()
    decoded = [
        decode(scores[0], chosen.classes[0], tied),
        decode(scores[1], chosen.classes[1]),
        decode(scores[2], chosen.classes[2]),
    ]
    parsed = parse_lines([d.text for d in decoded], chosen, correct=False)
    pitch = float(np.median([s.pitch for s in scores])) / geometry.scale
    char_h = pitch / PITCH_OVER_CAP
    return MrzReading(parsed, _gate(parsed, decoded), char_h, _name_ok(decoded[2], char_h))


def _gate(parsed: ParsedMrz, decoded: list[Decoded]) -> str:
    if not parsed.ok:
        return parsed.reason
    if min(float(d.score.min()) for d in decoded[:2]) < MIN_SCORE:
        return "a character is not clear enough"
    return ""


def _name_ok(name: Decoded, char_h: float) -> bool:
    if not name_plausible(name.text):
        return False
    return char_h >= SMALL_CHAR_H or float(name.margin.min()) >= NAME_MIN_MARGIN_SMALL


def _digest(parsed: ParsedMrz) -> bytes:
    return hashlib.sha256("".join(parsed.lines[:2]).encode("ascii", "replace")).digest()


@dataclass
class _Seen:
    last_analysis: int
    last_seen: float


@dataclass
class MrzTracker:
    """One event per card presentation (see the module docstring)."""

    confirm: int = 2
    absent_frames: int = 3
    absent_s: float = 1.0
    _analysis: int = 0
    _streak: tuple[bytes, int] | None = None
    _seen: dict[bytes, _Seen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.confirm < 1 or self.absent_frames < 1 or self.absent_s < 0:
            raise ValueError("confirm and absent_frames must be >= 1, absent_s >= 0")

    def update(self, reading: MrzReading, now: float) -> ParsedMrz | None:
        """Feed one analysed frame; the parsed MRZ when it makes a new event."""
        self._analysis += 1
        event: ParsedMrz | None = None
        if reading.usable:
            assert reading.parsed is not None
            key = _digest(reading.parsed)
            count = self._streak[1] + 1 if self._streak and self._streak[0] == key else 1
            self._streak = (key, count)
            seen = self._seen.get(key)
            if count >= self.confirm and (seen is None or self._gone(seen, now)):
                event = reading.parsed
            if count >= self.confirm or seen is not None:
                self._seen[key] = _Seen(self._analysis, now)
        else:
            self._streak = None
        for key in [k for k, s in self._seen.items() if self._gone(s, now)]:
            del self._seen[key]
        return event

    def _gone(self, seen: _Seen, now: float) -> bool:
        missed = self._analysis - seen.last_analysis - 1
        return missed >= self.absent_frames and now - seen.last_seen >= self.absent_s

    def reset(self) -> None:
        self._streak = None
        self._seen.clear()
