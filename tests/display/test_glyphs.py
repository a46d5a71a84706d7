"""The chosen font draws every Vietnamese letter (no .notdef boxes)."""

from __future__ import annotations

import unicodedata

import pytest

from station.display.fonts import font, missing_glyphs

VOWELS = "aăâeêioôơuưy"
TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # level, huyền, sắc, hỏi, ngã, nặng


def vietnamese_letters() -> str:
    letters = []
    for base in VOWELS + VOWELS.upper():
        for tone in TONES:
            letter = unicodedata.normalize("NFC", base + tone)
            assert len(letter) == 1, letter  # every one is precomposed
            letters.append(letter)
    consonants = "bcdđghklmnpqrstvx"
    return "".join(letters) + consonants + consonants.upper()


def test_alphabet_is_complete() -> None:
    letters = vietnamese_letters()
    assert len(set(letters)) == 24 * 6 + 34
    assert "ặ" in letters and "Ỹ" in letters and "Đ" in letters


@pytest.mark.parametrize("size", [9, 10, 11])
@pytest.mark.parametrize("bold", [False, True])
def test_every_vietnamese_letter_has_a_glyph(size: int, bold: bool) -> None:
    assert missing_glyphs(font(size, bold), vietnamese_letters()) == []


def test_symbols_used_on_screens_have_glyphs() -> None:
    assert missing_glyphs(font(9), "✓✗–…·!/%") == []
    assert missing_glyphs(font(10, True), "✓✗–…·!/%") == []


def test_missing_glyph_is_detected() -> None:
    assert missing_glyphs(font(10), "a\ue000b") == ["\ue000"]
