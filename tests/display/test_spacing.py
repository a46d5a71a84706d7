"""Words on the panel are at least three blank columns apart (one was "Kiểmtra")."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from station.display.fonts import font
from station.display.layout import Layout, TextOp, draw
from station.display.text import WORD_GAP, width, words

from .catalogue import layouts, screens, worst_screens

CASES = layouts({**screens(), **worst_screens()})


def blank_run_between(image: Image.Image, op: TextOp, a: str, b: str) -> int:
    """Blank columns between the ink of word ``a`` and the next word ``b`` in ``op``."""
    ink = np.array(image).any(axis=0)
    placed = dict((w, x) for x, w in words(op.font, op.text))
    start = op.x + placed[a] + int(op.font.getbbox(a, mode="1")[2])
    end = op.x + placed[b] + int(op.font.getbbox(b, mode="1")[0])
    assert not ink[start:end].any(), (op.text, a, b)
    return end - start


@pytest.mark.parametrize("size", [9, 10, 11])
@pytest.mark.parametrize("bold", [False, True])
def test_kiem_tra_reads_as_two_words(size: int, bold: bool) -> None:
    op = TextOp(2, 2, "Kiểm tra", size, bold)
    image = draw(Layout((op,)))
    assert blank_run_between(image, op, "Kiểm", "tra") >= WORD_GAP
    assert width(font(size, bold), "Kiểm tra") > width(font(size, bold), "Kiểmtra") + 2


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_word_on_every_screen_stands_apart(name: str) -> None:
    for op in CASES[name].ops:
        if not isinstance(op, TextOp) or " " not in op.text.strip():
            continue
        image = draw(Layout((op,)))
        placed = words(op.font, op.text)
        for (_, a), (_, b) in itertools.pairwise(placed):
            if op.text.count(a) == 1 and op.text.count(b) == 1:
                assert blank_run_between(image, op, a, b) >= WORD_GAP, (name, op.text)
