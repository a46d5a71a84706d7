"""The MRZ reader on generated card backs (OCR-B from fonts-ocr-b), and the tracker."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pytest

from station.mrz.reader import MrzReader, MrzReading, MrzTracker
from station.mrz.td1 import parse_lines
from station.sim.backs import ICAO_SPECIMEN, Look, back_frame, random_look
from station.sim.citizens import generate_many, mrz_lines
from station.sim.frames import card_frame, empty_frame

TODAY = date(2026, 11, 26)
CITIZENS = generate_many(1414, 40, today=TODAY)


@pytest.fixture(scope="module")
def reader() -> MrzReader:
    return MrzReader()


@pytest.mark.parametrize("generation", [2021, 2024])
@pytest.mark.parametrize(("size", "char_h"), [((640, 480), 14), ((1280, 720), 22)])
def test_reads_a_card_back(
    reader: MrzReader, generation: int, size: tuple[int, int], char_h: int
) -> None:
    citizen = CITIZENS[0]
    lines = mrz_lines(citizen)
    payload = b"synthetic 2024 QR" if generation == 2024 else None
    look = Look(angle_deg=3.0, keystone=0.02, blur=0.8, noise=3.0)
    frame = back_frame(lines, size, char_h, look=look, seed=5, generation=generation,  # type: ignore[arg-type]
                       qr_payload=payload)  # fmt: skip
    reading = reader.read(frame)
    assert reading.usable, reading.reason
    assert reading.parsed is not None and reading.parsed.lines == lines
    assert reading.parsed.access_key() == parse_lines(lines).access_key()
    assert abs(reading.char_h - char_h) < 0.15 * char_h
    assert reading.name_plausible


def test_reads_the_icao_specimen_with_the_generic_layout(reader: MrzReader) -> None:
    frame = back_frame(
        ICAO_SPECIMEN, (640, 480), 16, look=Look(angle_deg=-2), seed=2, generation=2021
    )
    reading = reader.read(frame)
    assert reading.usable and reading.parsed is not None
    assert reading.parsed.layout == "ICAO" and reading.parsed.lines == ICAO_SPECIMEN


@pytest.mark.parametrize(
    "frame",
    [
        np.full((480, 640), 200, np.uint8),
        empty_frame(seed=3),
        card_frame(CITIZENS[1], seed=4),  # a card front with its QR code: no MRZ
        np.zeros((120, 160), np.uint8),
    ],
    ids=["blank", "desk", "front", "tiny"],
)
def test_no_mrz_is_no_reading(reader: MrzReader, frame: np.ndarray) -> None:
    reading = reader.read(frame)
    assert not reading.usable and reading.reason


def test_hard_frames_never_give_a_wrong_key(reader: MrzReader) -> None:
    """Glare, low light, blur, keystone, both OCR-B cuts: a reading may fail, but a usable
    one always has the right key (bench/mrz.py measures the rates on thousands)."""
    rng = random.Random(99)
    usable = 0
    for index, citizen in enumerate(CITIZENS[:24]):
        lines = mrz_lines(citizen)
        size, char_h = rng.choice((((640, 480), 13), ((640, 480), 16), ((1280, 720), 20)))
        frame = back_frame(lines, size, char_h, look=random_look(rng), seed=index)
        reading = reader.read(frame)
        if reading.usable:
            assert reading.parsed is not None
            assert reading.parsed.access_key() == parse_lines(lines).access_key()
            usable += 1
    assert usable >= 18  # 75%: far below what the bench measures, never timing-dependent


def test_small_characters_say_so(reader: MrzReader) -> None:
    lines = mrz_lines(CITIZENS[2])
    frame = back_frame(lines, (640, 480), 7.5, look=Look(blur=1.2, noise=6), seed=1)
    reading = reader.read(frame)
    if reading.usable:  # tiny but still readable: then it must be right
        assert reading.parsed is not None and reading.parsed.lines[:2] == lines[:2]
    else:
        assert reading.parsed is None or reading.too_small


def _usable(lines: tuple[str, str, str]) -> MrzReading:
    return MrzReading(parse_lines(lines), "", 16.0, True)


def test_tracker_needs_two_agreeing_frames_and_reports_once() -> None:
    a, b = mrz_lines(CITIZENS[3]), mrz_lines(CITIZENS[4])
    missed = MrzReading(None, "MRZ not found")
    tracker = MrzTracker(confirm=2, absent_frames=3, absent_s=1.0)
    assert tracker.update(_usable(a), 0.0) is None  # one frame is not enough
    event = tracker.update(_usable(a), 0.1)
    assert event is not None and event.lines == a
    assert [tracker.update(_usable(a), 0.2 + i / 10) for i in range(5)] == [None] * 5
    assert tracker.update(missed, 0.8) is None and tracker.update(_usable(b), 0.9) is None
    assert tracker.update(_usable(a), 1.0) is None  # the streak was broken by b
    assert tracker.update(_usable(b), 1.1) is None
    assert tracker.update(_usable(b), 1.2) is not None  # another card: its own event
    for t in (1.3, 1.4, 1.5, 2.6):
        tracker.update(missed, t)
    assert tracker.update(_usable(a), 2.7) is None
    assert tracker.update(_usable(a), 2.8) is not None  # a was gone: placed again


def test_tracker_ignores_readings_that_fail_their_checks() -> None:
    lines = list(mrz_lines(CITIZENS[5]))
    lines[1] = lines[1][:3] + ("1" if lines[1][3] != "1" else "2") + lines[1][4:]
    bad = MrzReading(parse_lines(lines), "date_of_birth check digit")
    tracker = MrzTracker()
    assert all(tracker.update(bad, t / 10) is None for t in range(10))
    with pytest.raises(ValueError):
        MrzTracker(confirm=0)


def test_a_card_lying_upside_down_is_read(reader: MrzReader) -> None:
    lines = mrz_lines(CITIZENS[6])
    frame = back_frame(lines, (640, 480), 15, look=Look(angle_deg=-2), seed=6)
    reading = reader.read(np.ascontiguousarray(frame[::-1, ::-1]))
    assert reading.usable and reading.parsed is not None and reading.parsed.lines == lines
