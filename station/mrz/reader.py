"""Frame -> checked MRZ: ``MrzReader.read(frame)``, and ``MrzTracker`` for camera sightings.

    reader = MrzReader()                   # loads the glyph model once (~10 ms)
    reading = reader.read(gray_frame)      # uint8 H x W
    if reading.usable: reading.parsed.access_key()   # (document number, birth, expiry)

A block that reads as nothing is read again with the grid's pitch from the spectrum alone
(``station.mrz.ocr``), then once more the other way up (a card lying upside down costs only
the OCR, not the search). A name line with a glyph that matches badly is read again on the
grid of the line above (the lines share their columns), and a name word that is no
Vietnamese syllable takes the close reading that is one (``syllable_name``, Vietnamese
layout only). A reading is usable only when the MRZ was found, every check digit passes,
the layout holds (``station.mrz.td1``) and every character of the two checked lines looks
like a glyph at all (template correlation >= ``MIN_SCORE``). The layout (Vietnamese or any
ICAO TD1) is decided from an unrestricted reading of the first five characters (IDVNM with
at most one look-alike: ``layout_for_head``). The name line is read too, but
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
import itertools
import logging
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from station.mrz.glyphs import PITCH_OVER_CAP, GlyphModel, model
from station.mrz.locate import Frame, MrzGeometry, find_mrz
from station.mrz.ocr import Decoded, LineScores, decode, score_line
from station.mrz.td1 import (
    CHARSET,
    FILLER,
    LETTERS,
    VN,
    Layout,
    ParsedMrz,
    layout_for_head,
    name_plausible,
    parse_lines,
)

log = logging.getLogger(__name__)

MIN_SCORE = 0.50  # template correlation every character of lines 1-2 must reach
SMALL_CHAR_H = 11.0  # px: below this the name line must be read with a clear margin
NAME_MIN_MARGIN_SMALL = 10.0
MIN_CHAR_H = 12.0  # px: what the reader was measured to need (bench/mrz.py)
NAME_SWAP_MARGIN = 20.0  # discriminant score: a letter this close to the one read may be meant
NAME_SWAP_POSITIONS = 3  # close letters in one word at most (at most 3**3 readings tried)
NAME_TIE = 2.0  # two syllables closer than this: neither is taken
VN_TIED = tuple((5 + i, 18 + i) for i in range(9))  # document number = last 9 digits of the ID


@dataclass(frozen=True)
class MrzReading:
    """One frame's result. ``parsed`` is None when no MRZ was found."""

    parsed: ParsedMrz | None
    reason: str = ""  # '' when usable; English, no MRZ data
    char_h: float = 0.0  # measured character height in frame pixels
    name_plausible: bool = False
    name_score: float = 0.0  # the name line's least template correlation

    @property
    def usable(self) -> bool:
        return self.parsed is not None and self.parsed.ok and not self.reason

    @property
    def too_small(self) -> bool:
        """Found, not usable, and the characters are smaller than the reader needs: a
        full-resolution capture may read it."""
        return self.parsed is not None and not self.usable and 0 < self.char_h < MIN_CHAR_H


def _layout(scores: LineScores) -> Layout:
    return layout_for_head(decode(scores, "n" * 30).text[:5])


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
        # a second pass: the grid from the spectrum's pitch alone (a line whose extent
        # was misjudged), then the card lying upside down
        for again in (self._read(geometry, layout, False), self._read(geometry.turned(), layout)):
            if again.usable:
                return again
        return reading

    def _read(
        self, geometry: MrzGeometry, layout: Layout | None, extent_pitch: bool = True
    ) -> MrzReading:
        scores = [score_line(line, self.glyphs, extent_pitch) for line in geometry.lines]
        reading = judge(geometry, scores, layout)
        if reading.usable and reading.name_score < MIN_SCORE:
            # the name line's grid is off (its fillers give weak gaps): the three lines
            # share their columns, so read it on the grid of the line above
            regridded = [*scores[:2], score_line(geometry.lines[2], self.glyphs,
                                                 bounds=scores[1].bounds)]  # fmt: skip
            again = judge(geometry, regridded, layout)
            if again.usable and again.name_score > reading.name_score:
                return again
        return reading


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
    if chosen is VN:  # another document's names are not Vietnamese syllables
        decoded[2] = syllable_name(scores[2], decoded[2])
    parsed = parse_lines([d.text for d in decoded], chosen, correct=False)
    pitch = float(np.median([s.pitch for s in scores])) / geometry.scale
    char_h = pitch / PITCH_OVER_CAP
    return MrzReading(parsed, _gate(parsed, decoded), char_h, _name_ok(decoded[2], char_h),
                      float(decoded[2].score.min()))  # fmt: skip


def syllable_name(scores: LineScores, name: Decoded) -> Decoded:
    """The name line with each word that is not a Vietnamese syllable replaced by the
    best-scoring syllable among the close readings of its letters (each within
    ``NAME_SWAP_MARGIN`` of the letter read, at most ``NAME_SWAP_POSITIONS`` of them):
    'NGD' -> 'NGO', 'DD' -> 'DO', 'WUNG' -> 'HUNG'. A word with no such reading, or with
    two equally good ones, stays as read. No check digit covers the name: this only
    makes the reading better, it is still not the truth (the chip has the name)."""
    text = list(name.text)
    letters = np.array([c in LETTERS for c in CHARSET])
    start = 0
    for word in name.text.split(FILLER):
        end = start + len(word)
        if word and not name_plausible(word):
            replaced = _best_syllable(scores.classes[start:end], letters)
            if replaced is not None:
                text[start:end] = replaced
        start = end + 1
    if "".join(text) == name.text:
        return name
    chosen = np.array([CHARSET.index(c) for c in text])
    rows = np.arange(len(text))
    return Decoded("".join(text), scores.ncc[rows, chosen], name.margin)


def _best_syllable(classes: npt.NDArray[np.float32], letters: npt.NDArray[np.bool_]) -> str | None:
    options: list[list[int]] = []
    for row in classes:
        masked = np.where(letters, row, -np.inf)
        order = np.argsort(-masked)
        best = masked[order[0]]
        options.append([int(k) for k in order[:3] if masked[k] >= best - NAME_SWAP_MARGIN])
    if sum(len(o) > 1 for o in options) > NAME_SWAP_POSITIONS:
        return None
    found: list[tuple[float, str]] = []
    for combo in itertools.product(*options):
        word = "".join(CHARSET[k] for k in combo)
        if name_plausible(word):
            found.append((float(sum(classes[i, k] for i, k in enumerate(combo))), word))
    found.sort(reverse=True)
    if not found or (len(found) > 1 and found[0][0] - found[1][0] < NAME_TIE):
        return None
    return found[0][1]


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
