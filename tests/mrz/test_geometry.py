"""The rules the reader takes from the TD1 geometry: shared line extents, the name line's
syllables, a block partly hidden by glare."""

from __future__ import annotations

import random
from datetime import date

import numpy as np

from station.mrz.locate import shared_extents
from station.mrz.ocr import Decoded, LineScores
from station.mrz.reader import NAME_SWAP_MARGIN, MrzReader, syllable_name
from station.mrz.td1 import CHARSET, parse_lines
from station.sim.backs import Look, back_frame
from station.sim.citizens import generate_many, mrz_lines

CITIZENS = generate_many(1414, 12, today=date(2026, 11, 26))  # as tests/mrz/test_reader.py


def test_a_line_that_falls_short_inside_the_others_gets_their_extent() -> None:
    full = (20.0, 400.0)
    assert shared_extents([full, (21.0, 399.0), (19.0, 401.0)], 12) == [
        full,
        (21.0, 399.0),
        (19.0, 401.0),
    ]  # within half a character: each keeps its own
    assert shared_extents([full, (20.0, 250.0), (35.0, 400.0)], 12) == [full, full, full]


def test_extents_that_do_not_make_one_mrz_are_refused() -> None:
    assert shared_extents([(20.0, 400.0), None, (20.0, 400.0)], 12) is None
    # a line reaching outside the longest is not corrected: the spans disagree
    assert shared_extents([(20.0, 400.0), (300.0, 800.0), (20.0, 400.0)], 12) is None


def _scores(text: str, close: dict[int, tuple[str, float]]) -> tuple[LineScores, Decoded]:
    """Scores reading ``text`` (100 for each character read, 10 for the others) and, at the
    positions of ``close``, another letter ``margin`` below the one read."""
    classes = np.full((30, len(CHARSET)), 10.0, np.float32)
    for i, ch in enumerate(text):
        classes[i, CHARSET.index(ch)] = 100.0
    for i, (ch, margin) in close.items():
        classes[i, CHARSET.index(ch)] = 100.0 - margin
    ncc = np.full((30, len(CHARSET)), 0.9, np.float32)
    scores = LineScores(classes, ncc, 16.0, np.arange(31, dtype=np.float64))
    decoded = Decoded(text, np.full(30, 0.9, np.float32), np.full(30, 90.0, np.float32))
    return scores, decoded


def test_a_name_word_that_is_no_syllable_takes_the_close_reading_that_is_one() -> None:
    text = "NGD<<THU<NHUNG<<<<<<<<<<<<<<<<"
    scores, decoded = _scores(text, {2: ("O", 5.0)})
    assert syllable_name(scores, decoded).text == "NGO<<THU<NHUNG<<<<<<<<<<<<<<<<"


def test_the_name_stays_as_read_when_nothing_close_decides() -> None:
    text = "NGD<<THU<NHUNG<<<<<<<<<<<<<<<<"
    far, _ = _scores(text, {2: ("O", NAME_SWAP_MARGIN + 5)})  # O not close enough
    assert syllable_name(far, _scores(text, {})[1]).text == text
    # 'DD': 'DO' and 'DU' equally close -> a tie, refused
    tied, decoded = _scores("DD<<VIET<<<<<<<<<<<<<<<<<<<<<<", {1: ("O", 5.0)})
    tied.classes[1, CHARSET.index("U")] = 95.0
    assert syllable_name(tied, decoded).text == decoded.text
    # a plausible word is never changed, whatever is close
    plain, decoded = _scores("DO<<VIET<<<<<<<<<<<<<<<<<<<<<<", {1: ("U", 1.0)})
    assert syllable_name(plain, decoded) is decoded


def test_a_block_partly_washed_out_by_glare_is_read_whole() -> None:
    """Glare over the right half of a thin-printed MRZ: the block found at the work scale
    is its left half (aspect ~4); the widened cut finds the whole lines (5 of these 6
    read right; 0 before the widening)."""
    look = Look(angle_deg=-2.17, keystone=0.0378, blur=0.83, noise=2.1, gain=1.14,
                glare=142.0, gradient=(-0.19, -0.22), weight="thin")  # fmt: skip
    reader = MrzReader()
    right = 0
    for citizen in CITIZENS[:6]:
        lines = mrz_lines(citizen)
        frame = back_frame(lines, (1280, 720), 12, look=look, seed=606977161, generation=2021)
        reading = reader.read(frame)
        if reading.usable:
            assert reading.parsed is not None
            assert reading.parsed.access_key() == parse_lines(lines).access_key()
            right += reading.parsed.lines[:2] == lines[:2]
    assert right >= 5


def test_two_frames_of_hard_cards_never_disagree_on_a_usable_key() -> None:
    rng = random.Random(7)
    reader = MrzReader()
    for index, citizen in enumerate(CITIZENS[6:]):
        lines = mrz_lines(citizen)
        look = Look(angle_deg=rng.uniform(-5, 5), keystone=0.03, blur=1.1, noise=6,
                    gain=0.45, glare=rng.choice((0.0, 120.0)), weight="thin")  # fmt: skip
        for shot in (0, 1):
            frame = back_frame(lines, (640, 480), 13, look=look, seed=index, shot=shot)
            reading = reader.read(frame)
            if reading.usable:
                assert reading.parsed is not None
                assert reading.parsed.access_key() == parse_lines(lines).access_key()
