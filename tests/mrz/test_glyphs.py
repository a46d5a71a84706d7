"""The shipped glyph model is what its generator makes from Debian's OCR-B fonts."""

from __future__ import annotations

import pytest

from station.mrz import glyphs


def test_the_shipped_model_loads_with_the_right_shape() -> None:
    model = glyphs.model()
    assert model.templates.shape == (len(glyphs.VARIANTS), 37, glyphs.TH * glyphs.TP)
    assert model.weights.shape == (glyphs.TH * glyphs.TP, 37)
    assert glyphs.DATA.stat().st_size < 200_000


@pytest.mark.slow
def test_the_shipped_model_is_reproducible_from_the_fonts() -> None:
    if not (glyphs.FONT_DIR / glyphs.FONTS[0]).exists():
        pytest.skip("fonts-ocr-b not installed")
    assert glyphs.main(["--check"]) == 0
